"""Job records: queued -> running -> finished | failed, with the states as types.

The states, kinds, sources and outcomes are ``str`` enums: they compare equal to the plain
strings that records on disk and in Redis hold, so old records read as before.

>>> record = JobRecord.from_dict({"job_id": "a" * 32, "project": "7", "state": "finished",
...                               "outcome": "promoted", "created": 1.0})
>>> record.state is JobState.FINISHED, record.outcome == "promoted", record.kind
(True, True, <JobKind.TRAIN: 'train'>)
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from labelloop.errors import InvalidField, NotFound
from labelloop.store.atomic import disk_guarded, read_json, write_json_atomic


class StrEnum(str, Enum):
    """A ``str`` enum that prints as its value (Python 3.10 has no ``enum.StrEnum``)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"

    @property
    def ended(self) -> bool:
        return self in (JobState.FINISHED, JobState.FAILED)


class JobKind(StrEnum):
    TRAIN = "train"
    RESCORE = "rescore"  # re-scoring Label Studio's unlabeled tasks with the served version


class JobSource(StrEnum):
    """What made the job, and so where its training set comes from."""

    WEBHOOKS = "webhooks"  # annotation events: the training set they built (cadence applies)
    LABEL_STUDIO = "label_studio"  # START_TRAINING: Label Studio's own export, at once
    TRAIN_REQUEST = "train_request"  # POST /train or ``labelloop train``: at once

    @property
    def waits_for_cadence(self) -> bool:
        return self is JobSource.WEBHOOKS


class Outcome(StrEnum):
    """How a job ended."""

    PROMOTED = "promoted"  # trained, and its version serves
    REJECTED = "rejected"  # trained, and scored worse than the version served
    RESCORED = "rescored"  # re-scoring stored the served version's predictions
    CANCELLED = "cancelled"  # re-scoring stopped: a newer version, or a due training job
    FAILED = "failed"


JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
_JOB_ID = re.compile(JOB_ID_PATTERN)
JOBS_DIR = ".jobs"


def latest_stem(kind: JobKind) -> str:
    """What names the newest job of a kind: "latest" (training), "latest-rescore"."""
    return "latest" if kind == JobKind.TRAIN else f"latest-{JobKind(kind)}"


def latest_name(kind: JobKind) -> str:
    """The file naming the newest job of a kind: latest.json, latest-rescore.json."""
    return f"{latest_stem(kind)}.json"


def new_job_id() -> str:
    return uuid.uuid4().hex


def check_job_id(value: object) -> str:
    if not isinstance(value, str) or not _JOB_ID.fullmatch(value):
        raise InvalidField("job_id", f"{value!r} is not a job id (32 hex digits)")
    return value


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    project: str
    state: JobState
    source: JobSource = JobSource.WEBHOOKS
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    version: str | None = None
    error: str | None = None
    kind: JobKind = JobKind.TRAIN
    outcome: Outcome | None = None  # once it has ended
    metrics: dict[str, Any] | None = None  # {"primary", "score", "n_train", "n_eval"}
    progress: dict[str, Any] | None = None  # {"fraction", "message", "at"} while it runs

    def __post_init__(self) -> None:
        # Plain strings (from JSON, or from a caller) become the enums they name.
        object.__setattr__(self, "state", JobState(self.state))
        object.__setattr__(self, "source", JobSource(self.source))
        object.__setattr__(self, "kind", JobKind(self.kind))
        if self.outcome is not None:
            object.__setattr__(self, "outcome", Outcome(self.outcome))

    def to_dict(self) -> dict[str, Any]:
        return {k: v.value if isinstance(v, Enum) else v for k, v in asdict(self).items()}

    def ended_as(self, state: JobState, outcome: Outcome, **changes: Any) -> JobRecord:
        """The record of the job once it has ended (progress cleared)."""
        return replace(self, state=state, outcome=outcome, ended=time.time(), progress=None,
                       **changes)

    def update(self, **changes: Any) -> JobRecord:
        return replace(self, **changes)

    def seconds(self) -> float:
        """How long it ran (or has run, or waited, so far)."""
        return (self.ended or time.time()) - (self.started or self.created)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        """Records written by older or newer labelloops load too (unknown keys dropped)."""
        return cls(**{k: v for k, v in data.items() if k in _FIELDS})


_FIELDS = {f.name for f in fields(JobRecord)}


class JobStore(Protocol):
    def put(self, record: JobRecord) -> None: ...
    def get(self, job_id: str) -> JobRecord: ...
    def latest(self, project: str, kind: JobKind = JobKind.TRAIN) -> JobRecord | None: ...
    def records(self, project: str) -> list[JobRecord]: ...
    def delete(self, project: str, job_ids: list[str]) -> None: ...


class FileJobStore:
    """``<model_dir>/<project>/.jobs/<job_id>.json``; ``latest.json`` names the newest."""

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = model_dir

    @disk_guarded
    def put(self, record: JobRecord) -> None:
        folder = self.model_dir / record.project / JOBS_DIR
        write_json_atomic(folder / f"{record.job_id}.json", record.to_dict(), durable=False)
        if record.state is not JobState.QUEUED:  # latest.json tracks the job that runs or ran last
            write_json_atomic(folder / latest_name(record.kind), record.to_dict(),
                              durable=False)

    def get(self, job_id: str) -> JobRecord:
        check_job_id(job_id)
        for path in self.model_dir.glob(f"*/{JOBS_DIR}/{job_id}.json"):
            data = read_json(path)
            if data:
                return JobRecord.from_dict(data)
        raise NotFound(f"no training job {job_id}")

    def latest(self, project: str, kind: JobKind = JobKind.TRAIN) -> JobRecord | None:
        data = read_json(self.model_dir / project / JOBS_DIR / latest_name(kind))
        return JobRecord.from_dict(data) if data else None

    def records(self, project: str) -> list[JobRecord]:
        """Every job record of the project, oldest first."""
        found = []
        for path in (self.model_dir / project / JOBS_DIR).glob("*.json"):
            if _JOB_ID.fullmatch(path.stem):
                data = read_json(path)
                if data:
                    found.append(JobRecord.from_dict(data))
        return sorted(found, key=lambda r: r.created)

    @disk_guarded
    def delete(self, project: str, job_ids: list[str]) -> None:
        for job_id in job_ids:
            with contextlib.suppress(FileNotFoundError):
                (self.model_dir / project / JOBS_DIR / f"{check_job_id(job_id)}.json").unlink()
