"""Training-job records: queued -> running -> finished | failed."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Protocol

from labelloop.errors import InvalidField, NotFound
from labelloop.store.atomic import disk_guarded, read_json, write_json_atomic

JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
_JOB_ID = re.compile(JOB_ID_PATTERN)
JOBS_DIR = ".jobs"


def latest_stem(kind: str) -> str:
    """What names the newest job of a kind: "latest" (training), "latest-rescore"."""
    return "latest" if kind == "train" else f"latest-{kind}"


def latest_name(kind: str) -> str:
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
    state: str  # "queued" | "running" | "finished" | "failed"
    source: str = "webhooks"  # where the training set comes from: "webhooks" | "label_studio"
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    version: str | None = None
    error: str | None = None
    kind: str = "train"  # "train" | "rescore" (re-scoring Label Studio's tasks)
    outcome: str | None = None  # "promoted" | "rejected" | "failed" once it has ended
    metrics: dict[str, Any] | None = None  # {"primary", "score", "n_train", "n_eval"}
    progress: dict[str, Any] | None = None  # {"fraction", "message", "at"} while it runs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
    def latest(self, project: str, kind: str = "train") -> JobRecord | None: ...
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
        if record.state != "queued":  # latest.json tracks the job that runs or ran last
            write_json_atomic(folder / latest_name(record.kind), record.to_dict(),
                              durable=False)

    def get(self, job_id: str) -> JobRecord:
        check_job_id(job_id)
        for path in self.model_dir.glob(f"*/{JOBS_DIR}/{job_id}.json"):
            data = read_json(path)
            if data:
                return JobRecord.from_dict(data)
        raise NotFound(f"no training job {job_id}")

    def latest(self, project: str, kind: str = "train") -> JobRecord | None:
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
