"""Which versions to keep, and pruning the rest (folders, job records, Redis entries).

Kept, always: the served version, pinned versions, versions whose job is still running
(no ``job_result.json`` yet), the newest ``keep_ok`` ok versions, and failed or rejected
versions younger than ``keep_failed_s``. Pruning never touches the training set: every
annotation a pruned version trained on is still in it (or was deleted in Label Studio).

>>> from pathlib import Path
>>> def v(name, status, **kw): return VersionInfo("p", name, Path(name), status, {}, **kw)
>>> history = [v("100", "ok"), v("200", "ok", current=True), v("300", "error"),
...            v("400", "ok"), v("500", "ok"), v("600", "incomplete")]
>>> keep, drop = plan(history, RetentionPolicy(keep_ok=1, keep_failed_s=50), now=700)
>>> [i.version for i in drop]
['100', '300', '400']
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from labelloop.settings import Settings
from labelloop.store.jobs import JobStore
from labelloop.store.versions import VersionInfo, VersionStatus, VersionStore


@dataclass(frozen=True)
class RetentionPolicy:
    keep_ok: int = 5
    keep_failed_s: float = 24 * 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        """The deployment's policy (LABELLOOP_KEEP_VERSIONS, LABELLOOP_KEEP_FAILED_HOURS)."""
        return cls(settings.keep_versions, settings.keep_failed_hours * 3600)


def plan(history: list[VersionInfo], policy: RetentionPolicy,
         now: float | None = None) -> tuple[list[VersionInfo], list[VersionInfo]]:
    """Split ``history`` (oldest first, ``current``/``pinned`` marked) into (keep, remove)."""
    now = time.time() if now is None else now
    newest_ok = {i.version for i in [i for i in history if i.status is VersionStatus.OK][::-1][
        :max(policy.keep_ok, 0)]}
    keep, remove = [], []
    for info in history:
        recent_failure = info.status.failed and now - info.created < policy.keep_failed_s
        if (info.current or info.pinned or info.status is VersionStatus.INCOMPLETE
                or info.version in newest_ok or recent_failure):
            keep.append(info)
        else:
            remove.append(info)
    return keep, remove


@dataclass(frozen=True)
class PruneResult:
    project: str
    kept: list[str]
    removed: list[str]
    jobs_removed: int


def prune(versions: VersionStore, jobs: JobStore, project: str, policy: RetentionPolicy,
          dry_run: bool = False, now: float | None = None) -> PruneResult:
    """Remove what :func:`plan` does not keep, under the project's versions lock, so that
    no rollback or promotion can switch to a version while it is being removed."""
    with versions.lock(project):
        keep, remove = plan(versions.history(project), policy, now)
        gone = {i.version for i in remove}
        stale_jobs = _stale_jobs(jobs, project, gone, policy, now)
        if not dry_run:
            for info in remove:
                versions.remove(project, info.version)
            jobs.delete(project, stale_jobs)
    return PruneResult(project, [i.version for i in keep], sorted(gone, key=int),
                       len(stale_jobs))


def _stale_jobs(jobs: JobStore, project: str, gone: set[str], policy: RetentionPolicy,
                now: float | None) -> list[str]:
    """Records of removed versions, and old records of jobs that made no version."""
    now = time.time() if now is None else now
    records = [r for r in jobs.records(project) if r.state.ended]
    newest = records[-1].job_id if records else None
    return [r.job_id for r in records if r.job_id != newest and (
        r.version in gone or (r.version is None and now - (r.ended or r.created)
                              > policy.keep_failed_s))]
