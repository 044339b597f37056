"""The helper functions older model scripts import from ``*.utils``.

One implementation serves the three generations' modules (``label_studio.ml.utils``,
``label_studio_ml.utils``, ``label_studio.utils.io``). They differ in one place: Label
Studio 0.x keeps annotations under ``completions``, later versions under ``annotations``.
:func:`is_skipped` and :func:`get_choice` take the key as a parameter, and the
``*_completions`` variants are the Label Studio 0.x spellings.

>>> cfg = {"sentiment": {"type": "Choices", "to_name": ["text"],
...        "inputs": [{"type": "Text", "value": "review"}], "labels": ["P", "N"]}}
>>> get_single_tag_keys(cfg, "Choices", "Text")
('sentiment', 'text', 'review', ['P', 'N'])
>>> task = {"annotations": [{"result": [{"value": {"choices": ["P"]}}]}]}
>>> get_choice(task), is_skipped(task)
('P', False)
>>> match_labels("positive\\nnegatve", ["Positive", "Negative"])
['Positive', 'Negative']
"""

from __future__ import annotations

import difflib
import importlib
import json
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from labelloop.compat.local_files import CLOUD_SCHEMES, get_env, get_local_path

DATA_UNDEFINED_NAME = "$undefined$"
ANNOTATIONS = "annotations"  # label-studio-ml 1.0.x and 2.x
COMPLETIONS = "completions"  # Label Studio 0.8/0.9

# EXIF orientations that rotate the picture by 90° or 270°, i.e. swap width and height.
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


# -- label config -----------------------------------------------------------------------

def get_single_tag_keys(parsed_label_config: Mapping[str, Any], control_type: str,
                        object_type: str) -> tuple[str, str, str, list[str]]:
    """``(from_name, to_name, value, labels)`` of a config with exactly one control.

    Raises :class:`AssertionError` (scripts catch that type) when the config has several
    controls, the control is not ``control_type``, or it does not annotate exactly one
    ``object_type`` tag. Tag names compare case-insensitively.
    """
    if len(parsed_label_config) != 1:
        raise AssertionError(
            "Please check your Labeling Interface configuration: this model expects exactly "
            f"one control tag (<{control_type}>), found {len(parsed_label_config)}")
    from_name, info = next(iter(parsed_label_config.items()))
    if str(info["type"]).lower() != control_type.lower():
        raise AssertionError(
            f'Label config has control tag "<{info["type"]}>" but "<{control_type}>" '
            "is expected for this model.")
    if len(info["to_name"]) != 1 or len(info["inputs"]) != 1:
        raise AssertionError(
            f"control {from_name!r} must annotate exactly one object tag, "
            f"not {info['to_name']}")
    if str(info["inputs"][0]["type"]).lower() != object_type.lower():
        raise AssertionError(
            f'control {from_name!r} annotates "<{info["inputs"][0]["type"]}>" but '
            f'"<{object_type}>" is expected for this model.')
    return from_name, info["to_name"][0], info["inputs"][0]["value"], info["labels"]


def get_first_tag_keys(parsed_label_config: Mapping[str, Any], control_type: str,
                       object_type: str) -> tuple[str | None, dict[str, Any] | None]:
    """``(from_name, info)`` of the first ``control_type`` control annotating an
    ``object_type`` tag, or ``(None, None)``."""
    for from_name, info in parsed_label_config.items():
        if str(info.get("type", "")).lower() != control_type.lower():
            continue
        if any(str(i.get("type", "")).lower() == object_type.lower()
               for i in info.get("inputs", ())):
            return from_name, info
    return None, None


# -- annotations ------------------------------------------------------------------------

def is_skipped(completion: Mapping[str, Any], key: str = ANNOTATIONS) -> bool:
    """Whether the task's single annotation was skipped (cancelled).

    False when the task has zero or several annotations, as upstream: only a lone
    annotation can be judged.
    """
    annotations = completion[key]
    if len(annotations) != 1:
        return False
    first = annotations[0]
    return bool(first.get("skipped", False) or first.get("was_cancelled", False))


def get_choice(completion: Mapping[str, Any], key: str = ANNOTATIONS) -> Any:
    """The first choice of the first region of the first annotation."""
    return completion[key][0]["result"][0]["value"]["choices"][0]


def is_skipped_completions(completion: Mapping[str, Any]) -> bool:
    """:func:`is_skipped` for Label Studio 0.x tasks (annotations under ``completions``)."""
    return is_skipped(completion, COMPLETIONS)


def get_choice_completions(completion: Mapping[str, Any]) -> Any:
    """:func:`get_choice` for Label Studio 0.x tasks (annotations under ``completions``)."""
    return get_choice(completion, COMPLETIONS)


# -- files ------------------------------------------------------------------------------

def get_image_local_path(url: str, image_cache_dir: str | None = None,
                         project_dir: str | None = None, image_dir: str | None = None,
                         label_studio_host: str | None = None,
                         label_studio_access_token: str | None = None,
                         task_id: int | str | None = None) -> str:
    """:func:`labelloop.compat.local_files.get_local_path` with each generation's names.

    The positional order matches all three (``url, image_cache_dir, project_dir`` in
    Label Studio 0.x, then ``image_dir`` and the rest in label-studio-ml).
    """
    return get_local_path(url, cache_dir=image_cache_dir, project_dir=project_dir,
                          hostname=label_studio_host or _hostname_from_env(),
                          image_dir=image_dir, access_token=label_studio_access_token,
                          task_id=task_id)


def _hostname_from_env() -> str | None:
    # label-studio-ml read get_env("HOSTNAME"), which inside Docker is the container id
    # ("3f2a…"), not a URL. Only a URL is useful; anything else would break the download.
    value = get_env("HOSTNAME")
    return value if isinstance(value, str) and value.startswith(("http://", "https://")) \
        else None


def get_image_size(filepath: str) -> tuple[int, int]:
    """``(width, height)`` as displayed, i.e. after the EXIF orientation is applied.

    Reads only the header: the orientation tag says whether width and height swap, so
    the pixels need not be decoded or rotated.
    """
    try:
        image_module = importlib.import_module("PIL.Image")
    except ImportError as exc:
        raise ImportError(
            "get_image_size needs Pillow: pip install pillow") from exc
    with image_module.open(filepath) as img:
        width, height = img.size
        orientation = img.getexif().get(_EXIF_ORIENTATION)
    if orientation in _SWAPPING_ORIENTATIONS:
        return int(height), int(width)
    return int(width), int(height)


def json_load(file: str | Path, int_keys: bool = False) -> Any:
    """Load a UTF-8 JSON file; with ``int_keys`` the top-level keys become ints
    (Label Studio 0.x's ``label_studio.utils.io.json_load``)."""
    with Path(file).open(encoding="utf-8") as f:
        data = json.load(f)
    if int_keys:
        return {int(k): v for k, v in data.items()}
    return data


# -- label-studio-ml 2.x extras -----------------------------------------------------------

class InMemoryLRUDictCache:
    """A small least-recently-used dict: ``put`` evicts the oldest beyond ``capacity``.

    >>> cache = InMemoryLRUDictCache(capacity=2)
    >>> cache.put("a", 1); cache.put("b", 2); cache.get("a"); cache.put("c", 3)
    1
    >>> "b" in cache, cache.get("b"), cache.get("c")
    (False, None, 3)
    """

    def __init__(self, capacity: int = 1) -> None:
        self.capacity = capacity
        self.cache: OrderedDict[Hashable, Any] = OrderedDict()
        # Backends serve requests from several threads; OrderedDict reordering is not atomic.
        self._lock = threading.Lock()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self.cache

    def get(self, key: Hashable) -> Any:
        """The value, marked most recently used; None when absent."""
        with self._lock:
            if key not in self.cache:
                return None
            self.cache.move_to_end(key)
            return self.cache[key]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self.cache[key] = value
            self.cache.move_to_end(key)
            while len(self.cache) > max(self.capacity, 0):
                self.cache.popitem(last=False)

    def __str__(self) -> str:
        with self._lock:
            return str(self.cache)


def match_labels(input: str, labels: Sequence[str]) -> list[str]:  # upstream's parameter name
    """For each non-blank line of ``input`` (say, an LLM's answer), the most similar label."""
    if not labels:
        return []
    matched = []
    for line in input.splitlines():
        text = line.strip()
        if text:
            matched.append(max(labels, key=lambda label: _similarity(text, label)))
    return matched


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def is_valid_url(path: Any) -> bool:
    """Whether ``path`` parses as a URL with both a scheme and a host."""
    try:
        parts = urlparse(path)
    except (TypeError, ValueError, AttributeError):
        return False
    return bool(parts.scheme and parts.netloc)


def is_preload_needed(url: Any) -> bool:
    """Whether a task-data value is a file reference ``get_local_path`` should resolve.

    True for uploads, Local Storage URLs, cloud URIs, http(s) URLs and paths of existing
    files — so a text value that happens to name an existing file is read as that file,
    as upstream does.
    """
    if not isinstance(url, str) or not url:
        return False
    if url.startswith(("upload/", "/upload/", "/data/upload")):
        return True
    if url.startswith("/data/") and "?d=" in url:
        return True
    if _scheme(url) in CLOUD_SCHEMES:
        return True
    return is_valid_url(url) or _is_existing_path(url)


def _scheme(url: str) -> str:
    try:
        return urlparse(url).scheme.lower()
    except ValueError:  # e.g. an unbalanced "[" taken for an IPv6 host
        return ""


def _is_existing_path(text: str) -> bool:
    try:
        return Path(text).exists()
    except (OSError, ValueError):  # too long, or a NUL byte: certainly not a path
        return False


def compare_nested_structures(a: Any, b: Any, path: str = "", rel: float = 1e-4,
                              abs: float | None = None) -> None:
    """Assert ``a == b`` recursively, comparing floats with ``pytest.approx``.

    A test helper (pytest is imported only when floats are compared); raises
    AssertionError naming the first differing path. Explicit raises, not ``assert``,
    so ``python -O`` cannot turn the check off.

    >>> compare_nested_structures({"a": [1, 0.30000001]}, {"a": [1, 0.3]})
    >>> compare_nested_structures({"a": [1, 2]}, {"a": [1, 3]})
    Traceback (most recent call last):
    AssertionError: .a[1]: 2 != 3
    """
    where = path or "<root>"
    if isinstance(a, dict) and isinstance(b, dict):
        _check(a.keys() == b.keys(), f"{where}: keys {sorted(a)} != {sorted(b)}")
        for key in a:
            compare_nested_structures(a[key], b[key], f"{path}.{key}", rel, abs)
    elif isinstance(a, list) and isinstance(b, list):
        _check(len(a) == len(b), f"{where}: length {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            compare_nested_structures(x, y, f"{path}[{i}]", rel, abs)
    elif isinstance(a, float) or isinstance(b, float):
        import pytest  # a test helper: pytest is there wherever it is called

        _check(bool(a == pytest.approx(b, rel=rel, abs=abs)), f"{where}: {a} != {b}")
    else:
        _check(a == b, f"{where}: {a!r} != {b!r}")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise AssertionError(message)
