"""The real browser end-to-end test: JupyterLab, the quickstart notebook, a click on Connect.

Headless Chromium (Debian's, driven by Playwright) opens ``notebooks/quickstart.ipynb``
in JupyterLab, runs it, clicks the Connect button, authorizes on the embedded sandbox's
page, and lands on the done page (no AccountSid in its URL); the notebook's widget says
Connected and the customer's calls appear. Then the customer revokes the app on the
sandbox's console page, and the widget says Revoked. Nothing is clicked headlessly in
the kernel (no CONNECT_NOTEBOOK_SANDBOX_AUTOCONNECT). Screenshots of every step go to
``test-artifacts/browser/``.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lab_support import free_port, isolated_env, jupyterlab

from connect_notebook.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
NOW = "2026-11-01T12:00:00+00:00"
TIMEOUT = 120  # seconds; hang guard only
MS = TIMEOUT * 1000

playwright_sync = pytest.importorskip("playwright.sync_api")
expect = playwright_sync.expect

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (make test installs it)"
)


@dataclass
class Lab:
    url: str
    token: str
    callback_port: int


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """JupyterLab on a copy of notebooks/, isolated from ~, kernels on the embedded sandbox."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    home = tmp_path / "jupyter"
    # No "Jupyter news?" toast: answer it in the (isolated) settings beforehand.
    news = home / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    callback_port = free_port()
    env = isolated_env(home, CONNECT_NOTEBOOK_CALLBACK_PORT=str(callback_port), CONNECT_NOTEBOOK_SANDBOX_NOW=NOW)
    with jupyterlab(tmp_path, env=env, args=[f"--ServerApp.root_dir={notebooks}"]) as running:
        yield Lab(running.url, running.token, callback_port)


@pytest.fixture
def context() -> Iterator[object]:
    """A fresh Chromium browser context."""
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
            ctx.set_default_timeout(MS)
            try:
                yield ctx
            finally:
                ctx.close()
        finally:
            browser.close()


def test_quickstart_connect_click_through_then_revoke(lab: Lab, context) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:  # noqa: ANN001
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    # 1. The quickstart opens in a fresh workspace and its kernel comes up.
    page = context.new_page()
    page.goto(f"{lab.url}/lab/workspaces/e2e-{uuid.uuid4().hex[:8]}/tree/quickstart.ipynb?reset&token={lab.token}")
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    def stdout(has_text: object):  # noqa: ANN202 - what a cell printed (not widget text)
        return notebook.locator('[data-mime-type="application/vnd.jupyter.stdout"]', has_text=has_text)

    expect(page.locator("#jp-main-statusbar")).to_contain_text("Python 3 (ipykernel) | Idle", timeout=MS)
    expect(notebook.locator(".jp-Cell").first).to_contain_text("Quick start: Twilio Connect in a notebook")
    shot(page, "01-notebook-open")

    # 2. Run All: the extension loads, the Connect button shows, and the wait() cell blocks.
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator('li.lm-Menu-item[data-command="runmenu:run-all"]').click()
    loaded = stdout("Authorize URL:")
    expect(loaded).to_contain_text(f"http://127.0.0.1:{lab.callback_port}/connect/authorize", timeout=MS)
    expect(stdout("uses the embedded Twilio sandbox")).to_be_visible()
    link = notebook.locator(".cn-connect-link")
    link.wait_for(timeout=MS)
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_text("Connect with Twilio")
    status = notebook.locator(".cn-status-text")
    expect(status).to_have_text("Waiting for the customer to authorize…", timeout=MS)
    # The wait() cell is still running: its prompt, not the status bar, which can read Idle meanwhile
    # (the kernel answers control-channel requests such as the debugger's debugInfo during a blocked
    # cell, and their own busy/idle status messages move the status bar).
    wait_cell = notebook.locator(".jp-CodeCell", has_text="button.wait(")
    expect(wait_cell.locator(".jp-InputPrompt")).to_have_text("[*]:")
    shot(page, "02-connect-button-waiting")

    # 3. Click Connect: the sandbox's authorize page opens in a new tab.
    href = link.get_attribute("href")
    assert href is not None and "state=" in href
    sandbox = "{0.scheme}://{0.netloc}".format(urlsplit(href))
    with context.expect_page(timeout=MS) as opened:
        link.click()
    popup = opened.value
    popup.wait_for_load_state()
    assert popup.url == href
    expect(popup.locator("h1")).to_contain_text("Authorize")
    first = popup.locator("input[type=radio][name=AccountSid]").first
    expect(first).to_be_checked()
    customer = first.get_attribute("value")
    assert customer is not None and re.fullmatch(r"AC[0-9a-f]{32}", customer)
    customer_name = popup.locator("label.acct b").first.inner_text()
    assert customer_name == "Harbor Dental Group"  # the customer picks its main account
    # What the app will receive instead (twilio-api-notes.md §8.1): the Connect subaccount made on
    # authorizing. SIDs derive from the seed alone, so an unstarted sandbox like the kernel's names it.
    connected = Sandbox(now=NOW).authorize(customer)
    assert connected != customer and connected[-4:] != customer[-4:]
    shot(popup, "03-sandbox-authorize-page")

    # 4. Authorize: the tab goes through the kernel's callback to the done page, without the AccountSid.
    popup.locator("#authorize").click()
    expect(popup).to_have_url(re.compile(rf"^http://127\.0\.0\.1:{lab.callback_port}/connect/done\?ref="), timeout=MS)
    assert "AccountSid" not in popup.url and customer not in popup.url and connected not in popup.url
    expect(popup.locator("h1")).to_have_text(f"Connected: {customer_name}")
    expect(popup.locator("body")).to_contain_text("You can close this tab")
    shot(popup, "04-done-page")

    # 5. The notebook: the widget says Connected, the wait() cell printed it, and the calls appear.
    # Both name the customer's main account, never the Connect subaccount the requests use.
    label = f"{customer_name} (AC…{customer[-4:]})"
    expect(status).to_have_text(f"Connected: {label}", timeout=MS)
    expect(stdout(f"Connected: {label}")).to_be_visible(timeout=MS)
    assert connected[-4:] not in status.inner_text()
    calls = stdout("->")
    expect(calls).to_be_visible(timeout=MS)
    assert re.search(r"\+\d+ -> \+\d+", calls.inner_text())
    expect(stdout(re.compile(r"^[\d,]+ calls"))).to_be_visible(timeout=MS)
    expect(notebook.locator(".jp-InputPrompt", has_text="*")).to_have_count(0, timeout=MS)  # all cells ran
    expect(wait_cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"^\[\d+\]:$"))
    expect(link).to_have_text("Connect another account")
    calls.scroll_into_view_if_needed()
    shot(page, "05-notebook-connected-calls")
    status.scroll_into_view_if_needed()

    # 6. The customer revokes the app on the sandbox's console page; the sandbox tells the kernel.
    console = context.new_page()
    console.goto(f"{sandbox}/console/authorized-apps")
    revoke = console.locator(f"#revoke-{customer}")
    expect(revoke).to_be_visible()
    shot(console, "06-sandbox-authorized-apps")
    revoke.click()
    expect(console.locator("h1")).to_have_text("Access revoked")
    expect(console.locator("#outcome")).to_have_text("The app was told (its callback answered 200).")
    shot(console, "07-sandbox-revoked")

    # 7. The notebook's widget shows the revocation, live.
    page.bring_to_front()
    expect(status).to_contain_text(f"Revoked: {label} removed access", timeout=MS)
    expect(link).to_have_text("Connect with Twilio")
    shot(page, "08-notebook-revoked")
