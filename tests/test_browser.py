"""What only a real browser can show: the editor's live preview, type-ahead in the search box,
and pages that print without navigation. A real `kb serve` process, headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip(
        "chromium/chromedriver not installed (scripts/ensure-browser installs them)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from tests.conftest import free_port, kb_env  # noqa: E402

KB = str(Path(sys.executable).with_name("kb"))


@pytest.fixture(scope="module")
def server() -> Iterator[dict]:
    data = tempfile.mkdtemp(prefix="kb-browser-")
    env = kb_env(Path(data))
    subprocess.run([KB, "init", "--demo"], env=env, check=True, capture_output=True, timeout=300)
    passwords = {}
    for line in (Path(data) / "demo-accounts.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            user, _role, password = line.split("\t")
            passwords[user] = password
    port = free_port()
    proc = subprocess.Popen(
        [KB, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(
                    "kb serve did not start: " + proc.stdout.read().decode(errors="replace")[-2000:]
                )
            time.sleep(0.2)  # polling a starting server, bounded by the deadline above
    yield {"base": base, "passwords": passwords}
    proc.terminate()
    proc.wait(timeout=20)
    proc.stdout.close()
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={tempfile.mkdtemp(prefix='kb-chrome-')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait(driver, condition, seconds: float = 15):  # type: ignore[no-untyped-def]
    return WebDriverWait(driver, seconds).until(condition)


def test_type_ahead_offers_visible_titles_as_the_visitor_types(server, browser):
    browser.get(server["base"] + "/")
    box = browser.find_element(By.NAME, "q")
    box.send_keys("dayinji")
    first = wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, ".suggestions li a")))
    titles = [a.text for a in browser.find_elements(By.CSS_SELECTOR, ".suggestions li a")]
    assert any("打印机" in t for t in titles), titles
    # restricted sample articles are never offered to a visitor
    assert not any("demo-unit" in t for t in titles)
    first.click()
    wait(browser, EC.url_contains("/articles/"))
    assert "打印机" in browser.find_element(By.TAG_NAME, "h1").text


def test_editor_sees_live_preview_and_checker_findings(server, browser):
    browser.get(server["base"] + "/login")
    browser.find_element(By.NAME, "username").send_keys("editor")
    browser.find_element(By.NAME, "password").send_keys(server["passwords"]["editor"])
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    # the demo password was set by `kb init`: the editor chooses their own first
    wait(browser, EC.url_contains("/account/password"))
    assert "由他人设置" in browser.find_element(By.TAG_NAME, "main").text
    browser.find_element(By.NAME, "current").send_keys(server["passwords"]["editor"])
    browser.find_element(By.NAME, "password").send_keys("Guilin-river-bamboo-42")
    browser.find_element(By.NAME, "again").send_keys("Guilin-river-bamboo-42")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    wait(browser, EC.url_to_be(server["base"] + "/"))
    browser.get(server["base"] + "/editor/new")
    body = browser.find_element(By.ID, "markdown")
    body.send_keys("## 现象\n\n打印机显示**脱机**。\n\n<script>alert(1)</script>\n")
    heading = wait(browser, EC.visibility_of_element_located((By.CSS_SELECTOR, "#preview h2")))
    assert heading.text == "现象"
    assert browser.find_element(By.CSS_SELECTOR, "#preview strong").text == "脱机"
    assert not browser.find_elements(By.CSS_SELECTOR, "#preview script")
    wait(browser, EC.text_to_be_present_in_element((By.ID, "findings"), "KB-"))
    assert "KB-SAFE" in browser.find_element(By.ID, "findings").text


def test_article_prints_without_navigation(server, browser):
    browser.get(server["base"] + "/articles/kylin-hp-m1136-offline")
    header = browser.find_element(By.CSS_SELECTOR, ".site-header")
    assert header.is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not header.is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, ".actions").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, ".article .body").is_displayed()
