"""A small helper to drive Debian's headless Chromium through selenium (report tests, bench).

If Chromium or chromedriver is missing, :func:`require_chromium` fails the test with what
to install (the browser tests must never be skipped silently).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


def chromium_problem() -> str | None:
    """Returns why Chromium cannot be driven here, or None when it can."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        return (
            f"{', '.join(missing)} not found: install Debian's chromium and chromium-driver "
            "(scripts/install-browser, or apt-get install chromium chromium-driver)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[dev]'"
    return None


def require_chromium() -> None:
    """Fails the calling test (never skips it) when Chromium cannot be driven."""
    import pytest

    problem = chromium_problem()
    if problem:
        pytest.fail(f"browser test needs Chromium: {problem}", pytrace=False)


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """Yields a headless Chromium WebDriver with browser and performance logs enabled."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="evalkit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_window_size(width, height)
        # Start from a blank page and drop what the browser's start page logged.
        driver.get("about:blank")
        driver.get_log("performance")
        driver.get_log("browser")
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver: Any) -> list[dict[str, Any]]:
    """Returns the browser console entries at level SEVERE (errors) since the last call."""
    return [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def requested_urls(driver: Any) -> list[str]:
    """Returns every URL the page asked the network stack for, from the performance log."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def wait_ready(driver: Any, timeout: float = 10.0) -> float:
    """Waits until the report's table is rendered and painted; returns that time in ms.

    The time is from navigation start to the first idle moment after the first frame
    with the table was painted (``window.__evalkitSettledAt``).
    """
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.execute_script("return typeof window.__evalkitSettledAt === 'number'")
    )
    return float(driver.execute_script("return window.__evalkitSettledAt"))


def full_page_screenshot(driver: Any, path: Path, max_height: int = 6000) -> Path:
    """Saves a screenshot of the whole page (up to ``max_height`` px tall) to ``path``."""
    driver.execute_script("window.scrollTo(0, 0)")
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    width = int(driver.execute_script("return window.innerWidth")) or 1400
    driver.set_window_size(width, min(height + 40, max_height))
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path


SCREENSHOTS = Path(__file__).resolve().parents[2] / "reports" / "screenshots"
