"""The real browser end-to-end test: JupyterLab, the quickstart notebook, a click on Connect.

Headless Chromium (Debian's, driven by Playwright) opens ``notebooks/quickstart.ipynb``
in JupyterLab, runs it, clicks the Connect button, authorizes on the embedded sandbox's
page, and lands on the done page (no AccountSid in its URL); the notebook's widget says
Connected and the customer's calls appear (``tests/browser_support.py``). Then the
customer revokes the app on the sandbox's console page, and the widget says Revoked.
Nothing is clicked headlessly in the kernel (no CONNECT_NOTEBOOK_SANDBOX_AUTOCONNECT).
Screenshots of every step go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    MS,
    NOW,
    connect_through_quickstart,
    copy_notebooks,
    lab_home,
    needs_chromium,
    playwright,
    screenshots,
)
from lab_support import free_port, isolated_env, jupyterlab

pytestmark = needs_chromium


@dataclass
class Lab:
    url: str
    token: str
    callback_port: int


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """JupyterLab on a copy of notebooks/, isolated from ~, kernels on the embedded sandbox."""
    notebooks = copy_notebooks(tmp_path)
    callback_port = free_port()
    env = isolated_env(
        lab_home(tmp_path), CONNECT_NOTEBOOK_CALLBACK_PORT=str(callback_port), CONNECT_NOTEBOOK_SANDBOX_NOW=NOW
    )
    with jupyterlab(tmp_path, env=env, args=[f"--ServerApp.root_dir={notebooks}"]) as running:
        yield Lab(running.url, running.token, callback_port)


def test_quickstart_connect_click_through_then_revoke(lab: Lab, browser_context: Any) -> None:
    expect = playwright().expect
    shot = screenshots("browser")
    url = f"{lab.url}/lab/workspaces/e2e-{uuid.uuid4().hex[:8]}/tree/quickstart.ipynb?reset&token={lab.token}"
    done = connect_through_quickstart(browser_context, url, callback=f"http://127.0.0.1:{lab.callback_port}", shot=shot)
    page, status, link, sandbox, customer, label = (
        done.page,
        done.status,
        done.link,
        done.sandbox,
        done.customer,
        done.label,
    )

    # 6. The customer revokes the app on the sandbox's console page; the sandbox tells the kernel.
    console = browser_context.new_page()
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
