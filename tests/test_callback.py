"""`CallbackServer`: the authorize and deauthorize callbacks, over real HTTP against a real sandbox."""

from __future__ import annotations

import base64
import functools
import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from clock_support import FakeClock

from connect_notebook import load_calls
from connect_notebook._callback import CallbackServer, StateTokens
from connect_notebook._config import Settings
from connect_notebook._exceptions import AuthorizationRevoked
from connect_notebook._family import describe_customer
from connect_notebook._kernel import Kernel, app_for_sandbox, swap
from connect_notebook._session import ConnectedAccount, Session
from connect_notebook._signature import compute_signature
from connect_notebook.sandbox import Sandbox

TTL = 600.0


@dataclass
class Events:
    """Everything the session told its listeners."""

    seen: list[tuple[str, ConnectedAccount | None]] = field(default_factory=list)

    def __call__(self, event: str, account: ConnectedAccount | None) -> None:
        self.seen.append((event, account))

    @property
    def names(self) -> list[str]:
        return [event for event, _ in self.seen]


@contextmanager
def serving(sandbox: Sandbox, session: Session, **kwargs: object) -> Iterator[CallbackServer]:
    """A callback server for the sandbox's Connect App, registered on it; stopped afterwards."""
    server = CallbackServer(
        session=session,
        verify=functools.partial(describe_customer, app_for_sandbox(sandbox)),
        auth_token=sandbox.owner_auth_token,
        connect_app_sid=sandbox.connect_app_sid,
        port=0,
        **kwargs,  # type: ignore[arg-type]
    ).start()
    try:
        sandbox.update_connect_app(
            authorize_redirect_url=server.authorize_callback_url,
            deauthorize_callback_url=server.deauthorize_callback_url,
        )
        yield server
    finally:
        server.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def session() -> Session:
    return Session()


@pytest.fixture
def events(session: Session) -> Events:
    events = Events()
    session.subscribe(events)
    return events


@pytest.fixture
def callback_server(sandbox: Sandbox, session: Session, clock: FakeClock) -> Iterator[CallbackServer]:
    with serving(sandbox, session, tokens=StateTokens(ttl=TTL, clock=clock)) as server:
        yield server


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """What the customer's browser does, one request at a time (no redirects followed)."""
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        yield client


@pytest.fixture
def authorized(sandbox: Sandbox) -> str:
    """The AccountSid the Connect App received from a customer that authorized it: its Connect subaccount."""
    return sandbox.authorize(sandbox.customer_account_sids[0])


def friendly_name(sandbox: Sandbox, sid: str) -> str:
    """The name of the customer behind ``sid`` (its main account's or its Connect subaccount's)."""
    main = sandbox.family(sid)[0]
    return next(a.friendly_name for a in sandbox.state.customers if a.sid == main)


def label(sandbox: Sandbox, sid: str) -> str:
    """What a person is shown for the customer behind ``sid``: its main account's name and last four."""
    main = sandbox.family(sid)[0]
    return f"{friendly_name(sandbox, main)} (AC…{main[-4:]})"


def reason(response: httpx.Response) -> str:
    """The reason line of one of the callback server's error pages."""
    text = response.text
    start = text.index("<p id=reason>") + len("<p id=reason>")
    return unescape(text[start : text.index("</p>", start)])


def authorize_callback(
    browser: httpx.Client, server: CallbackServer, params: list[tuple[str, str]], **kwargs: object
) -> httpx.Response:
    url = f"{server.authorize_callback_url}?{urlencode(params)}"
    return browser.get(url, **kwargs)  # type: ignore[arg-type]


def snapshot(session: Session, sandbox: Sandbox) -> list[ConnectedAccount]:
    """Everything the session knows about the sandbox's customers, revoked accounts included.

    Looked up by main account and by Connect subaccount: the session must only ever hold the latter.
    """
    sids = [s for c in sandbox.customer_account_sids for s in (c, sandbox.connected_sid(c)) if s is not None]
    return [a for a in map(session.get, sids) if a is not None]


# -- state tokens on their own --


def test_state_tokens_are_unguessable_and_distinct() -> None:
    tokens = StateTokens()
    issued = {tokens.issue() for _ in range(200)}
    assert len(issued) == 200
    assert min(len(t) for t in issued) >= 32  # 24 random bytes, URL-safe base64


def test_state_token_is_used_up_by_consume_but_not_by_check(clock: FakeClock) -> None:
    tokens = StateTokens(ttl=TTL, clock=clock)
    token = tokens.issue()
    assert tokens.check(token) == "ok"
    assert tokens.check(token) == "ok"
    assert tokens.consume(token) == "ok"
    assert tokens.consume(token) == "used"
    assert tokens.check(token) == "used"


def test_expired_state_token_cannot_be_consumed(clock: FakeClock) -> None:
    tokens = StateTokens(ttl=TTL, clock=clock)
    token = tokens.issue()
    clock.advance(TTL + 0.001)
    assert tokens.consume(token) == "expired"


def test_oldest_state_tokens_are_dropped_beyond_the_limit(clock: FakeClock) -> None:
    tokens = StateTokens(ttl=TTL, clock=clock)
    oldest = tokens.issue()
    newest = [tokens.issue() for _ in range(StateTokens.LIMIT)]
    assert tokens.check(oldest) == "unknown"
    assert tokens.check(newest[0]) == "ok"


# -- the approved flow --


def test_full_flow_through_the_sandbox_page_ends_on_a_done_page_without_the_account_sid(
    sandbox: Sandbox, callback_server: CallbackServer, session: Session, events: Events, browser: httpx.Client
) -> None:
    customer = sandbox.customer_account_sids[1]
    name = friendly_name(sandbox, customer)
    state = callback_server.tokens.issue()

    page = browser.get(sandbox.authorize_url, params={"state": state})
    assert page.status_code == 200
    assert f"value='{state}'" in page.text
    decision = browser.post(
        sandbox.authorize_url, data={"decision": "authorize", "AccountSid": customer, "state": state}
    )
    assert decision.status_code == 302
    assert decision.headers["location"].startswith(callback_server.authorize_callback_url + "?")
    # The customer picked its main account; Twilio sends the app its Connect subaccount (§8.1).
    connected = sandbox.connected_sid(customer)
    assert connected is not None and connected != customer
    assert f"AccountSid={connected}" in decision.headers["location"]
    assert customer not in decision.headers["location"]

    callback = browser.get(decision.headers["location"])
    assert callback.status_code == 303
    location = callback.headers["location"]
    assert location.startswith("done?ref=")
    done_url = callback.url.join(location)
    assert customer not in str(done_url)
    assert connected not in str(done_url)
    assert "AccountSid" not in str(done_url)

    done = browser.get(done_url)
    assert done.status_code == 200
    assert done.headers["content-type"].startswith("text/html")
    assert f"Connected: {name}" in unescape(done.text)
    assert "Connect Notebook" not in unescape(done.text)  # not the Connect subaccount's own name

    account = session.get(connected)
    assert account is not None
    assert account.sid == connected
    assert account.customer_sid == customer
    assert account.friendly_name == name
    assert account.label == f"{name} (AC…{customer[-4:]})"
    assert account.permissions == ("get-all",)
    assert account.connected_at is not None
    assert session.current == account
    assert session.get(customer) is None  # the session holds what requests authenticate as
    assert events.names == ["connected"]
    assert callback_server.tokens.check(state) == "used"


def test_done_page_with_an_unknown_ref_is_a_404_page(callback_server: CallbackServer, browser: httpx.Client) -> None:
    response = browser.get(f"{callback_server.public_url}/connect/done", params={"ref": "nope"})
    assert response.status_code == 404
    assert "Connect button" in reason(response)


# -- declined --


def test_declined_on_the_sandbox_page_says_declined_and_tells_the_listener(
    sandbox: Sandbox, callback_server: CallbackServer, session: Session, events: Events, browser: httpx.Client
) -> None:
    state = callback_server.tokens.issue()
    decision = browser.post(
        sandbox.authorize_url,
        data={"decision": "deny", "AccountSid": sandbox.customer_account_sids[0], "state": state},
    )
    assert decision.status_code == 302
    assert "error=unauthorized_client" in decision.headers["location"]

    page = browser.get(decision.headers["location"])
    assert page.status_code == 200
    assert "declined" in page.text
    assert session.accounts == []
    assert snapshot(session, sandbox) == []
    assert events.names == ["declined"]


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(None, id="missing"),
        pytest.param("never-issued", id="never-issued"),
    ],
)
def test_decline_without_a_state_issued_here_is_a_400_and_tells_no_listener(
    state: str | None,
    sandbox: Sandbox,
    callback_server: CallbackServer,
    session: Session,
    events: Events,
    browser: httpx.Client,
) -> None:
    # Otherwise any page could make a waiting notebook believe the customer declined.
    params = [("error", "unauthorized_client")] + ([("state", state)] if state else [])
    response = authorize_callback(browser, callback_server, params)
    assert response.status_code == 400
    assert reason(response)
    assert events.names == []


def test_replayed_decline_is_a_400(
    sandbox: Sandbox, callback_server: CallbackServer, events: Events, browser: httpx.Client
) -> None:
    params = [("error", "unauthorized_client"), ("state", callback_server.tokens.issue())]
    assert authorize_callback(browser, callback_server, params).status_code == 200
    replay = authorize_callback(browser, callback_server, params)
    assert replay.status_code == 400
    assert "already used" in reason(replay)
    assert events.names == ["declined"]


def test_unexpected_error_value_is_a_400_page(
    sandbox: Sandbox, callback_server: CallbackServer, session: Session, events: Events, browser: httpx.Client
) -> None:
    state = callback_server.tokens.issue()
    response = authorize_callback(browser, callback_server, [("error", "access_denied"), ("state", state)])
    assert response.status_code == 400
    assert "access_denied" in reason(response)
    assert events.names == []
    assert snapshot(session, sandbox) == []


# -- rejected callbacks --


@pytest.mark.parametrize(
    "sid",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("AC123", id="too-short"),
        pytest.param("AC" + "0" * 33, id="too-long"),
        pytest.param("CA" + "0" * 32, id="call-sid"),
        pytest.param("AC" + "g" * 32, id="not-hex"),
        pytest.param("AC" + "0" * 32 + "\n", id="trailing-newline"),
        pytest.param("AC" + "0" * 31 + "'", id="quote"),
    ],
)
def test_malformed_account_sid_is_a_400_page_and_leaves_the_state_usable(
    sid: str | None,
    sandbox: Sandbox,
    callback_server: CallbackServer,
    session: Session,
    events: Events,
    browser: httpx.Client,
) -> None:
    state = callback_server.tokens.issue()
    params = [("state", state)] + ([("AccountSid", sid)] if sid is not None else [])
    response = authorize_callback(browser, callback_server, params)
    assert response.status_code == 400
    assert "AccountSid must be 'AC' followed by 32 hex digits" in reason(response)
    assert snapshot(session, sandbox) == []
    assert events.names == []
    assert callback_server.tokens.check(state) == "ok"


def test_missing_state_is_a_400_page(
    authorized: str,
    sandbox: Sandbox,
    callback_server: CallbackServer,
    session: Session,
    events: Events,
    browser: httpx.Client,
) -> None:
    response = authorize_callback(browser, callback_server, [("AccountSid", authorized)])
    assert response.status_code == 400
    assert "no state" in reason(response)
    assert snapshot(session, sandbox) == []
    assert events.names == []


def test_replayed_state_is_a_400_page_and_changes_nothing(
    sandbox: Sandbox,
    authorized: str,
    callback_server: CallbackServer,
    session: Session,
    events: Events,
    browser: httpx.Client,
) -> None:
    state = callback_server.tokens.issue()
    params = [("AccountSid", authorized), ("state", state)]
    assert authorize_callback(browser, callback_server, params).status_code == 303
    before = snapshot(session, sandbox)

    replay = authorize_callback(browser, callback_server, params)
    assert replay.status_code == 400
    assert "already used" in reason(replay)
    assert snapshot(session, sandbox) == before
    assert events.names == ["connected"]


def test_replayed_state_for_another_account_does_not_connect_it(
    sandbox: Sandbox, authorized: str, callback_server: CallbackServer, session: Session, browser: httpx.Client
) -> None:
    other = sandbox.authorize(sandbox.customer_account_sids[2])
    state = callback_server.tokens.issue()
    assert authorize_callback(browser, callback_server, [("AccountSid", authorized), ("state", state)]).is_redirect

    replay = authorize_callback(browser, callback_server, [("AccountSid", other), ("state", state)])
    assert replay.status_code == 400
    assert other not in session
    assert session.get(other) is None


def test_expired_state_is_a_400_page(
    authorized: str,
    sandbox: Sandbox,
    callback_server: CallbackServer,
    clock: FakeClock,
    session: Session,
    events: Events,
    browser: httpx.Client,
) -> None:
    state = callback_server.tokens.issue()
    clock.advance(TTL + 1)
    response = authorize_callback(browser, callback_server, [("AccountSid", authorized), ("state", state)])
    assert response.status_code == 400
    assert "expired" in reason(response)
    assert snapshot(session, sandbox) == []
    assert events.names == []


def test_state_just_inside_its_lifetime_is_accepted(
    authorized: str, callback_server: CallbackServer, clock: FakeClock, session: Session, browser: httpx.Client
) -> None:
    state = callback_server.tokens.issue()
    clock.advance(TTL - 1)
    response = authorize_callback(browser, callback_server, [("AccountSid", authorized), ("state", state)])
    assert response.status_code == 303
    assert authorized in session


@pytest.mark.parametrize(
    "make_state",
    [
        pytest.param(lambda: secrets.token_urlsafe(24), id="never-issued"),
        pytest.param(lambda: StateTokens().issue(), id="issued-by-another-notebook"),
        pytest.param(lambda: "x" * 257, id="too-long"),
    ],
)
def test_foreign_state_is_a_400_page(
    make_state: Callable[[], str],
    authorized: str,
    sandbox: Sandbox,
    callback_server: CallbackServer,
    session: Session,
    events: Events,
    browser: httpx.Client,
) -> None:
    response = authorize_callback(browser, callback_server, [("AccountSid", authorized), ("state", make_state())])
    assert response.status_code == 400
    assert reason(response)
    assert snapshot(session, sandbox) == []
    assert events.names == []


def test_foreign_state_page_says_it_was_not_issued_here(
    authorized: str, callback_server: CallbackServer, browser: httpx.Client
) -> None:
    response = authorize_callback(
        browser, callback_server, [("AccountSid", authorized), ("state", secrets.token_urlsafe(24))]
    )
    assert "not issued by this notebook" in reason(response)


@pytest.mark.parametrize(
    "which",
    [
        pytest.param("never-authorized", id="main-account-never-authorized"),
        pytest.param("main-of-authorized", id="main-account-of-an-authorized-customer"),
        pytest.param("revoked", id="connect-subaccount-after-revoking"),
    ],
)
def test_customer_that_has_not_authorized_is_a_400_page_and_keeps_the_state(
    which: str,
    sandbox: Sandbox,
    callback_server: CallbackServer,
    session: Session,
    events: Events,
    browser: httpx.Client,
) -> None:
    # A valid sid, but not one the owner's token works with: only an authorized Connect subaccount's does.
    customer = sandbox.customer_account_sids[0]
    if which == "main-of-authorized":
        sandbox.authorize(customer)
    elif which == "revoked":
        customer = sandbox.authorize(customer)
        sandbox.update_connect_app(deauthorize_callback_url=None)
        sandbox.deauthorize(customer)
    state = callback_server.tokens.issue()
    response = authorize_callback(browser, callback_server, [("AccountSid", customer), ("state", state)])
    assert response.status_code == 400
    assert customer in reason(response)
    assert "does not accept" in reason(response)
    assert snapshot(session, sandbox) == []
    assert events.names == []
    assert callback_server.tokens.check(state) == "ok"


@pytest.mark.parametrize(
    "duplicate",
    [
        pytest.param("AccountSid", id="account-sid"),
        pytest.param("state", id="state"),
        pytest.param("error", id="error"),
    ],
)
def test_duplicated_parameter_is_a_400_page(
    duplicate: str,
    sandbox: Sandbox,
    authorized: str,
    callback_server: CallbackServer,
    session: Session,
    events: Events,
    browser: httpx.Client,
) -> None:
    state = callback_server.tokens.issue()
    params = [("AccountSid", authorized), ("state", state)]
    if duplicate == "error":
        params = [("error", "unauthorized_client"), ("error", "unauthorized_client"), ("state", state)]
    else:
        params.append((duplicate, dict(params)[duplicate]))
    response = authorize_callback(browser, callback_server, params)
    assert response.status_code == 400
    assert "more than once" in reason(response)
    assert snapshot(session, sandbox) == []
    assert events.names == []
    assert callback_server.tokens.check(state) == "ok"


@pytest.mark.parametrize(
    "host",
    [
        pytest.param(lambda port: "evil.example:80", id="foreign-name"),
        pytest.param(lambda port: "evil.example", id="foreign-name-no-port"),
        pytest.param(lambda port: f"evil.example:{port}", id="rebinding-same-port"),
        pytest.param(lambda port: f"127.0.0.1:{port + 1 if port < 65535 else port - 1}", id="other-port"),
    ],
)
def test_unexpected_host_header_is_a_400_page_and_changes_nothing(
    host: Callable[[int], str],
    authorized: str,
    sandbox: Sandbox,
    callback_server: CallbackServer,
    session: Session,
    events: Events,
    browser: httpx.Client,
) -> None:
    state = callback_server.tokens.issue()
    response = authorize_callback(
        browser,
        callback_server,
        [("AccountSid", authorized), ("state", state)],
        headers={"Host": host(callback_server.port)},
    )
    assert response.status_code == 400
    assert "Host" in reason(response)
    assert snapshot(session, sandbox) == []
    assert events.names == []
    assert callback_server.tokens.check(state) == "ok"


def test_localhost_with_our_port_is_an_accepted_host(
    authorized: str, callback_server: CallbackServer, session: Session, browser: httpx.Client
) -> None:
    state = callback_server.tokens.issue()
    response = authorize_callback(
        browser,
        callback_server,
        [("AccountSid", authorized), ("state", state)],
        headers={"Host": f"localhost:{callback_server.port}"},
    )
    assert response.status_code == 303
    assert authorized in session


def test_unexpected_host_cannot_deauthorize(
    sandbox: Sandbox, authorized: str, callback_server: CallbackServer, session: Session, browser: httpx.Client
) -> None:
    assert authorize_callback(
        browser, callback_server, [("AccountSid", authorized), ("state", callback_server.tokens.issue())]
    ).is_redirect
    fields = [("AccountSid", authorized), ("ConnectAppSid", sandbox.connect_app_sid)]
    url = callback_server.deauthorize_callback_url
    response = browser.post(
        url,
        data=dict(fields),
        headers={
            "Host": "evil.example:80",
            "X-Twilio-Signature": compute_signature(url, fields, sandbox.owner_auth_token),
        },
    )
    assert response.status_code == 400
    assert authorized in session


# -- deauthorize --


def connect(browser: httpx.Client, server: CallbackServer, sid: str) -> None:
    response = authorize_callback(browser, server, [("AccountSid", sid), ("state", server.tokens.issue())])
    assert response.status_code == 303, response.text


@pytest.mark.parametrize(
    "by", [pytest.param("main", id="by-main-account"), pytest.param("connected", id="by-connected")]
)
def test_sandbox_deauthorize_marks_the_account_revoked(
    by: str,
    sandbox: Sandbox,
    authorized: str,
    callback_server: CallbackServer,
    session: Session,
    events: Events,
    browser: httpx.Client,
) -> None:
    connect(browser, callback_server, authorized)

    # The customer revokes from its main account; the signed callback names the Connect subaccount.
    result = sandbox.deauthorize(sandbox.customer_account_sids[0] if by == "main" else authorized)

    assert result.delivered, result
    assert result.account_sid == authorized
    assert result.callback_url == callback_server.deauthorize_callback_url
    assert authorized not in session
    assert session.accounts == []
    revoked = session.get(authorized)
    assert revoked is not None
    assert revoked.revoked
    assert events.names == ["connected", "revoked"]


def test_sandbox_deauthorize_with_get_reaches_a_server_configured_for_get(
    sandbox: Sandbox, authorized: str, session: Session, events: Events, browser: httpx.Client
) -> None:
    with serving(sandbox, session, deauthorize_method="GET") as server:
        sandbox.update_connect_app(deauthorize_callback_method="GET")
        connect(browser, server, authorized)

        result = sandbox.deauthorize(authorized)

    assert result.delivered, result
    assert authorized not in session
    assert events.names == ["connected", "revoked"]


def test_sandbox_deauthorize_of_another_customer_leaves_the_connected_one(
    sandbox: Sandbox, authorized: str, callback_server: CallbackServer, session: Session, browser: httpx.Client
) -> None:
    other = sandbox.authorize(sandbox.customer_account_sids[1])
    connect(browser, callback_server, authorized)

    assert sandbox.deauthorize(other).delivered

    assert authorized in session
    assert session.get(other) is None


@pytest.mark.parametrize(
    ("sign", "connect_app_sid", "status"),
    [
        pytest.param(lambda url, fields, token: "forged", None, 403, id="forged"),
        pytest.param(None, None, 403, id="missing"),
        pytest.param(lambda url, fields, token: "", None, 403, id="empty"),
        pytest.param(
            lambda url, fields, token: compute_signature(url, fields, "another-token"), None, 403, id="other-token"
        ),
        pytest.param(
            lambda url, fields, token: compute_signature(url + "?x=1", fields, token), None, 403, id="other-url"
        ),
        pytest.param(
            lambda url, fields, token: compute_signature(url, fields, token), "CN" + "0" * 32, 400, id="other-app"
        ),
    ],
)
def test_deauthorize_without_a_valid_signature_for_this_app_changes_nothing(
    sign: Callable[[str, list[tuple[str, str]], str], str] | None,
    connect_app_sid: str | None,
    status: int,
    sandbox: Sandbox,
    authorized: str,
    callback_server: CallbackServer,
    session: Session,
    events: Events,
    browser: httpx.Client,
) -> None:
    connect(browser, callback_server, authorized)
    before = snapshot(session, sandbox)
    fields = [("AccountSid", authorized), ("ConnectAppSid", connect_app_sid or sandbox.connect_app_sid)]
    url = callback_server.deauthorize_callback_url
    headers = {} if sign is None else {"X-Twilio-Signature": sign(url, fields, sandbox.owner_auth_token)}

    response = browser.post(url, data=dict(fields), headers=headers)

    assert response.status_code == status
    assert reason(response)
    assert snapshot(session, sandbox) == before
    assert authorized in session
    assert events.names == ["connected"]


def test_deauthorize_with_a_duplicated_parameter_is_a_400(
    sandbox: Sandbox, authorized: str, callback_server: CallbackServer, session: Session, browser: httpx.Client
) -> None:
    connect(browser, callback_server, authorized)
    fields = [
        ("AccountSid", authorized),
        ("AccountSid", sandbox.customer_account_sids[2]),
        ("ConnectAppSid", sandbox.connect_app_sid),
    ]
    url = callback_server.deauthorize_callback_url
    response = browser.post(
        url,
        content=urlencode(fields),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": compute_signature(url, fields, sandbox.owner_auth_token),
        },
    )
    assert response.status_code == 400
    assert authorized in session


def test_deauthorize_by_get_when_configured_for_post_is_405(
    sandbox: Sandbox, authorized: str, callback_server: CallbackServer, session: Session, browser: httpx.Client
) -> None:
    connect(browser, callback_server, authorized)
    query = urlencode([("AccountSid", authorized), ("ConnectAppSid", sandbox.connect_app_sid)])
    url = f"{callback_server.deauthorize_callback_url}?{query}"
    response = browser.get(url, headers={"X-Twilio-Signature": compute_signature(url, [], sandbox.owner_auth_token)})
    assert response.status_code == 405
    assert "POST" in reason(response)
    assert authorized in session


# -- every page --


def _declined(server: CallbackServer, browser: httpx.Client, sid: str) -> httpx.Response:
    params = [("error", "unauthorized_client"), ("state", server.tokens.issue())]
    return authorize_callback(browser, server, params)


def _connected(server: CallbackServer, browser: httpx.Client, sid: str) -> httpx.Response:
    return authorize_callback(browser, server, [("AccountSid", sid), ("state", server.tokens.issue())])


def _done(server: CallbackServer, browser: httpx.Client, sid: str) -> httpx.Response:
    redirect = _connected(server, browser, sid)
    return browser.get(redirect.url.join(redirect.headers["location"]))


def _rejected(server: CallbackServer, browser: httpx.Client, sid: str) -> httpx.Response:
    return authorize_callback(browser, server, [("AccountSid", sid)])


def _wrong_host(server: CallbackServer, browser: httpx.Client, sid: str) -> httpx.Response:
    return browser.get(server.authorize_callback_url, headers={"Host": "evil.example:80"})


def _forged(server: CallbackServer, browser: httpx.Client, sid: str) -> httpx.Response:
    return browser.post(server.deauthorize_callback_url, data={"AccountSid": sid})


def _not_found(server: CallbackServer, browser: httpx.Client, sid: str) -> httpx.Response:
    return browser.get(f"{server.public_url}/nothing/here")


@pytest.mark.parametrize(
    ("request_page", "status"),
    [
        pytest.param(_connected, 303, id="redirect-to-done"),
        pytest.param(_done, 200, id="done"),
        pytest.param(_declined, 200, id="declined"),
        pytest.param(_rejected, 400, id="rejected"),
        pytest.param(_wrong_host, 400, id="wrong-host"),
        pytest.param(_forged, 403, id="forged-deauthorize"),
        pytest.param(_not_found, 404, id="not-found"),
    ],
)
def test_every_page_sends_no_referrer_and_no_store(
    request_page: Callable[[CallbackServer, httpx.Client, str], httpx.Response],
    status: int,
    authorized: str,
    callback_server: CallbackServer,
    browser: httpx.Client,
) -> None:
    response = request_page(callback_server, browser, authorized)
    assert response.status_code == status
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/", id="root"),
        pytest.param("/connect", id="prefix"),
        pytest.param("/connect/authorize/extra", id="below-authorize"),
        pytest.param("/favicon.ico", id="favicon"),
    ],
)
def test_unknown_path_is_a_404_page(path: str, callback_server: CallbackServer, browser: httpx.Client) -> None:
    response = browser.get(f"{callback_server.public_url}{path}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert reason(response) == "no such page"


# -- a later refusal --


def test_a_401_from_the_loader_after_revoking_marks_the_account_revoked(
    sandbox: Sandbox, authorized: str, browser: httpx.Client, tmp_path: Path
) -> None:
    # The kernel owns the session the loaders report to: build one, and make it current.
    with Kernel(Settings(callback_port=0, register_callback=True, config_home=tmp_path)) as kernel:
        previous = swap(kernel)
        try:
            connection = kernel.start(app_for_sandbox(sandbox))
            session, events = connection.session, Events()
            session.subscribe(events)
            connect(browser, connection.server, authorized)
            # No deauthorize callback this time, so the only news of the revocation is Twilio's 401.
            sandbox.update_connect_app(deauthorize_callback_url=None)
            assert sandbox.deauthorize(authorized).callback_url is None
            assert authorized in session
            with pytest.raises(AuthorizationRevoked, match="Connect it again") as caught:
                load_calls(authorized, progress=False)  # the kernel's app: the one it started for
        finally:
            swap(previous)

    assert caught.value.account_sid == authorized
    assert authorized not in session
    account = session.get(authorized)
    assert account is not None
    assert account.revoked
    assert events.names == ["connected", "revoked"]


# -- the request log under a hostile page (issue 10, item 5) --


def _hostile_requests(server: CallbackServer, token: str, header: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """500 requests a hostile page could send: long URLs, tokens in the query, the wrong Host, forged bodies."""
    base = server.public_url
    for n in range(500):
        pad = "x" * (60_000 if n % 50 == 0 else 2_000)
        choices: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", f"{base}/connect/authorize?state={token}&AccountSid=AC{token}&pad={pad}", {}),
            ("GET", f"{base}/connect/authorize?error={token}{pad}", {}),
            ("GET", f"{base}/connect/done?ref={token}&h={header}", {}),
            ("GET", f"{base}/nowhere/{token}?h={header}&pad={pad}", {}),
            ("GET", f"{base}/connect/authorize?t={token}", {"headers": {"Host": "evil.example:80"}}),
            ("POST", f"{base}/connect/deauthorize?t={token}", {"data": {"AccountSid": f"AC{token}", "x": pad}}),
            ("GET", f"{base}/connect/deauthorize?AccountSid=AC{token}", {}),
            (
                "POST",
                f"{base}/connect/deauthorize?h={header}",
                {"content": f"--b\r\n{token}", "headers": {"Content-Type": "multipart/form-data; boundary=b"}},
            ),
        ]
        yield choices[n % len(choices)]


def test_hostile_requests_are_logged_at_debug_cut_short_masked_and_rate_limited(
    sandbox: Sandbox, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    # The servers' loggers at DEBUG; httpx's own (the test's browser) logs each URL it sends, at INFO.
    caplog.set_level(logging.DEBUG, logger="connect_notebook")
    caplog.set_level(logging.DEBUG, logger="tornado")
    token = sandbox.owner_auth_token
    header = base64.b64encode(f"{sandbox.owner_account_sid}:{token}".encode()).decode()
    log_clock = FakeClock()  # stopped: every request falls in the same second
    statuses = []
    with serving(sandbox, session, log_clock=log_clock) as server, httpx.Client(timeout=30) as browser:
        for method, url, kwargs in _hostile_requests(server, token, header):
            statuses.append(browser.request(method, url, **kwargs).status_code)
    assert all(400 <= s < 500 for s in statuses), sorted(set(statuses))
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    records = [r for r in caplog.records if r.name.startswith(("connect_notebook", "tornado"))]
    for record in records:
        text = record.getMessage()
        assert token not in text and header not in text, record.name
        assert len(text) <= 200, (record.name, text[:300])
    ours = [r.getMessage() for r in records if r.name == "connect_notebook" and "callback server" in r.getMessage()]
    assert len(ours) == 21  # 20 in the second, then the rest summarised once when the server stopped
    assert ours[-1] == "callback server: 480 more requests not logged (at most 20 a second)"
    assert all(r.levelno == logging.DEBUG for r in records if r.name == "connect_notebook")
