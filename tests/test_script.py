from __future__ import annotations

from pathlib import Path

import pytest

from labelloop.errors import ScriptError
from labelloop.sdk.script import find_model_script, load_model_class

HEADER = "from labelloop.sdk import LabelStudioModel\n"


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_finds_the_one_model_class(tmp_path: Path) -> None:
    body = "class Base:\n    pass\nclass M(LabelStudioModel):\n    pass\n"
    script = write(tmp_path, "m.py", body)
    assert load_model_class(script).__name__ == "M"


def test_imported_base_classes_do_not_count(tmp_path: Path) -> None:
    script = write(tmp_path, "m2.py", "from labelloop.sdk.model import LabelStudioModel as B\n"
                                      "class Mine(B):\n    pass\n")
    assert load_model_class(script).__name__ == "Mine"


def test_no_model_class(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="defines no model class"):
        load_model_class(write(tmp_path, "none.py", "x = 1\n"))


def test_several_model_classes(tmp_path: Path) -> None:
    body = "class A(LabelStudioModel):\n    pass\nclass B(LabelStudioModel):\n    pass\n"
    with pytest.raises(ScriptError, match=r"several model classes \(A, B\).*MODEL_CLASS"):
        load_model_class(write(tmp_path, "two.py", body))
    picked = write(tmp_path, "two_picked.py", body + "MODEL_CLASS = 'B'\n")
    assert load_model_class(picked).__name__ == "B"


def test_import_error_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="ZeroDivisionError"):
        load_model_class(write(tmp_path, "bad.py", "1 / 0\n"))


def test_find_model_script(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="does not exist"):
        find_model_script(tmp_path / "nope")
    (tmp_path / "_wsgi.py").write_text("")
    with pytest.raises(ScriptError, match="found: none"):
        find_model_script(tmp_path)
    (tmp_path / "a.py").write_text("")
    assert find_model_script(tmp_path).name == "a.py"
    (tmp_path / "b.py").write_text("")
    with pytest.raises(ScriptError, match=r"a\.py, b\.py"):
        find_model_script(tmp_path)
