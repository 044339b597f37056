"""What the served version of a project found about its annotations: the label audit's
suspects and the annotators' estimated accuracy (from its ``job_result.json``), for
``labelloop audit`` and the status page."""

from __future__ import annotations

from typing import Any

from labelloop.errors import NotFound
from labelloop.settings import Settings
from labelloop.store.bundle import Stores
from labelloop.store.projects import label_studio_address


def served_quality(settings: Settings, stores: Stores, project: str) -> dict[str, Any]:
    """``{"project", "version", "audit", "suspects", "annotators", "consensus",
    "label_studio"}`` of the version that serves ``project``; NotFound when none does.

    ``label_studio`` is the project's page in Label Studio when its URL is known (the
    tasks' links are ``{label_studio}/data?task={task}``), else None.
    """
    version = stores.versions.current_version(project)
    if version is None:
        raise NotFound(f"no version serves project {project} yet: train one first")
    result = stores.versions.get(project, version).job_result or {}
    audit = result.get("audit") or {"status": "skipped", "reason": "this version predates "
                                     "the label audit", "suspects": []}
    consensus = result.get("consensus") or {}
    return {
        "project": project,
        "version": version,
        "audit": {k: v for k, v in audit.items() if k != "suspects"},
        "suspects": list(audit.get("suspects") or []),
        "annotators": consensus.get("annotators") or {},
        "annotations": consensus.get("annotations") or {},
        "consensus": {k: consensus.get(k) for k in (
            "method", "tasks", "tasks_with_several", "mean_agreement", "agreement")},
        "label_studio": project_page(settings, stores, project),
    }


def project_page(settings: Settings, stores: Stores, project: str) -> str | None:
    """The project's Data Manager in Label Studio, when the URL and the project's Label
    Studio id ("12.1700000000" names project 12) are known."""
    url, _ = label_studio_address(settings, stores.registry.get(project))
    ident = project.split(".", 1)[0]
    if not url or not ident.isdigit():
        return None
    return f"{url.rstrip('/')}/projects/{ident}/data"
