"""`sandbox._rest.calls`: ``/Accounts/{AC}/Calls.json`` (every filter) and ``/Calls/{CA}.json``."""

from __future__ import annotations

from .._data import AccountData, Call
from .._errors import SandboxError, bad_request, not_found
from .._formats import day_of
from .._query import ListParams, day_page, parse_date
from .._render import call_json, call_text
from .._sids import plain_sid
from .base import APIHandler

__all__ = ["CALL_STATUSES", "CallHandler", "CallsHandler", "day_filters"]

CALL_STATUSES = ("queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled")
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


def day_filters(params: ListParams, name: str) -> tuple[int | None, int | None, int | None]:
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
        if status is not None and status not in CALL_STATUSES:
            msg = f"Status must be one of {', '.join(CALL_STATUSES)}, got {status[:40]!r}"
            raise bad_request(msg)
        s_on, s_before, s_after = day_filters(params, "StartTime")
        e_on, e_before, e_after = day_filters(params, "EndTime")
        # Calls older than the retention are no longer listed (they are in BulkExport).
        lo, hi = max(data.first_day, self.state.listed_from("calls")), data.last_day
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
        now = self.state.now
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


class CallHandler(APIHandler):
    """``/Accounts/{AC}/Calls/{CA}.json``: one call."""

    def get(self, account_sid: str, sid: str) -> None:
        call = self.state.data(account_sid).find_call(sid)
        if call is None:
            raise not_found(self.request.path)
        self.write_text(call_text(account_sid, call))
