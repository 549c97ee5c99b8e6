"""A real headless Chromium driven by selenium (Debian's `chromium` and
`chromium-driver`): missing, the tests that need it skip on a developer's machine and
fail in CI, as every component of `components.py`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from components import require_binary

WINDOW = "1200,900"


@pytest.fixture
def chromium() -> Iterator[Any]:
    """A headless Chromium (a selenium WebDriver) that keeps its console log."""
    browser = require_binary("chromium", "chromium")
    driver_binary = require_binary("chromedriver", "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={WINDOW}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_binary))
    try:
        yield driver
    finally:
        driver.quit()
