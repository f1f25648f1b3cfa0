"""`ServerThread`: a Tornado app served from its own thread and loop, over real loopback sockets."""

from __future__ import annotations

import asyncio
import base64
import gc
import inspect
import logging
import socket
import threading
import warnings
from collections.abc import Iterator

import httpx
import pytest
import tornado.web

from connect_notebook._serving import RequestLog, ServerThread

NAME = "connect_notebook-test-serving"


class WhoHandler(tornado.web.RequestHandler):
    """``/who``: answers with the name of the thread that ran it, and records its ident."""

    def initialize(self, seen: list[int], hit: threading.Event) -> None:
        self.seen = seen
        self.hit = hit

    def get(self) -> None:
        self.seen.append(threading.get_ident())
        self.hit.set()
        self.finish(threading.current_thread().name)


class Recorder:
    """What the handlers of one app saw."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.hit = threading.Event()

    def app(self) -> tornado.web.Application:
        return tornado.web.Application([(r"/who", WhoHandler, {"seen": self.seen, "hit": self.hit})])


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(recorder: Recorder) -> Iterator[ServerThread]:
    """A started ServerThread on a free port; stopped afterwards whatever the test did."""
    thread = ServerThread(recorder.app(), name=NAME).start()
    try:
        yield thread
    finally:
        thread.stop()


def get_who(port: int) -> httpx.Response:
    with httpx.Client() as client:
        return client.get(f"http://127.0.0.1:{port}/who")


def test_start_on_port_0_binds_a_real_port_that_answers(recorder: Recorder) -> None:
    server = ServerThread(recorder.app(), port=0, name=NAME)
    assert not server.running
    server.start()
    try:
        assert server.running
        assert server.port != 0
        response = get_who(server.port)
        assert response.status_code == 200
        assert response.text == NAME
    finally:
        server.stop()


def test_handler_runs_on_the_server_thread_not_the_callers(server: ServerThread, recorder: Recorder) -> None:
    response = get_who(server.port)
    assert response.text == NAME
    assert recorder.seen
    assert threading.get_ident() not in recorder.seen
    assert threading.current_thread().name != NAME


def test_server_answers_while_the_caller_blocks_on_an_event_the_handler_sets(
    server: ServerThread, recorder: Recorder
) -> None:
    # A notebook cell that waits for a browser callback: the caller's own event loop is
    # running but blocked in Event.wait(), so only the server thread can answer.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:

        async def cell() -> bool:
            sock.sendall(b"GET /who HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return recorder.hit.wait(timeout=10)

        assert asyncio.run(cell())
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200 ")
    assert response.endswith(NAME.encode())


def test_stop_is_idempotent_and_frees_the_port(recorder: Recorder) -> None:
    server = ServerThread(recorder.app(), name=NAME).start()
    port = server.port
    server.stop()
    server.stop()
    assert not server.running
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))  # no SO_REUSEADDR: the port must really be free
        sock.listen()


def test_stop_before_start_does_nothing(recorder: Recorder) -> None:
    server = ServerThread(recorder.app(), name=NAME)
    server.stop()
    assert not server.running


def test_a_new_server_can_bind_the_port_of_a_stopped_one_that_served(recorder: Recorder) -> None:
    first = ServerThread(recorder.app(), name=NAME).start()
    try:
        assert get_who(first.port).status_code == 200
    finally:
        first.stop()
    with pytest.raises(httpx.ConnectError):
        get_who(first.port)
    with ServerThread(Recorder().app(), port=first.port, name=NAME) as second:
        assert second.port == first.port
        assert get_who(second.port).text == NAME


def test_stop_completes_with_an_idle_keep_alive_connection_open(recorder: Recorder) -> None:
    server = ServerThread(recorder.app(), name=NAME).start()
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
        try:
            first = client.get("/who")
            assert first.status_code == 200
            assert first.headers.get("Connection", "keep-alive").lower() != "close"
        finally:
            server.stop()  # raises RuntimeError if the idle connection kept the thread alive
        assert not server.running
        with pytest.raises(httpx.TransportError):
            client.get("/who")


def test_starting_twice_raises_and_keeps_the_first_server(server: ServerThread) -> None:
    port = server.port
    with pytest.raises(RuntimeError, match="already running"):
        server.start()
    assert server.running
    assert server.port == port
    assert get_who(port).status_code == 200


def test_a_taken_fixed_port_raises_oserror_without_leaking_a_socket(recorder: Recorder) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = ServerThread(recorder.app(), port=port, name=NAME)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(OSError) as excinfo:  # noqa: PT011 - the errno is the platform's
                server.start()
            del excinfo  # its traceback holds the frames that held the socket
            gc.collect()
        assert not server.running
        server.stop()
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaked == [], "start() left the socket it could not bind open"


def test_call_runs_a_coroutine_on_the_server_loop_and_returns_its_result(server: ServerThread) -> None:
    async def where(x: int) -> tuple[int, str, asyncio.AbstractEventLoop]:
        await asyncio.sleep(0)
        return x * 2, threading.current_thread().name, asyncio.get_running_loop()

    doubled, thread_name, loop = server.call(where(21))
    assert doubled == 42
    assert thread_name == NAME
    assert loop is server.loop


def test_call_raises_the_coroutines_exception_in_the_caller(server: ServerThread) -> None:
    async def fail() -> None:
        msg = "from the server loop"
        raise ValueError(msg)

    with pytest.raises(ValueError, match="from the server loop"):
        server.call(fail())
    assert get_who(server.port).status_code == 200


def test_call_when_not_running_raises_and_closes_the_coroutine(recorder: Recorder) -> None:
    async def never_run() -> int:
        return 1

    server = ServerThread(recorder.app(), name=NAME)
    coro = never_run()
    try:
        with pytest.raises(RuntimeError, match="not running"):
            server.call(coro)
        # Left open, the coroutine warns "was never awaited" whenever it is collected.
        assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    finally:
        coro.close()


def test_loop_is_unavailable_when_not_running(recorder: Recorder) -> None:
    server = ServerThread(recorder.app(), name=NAME)
    with pytest.raises(RuntimeError, match="not running"):
        server.loop  # noqa: B018
    server.start()
    server.stop()
    with pytest.raises(RuntimeError, match="not running"):
        server.loop  # noqa: B018


def test_context_manager_starts_and_stops(recorder: Recorder) -> None:
    server = ServerThread(recorder.app(), name=NAME)
    with server as entered:
        assert entered is server
        assert server.running
        assert get_who(server.port).text == NAME
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        get_who(server.port)


def test_context_manager_stops_when_the_body_raises(recorder: Recorder) -> None:
    server = ServerThread(recorder.app(), name=NAME)
    with pytest.raises(KeyError), server:
        assert server.running
        msg = "boom"
        raise KeyError(msg)
    assert not server.running


# --- RequestLog: what a server that browsers can reach writes to the log --------------------


class StoppedClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stopped() -> StoppedClock:
    return StoppedClock()


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "connect_notebook.test"]


def test_request_log_writes_at_debug_and_cuts_each_record_short(
    caplog: pytest.LogCaptureFixture, stopped: StoppedClock
) -> None:
    caplog.set_level(logging.DEBUG, logger="connect_notebook")
    log = RequestLog(logging.getLogger("connect_notebook.test"), what="test server", max_length=200, clock=stopped)
    log.request(
        400, "GET", "/connect/authorize?x=" + "y-" * 30_000, reason="the request has no state", client="1.2.3.4"
    )
    [record] = [r for r in caplog.records if r.name == "connect_notebook.test"]
    assert record.levelno == logging.DEBUG
    text = record.getMessage()
    assert len(text) <= 200
    assert text.startswith("test server answered 400 to GET from 1.2.3.4 (the request has no state): /connect/")
    assert text.endswith("…")


def test_request_log_masks_known_secrets_and_secret_shaped_runs(
    caplog: pytest.LogCaptureFixture, stopped: StoppedClock
) -> None:
    caplog.set_level(logging.DEBUG, logger="connect_notebook")
    token = "0123456789abcdef" * 2
    header = base64.b64encode(f"AC{'9' * 32}:{token}".encode()).decode()
    log = RequestLog(logging.getLogger("connect_notebook.test"), known=[token], clock=stopped)
    log.request(404, "GET", f"/x?t={token}&h={header}&short={token[:20]}", reason="", client="127.0.0.1")
    [text] = messages(caplog)
    assert token not in text
    assert header not in text
    assert token[:20] in text  # 20 characters are no secret's shape: only whole secrets are masked


def test_request_log_keeps_at_most_its_rate_and_summarises_the_rest_once(
    caplog: pytest.LogCaptureFixture, stopped: StoppedClock
) -> None:
    caplog.set_level(logging.DEBUG, logger="connect_notebook")
    log = RequestLog(logging.getLogger("connect_notebook.test"), what="test server", per_second=5, clock=stopped)
    for n in range(12):
        log.request(400, "GET", f"/{n}", reason="", client="127.0.0.1")
    assert [m.rsplit(": ", 1)[1] for m in messages(caplog)] == ["/0", "/1", "/2", "/3", "/4"]
    stopped.now += 1.0  # the next second: the dropped ones are summarised first, once
    log.request(400, "GET", "/12", reason="", client="127.0.0.1")
    log.flush()
    assert messages(caplog)[5:] == [
        "test server: 7 more requests not logged (at most 5 a second)",
        "test server answered 400 to GET from 127.0.0.1: /12",
    ]


def test_request_log_flush_summarises_what_was_dropped_and_only_once(
    caplog: pytest.LogCaptureFixture, stopped: StoppedClock
) -> None:
    caplog.set_level(logging.DEBUG, logger="connect_notebook")
    log = RequestLog(logging.getLogger("connect_notebook.test"), what="test server", per_second=1, clock=stopped)
    for n in range(3):
        log.request(400, "GET", f"/{n}", reason="", client="127.0.0.1")
    log.flush()
    log.flush()
    assert messages(caplog) == [
        "test server answered 400 to GET from 127.0.0.1: /0",
        "test server: 2 more requests not logged (at most 1 a second)",
    ]


def test_request_log_does_nothing_when_debug_is_off(caplog: pytest.LogCaptureFixture, stopped: StoppedClock) -> None:
    caplog.set_level(logging.INFO, logger="connect_notebook")
    log = RequestLog(logging.getLogger("connect_notebook.test"), per_second=1, clock=stopped)
    for n in range(3):
        log.request(400, "GET", f"/{n}", reason="", client="127.0.0.1")
    log.flush()
    assert messages(caplog) == []
