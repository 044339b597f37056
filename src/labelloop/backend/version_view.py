"""What people and Label Studio see of a project's versions."""

from __future__ import annotations

from typing import Any

from labelloop.store.versions import VersionInfo


def describe(info: VersionInfo, model_version: str) -> dict[str, Any]:
    """One version as /versions, ``labelloop versions`` and the status page show it."""
    result = info.job_result or {}
    metrics = result.get("metrics") or {}
    promotion = result.get("promotion") or {}
    return {
        "version": info.version,
        "model_version": model_version,
        "status": info.status,
        "current": info.current,
        "pinned": info.pinned,
        "created": info.created,
        "time": result.get("time"),
        "n_train": result.get("n_train", (result.get("train_output") or {}).get("count")),
        "n_eval": result.get("n_eval"),
        "primary": metrics.get("primary"),
        "score": metrics.get("score"),
        "evaluation": (result.get("evaluation") or {}).get("method"),
        "decision": promotion.get("reason"),
        "current_score": promotion.get("current"),
        "error": result.get("error"),
    }
