"""Whether a small /predict may run on the event loop rather than in the thread pool.

A thread hop costs about as much as the whole of a fast model's one-task answer, so
handing every request to a thread would double the latency Label Studio sees when an
annotator opens a task. But a slow model on the event loop would stall every other
request (``/health`` must answer within a second): a batch runs inline only while the
model's recent small batches stayed fast.

>>> pace = Pace()
>>> pace.inline(1)  # nothing measured yet: play safe
False
>>> pace.observe(1, 0.0004); pace.inline(1), pace.inline(500)
(True, False)
>>> pace.observe(1, 0.05); pace.inline(1)
False
"""

from __future__ import annotations

from dataclasses import dataclass

SMALL_BATCH = 8  # tasks
FAST_S = 0.002  # a small batch that answered within this may run inline next time


@dataclass
class Pace:
    last_small_s: float | None = None

    def inline(self, tasks: int) -> bool:
        return (tasks <= SMALL_BATCH and self.last_small_s is not None
                and self.last_small_s < FAST_S)

    def observe(self, tasks: int, seconds: float) -> None:
        if tasks <= SMALL_BATCH:
            self.last_small_s = seconds
