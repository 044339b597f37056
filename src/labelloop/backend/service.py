"""The use cases that the HTTP routes and the CLI call: setup, predict, webhook, versions."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from labelloop import __version__
from labelloop.backend.label_quality import served_quality
from labelloop.backend.metrics import Metrics
from labelloop.backend.status import project_status
from labelloop.backend.version_view import describe
from labelloop.backend.webhook_events import (
    KNOWN_ACTIONS,
    START_TRAINING,
    TASKS_CREATED,
    is_skipped,
    parse_event,
)
from labelloop.compat.adapters import call_with_accepted
from labelloop.compat.loader import generation_title, load_backend_class
from labelloop.errors import (
    BadRequest,
    InvalidField,
    LabelloopError,
    ModelError,
    NotFound,
    StoreUnavailable,
)
from labelloop.sdk.label_config import LabelConfig
from labelloop.sdk.model import LabelStudioModel
from labelloop.settings import Settings
from labelloop.store.bundle import Stores
from labelloop.store.factory import open_stores
from labelloop.store.jobs import JobKind, JobSource, check_job_id
from labelloop.store.model_context import named_version, project_version_name, version_name
from labelloop.store.project_ids import project_key
from labelloop.store.projects import ProjectInfo
from labelloop.store.retention import PruneResult, RetentionPolicy, prune
from labelloop.store.versions import PROMOTABLE, VersionStatus
from labelloop.training.model_opener import ModelOpener
from labelloop.training.policy import Scheduler
from labelloop.training.rescoring import why_not_rescored
from labelloop.training.scheduling import open_scheduler

log = logging.getLogger("labelloop.backend")
NO_FIT = "the model class does not override fit(): it never trains"


class Backend:
    """One backend: a model class, its stores and its scheduler."""

    def __init__(self, settings: Settings, stores: Stores, model_class: type[LabelStudioModel],
                 scheduler: Scheduler) -> None:
        self.settings = settings
        self.stores = stores
        self.model_class = model_class
        self.scheduler = scheduler
        self.metrics = (Metrics(stores, scheduler, self.version_name) if settings.metrics
                        else None)
        self.models = ModelOpener(settings, stores, model_class, on_load=self._loaded)

    @classmethod
    def open(cls, settings: Settings,
             model_class: type[LabelStudioModel] | None = None) -> Backend:
        """Load the model class (import errors surface here, at start-up) and the stores;
        ``model_class``: one the caller has loaded already (``init_app``)."""
        model_class = model_class or load_backend_class(settings.backend_dir,
                                                        settings.model_class)
        stores = open_stores(settings)
        return cls(settings, stores, model_class, open_scheduler(settings, stores.jobs))

    def _loaded(self, project: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.child(self.metrics.model_load, project).observe(seconds)

    @property
    def generation(self) -> str:
        """Which API the model script was written for, in words."""
        return generation_title(self.model_class)

    # -- versions ---------------------------------------------------------------------
    def model_version(self, project: str) -> str:
        """The string Label Studio stores with predictions; the same in /setup and /predict."""
        return self.project_version_name(project, self.stores.versions.current_version(project))

    def project_version_name(self, project: str, version: str | None) -> str:
        """The name of a version of the project, read from the stores (the name /predict
        stamps, without building the model)."""
        return project_version_name(self.stores, self.model_class, project, version)

    def version_name(self, version: str | None) -> str:
        return version_name(self.model_class.__name__, version)

    def versions(self, project: object | None = None) -> dict[str, Any]:
        """``versions``: the names Label Studio lists (ok versions, newest first);
        ``projects``: every kept version of each project, with its metrics."""
        projects = ([project_key(project)] if project is not None
                    else self.stores.versions.projects())
        names: list[str] = []
        details: dict[str, Any] = {}
        for p in projects:
            infos = self.stores.versions.history(p)
            details[p] = [describe(i, self.project_version_name(p, i.version))
                          for i in infos]
            names += [self.project_version_name(p, i.version) for i in reversed(infos)
                      if i.status is VersionStatus.OK]
        return {"versions": names, "projects": details}

    def rollback(self, project: object, version: str) -> dict[str, Any]:
        """Serve an earlier ok version."""
        key = project_key(project)
        self.stores.versions.set_current(key, _version(version))
        return {"project": key, "model_version": self.model_version(key)}

    def promote(self, project: object, version: str) -> dict[str, Any]:
        """A person's decision: serve ``version`` even if the job rejected it."""
        key = project_key(project)
        self.stores.versions.set_current(key, _version(version), allowed=PROMOTABLE)
        return {"project": key, "model_version": self.model_version(key)}

    def pin(self, project: object, version: str, pinned: bool = True) -> dict[str, Any]:
        key = project_key(project)
        self.stores.versions.pin(key, _version(version), pinned)
        return {"project": key, "version": version, "pinned": pinned}

    def prune(self, project: object | None = None, dry_run: bool = False) -> list[PruneResult]:
        projects = ([project_key(project)] if project is not None
                    else self.stores.versions.projects())
        policy = RetentionPolicy.from_settings(self.settings)
        return [prune(self.stores.versions, self.stores.jobs, p, policy, dry_run)
                for p in projects]

    def status(self, project: object | None = None) -> list[dict[str, Any]]:
        """Per project: versions with metrics, the running and queued job, failures."""
        projects = ([project_key(project)] if project is not None
                    else self.stores.versions.projects())
        return [{**project_status(self.stores, self.scheduler, p, self.version_name),
                 "quality": self._quality(p)} for p in projects]

    def _quality(self, project: str) -> dict[str, Any] | None:
        """The label audit shown beside a project's versions (None: nothing serves)."""
        try:
            return served_quality(self.settings, self.stores, project)
        except NotFound:
            return None

    def label_quality(self, project: object) -> dict[str, Any]:
        """The served version's label audit and annotator accuracies (NotFound: none)."""
        return served_quality(self.settings, self.stores, project_key(project))

    def check(self) -> str:
        """Build the model the way /predict would, for each project set up (``--check``);
        a foreign class with no project yet is built as its old ``--check`` did."""
        projects = [p for p in self.stores.versions.projects() if self.stores.registry.get(p)]
        for p in projects:
            info = self.stores.registry.get(p)
            assert info is not None
            self.models.open_model(p, self.stores.versions.current_version(p),
                                   self._config(info.label_config, "label_config"))
        foreign = getattr(self.model_class, "foreign", None)
        if not projects and foreign is not None:
            try:
                call_with_accepted(foreign, **self.settings.model_kwargs)
            except Exception as exc:
                raise ModelError(f"{foreign.__name__}() failed: {type(exc).__name__}: "
                                 f"{exc}") from exc
        built = f"built for project(s) {', '.join(projects)}" if projects else (
            "built" if foreign is not None else "loaded (no project is set up yet)")
        return f"{self.model_class.__name__} ({self.generation}): {built}"

    # -- endpoints --------------------------------------------------------------------
    def about(self) -> dict[str, Any]:
        """What this server serves, and how: fixed for its life."""
        return {"model_class": self.model_class.__name__, "api": self.generation,
                "mode": self.stores.mode, "version": __version__}

    def health(self) -> dict[str, Any]:
        answer = {"status": "UP", **self.about()}
        if self.stores.mode == "redis":
            answer["redis"] = "ok" if self.stores.ping() else "unreachable"
        if self.stores.storage_ping is not None:
            answer["storage"] = "ok" if self.stores.storage_ping() else "unreachable"
        return answer

    def setup(self, project: object, schema: str, hostname: str | None = None,
              access_token: str | None = None,
              extra_params: dict[str, Any] | None = None) -> dict[str, Any]:
        key = project_key(project)
        config = self._config(schema, "schema")
        # Label Studio always sends its address and token; another client (a test, a
        # script) may not: keep what Label Studio said, or training and re-scoring lose it.
        old = self.models.project_info(key) if not (hostname and access_token) else None
        info = ProjectInfo(schema, hostname or (old.hostname if old else None),
                           access_token or (old.access_token if old else None), extra_params,
                           self.settings.active_learning)
        try:
            self.stores.registry.save(key, info)
        except StoreUnavailable as exc:  # keep answering: Label Studio sends it all again
            log.warning("setup of project %s not saved: %s", key, exc.message)
        model_version = self._setup_name(key, config)
        log.debug("setup project=%s hostname=%s -> %s", key, hostname, model_version)
        return {"model_version": model_version}

    def predict(self, project: object, tasks: Sequence[dict[str, Any]],
                label_config: str | None = None,
                context: dict[str, Any] | None = None) -> dict[str, Any]:
        key = project_key(project)
        if not label_config:  # Label Studio always sends it; the CLI may not
            info = self.stores.registry.get(key)
            label_config = info.label_config if info else None
        if not label_config:
            raise InvalidField("label_config", "is required (the project has not been set up)")
        config = self._config(label_config, "label_config")
        _check_task_data(config, tasks)
        version, model = self.models.served_model(key, config)
        model_version = self._served_name(version, model)
        if not tasks:
            return {"results": [], "model_version": model_version}
        started = time.perf_counter()
        chunk = self.settings.predict_chunk if self.settings.predict_chunk > 0 else len(tasks)
        results = []
        for i in range(0, len(tasks), chunk):  # bounded memory for 50,000-task batches
            results += self._call_predict(model, list(tasks[i:i + chunk]), context)
        results = _stamp(results, model_version)
        if self.metrics is not None:
            self.metrics.child(self.metrics.tasks, key, model_version).inc(len(tasks))
        log.debug("predict project=%s tasks=%d version=%s in %.1f ms", key, len(tasks),
                  model_version, (time.perf_counter() - started) * 1000)
        return {"results": results, "model_version": model_version}

    def webhook(self, payload: object) -> dict[str, Any]:
        event = parse_event(payload)
        if self.metrics is not None:
            action = event.action if event.action in KNOWN_ACTIONS else "other"
            self.metrics.child(self.metrics.webhooks, action).inc()
        if event.label_config and self.stores.registry.get(event.project) is None:
            # Webhooks carry the label config: enough to train before any /setup.
            self._config(event.label_config, "project.label_config")
            self.stores.registry.save(event.project, ProjectInfo(event.label_config))
        for ann, task in event.upserts:
            if is_skipped(ann):
                self.stores.training_set.delete(event.project, [str(ann["id"])])
            else:
                self.stores.training_set.upsert(event.project, ann, task)
        if event.deletions:
            self.stores.training_set.delete(event.project, event.deletions)
        if event.action == TASKS_CREATED and self._rescores(event.project):
            # New tasks get a prediction of the served version (Label Studio no longer asks
            # for one when a task opens once the project samples a labelloop version).
            job = self.scheduler.schedule(event.project, JobSource.WEBHOOKS, JobKind.RESCORE)
            return {"status": "ok", "action": event.action, "training": False,
                    "rescoring": True, "job": job.job_id}
        if not self.model_class.learns() and (event.action == START_TRAINING
                                              or event.changes_training_set):
            log.debug("webhook %s project=%s: %s", event.action, event.project, NO_FIT)
            return {"status": "ok", "action": event.action, "training": False,
                    "reason": NO_FIT}
        if event.action == START_TRAINING:
            job = self.scheduler.schedule(event.project, JobSource.LABEL_STUDIO)
        elif event.changes_training_set and self.settings.train_on_annotation:
            job = self.scheduler.schedule(event.project, JobSource.WEBHOOKS)
        else:
            log.debug("webhook %s project=%s: no training", event.action, event.project)
            return {"status": "ok", "action": event.action, "training": False}
        log.debug("webhook %s project=%s: job %s", event.action, event.project, job.job_id)
        return {"status": "ok", "action": event.action, "training": True, "job": job.job_id}

    def _rescores(self, project: str) -> bool:
        """Whether the project's unlabeled tasks are re-scored in Label Studio."""
        return (self.model_class.learns()
                and why_not_rescored(self.settings, self.stores, project) is None)

    def train_legacy(self, project: object, annotations: list[dict[str, Any]],
                     label_config: str | None, field: str = "annotations") -> dict[str, Any]:
        """The old ``POST /train``: annotated tasks, added to the training set (or updated,
        by annotation id); the annotations it does not name stay. Webhooks may have
        delivered newer ones than the body holds, so a request never replaces the set."""
        key = project_key(project)
        if not annotations:  # Label Studio 0.9 refused it too, and changed nothing
            raise BadRequest("No completions found.", field=field)
        if label_config:
            self._config(label_config, "label_config")
            old = self.stores.registry.get(key)
            self.stores.registry.save(key, replace(old, label_config=label_config) if old
                                      else ProjectInfo(label_config))
        added = self.stores.training_set.merge(key, annotations)
        if not self.model_class.learns():
            return {"status": "ok", "job": None, "annotations": added, "training": False,
                    "reason": NO_FIT}
        job = self.scheduler.schedule(key, JobSource.TRAIN_REQUEST)  # asked for: at once
        return {"status": "ok", "job": job.job_id, "annotations": added, "training": True}

    def job_status(self, job_id: object) -> dict[str, Any]:
        record = self.stores.jobs.get(check_job_id(job_id))
        return self.scheduler.reconcile(record).to_dict()

    def is_training(self, project: object) -> dict[str, Any]:
        """The training job that runs or waits, the last one (with its metrics and
        progress), and the same for re-scoring Label Studio's tasks."""
        key = project_key(project)
        pending = self.scheduler.pending(key)
        answer: dict[str, Any] = {}
        for kind in JobKind:
            latest = self.stores.jobs.latest(key, kind)
            running = latest is not None and self.scheduler.is_alive(latest)
            queued = pending if pending is not None and pending.kind is kind else None
            answer[kind] = {"running": running, "queued": queued.to_dict() if queued else None,
                            "latest": self.scheduler.reconcile(latest).to_dict() if latest
                            else None}
        train = answer[JobKind.TRAIN]
        return {"is_training": train["running"] or train["queued"] is not None, **train,
                "rescoring": answer[JobKind.RESCORE]}

    # -- helpers ----------------------------------------------------------------------
    def _config(self, xml: object, field: str) -> LabelConfig:
        return self.models.label_config(xml, field)

    def _served_name(self, version: str | None, model: LabelStudioModel) -> str:
        """labelloop's name for the version, unless the model names itself (a
        label-studio-ml-backend 2.x script): then its name, and the version once trained."""
        own = getattr(model, "own_version", None)
        return named_version(own() if callable(own) else None, self.model_class.__name__,
                             version)

    def _setup_name(self, project: str, config: LabelConfig) -> str:
        """What /setup answers: the name /predict will stamp. The served model is built
        now (as Label Studio 0.9's backend did), so that a script refusing this label
        config says so to /setup (a ModelError naming its file and line), and so that a
        model that names itself (label-studio-ml-backend's scripts) is asked its name."""
        version, model = self.models.served_model(project, config)
        return self._served_name(version, model)


    def _call_predict(self, model: LabelStudioModel, tasks: list[dict[str, Any]],
                      context: dict[str, Any] | None) -> list[Any]:
        name = type(model).__name__
        try:
            results = model.predict(tasks, context=context)
        except LabelloopError:
            raise
        except Exception as exc:
            log.exception("%s.predict failed", name)
            raise ModelError.raised(f"{name}.predict() raised", exc,
                                    self.settings.backend_dir) from exc
        if not isinstance(results, list) or len(results) != len(tasks):
            got = len(results) if isinstance(results, list) else type(results).__name__
            raise ModelError(f"{name}.predict() must return a list with one prediction per "
                             f"task: got {got} for {len(tasks)} tasks")
        return results


def _version(value: object) -> str:
    if not isinstance(value, str) or not value.isdigit():
        raise InvalidField("version", f"{value!r} is not a version (a folder name of digits)")
    return value


def _check_task_data(config: LabelConfig, tasks: Sequence[dict[str, Any]]) -> None:
    keys = {o.data_key for c in config.controls for o in config.objects
            if o.name in c.to_name and o.data_key}
    for i, task in enumerate(tasks):
        data = task.get("data")
        if not isinstance(data, dict):
            raise InvalidField(f"tasks[{i}].data", "must be an object")
        for key in keys:
            if key not in data and "$undefined$" not in data:
                raise InvalidField(f"tasks[{i}].data",
                                   f"has no key {key!r}, which the label config reads (${key})")


def _stamp(results: list[Any], model_version: str) -> list[Any]:
    """Put the served model_version on every prediction; check the shape as we go. A
    prediction with no regions is no prediction: a task gets ``[]`` (Label Studio stores
    nothing for it) rather than an empty one that would fill its Data Manager."""
    stamped: list[Any] = []
    for i, item in enumerate(results):
        kept = []
        for pred in item if isinstance(item, list) else [item]:
            if not isinstance(pred, dict) or not isinstance(pred.get("result"), list):
                raise ModelError(f"prediction {i} must be a dict with a 'result' list "
                                 f"(or a list of such dicts), got {str(pred)[:100]}")
            if pred["result"]:
                pred["model_version"] = model_version
                kept.append(pred)
        stamped.append(kept if isinstance(item, list) or not kept else kept[0])
    return stamped
