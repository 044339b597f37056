"""A real headless Chromium (selenium) for tests that look at a page as a person would."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import Any

import pytest

# Chromium as root in a container: no sandbox, no GPU, nothing phoning home.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1400,900"]
INSTALL_HINT = ("this test needs a real Chromium: run `make chromium` (Debian: apt-get "
                "install chromium chromium-driver) and `pip install -e '.[dev]'` (selenium)")


def open_chromium(profile: Path) -> Any:
    """A headless Chromium driven by chromedriver (both found on PATH, never downloaded)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        pytest.fail(f"Chromium or chromedriver is missing: {INSTALL_HINT}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"selenium is not installed: {INSTALL_HINT}")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in [*CHROMIUM_ARGS, f"--user-data-dir={profile}"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(60)
    return driver


def css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def screenshot(driver: Any, path: Path) -> Path:
    """The visible window as a PNG at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(driver.get_screenshot_as_base64()))
    return path
