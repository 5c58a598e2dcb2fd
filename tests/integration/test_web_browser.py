"""The web desk end to end in a real headless Chromium (Debian's, through chromedriver and
Selenium) against the app served by uvicorn: a staff member logs in, opens a submission with
no codice fiscale, sees the original PDF, has a wrong code refused with the reason, enters the
right one, accepts, finds it in the audit trail, downloads the XLSX, logs out.

Screenshots of the dashboard, the queue and the submission page are saved under
``var/screenshots`` (gitignored) and pytest's tmp folder: look at them.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from openpyxl import load_workbook

from pec_ingest.desk.queue import find_submission
from pec_ingest.web.app import create_app
from tests.integration.desk_support import Desk, desk_fixture, keep_logging  # noqa: F401
from tests.integration.web_support import PASSWORD, add_users, desk_config

VALID_CF = "80015010152"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _browser_paths() -> tuple[str, str]:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not (os.access(chromium, os.X_OK) and os.access(driver, os.X_OK)):
        reason = "chromium e chromium-driver non installati (apt-get install chromium " \
                 "chromium-driver)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser richiesto in CI: {reason}")
        pytest.skip(reason)
    return chromium, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(desk: Desk) -> Iterator[tuple[Desk, str]]:
    add_users(desk)
    port = _free_port()
    app = create_app(desk_config(desk.config), desk.sessions)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn non partito"
    yield desk, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[object]:
    chromium, driver = _browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1366,768", "--lang=it"):
        options.add_argument(arg)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.set_page_load_timeout(60)
    chrome.implicitly_wait(5)
    yield chrome
    chrome.quit()


def _shot(chrome: object, tmp_path: Path, name: str, backend: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for folder in (SHOTS, tmp_path):
        chrome.save_screenshot(str(folder / f"{name}-{backend}.png"))  # type: ignore[attr-defined]


def _fetch(chrome: object, url: str) -> tuple[str, bytes]:
    """The browser fetches ``url`` with its session cookie; content type and bytes."""
    result = chrome.execute_async_script(  # type: ignore[attr-defined]
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(async r => {"
        " const b = new Uint8Array(await r.arrayBuffer()); let s = '';"
        " for (const c of b) s += String.fromCharCode(c);"
        " done([r.headers.get('content-type'), btoa(s)]); });", url)
    return str(result[0]), base64.b64decode(result[1])


def test_a_staff_member_works_a_submission_in_the_browser(
        served: tuple[Desk, str], browser: object, tmp_path: Path, backend: str) -> None:
    from selenium.webdriver.common.by import By

    desk, base = served
    chrome = browser
    find = chrome.find_element  # type: ignore[attr-defined]
    number = desk.number("d-scan")
    with desk.sessions() as s:
        sub = find_submission(s, number)
        assert sub.codice_fiscale is None
        sub_id = sub.id
    chrome.get(f"{base}/")  # type: ignore[attr-defined]
    assert chrome.current_url.endswith("/accesso")  # type: ignore[attr-defined]
    find(By.ID, "nome").send_keys("rita")
    find(By.ID, "password").send_keys(PASSWORD)
    _submit(chrome, find(By.CSS_SELECTOR, "form button[type=submit]"))
    assert find(By.TAG_NAME, "h1").text.startswith("Piano Sociale di Zona")
    _shot(chrome, tmp_path, "dashboard", backend)

    _submit(chrome, find(By.LINK_TEXT, "Da verificare"))
    assert "Da verificare" in find(By.TAG_NAME, "h1").text
    _shot(chrome, tmp_path, "queue", backend)
    _submit(chrome, find(By.LINK_TEXT, number))
    _wait_for(chrome, f"/domande/{sub_id}")
    assert find(By.ID, "v-codice_fiscale").get_attribute("value") == ""
    frame = find(By.CSS_SELECTOR, "section.doc iframe")
    assert frame.get_attribute("src").endswith(f"/domande/{sub_id}/documento")
    kind, data = _fetch(chrome, f"/domande/{sub_id}/documento")
    assert kind == "application/pdf" and data.startswith(b"%PDF")
    time.sleep(1.5)  # the PDF viewer draws the page after the load event
    _shot(chrome, tmp_path, "submission", backend)

    _correct(chrome, "80015010154")
    refused = find(By.CSS_SELECTOR, "p.error").text
    assert refused.startswith("Correzione rifiutata, nulla è cambiato: ")
    assert len(refused.split(": ", 1)[1]) > 10  # the reason, in words
    _correct(chrome, VALID_CF)
    assert "Campo corretto" in find(By.ID, "esito").text
    assert find(By.ID, "v-codice_fiscale").get_attribute("value") == VALID_CF
    _submit(chrome, find(By.ID, "accetta"))
    assert "Domanda accettata" in find(By.ID, "esito").text
    trail = find(By.ID, "registro").text
    assert "rita" in trail and "accettata" in trail and VALID_CF in trail
    _shot(chrome, tmp_path, "submission-accepted", backend)

    chrome.get(f"{base}/messaggi")  # type: ignore[attr-defined]
    assert "anomalia" in find(By.TAG_NAME, "main").text
    _shot(chrome, tmp_path, "messages", backend)
    chrome.get(f"{base}/aderenti")  # type: ignore[attr-defined]
    _shot(chrome, tmp_path, "adherents", backend)
    href = find(By.ID, "scarica-xlsx").get_attribute("href")
    kind, data = _fetch(chrome, href)
    assert kind.startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    values = [str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None]
    assert number in values and VALID_CF in values

    _submit(chrome, find(By.CSS_SELECTOR, "form.who button"))
    _wait_for(chrome, "/accesso")
    chrome.get(f"{base}/domande/{sub_id}")  # type: ignore[attr-defined]
    assert chrome.current_url.endswith("/accesso")  # type: ignore[attr-defined]


def _submit(chrome: object, element: object) -> None:
    """Click and wait until the browser has left the page (a new document is loaded)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = chrome.find_element(By.TAG_NAME, "html")  # type: ignore[attr-defined]
    element.click()  # type: ignore[attr-defined]
    WebDriverWait(chrome, 15).until(expected_conditions.staleness_of(page))  # type: ignore[arg-type]


def _wait_for(chrome: object, path: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(chrome, 15).until(  # type: ignore[arg-type]
        lambda c: c.current_url.split("?")[0].endswith(path))


def _correct(chrome: object, value: str) -> None:
    from selenium.webdriver.common.by import By

    field = chrome.find_element(By.ID, "v-codice_fiscale")  # type: ignore[attr-defined]
    field.clear()
    field.send_keys(value)
    _submit(chrome, chrome.find_element(  # type: ignore[attr-defined]
        By.CSS_SELECTOR, "button[aria-label='Salva Codice fiscale']"))
