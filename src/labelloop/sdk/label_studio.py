"""A small client for the Label Studio REST API: export annotated tasks, fetch task files.

Label Studio 1.23 accepts two kinds of key: a legacy token (``Authorization: Token <key>``,
only when legacy tokens are enabled for the organisation) and a personal access token
(a JWT, exchanged at ``/api/token/refresh/`` for a short-lived ``Bearer`` token).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import httpx

from labelloop.errors import LabelStudioError


def _looks_like_jwt(key: str) -> bool:
    return key.count(".") == 2


class LabelStudioClient:
    def __init__(self, url: str, api_key: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/") + "/"
        self.api_key = api_key
        self.timeout = timeout

    def _headers(self, client: httpx.Client) -> dict[str, str]:
        if not _looks_like_jwt(self.api_key):
            return {"Authorization": f"Token {self.api_key}"}
        resp = client.post(urljoin(self.url, "api/token/refresh/"), json={"refresh": self.api_key})
        _check(resp, "refreshing the personal access token")
        return {"Authorization": f"Bearer {resp.json()['access']}"}

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        try:
            with httpx.Client(timeout=self.timeout) as client:
                resp = client.get(urljoin(self.url, path), params=params,
                                  headers=self._headers(client))
        except httpx.HTTPError as exc:
            raise LabelStudioError(f"cannot reach Label Studio at {self.url}: {exc}") from exc
        _check(resp, f"GET {path}")
        return resp

    def annotated_tasks(self, project_id: int | str) -> list[dict[str, Any]]:
        """All tasks of a project that have annotations, in Label Studio's export format."""
        resp = self._get(f"api/projects/{int(project_id)}/export",
                         {"exportType": "JSON", "download_all_tasks": "false"})
        tasks = resp.json()
        if not isinstance(tasks, list):
            raise LabelStudioError("the export did not return a list of tasks")
        return tasks

    def fetch(self, uri: str) -> bytes:
        """The bytes behind a task-data URI such as ``/data/upload/1/x.png``."""
        return self._get(uri.lstrip("/") if uri.startswith("/") else uri).content


def _check(resp: httpx.Response, what: str) -> None:
    if resp.status_code >= 400:
        raise LabelStudioError(
            f"Label Studio answered {resp.status_code} to {what}: {resp.text[:200]}")
