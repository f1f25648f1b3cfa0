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
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from jupyter_client.blocking.client import BlockingKernelClient

NOW = "2026-11-01T12:00:00+00:00"
BASE_URL = "/user/test/"
TIMEOUT = 120  # hang guard only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str  # http://127.0.0.1:<port>/user/test
    token: str
    runtime_dir: Path
    callback_port: int
    public_url: str
    http: httpx.Client  # authenticated as the lab's user

    def run(self, kc: BlockingKernelClient, code: str) -> str:
        """Run a cell to the end; its stdout (the cell must not raise)."""
        msg_id = kc.execute(code, store_history=False, allow_stdin=False)
        out, errors = [], []
        while True:
            try:
                msg = kc.get_iopub_msg(timeout=TIMEOUT)
            except queue.Empty:
                pytest.fail(f"the kernel went quiet; printed so far: {''.join(out)!r}")
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                errors.append("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert not errors, "\n".join(errors)
        return "".join(out)


def _start_lab(tmp_path: Path, env_extra: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], int, str, list[str], threading.Thread]:
    """Start JupyterLab isolated under tmp_path; returns once it says it is running."""
    port = _free_port()
    token = uuid.uuid4().hex
    home = tmp_path / "jupyter"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONNECT_NOTEBOOK_", "TWILIO_", "JUPYTERHUB_", "PYTEST_"))
    }
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
        CONNECT_NOTEBOOK_SANDBOX_NOW=NOW,
    )
    env.update({k.replace("{port}", str(port)): v.replace("{port}", str(port)) for k, v in env_extra.items()})
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", *args,
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    log: list[str] = []
    ready = threading.Event()

    def drain() -> None:  # keeps the pipe empty and notices the "running at" line
        assert proc.stderr is not None
        for line in proc.stderr:
            log.append(line)
            if f"http://127.0.0.1:{port}/" in line and "/lab" in line:
                ready.set()
        ready.set()  # the process ended: do not leave the waiter hanging

    reader = threading.Thread(target=drain, name="lab-log", daemon=True)
    reader.start()
    if not ready.wait(TIMEOUT) or proc.poll() is not None:
        proc.kill()
        proc.wait(TIMEOUT)
        reader.join(TIMEOUT)
        proc.stderr.close()  # type: ignore[union-attr]
        pytest.fail("JupyterLab did not start:\n" + "".join(log))
    return proc, port, token, log, reader


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    callback_port = _free_port()
    public = f"http://127.0.0.1:{{port}}{BASE_URL}proxy/{callback_port}"
    proc, port, token, log, reader = _start_lab(
        tmp_path,
        {"CONNECT_NOTEBOOK_CALLBACK_PORT": str(callback_port), "CONNECT_NOTEBOOK_PUBLIC_URL": public},
        f"--ServerApp.base_url={BASE_URL}",
        f"--ServerApp.root_dir={tmp_path}",
    )
    url = f"http://127.0.0.1:{port}{BASE_URL.rstrip('/')}"
    http = httpx.Client(headers={"Authorization": f"token {token}"}, timeout=TIMEOUT)
    try:
        assert http.get(f"{url}/api/status").status_code == 200
        yield Lab(url, token, tmp_path / "jupyter" / "runtime", callback_port, public.format(port=port), http)
    finally:
        try:
            for kernel in http.get(f"{url}/api/kernels").json():
                http.delete(f"{url}/api/kernels/{kernel['id']}")
        finally:
            http.close()
            proc.terminate()
            proc.wait(TIMEOUT)
            reader.join(TIMEOUT)
            assert not reader.is_alive()
            proc.stderr.close()  # type: ignore[union-attr]


@pytest.fixture
def kernel(lab: Lab) -> Iterator[BlockingKernelClient]:
    """A kernel of that server (started over its REST API), driven with jupyter_client."""
    created = lab.http.post(f"{lab.url}/api/kernels", json={"name": "python3"})
    assert created.status_code == 201, created.text
    kc = BlockingKernelClient(connection_file=str(lab.runtime_dir / f"kernel-{created.json()['id']}.json"))
    kc.load_connection_file()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        yield kc
    finally:
        kc.stop_channels()
        assert lab.http.delete(f"{lab.url}/api/kernels/{created.json()['id']}").status_code == 204


def test_callback_arrives_through_jupyter_server_proxy_and_stays_under_its_prefix(
    lab: Lab, kernel: BlockingKernelClient
) -> None:
    proxied = lab.public_url
    assert proxied == f"{lab.url}/proxy/{lab.callback_port}"

    # The printed URLs are the proxied ones.
    printed = lab.run(kernel, "%load_ext connect_notebook")
    assert f"Authorize URL:             {proxied}/connect/authorize\n" in printed
    assert f"Deauthorize Callback URL:  {proxied}/connect/deauthorize (POST)\n" in printed

    # The button issues a state; the embedded sandbox knows the proxied Authorize URL.
    info = json.loads(
        lab.run(
            kernel,
            "import json, connect_notebook\n"
            "button = connect_notebook.connect_button()\n"
            "sb = connect_notebook._active.embedded_sandbox()\n"
            "print(json.dumps({'link': button.link.value, 'customers': sb.customer_account_sids,\n"
            "  'registered': sb.connect_app.authorize_redirect_url}))\n",
        )
    )
    assert info["registered"] == f"{proxied}/connect/authorize"
    href = html.unescape(re.search(r'class="cn-connect-link" href="([^"]+)"', info["link"]).group(1))
    state = parse_qs(urlsplit(href).query)["state"][0]
    customer = info["customers"][1]

    # The customer authorizes on the sandbox's page (reached directly, as Twilio's would be).
    with httpx.Client(timeout=TIMEOUT) as anonymous:
        decided = anonymous.post(href.partition("?")[0], data={"decision": "authorize", "AccountSid": customer, "state": state})
        assert decided.status_code == 302, decided.text
        location = decided.headers["location"]
        assert location == f"{proxied}/connect/authorize?AccountSid={customer}&state={state}"

        # Without the user's credentials the single-user server does not forward anything.
        refused = anonymous.get(location)
        assert refused.status_code in (302, 403), refused.status_code
        assert "/connect/done" not in refused.headers.get("location", "")

    # The same callback with the user's credentials goes through the proxy to the kernel.
    landed = lab.http.get(location)
    assert landed.status_code == 303, landed.text
    done_location = landed.headers["location"]
    assert re.fullmatch(r"done\?ref=[\w-]+", done_location), done_location  # relative: stays under the prefix
    assert landed.headers["cache-control"] == "no-store"
    assert landed.headers["referrer-policy"] == "no-referrer"

    done_url = urljoin(location, done_location)
    assert done_url.startswith(f"{proxied}/connect/done?ref=")
    done = lab.http.get(done_url)
    assert done.status_code == 200
    assert re.search(r"<h1>Connected: .+</h1>", done.text)

    # The session got the account; the widget says so.
    assert lab.run(
        kernel,
        "s = connect_notebook.session()\nprint(s.current.sid, len(s), button._status_text.startswith('Connected: '))",
    ) == f"{customer} 1 True\n"

    # A replay through the proxy is refused by the callback server itself (not by the proxy).
    replay = lab.http.get(location)
    assert replay.status_code == 400
    assert "already used" in replay.text

    lab.run(kernel, "%unload_ext connect_notebook")
