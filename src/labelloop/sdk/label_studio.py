"""The one client for the Label Studio REST API that labelloop, its demo and its tests use:
export annotated tasks, page through unlabeled ones, store predictions in bulk, update a
project, fetch task files; and, for the demo and the tests, make projects, import tasks,
connect a backend and annotate.

Label Studio 1.23 accepts two kinds of key: a legacy token (``Authorization: Token <key>``,
only when legacy tokens are enabled for the organisation) and a personal access token
(a JWT, exchanged at ``/api/token/refresh/`` for a ``Bearer`` token that lives 5 minutes).

Use it as a context manager to keep one connection for many calls::

    with LabelStudioClient(url, key) as ls:
        for page, left in ls.unlabeled_tasks(7, after=1200):
            ...
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from labelloop.errors import LabelStudioError

# An import Label Studio is still writing when we give up lands anyway, unrecorded: the
# next job of that version would store it twice. A busy Label Studio takes minutes.
IMPORT_TIMEOUT_S = 600.0
ACCESS_TOKEN_S = 240.0  # Label Studio's access tokens live 5 minutes: refresh before that


def looks_like_jwt(key: str) -> bool:
    return key.count(".") == 2


class LabelStudioClient:
    def __init__(self, url: str, api_key: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/") + "/"
        self.api_key = api_key
        self.timeout = timeout
        self._http: httpx.Client | None = None
        self._bearer: tuple[str, float] | None = None

    def __enter__(self) -> LabelStudioClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout)
        return self._http

    def auth_headers(self, client: httpx.Client) -> dict[str, str]:
        """The Authorization header for this key (a JWT is exchanged for a Bearer token)."""
        if not looks_like_jwt(self.api_key):
            return {"Authorization": f"Token {self.api_key}"}
        if self._bearer is None or time.monotonic() > self._bearer[1]:
            resp = client.post(urljoin(self.url, "api/token/refresh/"),
                               json={"refresh": self.api_key})
            _check(resp, "refreshing the personal access token")
            self._bearer = (str(resp.json()["access"]), time.monotonic() + ACCESS_TOKEN_S)
        return {"Authorization": f"Bearer {self._bearer[0]}"}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; its JSON answer (None when empty)."""
        resp = self.request(method, path, **kwargs)
        return resp.json() if resp.content else None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call; transport errors and 4xx/5xx become :class:`LabelStudioError`."""
        try:
            resp = self.http.request(method, urljoin(self.url, path.lstrip("/")),
                                     headers=self.auth_headers(self.http), **kwargs)
        except httpx.HTTPError as exc:
            raise LabelStudioError(f"cannot reach Label Studio at {self.url}: {exc}") from exc
        _check(resp, f"{method} {path}")
        return resp

    def annotated_tasks(self, project_id: int | str) -> list[dict[str, Any]]:
        """All tasks of a project that have annotations, in Label Studio's export format."""
        resp = self.request("GET", f"api/projects/{int(project_id)}/export",
                            params={"exportType": "JSON", "download_all_tasks": "false"})
        tasks = resp.json()
        if not isinstance(tasks, list):
            raise LabelStudioError("the export did not return a list of tasks")
        return tasks

    def unlabeled_tasks(self, project_id: int | str, without_version: str | None = None,
                        page_size: int = 1000, after: int = 0,
                        ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """Pages of ``(tasks, left)``: unlabeled tasks (``id`` and ``data`` only) with an id
        above ``after`` that hold no prediction of ``without_version``, by id, and how many
        were left before the page.

        Pages are keyed by the last id seen, not numbered: predictions stored meanwhile
        shrink the filtered set, and numbered pages would skip tasks. Label Studio takes
        about 1 ms a task to list them (75 s for 100,000), more the more predictions it
        holds; its version filter is a substring match."""
        last = after
        while True:
            items: list[dict[str, Any]] = [
                {"filter": "filter:tasks:is_labeled", "operator": "equal", "type": "Boolean",
                 "value": False},
                {"filter": "filter:tasks:id", "operator": "greater", "type": "Number",
                 "value": last}]
            if without_version:  # a list: a plain string would be matched letter by letter
                items.append({"filter": "filter:tasks:predictions_model_versions",
                              "operator": "not_contains", "type": "List",
                              "value": [without_version]})
            query = {"filters": {"conjunction": "and", "items": items}}
            page = self.request("GET", "api/tasks", params={
                "project": int(project_id), "page": 1, "page_size": page_size,
                "include": "id,data", "query": json.dumps(query)}).json()
            tasks = page.get("tasks") or []
            if not tasks:
                return
            yield tasks, int(page.get("total") or len(tasks))
            if len(tasks) < page_size:
                return
            last = int(tasks[-1]["id"])

    def import_predictions(self, project_id: int | str, predictions: list[dict[str, Any]]) -> int:
        """Store predictions (``task``, ``result``, ``score``, ``model_version``) in one call.

        As shipped, Label Studio skips invalid items silently and still answers 201 (a
        shortfall is an error here); with its memory-efficient import flag it validates
        nothing, and an unknown task fails the call."""
        if not predictions:
            return 0
        resp = self.request("POST", f"api/projects/{int(project_id)}/import/predictions",
                            json=predictions, timeout=IMPORT_TIMEOUT_S)
        created = int(resp.json().get("created", 0))
        if created != len(predictions):
            raise LabelStudioError(f"Label Studio stored {created} of {len(predictions)} "
                                   "predictions: the others did not fit the label config")
        return created

    def model_versions(self, project_id: int | str) -> dict[str, int]:
        """The model versions of the project's stored predictions, with their counts (the
        selected version is listed even with none). A read: it calls no ML backend."""
        return {str(k): int(v) for k, v in self.call(
            "GET", f"api/projects/{int(project_id)}/model-versions/").items()}

    def delete_model_version(self, project_id: int | str, version: str) -> None:
        """Delete every prediction of ``version`` (Label Studio takes ~20 ms a prediction,
        in one transaction that holds its other writes)."""
        self.call("DELETE", f"api/projects/{int(project_id)}/model-versions/",
                  json={"model_version": version})

    def update_project(self, project_id: int | str, **fields: Any) -> dict[str, Any]:
        return dict(self.request("PATCH", f"api/projects/{int(project_id)}/",
                                 json=fields).json())

    # -- projects, tasks and backends: what the demo and the tests set up -------------
    def create_project(self, title: str, label_config: str) -> int:
        return int(self.call("POST", "api/projects",
                             json={"title": title, "label_config": label_config})["id"])

    def find_project(self, title: str) -> int | None:
        projects = self.call("GET", "api/projects", params={"page_size": 1000})["results"]
        return next((int(p["id"]) for p in projects if p["title"] == title), None)

    def import_tasks(self, project: int, tasks: list[dict[str, Any]]) -> int:
        return int(self.call("POST", f"api/projects/{project}/import", json=tasks)["task_count"])

    def import_annotated(self, project: int, tasks: list[dict[str, Any]]) -> int:
        """Import export-format tasks with the first annotation of each (ids dropped:
        Label Studio gives its own)."""
        return self.import_tasks(project, [
            {"data": t["data"], "annotations": [{"result": t["annotations"][0]["result"]}]}
            for t in tasks])

    def connect_backend(self, project: int, url: str, title: str = "labelloop",
                        **extra: Any) -> dict[str, Any]:
        body = {"url": url, "project": project, "title": title, **extra}
        return dict(self.call("POST", "api/ml", json=body))

    def backends(self, project: int) -> list[dict[str, Any]]:
        return list(self.call("GET", "api/ml", params={"project": project}))

    def ml(self, ml_id: int) -> dict[str, Any]:
        return dict(self.call("GET", f"api/ml/{ml_id}"))

    def retrieve_predictions(self, project: int, task_ids: list[int] | None = None) -> Any:
        selected = ({"all": True, "excluded": []} if task_ids is None
                    else {"all": False, "included": task_ids})
        return self.call("POST", "api/dm/actions",
                         params={"id": "retrieve_tasks_predictions", "project": project},
                         json={"selectedItems": selected})

    def tasks(self, project: int) -> list[dict[str, Any]]:
        """Every task of the project, with all its fields."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.call("GET", "api/tasks", params={"project": project, "page": page,
                                                         "page_size": 500, "fields": "all"})
            out += resp["tasks"]
            if len(out) >= resp["total"] or not resp["tasks"]:
                return out
            page += 1

    def annotate(self, task_id: int, result: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(self.call("POST", f"api/tasks/{task_id}/annotations/",
                              json={"result": result, "was_cancelled": False}))

    def fetch(self, uri: str) -> bytes:
        """The bytes behind a task-data URI of this Label Studio, such as
        ``/data/upload/1/x.png`` (the key is never sent to another host)."""
        if not same_origin(urljoin(self.url, uri), self.url):
            raise LabelStudioError(f"{uri} is not on Label Studio at {self.url}")
        return self.request("GET", uri).content


def same_origin(url: str, base: str) -> bool:
    """Whether ``url`` is on ``base``'s origin: scheme, host and port (defaults filled in),
    so a key meant for an https Label Studio never goes out over http.

    >>> same_origin("https://ls.example/data/upload/1/x.png", "https://ls.example:443/")
    True
    >>> same_origin("http://ls.example/data/upload/1/x.png", "https://ls.example")
    False
    """
    a, b = urlsplit(url), urlsplit(base)
    try:
        return (a.scheme.lower(), a.hostname, _port(a.port, a.scheme)) == (
            b.scheme.lower(), b.hostname, _port(b.port, b.scheme))
    except ValueError:  # an invalid port number: treat as a different origin
        return False


def _port(port: int | None, scheme: str) -> int:
    return port if port is not None else (443 if scheme.lower() == "https" else 80)


def _check(resp: httpx.Response, what: str) -> None:
    if resp.status_code >= 400:
        raise LabelStudioError(
            f"Label Studio answered {resp.status_code} to {what}: {resp.text[:300]}",
            answered=resp.status_code)
