"""Helpers the loader tests share: the ground truth built independently, the request log, the cache as files.

Every expected frame is built here, independently of ``connect_notebook._frames``, from
the records exactly as the sandbox renders them: RFC 2822 dates parsed with
``email.utils``, numbers with ``int`` / ``float``, ``cost`` negated from ``price``,
``our_number`` / ``counterpart`` from the direction. The ground truth of a family is
``family_truth``: the union of ``Sandbox.calls()`` / ``Sandbox.messages()`` over
``Sandbox.family()``, newest first, ties in family order. Request counts come from the
sandbox's request log (``Sandbox.requests``), read with ``logged`` / ``fetched_days``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import polars as pl

from connect_notebook import CALLS_SCHEMA, MESSAGES_SCHEMA
from connect_notebook._cache import METADATA_KEY
from connect_notebook.sandbox import Profile, Sandbox

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # the session sandbox's pinned clock
NOBODY = "+15005550000"  # a number that appears in no record
Record = dict[str, Any]
TIME_COLUMN = {"calls": "start_time", "messages": "date_sent"}


def solo(days: int, calls: int, pattern: str = "dense", **profile: Any) -> list[Profile]:
    """One customer with one plain account (no subaccounts), for tests that need exactly that."""
    return [Profile(name="Solo", pattern=pattern, days=days, calls=calls, **profile)]  # type: ignore[arg-type]


def authorized(sb: Sandbox, index: int = 0) -> tuple[str, str]:
    """Authorize customer ``index``: (its main account, the Connect subaccount SID the app received)."""
    main = sb.customer_account_sids[index]
    return main, sb.authorize(main)


# --- the ground truth, built independently ------------------------------------------


def _utc(value: str | None) -> datetime | None:
    return None if value in (None, "") else parsedate_to_datetime(value).astimezone(UTC)


def _int(value: str | int | None) -> int | None:
    return None if value in (None, "") else int(value)


def _float(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


def _is_inbound(direction: str) -> bool:
    return direction in ("inbound", "trunking-originating")


def family_truth(
    sb: Sandbox, customer: str, kind: str = "calls", accounts: Iterable[str] | None = None
) -> list[Record]:
    """What a family load must return: every account's records, newest first, ties in family order.

    ``customer`` is the main account or the Connect subaccount; ``accounts`` keeps only those.
    """
    wanted = None if accounts is None else set(accounts)
    records = [
        r
        for sid in sb.family(customer)
        if wanted is None or sid in wanted
        for r in (sb.calls(sid) if kind == "calls" else sb.messages(sid))
    ]
    # Python's sort is stable, also with reverse=True: equal times keep the family order.
    return sorted(records, key=lambda r: _utc(r[TIME_COLUMN[kind]]), reverse=True)  # type: ignore[arg-type, return-value]


def expected_calls(records: list[Record]) -> pl.DataFrame:
    """The typed calls frame for API records, built without the package's decoders."""
    rows = []
    for r in records:
        price = _float(r["price"])
        inbound = _is_inbound(r["direction"])
        rows.append(
            {
                "sid": r["sid"],
                "parent_call_sid": r["parent_call_sid"],
                "account_sid": r["account_sid"],
                "from": r["from"],
                "to": r["to"],
                "from_formatted": r["from_formatted"],
                "to_formatted": r["to_formatted"],
                "direction": r["direction"],
                "status": r["status"],
                "start_time": _utc(r["start_time"]),
                "end_time": _utc(r["end_time"]),
                "date_created": _utc(r["date_created"]),
                "date_updated": _utc(r["date_updated"]),
                "duration": _int(r["duration"]),
                "queue_time": _int(r["queue_time"]),
                "price": price,
                "cost": None if price is None else -price,
                "price_unit": r["price_unit"],
                "answered_by": r["answered_by"],
                "forwarded_from": r["forwarded_from"],
                "caller_name": r["caller_name"],
                "phone_number_sid": r["phone_number_sid"],
                "trunk_sid": r["trunk_sid"],
                "group_sid": r["group_sid"],
                "our_number": r["to"] if inbound else r["from"],
                "counterpart": r["from"] if inbound else r["to"],
            }
        )
    return pl.DataFrame(rows, schema=CALLS_SCHEMA)


def expected_messages(records: list[Record]) -> pl.DataFrame:
    """The typed messages frame for API records, built without the package's decoders."""
    rows = []
    for r in records:
        price = _float(r["price"])
        inbound = r["direction"] == "inbound"
        rows.append(
            {
                "sid": r["sid"],
                "account_sid": r["account_sid"],
                "messaging_service_sid": r["messaging_service_sid"],
                "from": r["from"],
                "to": r["to"],
                "direction": r["direction"],
                "status": r["status"],
                "body": r["body"],
                "num_segments": _int(r["num_segments"]),
                "num_media": _int(r["num_media"]),
                "price": price,
                "cost": None if price is None else -price,
                "price_unit": r["price_unit"],
                "error_code": _int(r["error_code"]),
                "error_message": r["error_message"],
                "date_created": _utc(r["date_created"]),
                "date_sent": _utc(r["date_sent"]),
                "date_updated": _utc(r["date_updated"]),
                "our_number": r["to"] if inbound else r["from"],
                "counterpart": r["from"] if inbound else r["to"],
            }
        )
    return pl.DataFrame(rows, schema=MESSAGES_SCHEMA)


def in_range(records: list[Record], column: str, start: datetime | None, end: datetime | None) -> list[Record]:
    """The records whose ``column`` lies in ``[start, end)`` (None: unbounded)."""
    out = []
    for r in records:
        moment = _utc(r[column])
        assert moment is not None
        if (start is None or moment >= start) and (end is None or moment < end):
            out.append(r)
    return out


def as_utc(value: datetime | date | str | None) -> datetime | None:
    """What a loader's start/end argument means, computed here from its definition."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def days_between(first: date, last: date) -> set[date]:
    """The days from ``first`` to ``last``, inclusive."""
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


# --- the request log ------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One distinct request line of the sandbox's log, and how many times it arrived."""

    path: str
    query: dict[str, str]
    times: int

    @property
    def account(self) -> str | None:
        """The account in the path (``/Accounts/{AC}/…``), None for ``/Accounts.json`` and Monitor."""
        match = re.search(r"/Accounts/(AC[0-9a-fA-F]{32})/", self.path)
        return match[1] if match else None

    @property
    def resource(self) -> str:
        """The last path segment: ``Accounts.json``, ``Calls.json``, ``Daily.json``, ``Alerts``, …"""
        return self.path.rsplit("/", 1)[-1]

    @property
    def is_first_page(self) -> bool:
        return "PageToken" not in self.query


def logged(sb: Sandbox, resource: str | None = None) -> list[Request]:
    """The request log since the last reset, optionally only one resource (``"Calls.json"``)."""
    out = []
    for line, times in sb.requests.items():
        target = urlsplit(line.split(" ", 1)[1])
        request = Request(target.path, dict(parse_qsl(target.query)), times)
        if resource is None or request.resource == resource:
            out.append(request)
    return out


def total_requests(sb: Sandbox) -> int:
    return sum(sb.requests.values())


def clear_log(sb: Sandbox) -> None:
    """Forget the request log (and any faults) but keep the authorizations."""
    sb.state.faults.reset()


def log_summary(sb: Sandbox) -> str:
    """Requests per (resource, account), for assertion messages."""
    counts = Counter((r.resource, (r.account or "-")[-4:]) for r in logged(sb) for _ in range(r.times))
    return ", ".join(f"{resource} {account}: {n}" for (resource, account), n in sorted(counts.items()))


def window_days(request: Request) -> set[date]:
    """The UTC days a Calls.json / Messages.json request selects, read from its day filters.

    By the spec's words: ``StartTime>`` is on or after, ``StartTime<`` before;
    ``DateSent>`` on or after, ``DateSent<`` on or before.
    """
    name, inclusive_before = ("StartTime", False) if request.resource == "Calls.json" else ("DateSent", True)
    q = request.query
    if name in q:
        return {date.fromisoformat(q[name])}
    first = date.fromisoformat(q[f"{name}>"])
    before = date.fromisoformat(q[f"{name}<"])
    return days_between(first, before if inclusive_before else before - timedelta(days=1))


def fetched_days(sb: Sandbox, kind: str = "calls") -> dict[str, set[date]]:
    """The days of each account that list requests asked for, since the last reset."""
    out: dict[str, set[date]] = {}
    for request in logged(sb, "Calls.json" if kind == "calls" else "Messages.json"):
        assert request.account is not None
        out.setdefault(request.account, set()).update(window_days(request))
    return out


# --- the cache as files -----------------------------------------------------------------


def month_files(root: Path, kind: str = "calls") -> list[Path]:
    return sorted((root / kind).glob("account=*/month=*/part-0.parquet"))


def covered_days(root: Path, account: str, kind: str = "calls") -> set[date]:
    """The days an account's month files say they cover (their parquet footers)."""
    days: set[date] = set()
    for path in sorted((root / kind / f"account={account}").glob("month=*/part-0.parquet")):
        doc = json.loads(pl.read_parquet_metadata(path)[METADATA_KEY])
        year, month = map(int, doc["month"].split("-"))
        days |= {date(year, month, d) for d in doc["days"]}
    return days
