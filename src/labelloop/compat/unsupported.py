"""Members of the old APIs that labelloop does not provide, and what to do instead.

A stand-in module's ``__getattr__`` raises :class:`ScriptError` for them, so a script that
imports one fails when it is loaded (at start-up), with a message naming the member and
the generation, instead of an ``ImportError`` that looks like a broken installation.

>>> getter = module_getattr("label_studio_ml.api", "label-studio-ml")
>>> getter("_server")  # doctest: +ELLIPSIS
Traceback (most recent call last):
labelloop.errors.ScriptError: label_studio_ml.api._server (label-studio-ml) is not provided...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

from labelloop.errors import ScriptError

SERVES_ITSELF = "labelloop serves the model itself (labelloop start DIR)"
RUNS_JOBS = "labelloop runs training jobs itself (in a local runner, or an RQ worker)"
REASONS = {
    "_server": SERVES_ITSELF, "MODEL_CLASS": SERVES_ITSELF,
    "LabelStudioMLManager": RUNS_JOBS, "ModelWrapper": RUNS_JOBS, "JobManager": RUNS_JOBS,
    "SimpleJobManager": RUNS_JOBS, "RQJobManager": RUNS_JOBS,
    "CACHE": "state lives in labelloop's stores: use self.get()/self.set()",
    "create_cache": "state lives in labelloop's stores: use self.get()/self.set()",
}


def module_getattr(module: str, generation: str) -> Callable[[str], NoReturn]:
    def __getattr__(name: str) -> NoReturn:  # noqa: N807 - a module's __getattr__
        if name in REASONS:
            raise ScriptError(f"{module}.{name} ({generation}) is not provided by labelloop: "
                              f"{REASONS[name]}")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
