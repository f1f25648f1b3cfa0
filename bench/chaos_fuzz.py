"""Chaos fuzz: the kernel's callback server and the sandbox's REST API under hostile input.

Run: ``python bench/chaos_fuzz.py [--callback-requests 10000] [--sandbox-requests 2000] [--seed 1]``.
Loopback only, seeded (hypothesis with a fixed ``@seed`` and no example database), bounded in
count and, through per-request timeouts, in time. Prints one table per part:

1. **Callback server fuzz.** Raw HTTP requests over a socket to ``/connect/authorize``,
   ``/connect/deauthorize`` and random paths: malformed, oversized, non-UTF-8, duplicated,
   wrong methods, missing / forged / replayed / expired ``state``, forged signatures, path
   tricks, wrong or rebinding ``Host``. Requests that get *one* thing wrong carry everything
   else right (an unused ``state`` issued by this server, a valid signature), so a request
   that slipped through would show as a session change. Every answer must be a 4xx HTML
   page from our handlers, or, for messages tornado's HTTP parser refuses before any
   handler runs, its bare ``400`` or a closed connection (headers over 64 KiB). Never a
   5xx, never a 2xx/3xx; the session's accounts and listeners see no change.
2. **Loopback, redirects, load.** The server binds 127.0.0.1 only; its one redirect goes to
   its own ``done?ref=…`` page whatever the request carries; 100 bogus requests held open
   plus 100 threads sending bogus requests do not stop a good callback (the sandbox's
   authorize page, then the callback, then the done page) from connecting the account.
3. **Sandbox REST fuzz.** PageSize, Page, PageToken, date filters, SIDs in paths, methods
   and credentials on every resource: each answer is a 2xx JSON body or Twilio's JSON error
   (``code``, ``message``, ``more_info``, ``status``), never a 5xx (faults are off).

``run()`` returns the figures as a dict; the tests in ``tests/test_fuzz_callback.py`` and
``tests/sandbox/test_fuzz_rest.py`` call the same functions with a quick profile.
"""

from __future__ import annotations

import argparse
import base64
import email.utils
import functools
import json
import logging
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, quote_from_bytes, urlencode, urljoin, urlsplit

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from connect_notebook._callback import CallbackServer, StateTokens
from connect_notebook._family import describe_customer
from connect_notebook._kernel import app_for_sandbox
from connect_notebook._session import ConnectedAccount, Session
from connect_notebook._signature import compute_signature, is_valid_signature
from connect_notebook.sandbox import Sandbox

__all__ = [
    "CALLBACK_CLASSES",
    "REST_ENDPOINTS",
    "CallbackFuzz",
    "Probe",
    "RestFuzz",
    "RestProbe",
    "check_loopback_only",
    "check_no_open_redirect",
    "draw_probes",
    "fuzz_callback",
    "fuzz_sandbox",
    "good_callback_under_load",
    "print_report",
    "rest_probes",
    "run",
]

T = TypeVar("T")
TTL = 600.0  # lifetime of a state token on the fuzzed server's (fake) clock
TIMEOUT = 30.0  # no answer within this is reported as a hang, not a speed figure
NOW = "2026-11-01T12:00:00+00:00"
AUTHORIZE = b"/connect/authorize"
DEAUTHORIZE = b"/connect/deauthorize"
TORNADO_MAX_HEADER = 65_536  # HTTP1ConnectionParameters.max_header_size: more and the connection is closed
TORNADO_MAX_ARGUMENTS = 1_000  # ParseUrlEncodedConfig.max_arguments: more and tornado answers a bare 400
CALLBACK_CLASSES = (
    "malformed",
    "oversized",
    "non-utf8",
    "duplicated",
    "wrong-method",
    "state-missing",
    "state-forged",
    "state-replayed",
    "state-expired",
    "signature-forged",
    "path-trick",
    "wrong-host",
    "random-path",
    "protocol",
)
REST_ENDPOINTS = (
    "Calls",
    "Calls/{CA}",
    "Messages",
    "Messages/{SM}",
    "Usage/Records",
    "Alerts",
    "Alerts/{NO}",
    "ConnectApps",
    "ConnectApps/{CN}",
    "Accounts",
    "Accounts/{AC}",
    "AuthorizedConnectApps",
)


# --- drawing examples --------------------------------------------------------------


def draw(strategy: st.SearchStrategy[T], n: int, seed: int) -> list[T]:
    """``n`` examples of ``strategy``, the same ones for the same seed.

    Hypothesis generates them (no shrinking, no example database, a fixed ``@seed``);
    it may stop a run early when it believes a space is exhausted, so runs with the
    next seeds top the list up.
    """
    out: list[T] = []
    for attempt in range(100):
        if len(out) >= n:
            break

        @settings(
            max_examples=n - len(out),
            database=None,
            deadline=None,
            derandomize=False,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis_seed(seed * 1_000 + attempt)
        @given(strategy)
        def collect(example: T) -> None:
            out.append(example)

        collect()
    if len(out) < n:
        msg = f"hypothesis gave {len(out)} of {n} examples"
        raise RuntimeError(msg)
    return out[:n]


# --- raw HTTP over a socket --------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One hostile request to the callback server, as bytes on the wire.

    ``layer`` says who should refuse it: ``"app"``, our handlers (a 4xx page), or
    ``"http"``, tornado's HTTP/1.1 parser, which answers a bare ``400`` or closes the
    connection before any handler runs.
    """

    kind: str
    method: bytes = b"GET"
    target: bytes = AUTHORIZE
    host: bytes | None = None  # None: no Host header at all
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes | None = None
    version: bytes = b"HTTP/1.1"
    raw: bytes | None = None  # a whole message sent as is (protocol garbage)
    layer: str = "app"

    def message(self) -> bytes:
        """The request as sent: one message, ``Connection: close``, exact Content-Length."""
        if self.raw is not None:
            return self.raw
        lines = [b" ".join((self.method, self.target, self.version))]
        if self.host is not None:
            lines.append(b"Host: " + self.host)
        lines.extend(name + b": " + value for name, value in self.headers)
        if self.body is not None:
            lines.append(b"Content-Type: application/x-www-form-urlencoded")
            lines.append(b"Content-Length: %d" % len(self.body))
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + (self.body or b"")

    @property
    def refused_by(self) -> str:
        """Who should refuse it: ``layer``, or tornado's HTTP layer whatever the label when the
        header block passes its 64 KiB limit or the query has more than 1,000 arguments."""
        if self.raw is None:
            head = self.message().partition(b"\r\n\r\n")[0]
            query = self.target.partition(b"?")[2]
            if len(head) + 4 > TORNADO_MAX_HEADER or query.count(b"&") + 1 > TORNADO_MAX_ARGUMENTS:
                return "http"
        return self.layer

    def split(self) -> tuple[bytes, bytes]:
        """The message up to, and after, the blank line that ends its headers (to hold it open)."""
        data = self.message()
        end = data.index(b"\r\n\r\n") + 2
        return data[:end], data[end:]


@dataclass(frozen=True)
class Answer:
    """What came back for one request; ``status`` None means no answer at all."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None  # "timeout", "closed", "reset"


def exchange(
    port: int,
    data: bytes | tuple[bytes, bytes],
    *,
    head: bool = False,
    timeout: float = TIMEOUT,
    host: str = "127.0.0.1",
    on_sent: Callable[[], None] | None = None,
) -> Answer:
    """Send one request over a new connection and read one answer (never raises ``OSError``)."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:  # the server stopped accepting: an answer of its own kind, judged as a failure
        return Answer(None, error=f"connect failed ({exc.__class__.__name__})")
    with sock:
        try:
            sock.sendall(data if isinstance(data, bytes) else b"".join(data))
        except OSError:
            pass  # the server may refuse before reading it all: read what it said
        if on_sent is not None:
            on_sent()
        return read_answer(sock, head=head)


def read_answer(sock: socket.socket, *, head: bool = False) -> Answer:
    """Read one HTTP/1.1 response: by its Content-Length, or until the server closes."""
    buffer = b""
    try:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                return _bare(buffer)
            buffer += chunk
        head_bytes, _, body = buffer.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if head or status in (204, 304):
            return Answer(status, headers, b"")
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
            return Answer(status, headers, body[:length])
        while chunk := sock.recv(65536):  # no length: until the server closes
            body += chunk
        return Answer(status, headers, body)
    except TimeoutError:
        return Answer(None, error="timeout")
    except ConnectionResetError:
        return _bare(buffer) if buffer else Answer(None, error="reset")
    except (ValueError, IndexError, OSError):
        return Answer(None, error="garbled")


def _bare(buffer: bytes) -> Answer:
    if not buffer:
        return Answer(None, error="closed")
    match = re.match(rb"HTTP/1\.[01] (\d{3})", buffer)
    return Answer(int(match.group(1)) if match else None, {}, b"", None if match else "garbled")


def is_page(answer: Answer, *, head: bool = False) -> bool:
    """Whether an answer is one of the callback server's HTML pages with its reason line."""
    if not answer.headers.get("content-type", "").startswith("text/html"):
        return False
    return head or (answer.body.startswith(b"<!doctype html>") and b"<p id=reason>" in answer.body)


# --- the callback server's scene -------------------------------------------------------


class FakeClock:
    """A monotonic clock that moves only when told to (expires state tokens without waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Events:
    """Everything a session told its listeners."""

    seen: list[tuple[str, str | None]] = field(default_factory=list)

    def __call__(self, event: str, account: ConnectedAccount | None) -> None:
        self.seen.append((event, account.sid if account else None))


@dataclass(frozen=True)
class Scene:
    """What the fuzzer knows about the server under attack."""

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
        return [("AccountSid", sid or self.connected[0]), ("ConnectAppSid", self.connect_app_sid)]


def _browser_flow(
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
    if (page.status_code, decision.status_code, callback.status_code, done.status_code) != (200, 302, 303, 200):
        msg = (
            f"the good flow failed: {page.status_code} {decision.status_code} {callback.status_code} {done.status_code}"
        )
        raise RuntimeError(msg)
    return parse_qsl(urlsplit(callback_url).query)


def _callback(browser: httpx.Client, server: CallbackServer, params: list[tuple[str, str]]) -> httpx.Response:
    return browser.get(f"{server.authorize_callback_url}?{urlencode(params)}")


def _stage(sandbox: Sandbox, server: CallbackServer, clock: FakeClock) -> Scene:
    """Connect two customers for real, keep their used-up queries, then issue expired and live states.

    The customer picks its main account on the authorize page; the callback carries the app's
    Connect subaccount (``twilio-api-notes.md`` §8.1), and that SID is what the session holds.
    """
    m0, m1, m2 = sandbox.customer_account_sids[:3]
    used: list[tuple[tuple[str, str], ...]] = []
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as browser:
        for _ in range(2):
            used.append(tuple(_browser_flow(browser, sandbox, server, m0)))
        c0 = sandbox.connected_sid(m0)
        if c0 is None or dict(used[0]).get("AccountSid") != c0:
            msg = "the authorize page did not send the Connect subaccount's SID"
            raise RuntimeError(msg)
        c1 = sandbox.authorize(m1)
        c2 = sandbox.authorize(m2)
        for _ in range(2):
            params = [("AccountSid", c1), ("state", server.tokens.issue())]
            if _callback(browser, server, params).status_code != 303:
                msg = "a direct good callback failed"
                raise RuntimeError(msg)
            used.append(tuple(params))
        declined = [("error", "unauthorized_client"), ("state", server.tokens.issue())]
        if _callback(browser, server, declined).status_code != 200:
            msg = "a real decline failed"
            raise RuntimeError(msg)
        used.append(tuple(declined))
    expired = tuple(server.tokens.issue() for _ in range(20))
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


@contextmanager
def _callback_server(sandbox: Sandbox, session: Session, clock: FakeClock, **kwargs: Any) -> Iterator[CallbackServer]:
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


class _ErrorRecords(logging.Handler):
    """Counts ERROR records (uncaught exceptions in handlers) while a fuzz runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _error_records() -> Iterator[_ErrorRecords]:
    # A handler on these loggers also keeps tornado's per-request warnings ("400 GET …")
    # off stderr when no logging is configured (Python's last-resort handler stays unused).
    handler = _ErrorRecords()
    loggers = [logging.getLogger(name) for name in ("tornado", "connect_notebook")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


# --- callback probes ---------------------------------------------------------------------


def _enc(value: str | bytes) -> str:
    return quote_from_bytes(value if isinstance(value, bytes) else value.encode(), safe="")


def _query(pairs: Sequence[tuple[str | bytes, str | bytes]]) -> bytes:
    return "&".join(f"{_enc(k)}={_enc(v)}" for k, v in pairs).encode()


def _with_query(path: bytes, query: bytes) -> bytes:
    return path + b"?" + query if query else path


_BAD_UTF8 = st.one_of(
    st.sampled_from(
        [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xe2\x82", b"\x80", b"\xf8\x88\x80\x80\x80"]
    ),
    st.binary(min_size=1, max_size=12).filter(lambda b: not _is_utf8(b)),
)
_METHODS = ("PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "CONNECT", "PROPFIND", "MKCOL", "FOO", "get", "Post")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _sid_like(scene: Scene) -> st.SearchStrategy[str]:
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


def _bogus_state(scene: Scene, *, issued_here: bool = True) -> st.SearchStrategy[str]:
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


def _get(scene: Scene, kind: str, pairs: Sequence[tuple[str | bytes, str | bytes]], **kw: Any) -> Probe:
    """An authorize callback with these query pairs (our Host unless ``host=`` says otherwise)."""
    kw.setdefault("host", scene.host)
    return Probe(kind, target=_with_query(AUTHORIZE, _query(pairs)), **kw)


def _signed_post(
    scene: Scene, kind: str, fields: list[tuple[str, str]], target: bytes = DEAUTHORIZE, **kw: Any
) -> Probe:
    """A deauthorize with a signature that is valid for exactly this URL and these fields."""
    signature = compute_signature(scene.url(target), fields, scene.auth_token)
    headers = (*kw.pop("headers", ()), (b"X-Twilio-Signature", signature.encode()))
    method = kw.pop("method", b"POST")
    return Probe(kind, method, target, kw.pop("host", scene.host), headers, urlencode(fields).encode(), **kw)


def _malformed(scene: Scene) -> st.SearchStrategy[Probe]:
    names = st.one_of(
        st.sampled_from(["AccountSid", "state", "error", "", "accountsid", "State", "AccountSid[]", "Account Sid"]),
        st.text(max_size=10),
    )
    values = st.one_of(_sid_like(scene), _bogus_state(scene), st.text(max_size=40), st.just("unauthorized_client"))
    pair = st.tuples(names, values).map(lambda p: _query([p]))
    fragment = st.sampled_from([b"", b"&", b"=", b"==", b"%", b"%zz", b"%%41", b"+", b";", b"?", b"#", b"[]", b"%00"])
    query = st.lists(st.one_of(pair, fragment), max_size=8).map(b"&".join)
    return st.one_of(
        st.builds(lambda q: Probe("malformed", target=_with_query(AUTHORIZE, q), host=scene.host), query),
        st.builds(
            lambda q, sig: Probe(
                "malformed", b"POST", DEAUTHORIZE, scene.host, ((b"X-Twilio-Signature", sig.encode()),), q
            ),
            query,
            st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
        ),
    )


def _oversized(scene: Scene) -> st.SearchStrategy[Probe]:
    sid = scene.bypass_sid
    filler = st.sampled_from(["a", "A", "0", "%", "é", "-_"])
    headers = st.sampled_from([b"X-Filler", b"Cookie", b"User-Agent", b"Referer", b"X-Twilio-Signature", b"Accept"])
    return st.one_of(
        # one checked parameter far over its 256-character limit (the query stays under 64 KiB)
        st.builds(
            lambda name, n, ch: _get(scene, "oversized", [("AccountSid", sid), (name, (ch * n)[:n])]),
            st.sampled_from(["state", "AccountSid", "error"]),
            st.integers(257, 18_000),
            filler,
        ),
        # hundreds to thousands of parameters (past 1,000 tornado's HTTP layer refuses the query)
        st.builds(
            lambda k, state: Probe(
                "oversized",
                target=AUTHORIZE + b"?" + b"a=1&" * k + _query([("state", state)]),
                host=scene.host,
            ),
            st.integers(100, 12_000),
            _bogus_state(scene),
        ),
        # a long header value on a bogus callback
        st.builds(
            lambda name, n, state: _get(
                scene, "oversized", [("AccountSid", sid), ("state", state)], headers=((name, b"a" * n),)
            ),
            headers,
            st.integers(1_000, 60_000),
            _bogus_state(scene),
        ),
        # a long header value (the signature itself, or another) on an unsigned deauthorize
        st.builds(
            lambda name, n: Probe(
                "oversized",
                b"POST",
                DEAUTHORIZE,
                scene.host,
                ((name, b"A" * n),),
                urlencode(scene.deauthorize_fields()).encode(),
            ),
            headers,
            st.integers(1_000, 60_000),
        ),
        # a long body to deauthorize (tornado reads it; the signature check refuses it)
        st.builds(
            lambda n, sig: Probe(
                "oversized",
                b"POST",
                DEAUTHORIZE,
                scene.host,
                ((b"X-Twilio-Signature", sig.encode()),),
                urlencode(scene.deauthorize_fields()).encode() + b"&x=" + b"y" * n,
            ),
            st.integers(10_000, 256_000),
            st.sampled_from(["", "forged", "A" * 28]),
        ),
        # headers past tornado's 64 KiB limit: refused by the HTTP layer, before any handler
        st.builds(
            lambda n: Probe("oversized", target=AUTHORIZE + b"?state=" + b"a" * n, host=scene.host, layer="http"),
            st.integers(66_000, 200_000),
        ),
    )


def _non_utf8(scene: Scene) -> st.SearchStrategy[Probe]:
    sid, live = scene.bypass_sid, scene.live_state
    return st.one_of(
        # percent-encoded invalid UTF-8 in a checked parameter: even the live state cannot help it
        st.builds(
            lambda bad, where, prefix: _get(
                scene,
                "non-utf8",
                [
                    ("AccountSid", prefix.encode() + bad if where == "AccountSid" else sid),
                    ("state", live if where != "state" else bad),
                ]
                + ([("error", bad)] if where == "error" else []),
            ),
            _BAD_UTF8,
            st.sampled_from(["AccountSid", "state", "error"]),
            st.sampled_from(["", "AC", sid[:-1]]),
        ),
        # raw bytes 0x80-0xFF in the request target (tornado passes them through as latin-1)
        st.builds(
            lambda bad, state: Probe(
                "non-utf8",
                target=AUTHORIZE + b"?AccountSid=" + bad + b"&" + _query([("state", state)]),
                host=scene.host,
            ),
            st.binary(min_size=1, max_size=12).map(lambda b: bytes(0x80 | x for x in b)),
            st.one_of(st.just(live), _bogus_state(scene)),
        ),
        # a deauthorize body that is not UTF-8, raw or percent-encoded, with a signature over what it could mean
        st.builds(
            lambda bad, raw: Probe(
                "non-utf8",
                b"POST",
                DEAUTHORIZE,
                scene.host,
                (
                    (
                        b"X-Twilio-Signature",
                        compute_signature(
                            scene.url(DEAUTHORIZE), scene.deauthorize_fields(), scene.auth_token
                        ).encode(),
                    ),
                ),
                (
                    b"AccountSid="
                    + (bad if raw else _enc(bad).encode())
                    + b"&ConnectAppSid="
                    + scene.connect_app_sid.encode()
                ),
            ),
            _BAD_UTF8,
            st.booleans(),
        ),
        # obs-text bytes in the signature header
        st.builds(
            lambda bad: Probe(
                "non-utf8",
                b"POST",
                DEAUTHORIZE,
                scene.host,
                ((b"X-Twilio-Signature", bytes(0x80 | x for x in bad)),),
                urlencode(scene.deauthorize_fields()).encode(),
            ),
            st.binary(min_size=1, max_size=40),
        ),
        # obs-text in Host: tornado's Host grammar refuses it
        st.builds(
            lambda bad: _get(
                scene, "non-utf8", [("AccountSid", sid), ("state", live)], layer="http", host=scene.host + bad
            ),
            st.binary(min_size=1, max_size=8).map(lambda b: bytes(0x80 | x for x in b)),
        ),
    )


# Spellings that tornado decodes to the same parameter name.
_ENCODED_NAMES = {
    "AccountSid": [b"AccountSid", b"Account%53id", b"%41ccountSid"],
    "state": [b"state", b"st%61te"],
    "error": [b"error", b"%65rror"],
}


@st.composite
def _duplicated_callback(draw_: st.DrawFn, scene: Scene) -> Probe:
    """The live state and an authorized customer (or a decline), with one checked name given twice."""
    decline = draw_(st.booleans())
    pairs = [("error", "unauthorized_client")] if decline else [("AccountSid", scene.bypass_sid)]
    pairs.append(("state", scene.live_state))
    name = draw_(st.sampled_from([n for n, _ in pairs]))
    spelling = draw_(st.sampled_from(_ENCODED_NAMES[name]))
    second = draw_(
        st.one_of(
            st.just(dict(pairs)[name]), st.sampled_from([scene.bypass_sid, *scene.connected]), st.text(max_size=10)
        )
    )
    parts = [_query([p]) for p in pairs] + [spelling + b"=" + _enc(second).encode()]
    order = draw_(st.permutations(range(len(parts))))
    return Probe("duplicated", target=AUTHORIZE + b"?" + b"&".join(parts[i] for i in order), host=scene.host)


@st.composite
def _duplicated_deauthorize(draw_: st.DrawFn, scene: Scene) -> Probe:
    """A validly signed deauthorize that names a field twice."""
    fields = scene.deauthorize_fields()
    name = draw_(st.sampled_from(["AccountSid", "ConnectAppSid"]))
    second = draw_(st.one_of(st.just(dict(fields)[name]), st.sampled_from(scene.connected)))
    sent = [*fields, (name, second)]
    return _signed_post(scene, "duplicated", draw_(st.permutations(sent)))


def _duplicated(scene: Scene) -> st.SearchStrategy[Probe]:
    return st.one_of(_duplicated_callback(scene), _duplicated_deauthorize(scene))


def _wrong_method(scene: Scene) -> st.SearchStrategy[Probe]:
    sid, live = scene.bypass_sid, scene.live_state
    query = _query([("AccountSid", sid), ("state", live)])
    methods = st.one_of(
        st.sampled_from(_METHODS),
        st.from_regex(r"[A-Z]{3,10}", fullmatch=True).filter(lambda m: m not in ("GET", "POST")),
    )
    fields = scene.deauthorize_fields()
    signed_get = DEAUTHORIZE + b"?" + urlencode(fields).encode()
    return st.one_of(
        # the live state and an authorized customer, with any method but GET (POST carries them as a form too)
        st.builds(
            lambda m, as_body: Probe(
                "wrong-method",
                m.encode(),
                AUTHORIZE if as_body else AUTHORIZE + b"?" + query,
                scene.host,
                body=query if as_body else None,
            ),
            st.one_of(methods, st.just("POST")),
            st.booleans(),
        ),
        # a validly signed deauthorize with any method but POST
        st.builds(lambda m: _signed_post(scene, "wrong-method", fields, method=m.encode()), methods),
        # GET to a server registered for POST, signed as Twilio signs a GET (URL only)
        st.just(
            Probe(
                "wrong-method",
                b"GET",
                signed_get,
                scene.host,
                ((b"X-Twilio-Signature", compute_signature(scene.url(signed_get), [], scene.auth_token).encode()),),
            )
        ),
    )


# Parameters a callback may carry besides the checked ones; they change nothing, but they
# vary the requests of the small classes (hypothesis never sends the same example twice).
_HARMLESS = st.lists(
    st.tuples(st.sampled_from(["code", "scope", "x", "next", "lang"]), st.text(max_size=12)), max_size=3
)


@st.composite
def _callback_with(draw_: st.DrawFn, scene: Scene, kind: str, pairs: st.SearchStrategy[list[tuple[str, str]]]) -> Probe:
    """An authorize callback with these pairs plus harmless extras, in any order."""
    return _get(scene, kind, draw_(st.permutations(draw_(pairs) + draw_(_HARMLESS))))


def _as_callback(scene: Scene, state: str, decline: bool, sid: str | None = None) -> list[tuple[str, str]]:
    first = ("error", "unauthorized_client") if decline else ("AccountSid", sid or scene.bypass_sid)
    return [first, ("state", state)]


def _state_missing(scene: Scene) -> st.SearchStrategy[Probe]:
    base = st.sampled_from(
        [
            [("AccountSid", scene.bypass_sid)],
            [("AccountSid", scene.connected[0])],
            [("error", "unauthorized_client")],
            [("AccountSid", scene.bypass_sid), ("state", "")],
            [("error", "unauthorized_client"), ("state", "")],
        ]
    )
    return _callback_with(scene, "state-missing", base)


def _state_forged(scene: Scene) -> st.SearchStrategy[Probe]:
    pairs = st.builds(
        lambda state, decline, sid: _as_callback(scene, state, decline, sid),
        _bogus_state(scene, issued_here=False),
        st.booleans(),
        st.sampled_from([scene.bypass_sid, *scene.connected]),
    )
    return _callback_with(scene, "state-forged", pairs)


def _state_replayed(scene: Scene) -> st.SearchStrategy[Probe]:
    """The exact query of a real callback whose state was used up, or its state for another account or a decline."""

    def replay(query: tuple[tuple[str, str], ...], how: str) -> list[tuple[str, str]]:
        if how == "verbatim":
            return list(query)
        return _as_callback(scene, dict(query)["state"], decline=how == "as-decline")

    pairs = st.builds(replay, st.sampled_from(scene.used), st.sampled_from(["verbatim", "other-account", "as-decline"]))
    return _callback_with(scene, "state-replayed", pairs)


def _state_expired(scene: Scene) -> st.SearchStrategy[Probe]:
    pairs = st.builds(
        lambda state, decline: _as_callback(scene, state, decline), st.sampled_from(scene.expired), st.booleans()
    )
    return _callback_with(scene, "state-expired", pairs)


def _signature_forged(scene: Scene) -> st.SearchStrategy[Probe]:
    url = scene.url(DEAUTHORIZE)
    token = scene.auth_token
    fields = scene.deauthorize_fields()

    def forge(how: str, sent: list[tuple[str, str]], text: str) -> Probe:
        signature: str | None
        if how == "missing":
            signature = None
        elif how == "random":
            signature = text
        elif how == "other-token":
            signature = compute_signature(url, sent, token[::-1] + text)
        elif how == "other-url":
            other = text.replace(" ", "") or "x"
            signature = compute_signature(
                {
                    "a": url.replace("http://", "https://"),
                    "b": url + "/",
                    "c": url + "?" + other,
                    "d": f"http://{other}/connect/deauthorize",
                }["abcd"[len(text) % 4]],
                sent,
                token,
            )
        elif how == "other-fields":
            signature = compute_signature(url, [*sent, ("x", text)], token)
        elif how == "truncated":
            signature = compute_signature(url, sent, token)[: len(text) % 27]
        elif how == "case":
            signature = compute_signature(url, sent, token).swapcase()
        else:  # "other-app": valid, but for a Connect App that is not ours
            sent = [
                ("AccountSid", scene.connected[0]),
                ("ConnectAppSid", "CN" + text.encode().hex()[:32].ljust(32, "0")),
            ]
            signature = compute_signature(url, sent, token)
        headers = () if signature is None else ((b"X-Twilio-Signature", signature.encode("utf-8", "replace")),)
        return Probe("signature-forged", b"POST", DEAUTHORIZE, scene.host, headers, urlencode(sent).encode())

    sent = st.one_of(
        st.just(fields),
        st.sampled_from(scene.connected).map(lambda sid: scene.deauthorize_fields(sid)),
        st.lists(st.tuples(st.sampled_from(["AccountSid", "ConnectAppSid", "x"]), st.text(max_size=34)), max_size=3),
    )
    return st.builds(
        forge,
        st.sampled_from(
            ["missing", "random", "other-token", "other-url", "other-fields", "truncated", "case", "other-app"]
        ),
        sent,
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    ).filter(lambda p: not _would_revoke(scene, p))


def _would_revoke(scene: Scene, probe: Probe) -> bool:
    """Whether a deauthorize is genuine after all (a valid signature, our app, one well-formed sid)."""
    signature = dict(probe.headers).get(b"X-Twilio-Signature")
    if signature is None or probe.body is None:
        return False
    fields = parse_qsl(probe.body.decode(), keep_blank_values=True)
    values = dict(fields)
    return (
        is_valid_signature(scene.url(DEAUTHORIZE), fields, signature.decode("utf-8", "replace"), scene.auth_token)
        and len(values) == len(fields)
        and values.get("ConnectAppSid") == scene.connect_app_sid
        and re.fullmatch(r"AC[0-9a-fA-F]{32}", values.get("AccountSid", "")) is not None
    )


_PATH_TRICKS = [
    b"//connect/authorize",
    b"/connect//authorize",
    b"/connect/../connect/authorize",
    b"/connect/./authorize",
    b"/./connect/authorize",
    b"/x/../connect/authorize",
    b"/connect/authorize/",
    b"/connect/authorize/.",
    b"/connect/authorize/..",
    b"/connect/authorize/extra",
    b"/connect%2Fauthorize",
    b"/connect%2fauthorize",
    b"%2Fconnect%2Fauthorize",
    b"/connect/authoriz%65",
    b"/%63onnect/authorize",
    b"/CONNECT/AUTHORIZE",
    b"/Connect/Authorize",
    b"/connect/authorize%00",
    b"/connect/authorize%20",
    b"/connect/authorize;",
    b"/connect/authorize;x=1",
    b"/connect/authorize.html",
    b"/connect/authorize%2F",
    b"/connect\\authorize",
    b"/connect/authorize\\",
    b"/..%2Fconnect/authorize",
    b"/connect/%2e%2e/connect/authorize",
    b"/connect/authorize#frag",
    b"/connect/authorize%23",
    b"/connect/authorize%3F",
    b"connect/authorize",
    b"*",
    b"http://evil.example/connect/authorize",
    b"http://127.0.0.1:{port}/connect/authorize",
    b"/connect/authorize\xff",
]


def _path_trick(scene: Scene) -> st.SearchStrategy[Probe]:
    """Near-miss paths with everything else right: the live state, or a valid signature for that URL."""
    tricks = [t.replace(b"{port}", str(scene.port).encode()) for t in _PATH_TRICKS]

    def mutate(path: bytes, at: int, insert: bytes) -> bytes:
        at %= len(path) + 1
        return path[:at] + insert + path[at:]

    path = st.one_of(
        st.sampled_from(tricks),
        st.builds(
            mutate,
            st.sampled_from([AUTHORIZE]),
            st.integers(0, 64),
            st.sampled_from([b"/", b"./", b"../", b"%2F", b"%2e", b"//", b";", b"%00", b"~"]),
        ),
    ).filter(lambda p: p != AUTHORIZE)
    query = _query([("AccountSid", scene.bypass_sid), ("state", scene.live_state)])
    return st.one_of(
        st.builds(lambda p: Probe("path-trick", target=p + b"?" + query, host=scene.host), path),
        st.builds(
            lambda p: _signed_post(
                scene, "path-trick", scene.deauthorize_fields(), target=p.replace(b"authorize", b"deauthorize")
            ),
            path,
        ),
    )


def _wrong_host(scene: Scene) -> st.SearchStrategy[Probe]:
    port = scene.port
    other = port + 1 if port < 65535 else port - 1
    allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}
    named = [
        "evil.example",
        f"evil.example:{port}",
        "evil.example:80",
        f"127.0.0.1:{other}",
        f"localhost:{other}",
        f"localhost.evil.example:{port}",
        f"127.0.0.1.evil.example:{port}",
        f"evil.example.127.0.0.1:{port}",
        "127.0.0.1",
        "localhost",
        "",
        f"[::1]:{port}",
        f"0.0.0.0:{port}",
        f"127.0.0.2:{port}",
        f"2130706433:{port}",
        f"0x7f000001:{port}",
        f"127.1:{port}",
        f"127.0.0.1:0{port}",
        f"localhost.:{port}",
        f"127.0.0.1:{port}:{port}",
        f"127.0.0.1%3A{port}",
        f"LOCALHOST.evil.example:{port}",
    ]
    host = st.one_of(
        st.sampled_from(named),
        st.from_regex(r"[a-z0-9.\-]{1,30}(:[0-9]{1,5})?", fullmatch=True),
    ).filter(lambda h: h.strip(" \t").lower() not in allowed)
    query = _query([("AccountSid", scene.bypass_sid), ("state", scene.live_state)])
    forwarded = st.sampled_from(
        [(), ((b"X-Forwarded-Host", b"127.0.0.1:%d" % port),), ((b"Forwarded", b"host=127.0.0.1:%d" % port),)]
    )
    tricky = [
        # no Host at all: HTTP/1.1 requires one (tornado refuses); HTTP/1.0 gets 127.0.0.1 without our port
        Probe("wrong-host", target=AUTHORIZE + b"?" + query, layer="http"),
        Probe("wrong-host", target=AUTHORIZE + b"?" + query, version=b"HTTP/1.0"),
        # two Host headers, ours first
        Probe(
            "wrong-host",
            target=AUTHORIZE + b"?" + query,
            host=scene.host,
            headers=((b"Host", b"evil.example"),),
            layer="http",
        ),
        Probe(
            "wrong-host",
            target=AUTHORIZE + b"?" + query,
            host=b"evil.example",
            headers=((b"Host", scene.host),),
            layer="http",
        ),
        Probe("wrong-host", target=AUTHORIZE + b"?" + query, host=b"127.0.0.1:%d@evil.example" % port, layer="http"),
    ]
    signed = compute_signature(scene.url(DEAUTHORIZE), scene.deauthorize_fields(), scene.auth_token).encode()
    return st.one_of(
        st.builds(
            lambda h, fwd: Probe("wrong-host", target=AUTHORIZE + b"?" + query, host=h.encode(), headers=fwd),
            host,
            forwarded,
        ),
        st.builds(
            lambda h: Probe(
                "wrong-host",
                b"POST",
                DEAUTHORIZE,
                h.encode(),
                ((b"X-Twilio-Signature", signed),),
                urlencode(scene.deauthorize_fields()).encode(),
            ),
            host,
        ),
        st.sampled_from(tricky),
    )


def _random_path(scene: Scene) -> st.SearchStrategy[Probe]:
    segment = st.one_of(
        st.text(max_size=12).map(lambda s: quote(s, safe="")),
        st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="?#"), max_size=12),
        st.sampled_from(["connect", "authorize", "deauthorize", "done", "..", ".", "", "favicon.ico", "static"]),
    )
    path = st.lists(segment, min_size=1, max_size=5).map(lambda parts: ("/" + "/".join(parts)).encode())
    return st.builds(
        lambda p, m, q: Probe("random-path", m.encode(), _with_query(p, _query(q)), scene.host),
        path,
        st.sampled_from(["GET", "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"]),
        st.lists(st.tuples(st.sampled_from(["state", "AccountSid", "ref", "x"]), st.text(max_size=10)), max_size=2),
    )


def _protocol(scene: Scene) -> st.SearchStrategy[Probe]:
    host = b"Host: " + scene.host + b"\r\n"
    close = b"Connection: close\r\n"
    messages = [
        b"GET /connect/authorize HTTP/2.0\r\n" + host + close + b"\r\n",
        b"GET /connect/authorize HTTP/9.9\r\n" + host + close + b"\r\n",
        b"GET /connect/authorize HTTP/1.1 extra\r\n" + host + close + b"\r\n",
        b"GET  /connect/authorize HTTP/1.1\r\n" + host + close + b"\r\n",
        b"GET /connect/authorize\r\n" + host + close + b"\r\n",
        b"/connect/authorize HTTP/1.1\r\n" + host + close + b"\r\n",
        b"G\x00ET /connect/authorize HTTP/1.1\r\n" + host + close + b"\r\n",
        b"GET /connect/\x01authorize HTTP/1.1\r\n" + host + close + b"\r\n",
        b"GET /connect/authorize HTTP/1.1\r\n" + host + b"NoColonHere\r\n" + close + b"\r\n",
        b"GET /connect/authorize HTTP/1.1\r\n" + host + b"Bad Name: x\r\n" + close + b"\r\n",
        b"GET /connect/authorize HTTP/1.1\r\n" + host + b"X: a\x00b\r\n" + close + b"\r\n",
        b"GET /connect/authorize HTTP/1.1\r\n" + host + b"X: a\r\n  folded\r\n" + close + b"\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n" + host + b"Content-Length: abc\r\n" + close + b"\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n" + host + b"Content-Length: -1\r\n" + close + b"\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n" + host + b"Content-Length: 1,2\r\n" + close + b"\r\nx",
        b"POST /connect/deauthorize HTTP/1.1\r\n"
        + host
        + b"Content-Length: 3\r\nContent-Length: 4\r\n"
        + close
        + b"\r\nabcd",
        b"POST /connect/deauthorize HTTP/1.1\r\n"
        + host
        + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"
        + close
        + b"\r\n0\r\n\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n" + host + b"Transfer-Encoding: gzip\r\n" + close + b"\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\n" + close + b"\r\nzz\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n"
        + host
        + b"Transfer-Encoding: chunked\r\n"
        + close
        + b"\r\n3\r\nabcd\r\n0\r\n\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n"
        + host
        + b"Transfer-Encoding: chunked\r\n"
        + close
        + b"\r\n4\r\nx=1&\r\n0\r\n\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n"
        + host
        + b"Content-Encoding: gzip\r\nContent-Length: 4\r\n"
        + close
        + b"\r\nabcd",
        b"\r\n\r\n",
        b"GET /connect/authorize HTTP/1.1\n" + host.replace(b"\r\n", b"\n") + b"Connection: close\n\n",
    ]
    garbage = st.binary(max_size=200).map(lambda b: b.replace(b"\n\n", b"\n").replace(b"\r\n\r\n", b"") + b"\r\n\r\n")
    return st.builds(
        lambda raw: Probe("protocol", raw=raw, layer="http"), st.one_of(st.sampled_from(messages), garbage)
    )


_CLASS_STRATEGIES: dict[str, Callable[[Scene], st.SearchStrategy[Probe]]] = {
    "malformed": _malformed,
    "oversized": _oversized,
    "non-utf8": _non_utf8,
    "duplicated": _duplicated,
    "wrong-method": _wrong_method,
    "state-missing": _state_missing,
    "state-forged": _state_forged,
    "state-replayed": _state_replayed,
    "state-expired": _state_expired,
    "signature-forged": _signature_forged,
    "path-trick": _path_trick,
    "wrong-host": _wrong_host,
    "random-path": _random_path,
    "protocol": _protocol,
}
assert tuple(_CLASS_STRATEGIES) == CALLBACK_CLASSES


def draw_probes(scene: Scene, n: int, seed: int) -> list[Probe]:
    """``n`` hostile requests, the same share of each class, interleaved so that classes mix on the wire.

    Each class is drawn on its own: one ``st.one_of`` over all classes would not share
    them out evenly (it flattens nested ``one_of``s, and hypothesis mutates earlier
    examples, which favours some classes).
    """
    k = len(CALLBACK_CLASSES)
    per_class = [
        draw(_CLASS_STRATEGIES[kind](scene), n // k + (i < n % k), seed * 100 + i)
        for i, kind in enumerate(CALLBACK_CLASSES)
    ]
    longest = max(map(len, per_class))
    return [probes[j] for j in range(longest) for probes in per_class if j < len(probes)]


# --- judging callback answers ----------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One answer that broke an invariant, with the request that caused it."""

    problem: str
    kind: str
    status: int | None
    request: bytes  # the first 300 bytes

    def __str__(self) -> str:
        return f"{self.problem} [{self.kind}] status={self.status}: {self.request!r}"


def judge(probe: Probe, answer: Answer) -> str | None:
    """Why an answer to a hostile request is wrong, or None if it is right."""
    head = probe.method == b"HEAD"
    if answer.error == "timeout":
        return f"no answer within {TIMEOUT:g}s"
    if answer.error is not None and answer.error.startswith(("connect", "garbled")):
        return answer.error
    if answer.status is None:
        return None if probe.refused_by == "http" else f"connection {answer.error} without an answer"
    if answer.status >= 500:
        return "5xx"
    if not 400 <= answer.status < 500:
        return f"{answer.status} for a bogus request"
    if "location" in answer.headers:
        return "a Location header on an error"
    if is_page(answer, head=head):
        return None
    if probe.refused_by == "http" and answer.status == 400 and not answer.headers:
        return None  # tornado's HTTP/1.1 parser: a bare "400 Bad Request", before any handler
    return "a 4xx that is not an HTML page"


def _outcome(probe: Probe, answer: Answer) -> str:
    if answer.status is None:
        return answer.error or "none"
    if probe.refused_by == "http" and not answer.headers:
        return f"{answer.status} (http layer)"
    return str(answer.status)


@dataclass
class CallbackFuzz:
    """Figures of one callback fuzz run."""

    requests: int
    by_class: Counter[str]
    outcomes: Counter[str]  # "400", "404", "400 (http layer)", "closed", …
    by_class_outcome: dict[str, Counter[str]]
    problems: list[Problem]
    events: list[tuple[str, str | None]]  # what session listeners heard during the fuzz
    accounts: tuple[int, int]  # len(session.accounts) before and after
    session_changes: int  # accounts whose stored record differs afterwards
    live_state: str  # the unused state's verdict after the fuzz: must still be "ok"
    expired_left: int  # expired states still reported expired (none used up by the fuzz)
    running_after: bool
    good_callback_after: int  # the live state then connects: 303 (the server still works, the state was real)
    error_logs: list[str]
    seconds: float

    @property
    def server_errors(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome[:1] == "5")

    @property
    def http_layer(self) -> int:
        refused = ("closed", "reset")
        return sum(n for outcome, n in self.outcomes.items() if outcome in refused or "http layer" in outcome)


def _snapshot(session: Session, sids: Sequence[str]) -> list[ConnectedAccount | None]:
    return [session.get(sid) for sid in sids]


def _session_keys(sandbox: Sandbox) -> list[str]:
    """Every SID the session could hold for the sandbox's customers: main accounts and Connect subaccounts."""
    return [s for c in sandbox.customer_account_sids for s in (c, sandbox.connected_sid(c)) if s is not None]


def fuzz_callback(sandbox: Sandbox, *, requests: int, seed: int, workers: int = 8) -> CallbackFuzz:
    """Send ``requests`` hypothesis-drawn hostile requests to a fresh callback server."""
    started = time.perf_counter()
    session, clock = Session(), FakeClock()
    sandbox.reset()
    with _callback_server(sandbox, session, clock) as server, _error_records() as errors:
        scene = _stage(sandbox, server, clock)
        customers = _session_keys(sandbox)
        before = _snapshot(session, customers)
        accounts_before = len(session.accounts)
        events = Events()
        unsubscribe = session.subscribe(events)
        probes = draw_probes(scene, requests, seed)
        with ThreadPoolExecutor(workers, thread_name_prefix="chaos-fuzz") as pool:
            answers = list(pool.map(lambda p: exchange(server.port, p.message(), head=p.method == b"HEAD"), probes))
        unsubscribe()
        after = _snapshot(session, customers)
        accounts_after = len(session.accounts)
        live = server.tokens.check(scene.live_state)
        expired_left = sum(server.tokens.check(s) == "expired" for s in scene.expired)
        running = server.running
        with httpx.Client(timeout=TIMEOUT) as browser:
            final = _callback(browser, server, [("AccountSid", scene.bypass_sid), ("state", scene.live_state)])
        by_class_outcome: dict[str, Counter[str]] = {}
        problems = []
        for probe, answer in zip(probes, answers, strict=True):
            by_class_outcome.setdefault(probe.kind, Counter())[_outcome(probe, answer)] += 1
            if (why := judge(probe, answer)) is not None:
                problems.append(Problem(why, probe.kind, answer.status, probe.message()[:300]))
    return CallbackFuzz(
        requests=len(probes),
        by_class=Counter(p.kind for p in probes),
        outcomes=sum(by_class_outcome.values(), Counter()),
        by_class_outcome=by_class_outcome,
        problems=problems,
        events=events.seen,
        accounts=(accounts_before, accounts_after),
        session_changes=sum(a != b for a, b in zip(before, after, strict=True)),
        live_state=live,
        expired_left=expired_left,
        running_after=running,
        good_callback_after=final.status_code,
        error_logs=[r.getMessage() for r in errors.records],
        seconds=time.perf_counter() - started,
    )


# --- loopback only, no open redirect, a good callback under load -----------------------------


def _other_addresses() -> list[str]:
    """This machine's non-loopback IPv4 source addresses.

    Connecting a UDP socket only picks a route and a source address: no packet leaves the
    machine, and no name is resolved.
    """
    found: set[str] = set()
    for probe in ("192.0.2.1", "10.255.255.255", "198.51.100.1", "203.0.113.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.connect((probe, 9))
                found.add(udp.getsockname()[0])
            except OSError:
                continue
    return sorted(a for a in found if not a.startswith("127.") and a != "0.0.0.0")


def _try_connect(family: socket.AddressFamily, host: str, port: int) -> str:
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect((host, port))
        except ConnectionRefusedError:
            return "refused"
        except OSError as exc:
            return f"unreachable ({exc.strerror or exc.__class__.__name__})"
    return "ACCEPTED"


def _listening(port: int) -> list[str]:
    """Local addresses listening on ``port``, from /proc/net (Linux); [] where unavailable."""
    found = []
    for name, family in (("tcp", 4), ("tcp6", 6)):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                if family == 4:
                    found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                else:
                    found.append(f"ipv6:{address}")
    return found


def check_loopback_only(sandbox: Sandbox) -> dict[str, Any]:
    """Where a default callback server listens, and whether any other local address reaches it."""
    session, clock = Session(), FakeClock()
    with _callback_server(sandbox, session, clock) as server:
        port = server.port
        reach = {
            f"127.0.0.1:{port}": _try_connect(socket.AF_INET, "127.0.0.1", port).replace(
                "ACCEPTED", "accepted (itself)"
            )
        }
        for host in ["127.0.0.2", *_other_addresses()]:
            reach[f"{host}:{port}"] = _try_connect(socket.AF_INET, host, port)
        if socket.has_ipv6:
            reach[f"[::1]:{port}"] = _try_connect(socket.AF_INET6, "::1", port)
        return {
            "configured_host": server._thread.host,
            "listening": _listening(port),
            "reach": reach,
        }


_DONE = re.compile(r"done\?ref=[0-9a-f]{8}\.[A-Za-z0-9_-]{16}")  # the issuing kernel's id, then the ref
_REDIRECT_BAIT = [
    ("next", "https://evil.example/"),
    ("redirect", "//evil.example"),
    ("redirect_uri", "https://evil.example/cb"),
    ("return_to", "/\\evil.example"),
    ("url", "http://evil.example"),
    ("continue", "javascript:alert(1)"),
    ("ref", "//evil.example"),
    ("done", "https://evil.example/done"),
]


def check_no_open_redirect(sandbox: Sandbox) -> dict[str, Any]:
    """Good callbacks carrying redirect bait: each goes to its own ``done?ref=…`` on the same origin."""
    session, clock = Session(), FakeClock()
    sandbox.reset()
    rows = []
    with _callback_server(sandbox, session, clock) as server, httpx.Client(timeout=TIMEOUT) as browser:
        customers = [sandbox.authorize(customer) for customer in sandbox.customer_account_sids]
        origin = f"http://127.0.0.1:{server.port}"
        cases: list[tuple[str, list[tuple[str, str]], dict[str, str]]] = [
            (f"{name}={value}", [(name, value)], {}) for name, value in _REDIRECT_BAIT
        ]
        cases.append(("Host: localhost", [], {"Host": f"localhost:{server.port}"}))
        cases.append(("Referer: evil", [], {"Referer": "https://evil.example/"}))
        for i, (label, bait, headers) in enumerate(cases):
            customer = customers[i % len(customers)]
            params = [("AccountSid", customer), ("state", server.tokens.issue()), *bait]
            response = browser.get(f"{server.authorize_callback_url}?{urlencode(params)}", headers=headers)
            location = response.headers.get("location", "")
            target = urljoin(str(response.url), location)
            done = browser.get(target, headers=headers) if location else None
            rows.append(
                {
                    "case": label,
                    "status": response.status_code,
                    "location": location,
                    "fixed_page": bool(_DONE.fullmatch(location)),
                    "same_origin": target.startswith(origin + "/connect/done?ref="),
                    "done_status": done.status_code if done is not None else None,
                }
            )
    return {
        "cases": rows,
        "ok": all(
            r["status"] == 303 and r["fixed_page"] and r["same_origin"] and r["done_status"] == 200 for r in rows
        ),
    }


def good_callback_under_load(
    sandbox: Sandbox, *, bogus: int = 100, seed: int = 1, per_thread: int = 200
) -> dict[str, Any]:
    """``bogus`` requests held open mid-headers plus ``bogus`` threads sending bogus requests, then the good flow.

    The held requests are provably in flight for the whole flow: their headers are
    finished only afterwards, and each must then still get its 4xx page.
    """
    session, clock = Session(), FakeClock()
    sandbox.reset()
    with (
        _callback_server(sandbox, session, clock) as server,
        _error_records() as errors,
        ExitStack() as sockets,
    ):
        scene = _stage(sandbox, server, clock)
        good_customer = sandbox.customer_account_sids[3]  # not authorized yet: the authorize page does it
        events = Events()
        unsubscribe = session.subscribe(events)
        pool = [p for p in draw_probes(scene, 4 * bogus, seed) if p.refused_by == "app" and p.kind != "oversized"]
        outcomes: Counter[str] = Counter()
        problems: list[Problem] = []
        lock = threading.Lock()

        def note(probe: Probe, answer: Answer) -> None:
            with lock:
                outcomes[_outcome(probe, answer)] += 1
                if (why := judge(probe, answer)) is not None:
                    problems.append(Problem(why, probe.kind, answer.status, probe.message()[:300]))

        held = []
        for probe in pool[:bogus]:
            sock = sockets.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT))
            first, rest = probe.split()
            sock.sendall(first)  # everything but the blank line that ends the headers
            held.append((probe, sock, rest))

        stop = threading.Event()
        in_flight = threading.Semaphore(0)

        def hammer(i: int) -> None:
            mine = pool[i % len(pool) :] + pool[: i % len(pool)]
            for n in range(per_thread):
                if stop.is_set():
                    return
                probe = mine[n % len(mine)]
                answer = exchange(
                    server.port,
                    probe.message(),
                    head=probe.method == b"HEAD",
                    on_sent=in_flight.release if n == 0 else None,
                )
                note(probe, answer)

        threads = [threading.Thread(target=hammer, args=(i,), name=f"chaos-hammer-{i}") for i in range(bogus)]
        for thread in threads:
            thread.start()
        hammering = 0
        for _ in threads:  # every hammer has a request on the wire before the good flow starts
            if not in_flight.acquire(timeout=TIMEOUT):
                break
            hammering += 1
        flow: dict[str, Any] = {}
        answered_before = sum(outcomes.values())
        try:
            with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as browser:
                query = _browser_flow(browser, sandbox, server, good_customer)
                flow = {"ok": True, "callback_query": dict(query)}
        except (RuntimeError, httpx.HTTPError) as exc:
            flow = {"ok": False, "error": str(exc)}
        answered_during = sum(outcomes.values()) - answered_before
        stop.set()
        for thread in threads:
            thread.join(TIMEOUT)
        for probe, sock, rest in held:
            try:
                sock.sendall(rest)
            except OSError:
                pass  # read whatever the server said before it closed
            note(probe, read_answer(sock, head=probe.method == b"HEAD"))
        unsubscribe()
        good_connected = sandbox.connected_sid(good_customer) or good_customer
        connected = good_connected in session
        live = server.tokens.check(scene.live_state)
    return {
        "held_open": len(held),
        "hammer_threads": len(threads),
        "hammers_in_flight": hammering,
        "answered_during_flow": answered_during,
        "bogus_answers": sum(outcomes.values()),
        "outcomes": dict(outcomes),
        "problems": problems,
        "good_flow": flow,
        "connected": connected,
        "events": events.seen,
        "expected_events": [("connected", good_connected)],
        "live_state": live,
        "threads_alive": sum(t.is_alive() for t in threads),
        "error_logs": [r.getMessage() for r in errors.records],
    }


# --- sandbox REST probes -----------------------------------------------------------------


@dataclass(frozen=True)
class RestProbe:
    """One request to the sandbox's REST API; ``path`` and ``query`` are sent byte for byte."""

    endpoint: str
    method: str
    path: str
    query: str
    body: bytes | None
    who: str  # "get-all", "post-all" or a kind of bad credentials

    def describe(self) -> str:
        body = f" -d {self.body[:80]!r}" if self.body else ""
        return f"{self.method} {self.path}{'?' + self.query if self.query else ''} as {self.who}{body}"


@dataclass(frozen=True)
class World:
    """What the REST fuzzer knows: who may call, and real SIDs and page tokens to start from."""

    reader: str  # Connect subaccount of a customer authorized with get-all (what requests authenticate as)
    writer: str  # Connect subaccount of a customer authorized with get-all and post-all
    stranger: str  # main account of a customer that has not authorized the app
    reader_main: str  # the reader's customer's main account: where its calls live
    writer_main: str
    owner: str
    connect_app_sid: str
    call_sids: tuple[str, ...]
    foreign_call_sids: tuple[str, ...]
    message_sids: tuple[str, ...]
    alert_sids: tuple[str, ...]
    page_tokens: tuple[str, ...]


_PAGING = ("PageSize", "Page", "PageToken")
_FILTERS = {
    "Calls": (
        "To",
        "From",
        "ParentCallSid",
        "Status",
        "StartTime",
        "StartTime<",
        "StartTime>",
        "EndTime",
        "EndTime<",
        "EndTime>",
    ),
    "Messages": ("To", "From", "DateSent", "DateSent<", "DateSent>"),
    "Usage/Records": ("Category", "StartDate", "EndDate", "IncludeSubaccounts"),
    "Alerts": ("LogLevel", "StartDate", "EndDate"),
    "Accounts": ("FriendlyName", "Status"),
    "ConnectApps": (),
    "AuthorizedConnectApps": (),
}
_USAGE_KINDS = ("", "AllTime", "Daily", "LastMonth", "Monthly", "ThisMonth", "Today", "Yearly", "Yesterday")
_ZONES = ("UTC", "GMT", "Z", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT", "XYZ", "CET")


def _numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-5, 1_005).map(str),
        st.integers(-(10**12), 10**12).map(str),
        st.sampled_from(
            [
                "",
                " ",
                "0",
                "1",
                "1000",
                "1001",
                "+5",
                "-0",
                "05",
                "5.0",
                "1e3",
                "0x10",
                "５",
                "٥",
                " 7 ",
                "999999999",
                "9999999999",
                "NaN",
                "null",
                "[]",
                "1_000",
            ]
        ),
        st.text(max_size=8),
    )


def _offsets() -> st.SearchStrategy[str]:
    return st.builds(lambda sign, n: f"{sign}{n}days", st.sampled_from(["+", "-", ""]), st.integers(0, 10**12))


def _fixed_zone() -> st.SearchStrategy[timezone]:
    return st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-23 * 60 - 59, 23 * 60 + 59))


# The first and last days of the calendar, where a UTC offset pushes a moment out of range.
_EDGE_MOMENTS = st.builds(
    lambda d, zone: d.replace(tzinfo=zone),
    st.sampled_from(
        [datetime(1, 1, 1), datetime(1, 1, 1, 12), datetime(9999, 12, 31, 12), datetime(9999, 12, 31, 23, 59, 59)]
    ),
    _fixed_zone(),
)


def _twilio_dates() -> st.SearchStrategy[str]:
    """Every date form the 2010 list filters accept, over the whole calendar, and junk."""
    moments = st.one_of(st.datetimes(timezones=_fixed_zone()), _EDGE_MOMENTS)
    return st.one_of(
        st.dates().map(date.isoformat),
        st.builds(lambda m, sep: m.isoformat(sep=sep), moments, st.sampled_from(["T", " "])),
        moments.map(lambda m: m.isoformat().replace("+00:00", "Z")),
        moments.map(email.utils.format_datetime),
        st.builds(
            lambda m, z: m.strftime("%m/%d/%Y %H:%M:%S") + (f" {z}" if z else ""),
            st.datetimes(min_value=datetime(1, 1, 1)),
            st.sampled_from(["", *_ZONES]),
        ),
        st.sampled_from(
            [
                "",
                " ",
                "2024-02-30",
                "2024-13-01",
                "0000-01-01",
                "0001-01-01",
                "9999-12-31",
                "10000-01-01",
                "2024-1-1",
                "-30days",
                "now",
                "2024-01-01T25:00:00Z",
                "2024-01-01T00:00:00+24:00",
                "1e9",
                "2026-10-31T00:00:00.000Z",
            ]
        ),
        st.text(max_size=30),
    )


def _usage_dates(kind: str) -> st.SearchStrategy[str]:
    """StartDate / EndDate for a usage kind.

    The sandbox builds every Daily and Monthly period of the range (eight records each)
    before it cuts a page from them, so a 0001–9999 daily range takes minutes and
    gigabytes, not a 4xx: for those two kinds the dates stay within a few decades, which
    keeps the run bounded. Offsets that overflow are kept (they fail before any period is
    built); the other kinds get the whole calendar.
    """
    if kind == "Daily":
        window = st.dates(date(2018, 1, 1), date(2035, 12, 31))
        offsets = st.builds(
            lambda n: f"{n:+d}days",
            st.one_of(st.integers(-3_000, 3_000), st.integers(10**7, 10**12), st.integers(-(10**12), -(10**7))),
        )
    elif kind == "Monthly":
        window = st.dates(date(1900, 1, 1), date(2100, 12, 31))
        offsets = st.builds(
            lambda n: f"{n:+d}days", st.one_of(st.integers(-50_000, 27_000), st.integers(10**7, 10**12))
        )
    else:
        window = st.dates()
        offsets = _offsets()
    return st.one_of(
        window.map(date.isoformat),
        offsets,
        st.sampled_from(["", "today", "2024-02-30", "20240101", "2024-W01-1", "-days"]),
        st.text(max_size=12),
    )


def _alert_dates() -> st.SearchStrategy[str]:
    moments = st.one_of(st.datetimes(timezones=st.one_of(st.none(), _fixed_zone())), _EDGE_MOMENTS)
    return st.one_of(
        st.dates().map(date.isoformat),
        moments.map(lambda m: m.isoformat().replace("+00:00", "Z")),
        st.sampled_from(["", "2026-10-31T00:00:00Z", "2026-13-01", "yesterday", "2026-10-31T24:00:00Z"]),
        st.text(max_size=24),
    )


def _tokens(world: World) -> st.SearchStrategy[str]:
    sids = [*world.call_sids, *world.message_sids]
    return st.one_of(
        st.sampled_from(world.page_tokens),
        st.builds(
            lambda p, s: p + s,
            st.sampled_from(["PA", "PB", "pa", "PC", ""]),
            st.sampled_from([*sids, *world.foreign_call_sids]),
        ),
        st.builds(lambda p, s: p + s.upper(), st.sampled_from(["PA", "PB"]), st.sampled_from(sids)),
        st.from_regex(r"P[AB](CA|SM)[0-9a-f]{32}", fullmatch=True),
        st.integers(-(10**12), 10**12).map(lambda n: base64.b64encode(f"PT{n}".encode()).decode()),
        st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode()),
        st.builds(lambda t, junk: t + junk, st.sampled_from(world.page_tokens), st.text(max_size=6)),
        st.sampled_from(["", "PA", "PB", "PT", "null", "None"]),
        st.text(max_size=40),
    )


def _value(name: str, endpoint: str, kind: str, world: World) -> st.SearchStrategy[str]:
    if name in ("PageSize", "Page"):
        return _numbers()
    if name == "PageToken":
        return _tokens(world)
    if endpoint == "Usage/Records" and name in ("StartDate", "EndDate"):
        return _usage_dates(kind)
    if endpoint == "Alerts" and name in ("StartDate", "EndDate"):
        return _alert_dates()
    if name.startswith(("StartTime", "EndTime", "DateSent")):
        return _twilio_dates()
    choices = {
        "Status": [
            "queued",
            "completed",
            "busy",
            "failed",
            "no-answer",
            "canceled",
            "in-progress",
            "ringing",
            "active",
            "COMPLETED",
            "",
        ],
        "Category": ["calls", "sms", "totalprice", "calls-inbound", "phonenumbers", "nope", ""],
        "LogLevel": ["error", "warning", "notice", "debug", "ERROR", ""],
        "IncludeSubaccounts": ["true", "false", "1", ""],
        "To": ["+14155550100", "+4915112345678", "client:alice", ""],
        "From": ["+14155550100", "+4915112345678", ""],
        "ParentCallSid": ["CA" + "0" * 32, *world.call_sids[:3], ""],
    }
    return st.one_of(st.sampled_from(choices.get(name, [""])), st.text(max_size=30))


def _account_in_path(who_sid: str, world: World) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                "AC" + who_sid[2:].upper(),
                world.reader if who_sid != world.reader else world.writer,
                world.reader_main if who_sid != world.reader else world.writer_main,  # another customer's data
                who_sid,  # the Connect subaccount itself: no calls, the only account it may write into
                world.owner,
                world.stranger,
                "ac" + who_sid[2:],
                who_sid[:-1],
                who_sid + "0",
                "AC" + "0" * 32,
            ]
        ),
        st.from_regex(r"AC[0-9a-fA-F]{32}", fullmatch=True),
    )


def _record_sid(prefix: str, real: Sequence[str], world: World) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(real) if real else st.nothing(),
        st.sampled_from(real).map(lambda s: s[:2] + s[2:].upper()) if real else st.nothing(),
        st.sampled_from(world.foreign_call_sids if prefix == "CA" else [prefix + "0" * 32]),
        st.from_regex(rf"{prefix}[0-9a-f]{{32}}", fullmatch=True),
        st.builds(
            lambda s, how: {
                "short": s[:-1],
                "long": s + "0",
                "lower": s[:2].lower() + s[2:],
                "other": "XX" + s[2:],
                "nothex": s[:2] + "g" * 32,
            }[how],
            st.sampled_from(real or [prefix + "0" * 32]),
            st.sampled_from(["short", "long", "lower", "other", "nothex"]),
        ),
        st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/?#%"), min_size=1, max_size=40),
    )


_BAD_CREDENTIALS = (
    "no-auth",
    "wrong-token",
    "bearer",
    "not-base64",
    "no-colon",
    "not-utf8",
    "not-authorized",
    "main-account",  # an authorized customer's main account SID with the owner's token: Connect refuses it
)


@st.composite
def rest_probes(draw_: st.DrawFn, world: World) -> RestProbe:
    """One request on one resource, with fuzzed parameters, path SIDs, method and credentials."""
    endpoint = draw_(st.sampled_from(REST_ENDPOINTS))
    # Mostly a connected customer's GET on its main account (as its Connect subaccount), so that most requests
    # reach the parameter parsing; the rest try other methods, credentials and accounts.
    who = draw_(st.sampled_from(["get-all"] * 9 + ["post-all"] * 2 + [""]))
    who = who or draw_(st.sampled_from(_BAD_CREDENTIALS))
    who_sid = world.writer if who == "post-all" else world.reader
    # The customer's data lives in its main account (read with the Connect subaccount's credentials).
    home = world.writer_main if who == "post-all" else world.reader_main
    method = draw_(st.sampled_from(["GET"] * 28 + ["HEAD", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]))
    other_account = draw_(st.sampled_from([False] * 11 + [True]))
    account = quote(draw_(_account_in_path(who_sid, world)) if other_account else home, safe="")
    base = f"/2010-04-01/Accounts/{account}"
    kind = ""
    list_name = endpoint.split("/{")[0]
    if endpoint == "Calls/{CA}":
        path = f"{base}/Calls/{quote(draw_(_record_sid('CA', world.call_sids, world)), safe='')}.json"
    elif endpoint == "Messages/{SM}":
        path = f"{base}/Messages/{quote(draw_(_record_sid('SM', world.message_sids, world)), safe='')}.json"
    elif endpoint == "Alerts/{NO}":
        path = f"/v1/Alerts/{quote(draw_(_record_sid('NO', world.alert_sids, world)), safe='')}"
    elif endpoint == "ConnectApps/{CN}":
        path = f"{base}/ConnectApps/{quote(draw_(_record_sid('CN', [world.connect_app_sid], world)), safe='')}.json"
    elif endpoint == "Accounts/{AC}":
        path = f"{base}.json"
    elif endpoint == "Accounts":
        path = "/2010-04-01/Accounts.json"
    elif endpoint == "Alerts":
        path = "/v1/Alerts"
    elif endpoint == "Usage/Records":
        kind = draw_(st.sampled_from([*_USAGE_KINDS, "Hourly", "daily"]))
        path = f"{base}/Usage/Records{'/' + kind if kind else ''}.json"
    else:
        path = f"{base}/{endpoint}.json"
    pairs: list[tuple[str, str | bytes]] = []
    if list_name in _FILTERS and "{" not in endpoint:
        known = [*_FILTERS[list_name], *_PAGING]
        # Each known parameter at most once, so that most values reach their parser (a
        # repeated name is refused before any value is read); one request in eight repeats one.
        names = draw_(st.lists(st.sampled_from(known), unique=True, max_size=4))
        junk = st.one_of(st.sampled_from(["pagesize", "PageSize ", "Foo"]), st.text(max_size=8))
        names += draw_(st.lists(junk, max_size=1))
        if names and draw_(st.sampled_from([False] * 7 + [True])):
            names.append(draw_(st.sampled_from(names)))
        for name in draw_(st.permutations(names)):
            # one value in 16 is not UTF-8 at all (percent-encoded bytes)
            bad = draw_(st.sampled_from([False] * 15 + [True]))
            value: str | bytes = draw_(_BAD_UTF8) if bad else draw_(_value(name, list_name, kind, world))
            pairs.append((name, value))
    else:
        pairs = [
            (n, v)
            for n, v in draw_(
                st.lists(st.tuples(st.sampled_from(["PageSize", "x", "Page"]), st.text(max_size=6)), max_size=2)
            )
        ]
    body = None
    if method in ("POST", "PUT", "PATCH"):
        names = [
            "To",
            "From",
            "Url",
            "Twiml",
            "Body",
            "MediaUrl",
            "MessagingServiceSid",
            "FriendlyName",
            "Permissions",
            "DeauthorizeCallbackUrl",
            "x",
        ]
        form = draw_(
            st.lists(st.tuples(st.sampled_from(names), st.one_of(st.text(max_size=40), _BAD_UTF8)), max_size=5)
        )
        if draw_(st.booleans()):
            body = _query(form)  # well-formed form encoding
        else:  # values sent raw: unescaped '&', '=', '%' and bytes that are not UTF-8
            body = b"&".join(_enc(k).encode() + b"=" + (v if isinstance(v, bytes) else v.encode()) for k, v in form)
    return RestProbe(endpoint, method, path, _query(pairs).decode(), body, who)


def _credentials(world: World, token: str) -> dict[str, str | None]:
    def basic(text: bytes) -> str:
        return "Basic " + base64.b64encode(text).decode()

    return {
        "get-all": basic(f"{world.reader}:{token}".encode()),
        "post-all": basic(f"{world.writer}:{token}".encode()),
        "no-auth": None,
        "wrong-token": basic(f"{world.reader}:{token[::-1]}".encode()),
        "bearer": f"Bearer {token}",
        "not-base64": "Basic !!!not base64!!!",
        "no-colon": basic(world.reader.encode()),
        "not-utf8": basic(b"\xff\xfe:" + token.encode()),
        "not-authorized": basic(f"{world.stranger}:{token}".encode()),
        "main-account": basic(f"{world.reader_main}:{token}".encode()),
    }


def judge_rest(probe: RestProbe, response: httpx.Response) -> str | None:
    """Why a sandbox answer is wrong, or None: a 2xx JSON body or Twilio's JSON error."""
    status = response.status_code
    if status >= 500:
        return "5xx"
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"{status} that is not JSON"
    if probe.method == "HEAD":
        return None if 200 <= status < 300 or 400 <= status < 500 else f"unexpected {status}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"{status} with a body that is not JSON"
    if 200 <= status < 300:
        return None if isinstance(body, dict) else "a 2xx body that is not a JSON object"
    if not 400 <= status < 500:
        return f"unexpected {status}"
    if not isinstance(body, dict) or set(body) != {"code", "message", "more_info", "status"}:
        return "a 4xx that is not Twilio's error body"
    if body["status"] != status or not isinstance(body["code"], int) or not body["message"]:
        return "a 4xx error body whose fields do not match"
    if body["more_info"] != f"https://www.twilio.com/docs/errors/{body['code']}":
        return "a 4xx error body with a wrong more_info"
    return None


@dataclass
class RestFuzz:
    """Figures of one sandbox REST fuzz run."""

    requests: int
    by_endpoint: Counter[str]
    statuses: Counter[int]
    by_endpoint_status: dict[str, Counter[int]]
    problems: list[tuple[str, str]]  # (why, the request)
    slowest: dict[str, float]  # seconds, per endpoint (a figure, never asserted)
    error_logs: list[str]
    seconds: float

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def _world(sandbox: Sandbox) -> World:
    reader_main, writer_main, stranger = sandbox.customer_account_sids[:3]
    sandbox.reset()
    reader = sandbox.authorize(reader_main)
    writer = sandbox.authorize(writer_main, ("get-all", "post-all"))
    token = sandbox.owner_auth_token
    tokens: list[str] = []
    with httpx.Client(base_url=sandbox.api_url, auth=(reader, token), timeout=TIMEOUT) as client:
        sids = {}
        for name, key in (("Calls", "calls"), ("Messages", "messages")):
            page = (
                client.get(f"/2010-04-01/Accounts/{reader_main}/{name}.json", params={"PageSize": 20})
                .raise_for_status()
                .json()
            )
            sids[name] = tuple(r["sid"] for r in page[key])
            if page["next_page_uri"]:
                tokens.append(dict(parse_qsl(urlsplit(page["next_page_uri"]).query))["PageToken"])
                after = client.get(page["next_page_uri"]).raise_for_status().json()
                if after["previous_page_uri"]:
                    tokens.append(dict(parse_qsl(urlsplit(after["previous_page_uri"]).query))["PageToken"])
        usage = (
            client.get(f"/2010-04-01/Accounts/{reader_main}/Usage/Records/Daily.json", params={"PageSize": 5})
            .raise_for_status()
            .json()
        )
        if usage["next_page_uri"]:
            tokens.append(dict(parse_qsl(urlsplit(usage["next_page_uri"]).query))["PageToken"])
        alerts = client.get("/v1/Alerts", params={"PageSize": 5}).raise_for_status().json()
        if alerts["meta"]["next_page_url"]:
            tokens.append(dict(parse_qsl(urlsplit(alerts["meta"]["next_page_url"]).query))["PageToken"])
    with httpx.Client(base_url=sandbox.api_url, auth=(writer, token), timeout=TIMEOUT) as client:
        foreign = (
            client.get(f"/2010-04-01/Accounts/{writer_main}/Calls.json", params={"PageSize": 5})
            .raise_for_status()
            .json()
        )
    return World(
        reader=reader,
        writer=writer,
        stranger=stranger,
        reader_main=reader_main,
        writer_main=writer_main,
        owner=sandbox.owner_account_sid,
        connect_app_sid=sandbox.connect_app_sid,
        call_sids=sids["Calls"],
        foreign_call_sids=tuple(r["sid"] for r in foreign["calls"]),
        message_sids=sids["Messages"],
        alert_sids=tuple(a["sid"] for a in alerts["alerts"]) or ("NO" + "0" * 32,),
        page_tokens=tuple(tokens) or ("PT0",),
    )


def fuzz_sandbox(sandbox: Sandbox, *, requests: int, seed: int, workers: int = 4) -> RestFuzz:
    """Send ``requests`` hypothesis-drawn REST requests to a sandbox with faults off."""
    started = time.perf_counter()
    world = _world(sandbox)
    probes = draw(rest_probes(world), requests, seed)
    credentials = _credentials(world, sandbox.owner_auth_token)
    base = httpx.URL(sandbox.api_url)

    def send(probe: RestProbe) -> tuple[httpx.Response | None, float, str | None]:
        headers = {}
        if (auth := credentials[probe.who]) is not None:
            headers["Authorization"] = auth
        if probe.body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        raw = (probe.path + ("?" + probe.query if probe.query else "")).encode("ascii")
        t = time.perf_counter()
        try:
            response = client.request(probe.method, base.copy_with(raw_path=raw), content=probe.body, headers=headers)
        except httpx.HTTPError as exc:
            return None, time.perf_counter() - t, f"{exc.__class__.__name__}: {exc}"
        return response, time.perf_counter() - t, None

    with (
        _error_records() as errors,
        httpx.Client(timeout=TIMEOUT, limits=httpx.Limits(max_connections=workers)) as client,
    ):
        with ThreadPoolExecutor(workers, thread_name_prefix="chaos-rest") as pool:
            results = list(pool.map(send, probes))
    by_endpoint_status: dict[str, Counter[int]] = {}
    problems: list[tuple[str, str]] = []
    slowest: dict[str, float] = {}
    for probe, (response, seconds, failure) in zip(probes, results, strict=True):
        slowest[probe.endpoint] = max(slowest.get(probe.endpoint, 0.0), seconds)
        if response is None:
            by_endpoint_status.setdefault(probe.endpoint, Counter())[0] += 1
            problems.append((f"no answer ({failure})", probe.describe()))
            continue
        by_endpoint_status.setdefault(probe.endpoint, Counter())[response.status_code] += 1
        if (why := judge_rest(probe, response)) is not None:
            problems.append((why, probe.describe()))
    sandbox.reset()
    return RestFuzz(
        requests=len(probes),
        by_endpoint=Counter(p.endpoint for p in probes),
        statuses=sum(by_endpoint_status.values(), Counter()),
        by_endpoint_status=by_endpoint_status,
        problems=problems,
        slowest=slowest,
        error_logs=[r.getMessage().splitlines()[0] for r in errors.records],
        seconds=time.perf_counter() - started,
    )


# --- the whole run -----------------------------------------------------------------------


def run(*, callback_requests: int, sandbox_requests: int, seed: int) -> dict[str, Any]:
    """Every part, on one sandbox; returns the figures (the bench prints them)."""
    with Sandbox(seed=seed, calls_per_customer=2_000, customers=4, now=NOW) as sandbox:
        callback = fuzz_callback(sandbox, requests=callback_requests, seed=seed)
        loopback = check_loopback_only(sandbox)
        redirects = check_no_open_redirect(sandbox)
        load = good_callback_under_load(sandbox, bogus=100, seed=seed)
        rest = fuzz_sandbox(sandbox, requests=sandbox_requests, seed=seed)
    return {"callback": callback, "loopback": loopback, "redirects": redirects, "load": load, "sandbox": rest}


def _table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print(
            "  "
            + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _statuses(counter: Counter[Any]) -> str:
    return ", ".join(f"{k}×{v}" for k, v in sorted(counter.items(), key=lambda kv: str(kv[0])))


def print_report(figures: dict[str, Any]) -> None:
    """The tables of one run."""
    cb: CallbackFuzz = figures["callback"]
    _table(
        f"Callback server fuzz: {cb.requests:,} requests in {cb.seconds:.1f}s",
        ["class", "requests", "answers"],
        [(kind, cb.by_class[kind], _statuses(cb.by_class_outcome.get(kind, Counter()))) for kind in CALLBACK_CLASSES],
    )
    _table(
        "Callback server: invariants",
        ["figure", "value"],
        [
            ("status codes seen", _statuses(cb.outcomes)),
            ("5xx answers", cb.server_errors),
            ("2xx/3xx answers to bogus requests", sum(n for o, n in cb.outcomes.items() if o[:1] in "23")),
            ("refused by tornado's HTTP parser (bare 400 or closed)", cb.http_layer),
            ("answers breaking an invariant", len(cb.problems)),
            ("session events during the fuzz", len(cb.events)),
            ("connected accounts before / after", "{} / {}".format(*cb.accounts)),
            ("session changes", cb.session_changes),
            ("unused live state afterwards", cb.live_state),
            ("expired states still expired", f"{cb.expired_left}/20"),
            ("server running afterwards", cb.running_after),
            ("good callback afterwards (live state)", cb.good_callback_after),
            ("ERROR log records", len(cb.error_logs)),
        ],
    )
    for problem in cb.problems[:10]:
        print(f"  ! {problem}")
    loop = figures["loopback"]
    _table(
        f"Callback server binding (configured host {loop['configured_host']}, "
        f"listening on {', '.join(loop['listening']) or 'n/a'})",
        ["connect to", "result"],
        sorted(loop["reach"].items()),
    )
    red = figures["redirects"]
    _table(
        f"Redirects of good callbacks carrying redirect bait (all to own done page: {red['ok']})",
        ["bait", "status", "Location", "done page"],
        [(r["case"], r["status"], r["location"][:9] + "…", r["done_status"]) for r in red["cases"]],
    )
    load = figures["load"]
    _table(
        "Good callback under load",
        ["figure", "value"],
        [
            ("bogus requests held open mid-headers", load["held_open"]),
            ("threads sending bogus requests", load["hammer_threads"]),
            ("  of which had a request on the wire when the flow began", load["hammers_in_flight"]),
            ("bogus requests answered while the good flow ran", load["answered_during_flow"]),
            ("bogus answers", f"{load['bogus_answers']} ({_statuses(Counter(load['outcomes']))})"),
            ("bogus answers breaking an invariant", len(load["problems"])),
            (
                "good flow (authorize page → callback 303 → done 200)",
                "ok" if load["good_flow"].get("ok") else load["good_flow"],
            ),
            ("account connected", load["connected"]),
            ("session events", load["events"]),
            ("ERROR log records", len(load["error_logs"])),
        ],
    )
    rest: RestFuzz = figures["sandbox"]
    _table(
        f"Sandbox REST fuzz: {rest.requests:,} requests in {rest.seconds:.1f}s (faults off)",
        ["resource", "requests", "statuses", "slowest"],
        [
            (
                ep,
                rest.by_endpoint[ep],
                _statuses(rest.by_endpoint_status.get(ep, Counter())),
                f"{rest.slowest.get(ep, 0):.2f}s",
            )
            for ep in REST_ENDPOINTS
        ],
    )
    _table(
        "Sandbox REST: invariants",
        ["figure", "value"],
        [
            ("statuses seen", _statuses(rest.statuses)),
            ("5xx answers", rest.server_errors),
            ("answers breaking an invariant", len(rest.problems)),
            ("ERROR log records", len(rest.error_logs)),
        ],
    )
    seen: set[str] = set()
    for why, request in rest.problems:
        key = why + request.split("?")[0].rsplit("/", 1)[-1]
        if key not in seen and len(seen) < 12:
            seen.add(key)
            print(f"  ! {why}: {request[:200]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callback-requests", type=int, default=10_000)
    parser.add_argument("--sandbox-requests", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = run(callback_requests=args.callback_requests, sandbox_requests=args.sandbox_requests, seed=args.seed)
    print_report(figures)
    print(f"\nseed {args.seed}; {time.perf_counter() - started:.0f}s in all")
    cb, rest, load = figures["callback"], figures["sandbox"], figures["load"]
    failed = (
        cb.problems
        or cb.events
        or cb.session_changes
        or rest.problems
        or load["problems"]
        or not load["connected"]
        or load["events"] != load["expected_events"]
        or not figures["redirects"]["ok"]
        or any(v == "ACCEPTED" for k, v in figures["loopback"]["reach"].items() if not k.startswith("127.0.0.1:"))
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
