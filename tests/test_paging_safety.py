"""Paging against a hostile server: credentials stay on the configured origin, and the work is bounded.

The hostile servers are throwaway Tornado apps on ``ServerThread`` (127.0.0.1, port 0):
each answers every request from a small Python function, and records what it received,
so a test can say "this request was never sent" by looking at the other server.
The thread pool of a load is checked in a subprocess: an interrupted load whose server
never answers must let the interpreter exit.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pytest
import tornado.httputil
import tornado.web

from connect_notebook import ConnectApp, PagingError, load_calls
from connect_notebook._client import MAX_PAGES, APIClient
from connect_notebook._frames import decode_alerts_page, decode_calls_page
from connect_notebook._pool import DaemonPool
from connect_notebook._serving import ServerThread
from connect_notebook.sandbox import Sandbox

OWNER = "AC" + "1" * 32
CUSTOMER = "AC" + "2" * 32
CONNECT_APP = "CN" + "3" * 32
TOKEN = "7f3c9a0b4e1d2c5f6a8b9c0d1e2f3a4b"  # the owner's Auth Token in these tests
Reply = tuple[int, dict[str, Any]]
SAFETY_STOP = 100  # a hostile server ends its listing after this many requests


@dataclass
class Hostile:
    """A throwaway server that answers every GET with ``respond(request)`` and records what it got."""

    respond: Callable[[tornado.httputil.HTTPServerRequest], Reply]
    received: list[tuple[str, str | None]] = field(default_factory=list)  # (uri, Authorization header)
    thread: ServerThread | None = None

    @property
    def origin(self) -> str:
        assert self.thread is not None
        return f"http://127.0.0.1:{self.thread.port}"

    @property
    def port(self) -> int:
        assert self.thread is not None
        return self.thread.port


class _Answer(tornado.web.RequestHandler):
    def initialize(self, server: Hostile) -> None:
        self.server = server

    def get(self, _path: str) -> None:
        self.server.received.append((self.request.uri or "", self.request.headers.get("Authorization")))
        status, body = self.server.respond(self.request)
        if len(self.server.received) >= SAFETY_STOP:  # so that a client that follows loops fails, not hangs
            body = {**body, "next_page_uri": None, "meta": {"next_page_url": None}}
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


@contextmanager
def hostile(respond: Callable[[tornado.httputil.HTTPServerRequest], Reply]) -> Iterator[Hostile]:
    server = Hostile(respond)
    app = tornado.web.Application([(r"/(.*)", _Answer, {"server": server})], log_function=lambda h: None)
    server.thread = ServerThread(app, name="connect_notebook-test-hostile").start()
    try:
        yield server
    finally:
        server.thread.stop()


def nothing(request: tornado.httputil.HTTPServerRequest) -> Reply:
    return 200, {"calls": [], "alerts": [], "next_page_uri": None, "meta": {"next_page_url": None}}


@pytest.fixture
def evil() -> Iterator[Hostile]:
    """Another origin: whatever it receives was sent off-origin."""
    with hostile(nothing) as server:
        yield server


def calls_page(link: str | None, sid: str = "CA" + "0" * 32) -> dict[str, Any]:
    return {"calls": [{"sid": sid}], "next_page_uri": link}


def app_for(api: Hostile, monitor: Hostile | None = None) -> ConnectApp:
    return ConnectApp(
        account_sid=OWNER,
        auth_token=TOKEN,
        connect_app_sid=CONNECT_APP,
        api_url=api.origin,
        monitor_url=(monitor or api).origin,
    )


def listing(client: APIClient) -> str:
    return client.api("Calls.json?PageSize=1")


# --- credentials never leave the configured origin (issue 10, item 1) --------------------


OFF_ORIGIN = [
    # (link template, what the message must name: the host); {evil} is the other server's port, {port} ours.
    pytest.param("http://localhost:{evil}/2010-04-01/Calls.json?Page=1&t={token}", "localhost", id="other-host"),
    pytest.param("http://127.0.0.1:{evil}/2010-04-01/Calls.json?Page=1&t={token}", "127.0.0.1:{evil}", id="other-port"),
    pytest.param("https://127.0.0.1:{port}/2010-04-01/Calls.json?Page=1", "127.0.0.1:{port}", id="other-scheme"),
    pytest.param("HTTP://LOCALHOST:{evil}/2010-04-01/Calls.json?Page=1", "localhost", id="upper-case-scheme"),
    pytest.param("http://x:{token}@localhost:{evil}/Calls.json", "localhost", id="user-info-and-other-host"),
    pytest.param("http://x:{token}@127.0.0.1:{port}/Calls.json", "127.0.0.1:{port}", id="user-info-same-host"),
    # A relative link is appended to the configured base: these two would change its host or port.
    pytest.param("@localhost:{evil}/2010-04-01/Calls.json", "localhost", id="relative-that-moves-the-host"),
    pytest.param(".localhost:{evil}/2010-04-01/Calls.json", "not a valid URL", id="relative-that-breaks-the-port"),
]


@pytest.mark.parametrize(("template", "host"), OFF_ORIGIN)
def test_a_next_page_uri_to_another_origin_is_an_error_naming_the_host_and_never_a_request(
    evil: Hostile, template: str, host: str
) -> None:
    holder: dict[str, int] = {}

    def respond(request: tornado.httputil.HTTPServerRequest) -> Reply:
        return 200, calls_page(template.format(evil=evil.port, port=holder["port"], token=TOKEN))

    with hostile(respond) as api, APIClient(app_for(api), CUSTOMER) as client:
        holder["port"] = api.port
        pages = client.iter_pages(listing(client), decode_calls_page)
        assert next(pages).height == 1
        with pytest.raises(PagingError) as info:
            next(pages)
    message = str(info.value)
    assert host.format(evil=evil.port, port=api.port) in message
    assert TOKEN not in message
    assert "Calls.json?Page=1" not in message  # the host, not the whole link
    assert evil.received == []
    assert len(api.received) == 1


def test_a_v1_meta_next_page_url_to_another_origin_is_refused(evil: Hostile) -> None:
    def respond(request: tornado.httputil.HTTPServerRequest) -> Reply:
        return 200, {"alerts": [], "meta": {"next_page_url": f"http://localhost:{evil.port}/v1/Alerts?Page=1"}}

    with hostile(nothing) as api, hostile(respond) as monitor:
        app = app_for(api, monitor)
        with APIClient(app, CUSTOMER) as client, pytest.raises(PagingError, match="localhost"):
            list(client.iter_pages(f"{app.monitor_url}/v1/Alerts?PageSize=1", decode_alerts_page))
    assert evil.received == []
    assert len(monitor.received) == 1


def test_a_link_to_the_apps_other_configured_api_is_refused_too() -> None:
    """The rule is the listing's own origin, not any configured one: the REST API never links to Monitor."""
    with hostile(nothing) as monitor:

        def respond(request: tornado.httputil.HTTPServerRequest) -> Reply:
            return 200, calls_page(f"{monitor.origin}/v1/Alerts")

        with hostile(respond) as api, APIClient(app_for(api, monitor), CUSTOMER) as client:
            with pytest.raises(PagingError, match=f"127.0.0.1:{monitor.port}"):
                list(client.iter_pages(listing(client), decode_calls_page))
    assert monitor.received == []


def test_a_listing_that_starts_off_the_configured_origins_is_refused_before_any_request(evil: Hostile) -> None:
    with hostile(nothing) as api, APIClient(app_for(api), CUSTOMER) as client:
        with pytest.raises(ValueError, match="must start on one of the app's API URLs"):
            next(client.iter_pages(f"{evil.origin}/2010-04-01/Calls.json", decode_calls_page))
    assert evil.received == []
    assert api.received == []


def test_same_origin_links_absolute_or_relative_are_followed_to_the_end() -> None:
    def respond(request: tornado.httputil.HTTPServerRequest) -> Reply:
        page = int(request.query_arguments.get("Page", [b"0"])[0])
        links = {0: f"http://{request.host}/2010-04-01/Calls.json?Page=1", 1: "/2010-04-01/Calls.json?Page=2"}
        return 200, calls_page(links.get(page), sid=f"CA{page:032d}")

    with hostile(respond) as api, APIClient(app_for(api), CUSTOMER) as client:
        pages = list(client.iter_pages(listing(client), decode_calls_page))
    assert [p["sid"][0] for p in pages] == [f"CA{n:032d}" for n in range(3)]
    assert all(auth is not None for _, auth in api.received)


def test_every_url_field_of_connect_app_is_classified_as_an_api_origin_or_not() -> None:
    """A URL the app gains later (Insights, BulkExport) must be put in one list or the other on purpose."""
    from connect_notebook import _client

    url_fields = {f.name for f in dataclasses.fields(ConnectApp) if f.name.endswith("_url")}
    assert set(_client.API_URL_FIELDS) | set(_client.NO_CREDENTIALS_URL_FIELDS) == url_fields
    assert not set(_client.API_URL_FIELDS) & set(_client.NO_CREDENTIALS_URL_FIELDS)


# --- paging is bounded (item 7) --------------------------------------------------------


def test_a_page_that_links_to_itself_is_fetched_once_then_an_error() -> None:
    def respond(request: tornado.httputil.HTTPServerRequest) -> Reply:
        return 200, calls_page(request.uri)

    with hostile(respond) as api, APIClient(app_for(api), CUSTOMER) as client:
        with pytest.raises(PagingError, match="already fetched") as info:
            list(client.iter_pages(listing(client), decode_calls_page, what="calls page of 2026-10-01"))
    assert len(api.received) == 1
    assert "calls page of 2026-10-01" in str(info.value)


def test_links_that_cycle_are_each_fetched_once_then_an_error() -> None:
    def respond(request: tornado.httputil.HTTPServerRequest) -> Reply:
        page = int(request.query_arguments.get("Page", [b"0"])[0])
        # 0 -> 1 -> 2 -> 1 (absolute this time: the same page however it is spelled)
        links = {0: "/2010-04-01/Calls.json?Page=1", 1: "/2010-04-01/Calls.json?Page=2"}
        return 200, calls_page(links.get(page, f"http://{request.host}/2010-04-01/Calls.json?Page=1"))

    with hostile(respond) as api, APIClient(app_for(api), CUSTOMER) as client:
        with pytest.raises(PagingError, match="already fetched"):
            list(client.iter_pages(listing(client), decode_calls_page))
    assert [uri.rsplit("?", 1)[1] for uri, _ in api.received] == ["PageSize=1", "Page=1", "Page=2"]


def test_a_listing_longer_than_the_page_cap_is_an_error_after_exactly_the_cap() -> None:
    def respond(request: tornado.httputil.HTTPServerRequest) -> Reply:
        page = int(request.query_arguments.get("Page", [b"0"])[0])
        return 200, calls_page(f"/2010-04-01/Calls.json?Page={page + 1}")  # never ends, never repeats

    with hostile(respond) as api, APIClient(app_for(api), CUSTOMER) as client:
        pages = client.iter_pages(listing(client), decode_calls_page, max_pages=5)
        got = []
        with pytest.raises(PagingError, match="more than 5 pages"):
            for page in pages:
                got.append(page)
    assert len(got) == 5
    assert len(api.received) == 5


def test_the_default_page_cap_is_far_beyond_any_day_of_any_account() -> None:
    assert MAX_PAGES == 20_000  # 20 million records at 1,000 a page
    default = inspect.signature(APIClient.iter_pages).parameters["max_pages"].default
    assert default == MAX_PAGES


def test_a_legitimate_listing_of_exactly_the_cap_is_not_an_error(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp
) -> None:
    with APIClient(app, connected) as client:
        url = client.api("Calls.json?PageSize=100", account_sid=customer)
        whole = list(client.iter_pages(url, decode_calls_page))
        capped = list(client.iter_pages(url, decode_calls_page, max_pages=len(whole)))
    assert pl.concat(capped)["sid"].to_list() == pl.concat(whole)["sid"].to_list()


# --- worker threads never keep the interpreter alive (item 7) ----------------------------


def test_the_pool_runs_tasks_on_named_daemon_threads_and_stops_them_when_done() -> None:
    seen: list[tuple[str, bool]] = []

    def task(n: int) -> int:
        thread = threading.current_thread()
        seen.append((thread.name, thread.daemon))
        return n * 2

    with DaemonPool(3) as pool:
        futures: set[Future[Any]] = {pool.submit(task, n) for n in range(10)}
        assert all(isinstance(f, Future) for f in futures)
        results = []
        while futures:
            done, futures = wait(futures, return_when=FIRST_COMPLETED)
            results += [f.result() for f in done]
        threads = list(pool.threads)
    assert sorted(results) == [n * 2 for n in range(10)]
    assert {name for name, _ in seen} <= {
        "connect_notebook-load-0",
        "connect_notebook-load-1",
        "connect_notebook-load-2",
    }
    assert all(daemon for _, daemon in seen)
    assert threads and not any(t.is_alive() for t in threads)


def test_the_pool_hands_a_tasks_exception_to_its_future() -> None:
    def fail() -> None:
        msg = "from a worker"
        raise KeyError(msg)

    with DaemonPool(1) as pool:
        future = pool.submit(fail)
        with pytest.raises(KeyError, match="from a worker"):
            future.result(timeout=30)


def test_a_load_leaves_no_load_thread_alive(sandbox: Sandbox, connected: str, app: ConnectApp) -> None:
    frame = load_calls(connected, app=app, start="2026-09-01", end="2026-10-01", concurrency=4, progress=False)
    assert frame.height > 0
    assert [t.name for t in threading.enumerate() if t.name.startswith("connect_notebook-load")] == []


_HUNG_LOAD = textwrap.dedent(
    """
    import signal, socket, threading
    from datetime import UTC, date, datetime
    from tqdm import tqdm
    from connect_notebook import ConnectApp
    from connect_notebook._client import APIClient
    from connect_notebook._windows import CALLS, Span, load_windows

    # Ctrl-C raises KeyboardInterrupt, as in a kernel: a shell's background job inherits SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)  # connections complete, and nothing ever answers them
    app = ConnectApp(account_sid={owner!r}, auth_token={token!r}, connect_app_sid={app_sid!r},
                     api_url=f"http://127.0.0.1:{{hole.getsockname()[1]}}")

    def interrupt_once_a_request_waits():
        connection, _ = hole.accept()
        connection.recv(1)  # a pool thread has sent its request and now waits for the answer
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # Ctrl-C in the notebook

    threading.Thread(target=interrupt_once_a_request_waits, daemon=True).start()
    try:
        with APIClient(app, {customer!r}, timeout=3600) as client:
            load_windows(
                CALLS, client, [Span({customer!r}, date(2026, 10, 1), date(2026, 10, 3))],
                start_at=None, end_at=datetime(2026, 10, 4, tzinfo=UTC), server_filters=[], keep=None,
                cache_root=None, refresh=False, now=datetime(2026, 11, 1, tzinfo=UTC), lookback_days=3,
                workers=4, bar=tqdm(disable=True),
            )
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    """
)


def test_an_interrupted_load_whose_server_never_answers_lets_the_interpreter_exit() -> None:
    code = _HUNG_LOAD.format(owner=OWNER, token=TOKEN, app_sid=CONNECT_APP, customer=CUSTOMER)
    # The timeout only keeps a hang from hanging the suite; the assertion is on the exit status.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "interrupted", done.stderr
    assert done.returncode == 0, done.stderr
