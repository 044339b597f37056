"""Whether a newly trained version may serve.

``always`` serves every version that trained. ``if_not_worse`` serves a candidate unless
the version now served, scored on the same held-out tasks, beats it by more than the
tolerance. Where there is nothing to compare (no version served, too few held-out tasks,
or the served version kept no evaluation model), the candidate serves and the reason
says why.

>>> decide("if_not_worse", 0.02, 20, candidate=0.80, current=0.85, n_eval=100).promote
False
>>> decide("if_not_worse", 0.02, 20, candidate=0.84, current=0.85, n_eval=100).promote
True
>>> decide("if_not_worse", 0.02, 20, candidate=0.5, current=0.9, n_eval=10).reason
'not judged: 10 held-out tasks, fewer than 20'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    policy: str
    candidate: float | None = None
    current: float | None = None
    current_version: str | None = None
    tolerance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(policy: str, tolerance: float, min_eval: int, candidate: float | None,
           current: float | None, n_eval: int, current_version: str | None = None,
           why_no_current: str = "no served version to compare with") -> Decision:
    # Scores as job_result.json records them (4 digits), so what is compared is what is shown.
    candidate = round(candidate, 4) if candidate is not None else None
    current = round(current, 4) if current is not None else None

    def made(promote: bool, reason: str) -> Decision:
        return Decision(promote, reason, policy, candidate, current, current_version, tolerance)

    if policy == "always":
        return made(True, "policy is always")
    if candidate is None:
        return made(True, "not judged: the version was not evaluated")
    if n_eval < min_eval:
        return made(True, f"not judged: {n_eval} held-out tasks, fewer than {min_eval}")
    if current is None:
        return made(True, f"not judged: {why_no_current}")
    if candidate >= current - tolerance:
        return made(True, f"not worse: {candidate:.4f} >= {current:.4f} - {tolerance}")
    return made(False, f"worse: {candidate:.4f} < {current:.4f} - {tolerance} "
                       f"(the served version, on the same {n_eval} held-out tasks)")
