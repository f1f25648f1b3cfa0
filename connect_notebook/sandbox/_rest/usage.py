"""`sandbox._rest.usage`: ``/Accounts/{AC}/Usage/Records[/{Kind}].json``, usage by category and period.

As on Twilio, a main account's records include its subaccounts' usage unless
``IncludeSubaccounts=false`` (the spec's default is ``true``). ``Faults(usage=…)``
makes the counts lie the ways real ones can (late, missing, too low or too high),
so that a client planning from them can be tested for never trusting them.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from .._data import AccountData
from .._errors import bad_request, not_found
from .._families import Account
from .._formats import day_of, money
from .._query import ListParams, list_page
from .base import APIHandler

__all__ = ["UsageRecordsHandler"]

_LAG_DAYS = 3


def _is_dropped(seed: int, ordinal: int) -> bool:
    """Whether a lying sandbox leaves this day's record out (about one day in three)."""
    return hashlib.blake2b(f"usage-missing:{seed}:{ordinal}".encode(), digest_size=2).digest()[0] % 3 == 0


def _hinted(history: AccountData, ordinal: int, hints: str) -> dict[str, tuple[int, int, int]]:
    """A day's usage as the sandbox reports it: exact, or distorted the way ``Faults.usage`` says."""
    if hints == "lagging":  # everything shows up three days late
        ordinal -= _LAG_DAYS
    if not history.first_day <= ordinal <= history.last_day:
        return {}
    usage = history.usage_on(ordinal)
    factor = {"low": 0.1, "high": 10.0, "zero": 0.0}.get(hints)
    if factor is None:
        return usage
    return {c: (int(count * factor), u, p) for c, (count, u, p) in usage.items()}


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
        members = self._members(account_sid, params.get("IncludeSubaccounts"))
        histories = [self.state.data(m.sid) for m in members]
        today = date.fromordinal(day_of(self.state.now - 1))
        active = [h for h in histories if h.first_day <= h.last_day]
        first = date.fromordinal(min((h.first_day for h in active), default=today.toordinal()))
        last = date.fromordinal(max((h.last_day for h in active), default=today.toordinal() - 1))
        start = self._usage_date(params, "StartDate", today) or first
        end = self._usage_date(params, "EndDate", today) or today
        if kind == "Today":
            start = end = today
        elif kind == "Yesterday":
            start = end = today - timedelta(days=1)
        elif kind == "ThisMonth":
            start, end = _month_start(today), today
        elif kind == "LastMonth":
            end = _month_start(today) - timedelta(days=1)
            start = _month_start(end)
        if end < start:
            msg = f"EndDate {end} is before StartDate {start}"
            raise bad_request(msg)
        # Usage exists only while the accounts have history; clamping also bounds the work
        # (a StartDate of 0001-01-01 must not build two million empty daily records).
        start, end = max(start, first), min(end, last)
        periods = self._periods(kind, start, end) if start <= end else []
        category = params.get("Category")
        categories = [c for c in sorted(_USAGE_CATEGORIES) if category in (None, c)]
        as_of = datetime.fromtimestamp(self.state.now, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        hints = self.state.faults.faults.usage
        records = []
        for p_start, p_end in periods:
            days = range(p_start.toordinal(), p_end.toordinal() + 1)
            if hints == "missing" and _is_dropped(self.state.seed, days[0]):
                continue
            totals = {c: [0, 0, 0] for c in categories}
            for day in days:
                for history in histories:
                    usage = _hinted(history, day, hints)
                    for c in categories:
                        for i, v in enumerate(usage.get(c, (0, 0, 0))):
                            totals[c][i] += v
            for c in categories:
                records.append(self._record(account_sid, kind, c, p_start, p_end, totals[c], as_of))
        self.write_list("usage_records", params, list_page(params, records), lambda r: r)

    def _members(self, account_sid: str, include: str | None) -> list[Account]:
        """The accounts whose usage a record adds up: a main account includes its subaccounts by default."""
        if include is not None and include.lower() not in ("true", "false"):
            msg = f"IncludeSubaccounts must be true or false, got {include[:20]!r}"
            raise bad_request(msg)
        account = self.state.account(account_sid)
        assert account is not None  # authenticated above
        if account.role == "main" and (include is None or include.lower() == "true"):
            return self.state.family(account.sid)
        return [account]

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
