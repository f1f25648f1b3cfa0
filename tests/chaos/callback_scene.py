"""The callback server under attack: started against a sandbox, staged with real flows, watched.

``stage`` connects two customers for real (the sandbox's authorize page, then the callback)
and issues the states the hostile requests reuse: used-up, expired, another notebook's, and
one live state that is only ever sent with something else wrong; ``Scene`` is what the
requests know of it. ``Target`` is what the property holds for a whole module: the server,
its session, the scene, and the checks that say whether an example changed anything (and
put it back, so that a failing example replays the same situation while it shrinks).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from clock_support import FakeClock
from hypothesis import strategies as st

from chaos.callback_wire import AUTHORIZE, DEAUTHORIZE, TIMEOUT, Probe, query, with_query
from chaos.needles import Needles
from connect_notebook._callback import CallbackServer, StateTokens
from connect_notebook._family import describe_customer
from connect_notebook._kernel import app_for_sandbox
from connect_notebook._session import ConnectedAccount, Session
from connect_notebook._signature import compute_signature
from connect_notebook.sandbox import Sandbox

__all__ = [
    "TTL",
    "ErrorRecords",
    "Events",
    "FakeClock",
    "Scene",
    "Target",
    "bogus_state",
    "browser_flow",
    "callback_server",
    "error_records",
    "session_keys",
    "sid_like",
    "stage",
    "staged_target",
]

TTL = 600.0  # lifetime of a state token on the server's fake clock
EXPIRED = 20  # states issued and then left to expire


@dataclass(frozen=True)
class Scene:
    """What the hostile requests know about the server: its port, secrets and issued states."""

    port: int
    auth_token: str
    connect_app_sid: str
    connected: tuple[str, ...]  # in the session: a deauthorize that got through would revoke one
    bypass_sid: str  # authorized on the sandbox, not connected: an authorize that got through connects it
    live_state: str  # issued here, unused, unexpired: only ever sent with something else wrong
    used: tuple[tuple[tuple[str, str], ...], ...]  # queries of real callbacks, their state used up
    expired: tuple[str, ...]
    foreign: tuple[str, ...]  # issued by another notebook's StateTokens

    @property
    def host(self) -> bytes:
        return b"127.0.0.1:%d" % self.port

    def url(self, target: bytes) -> str:
        """The URL the server reconstructs for a target (what a deauthorize signature covers)."""
        return f"http://127.0.0.1:{self.port}{target.decode('latin-1')}"

    def deauthorize_fields(self, sid: str | None = None) -> list[tuple[str, str]]:
        """The fields of a genuine deauthorize for ``sid`` (the first connected account by default)."""
        return [("AccountSid", sid or self.connected[0]), ("ConnectAppSid", self.connect_app_sid)]

    def callback(self, kind: str, pairs: Sequence[tuple[str | bytes, str | bytes]], **kw: Any) -> Probe:
        """An authorize callback with these query pairs (our Host unless ``host=`` says otherwise)."""
        kw.setdefault("host", self.host)
        return Probe(kind, target=with_query(AUTHORIZE, query(pairs)), **kw)

    def signed_post(self, kind: str, fields: list[tuple[str, str]], target: bytes = DEAUTHORIZE, **kw: Any) -> Probe:
        """A deauthorize with a signature that is valid for exactly this URL and these fields."""
        signature = compute_signature(self.url(target), fields, self.auth_token)
        headers = (*kw.pop("headers", ()), (b"X-Twilio-Signature", signature.encode()))
        method = kw.pop("method", b"POST")
        return Probe(kind, method, target, kw.pop("host", self.host), headers, urlencode(fields).encode(), **kw)


def sid_like(scene: Scene) -> st.SearchStrategy[str]:
    """AccountSids: the scene's real ones, near misses of them, random well-formed ones, any text."""
    good = scene.bypass_sid
    return st.one_of(
        st.sampled_from([scene.bypass_sid, *scene.connected]),
        st.sampled_from(
            [
                good.lower()[:2] + good[2:],
                good[:-1],
                good + "0",
                " " + good,
                good + " ",
                "CA" + good[2:],
                good + "\n",
                "",
            ]
        ),
        st.from_regex(r"AC[0-9a-fA-F]{32}", fullmatch=True),
        st.text(max_size=40),
    )


def bogus_state(scene: Scene, *, issued_here: bool = True) -> st.SearchStrategy[str]:
    """Any state but the live one: random, look-alikes of it, another notebook's, and
    (``issued_here``) the expired and used-up ones."""
    live = scene.live_state
    pools = [*scene.foreign]
    if issued_here:
        pools += [*scene.expired, *(dict(q)["state"] for q in scene.used)]
    return st.one_of(
        st.text(min_size=1, max_size=64),
        st.from_regex(r"[A-Za-z0-9_-]{32}", fullmatch=True),
        st.sampled_from(pools),
        st.sampled_from(
            [live.upper(), live.lower(), live[:-1], live[1:], live + "A", " " + live, live + " ", live[::-1]]
        ),
    ).filter(lambda s: s != live)


@dataclass
class Events:
    """Everything a session told its listeners, as ``(event, sid)``."""

    seen: list[tuple[str, str | None]] = field(default_factory=list)

    def __call__(self, event: str, account: ConnectedAccount | None) -> None:
        self.seen.append((event, account.sid if account else None))


class ErrorRecords(logging.Handler):
    """The ERROR records (uncaught exceptions in handlers, broken listeners) logged while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def error_records() -> Iterator[ErrorRecords]:
    """Collect ERROR records of tornado and connect_notebook for the duration."""
    handler = ErrorRecords()
    loggers = [logging.getLogger(name) for name in ("tornado", "connect_notebook")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@contextmanager
def callback_server(sandbox: Sandbox, session: Session, clock: FakeClock, **kwargs: Any) -> Iterator[CallbackServer]:
    """A callback server verifying against the sandbox, registered as its Connect App's URLs."""
    server = CallbackServer(
        session=session,
        verify=functools.partial(describe_customer, app_for_sandbox(sandbox)),
        auth_token=sandbox.owner_auth_token,
        connect_app_sid=sandbox.connect_app_sid,
        port=0,
        tokens=StateTokens(ttl=TTL, clock=clock),
        **kwargs,
    ).start()
    try:
        sandbox.update_connect_app(
            authorize_redirect_url=server.authorize_callback_url,
            deauthorize_callback_url=server.deauthorize_callback_url,
        )
        yield server
    finally:
        server.stop()


def browser_flow(
    browser: httpx.Client, sandbox: Sandbox, server: CallbackServer, customer: str
) -> list[tuple[str, str]]:
    """The customer's browser: authorize page, Authorize, the callback, the done page; returns the callback query."""
    state = server.tokens.issue()
    page = browser.get(sandbox.authorize_url, params={"state": state})
    decision = browser.post(
        sandbox.authorize_url, data={"decision": "authorize", "AccountSid": customer, "state": state}
    )
    callback_url = decision.headers.get("location", "")
    callback = browser.get(callback_url)
    done = browser.get(callback.url.join(callback.headers.get("location", "")))
    statuses = (page.status_code, decision.status_code, callback.status_code, done.status_code)
    assert statuses == (200, 302, 303, 200), (
        f"the good flow failed: authorize page, decision, callback, done {statuses}"
    )
    return parse_qsl(urlsplit(callback_url).query)


def _callback(browser: httpx.Client, server: CallbackServer, params: list[tuple[str, str]]) -> httpx.Response:
    return browser.get(f"{server.authorize_callback_url}?{urlencode(params)}")


def stage(sandbox: Sandbox, server: CallbackServer, clock: FakeClock) -> Scene:
    """Connect two customers for real, keep their used-up queries, then issue expired and live states.

    The customer picks its main account on the authorize page; the callback carries the app's
    Connect subaccount (``twilio-api-notes.md`` §8.1), and that SID is what the session holds.
    """
    m0, m1, m2 = sandbox.customer_account_sids[:3]
    used: list[tuple[tuple[str, str], ...]] = []
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as browser:
        for _ in range(2):
            used.append(tuple(browser_flow(browser, sandbox, server, m0)))
        c0 = sandbox.connected_sid(m0)
        assert c0 is not None and dict(used[0]).get("AccountSid") == c0, "the callback did not carry the subaccount"
        c1 = sandbox.authorize(m1)
        c2 = sandbox.authorize(m2)
        for _ in range(2):
            params = [("AccountSid", c1), ("state", server.tokens.issue())]
            assert _callback(browser, server, params).status_code == 303, "a direct good callback failed"
            used.append(tuple(params))
        declined = [("error", "unauthorized_client"), ("state", server.tokens.issue())]
        assert _callback(browser, server, declined).status_code == 200, "a real decline failed"
        used.append(tuple(declined))
    expired = tuple(server.tokens.issue() for _ in range(EXPIRED))
    clock.advance(TTL + 1)  # every state issued so far is now expired or used
    return Scene(
        port=server.port,
        auth_token=sandbox.owner_auth_token,
        connect_app_sid=sandbox.connect_app_sid,
        connected=(c0, c1),
        bypass_sid=c2,
        live_state=server.tokens.issue(),
        used=tuple(used),
        expired=expired,
        foreign=tuple(StateTokens().issue() for _ in range(5)),
    )


def session_keys(sandbox: Sandbox) -> list[str]:
    """Every SID the session could hold for the sandbox's customers: main accounts and Connect subaccounts."""
    return [s for c in sandbox.customer_account_sids for s in (c, sandbox.connected_sid(c)) if s is not None]


class Target:
    """The staged callback server a module's hostile requests go to, and what counts as a change.

    ``changes()`` lists what differs from the staged state: session events heard, accounts
    added or revoked, the live state used up, an expired state no longer expired. ``restore()``
    puts the session back and issues a new live state, so that a failing example replays
    against the same situation while hypothesis shrinks it.
    """

    def __init__(
        self, sandbox: Sandbox, server: CallbackServer, session: Session, scene: Scene, errors: ErrorRecords
    ) -> None:
        self.sandbox = sandbox
        self.server = server
        self.session = session
        self.scene = scene
        self.errors = errors
        self.needles = Needles(scene.auth_token)
        self.keys = session_keys(sandbox)
        self.staged = [session.get(sid) for sid in self.keys]
        self.events = Events()

    def changes(self) -> list[str]:
        """What differs from the staged state, in words (no secrets: SIDs and verdicts only)."""
        found = [f"the session told its listeners {event!r} for {sid}" for event, sid in self.events.seen]
        for sid, before in zip(self.keys, self.staged, strict=True):
            after = self.session.get(sid)
            if after != before:
                found.append(f"{sid} was {_account(before)} and is now {_account(after)}")
        verdict = self.server.tokens.check(self.scene.live_state)
        if verdict != "ok":
            found.append(f"the unused live state is now {verdict!r}")
        still = sum(self.server.tokens.check(s) == "expired" for s in self.scene.expired)
        if still != len(self.scene.expired):
            found.append(f"only {still} of the {len(self.scene.expired)} expired states are still expired")
        return found

    def restore(self) -> None:
        """Put the session back as staged and issue a fresh live state if the old one was used."""
        for sid, before in zip(self.keys, self.staged, strict=True):
            if self.session.get(sid) != before:
                if before is None:
                    self.session.remove(sid)
                else:
                    self.session.add(before)
        if self.server.tokens.check(self.scene.live_state) != "ok":
            self.scene = dataclasses.replace(self.scene, live_state=self.server.tokens.issue())
        self.events.seen.clear()

    def mask(self, text: bytes | str) -> str:
        """``text`` (bytes read as Latin-1) with the owner's Auth Token masked in every form."""
        return self.needles.mask(text.decode("latin-1") if isinstance(text, bytes) else text)


@contextmanager
def staged_target(sandbox: Sandbox) -> Iterator[Target]:
    """A fresh callback server on ``sandbox`` (reset first), staged, its session and ERROR records watched."""
    session, clock = Session(), FakeClock()
    sandbox.reset()
    with callback_server(sandbox, session, clock) as server, error_records() as errors:
        target = Target(sandbox, server, session, stage(sandbox, server, clock), errors)
        unsubscribe = session.subscribe(target.events)
        try:
            yield target
        finally:
            unsubscribe()


def _account(account: ConnectedAccount | None) -> str:
    if account is None:
        return "not in the session"
    return "revoked" if account.revoked else f"connected as {account.friendly_name!r}"
