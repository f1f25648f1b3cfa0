"""Hostile requests at the kernel's callback server: one hypothesis example per raw HTTP request.

The server is real (``CallbackServer`` on 127.0.0.1, verifying against a sandbox) and staged
for real: two customers connected through the sandbox's authorize page, used-up and expired
states, and one live state (``chaos/callback_scene.py``). Each example sends one request of
one class (``chaos/callback_probes.py``, ``chaos/callback_framing.py``): malformed, oversized,
non-UTF-8, duplicated, wrong method, missing / forged / replayed / expired state, forged
signature, path trick, wrong Host, random path, broken HTTP. A request that gets one thing
wrong carries everything else right, so one slipping through would connect or revoke an
account. Every answer must be a 4xx HTML page from our handlers, or, for what tornado's
HTTP/1.1 parser refuses before any handler, its bare 400 or a closed connection: never a
5xx, never a 2xx/3xx, no session change, no ERROR record.

After the property, audits read what it counted; then where the server listens, where its
one redirect goes, and a good click-through while 200 bogus requests are in flight.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from urllib.parse import urlencode, urljoin

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.callback_probes import CALLBACK_CLASSES, HTTP_LAYER_CLASSES, bogus_pool, strategy_for
from chaos.callback_scene import (
    Events,
    FakeClock,
    Target,
    browser_flow,
    callback_server,
    error_records,
    stage,
    staged_target,
)
from chaos.callback_wire import (
    TIMEOUT,
    Answer,
    Probe,
    exchange,
    figure_label,
    judge,
    listening,
    other_addresses,
    read_answer,
    try_connect,
)
from chaos.figures import Figures, Table, budget
from chaos.truth import NOW
from connect_notebook._session import ConnectedAccount, Session
from connect_notebook.sandbox import Sandbox

TITLE = "hostile requests at the callback server"
PROPERTY = "test_hostile_requests_get_a_4xx_page_and_change_nothing"
# 1,000 requests in all under the quick profile and 10,000 under full, shared out evenly.
PER_CLASS = budget(quick=-(-1_000 // len(CALLBACK_CLASSES)), full=-(-10_000 // len(CALLBACK_CLASSES)))
SENT = "hostile requests sent"
SERVER_ERRORS = "5xx answers"
ACCEPTED = "2xx answers"
REDIRECTS = "redirects (3xx or a Location header)"
CHANGES = "session changes"
ERRORS = "ERROR log records"
GOOD_AFTER = "a good callback with the unused state, after the fuzz"
Recorded = Callable[[str, str], Table]


def _sent(kind: str) -> str:
    """The row counting the requests of one class."""
    return f"  of class {kind}"


def _refused(kind: str) -> str:
    """The row counting the requests of one class that tornado's parser refused before any handler."""
    return f"refused by tornado's HTTP parser: {kind}"


# The property's rows in the order the table shows them; a count starts at 0 so that its row shows.
ROWS = (
    SENT,
    *(_sent(kind) for kind in CALLBACK_CLASSES),
    *(f"answered {status} by our handlers" for status in (400, 403, 404, 405)),
    "bare 400s from tornado's HTTP parser",
    "connections closed by tornado's HTTP parser",
    "connections reset by tornado's HTTP parser",
    *(_refused(kind) for kind in CALLBACK_CLASSES if kind in HTTP_LAYER_CLASSES),
    SERVER_ERRORS,
    ACCEPTED,
    REDIRECTS,
    CHANGES,
    ERRORS,
)


def _table(figures: Figures) -> Table:
    """The property's table, its rows laid out in ``ROWS`` order the first time (a replay adds nothing new)."""
    table = figures.table(TITLE)
    for label in ROWS:
        if label not in table.rows:
            table.add(label, 0)
    return table


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """A callback server of this module's own, staged, on a small sandbox of four customers."""
    with Sandbox(seed=11, calls_per_customer=100, customers=4, days=5, now=NOW) as sandbox, staged_target(sandbox) as t:
        yield t


@pytest.fixture(scope="module")
def lone_sandbox() -> Iterator[Sandbox]:
    """Another small sandbox, for the tests that start a callback server each (they reset it)."""
    with Sandbox(seed=12, calls_per_customer=100, customers=4, days=5, now=NOW) as sandbox:
        yield sandbox


# -- the property --


@pytest.mark.parametrize("kind", CALLBACK_CLASSES)
@settings(max_examples=PER_CLASS)
@given(data=st.data())
def test_hostile_requests_get_a_4xx_page_and_change_nothing(
    target: Target, figures: Figures, kind: str, data: st.DataObject
) -> None:
    """One hostile request of ``kind``: a 4xx page (or the HTTP parser's refusal), and the session as staged.

    A change is put back before the assertion fails, so that hypothesis replays the example
    against the same server state while it shrinks it.
    """
    table = _table(figures)
    probe = data.draw(strategy_for(kind, target.scene), label="request")
    logged = len(target.errors.records)
    answer = exchange(target.scene.port, probe.message(), head=probe.is_head)
    errors = [record.getMessage() for record in target.errors.records[logged:]]
    changes = target.changes()
    if changes:
        target.restore()

    label = figure_label(probe, answer)
    table.add(SENT)
    table.add(_sent(kind))
    table.add(label)
    if "tornado's HTTP parser" in label:
        table.add(_refused(kind))
    status = answer.status or 0
    table.add(SERVER_ERRORS, status >= 500)
    table.add(ACCEPTED, 200 <= status < 300)
    table.add(REDIRECTS, 300 <= status < 400 or "location" in answer.headers)
    table.add(CHANGES, bool(changes))
    table.add(ERRORS, len(errors))

    sent = target.mask(probe.message()[:300])
    why = judge(probe, answer)
    assert why is None, f"{why}: a {kind} request got {target.mask(answer.summary())}; it was {sent!r}"
    assert changes == [], f"a {kind} request changed the session: {changes}; it was {sent!r}"
    assert errors == [], f"a {kind} request made the server log errors: {target.mask(repr(errors))}; it was {sent!r}"


# -- audits of what the property counted --


def _selected_kinds(request: pytest.FixtureRequest) -> list[str]:
    """The classes whose property example runs were selected in this session."""
    items = [item for item in request.session.items if isinstance(item, pytest.Function)]
    ours = [item for item in items if item.module is request.module and item.name.startswith(PROPERTY)]
    return [str(item.callspec.params["kind"]) for item in ours]


def test_every_class_of_hostile_request_was_sent(recorded: Recorded, request: pytest.FixtureRequest) -> None:
    """Each selected class got its examples (hypothesis stops early only when a class's space runs out)."""
    table = recorded(TITLE, PROPERTY)
    sent = {kind: table.get(_sent(kind)) for kind in _selected_kinds(request)}
    assert sent, "the property ran, but no class of it was selected"
    assert {kind: n for kind, n in sent.items() if n < PER_CLASS} == {}, f"classes short of {PER_CLASS} requests"
    assert table.get(SENT) == sum(table.get(_sent(kind)) for kind in CALLBACK_CLASSES)


def test_only_malformed_http_is_refused_before_our_handlers(recorded: Recorded, request: pytest.FixtureRequest) -> None:
    """Bare 400s and closed connections come only from the classes that break HTTP itself or its limits."""
    table = recorded(TITLE, PROPERTY)
    refused = {kind for kind in CALLBACK_CLASSES if table.get(_refused(kind))}
    assert refused <= HTTP_LAYER_CLASSES, f"refused by tornado's parser, not by our handlers: {refused}"
    if "protocol" in _selected_kinds(request):
        # The control: broken request lines never reach a handler, so the count can see a refusal.
        assert table.get(_refused("protocol")) > 0


def test_the_unused_state_survives_the_fuzz_and_then_connects(
    recorded: Recorded, target: Target, figures: Figures
) -> None:
    """Every hostile request left the live state, the expired ones and the session alone; the live state is real.

    The control: the same request without anything wrong connects the bypass customer, and
    the instruments the property relies on (``judge``, ``Target.changes``) both see it.
    """
    recorded(TITLE, PROPERTY)
    assert target.changes() == []
    assert [account.sid for account in target.session.accounts] == list(target.scene.connected)

    scene = target.scene
    good = scene.callback("good", [("AccountSid", scene.bypass_sid), ("state", scene.live_state)])
    answer = exchange(scene.port, good.message())
    changes = target.changes()
    target.restore()

    _table(figures).set(GOOD_AFTER, answer.status)
    assert answer.status == 303, answer.summary()
    assert judge(good, answer) == "303 for a bogus request"
    assert f"the session told its listeners 'connected' for {scene.bypass_sid}" in changes
    assert "the unused live state is now 'used'" in changes
    assert target.changes() == []  # restored: the session as staged, and a new live state


def test_the_server_keeps_serving_and_logs_no_error(recorded: Recorded, target: Target) -> None:
    """The server still serves its pages after the fuzz and logged no ERROR during it.

    The control: a session listener that raises makes the server's thread log an ERROR,
    and the records see it.
    """
    recorded(TITLE, PROPERTY)
    assert target.server.running
    assert [record.getMessage() for record in target.errors.records] == []
    done = exchange(
        target.scene.port, Probe("control", target=b"/connect/done?ref=x", host=target.scene.host).message()
    )
    assert done.status == 404 and b"<p id=reason>" in done.body, done.summary()

    def broken(event: str, account: ConnectedAccount | None) -> None:
        msg = "a listener that fails"
        raise RuntimeError(msg)

    scene = target.scene
    good = scene.callback("good", [("AccountSid", scene.bypass_sid), ("state", scene.live_state)])
    unsubscribe = target.session.subscribe(broken)
    try:
        answer = exchange(scene.port, good.message())
    finally:
        unsubscribe()
        target.restore()
    seen = [record.getMessage() for record in target.errors.records]
    target.errors.records.clear()
    assert answer.status == 303, answer.summary()
    assert seen == ["session listener failed on connected"]


# -- where it listens, where it redirects, and a good callback under load --


def test_callback_server_listens_on_127_0_0_1_only(lone_sandbox: Sandbox, figures: Figures) -> None:
    """127.0.0.1 only: 127.0.0.2, ::1 and the machine's other addresses are refused."""
    with callback_server(lone_sandbox, Session(), FakeClock()) as server:
        port = server.port
        configured, bound = server._thread.host, listening(port)
        itself = try_connect(socket.AF_INET, "127.0.0.1", port)
        others = {host: try_connect(socket.AF_INET, host, port) for host in ["127.0.0.2", *other_addresses()]}
        ipv6 = try_connect(socket.AF_INET6, "::1", port) if socket.has_ipv6 else "no IPv6"

    table = figures.table(TITLE)
    table.set("listens on", configured)
    table.set("connections from 127.0.0.2", others["127.0.0.2"])
    table.set("connections from ::1", ipv6)
    table.set(
        "other addresses of this machine refused", sum(v == "refused" for k, v in others.items() if k[:4] != "127.")
    )
    table.set("other addresses of this machine", len(others) - 1)
    assert configured == "127.0.0.1"
    if bound:  # read from /proc/net where there is one (Linux)
        assert bound == ["127.0.0.1"]
    assert itself == "ACCEPTED"
    assert "ACCEPTED" not in [*others.values(), ipv6], {**others, "::1": ipv6}


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


def test_good_callbacks_carrying_redirect_bait_go_only_to_their_own_done_page(
    lone_sandbox: Sandbox, figures: Figures
) -> None:
    """The one redirect, after a good callback, goes to ``done?ref=…`` on its own origin whatever the request says."""
    lone_sandbox.reset()
    cases: list[tuple[str, list[tuple[str, str]], dict[str, str]]] = [
        (f"{name}={value}", [(name, value)], {}) for name, value in _REDIRECT_BAIT
    ]
    with callback_server(lone_sandbox, Session(), FakeClock()) as server, httpx.Client(timeout=TIMEOUT) as browser:
        cases.append(("Host: localhost", [], {"Host": f"localhost:{server.port}"}))
        cases.append(("Referer: evil", [], {"Referer": "https://evil.example/"}))
        customers = [lone_sandbox.authorize(customer) for customer in lone_sandbox.customer_account_sids]
        origin = f"http://127.0.0.1:{server.port}"
        went: list[tuple[str, int, str, str, int | None]] = []
        for i, (label, bait, headers) in enumerate(cases):
            params = [("AccountSid", customers[i % len(customers)]), ("state", server.tokens.issue()), *bait]
            response = browser.get(f"{server.authorize_callback_url}?{urlencode(params)}", headers=headers)
            location = response.headers.get("location", "")
            where = urljoin(str(response.url), location)
            done = browser.get(where, headers=headers).status_code if location else None
            went.append((label, response.status_code, location, where, done))

    # Exactly done?ref=<kernel id>.<16 url-safe characters>, on the server's own origin, and it answers.
    own = [c for c in went if _DONE.fullmatch(c[2]) and c[3].startswith(f"{origin}/connect/done?ref=") and c[4] == 200]
    table = figures.table(TITLE)
    table.set("good callbacks carrying redirect bait", len(went))
    table.set("  of which went only to their own done?ref=… page", len(own))
    assert [c[:2] for c in went if c[1] != 303] == []
    assert own == went


def test_a_good_callback_is_served_while_bogus_requests_are_in_flight(lone_sandbox: Sandbox, figures: Figures) -> None:
    """100 requests held open mid-headers and 100 threads sending bogus ones: a real click-through still connects.

    The held requests are provably in flight for the whole flow: their headers are finished
    only afterwards, and each must then still get its 4xx page. Every hammer thread has a
    request on the wire before the flow starts (a semaphore, not a sleep).
    """
    bogus, per_thread = 100, budget(quick=20, full=200)
    session, clock = Session(), FakeClock()
    lone_sandbox.reset()
    with callback_server(lone_sandbox, session, clock) as server, error_records() as errors, ExitStack() as sockets:
        scene = stage(lone_sandbox, server, clock)
        good_customer = lone_sandbox.customer_account_sids[3]  # not authorized yet: the authorize page does it
        events = Events()
        unsubscribe = session.subscribe(events)
        pool = bogus_pool(scene)
        problems: list[str] = []
        answered = [0]
        lock = threading.Lock()

        def note(probe: Probe, answer: Answer) -> None:
            with lock:
                answered[0] += 1
                if (why := judge(probe, answer)) is not None:
                    problems.append(f"{why}: {probe!r} got {answer.summary()}")

        held = []
        for i in range(bogus):
            probe = pool[i % len(pool)]
            sock = sockets.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT))
            first, rest = probe.split()
            sock.sendall(first)  # everything but the blank line that ends the headers
            held.append((probe, sock, rest))

        stop = threading.Event()
        in_flight = threading.Semaphore(0)

        def hammer(i: int) -> None:
            for n in range(per_thread):
                if stop.is_set():
                    return
                probe = pool[(i + n) % len(pool)]
                sent = in_flight.release if n == 0 else None
                note(probe, exchange(server.port, probe.message(), head=probe.is_head, on_sent=sent))

        threads = [threading.Thread(target=hammer, args=(i,), name=f"chaos-hammer-{i}") for i in range(bogus)]
        for thread in threads:
            thread.start()
        hammering = sum(in_flight.acquire(timeout=TIMEOUT) for _ in threads)
        try:
            with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as browser:
                browser_flow(browser, lone_sandbox, server, good_customer)
        finally:
            stop.set()
            for thread in threads:
                thread.join(TIMEOUT)
        for probe, sock, rest in held:
            try:
                sock.sendall(rest)
            except OSError:
                pass  # read whatever the server said before it closed
            note(probe, read_answer(sock, head=probe.is_head))
        unsubscribe()
        connected = lone_sandbox.connected_sid(good_customer)
        live = server.tokens.check(scene.live_state)
        logged = [record.getMessage() for record in errors.records]

    table = figures.table(TITLE)
    table.set("requests held open mid-headers during a good click-through", len(held))
    table.set("threads sending bogus requests during it", len(threads))
    table.set("the click-through connected the account", connected is not None and connected in session)
    assert hammering == bogus  # each had a request on the wire before the flow began
    assert connected is not None and connected in session
    assert events.seen == [("connected", connected)]
    assert answered[0] >= 2 * bogus  # the held ones, and the first of every thread
    assert problems == []
    assert live == "ok"
    assert [t.name for t in threads if t.is_alive()] == []
    assert logged == []
