"""The bureau's printed reports in a real browser (issue 11): a curator opens the 月报 and the
evaluation page of a fresh `kb init --demo`, sees the server-drawn SVG charts and verdicts,
and prints them without navigation; screenshots and PDFs are saved under bench/out/bureau/
(or $KB_SHOTS_DIR) for the record."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from tests.test_browser import browser, server, wait  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.slow

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("KB_SHOTS_DIR") or ROOT / "bench" / "out" / "bureau")


def sign_in(server, browser, name: str) -> None:  # noqa: F811
    browser.get(server["base"] + "/login")
    browser.find_element(By.NAME, "username").send_keys(name)
    browser.find_element(By.NAME, "password").send_keys(server["passwords"][name])
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait(browser, EC.url_to_be(server["base"] + "/"))


def keep(browser, name: str) -> tuple[Path, Path]:  # noqa: F811
    """A screenshot of the page as printed, and the PDF Chromium prints."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    png = SHOTS / f"{name}.png"
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(int(height) + 40, 8000))  # the whole page in one picture
    browser.save_screenshot(str(png))
    pdf = SHOTS / f"{name}.pdf"
    printed = browser.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})
    pdf.write_bytes(base64.b64decode(printed["data"]))
    return png, pdf


def test_monthly_report_prints_with_its_charts(server, browser):  # noqa: F811
    sign_in(server, browser, "curator")
    for q in ("打印机脱机", "量子纠缠怎么办", "量子纠缠怎么办"):  # some searches to report on
        browser.get(server["base"] + "/search?q=" + q)
    browser.get(server["base"] + "/articles/kylin-hp-m1136-offline")

    def reads_counted(driver) -> bool:  # type: ignore[no-untyped-def]
        # waitress writes the count after sending the page: reload until it shows
        driver.get(server["base"] + "/reports/monthly")
        cell = driver.find_element(By.CSS_SELECTOR, 'tr[data-key="reads"] td')
        return int(cell.text) >= 1

    wait(browser, reads_counted)
    assert "知识库月报" in browser.find_element(By.TAG_NAME, "h1").text
    charts = browser.find_elements(By.CSS_SELECTOR, ".charts svg")
    assert len(charts) == 5 and all(c.is_displayed() for c in charts)
    assert charts[0].size["height"] > 100  # drawn, not an empty box
    new_row = browser.find_element(By.CSS_SELECTOR, 'tr[data-key="new"] td')
    assert int(new_row.text) > 0  # the demo articles were published this month
    zero = browser.find_element(By.CSS_SELECTOR, ".zero-queries tbody tr").text
    assert "量子纠缠怎么办" in zero and zero.endswith("2")
    header = browser.find_element(By.CSS_SELECTOR, ".site-header")
    png, pdf = keep(browser, "monthly")
    assert not header.is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, ".export-links").is_displayed()
    assert charts[0].is_displayed()
    assert png.stat().st_size > 10_000 and pdf.read_bytes()[:4] == b"%PDF"


def test_evaluation_page_prints_verdicts_and_thresholds(server, browser):  # noqa: F811
    sign_in(server, browser, "curator")
    browser.get(server["base"] + "/evaluation")
    verdicts = browser.find_elements(By.CSS_SELECTOR, "#province .verdict")
    assert [v.text for v in verdicts] == [
        v.text for v in verdicts if v.text in ("是", "否", "不涉及")
    ]
    assert len(verdicts) == 2
    assert browser.find_elements(By.CSS_SELECTOR, "#province .checks td")
    png, pdf = keep(browser, "evaluation")
    assert not browser.find_element(By.CSS_SELECTOR, ".site-header").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "#province .checks").is_displayed()
    assert png.stat().st_size > 10_000 and pdf.read_bytes()[:4] == b"%PDF"
