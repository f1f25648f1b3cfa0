"""Several notebooks at once: real kernels share the one callback port the Connect App has registered.

Two and three python3 kernels (jupyter_client) run the quickstart's first cells against one
sandbox (credentials in their environment, as for a real Connect App, whose Authorize URL
names the shared port). The first to load the extension holds the port; the others register
with it. This process plays each customer's browser: it submits the sandbox's authorize page
with the state of one kernel's Connect button and follows the redirects, through the holder,
to the page that names the customer; that kernel, and only that one, then has the account.
The holder is then killed (``kill -9``) midway, and another kernel takes the port over.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from jupyter_client.manager import KernelManager, start_new_kernel
from kernel_support import TIMEOUT, Kernel, free_port, kernel_env

from connect_notebook.sandbox import Sandbox

BUTTON = (
    "import json, connect_notebook\n"
    "button = connect_notebook.connect_button()\n"
    "print(json.dumps({'link': button.link.value}))\n"
)
CURRENT = (
    "import json, connect_notebook\n"
    "a = connect_notebook.session().current\n"
    "print(json.dumps(a.customer_sid if a else None))\n"
)


class Notebook:
    """One kernel with the extension loaded: its Connect link, and what its session holds."""

    def __init__(self, km: KernelManager, kernel: Kernel) -> None:
        self.km, self.kernel = km, kernel
        self.kernel.run("%load_ext connect_notebook\n")
        self.link = self.new_link()

    def new_link(self) -> str:
        """A fresh Connect button's link (a new state)."""
        value = json.loads(self.kernel.run(BUTTON).strip().splitlines()[-1])["link"]
        match = re.search(r'class="cn-connect-link" href="([^"]+)"', value)
        assert match is not None, value
        return html.unescape(match.group(1))

    def connected_customer(self) -> str | None:
        return json.loads(self.kernel.run(CURRENT).strip().splitlines()[-1])

    def settlements(self) -> int:
        out = self.kernel.run(
            "from connect_notebook._kernel import current\n"
            "g = current().connection.guest\n"
            "print(g.settlements if g else -1)\n"
        )
        return int(out.strip().splitlines()[-1])

    def wait_settled(self, after: int) -> bool:
        out = self.kernel.run(
            "from connect_notebook._kernel import current\n"
            f"print(current().connection.guest.wait_settled({TIMEOUT}, after={after}))\n"
        )
        return out.strip().splitlines()[-1] == "True"


def authorize(sandbox: Sandbox, link: str, customer: str) -> httpx.Response:
    """What the customer's browser does: submit the authorize page for ``customer``, follow the redirects."""
    page, _, query = link.partition("?")
    state = parse_qs(query)["state"][0]
    assert urlsplit(page).path == urlsplit(sandbox.authorize_url).path
    with httpx.Client(follow_redirects=True, timeout=TIMEOUT, trust_env=False) as browser:
        return browser.post(page, data={"decision": "authorize", "AccountSid": customer, "state": state})


@pytest.fixture
def start(sandbox: Sandbox, tmp_path: Path) -> Iterator[object]:
    """Starts notebooks on one shared port and one config folder; shuts every one down afterwards."""
    port = free_port()
    env = kernel_env(
        CONNECT_NOTEBOOK_ACCOUNT_SID=sandbox.owner_account_sid,
        CONNECT_NOTEBOOK_AUTH_TOKEN=sandbox.owner_auth_token,
        CONNECT_NOTEBOOK_CONNECT_APP_SID=sandbox.connect_app_sid,
        CONNECT_NOTEBOOK_API_URL=sandbox.api_url,
        CONNECT_NOTEBOOK_AUTHORIZE_BASE_URL=sandbox.url,
        CONNECT_NOTEBOOK_REGISTER_CALLBACK="1",
        CONNECT_NOTEBOOK_CALLBACK_PORT=str(port),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    started: list[Notebook] = []

    def one() -> Notebook:
        km, kc = start_new_kernel(kernel_name="python3", startup_timeout=TIMEOUT, env=env, cwd=str(tmp_path))
        notebook = Notebook(km, Kernel(kc))
        started.append(notebook)
        return notebook

    one.port = port  # type: ignore[attr-defined]
    yield one
    for notebook in started:
        notebook.kernel.kc.stop_channels()
        if notebook.km.is_alive():
            notebook.km.shutdown_kernel(now=True)


@pytest.mark.parametrize("order", [pytest.param((1, 0), id="second-first"), pytest.param((0, 1), id="first-first")])
def test_two_notebooks_each_connect_through_the_one_authorize_url(
    sandbox: Sandbox, start: object, order: tuple[int, int]
) -> None:
    notebooks = [start(), start()]  # type: ignore[operator]
    customers = sandbox.customer_account_sids[:2]
    registered = sandbox.connect_app.authorize_redirect_url
    assert registered == f"http://127.0.0.1:{start.port}/connect/authorize"  # type: ignore[attr-defined]
    for i in order:
        page = authorize(sandbox, notebooks[i].link, customers[i])
        assert page.status_code == 200, page.text
        assert "Connected:" in page.text
    for notebook, customer in zip(notebooks, customers, strict=True):
        assert notebook.connected_customer() == customer  # each kernel has its own customer, and only it
    assert sandbox.connect_app.authorize_redirect_url == registered  # never re-registered elsewhere


def test_three_notebooks_and_the_holder_killed_midway(sandbox: Sandbox, start: object) -> None:
    holder, second, third = start(), start(), start()  # type: ignore[operator]
    customers = sandbox.customer_account_sids[:3]

    page = authorize(sandbox, second.link, customers[1])
    assert page.status_code == 200, page.text
    assert second.connected_customer() == customers[1]
    assert holder.connected_customer() is None
    before = {nb: nb.settlements() for nb in (second, third)}

    holder.km.shutdown_kernel(now=True)  # kill -9: no goodbye to the others
    assert all(nb.wait_settled(after=before[nb]) for nb in (second, third))  # one took the port, one joined it

    page = authorize(sandbox, third.link, customers[2])  # a link made before the holder died
    assert page.status_code == 200, page.text
    assert third.connected_customer() == customers[2]
    # The dead kernel's link gets a page that says what to do, not a hang or a 5xx.
    page = authorize(sandbox, holder.link, customers[0])
    assert page.status_code == 400
    assert "no longer running" in page.text and "click Connect with Twilio again" in page.text
    # And a new link in the surviving guest still connects.
    page = authorize(sandbox, second.new_link(), customers[0])
    assert page.status_code == 200, page.text
    assert second.connected_customer() == customers[0]


def test_a_state_no_kernel_issued_gets_a_page_that_says_what_to_do(sandbox: Sandbox, start: object) -> None:
    start()  # type: ignore[operator]
    for state in ("deadbeef.not-a-state", "no-kernel-id-in-it"):
        with httpx.Client(timeout=TIMEOUT, trust_env=False) as browser:
            page = browser.get(
                f"http://127.0.0.1:{start.port}/connect/authorize",  # type: ignore[attr-defined]
                params={"AccountSid": "AC" + "0" * 32, "state": state},
            )
        assert page.status_code == 400
        assert "Connect" in page.text and ("again" in page.text or "start again" in page.text)
