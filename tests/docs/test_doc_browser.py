"""The built site in headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by
Selenium): every page of the nav renders its title and all of its images, with no error in
the browser console. Skipped where Chromium cannot start."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from pathlib import Path

import pytest
from tests.docs.test_docs import nav_pages, page_html

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the dev extra)")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip("no chromium / chromedriver (apt-get install chromium chromium-driver)")
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    except WebDriverException as e:
        pytest.skip(f"chromium does not start here: {e.msg}")
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def served(site):
    """The site over HTTP on a free local port (the search worker needs http, not file:)."""
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request lines in the test output
        pass


def test_every_page_renders_its_title_and_images_without_console_errors(site, served, browser):
    checked = 0
    for page in nav_pages():
        html = page_html(site, page)
        url = f"{served}/{html.relative_to(site).as_posix()}".removesuffix("index.html")
        browser.get(url)
        heading = browser.execute_script(
            "const h = document.querySelector('article h1'); return h ? h.innerText : null"
        )
        assert heading, f"{page}: no h1 rendered"
        want = next(l for l in (ROOT / "docs" / page).read_text().splitlines() if l[:2] == "# ")
        assert re.sub(r"[`*]", "", want[2:]).strip() == heading.replace("¶", "").strip(), page
        assert browser.title.endswith("lstmkit"), (page, browser.title)  # <title> rendered
        images = browser.execute_script(
            "return Array.from(document.querySelectorAll('article img'))"
            ".map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])"
        )
        broken = [src for src, ok in images if not ok]
        assert not broken, f"{page}: images that did not load: {broken}"
        errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, f"{page}: console errors: {errors}"
        checked += 1 + len(images)
    assert checked >= 25  # 20 pages and their figures


def test_a_missing_image_is_caught(site, served, browser, tmp_path):
    page = '<html><body><article><h1>x</h1><img src="img/none.png"></article></body></html>'
    (site / "broken-test.html").write_text(page)
    browser.get(f"{served}/broken-test.html")
    images = browser.execute_script(
        "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
    )
    assert images == [False]
    assert any("none.png" in e["message"] for e in browser.get_log("browser"))
    (site / "broken-test.html").unlink()
