"""`_serving`: run a Tornado application on 127.0.0.1 from its own thread and event loop.

Both the sandbox and the kernel's callback server use this. Serving from a
private loop keeps the server answering while a notebook cell blocks (the
kernel's own loop would stall), and binding in the caller's thread means the
port is known as soon as ``start()`` returns.

``RequestLog`` is the request log of a server that any web page can reach (the
callback server): one DEBUG line a request, cut short, masked, and rate-limited,
so a hostile page cannot flood the kernel's log (issue 10, item 5).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Self, TypeVar

import tornado.httpserver
import tornado.web

from ._redact import redact

__all__ = ["RequestLog", "ServerThread"]

T = TypeVar("T")


class RequestLog:
    """One DEBUG record per request, at most ``max_length`` characters, masked, at most ``per_second`` a second.

    Requests past the rate in a second are counted, and one record says how many
    when the next second's first request is logged, or on ``flush()``. Thread-safe;
    costs nothing when the logger does not log DEBUG.

    Parameters
    ----------
    logger
        Where the records go.
    what
        How the records name the server (``"callback server"``).
    known
        Secrets to mask besides anything shaped like one (see ``_redact.redact``).
    per_second, max_length
        The rate and the length of a record.
    clock
        Monotonic seconds; injectable so tests decide when a second has passed.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        what: str = "server",
        known: Sequence[str] = (),
        per_second: int = 20,
        max_length: int = 200,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.what = what
        self.known = tuple(known)
        self.per_second = per_second
        self.max_length = max_length
        self.clock = clock
        self._second: float | None = None
        self._logged = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def request(self, status: int, method: str, uri: str, *, reason: str, client: str) -> None:
        """Log one request: its status, method, client, why it was refused (if it was) and, last, its URI.

        The URI goes last so that cutting the record short cuts the URI, never the status.
        """
        if not self.logger.isEnabledFor(logging.DEBUG):
            return
        text = f"{self.what} answered {status} to {method} from {client}" + (f" ({reason})" if reason else "")
        self._log(f"{text}: {uri}")

    def _log(self, text: str) -> None:
        with self._lock:
            now = self.clock()
            if self._second is None or now - self._second >= 1.0:
                self._summarise()
                self._second, self._logged = now, 0
            if self._logged >= self.per_second:
                self._dropped += 1
                return
            self._logged += 1
        # Masked before it is cut: a secret that straddled the cut would otherwise keep its first part.
        line = redact(text, *self.known)
        if len(line) > self.max_length:
            line = line[: self.max_length - 1] + "…"
        self.logger.debug("%s", line)

    def _summarise(self) -> None:
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            self.logger.debug(
                "%s: %d more requests not logged (at most %d a second)", self.what, dropped, self.per_second
            )

    def flush(self) -> None:
        """Log how many requests were not logged since the last summary, if any (once)."""
        with self._lock:
            self._summarise()


class ServerThread:
    """Serve a Tornado application on one loopback port from a daemon thread."""

    def __init__(
        self,
        app: tornado.web.Application,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "connect_notebook-server",
    ) -> None:
        self._app = app
        self.host = host
        self.port = port
        self.name = name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the server runs on (only while it runs)."""
        if self._loop is None:
            msg = f"{self.name} is not running; call start() first"
            raise RuntimeError(msg)
        return self._loop

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> Self:
        """Bind the port now (``OSError`` propagates), then serve from a new thread.

        Raises ``RuntimeError`` if already started or if the loop does not come up
        within ``timeout`` seconds.
        """
        if self._thread is not None:
            msg = f"{self.name} is already running on port {self.port}"
            raise RuntimeError(msg)
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, args=(sock,), name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._failure is not None:
            sock.close()
            msg = f"{self.name} did not start within {timeout}s"
            raise RuntimeError(msg) from self._failure
        return self

    def _run(self, sock: socket.socket) -> None:
        try:
            asyncio.run(self._serve(sock))
        except BaseException as exc:  # noqa: BLE001 - reported to start() through _failure
            self._failure = exc
            self._ready.set()

    async def _serve(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = tornado.httpserver.HTTPServer(self._app, xheaders=False)
        server.add_sockets([sock])  # must happen on the loop that serves it
        self._ready.set()
        await self._stopping.wait()
        server.stop()
        await server.close_all_connections()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run a coroutine on the server's loop from another thread and return its result."""
        if self._loop is None:
            coro.close()  # never scheduled: close it rather than leave it un-awaited
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, close open connections and join the thread; idempotent."""
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            msg = f"{self.name} did not stop within {timeout}s"
            raise RuntimeError(msg)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    """A listening, non-blocking IPv4 socket; closed again if binding fails."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if port:  # a fixed port can be rebound at once after a restart (not a shared port)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
