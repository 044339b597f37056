"""Load a backend's model class, whatever generation of the API the script was written for.

The generation is decided once, here, from what the script's class subclasses (after
import): :class:`labelloop.sdk.LabelStudioModel` (native), ``label_studio.ml``'s
``LabelStudioMLBase`` (Label Studio 0.8/0.9), or ``label_studio_ml.model``'s (label-studio-ml
1.0.x, or label-studio-ml-backend 2.x: a real installation says which by its version; with
labelloop's stand-in, ``fit(self, event, data)`` says 2.x). Foreign classes are wrapped by
:mod:`labelloop.compat.adapters`.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

from labelloop.compat import base_gen1, base_ml
from labelloop.compat.adapters import adapt
from labelloop.compat.standins import install
from labelloop.errors import ScriptError
from labelloop.sdk.model import LabelStudioModel
from labelloop.sdk.script import find_model_script, import_script, pick_class

BACKEND_FILE = "labelloop.json"  # {"script": "model.py", "model_class": "MyModel"}
GENERATIONS = {
    "native": "labelloop (labelloop.sdk.LabelStudioModel)",
    "gen1": base_gen1.GENERATION,
    "gen2": base_ml.GENERATION_2,
    "gen3": base_ml.GENERATION_3,
}
_BASE_MODULES = ("label_studio.ml", "label_studio.ml.model", "label_studio_ml.model")


def generation_title(model_class: type) -> str:
    """Which API a loaded model class was written for, in words; for a foreign class, also
    whether its base class came from a real installation or from labelloop's stand-in."""
    generation = getattr(model_class, "generation", "native")
    title = GENERATIONS[generation]
    foreign = getattr(model_class, "foreign", None)
    if foreign is None:
        return title
    base = next(b for b in foreign.__mro__ if b.__name__ == "LabelStudioMLBase")
    if base.__module__.startswith("labelloop."):
        return f"{title}, labelloop's stand-in"
    package = sys.modules.get(base.__module__.split(".")[0])
    return f"{title}, installed {getattr(package, '__version__', '')}".rstrip()


def foreign_bases() -> tuple[type, ...]:
    """The ``LabelStudioMLBase`` classes imported so far, real or stand-in."""
    found: list[type] = []
    for name in _BASE_MODULES:
        base = getattr(sys.modules.get(name), "LabelStudioMLBase", None)
        if inspect.isclass(base) and base not in found:
            found.append(base)
    return tuple(found)


def load_model_class(script: Path, class_name: str | None = None) -> type[LabelStudioModel]:
    """The script's model class as a :class:`LabelStudioModel` (adapted if foreign)."""
    install()
    module = import_script(script)
    cls = pick_class(module, script, (LabelStudioModel, *foreign_bases()), class_name)
    if issubclass(cls, LabelStudioModel):
        return cls
    generation = generation_of(cls)
    check_supported(cls, generation)
    return adapt(cls, generation, script)


def as_model_class(cls: type) -> type[LabelStudioModel]:
    """A class the caller imported itself (``init_app(model_class=...)``) as a
    :class:`LabelStudioModel`: native ones as they are, foreign ones adapted, with the
    generation recognised as for a loaded script. A foreign class is hosted as handed
    over, so what its caller set on it holds until the first trained version."""
    install()
    if issubclass(cls, LabelStudioModel):
        return cls
    if not issubclass(cls, foreign_bases()):
        raise ScriptError(f"{cls.__name__} is neither a labelloop.sdk.LabelStudioModel nor "
                          "a LabelStudioMLBase subclass")
    try:
        script = Path(inspect.getfile(cls))
    except (TypeError, OSError) as exc:
        raise ScriptError(f"{cls.__name__} must be defined in a script file") from exc
    generation = generation_of(cls)
    check_supported(cls, generation)
    return adapt(cls, generation, script, handed_over=True)


def load_backend_class(backend_dir: Path, class_name: str | None = None
                       ) -> type[LabelStudioModel]:
    """The model class of a backend folder (made by ``labelloop init``)."""
    script, named = backend_script(backend_dir)
    return load_model_class(script, class_name or named)


def backend_script(backend_dir: Path) -> tuple[Path, str | None]:
    """(script, class name) from the folder's ``labelloop.json``, else its one script."""
    path = Path(backend_dir) / BACKEND_FILE
    if path.is_file():
        try:
            config = json.loads(path.read_text())
            return Path(backend_dir) / str(config["script"]), config.get("model_class")
        except (ValueError, KeyError, TypeError) as exc:
            raise ScriptError(f"{path} is not valid: {exc}") from exc
    return find_model_script(backend_dir), None


def generation_of(cls: type) -> str:
    """"gen1", "gen2" or "gen3" for a foreign model class."""
    for base in cls.__mro__[1:]:
        if base.__name__ != "LabelStudioMLBase":
            continue
        if base is base_gen1.LabelStudioMLBase or base.__module__.startswith("label_studio.ml"):
            return "gen1"
        if base is base_ml.LabelStudioMLBase:
            return _guess_ml_generation(cls)
        if base.__module__.startswith("label_studio_ml"):  # a real installation
            version = str(getattr(sys.modules.get("label_studio_ml"), "__version__", "1"))
            major = re.match(r"\d+", version)
            return "gen3" if major and int(major.group()) >= 2 else "gen2"
    raise ScriptError(f"{cls.__name__}: unknown LabelStudioMLBase")


def _guess_ml_generation(cls: Any) -> str:
    """label-studio-ml 1.0.x or 2.x, for a class built on labelloop's stand-in."""
    base = base_ml.LabelStudioMLBase
    if cls.fit is not base.fit:
        params = list(inspect.signature(cls.fit).parameters)[1:]
        return "gen3" if params[:1] == ["event"] else "gen2"
    if cls.setup is not base.setup or "context" in inspect.signature(cls.predict).parameters:
        return "gen3"
    return "gen2" if cls.__init__ is not base.__init__ else "gen3"


def check_supported(cls: type, generation: str) -> None:
    """Fail at start-up, naming the member and the generation, for what labelloop does not
    provide (rather than at the first request)."""
    title = GENERATIONS[generation]
    if generation in ("gen1", "gen2") and _inherits(cls, "predict"):
        raise ScriptError(f"{cls.__name__} does not implement predict(), which "
                          f"LabelStudioMLBase of {title} requires")
    if (generation == "gen3" and _source_mentions(cls, "label_interface")
            and importlib.util.find_spec("label_studio_sdk") is None):
        raise ScriptError(f"{cls.__name__} uses LabelStudioMLBase.label_interface ({title}), "
                          f"which needs label-studio-sdk: {base_ml.SDK_EXTRA}")


def _inherits(cls: type, name: str) -> bool:
    """True when no class of the script defines ``name``: only a LabelStudioMLBase does."""
    owner = next((k for k in cls.__mro__ if name in k.__dict__), None)
    return owner is None or owner.__name__ == "LabelStudioMLBase"


def _source_mentions(cls: type, word: str) -> bool:
    try:
        source: Any = inspect.getsource(sys.modules[cls.__module__])
    except (OSError, TypeError, KeyError):
        return False
    return re.search(rf"\b{word}\b", source) is not None
