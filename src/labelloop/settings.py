"""Settings: built once from the environment and CLI flags, then passed down.

>>> s = Settings.from_env({"MODEL_DIR": "/tmp/models"}, backend_dir=Path("/tmp/b"))
>>> s.model_dir, s.port
(PosixPath('/tmp/models'), 9090)
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelloop.errors import BadRequest

# 50,000 Label Studio tasks of about 2 KiB each fit comfortably.
DEFAULT_MAX_BODY_BYTES = 256 * 1024 * 1024

_ENV: dict[str, tuple[str, ...]] = {
    # field -> env names, first found wins; the plain names match the reference SDK.
    "model_dir": ("LABELLOOP_MODEL_DIR", "MODEL_DIR"),
    "host": ("LABELLOOP_HOST", "HOST"),
    "port": ("LABELLOOP_PORT", "PORT"),
    "log_level": ("LABELLOOP_LOG_LEVEL", "LOG_LEVEL"),
    "workers": ("LABELLOOP_WORKERS", "WORKERS"),
    "basic_auth_user": ("LABELLOOP_BASIC_AUTH_USER", "BASIC_AUTH_USER"),
    "basic_auth_pass": ("LABELLOOP_BASIC_AUTH_PASS", "BASIC_AUTH_PASS"),
    "webhook_secret": ("LABELLOOP_WEBHOOK_SECRET",),
    "redis_url": ("LABELLOOP_REDIS_URL", "REDIS_URL"),
    # label-studio-ml-backend's examples (READMEs, docker-compose files) spell them
    # LABEL_STUDIO_HOST and LABEL_STUDIO_ACCESS_TOKEN: both spellings work.
    "label_studio_url": ("LABELLOOP_LABEL_STUDIO_URL", "LABEL_STUDIO_URL", "LABEL_STUDIO_HOST"),
    "label_studio_api_key": ("LABELLOOP_LABEL_STUDIO_API_KEY", "LABEL_STUDIO_API_KEY",
                             "LABEL_STUDIO_ACCESS_TOKEN"),
    "max_body_bytes": ("LABELLOOP_MAX_BODY_BYTES",),
    "train_on_annotation": ("LABELLOOP_TRAIN_ON_ANNOTATION",),
    "model_cache_size": ("LABELLOOP_MODEL_CACHE_SIZE",),
    "job_lock_ttl_s": ("LABELLOOP_JOB_LOCK_TTL",),
    "predict_chunk": ("LABELLOOP_PREDICT_CHUNK",),
    "runner_linger_s": ("LABELLOOP_RUNNER_LINGER",),
    "log_format": ("LABELLOOP_LOG_FORMAT",),
    "model_class": ("LABELLOOP_MODEL_CLASS",),
    "default_project": ("LABELLOOP_DEFAULT_PROJECT",),
    "evaluate": ("LABELLOOP_EVALUATE",),
    "refit": ("LABELLOOP_REFIT",),
    "eval_share": ("LABELLOOP_EVAL_SHARE",),
    "eval_kfold_below": ("LABELLOOP_EVAL_KFOLD_BELOW",),
    "promote": ("LABELLOOP_PROMOTE",),
    "promote_tolerance": ("LABELLOOP_PROMOTE_TOLERANCE",),
    "promote_min_eval": ("LABELLOOP_PROMOTE_MIN_EVAL",),
    "train_min_interval_s": ("LABELLOOP_TRAIN_MIN_INTERVAL",),
    "train_interval_factor": ("LABELLOOP_TRAIN_INTERVAL_FACTOR",),
    "keep_versions": ("LABELLOOP_KEEP_VERSIONS",),
    "keep_failed_hours": ("LABELLOOP_KEEP_FAILED_HOURS",),
    "active_learning": ("LABELLOOP_ACTIVE_LEARNING",),
    "rescore": ("LABELLOOP_RESCORE",),
    "rescore_page_size": ("LABELLOOP_RESCORE_PAGE_SIZE",),
    "rescore_first": ("LABELLOOP_RESCORE_FIRST",),
    "rescore_batch": ("LABELLOOP_RESCORE_BATCH",),
    "rescore_candidates": ("LABELLOOP_RESCORE_CANDIDATES",),
    "rescore_share": ("LABELLOOP_RESCORE_SHARE",),
    "runner_nice": ("LABELLOOP_RUNNER_NICE",),
    "keep_prediction_versions": ("LABELLOOP_KEEP_PREDICTION_VERSIONS",),
    "prediction_cleanup_budget_s": ("LABELLOOP_PREDICTION_CLEANUP_BUDGET",),
    "pool_resync_hours": ("LABELLOOP_POOL_RESYNC_HOURS",),
    "metrics": ("LABELLOOP_METRICS",),
    "shutdown_grace_s": ("LABELLOOP_SHUTDOWN_GRACE",),
    "consensus": ("LABELLOOP_CONSENSUS",),
    "audit": ("LABELLOOP_AUDIT",),
    "audit_folds": ("LABELLOOP_AUDIT_FOLDS",),
    "storage": ("LABELLOOP_STORAGE",),
    "cache_dir": ("LABELLOOP_CACHE_DIR",),
    "cache_max_mb": ("LABELLOOP_CACHE_MAX_MB",),
}
# Where a Label Studio token may come from in the environment, first found wins.
LABEL_STUDIO_KEY_ENV = _ENV["label_studio_api_key"]
CHOICES = {"promote": ("if_not_worse", "always"), "log_format": ("text", "json"),
           "consensus": ("latest", "majority", "dawid_skene")}
RANGES = {"rescore_share": (0.01, 1.0)}  # a share of 0 would never store the rest

SETTINGS_ENV = "LABELLOOP_SETTINGS_JSON"


@dataclass(frozen=True)
class Settings:
    """Everything configurable. ``backend_dir`` holds the model script."""

    backend_dir: Path
    model_dir: Path
    host: str = "0.0.0.0"  # noqa: S104 - Label Studio usually runs on another host
    port: int = 9090
    log_level: str = "INFO"
    debug: bool = False
    workers: int = 1
    basic_auth_user: str | None = None
    basic_auth_pass: str | None = None
    webhook_secret: str | None = None
    redis_url: str | None = None
    label_studio_url: str | None = None
    label_studio_api_key: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    train_on_annotation: bool = True
    model_cache_size: int = 8
    job_lock_ttl_s: int = 30  # Redis mode: how soon a dead worker's project lock expires
    predict_chunk: int = 5000  # tasks per predict() call; bounds the model's working memory
    runner_linger_s: float = 30.0  # local mode: a runner waits this long for the next job
    # Local mode: runners train and re-score beside the server on its machine; this much
    # lower a CPU priority (Unix nice) lets /predict win the CPU. 0 keeps the server's.
    runner_nice: int = 10
    log_format: str = "text"  # "text" | "json" (one JSON object per line, for log shippers)
    default_project: str = "default"  # serves /predict bodies without "project"
    model_class: str | None = None  # which class of the script (when it defines several)
    # Passed to the model's constructor: the backend folder's config.json, then --with.
    model_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Judging versions: hold out a share of the annotations, score the model on them.
    evaluate: bool = True
    refit: bool = True  # after evaluating, fit again on all annotations for the served model
    eval_share: float = 0.2
    eval_kfold_below: int = 100  # fewer annotated tasks: 5-fold cross-validation instead
    promote: str = "if_not_worse"  # or "always"
    promote_tolerance: float = 0.02  # a candidate may score this much lower and still serve
    promote_min_eval: int = 20  # fewer held-out tasks than this: too few to judge, promote
    # Cadence: how soon after the last job a job made by annotation events may start.
    # 6 s: at most 10 versions a minute of steady annotating, each within seconds.
    train_min_interval_s: float = 6.0
    train_interval_factor: float = 2.0  # ... and at least this many times the last job's time
    # Retention: what pruning keeps besides the served and the pinned versions.
    keep_versions: int = 5
    keep_failed_hours: float = 24.0
    # Active learning: keep Label Studio's predictions scored by the served version.
    active_learning: bool = False  # also set the project's sampling to uncertainty sampling
    rescore: bool = True  # re-score unlabeled tasks in Label Studio after each promotion
    rescore_page_size: int = 1000  # unlabeled tasks listed from Label Studio a call
    rescore_first: int = 1000  # the least certain stored before the project switches
    rescore_batch: int = 0  # predictions a call after them (0: 2,000 or 10,000, measured)
    # Scored before the rest of the pool: the last version's least certain (0: the whole
    # pool is scored before anything is stored).
    rescore_candidates: int = 20_000
    # Of Label Studio's time, the share that storing the rest (and deleting old versions)
    # may take: its imports hold the database's write lock, and annotators wait behind them.
    rescore_share: float = 0.25
    keep_prediction_versions: int = 2  # versions whose predictions stay in Label Studio
    prediction_cleanup_budget_s: float = 30.0  # Label Studio's time spent deleting, a job
    pool_resync_hours: float = 24.0  # list every unlabeled task afresh this often
    metrics: bool = True  # /metrics (Prometheus)
    # SIGTERM: how long a worker's running job may go on before it is killed (an
    # orchestrator's grace period is often 10 s; raise both together).
    shutdown_grace_s: float = 8.0
    # Several annotations of one task: the label training uses. Dawid-Skene by default:
    # bench/label_audit.py measured it 5-7 points of model accuracy over "latest" (3
    # annotators a task, one a spammer) and within 0.03 of each annotator's accuracy;
    # with one annotator a task it gives the latest label, as "latest" does.
    consensus: str = "dawid_skene"
    audit: bool = True  # flag the annotations that are probably wrong (choices controls)
    # Folds (a fit each) for the tasks the evaluation trained on: 2 keeps the audit within
    # half again of a job of 3,000 annotations (bench/audit_cost.py); 4 is 5-fold CV.
    audit_folds: int = 2
    # Where versions live: "file://" (the model dir, the default) or a bucket
    # (s3://bucket/prefix, gs://..., az://...; Redis mode only). With a bucket, each process
    # keeps the versions it loads in a local cache (default <model_dir>/.cache), this big.
    storage: str = "file://"
    cache_dir: Path | None = None
    cache_max_mb: int = 2048

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: Any) -> Settings:
        """Environment first, then explicit flags (those that are not None) on top."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, keys in _ENV.items():
            for key in keys:
                if env.get(key):
                    values[name] = env[key]
                    break
        values.update({k: v for k, v in flags.items() if v is not None})
        if "backend_dir" not in values:
            values["backend_dir"] = Path.cwd()
        values["backend_dir"] = Path(values["backend_dir"]).resolve()
        values["model_kwargs"] = {**read_model_kwargs(values["backend_dir"]),
                                  **(values.get("model_kwargs") or {})}
        if "model_dir" not in values:
            values["model_dir"] = values["backend_dir"]
        return cls(**_coerce(values))

    def to_json(self) -> str:
        """Serialise for child processes (uvicorn workers, training runners)."""
        data = dataclasses.asdict(self)
        data["backend_dir"] = str(self.backend_dir)
        data["model_dir"] = str(self.model_dir)
        data["cache_dir"] = str(self.cache_dir) if self.cache_dir else None
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        return cls(**_coerce(json.loads(text)))

    @property
    def version_cache_dir(self) -> Path:
        """Where versions fetched from a bucket are kept (LABELLOOP_CACHE_DIR)."""
        return self.cache_dir or self.model_dir / ".cache"

    @property
    def auth_enabled(self) -> bool:
        return bool(self.basic_auth_user and self.basic_auth_pass)


MODEL_KWARGS_FILE = "config.json"


def read_model_kwargs(backend_dir: Path) -> dict[str, Any]:
    """The backend folder's ``config.json``: keyword arguments for the model's constructor,
    as the label-studio-ml backends of every generation kept them."""
    path = Path(backend_dir) / MODEL_KWARGS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BadRequest(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequest(f"{path} must hold a JSON object of constructor arguments")
    return data


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    types = {f.name: f.type for f in dataclasses.fields(Settings)}
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in types:
            raise BadRequest(f"unknown setting {name!r}")
        out[name] = _coerce_one(name, str(types[name]), value)
    return out


def _coerce_one(name: str, type_name: str, value: Any) -> Any:
    try:
        if type_name == "Path" or (type_name == "Path | None" and value is not None):
            return Path(value).resolve()
        if type_name == "int":
            return int(value)
        if type_name == "float":
            return _in_range(name, float(value))
        if type_name == "bool":
            return _to_bool(value)
        if type_name.startswith("dict"):
            return dict(json.loads(value) if isinstance(value, str) else value)
    except ValueError as exc:
        raise BadRequest(f"setting {name}: {exc}") from exc
    if name in CHOICES and value not in CHOICES[name]:
        raise BadRequest(f"setting {name}: {value!r} is not one of {', '.join(CHOICES[name])}")
    return value


def _in_range(name: str, value: float) -> float:
    low, high = RANGES.get(name, (float("-inf"), float("inf")))
    if not low <= value <= high:
        raise ValueError(f"{value} is not between {low} and {high}")
    return value


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"{value!r} is not a boolean")
