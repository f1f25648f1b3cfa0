"""The shared callback port in one process: the holder's key, registration, relaying, deauthorize, handover.

Two real kernels' worth of callback servers run here on loopback (one on the shared port,
one on a port of its own); ``test_shared_port.py`` does the same with real kernels.
"""

from __future__ import annotations

import functools
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from kernel_support import TIMEOUT, free_port

from connect_notebook import ConfigError
from connect_notebook._callback import CallbackServer
from connect_notebook._family import describe_customer
from connect_notebook._kernel import app_for_sandbox
from connect_notebook._relay import KEY_HEADER, Guest, key_file
from connect_notebook._session import Session
from connect_notebook.sandbox import Sandbox


@dataclass
class Pair:
    holder: CallbackServer
    guest_server: CallbackServer
    guest: Guest
    key: Path
    port: int


def server(sandbox: Sandbox, port: int, session: Session | None = None, app_sid: str | None = None) -> CallbackServer:
    return CallbackServer(
        session=session or Session(),
        verify=functools.partial(describe_customer, app_for_sandbox(sandbox)),
        auth_token=sandbox.owner_auth_token,
        connect_app_sid=app_sid or sandbox.connect_app_sid,
        port=port,
    ).start()


@pytest.fixture
def pair(sandbox: Sandbox, tmp_path: Path) -> Iterator[Pair]:
    """A holder on a fixed port with the Connect App's URLs, and a guest registered with it."""
    port = free_port()
    key = key_file(tmp_path, port)
    holder = server(sandbox, port)
    holder.relay.hold(key)
    sandbox.update_connect_app(
        authorize_redirect_url=holder.authorize_callback_url, deauthorize_callback_url=holder.deauthorize_callback_url
    )
    guest_server = server(sandbox, 0)
    guest_server.public_url = holder.public_url
    guest = Guest(guest_server, port, key, on_hold=lambda: guest_server.relay.hold(key)).join()
    assert guest.wait_settled(TIMEOUT)
    yield Pair(holder, guest_server, guest, key, port)
    guest.stop()
    guest_server.stop()
    holder.stop()


def connect(sandbox: Sandbox, state: str, customer: str) -> httpx.Response:
    with httpx.Client(follow_redirects=True, timeout=TIMEOUT, trust_env=False) as browser:
        form = {"decision": "authorize", "AccountSid": customer, "state": state}
        return browser.post(sandbox.authorize_url, data=form)


def test_the_key_file_is_readable_by_this_user_only(pair: Pair) -> None:
    assert stat.S_IMODE(pair.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(pair.key.parent.stat().st_mode) == 0o700
    assert len(pair.key.read_text()) >= 40


@pytest.mark.parametrize("key", [None, "", "wrong"])
def test_registering_without_the_holders_key_is_refused(pair: Pair, key: str | None) -> None:
    headers = {} if key is None else {KEY_HEADER: key}
    body = {"id": "intruder", "port": 1, "connect_app_sid": pair.holder.connect_app_sid}
    with httpx.Client(trust_env=False) as client:
        answer = client.post(f"http://127.0.0.1:{pair.port}/connect/_kernels", json=body, headers=headers)
        watch = client.get(f"http://127.0.0.1:{pair.port}/connect/_kernels/watch", headers=headers)
    assert (answer.status_code, watch.status_code) == (403, 403)
    assert "intruder" not in pair.holder.relay.guests


def test_a_guest_for_another_connect_app_is_refused_with_a_clear_error(
    sandbox: Sandbox, pair: Pair, tmp_path: Path
) -> None:
    other = server(sandbox, 0, app_sid="CN" + "9" * 32)
    try:
        with pytest.raises(ConfigError, match="another Connect App"):
            Guest(other, pair.port, pair.key, on_hold=lambda: None).join()
    finally:
        other.stop()


def test_the_holder_relays_a_guests_callback_and_its_done_page(sandbox: Sandbox, pair: Pair) -> None:
    customer = sandbox.customer_account_sids[1]
    page = connect(sandbox, pair.guest_server.tokens.issue(), customer)
    assert page.status_code == 200, page.text
    assert "Connected:" in page.text
    assert str(page.url).startswith(f"http://127.0.0.1:{pair.port}/connect/done?ref=")  # served via the holder
    assert pair.guest_server.session.current is not None
    assert pair.guest_server.session.current.customer_sid == customer
    assert pair.holder.session.current is None


def test_a_callback_to_localhost_is_relayed_too(sandbox: Sandbox, pair: Pair) -> None:
    # The browser may name the shared port "localhost"; the guest accepts what the holder accepted.
    customer = sandbox.customer_account_sids[0]
    state = pair.guest_server.tokens.issue()
    with httpx.Client(follow_redirects=True, timeout=TIMEOUT, trust_env=False) as browser:
        page = browser.get(
            f"http://localhost:{pair.port}/connect/authorize",
            params={"AccountSid": sandbox.authorize(customer), "state": state},
        )
    assert page.status_code == 200, page.text
    assert pair.guest_server.session.current is not None


def test_a_signed_deauthorize_reaches_every_kernel_sharing_the_port(sandbox: Sandbox, pair: Pair) -> None:
    customer = sandbox.customer_account_sids[0]
    assert connect(sandbox, pair.guest_server.tokens.issue(), customer).status_code == 200
    connected = pair.guest_server.session.current
    assert connected is not None and not connected.revoked
    result = sandbox.deauthorize(customer)
    assert result.status == 200
    account = pair.guest_server.session.get(connected.sid)
    assert account is not None and account.revoked


def test_when_the_holder_stops_the_guest_takes_the_port_over(sandbox: Sandbox, pair: Pair) -> None:
    before = pair.guest.settlements
    pair.holder.stop()
    pair.holder.relay.release(pair.key)
    assert pair.guest.wait_settled(TIMEOUT, after=before)
    assert pair.guest.holding
    # The shared port is the guest's now: its links connect through it, and a new kernel can join it.
    customer = sandbox.customer_account_sids[2]
    page = connect(sandbox, pair.guest_server.tokens.issue(), customer)
    assert page.status_code == 200, page.text
    assert pair.guest_server.session.current is not None
    newcomer = server(sandbox, 0)
    try:
        joined = Guest(newcomer, pair.port, pair.key, on_hold=lambda: None).join()
        assert joined.wait_settled(TIMEOUT)
        joined.stop()
    finally:
        newcomer.stop()


def test_a_link_from_a_stopped_guest_gets_a_page_that_says_what_to_do(sandbox: Sandbox, pair: Pair) -> None:
    state = pair.guest_server.tokens.issue()
    pair.guest.stop()
    pair.guest_server.stop()
    page = connect(sandbox, state, sandbox.customer_account_sids[0])
    assert page.status_code == 400
    assert "no longer running" in page.text
