"""The connect-notebook command: `sandbox` serves until Ctrl-C; `lab` wires JupyterLab to a sandbox."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import tornado.websocket
from lab_support import free_port, isolated_env, jupyterlab

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "connect_notebook._cli"]


def _read_until(stream, pattern: str, limit: int = 200) -> tuple[re.Match[str], list[str]]:
    """Read lines until one matches; a closed stream or too many lines fails the test."""
    seen = []
    for _ in range(limit):
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if m := re.search(pattern, line):
            return m, seen
    pytest.fail(f"no line matched {pattern!r}; got:\n{''.join(seen)}")


def _first_customer(text: str) -> tuple[str, str]:
    """The first customer in the sandbox's banner: (its main account, the AccountSid the Connect App holds).

    The banner lists each main account, indented two spaces, then its subaccounts and, once it has
    authorized the app, ``Connected AccountSid AC…`` (its Connect subaccount), indented four.
    """
    listing = text.split("\nCustomers (", 1)[1]
    main = re.search(r"^  (AC[0-9a-f]{32})  \S", listing, re.M)
    connected = re.search(r"^    Connected AccountSid (AC[0-9a-f]{32})$", listing, re.M)
    assert main is not None and connected is not None, text
    assert main.start() < connected.start()  # the Connected line belongs to the first customer
    return main.group(1), connected.group(1)


@pytest.fixture
def sandbox_process() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [
            *CLI,
            "sandbox",
            "--port",
            "0",
            "--calls",
            "300",
            "--days",
            "5",
            "--now",
            "2026-11-01T12:00:00Z",
            "--authorize",
            "all",
            "--rate-limit",
            "0",
            "--retry-after",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(30)
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]


def test_sandbox_command_prints_urls_and_credentials_serves_and_stops_on_ctrl_c(sandbox_process) -> None:
    (m, lines) = _read_until(sandbox_process.stdout, r"Press Ctrl-C")
    text = "".join(lines)
    url = re.search(r"serving on (http://127\.0\.0\.1:\d+)", text).group(1)
    token = re.search(r"Auth Token\s+([0-9a-f]{32})", text).group(1)
    customer, connected = _first_customer(text)
    assert f"{url}/authorize/CN" in text
    # As the Connect App: the Connect subaccount's SID with the owner's token, reading the main account.
    response = httpx.get(f"{url}/2010-04-01/Accounts/{customer}/Calls.json", auth=(connected, token))
    assert response.status_code == 200
    assert len(response.json()["calls"]) == 50
    # The main account's own SID with the owner's token is not an authorization.
    refused = httpx.get(f"{url}/2010-04-01/Accounts/{customer}/Calls.json", auth=(customer, token))
    assert refused.status_code == 401
    sandbox_process.send_signal(signal.SIGINT)
    assert sandbox_process.wait(30) == 0
    assert "Sandbox stopped." in sandbox_process.stdout.read()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


def test_sandbox_command_passes_fault_options_to_the_sandbox() -> None:
    proc = subprocess.Popen(
        [
            *CLI,
            "sandbox",
            "--port",
            "0",
            "--calls",
            "50",
            "--days",
            "2",
            "--authorize",
            "all",
            "--rate-limit",
            "1",
            "--retry-after",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, lines = _read_until(proc.stdout, r"Press Ctrl-C")
        text = "".join(lines)
        url = re.search(r"serving on (http://127\.0\.0\.1:\d+)", text).group(1)
        token = re.search(r"Auth Token\s+([0-9a-f]{32})", text).group(1)
        customer, connected = _first_customer(text)
        response = httpx.get(f"{url}/2010-04-01/Accounts/{customer}/Calls.json", auth=(connected, token))
        assert response.status_code == 429
        assert response.json()["code"] == 20429
        assert response.headers["Retry-After"] == "3"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate-limit", "2"], "rate_limit is a probability between 0 and 1"),
        (["--concurrency-limit", "0"], "concurrency_limit must be at least 1"),
        (["--now", "yesterday"], "now must be an ISO 8601 time"),
        (["--customers", "0"], "customers must be between 1 and 64"),
        (["--authorize", "AC00000000000000000000000000000000"], "is not a sandbox customer account"),
    ],
    ids=["probability", "concurrency", "now", "customers", "authorize"],
)
def test_sandbox_command_rejects_bad_options_with_a_clear_message(args: list[str], message: str) -> None:
    result = subprocess.run([*CLI, "sandbox", "--port", "0", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_sandbox_command_on_a_taken_port_names_the_port_and_the_option() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*CLI, "sandbox", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr


def test_python_dash_m_sandbox_prints_its_url_first() -> None:
    # SIGINT right after the first line lands while the rest is still printing: it must stop cleanly too.
    with subprocess.Popen(
        [sys.executable, "-m", "connect_notebook.sandbox", "--port", "0", "--calls", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            first = proc.stdout.readline()
        finally:
            proc.send_signal(signal.SIGINT)
            status = proc.wait(30)
        assert re.fullmatch(r"Twilio sandbox serving on http://127\.0\.0\.1:\d+\n", first)
        assert status == 0, proc.stderr.read()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _execute(base: str, token: str, code: str) -> str:
    """Run code in a new kernel of a running Jupyter server; return what it printed."""
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"token {token}"}) as client:
        kernel = (await client.post("/api/kernels", json={"name": "python3"})).raise_for_status().json()
        ws = await tornado.websocket.websocket_connect(
            f"{base.replace('http', 'ws')}/api/kernels/{kernel['id']}/channels?token={token}"
        )
        msg_id = uuid.uuid4().hex
        ws.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": "test",
                        "session": uuid.uuid4().hex,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                }
            )
        )
        out = []
        while True:
            raw = await asyncio.wait_for(ws.read_message(), 120)
            assert raw is not None, "the kernel's websocket closed"
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        ws.close()
        await client.delete(f"/api/kernels/{kernel['id']}")
        return "".join(out)


def test_lab_starts_jupyterlab_whose_kernels_reach_the_sandbox_without_configuration(tmp_path: Path) -> None:
    port = free_port()
    env = isolated_env(tmp_path / "jupyter")
    command = [
        *CLI,
        "lab",
        "--port",
        str(port),
        "--sandbox-port",
        "0",
        "--calls",
        "200",
        "--no-browser",
        "--notebook-dir",
        str(ROOT / "notebooks"),
        "--",
    ]
    with jupyterlab(tmp_path, env=env, command=command, port=port, stdout=subprocess.PIPE) as lab:
        proc, base, token = lab.proc, lab.url, lab.token
        contents = httpx.get(f"{base}/api/contents/quickstart.ipynb", headers=lab.headers)
        assert contents.status_code == 200
        printed = asyncio.run(
            _execute(
                base,
                token,
                (
                    # The variable holds the AccountSids the Connect App holds (Connect subaccounts):
                    # the family comes from /Accounts.json, the calls from the main account's path.
                    "import os, httpx\n"
                    "connected = os.environ['CONNECT_NOTEBOOK_SANDBOX_CUSTOMERS'].split(',')[0]\n"
                    "api = os.environ['CONNECT_NOTEBOOK_API_URL']\n"
                    "auth = (connected, os.environ['CONNECT_NOTEBOOK_AUTH_TOKEN'])\n"
                    "family = httpx.get(api + '/2010-04-01/Accounts.json', auth=auth).json()['accounts']\n"
                    "main = next(a['sid'] for a in family if a['sid'] == a['owner_account_sid'])\n"
                    "r = httpx.get(api + f'/2010-04-01/Accounts/{main}/Calls.json', auth=auth)\n"
                    "print('status', r.status_code, 'calls', len(r.json()['calls']), 'family', len(family),"
                    " 'connected is main', connected == main)\n"
                ),
            )
        )
        assert "status 200 calls 50 family 4 connected is main False" in printed
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        assert proc.stdout is not None
        out = proc.stdout.read()
        assert "Starting JupyterLab" in out
        assert "Sandbox stopped." in out
