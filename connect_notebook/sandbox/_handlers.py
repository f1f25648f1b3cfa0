"""`sandbox._handlers`: the REST API (2010-04-01 and Monitor v1), one handler per resource.

Every request goes through ``APIHandler.prepare()``: Basic auth as Twilio Connect
does it, then the injected faults. Errors are rendered by ``write_error()`` as
Twilio's ``{code, message, more_info, status}`` body.
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
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import tornado.web

from ._data import DAY, AccountData, Call, Message, day_of, day_start, money
from ._errors import SandboxError, bad_request, not_found, unauthorized
from ._query import ListParams, Page, day_page, list_page, parse_date, parse_params
from ._render import account_json, alert_json, call_json, call_text, message_json, message_text
from ._sids import plain_sid
from ._state import PERMISSIONS, SandboxState

__all__ = ["ROUTES", "APIHandler", "NotFoundHandler"]

SID = r"{p}[0-9a-fA-F]{{32}}"
_CALL_STATUSES = ("queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled")
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


class APIHandler(tornado.web.RequestHandler):
    """Base for every REST resource: auth, faults, JSON bodies and Twilio errors."""

    state: SandboxState
    principal: Principal

    def initialize(self, state: SandboxState) -> None:
        """Receive the shared sandbox state from the route table."""
        self.state = state
        self._holding: str | None = None
        self._mangle: str | None = None

    def set_default_headers(self) -> None:
        """Every API answer is JSON, including errors."""
        self.set_header("Content-Type", "application/json; charset=utf-8")

    async def prepare(self) -> None:
        """Authenticate, then apply this request's injected faults.

        Runs on the server thread before the method handler; raising a
        ``SandboxError`` here answers with that error and skips the handler.
        """
        self.principal = self._authenticate(self.path_kwargs.get("account_sid"))
        await self._apply_faults()

    # -- auth --

    def _authenticate(self, path_sid: str | None) -> Principal:
        header = self.request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            raise unauthorized()
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise unauthorized() from None
        if not sep or (path_sid is not None and user != path_sid):
            raise unauthorized()
        account = self.state.account(user)
        token = self.state.owner_auth_token
        if account is None or not hmac.compare_digest(password.encode(), token.encode()):
            raise unauthorized()
        if account.is_owner:
            principal = Principal(user, True, PERMISSIONS)
        else:
            # A customer's requests carry the owner's token: valid only while authorized.
            permissions = self.state.authorizations.get(user)
            if permissions is None:
                raise unauthorized()
            principal = Principal(user, False, permissions)
        if self.request.method not in _READ_METHODS and "post-all" not in principal.permissions:
            app = self.state.connect_app.sid
            msg = f"Connect App {app} was authorized by account {user} for get-all only; this request needs post-all"
            raise SandboxError(403, 20403, msg)
        return principal

    # -- faults --

    async def _apply_faults(self) -> None:
        faults = self.state.faults
        request_line = f"{self.request.method} {self.request.uri}"
        faults.note(request_line)
        limit = faults.faults.concurrency_limit
        sid = self.principal.account_sid
        with self.state.lock:
            in_flight = self.state.in_flight.get(sid, 0) + 1
            self.state.in_flight[sid] = in_flight
        self._holding = sid
        self.set_header("Twilio-Concurrent-Requests", str(in_flight))
        if limit is not None and in_flight > limit:
            faults.count("concurrency_limit")
            raise SandboxError(429, 20429, "Too Many Requests", {"Twilio-Concurrent-Requests": str(in_flight)})
        decision = faults.decide(request_line)
        if decision.delay:
            await asyncio.sleep(decision.delay)
        if decision.kind == "rate_limit":
            headers = {"Twilio-Concurrent-Requests": str(in_flight)}
            if decision.retry_after is not None:
                headers["Retry-After"] = f"{decision.retry_after:g}"
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
        for name, value in error.headers.items():
            self.set_header(name, value)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(error.body(), separators=(",", ":")))

    # -- helpers for list resources --

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
        paging = {
            "end": start + max(len(page.items), 1) - 1,
            "first_page_uri": params.uri(path, 0, None),
            "next_page_uri": params.uri(path, params.page + 1, page.next_token) if page.next_token else None,
            "page": params.page,
            "page_size": params.page_size,
            "previous_page_uri": (
                params.uri(path, max(params.page - 1, 0), page.previous_token) if page.previous_token else None
            ),
            "start": start,
            "uri": params.uri(path, params.page, params.token),
        }
        if render_bytes is None:
            assert render is not None
            render_bytes = lambda item: json.dumps(render(item), separators=(",", ":")).encode()  # noqa: E731
        records = b",".join([render_bytes(item) for item in page.items])
        tail = json.dumps(paging, separators=(",", ":"))[1:].encode()
        self.write_body(b'{"%s":[%s],%s' % (key.encode(), records, tail))


# --- accounts ---------------------------------------------------------------------


class AccountsHandler(APIHandler):
    """``/Accounts.json``: the accounts these credentials can see (just their own)."""

    def get(self) -> None:
        params = self.list_params(("FriendlyName", "Status"))
        account = self.state.account(self.principal.account_sid)
        assert account is not None  # authenticated above
        items = [account]
        if (name := params.get("FriendlyName")) is not None and name != account.friendly_name:
            items = []
        if (status := params.get("Status")) is not None and status != "active":
            items = []
        self.write_list("accounts", params, list_page(params, items), self._render)

    def _render(self, account: Any) -> dict[str, Any]:
        token = self.state.owner_auth_token if self.principal.is_owner else None
        return account_json(account, auth_token=token)


class AccountHandler(APIHandler):
    """``/Accounts/{AC}.json``: one account; its Auth Token only to its own owner."""

    def get(self, account_sid: str) -> None:
        account = self.state.account(account_sid)
        assert account is not None
        token = self.state.owner_auth_token if self.principal.is_owner else None
        self.write_json(account_json(account, auth_token=token))


# --- calls ------------------------------------------------------------------------

_CALL_FILTERS = (
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
)


def _dates(params: ListParams, name: str) -> tuple[int | None, int | None, int | None]:
    """Return the (on, before, on-or-after) day ordinals of a date filter trio."""
    return tuple(  # type: ignore[return-value]
        parse_date(key, value).toordinal() if (value := params.get(key)) is not None else None
        for key in (name, f"{name}<", f"{name}>")
    )


class CallsHandler(APIHandler):
    """``/Accounts/{AC}/Calls.json``: the call log, newest first, with every filter."""

    def get(self, account_sid: str) -> None:
        params = self.list_params(_CALL_FILTERS)
        data = self.state.data(account_sid)
        status = params.get("Status")
        if status is not None and status not in _CALL_STATUSES:
            msg = f"Status must be one of {', '.join(_CALL_STATUSES)}, got {status[:40]!r}"
            raise bad_request(msg)
        s_on, s_before, s_after = _dates(params, "StartTime")
        e_on, e_before, e_after = _dates(params, "EndTime")
        lo, hi = data.timeline.first_day, data.timeline.last_day
        # A call ends at most a few hours after it starts, so an end-day bound
        # narrows the start days to that day and the one before.
        if s_on is not None:
            lo, hi = max(lo, s_on), min(hi, s_on)
        if e_on is not None:
            lo, hi = max(lo, e_on - 1), min(hi, e_on)
        if s_after is not None:
            lo = max(lo, s_after)
        if s_before is not None:
            hi = min(hi, s_before - 1)
        if e_after is not None:
            lo = max(lo, e_after - 1)
        if e_before is not None:
            hi = min(hi, e_before - 1)
        parent = params.get("ParentCallSid")
        if parent is not None:
            where = data.call_codec.decode(parent)
            lo, hi = (max(lo, where[0]), min(hi, where[0])) if where else (1, 0)
        to, from_ = params.get("To"), params.get("From")

        def keep(c: Call) -> bool:
            if to is not None and c.to != to or from_ is not None and c.from_ != from_:
                return False
            if status is not None and c.status != status:
                return False
            if parent is not None and c.parent_sid != parent:
                return False
            if c.end is None and (e_on or e_before or e_after):
                return False
            end_day = day_of(c.end) if c.end is not None else 0
            return (
                (s_on is None or day_of(c.start) == s_on)
                and (e_on is None or end_day == e_on)
                and (e_before is None or end_day < e_before)
                and (e_after is None or end_day >= e_after)
            )

        days = range(hi, lo - 1, -1)
        page = day_page(params, days, data.calls_on, keep, lambda c: c.sid, data.call_codec.decode)
        self.write_list("calls", params, page, render_bytes=lambda c: _call_texts(data, day_of(c.start))[c.sid])

    def post(self, account_sid: str) -> None:
        """Place a call: acknowledged as queued; the synthetic history does not change."""
        form = self.form()
        for name in ("To", "From"):
            if not form.get(name):
                raise SandboxError(400, 21201 if name == "To" else 21213, f"No '{name}' number is specified")
        if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
            raise SandboxError(400, 21205, "Url, Twiml or ApplicationSid is required")
        now = self.state.timeline.now
        sid = plain_sid("CA", self.state.seed, account_sid, "placed", form["To"], form["From"], now)
        call = Call(
            sid,
            None,
            "outbound-api",
            "queued",
            form["From"],
            form["To"],
            "US",
            None,
            now,
            now,
            now,
            None,
            None,
            None,
            0,
            None,
            None,
            None,
        )
        record = call_json(account_sid, call)
        record["start_time"] = None
        self.write_json(record, 201)


def _call_texts(data: AccountData, ordinal: int) -> dict[str, bytes]:
    """A day's calls rendered once and cached: pages are then assembled from ready bytes."""
    sid = data.account.sid
    texts: dict[str, bytes] = data.cached(
        "call-texts", ordinal, lambda d: {c.sid: call_text(sid, c).encode() for c in data.calls_on(d)}
    )
    return texts


def _message_texts(data: AccountData, ordinal: int) -> dict[str, bytes]:
    """A day's messages rendered once and cached."""
    sid = data.account.sid
    texts: dict[str, bytes] = data.cached(
        "message-texts",
        ordinal,
        lambda d: {m.sid: message_text(sid, m).encode() for m in data.messages_on(d)},
    )
    return texts


class CallHandler(APIHandler):
    """``/Accounts/{AC}/Calls/{CA}.json``: one call."""

    def get(self, account_sid: str, sid: str) -> None:
        call = self.state.data(account_sid).find_call(sid)
        if call is None:
            raise not_found(self.request.path)
        self.write_text(call_text(account_sid, call))


# --- messages ---------------------------------------------------------------------


class MessagesHandler(APIHandler):
    """``/Accounts/{AC}/Messages.json``: the message log, newest first."""

    def get(self, account_sid: str) -> None:
        params = self.list_params(("To", "From", "DateSent", "DateSent<", "DateSent>"))
        data = self.state.data(account_sid)
        on, on_or_before, on_or_after = _dates(params, "DateSent")
        lo, hi = data.timeline.first_day, data.timeline.last_day
        if on is not None:
            lo, hi = max(lo, on), min(hi, on)
        if on_or_before is not None:  # "on and before", unlike StartTime< for calls
            hi = min(hi, on_or_before)
        if on_or_after is not None:
            lo = max(lo, on_or_after)
        to, from_ = params.get("To"), params.get("From")

        def keep(m: Message) -> bool:
            return (to is None or m.to == to) and (from_ is None or m.from_ == from_)

        page = day_page(
            params, range(hi, lo - 1, -1), data.messages_on, keep, lambda m: m.sid, data.message_codec.decode
        )
        self.write_list("messages", params, page, render_bytes=lambda m: _message_texts(data, day_of(m.sent))[m.sid])

    def post(self, account_sid: str) -> None:
        """Send a message: acknowledged as queued; the synthetic history does not change."""
        form = self.form()
        if not form.get("To"):
            raise SandboxError(400, 21604, "A 'To' phone number is required")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            raise SandboxError(400, 21603, "A 'From' phone number is required")
        if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
            raise SandboxError(400, 21602, "Message body is required")
        now = self.state.timeline.now
        body = form.get("Body", "")
        sid = plain_sid("SM", self.state.seed, account_sid, "sent", form["To"], body, now)
        message = Message(
            sid,
            "outbound-api",
            "queued",
            form.get("From", ""),
            form["To"],
            body,
            max(1, -(-len(body) // 153)) if len(body) > 160 else 1,
            0,
            now,
            now,
            now,
            None,
            None,
            form.get("MessagingServiceSid"),
        )
        self.write_json(message_json(account_sid, message), 201)


class MessageHandler(APIHandler):
    """``/Accounts/{AC}/Messages/{SM}.json``: one message."""

    def get(self, account_sid: str, sid: str) -> None:
        message = self.state.data(account_sid).find_message(sid)
        if message is None:
            raise not_found(self.request.path)
        self.write_text(message_text(account_sid, message))


# --- usage --------------------------------------------------------------------------

_USAGE_CATEGORIES = {
    # category: (description, count_unit, usage_unit)
    "calls": ("Voice Minutes", "calls", "minutes"),
    "calls-inbound": ("Inbound Voice Minutes", "calls", "minutes"),
    "calls-outbound": ("Outbound Voice Minutes", "calls", "minutes"),
    "phonenumbers": ("Phone Numbers", "phonenumbers", "phonenumbers"),
    "sms": ("SMS Messages", "messages", "segments"),
    "sms-inbound": ("Inbound SMS Messages", "messages", "segments"),
    "sms-outbound": ("Outbound SMS Messages", "messages", "segments"),
    "totalprice": ("Total Price", "", "usd"),
}
_USAGE_SUBRESOURCES = {
    "all_time": "AllTime",
    "daily": "Daily",
    "last_month": "LastMonth",
    "monthly": "Monthly",
    "this_month": "ThisMonth",
    "today": "Today",
    "yearly": "Yearly",
    "yesterday": "Yesterday",
}
_USAGE_KINDS = ("", *_USAGE_SUBRESOURCES.values())


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


class UsageRecordsHandler(APIHandler):
    """``/Accounts/{AC}/Usage/Records[/{Kind}].json``: usage by category and period."""

    def get(self, account_sid: str, kind: str | None) -> None:
        kind = kind or ""
        if kind not in _USAGE_KINDS:
            raise not_found(self.request.path)
        params = self.list_params(("Category", "StartDate", "EndDate", "IncludeSubaccounts"))
        data = self.state.data(account_sid)
        first, last = date.fromordinal(data.timeline.first_day), date.fromordinal(data.timeline.last_day)
        start = self._usage_date(params, "StartDate", last) or first
        end = self._usage_date(params, "EndDate", last) or last
        if kind == "Today":
            start = end = last
        elif kind == "Yesterday":
            start = end = last - timedelta(days=1)
        elif kind == "ThisMonth":
            start, end = _month_start(last), last
        elif kind == "LastMonth":
            end = _month_start(last) - timedelta(days=1)
            start = _month_start(end)
        if end < start:
            msg = f"EndDate {end} is before StartDate {start}"
            raise bad_request(msg)
        # Usage exists only while the account has history; clamping also bounds the work
        # (a StartDate of 0001-01-01 must not build two million empty daily records).
        start, end = max(start, first), min(end, last)
        periods = self._periods(kind, start, end) if start <= end else []
        category = params.get("Category")
        categories = [c for c in sorted(_USAGE_CATEGORIES) if category in (None, c)]
        as_of = datetime.fromtimestamp(data.timeline.now, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        records = []
        for p_start, p_end in periods:
            days = range(max(p_start, first).toordinal(), min(p_end, last).toordinal() + 1)
            totals = {c: [0, 0, 0] for c in categories}
            for d in days:
                usage = data.usage_on(d)
                for c in categories:
                    for i, v in enumerate(usage[c]):
                        totals[c][i] += v
            for c in categories:
                records.append(self._record(account_sid, kind, c, p_start, p_end, totals[c], as_of))
        self.write_list("usage_records", params, list_page(params, records), lambda r: r)

    @staticmethod
    def _usage_date(params: ListParams, name: str, today: date) -> date | None:
        value = params.get(name)
        if value is None or value == "":
            return None
        try:
            if (m := _relative_days(value)) is not None:
                return today + timedelta(days=m)
            return date.fromisoformat(value)
        except (ValueError, OverflowError):
            msg = f"{name} must be YYYY-MM-DD or an offset such as -30days, got {value[:40]!r}"
            raise bad_request(msg) from None

    @staticmethod
    def _periods(kind: str, start: date, end: date) -> list[tuple[date, date]]:
        """The periods of a list, newest first."""
        if kind == "Daily":
            return [(d, d) for d in (end - timedelta(days=i) for i in range((end - start).days + 1))]
        if kind in ("Monthly", "Yearly"):
            periods = []
            p = start
            while p <= end:
                if p.year == date.max.year and (kind == "Yearly" or p.month == 12):
                    periods.append((p, end))  # nothing follows 9999-12
                    break
                nxt = _next_month(p) if kind == "Monthly" else date(p.year + 1, 1, 1)
                periods.append((p, min(nxt - timedelta(days=1), end)))
                p = nxt
            return periods[::-1]
        return [(start, end)]

    @staticmethod
    def _record(
        account_sid: str, kind: str, category: str, start: date, end: date, totals: list[int], as_of: str
    ) -> dict[str, Any]:
        description, count_unit, usage_unit = _USAGE_CATEGORIES[category]
        count, usage, price = totals
        base = f"/2010-04-01/Accounts/{account_sid}/Usage/Records"
        path = f"{base}/{kind}.json" if kind else f"{base}.json"
        return {
            "account_sid": account_sid,
            "api_version": "2010-04-01",
            "as_of": as_of,
            "category": category,
            "count": str(count),
            "count_unit": count_unit,
            "description": description,
            "end_date": end.isoformat(),
            "price": money(price),
            "price_unit": "usd",
            "start_date": start.isoformat(),
            "subresource_uris": {
                key: f"{base}/{name}.json?Category={category}" for key, name in _USAGE_SUBRESOURCES.items()
            },
            "uri": f"{path}?{urlencode({'Category': category, 'StartDate': start, 'EndDate': end})}",
            "usage": money(usage) if usage_unit == "usd" else str(usage),
            "usage_unit": usage_unit,
        }


def _relative_days(value: str) -> int | None:
    text = value.strip().lower()
    if text.endswith("days") and text[:-4].lstrip("+-").isdigit() and text[0] in "+-":
        return int(text[:-4])
    return None


# --- Connect Apps -------------------------------------------------------------------

_APP_FIELDS = {
    "AuthorizeRedirectUrl": "authorize_redirect_url",
    "CompanyName": "company_name",
    "DeauthorizeCallbackMethod": "deauthorize_callback_method",
    "DeauthorizeCallbackUrl": "deauthorize_callback_url",
    "Description": "description",
    "FriendlyName": "friendly_name",
    "HomepageUrl": "homepage_url",
    "Permissions": "permissions",
}


class ConnectAppsHandler(APIHandler):
    """``/Accounts/{AC}/ConnectApps.json``: the owner's Connect Apps (customers have none)."""

    def get(self, account_sid: str) -> None:
        params = self.list_params(())
        app = self.state.connect_app
        items = [app] if app.account_sid == account_sid else []
        self.write_list("connect_apps", params, list_page(params, items), lambda a: a.to_json())


class ConnectAppHandler(APIHandler):
    """``/Accounts/{AC}/ConnectApps/{CN}.json``: fetch, or update with a form POST."""

    def _app(self, account_sid: str, sid: str) -> Any:
        app = self.state.connect_app
        if app.account_sid != account_sid or app.sid != sid:
            raise not_found(self.request.path)
        return app

    def get(self, account_sid: str, sid: str) -> None:
        self.write_json(self._app(account_sid, sid).to_json())

    def post(self, account_sid: str, sid: str) -> None:
        self._app(account_sid, sid)
        changes: dict[str, Any] = {}
        for name, value in self.form().items():
            if name not in _APP_FIELDS:
                continue
            field = _APP_FIELDS[name]
            if name.endswith("Url") and value and not _is_http_url(value):
                raise SandboxError(400, 21502, f"{name} must be an absolute http or https URL, got {value[:80]!r}")
            if name == "DeauthorizeCallbackMethod":
                value = value.upper()
                if value not in ("GET", "POST"):
                    msg = f"DeauthorizeCallbackMethod must be GET or POST, got {value[:10]!r}"
                    raise bad_request(msg)
            if name == "FriendlyName" and len(value) > 64:
                msg = "FriendlyName must be at most 64 characters"
                raise bad_request(msg)
            if name == "Permissions":
                perms = tuple(p.strip() for p in value.split(",") if p.strip())
                if not perms or any(p not in PERMISSIONS for p in perms):
                    msg = f"Permissions must be get-all and/or post-all, got {value[:40]!r}"
                    raise bad_request(msg)
                changes[field] = tuple(p for p in PERMISSIONS if p in perms)
                continue
            changes[field] = value or None if name.endswith("Url") else value
        self.write_json(self.state.update_app(**changes).to_json())


def _is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class AuthorizedConnectAppsHandler(APIHandler):
    """``/Accounts/{AC}/AuthorizedConnectApps.json``: the apps this account authorized."""

    def get(self, account_sid: str) -> None:
        params = self.list_params(())
        items = [self.state.connect_app] if account_sid in self.state.authorizations else []
        self.write_list(
            "authorized_connect_apps",
            params,
            list_page(params, items),
            lambda a: _authorized_json(self.state, account_sid),
        )


class AuthorizedConnectAppHandler(APIHandler):
    """``/Accounts/{AC}/AuthorizedConnectApps/{CN}.json``: one authorized app."""

    def get(self, account_sid: str, sid: str) -> None:
        if account_sid not in self.state.authorizations or sid != self.state.connect_app.sid:
            raise not_found(self.request.path)
        self.write_json(_authorized_json(self.state, account_sid))


def _authorized_json(state: SandboxState, account_sid: str) -> dict[str, Any]:
    app = state.connect_app
    return {
        "account_sid": account_sid,
        "connect_app_company_name": app.company_name,
        "connect_app_description": app.description,
        "connect_app_friendly_name": app.friendly_name,
        "connect_app_homepage_url": app.homepage_url,
        "connect_app_sid": app.sid,
        "permissions": list(state.authorizations.get(account_sid, ())),
        "uri": f"/2010-04-01/Accounts/{account_sid}/AuthorizedConnectApps/{app.sid}.json",
    }


# --- Monitor v1 ---------------------------------------------------------------------

ALERT_RETENTION_DAYS = 30


class AlertsHandler(APIHandler):
    """Monitor ``/v1/Alerts``: the last 30 days of the debugger log, v1 envelope."""

    def get(self) -> None:
        params = self.list_params(("LogLevel", "StartDate", "EndDate"))
        alerts = self._alerts(params)
        page = list_page(params, alerts)
        base = f"{self.request.protocol}://{self.request.host}/v1/Alerts"
        sid = self.principal.account_sid
        self.write_json(
            {
                "alerts": [alert_json(sid, a, self._origin()) for a in page.items],
                "meta": {
                    "first_page_url": f"{base}?{self._query(params, 0, None)}",
                    "key": "alerts",
                    "next_page_url": (
                        f"{base}?{self._query(params, params.page + 1, page.next_token)}" if page.next_token else None
                    ),
                    "page": params.page,
                    "page_size": params.page_size,
                    "previous_page_url": (
                        f"{base}?{self._query(params, params.page - 1, page.previous_token)}"
                        if page.previous_token
                        else None
                    ),
                    "url": f"{base}?{self._query(params, params.page, params.token)}",
                },
            }
        )

    def _origin(self) -> str:
        return f"{self.request.protocol}://{self.request.host}"

    @staticmethod
    def _query(params: ListParams, page: int, token: str | None) -> str:
        return params.uri("", page, token)[1:]

    def _alerts(self, params: ListParams) -> list[Any]:
        data = self.state.data(self.principal.account_sid)
        now = data.timeline.now
        lo, hi = now - ALERT_RETENTION_DAYS * DAY, now
        for name in ("StartDate", "EndDate"):
            value = params.get(name)
            if value:
                moment = _instant(name, value, end_of_day=name == "EndDate")
                lo, hi = (max(lo, moment), hi) if name == "StartDate" else (lo, min(hi, moment))
        level = params.get("LogLevel")
        out: list[Any] = []
        # Alerts are generated with the record that raised them, which may be the
        # day before the alert itself: look one day further back, then sort.
        for d in range(day_of(hi), day_of(lo) - 2, -1):
            out.extend(a for a in data.alerts_on(d) if lo <= a.created <= hi and level in (None, a.log_level))
        out.sort(key=lambda a: (-a.created, a.sid))
        return out


def _instant(name: str, value: str, *, end_of_day: bool = False) -> int:
    """Parse a v1 date filter: ``YYYY-MM-DDThh:mm:ssZ``, or ``YYYY-MM-DD`` for that whole day.

    A bare date as ``EndDate`` means "on or before this date", so it ends at the
    day's last second; as ``StartDate`` it starts at midnight.
    """
    try:
        if len(value) == 10:
            start = day_start(date.fromisoformat(value).toordinal())
            return start + DAY - 1 if end_of_day else start
        moment = datetime.fromisoformat(value)
    except ValueError:
        msg = f"{name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ, got {value[:40]!r}"
        raise bad_request(msg) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


class AlertHandler(APIHandler):
    """Monitor ``/v1/Alerts/{NO}``: one alert, with the request details."""

    def get(self, sid: str) -> None:
        data = self.state.data(self.principal.account_sid)
        now = data.timeline.now
        for d in range(day_of(now), day_of(now - ALERT_RETENTION_DAYS * DAY) - 2, -1):
            for alert in data.alerts_on(d):
                if alert.sid == sid and alert.created >= now - ALERT_RETENTION_DAYS * DAY:
                    record = alert_json(
                        self.principal.account_sid, alert, f"{self.request.protocol}://{self.request.host}"
                    )
                    record.update(
                        {
                            "request_variables": None if alert.request_url is None else "CallStatus=ringing",
                            "request_headers": None,
                            "response_body": "Bad Gateway" if alert.error_code == "11200" else None,
                            "response_headers": None,
                        }
                    )
                    self.write_json(record)
                    return
        raise not_found(self.request.path)


class NotFoundHandler(APIHandler):
    """Anything else: Twilio's 404 / 20404, without asking for credentials first."""

    async def prepare(self) -> None:
        raise not_found(self.request.path)


def _route(pattern: str, **prefixes: str) -> str:
    for name, prefix in prefixes.items():
        pattern = pattern.replace("{" + name + "}", f"(?P<{name}>{SID.format(p=prefix)})")
    return pattern


_ACC = "/2010-04-01/Accounts/{account_sid}"
ROUTES: list[tuple[str, type[APIHandler]]] = [
    (r"/2010-04-01/Accounts\.json", AccountsHandler),
    (_route(_ACC + r"\.json", account_sid="AC"), AccountHandler),
    (_route(_ACC + r"/Calls\.json", account_sid="AC"), CallsHandler),
    (_route(_ACC + r"/Calls/{sid}\.json", account_sid="AC", sid="CA"), CallHandler),
    (_route(_ACC + r"/Messages\.json", account_sid="AC"), MessagesHandler),
    (_route(_ACC + r"/Messages/(?P<sid>(?:SM|MM)[0-9a-fA-F]{32})\.json", account_sid="AC"), MessageHandler),
    (_route(_ACC + r"/Usage/Records(?:/(?P<kind>[A-Za-z]+))?\.json", account_sid="AC"), UsageRecordsHandler),
    (_route(_ACC + r"/ConnectApps\.json", account_sid="AC"), ConnectAppsHandler),
    (_route(_ACC + r"/ConnectApps/{sid}\.json", account_sid="AC", sid="CN"), ConnectAppHandler),
    (_route(_ACC + r"/AuthorizedConnectApps\.json", account_sid="AC"), AuthorizedConnectAppsHandler),
    (
        _route(_ACC + r"/AuthorizedConnectApps/{sid}\.json", account_sid="AC", sid="CN"),
        AuthorizedConnectAppHandler,
    ),
    (r"/v1/Alerts", AlertsHandler),
    (_route(r"/v1/Alerts/{sid}", sid="NO"), AlertHandler),
]
