"""Waiting for a condition, and for a project's jobs to settle."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


def wait_until(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, OSError, ValueError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def settled(server: Any, project: str = "1", kind: str = "train", *,
            besides: str | None = None, check: Callable[[dict[str, Any]], bool] | None = None,
            timeout: float = 60.0) -> dict[str, Any]:
    """The project's last job of ``kind`` ("train" or "rescore"), once no job of the project
    runs or waits and that one has ended; it must not be the job ``besides`` (one already
    seen), and ``check`` must hold for it. The one way the tests wait for training.
    ``server``: a test server, or an httpx client of one."""
    client = getattr(server, "client", server)

    def done() -> dict[str, Any] | None:
        answer = client.get("/is_training", params={"project": project}).json()
        rescoring = answer["rescoring"]
        if answer["is_training"] or rescoring["running"] or rescoring["queued"]:
            return None
        latest = answer["latest"] if kind == "train" else rescoring["latest"]
        if not latest or latest["state"] not in ("finished", "failed"):
            return None
        if latest["job_id"] == besides or (check is not None and not check(latest)):
            return None
        return dict(latest)

    return dict(wait_until(done, timeout=timeout))
