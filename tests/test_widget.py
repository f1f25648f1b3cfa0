"""`ConnectButton` in process: its link, live status line, paste field and ``wait()``."""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable, Iterator
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ipywidgets as widgets  # type: ignore[import-untyped]  # ipywidgets ships no type information
import pytest

from connect_notebook._callback import CallbackServer, StateTokens
from connect_notebook._exceptions import CallbackTimeout, ConnectDeclined
from connect_notebook._family import describe_customer
from connect_notebook._kernel import app_for_sandbox
from connect_notebook._session import ConnectedAccount, Session
from connect_notebook._widget import ConnectButton
from connect_notebook.sandbox import Sandbox

WAIT = 30.0  # only guards against a hang; never reached when the code works


class Verifier:
    """The real sandbox verifier, recording which SIDs it was asked about."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._verify = functools.partial(describe_customer, app_for_sandbox(sandbox))
        self.calls: list[str] = []

    def __call__(self, sid: str) -> ConnectedAccount:
        self.calls.append(sid)
        account: ConnectedAccount = self._verify(sid)
        return account


@pytest.fixture
def session() -> Session:
    return Session()


@pytest.fixture
def tokens() -> StateTokens:
    return StateTokens()


@pytest.fixture
def verify(sandbox: Sandbox) -> Verifier:
    return Verifier(sandbox)


@pytest.fixture
def make_button(
    sandbox: Sandbox, session: Session, tokens: StateTokens, verify: Verifier
) -> Iterator[Callable[..., ConnectButton]]:
    """Builds ConnectButtons for the sandbox's app; closes them afterwards.

    What is pasted goes to a callback server's ``accept_pasted``, as in a kernel (the server
    is not started: pasting needs no port).
    """
    made: list[ConnectButton] = []
    server = CallbackServer(
        session=session,
        verify=verify,
        auth_token=sandbox.owner_auth_token,
        connect_app_sid=sandbox.connect_app_sid,
        tokens=tokens,
    )

    def make(**kwargs: Any) -> ConnectButton:
        button = ConnectButton(
            session=session,
            authorize_url=lambda: f"{sandbox.authorize_url}?state={tokens.issue()}",
            paste=server.accept_pasted,
            **kwargs,
        )
        made.append(button)
        return button

    yield make
    for button in made:
        button.close()


@pytest.fixture
def button(make_button: Callable[..., ConnectButton]) -> ConnectButton:
    return make_button()


@pytest.fixture
def authorized(sandbox: Sandbox) -> str:
    """The AccountSid the Connect App received from the first customer: its Connect subaccount."""
    return sandbox.authorize(sandbox.customer_account_sids[0])


def status(button: ConnectButton) -> str:
    """The status line as the browser shows it (the synced HTML, without tags)."""
    return unescape(re.sub(r"<[^>]+>", "", button.status.value))


def link_href(button: ConnectButton) -> str:
    match = re.search(r'href="([^"]*)"', button.link.value)
    assert match is not None, button.link.value
    return unescape(match.group(1))


def link_state(button: ConnectButton) -> str:
    [state] = parse_qs(urlsplit(link_href(button)).query)["state"]
    return state


def walk(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def synced_state(button: ConnectButton) -> str:
    """Every synced trait of the button and its children, as the frontend would get them."""
    return json.dumps([w.get_state() for w in walk(button)], default=str)


def add_from_another_thread(session: Session, account: ConnectedAccount) -> None:
    """What the callback server does: add the account from its own thread."""
    thread = threading.Thread(target=session.add, args=(account,), name="test-callback")
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive()


def customer(sandbox: Sandbox, index: int = 0) -> ConnectedAccount:
    """A customer as the verifier describes it: the Connect subaccount's SID, the main account's name."""
    a = sandbox.state.customers[index]
    connected = sandbox.authorize(a.sid)
    return ConnectedAccount(sid=connected, friendly_name=a.friendly_name, customer_sid=a.sid)


# -- what it shows --


def test_new_button_says_not_connected(button: ConnectButton) -> None:
    assert status(button) == "Not connected"


def test_link_opens_the_authorize_page_in_a_new_tab_with_a_state(
    sandbox: Sandbox, button: ConnectButton, tokens: StateTokens
) -> None:
    assert 'target="_blank"' in button.link.value
    assert "noopener" in button.link.value
    href = link_href(button)
    assert href.startswith(sandbox.authorize_url + "?")
    assert tokens.check(link_state(button)) == "ok"


def test_link_carries_no_secret(sandbox: Sandbox, button: ConnectButton) -> None:
    assert sandbox.owner_auth_token not in button.link.value
    assert set(parse_qs(urlsplit(link_href(button)).query)) == {"state"}


def test_every_link_has_a_fresh_state(
    sandbox: Sandbox, make_button: Callable[..., ConnectButton], session: Session, tokens: StateTokens
) -> None:
    first, second = make_button(), make_button()
    states = [link_state(first), link_state(second)]
    session.add(customer(sandbox))  # both buttons issue a new link after a connection
    states += [link_state(first), link_state(second)]
    assert len(set(states)) == 4
    assert all(tokens.check(s) == "ok" for s in states)


def test_repr_shows_only_the_status(button: ConnectButton) -> None:
    assert repr(button) == "ConnectButton(status='Not connected')"


def test_note_is_shown_under_the_button(make_button: Callable[..., ConnectButton]) -> None:
    button = make_button(notes=["The Connect App's Authorize URL must be http://127.0.0.1:1/connect/authorize"])
    assert "http://127.0.0.1:1/connect/authorize" in synced_state(button)


# -- live status and wait() --


def test_account_added_from_another_thread_shows_connected_and_wait_returns_it(
    sandbox: Sandbox, button: ConnectButton, session: Session
) -> None:
    account = customer(sandbox)
    done = threading.Event()
    result: list[ConnectedAccount] = []

    def waiter() -> None:
        result.append(button.wait(timeout=WAIT))
        done.set()

    thread = threading.Thread(target=waiter, name="test-wait")
    thread.start()
    add_from_another_thread(session, account)
    assert done.wait(WAIT)
    thread.join(WAIT)

    assert [a.sid for a in result] == [account.sid]
    assert result[0].friendly_name == account.friendly_name
    assert account.customer_sid is not None
    # The status line names the customer's main account, not the Connect subaccount.
    assert status(button) == f"Connected: {account.friendly_name} (AC…{account.customer_sid[-4:]})"
    assert account.sid[-4:] not in status(button)
    assert (
        repr(button) == f"ConnectButton(status='Connected: {account.friendly_name} (AC…{account.customer_sid[-4:]})')"
    )


def test_wait_returns_an_account_that_connected_before_it_was_called(
    sandbox: Sandbox, button: ConnectButton, session: Session
) -> None:
    add_from_another_thread(session, customer(sandbox, 1))
    assert button.wait(timeout=WAIT).sid == sandbox.connected_sid(sandbox.customer_account_sids[1])


def test_wait_shows_waiting_until_an_account_connects(
    sandbox: Sandbox, button: ConnectButton, session: Session
) -> None:
    waiting = threading.Event()
    button.status.observe(lambda change: waiting.set() if "Waiting" in change["new"] else None, names="value")
    thread = threading.Thread(target=button.wait, kwargs={"timeout": WAIT}, name="test-wait")
    thread.start()
    assert waiting.wait(WAIT)
    assert status(button) == "Waiting for the customer to authorize…"
    add_from_another_thread(session, customer(sandbox))
    thread.join(WAIT)
    assert not thread.is_alive()
    assert status(button).startswith("Connected: ")


def test_declined_makes_wait_raise_connect_declined(button: ConnectButton, session: Session) -> None:
    thread = threading.Thread(target=session.declined, name="test-callback")
    thread.start()
    with pytest.raises(ConnectDeclined, match="declined"):
        button.wait(timeout=WAIT)
    thread.join(WAIT)
    assert status(button).startswith("Declined")


def test_wait_with_nothing_raises_callback_timeout_with_the_next_step(button: ConnectButton) -> None:
    with pytest.raises(CallbackTimeout) as caught:
        button.wait(timeout=0.05)
    message = str(caught.value)
    assert "0.05s" in message
    assert "Connect" in message
    assert "wait()" in message
    assert "timed out" in status(button)


def test_revoked_account_shows_revoked(sandbox: Sandbox, button: ConnectButton, session: Session) -> None:
    account = customer(sandbox)
    session.add(account)
    thread = threading.Thread(target=session.revoke, args=(account.sid,), name="test-callback")
    thread.start()
    thread.join(WAIT)
    text = status(button)
    assert text.startswith("Revoked")
    assert account.label in text
    assert "connect again" in text


# -- the paste field --


@pytest.mark.parametrize(
    "pasted",
    [
        pytest.param("", id="empty"),
        pytest.param("hello", id="text"),
        pytest.param("CA" + "0" * 32, id="call-sid"),
        pytest.param("AC" + "0" * 31, id="too-short"),
        pytest.param("http://127.0.0.1:8791/connect/authorize?state=x", id="address-without-sid"),
        pytest.param(f"http://127.0.0.1:8791/connect/authorize?AccountSid={'AC' + '1' * 32}&AccountSid=AC", id="twice"),
    ],
)
def test_pasting_something_that_is_not_an_account_sid_explains_and_verifies_nothing(
    pasted: str, button: ConnectButton, session: Session, verify: Verifier
) -> None:
    button.paste.value = pasted
    button.use_pasted.click()
    assert "AccountSid" in status(button)
    assert verify.calls == []
    assert session.accounts == []


def test_pasting_the_address_the_browser_landed_on_connects_it_once(
    sandbox: Sandbox, authorized: str, button: ConnectButton, session: Session, verify: Verifier, tokens: StateTokens
) -> None:
    # Where Twilio sent the browser: the Authorize URL with AccountSid and the button's state appended,
    # on a machine where it does not load (the kernel runs elsewhere), copied from the address bar.
    state = tokens.issue()
    landed = f"http://127.0.0.1:8791/connect/authorize?AccountSid={authorized}&state={state}"
    button.paste.value = landed
    button.use_pasted.click()
    assert verify.calls == [authorized]
    assert session.get(authorized) is not None
    assert status(button).startswith("Connected: Harbor Dental Group")
    assert tokens.check(state) == "used"
    # The same address again: its state is used up, so nothing is verified a second time.
    button.paste.value = landed
    button.use_pasted.click()
    assert verify.calls == [authorized]
    assert "already used" in status(button)


@pytest.mark.parametrize("state", ["not-issued-here", None], ids=["foreign-state", "no-state"])
def test_a_pasted_address_is_checked_as_the_callback_would_be(
    state: str | None, authorized: str, button: ConnectButton, session: Session, verify: Verifier
) -> None:
    query = f"AccountSid={authorized}" + (f"&state={state}" if state else "")
    button.paste.value = f"https://example.org/connect/authorize?{query}"
    button.use_pasted.click()
    if state:  # a state this notebook did not issue: refused before any request
        assert verify.calls == []
        assert "not issued by this notebook" in status(button)
    else:  # no state: as good as the bare AccountSid, checked with Twilio
        assert verify.calls == [authorized]
        assert session.get(authorized) is not None


def test_a_pasted_decline_says_declined_and_connects_nothing(
    button: ConnectButton, session: Session, verify: Verifier, tokens: StateTokens
) -> None:
    button.paste.value = f"http://127.0.0.1:8791/connect/authorize?error=unauthorized_client&state={tokens.issue()}"
    button.use_pasted.click()
    assert verify.calls == []
    assert session.accounts == []
    assert "declined" in status(button).lower()


def test_pasting_an_authorized_sid_verifies_it_and_connects_it(
    sandbox: Sandbox, authorized: str, button: ConnectButton, session: Session, verify: Verifier
) -> None:
    button.paste.value = f"  {authorized}\n"
    button.use_pasted.click()
    assert verify.calls == [authorized]
    account = session.get(authorized)
    assert account is not None
    main = sandbox.customer_account_sids[0]
    assert account.sid == authorized
    assert account.customer_sid == main
    assert account.friendly_name == "Harbor Dental Group"
    assert account.permissions == ("get-all",)
    assert status(button) == f"Connected: Harbor Dental Group (AC…{main[-4:]})"
    assert authorized not in status(button) and authorized[-4:] not in status(button)
    assert button.paste.value == ""
    assert button.wait(timeout=WAIT) == account


def test_pasting_the_main_account_sid_of_an_authorized_customer_connects_nothing(
    sandbox: Sandbox, authorized: str, button: ConnectButton, session: Session, verify: Verifier
) -> None:
    # Only the SID Twilio sent the app (the Connect subaccount's) works with the owner's token.
    main = sandbox.customer_account_sids[0]
    button.paste.value = main
    button.use_pasted.click()
    assert verify.calls == [main]
    assert session.accounts == []
    assert "does not accept the authorization" in status(button)


def test_pasting_a_sid_that_has_not_authorized_explains_and_connects_nothing(
    sandbox: Sandbox, button: ConnectButton, session: Session, verify: Verifier
) -> None:
    sid = sandbox.customer_account_sids[2]  # never authorized: the sandbox answers 401
    button.paste.value = sid
    button.use_pasted.click()
    assert verify.calls == [sid]
    assert session.accounts == []
    assert session.get(sid) is None
    text = status(button)
    assert "does not accept the authorization" in text
    assert sid[-4:] in text


# -- no secrets in the frontend --


def test_no_synced_trait_holds_the_owner_token(
    sandbox: Sandbox, authorized: str, make_button: Callable[..., ConnectButton], session: Session
) -> None:
    button = make_button(notes=["Register the Authorize URL"])
    states = [synced_state(button)]
    button.paste.value = authorized
    button.use_pasted.click()
    states.append(synced_state(button))
    session.revoke(authorized)
    states.append(synced_state(button))
    assert "Connected" in states[1]  # the walk did reach the status line
    for state in states:
        assert sandbox.owner_auth_token not in state


# -- front ends that cannot render the widget --


def test_a_front_end_without_a_widget_manager_gets_text_that_says_how_to_connect(
    button: ConnectButton, tokens: StateTokens
) -> None:
    bundle = button._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # front ends with ipywidgets 8 show the widget
    text = bundle["text/plain"]
    assert text.startswith("ConnectButton(status='Not connected'): if no Connect button shows here")
    assert ".url" in text and "connect_notebook.connect_pasted()" in text
    assert "state=" not in text  # the saved output stays the same from run to run
    first, second = button.url, button.url
    assert first != second  # a fresh single-use state each time
    assert all(tokens.check(parse_qs(urlsplit(u).query)["state"][0]) == "ok" for u in (first, second))
