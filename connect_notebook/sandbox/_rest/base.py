"""`sandbox._rest.base`: what every REST resource shares: auth, faults, JSON bodies, Twilio's errors.

Every request goes through ``APIHandler.prepare()``: Basic auth as Twilio Connect
does it, then the injected faults. Errors are rendered by ``write_error()`` as
Twilio's ``{code, message, more_info, status}`` body. One module per resource
family builds on it (``accounts``, ``calls``, ``messages``, ``usage``,
``connect_apps``, ``monitor``). List pages get their next link through
``next_link()``, the one place the hostile link faults apply.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import tornado.httputil
import tornado.web

from .._errors import SandboxError, bad_request, not_found, unauthorized
from .._query import ListParams, Page, parse_params
from .._state import PERMISSIONS, SandboxState

__all__ = ["SID", "APIHandler", "NotFoundHandler", "Principal", "route"]

SID = r"{p}[0-9a-fA-F]{{32}}"
_READ_METHODS = ("GET", "HEAD")
_ERROR_CODES = {
    400: 20001,
    401: 20003,
    403: 20403,
    404: 20404,
    405: 20004,
    429: 20429,
    500: 20500,
    503: 20503,
}
_ERROR_TEXT = {
    405: "Method not allowed",
    500: "Internal Server Error",
    503: "Service is unavailable. Please try again",
}


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as, and what it may do."""

    account_sid: str
    is_owner: bool
    permissions: tuple[str, ...]
    family: frozenset[str]  # the accounts whose resources it may read


class APIHandler(tornado.web.RequestHandler):
    """Base for every REST resource: auth, faults, JSON bodies and Twilio errors."""

    state: SandboxState
    principal: Principal

    def initialize(self, state: SandboxState) -> None:
        """Receive the shared sandbox state from the route table."""
        self.state = state
        self.set_default_headers()  # now with the state: the Date of the sandbox's clock
        self._holding: str | None = None
        self._mangle: str | None = None
        self._request_line: str | None = None  # set once the request authenticated
        self._credentials: tuple[str, str, str] | None = None  # (header, user, password), for echo_auth

    def set_default_headers(self) -> None:
        """Every API answer is JSON, including errors, and dated by the sandbox's clock.

        Twilio's ``Date`` is its clock; the sandbox's is pinned by ``now``, so a client
        that counts a list's retention from the server's day agrees with this one. Tornado
        calls this once before ``initialize`` (no state yet; ``initialize`` dates it then).
        """
        self.set_header("Content-Type", "application/json; charset=utf-8")
        if "state" in self.__dict__:
            self.set_header("Date", tornado.httputil.format_timestamp(self.state.now))

    async def prepare(self) -> None:
        """Authenticate, then apply this request's injected faults.

        Runs on the server thread before the method handler; raising a
        ``SandboxError`` here answers with that error and skips the handler.
        """
        self.principal = self._authenticate(self.path_kwargs.get("account_sid"))
        await self._apply_faults()

    # -- auth --

    def _authenticate(self, path_sid: str | None) -> Principal:
        """Check Basic auth the way Twilio Connect works (``twilio-api-notes.md`` §1.6, §8.1).

        The owner's token is accepted with the owner's own SID, or with the SID of a
        Connect subaccount whose customer has authorized the app. The latter may read
        every account of the customer's family (``get-all``), and write only into the
        Connect subaccount itself (``post-all``); any other account is 401 / 20003.
        """
        header = self.request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            raise unauthorized()
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise unauthorized() from None
        account = self.state.account(user) if sep else None
        token = self.state.owner_auth_token
        if account is None or not hmac.compare_digest(password.encode(), token.encode()):
            raise unauthorized()
        self._credentials = (header, user, password)
        if account.is_owner:
            principal = Principal(user, True, PERMISSIONS, frozenset({user}))
        else:
            # A main account or subaccount SID with the owner's token, or a revoked app: not accepted.
            connected = self.state.connected_family(user)
            if connected is None:
                raise unauthorized()
            _, permissions, family = connected
            principal = Principal(user, False, permissions, frozenset(a.sid for a in family))
        if path_sid is not None and path_sid not in principal.family:
            raise unauthorized()
        if self.request.method not in _READ_METHODS:
            app = self.state.connect_app.sid
            if "post-all" not in principal.permissions:
                msg = f"Connect App {app} was authorized by {user} for get-all only; this request needs post-all"
                raise SandboxError(403, 20403, msg)
            if path_sid is not None and path_sid != user:
                msg = f"Connect App {app} may write only into its own subaccount {user}, not into {path_sid}"
                raise SandboxError(403, 20403, msg)
        return principal

    # -- faults --

    async def _apply_faults(self) -> None:
        faults = self.state.faults
        request_line = f"{self.request.method} {self.request.uri}"
        faults.note(request_line)
        self._request_line = request_line
        await faults.holds.wait(request_line)  # a test's hold (Sandbox.hold); not counted as in flight
        limit = faults.faults.concurrency_limit
        sid = self.principal.account_sid
        with self.state.lock:
            in_flight = self.state.in_flight.get(sid, 0) + 1
            self.state.in_flight[sid] = in_flight
        self._holding = sid
        self.set_header("Twilio-Concurrent-Requests", str(in_flight))
        if limit is not None and in_flight > limit:
            faults.count("concurrency_limit")
            headers = {"Twilio-Concurrent-Requests": str(in_flight)}
            odd = faults.retry_after(request_line, None)  # None unless odd_retry_after draws one
            if odd is not None:
                headers["Retry-After"] = odd
            raise SandboxError(429, 20429, "Too Many Requests", headers)
        decision = faults.decide(request_line)
        if decision.delay:
            await asyncio.sleep(decision.delay)
        if decision.kind == "rate_limit":
            headers = {"Twilio-Concurrent-Requests": str(in_flight)}
            retry_after = faults.retry_after(request_line, decision.retry_after)
            if retry_after is not None:
                headers["Retry-After"] = retry_after
            raise SandboxError(429, 20429, "Too Many Requests", headers)
        if decision.kind == "server_error":
            raise SandboxError(
                decision.status,
                _ERROR_CODES.get(decision.status, 20500),
                _ERROR_TEXT.get(decision.status, "Internal Server Error"),
            )
        self._mangle = decision.kind

    def _release(self) -> None:
        if self._holding is not None:
            with self.state.lock:
                self.state.in_flight[self._holding] -= 1
            self._holding = None

    def on_finish(self) -> None:
        """Give back this request's place in the account's concurrency count."""
        self._release()

    def on_connection_close(self) -> None:
        """The client went away mid-request: give back its place too."""
        self._release()

    # -- output --

    def write_json(self, obj: Any, status: int = 200) -> None:
        """Send ``obj`` as compact JSON (see ``write_text``)."""
        self.write_text(json.dumps(obj, separators=(",", ":")), status)

    def write_text(self, text: str, status: int = 200) -> None:
        """Send JSON text (see ``write_body``)."""
        self.write_body(text.encode(), status)

    def write_body(self, body: bytes, status: int = 200) -> None:
        """Send a JSON body, truncated or cut off mid-body if a fault says so."""
        self.set_status(status)
        if self._mangle == "truncate":
            self.finish(body[: max(1, len(body) // 2)])
        elif self._mangle == "reset":
            self._reset_mid_body(body)
        else:
            self.finish(body)

    def _reset_mid_body(self, body: bytes) -> None:
        """Announce the full length, send half, then reset the TCP connection."""
        self.set_header("Content-Length", str(len(body)))
        self.write(body[: len(body) // 2])
        self.flush()
        stream = self.request.connection.stream  # type: ignore[union-attr]
        if stream.socket is not None:
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._release()
        stream.close()
        self._finished = True  # nothing more may be written on this request

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Render any error as Twilio's JSON error body."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, SandboxError):
            error = exc
        else:
            message = _ERROR_TEXT.get(status_code, self._reason)
            if status_code == 404:
                error = not_found(self.request.path)
            else:
                error = SandboxError(status_code, _ERROR_CODES.get(status_code, 20500), message)
        if (
            self._request_line is not None
            and self._credentials is not None
            and self.state.faults.echoes_auth(self._request_line)
        ):
            # What a debugging proxy that dumps the request into the error text would send.
            header, user, password = self._credentials
            echoed = (
                f"{error.message} (request {self._request_line} had Authorization: {header}; "
                f"user {user}, password {password})"
            )
            error = SandboxError(error.status_code, error.code, echoed, error.headers)
        for name, value in error.headers.items():
            self.set_header(name, value)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(error.body(), separators=(",", ":")))

    # -- helpers for list resources --

    def v1_meta(self, key: str, base: str, params: ListParams, page: Any) -> dict[str, Any]:
        """The ``meta`` of a v1 list page (Monitor, Insights, BulkExport): absolute links under ``base``.

        Its next link goes through ``next_link``, where the hostile link faults apply.
        """

        def link(number: int, token: str | None) -> str:
            return f"{base}?{params.uri('', number, token)[1:]}"

        own = link(params.page, params.token)
        return {
            "first_page_url": link(0, None),
            "key": key,
            "next_page_url": self.next_link(own, link(params.page + 1, page.next_token) if page.next_token else None),
            "page": params.page,
            "page_size": params.page_size,
            "previous_page_url": link(params.page - 1, page.previous_token) if page.previous_token else None,
            "url": own,
        }

    def next_link(self, own: str, following: str | None) -> str | None:
        """The next link to send on a list page: ``following``, unless a link fault rewrites it.

        ``own`` is the page's own URI (``uri`` on 2010 lists, relative; ``meta.url`` on v1
        lists, absolute) and ``following`` the real next page's, in the same style, or None
        on a last page. Called on the server thread while the page is rendered.
        """
        own_path = _path_and_query(own)
        fault = self.state.faults.link(own_path)
        if fault is None:
            return following
        if fault == "self":
            return own
        origin = urlsplit(self.state.faults.faults.foreign_origin)
        target = _path_and_query(following or own)
        if fault == "absolute":
            return f"{origin.scheme}://{origin.netloc}{target}"
        if fault == "userinfo":
            # Starts with the API's own origin; the host is what follows the "@".
            return f"{origin.scheme}://{self.request.host}@{origin.netloc}{target}"
        return f"//{origin.netloc}{target}"  # scheme-relative

    def query_pairs(self) -> list[tuple[str, str]]:
        """The query string as ordered pairs; a body that is not UTF-8 is a 400."""
        try:
            return parse_qsl(self.request.query, keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            msg = "The query string is not valid UTF-8 form encoding"
            raise bad_request(msg) from None

    def form(self) -> dict[str, str]:
        """The POST body as a dict; a parameter given twice is a 400."""
        try:
            pairs = parse_qsl(self.request.body.decode(), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            msg = "The request body is not valid UTF-8 form encoding"
            raise bad_request(msg) from None
        out: dict[str, str] = {}
        for key, value in pairs:
            if key in out and key != "Permissions":
                msg = f"Parameter '{key}' was given more than once; give it once"
                raise bad_request(msg)
            out[key] = f"{out[key]},{value}" if key in out else value
        return out

    def list_params(self, allowed: Sequence[str]) -> ListParams:
        """Parse this request's list query against the filters the resource knows."""
        return parse_params(self.query_pairs(), allowed)

    def write_list(
        self,
        key: str,
        params: ListParams,
        page: Page,
        render: Callable[[Any], dict[str, Any]] | None = None,
        render_bytes: Callable[[Any], bytes] | None = None,
    ) -> None:
        """Send a 2010-style list page: exactly one record key plus the paging keys.

        Records come from ``render_bytes`` (ready JSON, the fast path for calls and
        messages) or ``render`` (a dict).
        """
        path = self.request.path
        start = params.page * params.page_size
        own = params.uri(path, params.page, params.token)
        following = params.uri(path, params.page + 1, page.next_token) if page.next_token else None
        paging = {
            "end": start + max(len(page.items), 1) - 1,
            "first_page_uri": params.uri(path, 0, None),
            "next_page_uri": self.next_link(own, following),
            "page": params.page,
            "page_size": params.page_size,
            "previous_page_uri": (
                params.uri(path, max(params.page - 1, 0), page.previous_token) if page.previous_token else None
            ),
            "start": start,
            "uri": own,
        }
        if render_bytes is None:
            assert render is not None
            render_bytes = lambda item: json.dumps(render(item), separators=(",", ":")).encode()  # noqa: E731
        records = b",".join([render_bytes(item) for item in page.items])
        tail = json.dumps(paging, separators=(",", ":"))[1:].encode()
        self.write_body(b'{"%s":[%s],%s' % (key.encode(), records, tail))


class NotFoundHandler(APIHandler):
    """Anything else: Twilio's 404 / 20404, without asking for credentials first."""

    async def prepare(self) -> None:
        raise not_found(self.request.path)


def _path_and_query(uri: str) -> str:
    """``/path?query`` of a relative or absolute URI."""
    parts = urlsplit(uri)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def route(pattern: str, **prefixes: str) -> str:
    """A URL pattern with ``{name}`` placeholders turned into named SID groups of the given prefixes."""
    for name, prefix in prefixes.items():
        pattern = pattern.replace("{" + name + "}", f"(?P<{name}>{SID.format(p=prefix)})")
    return pattern
