"""Loaders against the sandbox over loopback: exact, typed, resilient to faults, cached.

Every expected frame is built here, independently of ``connect_notebook._frames``,
from ``Sandbox.calls()`` / ``Sandbox.messages()`` (the records exactly as the API
renders them): RFC 2822 dates parsed with ``email.utils``, numbers with ``int`` /
``float``, ``cost`` negated from ``price``, ``our_number`` / ``counterpart`` from the
direction. A loader that drops, adds, reorders or mistypes a single value fails.

No test sleeps: retries record the delays they would have waited through an
injected ``RetryPolicy(sleep=...)``.
"""

from __future__ import annotations

import dataclasses
import random
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from connect_notebook import (
    ALERTS_SCHEMA,
    CALLS_SCHEMA,
    MESSAGES_SCHEMA,
    USAGE_SCHEMA,
    AuthorizationRevoked,
    ConfigError,
    ConnectApp,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TransportError,
    load_alerts,
    load_calls,
    load_messages,
    load_usage,
    scan_calls,
)
from connect_notebook._active import app_for_sandbox
from connect_notebook.sandbox import Faults, Sandbox

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # the session sandbox's pinned clock
NOBODY = "+15005550000"  # a number that appears in no record
Record = dict[str, Any]


# --- fixtures ---------------------------------------------------------------------


@pytest.fixture
def app(sandbox: Sandbox) -> ConnectApp:
    """The session sandbox's Connect App (owner credentials, sandbox URLs)."""
    return app_for_sandbox(sandbox)


@pytest.fixture(scope="module")
def truth(_sandbox_server: Sandbox) -> dict[str, list[Record]]:
    """The first customer's calls and messages, newest first (fixed by the seed)."""
    sid = _sandbox_server.customer_account_sids[0]
    return {"calls": _sandbox_server.calls(sid), "messages": _sandbox_server.messages(sid)}


class Delays(list[float]):
    """Records the delays a RetryPolicy asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class MaxRandom(random.Random):
    """Full jitter at its upper bound, so backoff delays are exact: base * 2**(attempt-1)."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
def delays() -> Delays:
    return Delays()


def policy(delays: Delays, attempts: int = 12) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, sleep=delays, rng=MaxRandom())


# --- the expected frames, built independently -------------------------------------


def _utc(value: str | None) -> datetime | None:
    return None if value in (None, "") else parsedate_to_datetime(value).astimezone(UTC)


def _int(value: str | int | None) -> int | None:
    return None if value in (None, "") else int(value)


def _float(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


def _day(value: str) -> str:
    moment = _utc(value)
    assert moment is not None
    return moment.date().isoformat()


def _is_inbound(direction: str) -> bool:
    return direction in ("inbound", "trunking-originating")


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


def calls_fetched(sandbox: Sandbox) -> Counter[str]:
    """How many Calls.json requests each ``StartTime`` day got since the last reset."""
    days: Counter[str] = Counter()
    for line, n in sandbox.requests.items():
        target = line.split(" ", 1)[1]
        if "/Calls.json" in urlsplit(target).path:
            days[dict(parse_qsl(urlsplit(target).query)).get("StartTime", "?")] += n
    return days


def cached_days(root: Path, account: str, kind: str = "calls") -> set[str]:
    return {p.parent.name.removeprefix("date=") for p in (root / kind / f"account={account}").glob("date=*/*")}


def days_between(first: date, last: date) -> set[str]:
    """ISO days from ``first`` to ``last`` inclusive."""
    return {(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)}


# --- schemas --------------------------------------------------------------------


def test_calls_schema_has_the_documented_columns_types_and_order() -> None:
    utc = pl.Datetime("us", "UTC")
    strings = ("sid", "parent_call_sid", "account_sid", "from", "to", "from_formatted", "to_formatted")
    assert list(CALLS_SCHEMA) == [
        *strings,
        "direction",
        "status",
        "start_time",
        "end_time",
        "date_created",
        "date_updated",
        "duration",
        "queue_time",
        "price",
        "cost",
        "price_unit",
        "answered_by",
        "forwarded_from",
        "caller_name",
        "phone_number_sid",
        "trunk_sid",
        "group_sid",
        "our_number",
        "counterpart",
    ]
    assert all(CALLS_SCHEMA[c] == pl.String for c in strings)
    assert isinstance(CALLS_SCHEMA["direction"], pl.Enum)
    assert isinstance(CALLS_SCHEMA["status"], pl.Enum)
    assert {"inbound", "outbound-api", "outbound-dial"} <= set(CALLS_SCHEMA["direction"].categories)
    assert {"queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"} == set(
        CALLS_SCHEMA["status"].categories
    )
    for column in ("start_time", "end_time", "date_created", "date_updated"):
        assert CALLS_SCHEMA[column] == utc
    assert CALLS_SCHEMA["duration"] == pl.Int64
    assert CALLS_SCHEMA["queue_time"] == pl.Int64
    assert CALLS_SCHEMA["price"] == pl.Float64
    assert CALLS_SCHEMA["cost"] == pl.Float64


# --- exact equality with the ground truth -------------------------------------------

CALL_RANGES = [
    pytest.param(None, None, id="whole-history"),
    pytest.param(None, NOW, id="whole-history-to-the-sandbox-clock"),
    pytest.param(date(2026, 10, 10), date(2026, 10, 17), id="day-boundaries-as-dates"),
    pytest.param("2026-10-10", "2026-10-17", id="day-boundaries-as-strings"),
    pytest.param(
        datetime(2026, 10, 10, tzinfo=UTC), datetime(2026, 10, 11, tzinfo=UTC), id="exactly-one-day-as-datetimes"
    ),
    pytest.param("2026-10-20T10:30:00Z", datetime(2026, 10, 22, 2, 0, tzinfo=UTC), id="sub-day-instants"),
    pytest.param("2026-10-20T06:30:00-04:00", "2026-10-21T22:00:00-04:00", id="sub-day-instants-other-offset"),
    pytest.param(datetime(2026, 10, 20, 10, 30), datetime(2026, 10, 22, 2, 0), id="naive-datetimes-mean-utc"),
    pytest.param("2026-10-21T09:00:00Z", "2026-10-21T17:00:00Z", id="inside-one-day"),
    pytest.param("2026-10-31T18:00:00Z", None, id="up-to-now-across-the-sandbox-clock"),
]


@pytest.mark.parametrize(("start", "end"), CALL_RANGES)
def test_load_calls_equals_the_ground_truth_over_the_range(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]], start: Any, end: Any
) -> None:
    frame = load_calls(customer, app=app, start=start, end=end, progress=False)
    expected = expected_calls(in_range(truth["calls"], "start_time", as_utc(start), as_utc(end)))
    assert expected.height > 0  # the range must mean something
    assert_frame_equal(frame, expected)
    assert frame["sid"].is_unique().all()


def test_load_calls_whole_history_has_every_sid_once(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]]
) -> None:
    frame = load_calls(customer, app=app, progress=False)
    assert frame.height == len(truth["calls"]) == 2_000
    assert sorted(frame["sid"].to_list()) == sorted(r["sid"] for r in truth["calls"])


def test_load_calls_includes_a_call_exactly_at_start_and_excludes_one_exactly_at_end(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]]
) -> None:
    day = in_range(truth["calls"], "start_time", datetime(2026, 10, 21, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC))
    # Newest first: the later call is the end bound, an earlier one the start bound.
    by_second = Counter(r["start_time"] for r in day)
    unique = [r for r in day if by_second[r["start_time"]] == 1]
    at_end, at_start = unique[2], unique[-3]
    start, end = _utc(at_start["start_time"]), _utc(at_end["start_time"])
    frame = load_calls(customer, app=app, start=start, end=end, progress=False)
    sids = set(frame["sid"].to_list())
    assert at_start["sid"] in sids
    assert at_end["sid"] not in sids
    assert_frame_equal(frame, expected_calls(in_range(truth["calls"], "start_time", start, end)))


MESSAGE_RANGES = [
    pytest.param(None, None, id="whole-history"),
    pytest.param(date(2026, 10, 10), date(2026, 10, 17), id="day-boundaries"),
    pytest.param("2026-10-20T10:30:00Z", "2026-10-22T02:00:00Z", id="sub-day-instants"),
    pytest.param("2026-10-21T09:00:00+00:00", "2026-10-21T17:00:00+00:00", id="inside-one-day"),
]


@pytest.mark.parametrize(("start", "end"), MESSAGE_RANGES)
def test_load_messages_equals_the_ground_truth_over_the_range(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]], start: Any, end: Any
) -> None:
    frame = load_messages(customer, app=app, start=start, end=end, progress=False)
    expected = expected_messages(in_range(truth["messages"], "date_sent", as_utc(start), as_utc(end)))
    assert expected.height > 0
    assert_frame_equal(frame, expected)


def test_load_messages_includes_a_message_exactly_at_start_and_excludes_one_exactly_at_end(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]]
) -> None:
    by_second = Counter(r["date_sent"] for r in truth["messages"])
    unique = [r for r in truth["messages"] if by_second[r["date_sent"]] == 1]
    at_end, at_start = unique[40], unique[60]
    start, end = _utc(at_start["date_sent"]), _utc(at_end["date_sent"])
    frame = load_messages(customer, app=app, start=start, end=end, progress=False)
    assert at_start["sid"] in frame["sid"].to_list()
    assert at_end["sid"] not in frame["sid"].to_list()
    assert_frame_equal(frame, expected_messages(in_range(truth["messages"], "date_sent", start, end)))


@pytest.mark.parametrize(
    "calls",
    [
        pytest.param(999, id="one-short-of-a-page"),
        pytest.param(1000, id="exactly-one-page"),
        pytest.param(1001, id="one-over-a-page"),
        pytest.param(2500, id="several-pages"),
    ],
)
def test_load_calls_pages_through_a_day_around_the_page_size(calls: int) -> None:
    # now at midnight: the whole history is one complete UTC day, so it holds exactly ``calls`` calls.
    with Sandbox(seed=5, calls_per_account=calls, days=1, customers=1, now="2026-10-02T00:00:00Z") as sb:
        customer = sb.customer_account_sids[0]
        sb.authorize(customer)
        frame = load_calls(customer, app=app_for_sandbox(sb), start="2026-10-01", end="2026-10-02", progress=False)
        assert_frame_equal(frame, expected_calls(sb.calls(customer)))
        assert frame.height == calls
        pages = sum(n for line, n in sb.requests.items() if "/Calls.json" in line)
        assert pages == -(-calls // 1000)


# --- filters ----------------------------------------------------------------------


def _top(records: list[Record], field: str) -> str:
    return Counter(r[field] for r in records).most_common(1)[0][0]


FILTERS: list[Any] = [
    pytest.param(lambda t: {"status": "completed"}, id="one-status"),
    pytest.param(lambda t: {"status": ["busy", "no-answer", "failed"]}, id="several-statuses"),
    pytest.param(lambda t: {"status": ("canceled",)}, id="one-status-in-a-tuple"),
    pytest.param(lambda t: {"direction": "inbound"}, id="one-direction"),
    pytest.param(lambda t: {"direction": ["outbound-api", "outbound-dial"]}, id="several-directions"),
    pytest.param(lambda t: {"to": _top(t, "to")}, id="to"),
    pytest.param(lambda t: {"from_": _top(t, "from")}, id="from"),
    pytest.param(
        lambda t: {"status": "completed", "direction": "inbound", "to": _top(t, "to")}, id="status-direction-to"
    ),
    pytest.param(
        lambda t: {"status": ["completed", "busy"], "from_": _top(t, "from"), "direction": "outbound-dial"},
        id="statuses-from-direction",
    ),
]


def matches(record: Record, status: Any = None, direction: Any = None, to: Any = None, from_: Any = None) -> bool:
    statuses = [status] if isinstance(status, str) else status
    directions = [direction] if isinstance(direction, str) else direction
    return (
        (statuses is None or record["status"] in statuses)
        and (directions is None or record["direction"] in directions)
        and (to is None or record["to"] == to)
        and (from_ is None or record["from"] == from_)
    )


@pytest.mark.parametrize("make_filters", FILTERS)
@pytest.mark.parametrize("cached", [pytest.param(False, id="no-cache"), pytest.param(True, id="cache")])
def test_load_calls_filters_equal_filtering_the_ground_truth(
    sandbox: Sandbox,
    customer: str,
    app: ConnectApp,
    truth: dict[str, list[Record]],
    tmp_path: Path,
    make_filters: Callable[[list[Record]], dict[str, Any]],
    cached: bool,
) -> None:
    start, end = datetime(2026, 10, 1, 6, tzinfo=UTC), NOW
    window = in_range(truth["calls"], "start_time", start, end)
    filters = make_filters(window)
    expected = expected_calls([r for r in window if matches(r, **filters)])
    assert 0 < expected.height < len(window)  # the filter keeps some and drops some
    frame = load_calls(
        customer, app=app, start=start, end=end, cache_dir=tmp_path if cached else None, progress=False, **filters
    )
    assert_frame_equal(frame, expected)


def test_a_filtered_load_caches_whole_days_so_an_unfiltered_load_from_the_cache_is_complete(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]], tmp_path: Path
) -> None:
    start, end = date(2026, 10, 10), date(2026, 10, 15)
    load_calls(customer, app=app, start=start, end=end, status="busy", cache_dir=tmp_path, progress=False)
    before = sum(calls_fetched(sandbox).values())
    frame = load_calls(customer, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    assert sum(calls_fetched(sandbox).values()) == before  # all from the cache
    assert_frame_equal(frame, expected_calls(in_range(truth["calls"], "start_time", as_utc(start), as_utc(end))))


@pytest.mark.parametrize(
    "filters",
    [
        pytest.param({"to": "TOP"}, id="to"),
        pytest.param({"from_": "TOP"}, id="from"),
    ],
)
def test_load_messages_filters_equal_filtering_the_ground_truth(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]], filters: dict[str, str]
) -> None:
    field = "to" if "to" in filters else "from"
    number = _top(truth["messages"], field)
    frame = load_messages(customer, app=app, progress=False, **{k: number for k in filters})
    expected = expected_messages([r for r in truth["messages"] if r[field] == number])
    assert 0 < expected.height < len(truth["messages"])
    assert_frame_equal(frame, expected)


# --- empty results keep the schema -------------------------------------------------

EMPTY_LOADS: list[Any] = [
    pytest.param(
        lambda c, a: load_calls(c, app=a, start="2026-01-01", end="2026-01-05", progress=False),
        CALLS_SCHEMA,
        id="calls-range-before-history",
    ),
    pytest.param(
        lambda c, a: load_calls(c, app=a, start="2026-10-20T03:00:00Z", end="2026-10-20T03:00:00Z", progress=False),
        CALLS_SCHEMA,
        id="calls-zero-length-range",
    ),
    pytest.param(
        lambda c, a: load_calls(c, app=a, start="2026-10-20", end="2026-10-25", status="queued", progress=False),
        CALLS_SCHEMA,
        id="calls-status-matching-nothing",
    ),
    pytest.param(
        lambda c, a: load_calls(c, app=a, start="2026-10-20", end="2026-10-25", to=NOBODY, progress=False),
        CALLS_SCHEMA,
        id="calls-to-matching-nothing",
    ),
    pytest.param(
        lambda c, a: load_calls(
            c, app=a, start="2026-10-20", end="2026-10-25", direction="trunking-terminating", progress=False
        ),
        CALLS_SCHEMA,
        id="calls-direction-matching-nothing",
    ),
    pytest.param(
        lambda c, a: load_messages(c, app=a, start="2026-01-01", end="2026-01-05", progress=False),
        MESSAGES_SCHEMA,
        id="messages-range-before-history",
    ),
    pytest.param(
        lambda c, a: load_messages(c, app=a, start="2026-10-20", end="2026-10-25", from_=NOBODY, progress=False),
        MESSAGES_SCHEMA,
        id="messages-from-matching-nothing",
    ),
    pytest.param(lambda c, a: load_usage(c, app=a, category="no-such-category"), USAGE_SCHEMA, id="usage-category"),
    pytest.param(
        lambda c, a: load_alerts(c, app=a, start="2026-09-01", end="2026-09-10"), ALERTS_SCHEMA, id="alerts-range"
    ),
    pytest.param(lambda c, a: load_alerts(c, app=a, log_level="debug"), ALERTS_SCHEMA, id="alerts-log-level"),
]


@pytest.mark.parametrize(("load", "schema"), EMPTY_LOADS)
def test_an_empty_result_has_exactly_the_schema(
    sandbox: Sandbox, customer: str, app: ConnectApp, load: Callable[[str, ConnectApp], pl.DataFrame], schema: Any
) -> None:
    frame = load(customer, app)
    assert frame.height == 0
    assert frame.schema == schema
    assert_frame_equal(frame, pl.DataFrame(schema=schema))


# --- usage and alerts ------------------------------------------------------------


def _api_pages(client: httpx.Client, url: str, key: str, next_link: Callable[[Record], str | None]) -> list[Record]:
    """Every record of a list, following its next-page link (relative or absolute)."""
    records: list[Record] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        body = response.json()
        records.extend(body[key])
        next_url = next_link(body)
    return records


def _date(value: str) -> date:
    return date.fromisoformat(value)


def expected_usage(records: list[Record]) -> pl.DataFrame:
    rows = [
        {
            "account_sid": r["account_sid"],
            "category": r["category"],
            "description": r["description"],
            "start_date": _date(r["start_date"]),
            "end_date": _date(r["end_date"]),
            "count": int(r["count"]),
            "count_unit": r["count_unit"],
            "usage": float(r["usage"]),
            "usage_unit": r["usage_unit"],
            "price": float(r["price"]),
            "price_unit": r["price_unit"],
            "as_of": datetime.fromisoformat(r["as_of"]).astimezone(UTC),
        }
        for r in records
    ]
    return pl.DataFrame(rows, schema=USAGE_SCHEMA)


def expected_alerts(records: list[Record]) -> pl.DataFrame:
    def moment(value: str) -> datetime:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    rows = [
        {
            **{name: r[name] for name in ALERTS_SCHEMA if not name.startswith("date_")},
            "date_created": moment(r["date_created"]),
            "date_generated": moment(r["date_generated"]),
            "date_updated": moment(r["date_updated"]),
        }
        for r in records
    ]
    return pl.DataFrame(rows, schema=ALERTS_SCHEMA)


@pytest.mark.parametrize(
    ("kwargs", "query", "days"),
    [
        pytest.param({}, "", None, id="twilio-default-range"),
        # Like every end in the loaders, ``end`` is exclusive: Twilio's inclusive EndDate is the day before.
        pytest.param(
            {"start": "2026-10-01", "end": "2026-10-08"},
            "&StartDate=2026-10-01&EndDate=2026-10-07",
            (date(2026, 10, 1), date(2026, 10, 7)),
            id="range",
        ),
        pytest.param(
            {"start": date(2026, 10, 1), "end": date(2026, 11, 1), "category": "calls-inbound"},
            "&StartDate=2026-10-01&EndDate=2026-10-31&Category=calls-inbound",
            (date(2026, 10, 1), date(2026, 10, 31)),
            id="range-and-category",
        ),
    ],
)
def test_load_usage_daily_records_equal_the_usage_api_typed(
    sandbox: Sandbox,
    customer: str,
    app: ConnectApp,
    api: httpx.Client,
    kwargs: dict[str, Any],
    query: str,
    days: tuple[date, date] | None,
) -> None:
    frame = load_usage(customer, app=app, **kwargs)
    records = _api_pages(
        api,
        f"/2010-04-01/Accounts/{customer}/Usage/Records/Daily.json?PageSize=1000{query}",
        "usage_records",
        lambda body: body["next_page_uri"],
    )
    assert records
    assert frame.schema == USAGE_SCHEMA
    assert frame["count"].dtype == pl.Int64
    assert frame["usage"].dtype == pl.Float64
    assert frame["price"].dtype == pl.Float64
    assert_frame_equal(frame, expected_usage(records))
    assert (frame["start_date"] == frame["end_date"]).all()  # daily records
    if days is not None:
        assert {d.isoformat() for d in frame["start_date"].to_list()} == days_between(*days)


@pytest.mark.parametrize(
    ("kwargs", "query"),
    [
        pytest.param({}, "", id="last-30-days"),
        pytest.param({"log_level": "warning"}, "&LogLevel=warning", id="log-level"),
        pytest.param(
            {"start": datetime(2026, 10, 15, 6, tzinfo=UTC), "end": "2026-10-25T18:00:00Z"},
            "&StartDate=2026-10-15T06:00:00Z&EndDate=2026-10-25T18:00:00Z",
            id="range",
        ),
    ],
)
def test_load_alerts_equal_the_monitor_api_typed(
    sandbox: Sandbox, customer: str, app: ConnectApp, api: httpx.Client, kwargs: dict[str, Any], query: str
) -> None:
    frame = load_alerts(customer, app=app, **kwargs)
    with httpx.Client(base_url=sandbox.monitor_url, auth=(customer, sandbox.owner_auth_token)) as monitor:
        records = _api_pages(
            monitor, f"/v1/Alerts?PageSize=1000{query}", "alerts", lambda body: body["meta"]["next_page_url"]
        )
    assert records
    assert frame.schema == ALERTS_SCHEMA
    assert_frame_equal(frame, expected_alerts(records))


# --- faults ---------------------------------------------------------------------

FAULT_KNOBS = [
    pytest.param({"rate_limit": 0.3, "retry_after": 0}, id="rate-limit"),
    pytest.param({"rate_limit": 0.3}, id="rate-limit-without-retry-after"),
    pytest.param({"server_error": 0.3}, id="server-error"),
    pytest.param({"reset": 0.3}, id="reset-mid-body"),
    pytest.param({"truncate": 0.3}, id="truncated-body"),
    pytest.param({"latency": 0.01, "concurrency_limit": 2}, id="latency-and-concurrency-limit"),
    pytest.param(
        {
            "rate_limit": 0.1,
            "retry_after": 0,
            "server_error": 0.1,
            "reset": 0.1,
            "truncate": 0.1,
            "latency": 0.002,
            "spike_rate": 0.05,
            "spike_latency": 0.02,
            "concurrency_limit": 3,
        },
        id="all-together",
    ),
]


@pytest.mark.parametrize("knobs", FAULT_KNOBS)
def test_load_calls_under_faults_still_equals_the_ground_truth(
    sandbox: Sandbox,
    customer: str,
    app: ConnectApp,
    truth: dict[str, list[Record]],
    delays: Delays,
    knobs: dict[str, Any],
) -> None:
    sandbox.faults = Faults(seed=11, **knobs)
    frame = load_calls(customer, app=app, end=NOW, concurrency=8, retry=policy(delays, attempts=15), progress=False)
    assert_frame_equal(frame, expected_calls(truth["calls"]))
    injected = sandbox.injected
    assert sum(injected.values()) > 0, "the faults must have happened for the test to mean anything"
    # Every fault cost exactly one retry: no page was given up on, none fetched twice when it succeeded.
    assert len(delays) == sum(injected.values())
    # Backoff is exponential with full jitter (at its top here): base * 2**k, or the Retry-After sent.
    allowed = {0.0} | {min(20.0, 0.2 * 2**k) for k in range(15)}
    assert set(delays) <= allowed


@pytest.mark.parametrize("knobs", [FAULT_KNOBS[0], FAULT_KNOBS[-1]])
def test_load_messages_under_faults_still_equals_the_ground_truth(
    sandbox: Sandbox,
    customer: str,
    app: ConnectApp,
    truth: dict[str, list[Record]],
    delays: Delays,
    knobs: dict[str, Any],
) -> None:
    sandbox.faults = Faults(seed=12, **knobs)
    frame = load_messages(customer, app=app, end=NOW, retry=policy(delays, attempts=15), progress=False)
    assert_frame_equal(frame, expected_messages(truth["messages"]))
    assert len(delays) == sum(sandbox.injected.values()) > 0


def test_load_calls_honours_retry_after_instead_of_its_own_backoff(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]], delays: Delays
) -> None:
    sandbox.faults = Faults(seed=3, rate_limit=0.3, retry_after=2)
    frame = load_calls(customer, app=app, start="2026-10-01", end=NOW, retry=policy(delays), progress=False)
    assert_frame_equal(frame, expected_calls(in_range(truth["calls"], "start_time", as_utc("2026-10-01"), NOW)))
    assert delays  # some 429s happened
    assert set(delays) == {2.0}
    assert len(delays) == sandbox.injected["rate_limit"]


def test_one_failing_page_is_retried_with_exponential_backoff_and_fetched_once_more(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]], delays: Delays
) -> None:
    # One worker: the first request is the newest day's page, and it fails three times.
    sandbox.fail_next(3, status=503)
    start, end = date(2026, 10, 20), date(2026, 10, 23)
    frame = load_calls(customer, app=app, start=start, end=end, concurrency=1, retry=policy(delays), progress=False)
    assert_frame_equal(frame, expected_calls(in_range(truth["calls"], "start_time", as_utc(start), as_utc(end))))
    assert delays == [0.2, 0.4, 0.8]
    assert calls_fetched(sandbox) == {"2026-10-22": 4, "2026-10-21": 1, "2026-10-20": 1}


def test_backoff_without_jitter_headroom_never_exceeds_the_exponential_bound(
    sandbox: Sandbox, customer: str, app: ConnectApp, delays: Delays
) -> None:
    sandbox.fail_next(6, status=500)
    retry = RetryPolicy(attempts=8, base_delay=0.5, max_delay=4.0, sleep=delays, rng=random.Random(1))
    load_calls(customer, app=app, start="2026-10-20", end="2026-10-21", concurrency=1, retry=retry, progress=False)
    assert len(delays) == 6
    for attempt, delay in enumerate(delays, start=1):
        assert 0.0 <= delay <= min(4.0, 0.5 * 2 ** (attempt - 1))


# --- retries exhausted ---------------------------------------------------------------

EXHAUSTED = [
    pytest.param({"rate_limit": 1.0, "retry_after": 0}, RateLimitError, {429}, {20429}, id="rate-limited"),
    pytest.param({"server_error": 1.0}, ServerError, {500, 503}, {20500, 20503}, id="server-error"),
    pytest.param({"reset": 1.0}, TransportError, None, None, id="reset"),
    pytest.param({"truncate": 1.0}, TransportError, None, None, id="truncated"),
]


@pytest.mark.parametrize(("knobs", "error", "statuses", "codes"), EXHAUSTED)
def test_retries_exhausted_raise_a_clear_error_naming_the_page_never_a_partial_frame(
    sandbox: Sandbox,
    customer: str,
    app: ConnectApp,
    delays: Delays,
    knobs: dict[str, Any],
    error: type[Exception],
    statuses: set[int] | None,
    codes: set[int] | None,
) -> None:
    sandbox.faults = Faults(seed=5, **knobs)
    with pytest.raises(error) as info:
        load_calls(
            customer,
            app=app,
            start="2026-10-10",
            end="2026-10-20",
            concurrency=1,
            retry=policy(delays, attempts=3),
            progress=False,
        )
    exc = info.value
    message = str(exc)
    assert f"{app.api_url}/2010-04-01/Accounts/{customer}/Calls.json?" in message
    assert "StartTime=2026-10-" in message
    assert "3 tries" in message
    if statuses is not None:
        assert exc.status_code in statuses  # type: ignore[attr-defined]
        assert exc.code in codes  # type: ignore[attr-defined, operator]
        assert "Calls.json" in exc.url  # type: ignore[attr-defined]
    else:
        assert exc.__cause__ is not None
    if knobs.get("reset"):
        assert isinstance(exc.__cause__, httpx.TransportError)
    if error is RateLimitError:
        assert exc.retry_after == 0.0  # type: ignore[attr-defined]


def test_a_page_that_fails_for_good_stops_the_load_instead_of_fetching_every_other_day(
    sandbox: Sandbox, customer: str, app: ConnectApp, delays: Delays
) -> None:
    sandbox.faults = Faults(seed=5, server_error=1.0)
    with pytest.raises(ServerError):
        load_calls(
            customer,
            app=app,
            start="2026-09-01",
            end="2026-10-20",
            concurrency=1,
            retry=policy(delays, attempts=3),
            progress=False,
        )
    # 49 days were asked for. The failing first page is tried 3 times; the one worker may
    # already be on the next day or two when the failure reaches the caller (how far it gets
    # depends on thread scheduling, since the recorded "sleeps" return at once), but the
    # load must not go on through the other days.
    tried = calls_fetched(sandbox)
    assert tried[max(tried)] == 3  # the newest day, first in line, used every attempt
    assert len(tried) <= 10


def test_fail_next_on_one_page_beyond_the_attempts_raises_for_that_page(
    sandbox: Sandbox, customer: str, app: ConnectApp, delays: Delays
) -> None:
    sandbox.fail_next(4, status=503)
    with pytest.raises(ServerError) as info:
        load_calls(
            customer,
            app=app,
            start="2026-10-20",
            end="2026-10-23",
            concurrency=1,
            retry=policy(delays, attempts=4),
            progress=False,
        )
    assert "StartTime=2026-10-22" in str(info.value)
    assert info.value.status_code == 503
    assert info.value.code == 20503
    assert delays == [0.2, 0.4, 0.8]


# --- authorization -------------------------------------------------------------------

LOADERS = [
    pytest.param(lambda c, a: load_calls(c, app=a, start="2026-10-20", end="2026-10-21", progress=False), id="calls"),
    pytest.param(lambda c, a: load_calls(c, app=a, progress=False), id="calls-whole-history"),
    pytest.param(lambda c, a: load_messages(c, app=a, start="2026-10-20", progress=False), id="messages"),
    pytest.param(lambda c, a: load_usage(c, app=a), id="usage"),
    pytest.param(lambda c, a: load_alerts(c, app=a), id="alerts"),
]


def _assert_revoked_error(exc: AuthorizationRevoked, customer: str, app: ConnectApp) -> None:
    message = str(exc)
    assert customer in message
    assert app.connect_app_sid in message
    assert "has not authorized" in message
    assert "revoked" in message
    assert exc.account_sid == customer
    assert exc.connect_app_sid == app.connect_app_sid
    shown = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for text in shown:
        assert app.auth_token not in text


@pytest.mark.parametrize("load", LOADERS)
def test_a_customer_that_revoked_gets_authorization_revoked_naming_account_and_app(
    sandbox: Sandbox, customer: str, app: ConnectApp, load: Callable[[str, ConnectApp], Any]
) -> None:
    sandbox.deauthorize(customer)
    with pytest.raises(AuthorizationRevoked) as info:
        load(customer, app)
    _assert_revoked_error(info.value, customer, app)


@pytest.mark.parametrize("load", LOADERS)
def test_a_customer_that_never_authorized_gets_authorization_revoked(
    sandbox: Sandbox, app: ConnectApp, load: Callable[[str, ConnectApp], Any]
) -> None:
    stranger = sandbox.customer_account_sids[1]
    with pytest.raises(AuthorizationRevoked) as info:
        load(stranger, app)
    _assert_revoked_error(info.value, stranger, app)


def test_revoking_between_two_loads_turns_the_second_into_authorization_revoked(
    sandbox: Sandbox, customer: str, app: ConnectApp
) -> None:
    first = load_calls(customer, app=app, start="2026-10-20", end="2026-10-21", progress=False)
    assert first.height > 0
    sandbox.deauthorize(customer)
    with pytest.raises(AuthorizationRevoked):
        load_calls(customer, app=app, start="2026-10-20", end="2026-10-21", progress=False)


def test_an_exhausted_retry_error_never_shows_the_auth_token(
    sandbox: Sandbox, customer: str, app: ConnectApp, delays: Delays
) -> None:
    sandbox.faults = Faults(server_error=1.0)
    with pytest.raises(ServerError) as info:
        load_calls(customer, app=app, start="2026-10-20", end="2026-10-21", retry=policy(delays, 2), progress=False)
    for text in (str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))):
        assert app.auth_token not in text


# --- cache ----------------------------------------------------------------------


def test_first_cached_load_writes_one_hive_partition_per_completed_day(
    sandbox: Sandbox, customer: str, app: ConnectApp, tmp_path: Path
) -> None:
    load_calls(customer, app=app, start="2026-10-20", end="2026-10-25", cache_dir=tmp_path, progress=False)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [f"calls/account={customer}/date=2026-10-{d}/part-0.parquet" for d in range(20, 25)]


def test_second_cached_load_of_settled_days_makes_no_call_requests_and_equals_the_first(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]], tmp_path: Path
) -> None:
    start, end = "2026-10-20T06:00:00Z", "2026-10-25T18:00:00Z"
    first = load_calls(customer, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    assert calls_fetched(sandbox) == dict.fromkeys(days_between(date(2026, 10, 20), date(2026, 10, 25)), 1)
    sandbox.reset()  # clears the request counts (and authorizations)
    sandbox.authorize(customer)
    second = load_calls(customer, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    # The sandbox's days are all weeks before the real today, so all of them are settled.
    assert calls_fetched(sandbox) == {}
    assert_frame_equal(second, first)
    assert_frame_equal(second, expected_calls(in_range(truth["calls"], "start_time", as_utc(start), as_utc(end))))


def test_whole_history_cached_twice_refetches_only_the_look_back_and_keeps_empty_days_typed(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]], tmp_path: Path
) -> None:
    # From the account's creation to the real now: the days after the sandbox's clock are
    # empty, and their cached (empty) partitions must read back with the same schema.
    today = datetime.now(UTC).date()
    first = load_calls(customer, app=app, cache_dir=tmp_path, progress=False)
    before = calls_fetched(sandbox)
    second = load_calls(customer, app=app, cache_dir=tmp_path, progress=False)
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC day changed during the test, so 'today' moved")
    assert set(calls_fetched(sandbox) - before) == days_between(today - timedelta(days=3), today)
    assert_frame_equal(first, expected_calls(truth["calls"]))
    assert_frame_equal(second, first)
    assert_frame_equal(scan_calls(customer, cache_dir=tmp_path).collect(), first)


def test_refresh_fetches_every_day_again(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]], tmp_path: Path
) -> None:
    kwargs: dict[str, Any] = {"start": "2026-10-20", "end": "2026-10-25", "cache_dir": tmp_path, "progress": False}
    first = load_calls(customer, app=app, **kwargs)
    refreshed = load_calls(customer, app=app, refresh=True, **kwargs)
    assert calls_fetched(sandbox) == dict.fromkeys(days_between(date(2026, 10, 20), date(2026, 10, 24)), 2)
    assert_frame_equal(refreshed, first)


def test_a_wider_range_fetches_only_the_days_missing_from_the_cache(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]], tmp_path: Path
) -> None:
    load_calls(customer, app=app, start="2026-10-20", end="2026-10-25", cache_dir=tmp_path, progress=False)
    before = calls_fetched(sandbox)
    frame = load_calls(customer, app=app, start="2026-10-18", end="2026-10-27", cache_dir=tmp_path, progress=False)
    new = calls_fetched(sandbox) - before
    assert set(new) == {"2026-10-18", "2026-10-19", "2026-10-25", "2026-10-26"}
    assert_frame_equal(
        frame, expected_calls(in_range(truth["calls"], "start_time", as_utc("2026-10-18"), as_utc("2026-10-27")))
    )


def test_scan_calls_collects_to_the_loaded_frame(
    sandbox: Sandbox, customer: str, app: ConnectApp, tmp_path: Path
) -> None:
    frame = load_calls(customer, app=app, start="2026-10-15", end="2026-10-25", cache_dir=tmp_path, progress=False)
    lazy = scan_calls(customer, cache_dir=tmp_path)
    assert isinstance(lazy, pl.LazyFrame)
    assert_frame_equal(lazy.collect(), frame)


def test_scan_calls_of_an_empty_cache_is_empty_with_the_schema(customer: str, tmp_path: Path) -> None:
    assert_frame_equal(scan_calls(customer, cache_dir=tmp_path).collect(), pl.DataFrame(schema=CALLS_SCHEMA))


def test_an_interrupted_cache_write_leaves_no_partition_and_a_later_load_succeeds(
    sandbox: Sandbox,
    customer: str,
    app: ConnectApp,
    truth: dict[str, list[Record]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken_day = "2026-10-22"
    real_write = pl.DataFrame.write_parquet

    def write_then_fail(self: pl.DataFrame, file: Any, *args: Any, **kwargs: Any) -> None:
        if Path(file).parent.name != f"date={broken_day}":
            real_write(self, file, *args, **kwargs)
            return
        # The disk fills up halfway through: half a parquet file is on disk, then an error.
        real_write(self, file, *args, **kwargs)
        data = Path(file).read_bytes()
        Path(file).write_bytes(data[: len(data) // 2])
        msg = "No space left on device"
        raise OSError(msg)

    start, end = "2026-10-20", "2026-10-25"
    with monkeypatch.context() as patch:
        patch.setattr(pl.DataFrame, "write_parquet", write_then_fail)
        with pytest.raises(OSError, match="No space left"):
            load_calls(customer, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)

    folder = tmp_path / "calls" / f"account={customer}"
    assert not (folder / f"date={broken_day}" / "part-0.parquet").exists()
    # Nothing else is left in the broken day's folder either: no temp file for a glob to pick up.
    assert [p for p in (folder / f"date={broken_day}").glob("*") if p.is_file()] == []
    assert [p.name for p in folder.rglob("*") if p.is_file() and p.name != "part-0.parquet"] == []
    # What scan_calls sees is only whole days, each exactly as the API has it.
    scanned = scan_calls(customer, cache_dir=tmp_path).collect()
    days = cached_days(tmp_path, customer)
    assert broken_day not in days
    expected = [r for r in truth["calls"] if r["start_time"] and _day(r["start_time"]) in days]
    assert_frame_equal(scanned, expected_calls(expected))

    frame = load_calls(customer, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    assert_frame_equal(frame, expected_calls(in_range(truth["calls"], "start_time", as_utc(start), as_utc(end))))
    assert broken_day in cached_days(tmp_path, customer)
    assert_frame_equal(scan_calls(customer, cache_dir=tmp_path).collect(), frame)


@pytest.fixture
def live_sandbox() -> Iterator[Sandbox]:
    """A small sandbox whose clock is the real one, so its last days are inside the look-back."""
    with Sandbox(seed=21, calls_per_account=500, days=10, customers=1) as sb:
        sb.authorize(sb.customer_account_sids[0])
        yield sb


@pytest.mark.parametrize(
    "lookback_days",
    [pytest.param(0, id="no-look-back"), pytest.param(3, id="three-days"), pytest.param(30, id="longer-than-history")],
)
def test_a_cached_reload_fetches_today_and_the_look_back_and_reads_older_days_from_the_cache(
    live_sandbox: Sandbox, tmp_path: Path, lookback_days: int
) -> None:
    sb = live_sandbox
    customer = sb.customer_account_sids[0]
    app = app_for_sandbox(sb)
    today = datetime.now(UTC).date()
    first_day = sb.now.date() - timedelta(days=10)
    first = load_calls(customer, app=app, cache_dir=tmp_path, lookback_days=lookback_days, progress=False)
    assert_frame_equal(first, expected_calls(sb.calls(customer)))
    # Every completed day is cached; today is not.
    assert cached_days(tmp_path, customer) == days_between(first_day, today - timedelta(days=1))
    before = calls_fetched(sb)
    second = load_calls(customer, app=app, cache_dir=tmp_path, lookback_days=lookback_days, progress=False)
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC day changed during the test, so 'today' moved")
    refetched = set(calls_fetched(sb) - before)
    assert refetched == days_between(max(first_day, today - timedelta(days=lookback_days)), today)
    assert_frame_equal(second, first)


@pytest.fixture
def sandboxes_an_hour_apart() -> Iterator[tuple[Sandbox, Sandbox]]:
    """The same seed seen at 00:10 and at 00:30 on 2026-10-20.

    The seed and sizes are chosen so that the calls of 2026-10-19 are identical in both
    except one that is still ``in-progress`` at 00:10 and ``completed`` by 00:30 (the
    generator makes a day's calls from the seed and the day; only the running ones
    depend on the clock). The test checks this precondition first.
    """
    options: dict[str, Any] = {"seed": 25, "calls_per_account": 500, "days": 5, "customers": 1}
    with (
        Sandbox(now="2026-10-20T00:10:00Z", **options) as early,
        Sandbox(now="2026-10-20T00:30:00Z", **options) as late,
    ):
        for sb in (early, late):
            sb.authorize(sb.customer_account_sids[0])
        yield early, late


def test_refresh_picks_up_a_call_whose_status_changed_since_it_was_cached(
    sandboxes_an_hour_apart: tuple[Sandbox, Sandbox], tmp_path: Path
) -> None:
    early, late = sandboxes_an_hour_apart
    customer = early.customer_account_sids[0]
    assert late.customer_account_sids[0] == customer
    start, end = as_utc("2026-10-19"), as_utc("2026-10-20")
    before = {r["sid"]: r for r in in_range(early.calls(customer), "start_time", start, end)}
    after = {r["sid"]: r for r in in_range(late.calls(customer), "start_time", start, end)}
    changed = [sid for sid in before if sid in after and before[sid]["status"] != after[sid]["status"]]
    assert changed, "precondition: a call of 2026-10-19 changes status between the two clocks"
    assert before[changed[0]]["status"] == "in-progress"
    assert after[changed[0]]["status"] == "completed"
    kwargs: dict[str, Any] = {"start": start, "end": end, "cache_dir": tmp_path, "progress": False}

    seen_early = load_calls(customer, app=app_for_sandbox(early), **kwargs)
    assert_frame_equal(seen_early, expected_calls(list(before.values())))
    # 2026-10-19 is weeks before the real today, so it is settled: a plain reload keeps the cached copy.
    stale = load_calls(customer, app=app_for_sandbox(late), **kwargs)
    assert_frame_equal(stale, seen_early)
    assert calls_fetched(late) == {}
    fresh = load_calls(customer, app=app_for_sandbox(late), refresh=True, **kwargs)
    assert_frame_equal(fresh, expected_calls(list(after.values())))
    row = fresh.filter(pl.col("sid") == changed[0])
    assert row["status"].cast(pl.String).to_list() == ["completed"]
    assert row["end_time"].null_count() == 0
    # The refreshed day replaced the cached one.
    assert_frame_equal(scan_calls(customer, cache_dir=tmp_path).collect(), fresh)
    assert_frame_equal(load_calls(customer, app=app_for_sandbox(late), **kwargs), fresh)


def test_messages_are_cached_under_their_own_folder_and_reused(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]], tmp_path: Path
) -> None:
    start, end = "2026-10-20", "2026-10-23"
    first = load_messages(customer, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    assert cached_days(tmp_path, customer, "messages") == days_between(date(2026, 10, 20), date(2026, 10, 22))
    requests = sum(sandbox.requests.values())
    second = load_messages(customer, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    assert sum(sandbox.requests.values()) == requests
    assert_frame_equal(second, first)
    assert_frame_equal(second, expected_messages(in_range(truth["messages"], "date_sent", as_utc(start), as_utc(end))))


# --- bad input --------------------------------------------------------------------


EVERY_LOADER: list[Any] = [
    pytest.param(lambda c, a, **kw: load_calls(c, app=a, progress=False, **kw), id="calls"),
    pytest.param(lambda c, a, **kw: load_messages(c, app=a, progress=False, **kw), id="messages"),
    pytest.param(lambda c, a, **kw: load_usage(c, app=a, **kw), id="usage"),
    pytest.param(lambda c, a, **kw: load_alerts(c, app=a, **kw), id="alerts"),
]


@pytest.mark.parametrize("load", EVERY_LOADER)
def test_end_before_start_is_a_value_error_raised_before_any_request(
    sandbox: Sandbox, customer: str, app: ConnectApp, load: Callable[..., Any]
) -> None:
    with pytest.raises(ValueError, match=r"end .*2026-10-20.* is before start .*2026-10-21"):
        load(customer, app, start="2026-10-21", end="2026-10-20")
    assert sandbox.requests == {}


@pytest.mark.parametrize(
    "concurrency", [pytest.param(0, id="zero"), pytest.param(-1, id="negative"), pytest.param(65, id="over-64")]
)
def test_concurrency_outside_1_to_64_is_a_value_error(
    sandbox: Sandbox, customer: str, app: ConnectApp, concurrency: int
) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        load_calls(customer, app=app, start="2026-10-20", end="2026-10-21", concurrency=concurrency, progress=False)
    assert sandbox.requests == {}


@pytest.mark.parametrize(
    ("filters", "bad"),
    [
        pytest.param({"status": "complete"}, "complete", id="status-typo"),
        pytest.param({"status": ["completed", "answered"]}, "answered", id="one-of-several-statuses"),
        pytest.param({"direction": "outbound"}, "outbound", id="direction-typo"),
    ],
)
@pytest.mark.parametrize("cached", [pytest.param(False, id="no-cache"), pytest.param(True, id="cache")])
def test_an_unknown_status_or_direction_is_a_value_error_not_an_empty_frame(
    sandbox: Sandbox,
    customer: str,
    app: ConnectApp,
    tmp_path: Path,
    filters: dict[str, Any],
    bad: str,
    cached: bool,
) -> None:
    # A typo must not quietly return nothing (or, without a cache, surface as Twilio's 400).
    with pytest.raises(ValueError) as info:
        load_calls(
            customer,
            app=app,
            start="2026-10-20",
            end="2026-10-21",
            cache_dir=tmp_path if cached else None,
            progress=False,
            **filters,
        )
    assert repr(bad) in str(info.value) or bad in str(info.value)


@pytest.mark.parametrize(
    "concurrency", [pytest.param(1, id="one"), pytest.param(3, id="three"), pytest.param(None, id="the-apps")]
)
def test_concurrency_bounds_the_requests_in_flight(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]], concurrency: int | None
) -> None:
    # The sandbox answers 429 beyond the limit; with one attempt, a single excess request fails the load.
    limit = concurrency or 2
    sandbox.faults = Faults(latency=0.01, concurrency_limit=limit)
    app = dataclasses.replace(app, concurrency=2) if concurrency is None else app
    frame = load_calls(
        customer,
        app=app,
        start="2026-10-10",
        end="2026-10-25",
        concurrency=concurrency,
        retry=RetryPolicy(attempts=1),
        progress=False,
    )
    assert_frame_equal(
        frame, expected_calls(in_range(truth["calls"], "start_time", as_utc("2026-10-10"), as_utc("2026-10-25")))
    )
    assert sandbox.injected == {}


@pytest.mark.parametrize(
    "account",
    [
        pytest.param("AC123", id="too-short"),
        pytest.param("CA" + "0" * 32, id="call-sid"),
        pytest.param("ac" + "0" * 32, id="lower-case-prefix"),
        pytest.param("AC" + "g" * 32, id="not-hex"),
        pytest.param(None, id="none"),
    ],
)
def test_a_malformed_account_sid_is_a_config_error_before_any_request(
    sandbox: Sandbox, app: ConnectApp, account: Any
) -> None:
    with pytest.raises(ConfigError, match="account"):
        load_calls(account, app=app, start="2026-10-20", end="2026-10-21", progress=False)
    assert sandbox.requests == {}


def test_a_connected_account_object_with_a_sid_is_accepted(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]]
) -> None:
    class Connected:
        sid = customer

    frame = load_calls(Connected(), app=app, start="2026-10-20", end="2026-10-21", progress=False)
    assert_frame_equal(
        frame, expected_calls(in_range(truth["calls"], "start_time", as_utc("2026-10-20"), as_utc("2026-10-21")))
    )


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        pytest.param({"start": "last tuesday"}, "start", id="start-words"),
        pytest.param({"start": "2026-13-01"}, "start", id="start-month-13"),
        pytest.param({"start": "2026-10-01", "end": "soon"}, "end", id="end-words"),
    ],
)
@pytest.mark.parametrize("load", EVERY_LOADER)
def test_a_bad_date_string_is_a_value_error_naming_the_argument(
    sandbox: Sandbox, customer: str, app: ConnectApp, load: Callable[..., Any], kwargs: dict[str, str], name: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be a date") as info:
        load(customer, app, **kwargs)
    assert repr(kwargs[name]) in str(info.value)
    assert sandbox.requests == {}


# --- message retention ----------------------------------------------------------


def test_load_messages_older_than_400_days_clamps_with_a_warning(
    sandbox: Sandbox, customer: str, app: ConnectApp, truth: dict[str, list[Record]]
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=500)
    with pytest.warns(UserWarning, match=r"400 days.*instead of") as record:
        frame = load_messages(customer, app=app, start=long_ago, end=NOW, progress=False)
    assert str(long_ago.date()) in str(record[0].message)
    # The sandbox's history is within the 400 days, so nothing is lost by the clamp.
    assert_frame_equal(frame, expected_messages(truth["messages"]))
    oldest_day_asked = min(
        dict(parse_qsl(urlsplit(line.split(" ", 1)[1]).query)).get("DateSent", "9999")
        for line in sandbox.requests
        if "/Messages.json" in line
    )
    assert oldest_day_asked >= (datetime.now(UTC) - timedelta(days=401)).date().isoformat()


def test_load_messages_entirely_older_than_400_days_says_so(
    sandbox: Sandbox, customer: str, app: ConnectApp
) -> None:
    # The issue allows "a clear error, or a clamp that says so"; either must talk about the
    # 400 days, not about an end before a start the caller never gave.
    start = datetime.now(UTC) - timedelta(days=700)
    end = start + timedelta(days=30)
    # The loader chose the clear error: nothing in the range can exist, so it says why.
    with pytest.raises(ValueError, match="400 days"):
        load_messages(customer, app=app, start=start, end=end, progress=False)


def test_load_messages_within_400_days_does_not_warn(sandbox: Sandbox, customer: str, app: ConnectApp) -> None:
    # warnings are errors in this suite: any warning here fails the test.
    frame = load_messages(customer, app=app, start="2026-10-20", end="2026-10-21", progress=False)
    assert frame.height > 0


# --- progress -------------------------------------------------------------------


def test_progress_bar_writes_days_to_stderr_and_the_result_is_unchanged(
    sandbox: Sandbox,
    customer: str,
    app: ConnectApp,
    truth: dict[str, list[Record]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    frame = load_calls(customer, app=app, start="2026-10-20", end="2026-10-25", progress=True)
    captured = capsys.readouterr()
    assert "day" in captured.err
    assert "/5" in captured.err  # five day windows
    assert captured.out == ""
    assert_frame_equal(
        frame, expected_calls(in_range(truth["calls"], "start_time", as_utc("2026-10-20"), as_utc("2026-10-25")))
    )


def test_progress_false_writes_nothing(
    sandbox: Sandbox, customer: str, app: ConnectApp, capsys: pytest.CaptureFixture[str]
) -> None:
    load_calls(customer, app=app, start="2026-10-20", end="2026-10-25", progress=False)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == ""
