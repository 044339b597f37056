"""A small client for the Label Studio REST API: export annotated tasks, page through
unlabeled ones, store predictions in bulk, update a project, fetch task files.

Label Studio 1.23 accepts two kinds of key: a legacy token (``Authorization: Token <key>``,
only when legacy tokens are enabled for the organisation) and a personal access token
(a JWT, exchanged at ``/api/token/refresh/`` for a ``Bearer`` token that lives 5 minutes).

Use it as a context manager to keep one connection for many calls::

    with LabelStudioClient(url, key) as ls:
        for page in ls.unlabeled_tasks(7, without_version="M-1795570947"):
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

ACCESS_TOKEN_S = 240.0  # Label Studio's access tokens live 5 minutes: refresh before that


def _looks_like_jwt(key: str) -> bool:
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
        if not _looks_like_jwt(self.api_key):
            return {"Authorization": f"Token {self.api_key}"}
        if self._bearer is None or time.monotonic() > self._bearer[1]:
            resp = client.post(urljoin(self.url, "api/token/refresh/"),
                               json={"refresh": self.api_key})
            _check(resp, "refreshing the personal access token")
            self._bearer = (str(resp.json()["access"]), time.monotonic() + ACCESS_TOKEN_S)
        return {"Authorization": f"Bearer {self._bearer[0]}"}

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
                        page_size: int = 1000) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """Pages of ``(tasks, left)``: unlabeled tasks (``id`` and ``data`` only) that hold
        no prediction of ``without_version``, by id, and how many were left before the page.

        Pages are keyed by the last id seen, not numbered: predictions stored meanwhile
        shrink the filtered set, and numbered pages would skip tasks."""
        last = 0
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

        Label Studio skips invalid items silently and still answers 201: a shortfall is an
        error here."""
        if not predictions:
            return 0
        resp = self.request("POST", f"api/projects/{int(project_id)}/import/predictions",
                            json=predictions)
        created = int(resp.json().get("created", 0))
        if created != len(predictions):
            raise LabelStudioError(f"Label Studio stored {created} of {len(predictions)} "
                                   "predictions: the others did not fit the label config")
        return created

    def update_project(self, project_id: int | str, **fields: Any) -> dict[str, Any]:
        return dict(self.request("PATCH", f"api/projects/{int(project_id)}/",
                                 json=fields).json())

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
            f"Label Studio answered {resp.status_code} to {what}: {resp.text[:300]}")
