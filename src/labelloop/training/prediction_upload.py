"""Storing a version's predictions in Label Studio, least certain first, and switching the
project to that version as soon as the least certain are there.

Label Studio's uncertainty sampling only serves tasks that hold a prediction of the
project's selected version (the lowest score first), and falls back to random ones when
none is left. So the ``rescore_first`` least certain predictions (1,000 by default) go in
one call, then the project switches: from then on Label Studio serves exactly the tasks the
new version is least sure of. 1,000 outlast the wait for the next batch or the next version
many times over: at 10 annotations a second that is 100 s, and a batch lands every 1 to
15 s (measured, ``bench/ls_import_cost.py``). The rest follows in batches while this
version still serves; a newer version stops it (what was stored is a correct prefix).

Batch size: Label Studio as shipped recounts the whole project on every import call (6 s
at 100,000 tasks), so calls are few and big (10,000); with its memory-efficient import
flag there is no such fixed cost and 2,000 a call keeps each call short. labelloop cannot
read the flag: the first call's time tells (under 3 s for 1,000 predictions: the flag).

Annotators come first: each call holds Label Studio's database write lock, and an
annotation submitted meanwhile waits for it (at 20,000 tasks, storing every version whole
halved the annotations Label Studio took a second: bench/al_freshness.py). So after each
call for the rest, and each deletion, the job waits until that call's time is only
``rescore_share`` (a quarter) of the time spent since: Label Studio is the annotators'
three quarters of the time. The first batch does not wait: it is what keeps the order fresh.

Old versions' predictions are deleted when a version has been stored whole, within a
time budget: Label Studio deletes about 50 a second while holding its database's write
lock, so big versions are left (and named in the log) rather than stall annotators.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from labelloop.errors import LabelStudioError
from labelloop.sdk.label_studio import LabelStudioClient
from labelloop.settings import Settings
from labelloop.training.pool_scores import PoolScores
from labelloop.training.task_pool import TaskPool

log = logging.getLogger("labelloop.training")
UNCERTAINTY_SAMPLING = "Uncertainty sampling"
STOCK_BATCH, FLAGGED_BATCH = 10_000, 2_000
FLAG_PROBE_S = 3.0  # a first call of 500+ predictions faster than this: the flag is set
DELETE_S_PER_PREDICTION = 0.02  # Label Studio 1.23.2, measured at 100,000 tasks


@dataclass(frozen=True)
class Target:
    """Where the predictions go, and which version makes them."""

    project: str
    url: str
    key: str
    version: str
    model_version: str


class Upload:
    """One version's predictions on their way into Label Studio."""

    def __init__(self, ls: LabelStudioClient, target: Target, pool: TaskPool,
                 scores: PoolScores, spool: IO[bytes], settings: Settings) -> None:
        self.ls, self.target, self.pool = ls, target, pool
        self.scores, self.spool, self.settings = scores, spool, settings
        already = pool.stored(target.model_version)
        self.order = [i for i in scores.order() if scores.task_ids[i] not in already]
        self.before = len(already)  # stored by an earlier job (or step) of this version
        self.stored = 0
        self.sent = 0  # positions of ``order`` sent so far

    @property
    def total(self) -> int:
        return self.before + len(self.order)

    def first(self, switch: bool) -> float:
        """Store the least certain; point the project at this version (``switch``).
        Returns how long the call took."""
        started = time.monotonic()
        self._post(self.order[:self.settings.rescore_first])
        self.sent = min(len(self.order), self.settings.rescore_first)
        took = time.monotonic() - started
        if switch:
            self._switch()
        return took

    def rest(self, first_took: float, check: Callable[[], None],
             progress: Callable[[int], None]) -> None:
        """The others, a batch at a time, giving way to annotators between them (and
        after ``first_took``, when the first call was another upload's); ``check`` runs
        before each and while waiting (it raises to stop)."""
        size = self.settings.rescore_batch or self._batch_size(first_took)
        took = first_took
        todo = self.order[self.sent:]
        for start in range(0, len(todo), size):
            if start or not self.sent:
                give_way(took, self.settings.rescore_share, check)
            check()
            began = time.monotonic()
            self._post(todo[start:start + size])
            took = time.monotonic() - began
            progress(self.before + self.stored)

    def _batch_size(self, first_took: float) -> int:
        probed = min(len(self.order), self.settings.rescore_first) >= 500
        return FLAGGED_BATCH if probed and first_took < FLAG_PROBE_S else STOCK_BATCH

    def _post(self, positions: list[int]) -> None:
        if not positions:
            return
        batch = [self._item(i) for i in positions]
        try:
            self.stored += self.ls.import_predictions(self.target.project, batch)
        except LabelStudioError as exc:
            # Refused (e.g. tasks deleted in Label Studio): list the pool afresh. Timed out
            # or unreachable: keep it, listing 100,000 tasks again costs minutes.
            if exc.refused:
                self.pool.forget()
            raise
        self.pool.note_stored(self.target.model_version,
                              [self.scores.task_ids[i] for i in positions])

    def _item(self, i: int) -> dict[str, Any]:
        """The prediction as Label Studio stores it, with the model's own confidence as its
        score (no ``cluster``: the bulk import drops it, and it would reorder sampling)."""
        return {"task": self.scores.task_ids[i], "model_version": self.target.model_version,
                "score": round(self.scores.confidences[i], 6),
                "result": self.scores.prediction(self.spool, i)["result"]}

    def _switch(self) -> None:
        """Label Studio refuses a version it holds no prediction of: fine when nothing was
        left to score; an error when predictions were just stored."""
        try:
            self.ls.update_project(self.target.project, model_version=self.target.model_version,
                                   sampling=UNCERTAINTY_SAMPLING)
        except LabelStudioError:
            if self.before + self.stored:
                raise
            log.info("project %s: no prediction of %s to sample from", self.target.project,
                     self.target.model_version)


def give_way(took: float, share: float, check: Callable[[], None]) -> None:
    """Wait until a call that took ``took`` seconds is ``share`` of the time since it began,
    running ``check`` every half second (a newer version must not wait for us)."""
    until = time.monotonic() + took * (1.0 - share) / share
    while (left := until - time.monotonic()) > 0:
        check()
        time.sleep(min(left, 0.5))


def clean_old_versions(ls: LabelStudioClient, target: Target, model_class: str, keep: int,
                       budget_s: float, share: float = 1.0,
                       check: Callable[[], None] = lambda: None) -> list[str]:
    """Delete the predictions of this backend's versions beyond the newest ``keep`` (never
    the one served, nor the project's selected one, nor anyone else's), smallest first,
    as long as Label Studio should take less than ``budget_s`` in all, giving way to
    annotators (``share``) between deletions. Returns the versions deleted."""
    ours = re.compile(rf"{re.escape(model_class)}-(\d+)")
    counts = ls.model_versions(target.project)
    selected = str(ls.call("GET", f"api/projects/{int(target.project)}/").get("model_version"))
    mine = sorted((v for v in counts if ours.fullmatch(v)),
                  key=lambda v: int(v.rsplit("-", 1)[1]), reverse=True)
    old = [v for v in mine[max(keep, 1):] if v not in (selected, target.model_version)]
    deleted: list[str] = []
    spent = took = 0.0
    for version in sorted(old, key=lambda v: counts[v]):
        cost = counts[version] * DELETE_S_PER_PREDICTION
        if spent + cost > budget_s:
            log.info("project %s: left the %d predictions of %s (about %.0f s of Label "
                     "Studio's time to delete)", target.project, counts[version], version, cost)
            continue
        if deleted:
            give_way(took, share, check)
        began = time.monotonic()
        ls.delete_model_version(target.project, version)
        took = time.monotonic() - began
        spent += cost
        deleted.append(version)
    return deleted
