"""The served version's suspects, stored in Label Studio where a reviewer finds them.

Label Studio Community has no field a backend may set on a task for the Data Manager to
filter by, except predictions. So each suspect becomes one prediction of the model version
:data:`~labelloop.training.audit.AUDIT_VERSION` (``labelloop-audit``): the suggested label,
scored with the suspect's score. In the Data Manager, the filter "Prediction model
versions" contains ``labelloop-audit`` lists exactly the suspects, and the column
"Prediction results" shows each one's suggested label.

Why this disturbs nothing: Label Studio 1.23.2 samples by uncertainty, shows predictions
to annotators and averages "Prediction score" over the project's *selected* model version
only (``next_task.py``, ``TaskSerializer.get_predictions``, ``annotate_predictions_score``),
and labelloop selects its served version, never this one; its clean-up of old versions
matches only ``<ModelClass>-<digits>``. Annotations are never touched.

Each promotion replaces the previous suspects (the old ones are deleted first).
"""

from __future__ import annotations

import logging
from typing import Any

from labelloop.errors import LabelloopError, LabelStudioError
from labelloop.sdk.label_config import parse_label_config
from labelloop.sdk.label_studio import LabelStudioClient
from labelloop.sdk.predictions import choices_region
from labelloop.settings import Settings
from labelloop.store.bundle import Stores
from labelloop.store.project_ids import is_label_studio_project
from labelloop.store.projects import label_studio_of
from labelloop.training.audit import AUDIT_VERSION

log = logging.getLogger("labelloop.training")


def audit_predictions(suspects: list[dict[str, Any]], control: str,
                      to_name: str) -> list[dict[str, Any]]:
    """One prediction of :data:`AUDIT_VERSION` a suspect: its suggested label."""
    return [{"task": int(s["task"]), "model_version": AUDIT_VERSION, "score": s["score"],
             "result": [choices_region(control, to_name, [s["suggested"]], score=s["score"])]}
            for s in suspects if str(s.get("task")).isdigit()]


def publish_suspects(settings: Settings, stores: Stores, project: str) -> int | None:
    """Replace the project's ``labelloop-audit`` predictions in Label Studio with the
    served version's suspects. Returns how many were stored; None when there is no Label
    Studio to store them in. Best effort: a failure is logged, the job stands."""
    info = stores.registry.get(project)
    address = label_studio_of(settings, info)
    version = stores.versions.current_version(project)
    if address is None or info is None or version is None or not is_label_studio_project(
            project):
        return None
    try:
        result = stores.versions.get(project, version).job_result or {}
        audit = result.get("audit") or {}
        suspects = list(audit.get("suspects") or [])
        control = parse_label_config(info.label_config).control("choices") if suspects \
            else None
        with LabelStudioClient(*address) as ls:
            if AUDIT_VERSION in ls.model_versions(project):
                ls.delete_model_version(project, AUDIT_VERSION)
            if control is None:
                return 0
            stored = ls.import_predictions(project, audit_predictions(
                suspects, control.name, control.to_name[0]))
    except (LabelStudioError, LabelloopError, OSError, ValueError) as exc:
        log.warning("project %s: could not store the label audit's suspects in Label "
                    "Studio: %s", project, exc)
        return None
    log.info("project %s: %d suspects of version %s stored in Label Studio as predictions "
             "of %s", project, stored, version, AUDIT_VERSION)
    return stored
