"""Headless Chromium for the front-end tests, and the quickstart's Connect click-through they share.

Debian's Chromium, driven by Playwright (which cannot download browsers here). The
click-through is what a user does in any front end that renders ipywidgets: run the
quickstart, click Connect, authorize on the sandbox's page, land on the done page, and
see the widget say Connected with the customer's calls below it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from connect_notebook.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
NOW = "2026-11-01T12:00:00+00:00"
TIMEOUT = 120  # seconds; hang guard only
MS = TIMEOUT * 1000
CUSTOMER_NAME = "Harbor Dental Group"  # the sandbox's first customer, picked on its authorize page

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (make test installs it)"
)


def playwright() -> Any:
    """playwright.sync_api, or a skip where it is not installed."""
    return pytest.importorskip("playwright.sync_api")


@contextmanager
def chromium() -> Iterator[Any]:
    """A fresh headless Chromium browser context, closed afterwards."""
    with playwright().sync_playwright() as pw:
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


def screenshots(folder: str) -> Callable[[Any, str], None]:
    """``shot(page, name)``: a full-page screenshot into ``test-artifacts/<folder>/``."""
    where = ARTIFACTS / folder
    where.mkdir(parents=True, exist_ok=True)

    def shot(page: Any, name: str) -> None:
        page.screenshot(path=str(where / f"{name}.png"), full_page=True)

    return shot


def lab_home(tmp_path: Path) -> Path:
    """Isolated Jupyter folders under ``tmp_path``, with the first-run "Jupyter news?" toast answered."""
    home = tmp_path / "jupyter"
    news = home / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return home


def copy_notebooks(tmp_path: Path) -> Path:
    notebooks = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return notebooks


@dataclass
class Connected:
    """What the click-through leaves for the test to go on with."""

    page: Any  # the notebook's page
    status: Any  # the widget's status line
    link: Any  # the widget's Connect link
    sandbox: str  # the sandbox's origin (its authorize and console pages)
    customer: str  # the customer's main account
    label: str  # how the widget names it


def connect_through_quickstart(
    context: Any, url: str, *, callback: str, shot: Callable[[Any, str], None], notebook7: bool = False
) -> Connected:
    """Open the quickstart at ``url``, Run All, click Connect, authorize, and see it connected.

    ``callback`` is the public base URL of the kernel's callback server that the
    extension must print (and that the browser must come back through); ``notebook7``
    switches the few selectors where Notebook 7's UI differs from JupyterLab's.
    """
    expect = playwright().expect
    page = context.new_page()
    page.goto(url)
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    def stdout(has_text: object) -> Any:  # what a cell printed (not widget text)
        return notebook.locator('[data-mime-type="application/vnd.jupyter.stdout"]', has_text=has_text)

    # 1. The notebook opens and its kernel comes up.
    if notebook7:  # no status bar: the toolbar's kernel indicator
        indicator = page.locator(".jp-Notebook-ExecutionIndicator").first
        expect(indicator).to_have_attribute("data-status", "idle", timeout=MS)
    else:
        expect(page.locator("#jp-main-statusbar")).to_contain_text("Python 3 (ipykernel) | Idle", timeout=MS)
    expect(notebook.locator(".jp-Cell").first).to_contain_text("Quick start: Twilio Connect in a notebook")
    shot(page, "01-notebook-open")

    # 2. Run All: the extension prints the callback's public URL, the Connect button shows, wait() blocks.
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator('li.lm-Menu-item[data-command="runmenu:run-all"]').click()
    expect(stdout("Authorize URL:")).to_contain_text(f"{callback}/connect/authorize", timeout=MS)
    expect(stdout("uses the embedded Twilio sandbox")).to_be_visible()
    link = notebook.locator(".cn-connect-link")
    link.wait_for(timeout=MS)
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_text("Connect with Twilio")
    status = notebook.locator(".cn-status-text")
    expect(status).to_have_text("Waiting for the customer to authorize…", timeout=MS)
    # The wait() cell is still running: its prompt, not the status bar, which can read Idle meanwhile
    # (the kernel answers control-channel requests during a blocked cell, with busy/idle messages).
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
    assert popup.locator("label.acct b").first.inner_text() == CUSTOMER_NAME  # the customer picks its main account
    # What the app will receive instead (twilio-api-notes.md §8.1): the Connect subaccount made on
    # authorizing. SIDs derive from the seed alone, so an unstarted sandbox like the kernel's names it.
    connected = Sandbox(now=NOW).authorize(customer)
    assert connected != customer and connected[-4:] != customer[-4:]
    shot(popup, "03-sandbox-authorize-page")

    # 4. Authorize: the tab comes back through the callback's public URL to the done page, without the AccountSid.
    popup.locator("#authorize").click()
    expect(popup).to_have_url(re.compile(rf"^{re.escape(callback)}/connect/done\?ref="), timeout=MS)
    assert "AccountSid" not in popup.url and customer not in popup.url and connected not in popup.url
    expect(popup.locator("h1")).to_have_text(f"Connected: {CUSTOMER_NAME}")
    expect(popup.locator("body")).to_contain_text("You can close this tab")
    shot(popup, "04-done-page")

    # 5. The notebook: the widget says Connected, the wait() cell printed it, and the calls appear.
    # Both name the customer's main account, never the Connect subaccount the requests use.
    label = f"{CUSTOMER_NAME} (AC…{customer[-4:]})"
    expect(status).to_have_text(f"Connected: {label}", timeout=MS)
    expect(stdout(f"Connected: {label}")).to_be_visible(timeout=MS)
    assert connected[-4:] not in status.inner_text()
    # A retrying assertion on the text content: a single inner_text() read (rendered layout, once)
    # failed in a clean-clone run although the element had just matched "->".
    calls = stdout("->")
    expect(calls).to_contain_text(re.compile(r"\+\d+ -> \+\d+"), timeout=MS)
    expect(stdout(re.compile(r"^[\d,]+ calls"))).to_be_visible(timeout=MS)
    expect(notebook.locator(".jp-InputPrompt", has_text="*")).to_have_count(0, timeout=MS)  # all cells ran
    expect(wait_cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"^\[\d+\]:$"))
    expect(link).to_have_text("Connect another account")
    calls.scroll_into_view_if_needed()
    shot(page, "05-notebook-connected-calls")
    status.scroll_into_view_if_needed()
    return Connected(page, status, link, sandbox, customer, label)
