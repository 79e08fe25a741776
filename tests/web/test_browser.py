"""The dashboard in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``).

``alvh web`` runs as a subprocess on 127.0.0.1; Selenium drives
``/usr/bin/chromium`` through ``/usr/bin/chromedriver`` (no browser or driver
download). On the replay journal and on the fake-gateway paper journal each
page loads without a console message of level SEVERE, shows every open
structure and a drawn equity chart; the decisions filter form works by
submitting it as a user would.

Chromium runs offline: every flag that would make it reach the network at
start-up is off, and it gets a fresh profile directory. Without the browser
the tests skip on a developer machine and fail under CI (``CI`` set), whose
``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.journal import Journal
from tests.web.server import start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
)

_missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
if _missing and os.environ.get("CI"):
    pytest.fail(f"CI needs {', '.join(_missing)} (apt-get install chromium chromium-driver)")
pytestmark = pytest.mark.skipif(
    bool(_missing), reason=f"no {', '.join(_missing)}: apt-get install chromium chromium-driver"
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _severe(driver: Any) -> list[dict[str, Any]]:
    """Console messages of level SEVERE (errors) since the last call."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


@pytest.mark.parametrize("journal", ["replay_journal", "paper_journal"])
def test_dashboard_in_chromium(journal: str, request: pytest.FixtureRequest, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    path: Path = request.getfixturevalue(journal)
    with Journal.open(path, read_only=True) as j:
        info = j.run()
        open_positions = j.positions(info.id, open_only=True)
        sessions = len(j.daily(info.id))
        rules = {r.decision.rule for r in j.decisions(info.id)}
    assert open_positions and sessions

    proc, url = start_server(path)
    try:
        _severe(browser)  # drop anything from before
        browser.get(url)
        assert browser.title.startswith("alvh dashboard")
        assert _severe(browser) == []

        # every open structure, with its legs
        cards = browser.find_elements(By.CSS_SELECTOR, "#positions .position")
        assert [c.get_attribute("id") for c in cards] == [
            f"position-{p.id}" for p in open_positions
        ]
        for card, p in zip(cards, open_positions, strict=True):
            assert card.is_displayed()
            assert card.get_attribute("data-structure") == p.structure.value
            for leg in p.legs:
                assert leg.contract.local_symbol in card.text

        # the equity chart is drawn: visible, sized by the page, with its line or point
        chart = browser.find_element(By.ID, "equity-chart")
        assert chart.is_displayed()
        assert chart.size["width"] > 600 and chart.size["height"] > 100
        marks = chart.find_elements(By.CSS_SELECTOR, "polyline" if sessions > 1 else "circle")
        assert len(marks) == 1 and marks[0].is_displayed()
        assert browser.find_element(By.ID, "drawdown-chart").is_displayed()
        assert "Health" in browser.find_element(By.ID, "health").text

        # the decisions page, filtered through its form as a user would
        browser.find_element(By.LINK_TEXT, "Decisions").click()
        rule = sorted(rules)[0]
        Select(browser.find_element(By.ID, "rule-filter")).select_by_value(rule)
        browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
        WebDriverWait(browser, 15).until(lambda d: f"rule={rule}" in d.current_url)
        shown = {
            row.get_attribute("data-rule")
            for row in browser.find_elements(By.CSS_SELECTOR, "tr.decision")
        }
        assert shown == {rule}

        for page in ("orders", "daily"):
            browser.get(f"{url}{page}?run={info.id}")
            assert browser.find_elements(By.TAG_NAME, "table")
        assert _severe(browser) == []
    finally:
        code, err = stop_server(proc)
    assert code == 0, err


def test_the_rig_sees_console_errors(browser: Any) -> None:
    """The no-console-error checks above are not vacuous: a script error is reported."""
    _severe(browser)
    browser.get("data:text/html,<title>x</title><script>no_such_function()</script>")
    errors = _severe(browser)
    assert len(errors) == 1 and "no_such_function" in errors[0]["message"]
