"""A real kernel: `%load_ext` starts the callback server, and a callback from outside
reaches the session while a cell is blocked in `button.wait()`.

The test process plays the customer's browser: it opens the embedded sandbox's
authorize page from the button's link, submits the form, and follows the redirect
to the kernel's callback server, all while the kernel's main thread is blocked.
"""

from __future__ import annotations

import html
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from kernel_support import TIMEOUT, Kernel, embedded_kernel

NOW = "2026-11-01T12:00:00+00:00"


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[tuple[Kernel, int]]:
    """A python3 kernel on the embedded sandbox, with its callback server on a free port."""
    with embedded_kernel(tmp_path, NOW) as started:
        yield started


def _status_html(msg: dict[str, Any]) -> str:
    return str(msg["content"]["data"].get("state", {}).get("value", ""))


def test_callback_reaches_a_cell_blocked_in_wait_and_unload_frees_the_port(kernel: tuple[Kernel, int]) -> None:
    k, port = kernel
    callback = f"http://127.0.0.1:{port}"

    # %load_ext: the embedded sandbox, and the two URLs for this port.
    printed = k.run("%load_ext connect_notebook")
    assert "uses the embedded Twilio sandbox" in printed
    assert f"Authorize URL:             {callback}/connect/authorize\n" in printed
    assert f"Deauthorize Callback URL:  {callback}/connect/deauthorize (POST)\n" in printed

    # The button; its link carries a fresh state. Its status widget's comm id, to recognise updates.
    info = json.loads(
        k.run(
            "import json, connect_notebook\n"
            "button = connect_notebook.connect_button()\n"
            "print(json.dumps({'link': button.link.value, 'status_comm': button.status.model_id,\n"
            "  'customers': connect_notebook._kernel.current().embedded_sandbox().customer_account_sids}))\n"
        )
    )
    href = html.unescape(re.search(r'class="cn-connect-link" href="([^"]+)"', info["link"]).group(1))
    assert 'target="_blank"' in info["link"]
    state = parse_qs(urlsplit(href).query)["state"][0]
    customer = info["customers"][0]

    # The cell that blocks the kernel's main thread until a customer connects.
    blocked = k.start("account = button.wait(timeout=120)\nprint('connected sid', account.sid)")

    def is_status(text: str) -> Any:
        return lambda m: (
            m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == info["status_comm"] and text in _status_html(m)
        )

    # The cell is inside wait(): it said so on the status line, and it is still running.
    k.pump(blocked, until=is_status("Waiting for the customer to authorize"))
    assert not blocked.done

    # The customer's browser: the authorize page, the form, then the callback.
    with httpx.Client(timeout=TIMEOUT) as browser:
        page = browser.get(href)
        assert page.status_code == 200
        radios = re.findall(r"<input type=radio name=AccountSid value='(AC[0-9a-f]{32})'", page.text)
        assert radios == info["customers"]
        form = re.search(r'<form method=post action="([^"]+)">', page.text).group(1)
        decided = browser.post(
            urljoin(href, form), data={"decision": "authorize", "AccountSid": customer, "state": state}
        )
        assert decided.status_code == 302
        location = decided.headers["location"]
        # The app receives its Connect subaccount under the customer's main account (§8.1), not the main account.
        sid = parse_qs(urlsplit(location).query)["AccountSid"][0]
        assert re.fullmatch(r"AC[0-9a-f]{32}", sid) and sid != customer
        assert location == f"{callback}/connect/authorize?AccountSid={sid}&state={state}"

        # Served by the kernel's callback thread while the main thread is still blocked in wait().
        landed = browser.get(location)
        assert not blocked.done
        assert landed.status_code == 303, landed.text
        done_url = landed.headers["location"]
        assert done_url.startswith("done?ref=") and "AccountSid" not in done_url
        done = browser.get(urljoin(location, done_url))
        assert done.status_code == 200
        assert "<h1>Connected: " in done.text
        assert customer not in str(done.url) and sid not in str(done.url)
        name = re.search(r"<h1>Connected: (.+?)</h1>", done.text).group(1)
        assert name == "Harbor Dental Group"  # the customer's main account, not the Connect subaccount

    # The widget's "Connected" update reached iopub, and only then did the blocked cell finish.
    # It names the main account (its last four digits), never the Connect subaccount.
    connected = k.pump(blocked, until=is_status(f"Connected: {name} (AC…{customer[-4:]})"))
    assert connected is not None, f"no Connected status update; cell printed {blocked.stdout!r}"
    assert sid[-4:] not in _status_html(connected)
    assert "connected sid" not in blocked.stdout  # the update went out before the cell could print
    k.finish(blocked)
    assert not blocked.errors, "\n".join(blocked.errors)
    assert blocked.stdout == f"connected sid {sid}\n"

    # The session has it (requests authenticate as the Connect subaccount; it names the main account);
    # the state is used up (replaying the callback changes nothing).
    assert (
        k.run(
            "current = connect_notebook.session().current\n"
            "print(current.sid, current.customer_sid, len(connect_notebook.session()))"
        )
        == f"{sid} {customer} 1\n"
    )
    replay = httpx.get(location, timeout=TIMEOUT)
    assert replay.status_code == 400
    assert "already used" in replay.text

    # %unload_ext stops the server thread and frees the port.
    k.run("%unload_ext connect_notebook")
    threads = k.run("import threading\nprint([t.name for t in threading.enumerate() if t.name.endswith('-callback')])")
    assert threads == "[]\n"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{callback}/connect/done", timeout=TIMEOUT)
    with socket.socket() as again:  # as a restarted server binds it (SO_REUSEADDR, like _serving._bind)
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()
