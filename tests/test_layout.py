"""The package's shape: module names that say what they hold, and tests that own their data."""

from __future__ import annotations

import re
from collections import Counter

from support.data import ROOT

PACKAGE = ROOT / "src" / "labelloop"


def test_no_two_modules_of_the_package_share_a_name() -> None:
    # The stand-in modules mirror other packages' names on purpose (label_studio_ml.api...).
    names = Counter(p.stem for p in PACKAGE.rglob("*.py")
                    if p.stem != "__init__" and "shims" not in p.relative_to(PACKAGE).parts)
    assert sorted(n for n, count in names.items() if count > 1) == []


def test_no_module_is_a_grab_bag() -> None:
    assert not [p for p in PACKAGE.rglob("*.py") if p.stem in ("utils", "helpers", "misc")
                and "shims" not in p.relative_to(PACKAGE).parts]


def test_the_tests_read_nothing_outside_the_repository() -> None:
    """A fresh clone, alone in its folder, must pass: no path above the checkout."""
    outside = re.compile(r"ROOT\.parent|parents\[[3-9]\]|\.\./shared|\"shared\"")
    found = [f"{p.relative_to(ROOT)}:{n}" for p in (ROOT / "tests").rglob("*.py")
             if p.name != "test_layout.py"
             for n, line in enumerate(p.read_text().splitlines(), 1) if outside.search(line)]
    assert found == []
