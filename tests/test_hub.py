"""Connect through a real JupyterHub: log in, open the quickstart, click Connect, come back through the hub.

JupyterHub 6 on loopback (``tests/hub_support.py``: configurable-http-proxy from npm, the
dummy authenticator, the local-process spawner, jupyter-server-proxy in the single-user
server), with ``public_url`` set as an admin would. The kernel learns its server's public
URL from ``JUPYTERHUB_PUBLIC_URL`` alone, so the printed Authorize URL is the hub-proxied
``<hub>/user/analyst/proxy/<port>/connect/authorize``; the sandbox's authorize page sends
the browser there, the callback arrives through the hub's proxy and the single-user
server, the done page stays under that prefix, and the widget says Connected with the
customer's calls below it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

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
from hub_support import PASSWORD, Hub, jupyterhub
from lab_support import free_port

pytestmark = needs_chromium
USER = "analyst"


def log_in(browser_context: Any, hub: Hub) -> None:
    """Sign in on the hub's login page; the hub spawns the user's server and lands on it."""
    expect = playwright().expect
    page = browser_context.new_page()
    page.goto(f"{hub.url}hub/login")
    page.locator("#username_input").fill(USER)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    expect(page).to_have_url(f"{hub.user_url(USER)}lab", timeout=MS)
    page.close()


def test_connect_through_a_real_jupyterhub(tmp_path: Path, browser_context: Any) -> None:
    notebooks = copy_notebooks(tmp_path)
    lab_home(tmp_path)
    port = free_port()
    environment = {"CONNECT_NOTEBOOK_CALLBACK_PORT": str(port), "CONNECT_NOTEBOOK_SANDBOX_NOW": NOW}
    with jupyterhub(tmp_path, notebooks, environment=environment) as hub:
        log_in(browser_context, hub)
        server = hub.user_url(USER)
        url = f"{server}lab/workspaces/hub-{uuid.uuid4().hex[:8]}/tree/quickstart.ipynb?reset"
        done = connect_through_quickstart(
            browser_context, url, callback=f"{server}proxy/{port}", shot=screenshots("hub")
        )
        assert done.status.inner_text() == f"Connected: {done.label}"
