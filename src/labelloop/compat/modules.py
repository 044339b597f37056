"""One import of a generation-3 script per version folder.

Such scripts read ``MODEL_DIR`` when they are imported and keep models in module globals
(the official examples cache ``_model``): importing the script afresh for each version,
with ``MODEL_DIR`` set to that version's folder, keeps versions apart in one process.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

from labelloop.compat.hosting import environ
from labelloop.sdk.script import import_script, script_module_name


def version_module(script: Path, model_dir: Path, env: dict[str, str]) -> ModuleType:
    """The script imported with ``env`` (``MODEL_DIR`` = ``model_dir``); once per folder."""
    digest = hashlib.sha1(str(Path(model_dir).resolve()).encode()).hexdigest()[:10]  # noqa: S324
    name = f"{script_module_name(script)}_{digest}"
    with environ(env):  # also serialises imports: none is seen half-done
        return import_script(script, name)
