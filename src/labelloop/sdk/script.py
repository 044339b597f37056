"""Find the model class in a model author's script."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path

from labelloop.errors import ScriptError
from labelloop.sdk.model import LabelStudioModel


def load_model_class(script: Path) -> type[LabelStudioModel]:
    """Import ``script`` and return the one :class:`LabelStudioModel` subclass it defines.

    Raises :class:`ScriptError` naming the problem: unreadable, failing import, no model
    class, or several (set ``MODEL_CLASS = "Name"`` in the script to pick one).
    """
    script = Path(script)
    if not script.is_file():
        raise ScriptError(f"model script {script} does not exist")
    # A stable unique module name, so pickles made by one process load in another.
    name = "labelloop_model_" + hashlib.sha1(str(script.resolve()).encode()).hexdigest()[:12]  # noqa: S324
    if name in sys.modules:
        module = sys.modules[name]
    else:
        spec = importlib.util.spec_from_file_location(name, script)
        if spec is None or spec.loader is None:
            raise ScriptError(f"cannot import {script}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[name]
            raise ScriptError(f"importing {script} failed: {type(exc).__name__}: {exc}") from exc
    return _pick_class(module.__dict__, script, name)


def _pick_class(namespace: dict[str, object], script: Path,
                module_name: str) -> type[LabelStudioModel]:
    wanted = namespace.get("MODEL_CLASS")
    found = [
        obj for obj in namespace.values()
        if inspect.isclass(obj) and issubclass(obj, LabelStudioModel)
        and obj is not LabelStudioModel and obj.__module__ == module_name
    ]
    if isinstance(wanted, str):
        found = [c for c in found if c.__name__ == wanted]
        if not found:
            raise ScriptError(f"{script}: MODEL_CLASS = {wanted!r}, but no such model class")
    if not found:
        raise ScriptError(
            f"{script} defines no model class: subclass labelloop.sdk.LabelStudioModel")
    if len(found) > 1:
        names = ", ".join(sorted(c.__name__ for c in found))
        raise ScriptError(f"{script} defines several model classes ({names}); "
                          "set MODEL_CLASS = \"Name\" in the script to pick one")
    return found[0]


WSGI_NAME = "_wsgi.py"


def find_model_script(backend_dir: Path) -> Path:
    """The model script of a backend folder: its one ``*.py`` besides ``_wsgi.py``."""
    backend_dir = Path(backend_dir)
    if not backend_dir.is_dir():
        raise ScriptError(f"backend folder {backend_dir} does not exist "
                          "(create it with: labelloop init DIR --script FILE)")
    scripts = sorted(p for p in backend_dir.glob("*.py") if p.name != WSGI_NAME)
    if len(scripts) != 1:
        found = ", ".join(p.name for p in scripts) or "none"
        raise ScriptError(f"{backend_dir} must hold exactly one model script besides "
                          f"{WSGI_NAME}; found: {found}")
    return scripts[0]
