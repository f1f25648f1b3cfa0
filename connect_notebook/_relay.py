"""`_relay`: several notebooks sharing the one callback port the Connect App has registered.

A Connect App has one Authorize URL, so one port (8791 by default), but an analyst
has several notebooks open. The kernel that binds the port first is the *holder*;
each later kernel is a *guest*: it serves on a port of its own and registers with
the holder over loopback. Every ``state`` and done-page ``ref`` a kernel issues
starts with its id, so the holder knows whose callback it received and relays the
request to that kernel (and a signed deauthorize to every kernel).

Registering needs the holder's key, a random value in a 0600 file under the user's
config folder: only the user's own processes can read it, so a web page or
another user cannot register a kernel. A guest keeps one request open to the
holder; when it ends (the holder stopped or died), the guest takes the port, or
registers with whichever guest took it first.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
import tornado.httpclient
import tornado.web

from ._atomic import atomic_write
from ._exceptions import ConfigError


class _Server(Protocol):
    """What a guest needs of its kernel's callback server (``_callback.CallbackServer``)."""

    relay: Relay
    connect_app_sid: str

    @property
    def port(self) -> int: ...

    def listen_also(self, port: int) -> None: ...


__all__ = ["KEY_HEADER", "Guest", "Relay", "key_file", "relay_routes"]

log = logging.getLogger("connect_notebook")
KEY_HEADER = "X-Connect-Notebook-Key"
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}
_REJOIN_TRIES = 40


def key_file(config_home: Path, port: int) -> Path:
    """Where the holder of ``port`` keeps the key guests register with (readable by this user only)."""
    return config_home / "connect_notebook" / f"callback-{port}.key"


def _read_key(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


class Relay:
    """The holder's table of guest kernels (id → loopback port), and the relaying of their requests."""

    def __init__(self, kernel_id: str, connect_app_sid: str) -> None:
        self.kernel_id = kernel_id
        self.connect_app_sid = connect_app_sid
        self.key: str | None = None  # set while this kernel holds the shared port
        self.guests: dict[str, int] = {}
        self.watches: dict[str, asyncio.Event] = {}  # set to end a guest's watch (on the server's loop)
        self._lock = threading.Lock()

    def hold(self, path: Path) -> None:
        """This kernel now holds the shared port: write a fresh key for guests to register with."""
        key = secrets.token_urlsafe(32)
        atomic_write(path, key.encode(), mode=0o600, folder_mode=0o700)
        self.key = key

    def release(self, path: Path) -> None:
        """Forget the key, and remove its file unless a newer holder wrote another."""
        key, self.key = self.key, None
        if key is not None and _read_key(path) == key:
            path.unlink(missing_ok=True)

    def owner(self, token: str | None) -> int | str | None:
        """Who issued ``token``: None (this kernel, or no kernel id in it), a guest's port, or ``"gone"``."""
        prefix, dot, _ = (token or "").partition(".")
        if not dot or prefix == self.kernel_id:
            return None
        with self._lock:
            return self.guests.get(prefix, "gone")

    def ports(self) -> list[int]:
        with self._lock:
            return list(self.guests.values())

    def admit(self, handler: tornado.web.RequestHandler) -> None:
        """Refuse (403) a registration request that does not carry this holder's key."""
        given = handler.request.headers.get(KEY_HEADER, "")
        if self.key is None or not hmac.compare_digest(given.encode(), self.key.encode()):
            raise tornado.web.HTTPError(403, "not a kernel of this user")

    def add(self, kernel_id: str, port: int) -> None:
        with self._lock:
            self.guests[kernel_id] = port

    def drop(self, kernel_id: str) -> None:
        """Forget a guest, and end its watch request (called on the server's loop)."""
        with self._lock:
            self.guests.pop(kernel_id, None)
            watch = self.watches.pop(kernel_id, None)
        if watch is not None:
            watch.set()

    async def forward(self, handler: tornado.web.RequestHandler, port: int) -> bool:
        """Relay ``handler``'s request to the guest on ``port`` and its answer back; False if it is gone."""
        try:
            answer = await tornado.httpclient.AsyncHTTPClient().fetch(_relayed(handler, port, 120), raise_error=False)
        except OSError:
            answer = None
        if answer is None or answer.code == 599:  # refused or reset: that kernel stopped
            return False
        handler.clear()
        handler.set_status(answer.code)
        for name, value in answer.headers.get_all():
            if name.lower() not in _HOP_BY_HOP:
                handler.add_header(name, value)
        handler.finish(answer.body)
        return True

    async def broadcast(self, handler: tornado.web.RequestHandler) -> None:
        """Relay a (signed) deauthorize to every guest; each checks the signature and its own session."""
        for port in self.ports():
            try:
                await tornado.httpclient.AsyncHTTPClient().fetch(_relayed(handler, port, 30), raise_error=False)
            except OSError:
                continue


def _relayed(handler: tornado.web.RequestHandler, port: int, timeout: float) -> tornado.httpclient.HTTPRequest:
    """``handler``'s request, as sent on to the kernel on ``port``: same method, path, headers (Host too) and body."""
    request = handler.request
    return tornado.httpclient.HTTPRequest(
        f"http://127.0.0.1:{port}{request.uri}",
        method=request.method or "GET",
        headers={k: v for k, v in request.headers.get_all() if k.lower() not in _HOP_BY_HOP},
        body=request.body if request.method == "POST" else None,
        follow_redirects=False,
        request_timeout=timeout,
        allow_nonstandard_methods=True,
    )


class _Kernels(tornado.web.RequestHandler):
    """``POST /connect/_kernels`` (register a guest) and ``DELETE /connect/_kernels?id=…`` (it stopped)."""

    def initialize(self, relay: Relay) -> None:
        self.relay = relay

    def post(self) -> None:
        self.relay.admit(self)
        try:
            body = json.loads(self.request.body)
            kernel_id, port, app_sid = str(body["id"]), int(body["port"]), str(body["connect_app_sid"])
        except (ValueError, KeyError, TypeError):
            raise tornado.web.HTTPError(400, "expected {id, port, connect_app_sid}") from None
        if app_sid != self.relay.connect_app_sid:
            raise tornado.web.HTTPError(409, "this port serves another Connect App")
        if not 0 < port < 65536 or not kernel_id or "." in kernel_id:
            raise tornado.web.HTTPError(400, "a kernel id without dots and a port from 1 to 65535")
        self.relay.add(kernel_id, port)
        self.finish({"holder": self.relay.kernel_id})

    def delete(self) -> None:
        self.relay.admit(self)
        self.relay.drop(self.get_query_argument("id", ""))
        self.set_status(204)
        self.finish()


class _Watch(tornado.web.RequestHandler):
    """``GET /connect/_kernels/watch``: held open for a guest until this kernel stops serving."""

    def initialize(self, relay: Relay) -> None:
        self.relay = relay
        self._closed = asyncio.Event()

    async def get(self) -> None:
        self.relay.admit(self)
        kernel_id = self.get_query_argument("id", "")
        self.relay.watches[kernel_id] = self._closed  # a DELETE of this kernel ends it
        self.set_header("Content-Type", "text/plain")
        self.write("holding\n")
        await self.flush()
        await self._closed.wait()
        self.relay.watches.pop(kernel_id, None)

    def on_connection_close(self) -> None:
        self._closed.set()


def relay_routes(relay: Relay) -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
    """The holder's registration routes, for the callback server's route table."""
    return [
        (r"/connect/_kernels", _Kernels, {"relay": relay}),
        (r"/connect/_kernels/watch", _Watch, {"relay": relay}),
    ]


class Guest:
    """A kernel that shares the port another kernel holds: registered with it, and ready to take over.

    Parameters
    ----------
    server
        This kernel's own callback server (already serving on a port of its own).
    port
        The shared port (the registered Authorize URL's).
    key_path
        The holder's key file (``key_file``).
    on_hold
        Called once this kernel took the shared port over.
    """

    def __init__(self, server: _Server, port: int, key_path: Path, on_hold: Callable[[], None]) -> None:
        self.server = server
        self.port = port
        self.key_path = key_path
        self.on_hold = on_hold
        self._stopped = threading.Event()
        self._http = httpx.Client(timeout=10.0, trust_env=False)
        self._thread: threading.Thread | None = None
        self._watching = threading.Event()
        self._settled = threading.Condition()
        self.holding = False  # True once this kernel took the shared port over
        self.settlements = 0  # how many times it got registered with a holder, or became the holder

    @property
    def _base(self) -> str:
        return f"http://127.0.0.1:{self.port}/connect/_kernels"

    def _register(self) -> None:
        """Register with the holder; ``ConfigError`` saying why when it refuses or is not a kernel of ours."""
        server = self.server
        body = {"id": server.relay.kernel_id, "port": server.port, "connect_app_sid": server.connect_app_sid}
        try:
            answer = self._http.post(self._base, json=body, headers={KEY_HEADER: _read_key(self.key_path)})
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
        else:
            if answer.status_code == 200:
                return
            problem = {403: "it is not a notebook kernel of this user", 409: "it serves another Connect App"}.get(
                answer.status_code, f"it answered {answer.status_code}"
            )
        msg = (
            f"port {self.port} (the Connect App's Authorize URL) is taken, and this kernel cannot share it: "
            f"{problem}. Stop whatever holds 127.0.0.1:{self.port} and load the extension again, or set "
            "CONNECT_NOTEBOOK_CALLBACK_PORT to a free port and register the new Authorize URL on the Connect App"
        )
        raise ConfigError(msg)

    def join(self) -> Guest:
        """Register with the holder now (``ConfigError`` if it cannot), then watch it from a thread."""
        try:
            self._register()
        except ConfigError:
            self._http.close()
            raise
        self._thread = threading.Thread(target=self._watch, name="connect_notebook-guest", daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stopped.is_set():
            try:
                key = {KEY_HEADER: _read_key(self.key_path)}
                held_open = httpx.Timeout(10.0, read=None)
                url = f"{self._base}/watch?id={self.server.relay.kernel_id}"
                with self._http.stream("GET", url, headers=key, timeout=held_open) as answer:
                    if answer.status_code == 200:
                        self._watching.set()
                        with self._settled:
                            self.settlements += 1
                            self._settled.notify_all()
                        for _ in answer.iter_bytes():
                            pass  # held open until the holder stops serving
            except (httpx.HTTPError, RuntimeError):
                pass  # refused, reset, or this client closed by stop()
            self._watching.clear()
            if self._stopped.is_set():
                return
            if self._take_over():
                return
            self._rejoin()

    def _take_over(self) -> bool:
        try:
            self.server.listen_also(self.port)
        except OSError:
            return False  # another guest was first; register with it
        log.info("connect_notebook: this kernel now holds the callback port %d", self.port)
        self.on_hold()
        with self._settled:
            self.holding = True
            self.settlements += 1
            self._settled.notify_all()
        return True

    def _rejoin(self) -> None:
        """Register with the kernel that took the port; after a while, go back to watching (and taking over)."""
        for attempt in range(_REJOIN_TRIES):
            if self._stopped.wait(min(0.05 * (attempt + 1), 1.0)):
                return  # backing off while the new holder writes its key; stop() ends it
            try:
                self._register()
            except ConfigError:
                continue
            return

    def wait_settled(self, timeout: float, *, after: int = 0) -> bool:
        """Wait until this kernel holds the shared port or is registered with the kernel that does.

        ``after``: a ``settlements`` count seen before; waits for a later settlement (after a holder died).
        """
        with self._settled:
            return self._settled.wait_for(lambda: self.settlements > after, timeout)

    def stop(self) -> None:
        """Unregister (best effort; the holder then ends the watch request) and stop watching; idempotent."""
        if self._stopped.is_set() and self._thread is None:
            return
        self._stopped.set()
        try:
            self._http.delete(
                self._base, params={"id": self.server.relay.kernel_id}, headers={KEY_HEADER: _read_key(self.key_path)}
            )
        except httpx.HTTPError:
            pass
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self._http.close()
