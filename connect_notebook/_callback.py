"""`_callback`: the kernel's Connect callback server: authorize and signed deauthorize.

Runs on ``ServerThread`` (its own loop), so callbacks arrive while a cell blocks.
Everything a request carries is checked before the session changes: the Host,
the ``AccountSid`` format, the single-use ``state`` the button issued, and the
``X-Twilio-Signature`` of a deauthorize. The account is then verified with an
API call (injected as ``verify``) before it is stored.

Any web page the user opens can send requests here, so they are logged the way
``RequestLog`` logs: at DEBUG on ``connect_notebook``, cut short, masked and
rate-limited, never with Tornado's WARNING and full URL per refused request.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from html import escape
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qs, parse_qsl, urlsplit

import tornado.ioloop
import tornado.web

from ._exceptions import AuthError, AuthorizationRevoked, ConnectDeclined, ConnectNotebookError
from ._redact import redact
from ._relay import Relay, relay_routes
from ._serving import RequestLog, ServerThread
from ._session import ConnectedAccount, Session
from ._signature import is_valid_signature

__all__ = ["CallbackServer", "StateTokens"]

log = logging.getLogger("connect_notebook")

_SID = re.compile(r"AC[0-9a-fA-F]{32}")
Verdict = Literal["ok", "missing", "unknown", "used", "expired"]
_REASONS = {
    "missing": "the request has no state; start again from the Connect button",
    "unknown": "the state was not issued by this notebook; start again from the Connect button",
    "used": "the state was already used; start again from the Connect button",
    "expired": "the state has expired; start again from the Connect button",
}


class StateTokens:
    """Single-use, expiring, unguessable ``state`` values for the authorize URL."""

    LIMIT = 1000  # outstanding tokens kept; the oldest are dropped beyond this

    def __init__(self, ttl: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.prefix = ""  # the issuing kernel's id and a dot, so a shared port knows whose state it is
        self._clock = clock
        self._issued: OrderedDict[str, float] = OrderedDict()
        self._used: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self) -> str:
        """A fresh state value, valid once for ``ttl`` seconds."""
        token = self.prefix + secrets.token_urlsafe(24)
        with self._lock:
            self._issued[token] = self._clock() + self.ttl
            while len(self._issued) > self.LIMIT:
                self._issued.popitem(last=False)
        return token

    def check(self, token: str | None) -> Verdict:
        """Whether ``token`` may be used now (without using it up)."""
        if not token:
            return "missing"
        with self._lock:
            if token in self._used:
                return "used"
            expires = self._issued.get(token)
        if expires is None:
            return "unknown"
        return "expired" if self._clock() > expires else "ok"

    def consume(self, token: str | None) -> Verdict:
        """Use ``token`` up; returns why not if it cannot be used."""
        verdict = self.check(token)
        if verdict == "ok":
            assert token is not None
            with self._lock:
                if self._issued.pop(token, None) is None:
                    return "used"  # another request took it between check and pop
                self._used[token] = None
                while len(self._used) > self.LIMIT:
                    self._used.popitem(last=False)
        return verdict


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:520px;margin:64px auto;color:#121c2d}"
    "h1{font-size:22px}.muted{color:#606b85}.brand{color:#f22f46;font-weight:700}"
)


class _Page(tornado.web.RequestHandler):
    """Base of the callback pages: Host check, safe headers, HTML errors with the reason."""

    refusal = ""  # why the request was refused, for the request log (set by log_exception)

    def initialize(self, server: CallbackServer) -> None:
        self.server = server

    def log_exception(
        self, typ: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Called by Tornado, on the server's thread, for an exception a handler raised.

        A refusal (``HTTPError``) is not logged here: its reason goes into the request's
        one line in the request log. Tornado's default would log it at WARNING with the
        whole URL, once per request of a hostile page. Anything else is a bug, logged
        at ERROR with its traceback, and with the request masked and cut short.
        """
        if isinstance(value, tornado.web.HTTPError):
            try:
                self.refusal = (value.log_message or "") % value.args if value.args else value.log_message or ""
            except (TypeError, ValueError):
                self.refusal = value.log_message or ""
            return
        request = redact(f"{self.request.method} {self.request.uri}", self.server.auth_token)
        log.error("callback server failed on %s", request[:200], exc_info=(typ, value, tb))  # type: ignore[arg-type]

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")

    def prepare(self) -> None:
        # Only our own host names: a DNS-rebinding page must not reach the session.
        if self.request.host.lower() not in self.server.allowed_hosts:
            raise tornado.web.HTTPError(400, "unexpected Host header")

    def page(self, title: str, body: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><p class=brand>connect_notebook</p>{body}</body></html>"
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        reason = getattr(exc, "log_message", None) or self._reason
        self.page(
            f"{status_code} {self._reason}",
            f"<h1>{status_code} {escape(self._reason)}</h1><p id=reason>{escape(str(reason))}</p>",
            status_code,
        )

    async def relayed(self, token: str | None) -> bool:
        """Relay the request to the kernel that issued ``token`` if it is another one sharing the port.

        True when the answer was sent: the other kernel's, or a page saying that the
        kernel which made the link stopped. False when the token is this kernel's.
        """
        owner = self.server.relay.owner(token)
        if owner is None:
            return False
        if isinstance(owner, int) and await self.server.relay.forward(self, owner):
            return True
        if isinstance(owner, int):
            self.server.relay.drop((token or "").partition(".")[0])
        raise tornado.web.HTTPError(
            400,
            "this Connect link was made by a notebook that is no longer running; "
            "click Connect with Twilio again in the notebook you are using",
        )

    def single(self, name: str, limit: int = 256) -> str | None:
        """One query argument, at most ``limit`` characters; given twice is an error."""
        values = self.get_query_arguments(name, strip=False)
        if len(values) > 1:
            raise tornado.web.HTTPError(400, f"{name} was given more than once")
        if values and len(values[0]) > limit:
            raise tornado.web.HTTPError(400, f"{name} is too long")
        return values[0] if values else None


class _AuthorizeHandler(_Page):
    """``GET /connect/authorize``: where Twilio sends the customer's browser after the decision."""

    async def get(self) -> None:
        state = self.single("state")
        if await self.relayed(state):
            return
        error = self.single("error")
        sid = self.single("AccountSid")
        if error is not None:
            if error != "unauthorized_client":
                raise tornado.web.HTTPError(400, f"unexpected error value {error[:40]!r}")
            self._consume(state)
            self.server.session.declined()
            self.page(
                "Declined",
                "<h1>The customer declined</h1><p class=muted>Nothing was connected. You can close this tab.</p>",
            )
            return
        if sid is None or not _SID.fullmatch(sid):
            raise tornado.web.HTTPError(400, "AccountSid must be 'AC' followed by 32 hex digits")
        verdict = self.server.tokens.check(state)
        if verdict != "ok":
            raise tornado.web.HTTPError(400, _REASONS[verdict])
        loop = tornado.ioloop.IOLoop.current()
        try:
            # The API call blocks; run it off the server's loop so other requests are served.
            account = await loop.run_in_executor(None, self.server.verify, sid)
        except AuthorizationRevoked:
            raise tornado.web.HTTPError(400, f"Twilio does not accept the authorization for {sid}") from None
        except ConnectNotebookError as exc:
            raise tornado.web.HTTPError(502, f"could not verify {sid} with Twilio: {exc}") from None
        self._consume(state)  # only a verified callback uses the state up
        self.server.session.add(account)
        # Relative, so that it also works behind a proxy that serves us under a prefix.
        self.redirect(f"done?ref={self.server.remember_done(account)}", status=303)

    def _consume(self, state: str | None) -> None:
        verdict = self.server.tokens.consume(state)
        if verdict != "ok":
            raise tornado.web.HTTPError(400, _REASONS[verdict])


class _DoneHandler(_Page):
    """``GET /connect/done``: names the connected account; no AccountSid in the URL."""

    async def get(self) -> None:
        ref = self.single("ref")
        if await self.relayed(ref):
            return
        account = self.server.done_pages.get(ref or "")
        if account is None:
            raise tornado.web.HTTPError(404, "nothing to show here; the Connect button starts the flow")
        self.page(
            "Connected",
            f"<h1>Connected: {escape(account.friendly_name)}</h1>"
            "<p class=muted>The notebook has the account. You can close this tab.</p>",
        )


class _DeauthorizeHandler(_Page):
    """``/connect/deauthorize``: Twilio's signed notice that a customer revoked the app."""

    async def post(self) -> None:
        if self.server.deauthorize_method != "POST":
            raise tornado.web.HTTPError(405, "this callback is configured for GET")
        try:
            params = parse_qsl(self.request.body.decode(), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise tornado.web.HTTPError(400, "the body is not form encoded") from None
        await self._revoke(params, params)

    async def get(self) -> None:
        if self.server.deauthorize_method != "GET":
            raise tornado.web.HTTPError(405, "this callback is configured for POST")
        try:
            query = parse_qsl(self.request.query, keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise tornado.web.HTTPError(400, "the query is not form encoded") from None
        await self._revoke(query, [])

    async def _revoke(self, fields: list[tuple[str, str]], signed: list[tuple[str, str]]) -> None:
        signature = self.request.headers.get("X-Twilio-Signature", "")
        url = f"{self.server.public_url}{self.request.uri}"  # the URL Twilio signed
        if not signature or not is_valid_signature(url, signed, signature, self.server.auth_token):
            raise tornado.web.HTTPError(403, "missing or invalid X-Twilio-Signature")
        values = dict(fields)
        if len(values) != len(fields):
            raise tornado.web.HTTPError(400, "a parameter was given more than once")
        sid, app_sid = values.get("AccountSid", ""), values.get("ConnectAppSid", "")
        if not _SID.fullmatch(sid) or app_sid != self.server.connect_app_sid:
            raise tornado.web.HTTPError(400, "AccountSid or ConnectAppSid does not match this Connect App")
        self.server.session.revoke(sid)
        await self.server.relay.broadcast(self)  # the other notebooks sharing the port may hold it too
        self.page("Revoked", "<h1>OK</h1>")


class _NotFound(_Page):
    def prepare(self) -> None:
        super().prepare()
        raise tornado.web.HTTPError(404, "no such page")


class CallbackServer:
    """The kernel's callback server for one Connect App and one session.

    Parameters
    ----------
    session
        Where connected accounts go.
    verify
        ``verify(sid) -> ConnectedAccount``: checks with Twilio that the owner's
        token works for ``sid`` and reads its name; raises ``AuthorizationRevoked``.
    auth_token
        The owner's Auth Token, to check deauthorize signatures (never sent anywhere).
    connect_app_sid
        The app a deauthorize must name.
    port
        Fixed, because the Connect App has one registered Authorize URL (0 in tests).
    public_url
        The URL Twilio and the customer's browser use to reach this server, when it
        is not ``http://127.0.0.1:<port>`` (behind JupyterHub's proxy).
    deauthorize_method
        ``POST`` (Twilio's default) or ``GET``, as registered on the app.
    log_clock
        The request log's clock (it logs at most 20 requests a second); tests stop it.
    """

    def __init__(
        self,
        *,
        session: Session,
        verify: Callable[[str], ConnectedAccount],
        auth_token: str,
        connect_app_sid: str,
        port: int = 0,
        public_url: str | None = None,
        deauthorize_method: str = "POST",
        tokens: StateTokens | None = None,
        log_clock: Callable[[], float] = time.monotonic,
        kernel_id: str | None = None,
    ) -> None:
        self.session = session
        self.verify = verify
        self.auth_token = auth_token
        self.connect_app_sid = connect_app_sid
        self.deauthorize_method = deauthorize_method.upper()
        self.tokens = tokens or StateTokens()
        # Every state and done-page ref starts with this id, so the kernel holding a shared port can relay.
        self.relay = Relay(kernel_id or secrets.token_hex(4), connect_app_sid)
        if tokens is None:
            self.tokens.prefix = f"{self.relay.kernel_id}."
        self.done_pages: OrderedDict[str, ConnectedAccount] = OrderedDict()
        self._public_url = public_url.rstrip("/") if public_url else None
        self.request_log = RequestLog(log, what="callback server", known=(auth_token,), clock=log_clock)
        routes = [
            (r"/connect/authorize", _AuthorizeHandler, {"server": self}),
            (r"/connect/done", _DoneHandler, {"server": self}),
            (r"/connect/deauthorize", _DeauthorizeHandler, {"server": self}),
            *relay_routes(self.relay),
        ]
        self._app = tornado.web.Application(
            routes,
            default_handler_class=_NotFound,
            default_handler_args={"server": self},
            log_function=self._log_request,
        )
        self._thread = ServerThread(self._app, port=port, name="connect_notebook-callback")
        self._also: list[ServerThread] = []  # the shared port, once this kernel took it over from another

    @property
    def port(self) -> int:
        """The port it listens on (127.0.0.1)."""
        return self._thread.port

    @property
    def public_url(self) -> str:
        """Base URL of this server as Twilio and browsers reach it."""
        return self._public_url or f"http://127.0.0.1:{self.port}"

    @public_url.setter
    def public_url(self, url: str | None) -> None:
        # Settable after start(): a proxied URL names the port, known only once bound.
        self._public_url = url.rstrip("/") if url else None

    @property
    def authorize_callback_url(self) -> str:
        """The Connect App's Authorize URL for this kernel."""
        return f"{self.public_url}/connect/authorize"

    @property
    def deauthorize_callback_url(self) -> str:
        """The Connect App's Deauthorize Callback URL for this kernel."""
        return f"{self.public_url}/connect/deauthorize"

    @property
    def allowed_hosts(self) -> set[str]:
        """Host headers served: loopback on our port, and the public URL's host."""
        ports = [self.port, *(t.port for t in self._also)]
        hosts = {f"{name}:{port}" for port in ports for name in ("127.0.0.1", "localhost")}
        if self._public_url:
            public = urlsplit(self._public_url)
            if public.netloc:
                hosts.add(public.netloc.lower())
            if public.hostname in ("127.0.0.1", "localhost") and public.port:
                # A shared port on loopback (another kernel holds it and relays): either name reaches it.
                hosts |= {f"127.0.0.1:{public.port}", f"localhost:{public.port}"}
        return hosts

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread.running

    def accept_pasted(self, text: str) -> ConnectedAccount:
        """Complete a Connect by hand: ``text`` is the address the browser landed on, or the AccountSid.

        For when the callback cannot arrive: the customer's browser runs on another machine
        than this kernel (VS Code over SSH, a remote kernel, a hub without a public URL), so
        the Authorize URL does not load there. A pasted address is checked as the callback
        would be (its ``state`` must be one this server issued and not used); a bare
        AccountSid is checked with Twilio only. Either way the account joins the session.
        """
        text = text.strip()
        state: str | None = None
        if _SID.fullmatch(text):
            sid = text
        else:
            query = parse_qs(urlsplit(text).query)
            if query.get("error") == ["unauthorized_client"]:
                self.session.declined()
                msg = "the pasted address says the customer declined: nothing was connected"
                raise ConnectDeclined(msg)
            sids = query.get("AccountSid", [])
            if len(sids) != 1 or not _SID.fullmatch(sids[0]):
                msg = (
                    "paste the whole address the browser landed on after approving (it holds AccountSid=AC…), "
                    "or the AccountSid itself ('AC' and 32 hex digits)"
                )
                raise AuthError(msg)
            sid = sids[0]
            state = query["state"][0] if query.get("state") else None
            verdict = self.tokens.check(state) if state is not None else "ok"
            if verdict != "ok":
                msg = f"that address cannot be used: {_REASONS[verdict]}"
                raise AuthError(msg)
        account = self.verify(sid)
        if state is not None and self.tokens.consume(state) != "ok":
            msg = f"that address cannot be used: {_REASONS['used']}"
            raise AuthError(msg)
        self.session.add(account)
        return account

    def remember_done(self, account: ConnectedAccount) -> str:
        """A short-lived reference for the done page, so its URL carries no AccountSid."""
        ref = f"{self.relay.kernel_id}.{secrets.token_urlsafe(12)}"
        self.done_pages[ref] = account
        while len(self.done_pages) > 100:
            self.done_pages.popitem(last=False)
        return ref

    def _log_request(self, handler: tornado.web.RequestHandler) -> None:
        """Tornado's ``log_function``: called on the server's thread once each request is finished."""
        request = handler.request
        self.request_log.request(
            handler.get_status(),
            request.method or "",
            request.uri or "",
            reason=getattr(handler, "refusal", ""),
            client=request.remote_ip or "",
        )

    def start(self) -> CallbackServer:
        """Bind the port (``OSError`` if taken) and serve from a thread."""
        self._thread.start()
        return self

    def listen_also(self, port: int) -> None:
        """Serve on ``port`` too (``OSError`` if taken): the shared port, when the kernel holding it stopped."""
        thread = ServerThread(self._app, port=port, name="connect_notebook-callback").start()
        self._also.append(thread)

    def stop(self) -> None:
        """Stop serving and free the ports; idempotent. The request log says what it did not log."""
        for thread in [*self._also, self._thread]:
            thread.stop()
        self._also.clear()
        self.request_log.flush()
