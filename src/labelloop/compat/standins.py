"""Stand-in modules for scripts of older generations, supplied only when the real ones are
not installed.

:func:`install` appends a finder to the END of ``sys.meta_path``: the normal import
machinery looks first, so a real ``label_studio_ml`` (or ``label_studio.ml``) always wins,
and the stand-ins in ``labelloop/compat/shims/`` fill in only what is missing.

>>> install()
>>> import label_studio_ml.model as m  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

SHIMS = Path(__file__).resolve().parent / "shims"
ROOTS = frozenset({"label_studio", "label_studio_ml", "label_studio_tools"})


class StandinFinder(importlib.abc.MetaPathFinder):
    """Finds ``label_studio.ml``, ``label_studio_ml.*``... in :data:`SHIMS`."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        parts = fullname.split(".")
        if parts[0] not in ROOTS:
            return None
        location = SHIMS.joinpath(*parts)
        if (location / "__init__.py").is_file():
            return importlib.util.spec_from_file_location(
                fullname, location / "__init__.py", submodule_search_locations=[str(location)])
        if location.with_suffix(".py").is_file():
            return importlib.util.spec_from_file_location(fullname, location.with_suffix(".py"))
        return None


def install() -> None:
    """Idempotent; called before a model script is imported."""
    if not any(isinstance(f, StandinFinder) for f in sys.meta_path):
        sys.meta_path.append(StandinFinder())


def is_standin(module_name: str) -> bool:
    """Whether the module of that name was loaded from labelloop's stand-ins."""
    module = sys.modules.get(module_name)
    origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
    return origin.startswith(str(SHIMS))
