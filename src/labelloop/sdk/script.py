"""Find the model class in a model author's script."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

from labelloop.errors import ScriptError
from labelloop.sdk.model import LabelStudioModel


def script_module_name(script: Path) -> str:
    """A stable unique module name, so pickles made by one process load in another."""
    digest = hashlib.sha1(str(Path(script).resolve()).encode()).hexdigest()[:12]  # noqa: S324
    return f"labelloop_model_{digest}"


def import_script(script: Path, name: str | None = None) -> ModuleType:
    """Import ``script`` once (under ``name``); errors become :class:`ScriptError`."""
    script = Path(script)
    if not script.is_file():
        raise ScriptError(f"model script {script} does not exist")
    name = name or script_module_name(script)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, script)
    if spec is None or spec.loader is None:
        raise ScriptError(f"cannot import {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ScriptError(f"importing {script} failed: {type(exc).__name__}: {exc}"
                          f"{import_hint(exc)}") from exc
    return module


def import_hint(exc: BaseException) -> str:
    """What to install when an import failed for a package labelloop knows of."""
    missing = getattr(exc, "name", None) or ""
    if missing.split(".")[0] == "label_studio_sdk":
        return " (install the optional extra: pip install 'labelloop[sdk]')"
    return ""


def load_model_class(script: Path, class_name: str | None = None) -> type[LabelStudioModel]:
    """Import ``script`` and return the one :class:`LabelStudioModel` subclass it defines.

    Raises :class:`ScriptError` naming the problem: unreadable, failing import, no model
    class, or several (name one: ``class_name``, or ``MODEL_CLASS = "Name"`` in the script).
    """
    module = import_script(script)
    cls = pick_class(module, script, (LabelStudioModel,), class_name)
    assert issubclass(cls, LabelStudioModel)
    return cls


def pick_class(module: ModuleType, script: Path, bases: tuple[type, ...],
               class_name: str | None = None) -> type:
    """The one class defined in ``module`` that subclasses one of ``bases``."""
    wanted = class_name or module.__dict__.get("MODEL_CLASS")
    found = [
        obj for obj in module.__dict__.values()
        if inspect.isclass(obj) and issubclass(obj, bases) and obj not in bases
        and obj.__module__ == module.__name__
    ]
    if isinstance(wanted, str):
        found = [c for c in found if c.__name__ == wanted]
        if not found:
            raise ScriptError(f"{script}: no model class named {wanted!r}")
    if not found:
        raise ScriptError(
            f"{script} defines no model class: subclass labelloop.sdk.LabelStudioModel")
    if len(found) > 1:
        names = ", ".join(sorted(c.__name__ for c in found))
        raise ScriptError(f"{script} defines several model classes ({names}); "
                          f"pick one: --script {Path(script).name}:Name, or "
                          "MODEL_CLASS = \"Name\" in the script")
    return found[0]


WSGI_NAME = "_wsgi.py"


def is_test_module(path: Path) -> bool:
    """pytest's file names (``test_*.py``, ``*_test.py``, ``conftest.py``): the backends
    of label-studio-ml-backend ship a ``test_api.py`` beside the model script.

    >>> [is_test_module(Path(n)) for n in ("test_api.py", "model.py", "conftest.py")]
    [True, False, True]
    """
    return (path.name.startswith("test_") or path.stem.endswith("_test")
            or path.name == "conftest.py")


def find_model_script(backend_dir: Path) -> Path:
    """The model script of a backend folder: its one ``*.py`` besides ``_wsgi.py`` and
    test modules."""
    backend_dir = Path(backend_dir)
    if not backend_dir.is_dir():
        raise ScriptError(f"backend folder {backend_dir} does not exist "
                          "(create it with: labelloop init DIR --script FILE)")
    scripts = sorted(p for p in backend_dir.glob("*.py")
                     if p.name != WSGI_NAME and not is_test_module(p))
    if len(scripts) != 1:
        found = ", ".join(p.name for p in scripts) or "none"
        raise ScriptError(f"{backend_dir} must hold exactly one model script besides "
                          f"{WSGI_NAME} and tests; found: {found}")
    return scripts[0]
