"""Behind JupyterHub-style routing: JupyterLab under a base URL with jupyter-server-proxy.

The kernel's callback server listens on 127.0.0.1 only; the customer's browser reaches
it through the single-user server's ``<base_url>proxy/<port>/`` route. The printed URLs
must be the proxied ones, the callback must arrive through the proxy (passing the
callback server's Host check), and the redirect to the done page must stay under the
proxy prefix.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
import websocket  # websocket-client: a dependency of jupyter_server
from lab_support import free_port, isolated_env, jupyterlab

NOW = "2026-11-01T12:00:00+00:00"
BASE_URL = "/user/test/"
TIMEOUT = 120  # hang guard only


@dataclass
class Lab:
    url: str  # http://127.0.0.1:<port>/user/test
    token: str
    callback_port: int
    public_url: str
    http: httpx.Client  # authenticated as the lab's user


class Kernel:
    """A kernel of the lab, driven over the server's websocket (the pattern of tests/test_cli.py)."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws
        self.session = uuid.uuid4().hex

    def run(self, code: str) -> str:
        """Run a cell to the end; its stdout (the cell must not raise)."""
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": self.session}
        content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}}
        self.ws.send(
            json.dumps(
                {
                    "header": {**header, "version": "5.3"},
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": {**content, "allow_stdin": False, "stop_on_error": True},
                }
            )
        )
        out, errors = [], []
        while True:
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                pytest.fail(f"the kernel went quiet; printed so far: {''.join(out)!r}")
            if msg.get("parent_header", {}).get("msg_id") != msg_id or msg.get("channel") != "iopub":
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                errors.append("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert not errors, "\n".join(errors)
        return "".join(out)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    callback_port = free_port()
    port = free_port()
    url = f"http://127.0.0.1:{port}{BASE_URL.rstrip('/')}"
    public = f"{url}/proxy/{callback_port}"  # what a browser uses to reach the kernel's callback server
    env = isolated_env(
        tmp_path / "jupyter",
        CONNECT_NOTEBOOK_SANDBOX_NOW=NOW,
        CONNECT_NOTEBOOK_CALLBACK_PORT=str(callback_port),
        CONNECT_NOTEBOOK_PUBLIC_URL=public,
    )
    args = [f"--ServerApp.root_dir={tmp_path}"]
    with (
        jupyterlab(tmp_path, env=env, args=args, base_url=BASE_URL, port=port) as running,
        httpx.Client(headers=running.headers, timeout=TIMEOUT) as http,
    ):
        assert running.url == url
        yield Lab(url, running.token, callback_port, public, http)


@pytest.fixture
def kernel(lab: Lab) -> Iterator[Kernel]:
    """A kernel of that server, started over its REST API (under the base URL)."""
    created = lab.http.post(f"{lab.url}/api/kernels", json={"name": "python3"})
    assert created.status_code == 201, created.text
    kernel_id = created.json()["id"]
    try:
        ws = websocket.create_connection(
            f"{lab.url.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels",
            header=[f"Authorization: token {lab.token}"],
            timeout=TIMEOUT,
        )
        try:
            yield Kernel(ws)
        finally:
            ws.close()
    finally:
        assert lab.http.delete(f"{lab.url}/api/kernels/{kernel_id}").status_code == 204


def test_callback_arrives_through_jupyter_server_proxy_and_stays_under_its_prefix(lab: Lab, kernel: Kernel) -> None:
    proxied = lab.public_url
    assert proxied == f"{lab.url}/proxy/{lab.callback_port}"

    # The printed URLs are the proxied ones.
    printed = kernel.run("%load_ext connect_notebook")
    assert f"Authorize URL:             {proxied}/connect/authorize\n" in printed
    assert f"Deauthorize Callback URL:  {proxied}/connect/deauthorize (POST)\n" in printed

    # The button issues a state; the embedded sandbox knows the proxied Authorize URL.
    info = json.loads(
        kernel.run(
            "import json, connect_notebook\n"
            "button = connect_notebook.connect_button()\n"
            "sb = connect_notebook._kernel.current().embedded_sandbox()\n"
            "print(json.dumps({'link': button.link.value, 'customers': sb.customer_account_sids,\n"
            "  'registered': sb.connect_app.authorize_redirect_url}))\n",
        )
    )
    assert info["registered"] == f"{proxied}/connect/authorize"
    href = html.unescape(re.search(r'class="cn-connect-link" href="([^"]+)"', info["link"]).group(1))
    state = parse_qs(urlsplit(href).query)["state"][0]
    customer = info["customers"][1]

    # Record the Host (and proxy prefix) of every request that reaches the callback server.
    kernel.run(
        "from connect_notebook import _callback\n"
        "seen_hosts, _prepare = [], _callback._Page.prepare\n"
        "def _spy(self):\n"
        "    seen_hosts.append([self.request.host, self.request.headers.get('X-Forwarded-Prefix')])\n"
        "    _prepare(self)\n"
        "_callback._Page.prepare = _spy\n",
    )

    # The customer authorizes on the sandbox's page (reached directly, as Twilio's would be).
    with httpx.Client(timeout=TIMEOUT) as anonymous:
        form = {"decision": "authorize", "AccountSid": customer, "state": state}
        decided = anonymous.post(href.partition("?")[0], data=form)
        assert decided.status_code == 302, decided.text
        location = decided.headers["location"]
        # The app receives its Connect subaccount under the customer's main account (§8.1).
        sid = parse_qs(urlsplit(location).query)["AccountSid"][0]
        assert re.fullmatch(r"AC[0-9a-f]{32}", sid) and sid != customer
        assert location == f"{proxied}/connect/authorize?AccountSid={sid}&state={state}"

        # Without the user's cookie or token the single-user server forwards nothing (it sends the
        # browser to its login page), so the state is not used up and the session does not change.
        refused = anonymous.get(location)
        assert refused.status_code == 302, refused.status_code
        assert refused.headers["location"].startswith(f"{BASE_URL}login?next=")

    # The same callback with the user's credentials goes through the proxy to the kernel.
    landed = lab.http.get(location)
    assert landed.status_code == 303, landed.text
    done_location = landed.headers["location"]
    assert re.fullmatch(r"done\?ref=[\w.-]+", done_location), done_location  # relative: stays under the prefix
    assert landed.headers["cache-control"] == "no-store"
    assert landed.headers["referrer-policy"] == "no-referrer"

    done_url = urljoin(location, done_location)
    assert done_url.startswith(f"{proxied}/connect/done?ref=")
    done = lab.http.get(done_url)
    assert done.status_code == 200
    assert customer not in str(done.url) and sid not in str(done.url)

    # The session got the account (only that one); the widget and the done page name the customer's
    # main account, not the Connect subaccount the requests authenticate as.
    session = json.loads(
        kernel.run(
            "s = connect_notebook.session()\n"
            "print(json.dumps({'sids': [a.sid for a in s.accounts], 'name': s.current.friendly_name,\n"
            "  'customer': s.current.customer_sid, 'status': button._status_text, 'label': s.current.label}))\n",
        )
    )
    assert session["sids"] == [sid]
    assert session["customer"] == customer
    assert session["name"] == "Northwind Logistics"
    assert session["label"] == f"Northwind Logistics (AC…{customer[-4:]})"
    assert f"<h1>Connected: {html.escape(session['name'])}</h1>" in done.text
    assert session["status"] == f"Connected: {session['label']}"
    assert sid[-4:] not in session["status"]

    # A replay through the proxy is refused by the callback server itself (not by the proxy).
    replay = lab.http.get(location)
    assert replay.status_code == 400
    assert "already used" in replay.text

    # What reached the callback server: the callback, the done page and the replay (the anonymous
    # request never did), each marked as proxied. jupyter-server-proxy 4.6 does not rewrite Host: the
    # server sees the lab's host:port, which passes its check because it is CONNECT_NOTEBOOK_PUBLIC_URL's.
    # Were the proxy to rewrite it to the upstream's (localhost:<port>), the check would pass as well.
    hosts = json.loads(kernel.run("print(json.dumps(seen_hosts))"))
    assert len(hosts) == 3, hosts
    allowed = {urlsplit(lab.url).netloc, f"localhost:{lab.callback_port}", f"127.0.0.1:{lab.callback_port}"}
    for host, prefix in hosts:
        assert host in allowed
        assert prefix == f"{BASE_URL}proxy/{lab.callback_port}"

    kernel.run("%unload_ext connect_notebook")
