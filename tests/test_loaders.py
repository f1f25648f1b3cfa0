"""Loaders against the sandbox over loopback: exact, typed, filtered, resilient to faults.

A Connect authorization hands the app its own subaccount's SID (``twilio-api-notes.md``
§8.1): every load here authenticates as that SID (the ``connected`` fixture) and covers
the customer's whole family. The ground truth of a family is ``family_truth``: the
union of ``Sandbox.calls()`` / ``Sandbox.messages()`` over ``Sandbox.family()``,
newest first, ties in family order. Every expected frame is built in ``loader_support``, independently
of ``connect_notebook._frames``, from those records exactly as the API renders them:
RFC 2822 dates parsed with ``email.utils``, numbers with ``int`` / ``float``, ``cost``
negated from ``price``, ``our_number`` / ``counterpart`` from the direction. A loader
that drops, adds, reorders or mistypes a single value fails.

Request counts come from the sandbox's request log (``Sandbox.requests``), read with
``logged`` / ``fetched_days``. No test sleeps: retries record the delays they would
have waited through an injected ``RetryPolicy(sleep=...)``.

The helpers the loader tests share (the ground truth, the request log, the cache as
files) are in ``loader_support.py``.
"""

from __future__ import annotations

import dataclasses
import random
import re
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from loader_support import (
    NOBODY,
    NOW,
    Record,
    _utc,
    as_utc,
    authorized,
    clear_log,
    expected_calls,
    expected_messages,
    family_truth,
    in_range,
    logged,
    solo,
    total_requests,
)
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
)
from connect_notebook._kernel import app_for_sandbox
from connect_notebook.sandbox import Faults, Sandbox

# --- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def truth(_sandbox_server: Sandbox) -> dict[str, list[Record]]:
    """The first customer's family (Harbor Dental: main account and two clinics): calls and messages."""
    sid = _sandbox_server.customer_account_sids[0]
    return {kind: family_truth(_sandbox_server, sid, kind) for kind in ("calls", "messages")}


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
    pytest.param("2026-09-30T18:00:00Z", "2026-10-01T06:00:00Z", id="across-a-month-boundary"),
    pytest.param("2026-08-01", "2026-09-10", id="from-before-the-clinics-opened"),
]


@pytest.mark.parametrize(("start", "end"), CALL_RANGES)
def test_load_calls_equals_the_family_ground_truth_over_the_range(
    sandbox: Sandbox, connected: str, app: ConnectApp, truth: dict[str, list[Record]], start: Any, end: Any
) -> None:
    frame = load_calls(connected, app=app, start=start, end=end, progress=False)
    expected = expected_calls(in_range(truth["calls"], "start_time", as_utc(start), as_utc(end)))
    assert expected.height > 0  # the range must mean something
    assert_frame_equal(frame, expected)
    assert frame["sid"].is_unique().all()


def test_load_calls_whole_history_has_every_sid_of_the_family_once(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, truth: dict[str, list[Record]]
) -> None:
    frame = load_calls(connected, app=app, progress=False)
    assert frame.height == len(truth["calls"]) == 2_000
    assert sorted(frame["sid"].to_list()) == sorted(r["sid"] for r in truth["calls"])
    # Rows came from the main account and both clinics; the Connect subaccount has none.
    assert set(frame["account_sid"].unique()) == set(sandbox.family(customer)) - {connected}


def test_load_calls_includes_a_call_exactly_at_start_and_excludes_one_exactly_at_end(
    sandbox: Sandbox, connected: str, app: ConnectApp, truth: dict[str, list[Record]]
) -> None:
    day = in_range(truth["calls"], "start_time", datetime(2026, 10, 21, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC))
    # Newest first: the later call is the end bound, an earlier one the start bound.
    by_second = Counter(r["start_time"] for r in day)
    unique = [r for r in day if by_second[r["start_time"]] == 1]
    at_end, at_start = unique[2], unique[-3]
    start, end = _utc(at_start["start_time"]), _utc(at_end["start_time"])
    frame = load_calls(connected, app=app, start=start, end=end, progress=False)
    sids = set(frame["sid"].to_list())
    assert at_start["sid"] in sids
    assert at_end["sid"] not in sids
    assert_frame_equal(frame, expected_calls(in_range(truth["calls"], "start_time", start, end)))


MESSAGE_RANGES = [
    pytest.param(None, None, id="whole-history"),
    pytest.param(date(2026, 10, 10), date(2026, 10, 17), id="day-boundaries"),
    pytest.param("2026-10-20T10:30:00Z", "2026-10-22T02:00:00Z", id="sub-day-instants"),
    pytest.param("2026-10-21T09:00:00+00:00", "2026-10-21T17:00:00+00:00", id="inside-one-day"),
    pytest.param("2026-09-30T12:00:00Z", "2026-10-01T12:00:00Z", id="across-a-month-boundary"),
]


@pytest.mark.parametrize(("start", "end"), MESSAGE_RANGES)
def test_load_messages_equals_the_family_ground_truth_over_the_range(
    sandbox: Sandbox, connected: str, app: ConnectApp, truth: dict[str, list[Record]], start: Any, end: Any
) -> None:
    frame = load_messages(connected, app=app, start=start, end=end, progress=False)
    expected = expected_messages(in_range(truth["messages"], "date_sent", as_utc(start), as_utc(end)))
    assert expected.height > 0
    assert_frame_equal(frame, expected)


def test_load_messages_includes_a_message_exactly_at_start_and_excludes_one_exactly_at_end(
    sandbox: Sandbox, connected: str, app: ConnectApp, truth: dict[str, list[Record]]
) -> None:
    by_second = Counter(r["date_sent"] for r in truth["messages"])
    unique = [r for r in truth["messages"] if by_second[r["date_sent"]] == 1]
    at_end, at_start = unique[40], unique[60]
    start, end = _utc(at_start["date_sent"]), _utc(at_end["date_sent"])
    frame = load_messages(connected, app=app, start=start, end=end, progress=False)
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
    with Sandbox(seed=5, customers=solo(days=1, calls=calls), now="2026-10-02T00:00:00Z") as sb:
        main, connected = authorized(sb)
        frame = load_calls(connected, app=app_for_sandbox(sb), start="2026-10-01", end="2026-10-02", progress=False)
        assert_frame_equal(frame, expected_calls(sb.calls(main)))
        assert frame.height == calls
        # One day: no usage counts to plan from, one window paged through; the Connect
        # subaccount was made at the sandbox's clock, after the range, so it costs nothing.
        pages = logged(sb, "Calls.json")
        assert {r.account for r in pages} == {main}
        assert sum(r.times for r in pages) == -(-calls // 1000)
        assert total_requests(sb) == 1 + -(-calls // 1000)


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
    connected: str,
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
        connected, app=app, start=start, end=end, cache_dir=tmp_path if cached else None, progress=False, **filters
    )
    assert_frame_equal(frame, expected)


@pytest.mark.parametrize("field", ["to", "from"])
def test_load_messages_filters_equal_filtering_the_ground_truth(
    sandbox: Sandbox, connected: str, app: ConnectApp, truth: dict[str, list[Record]], field: str
) -> None:
    number = _top(truth["messages"], field)
    frame = load_messages(connected, app=app, progress=False, **{"to" if field == "to" else "from_": number})
    expected = expected_messages([r for r in truth["messages"] if r[field] == number])
    assert 0 < expected.height < len(truth["messages"])
    assert_frame_equal(frame, expected)


# --- empty results keep the schema -------------------------------------------------

EMPTY_LOADS: list[Any] = [
    pytest.param(
        lambda c, o, a: load_calls(c, app=a, start="2026-01-01", end="2026-01-05", progress=False),
        CALLS_SCHEMA,
        id="calls-range-before-the-family-existed",
    ),
    pytest.param(
        lambda c, o, a: load_calls(c, app=a, start="2026-10-20T03:00:00Z", end="2026-10-20T03:00:00Z", progress=False),
        CALLS_SCHEMA,
        id="calls-zero-length-range",
    ),
    pytest.param(
        lambda c, o, a: load_calls(c, app=a, start="2026-10-20", end="2026-10-25", status="queued", progress=False),
        CALLS_SCHEMA,
        id="calls-status-matching-nothing",
    ),
    pytest.param(
        lambda c, o, a: load_calls(c, app=a, start="2026-10-20", end="2026-10-25", to=NOBODY, progress=False),
        CALLS_SCHEMA,
        id="calls-to-matching-nothing",
    ),
    pytest.param(
        lambda c, o, a: load_calls(
            c, app=a, start="2026-10-20", end="2026-10-25", direction="trunking-terminating", progress=False
        ),
        CALLS_SCHEMA,
        id="calls-direction-matching-nothing",
    ),
    pytest.param(
        lambda c, o, a: load_calls(c, app=a, accounts=c, progress=False),
        CALLS_SCHEMA,
        id="calls-of-the-connect-subaccount-alone",
    ),
    pytest.param(
        lambda c, o, a: load_messages(c, app=a, start="2026-01-01", end="2026-01-05", progress=False),
        MESSAGES_SCHEMA,
        id="messages-range-before-the-family-existed",
    ),
    pytest.param(
        lambda c, o, a: load_messages(c, app=a, start="2026-10-20", end="2026-10-25", from_=NOBODY, progress=False),
        MESSAGES_SCHEMA,
        id="messages-from-matching-nothing",
    ),
    pytest.param(lambda c, o, a: load_usage(c, app=a, category="no-such-category"), USAGE_SCHEMA, id="usage-category"),
    pytest.param(lambda c, o, a: load_alerts(c, app=a), ALERTS_SCHEMA, id="alerts-of-the-connect-subaccount"),
    # The owner's alerts exist (see test_loaders_family.py); these ranges and levels hold none of them.
    pytest.param(
        lambda c, o, a: load_alerts(o, app=a, start="2026-09-01", end="2026-09-10"), ALERTS_SCHEMA, id="alerts-range"
    ),
    pytest.param(lambda c, o, a: load_alerts(o, app=a, log_level="debug"), ALERTS_SCHEMA, id="alerts-log-level"),
]


@pytest.mark.parametrize(("load", "schema"), EMPTY_LOADS)
def test_an_empty_result_has_exactly_the_schema(
    sandbox: Sandbox, connected: str, app: ConnectApp, load: Callable[..., pl.DataFrame], schema: Any
) -> None:
    frame = load(connected, sandbox.owner_account_sid, app)
    assert frame.height == 0
    assert frame.schema == schema
    assert_frame_equal(frame, pl.DataFrame(schema=schema))


# --- faults ---------------------------------------------------------------------

FAULT_KNOBS = [
    pytest.param({"rate_limit": 0.3, "retry_after": 0}, id="rate-limit"),
    pytest.param({"rate_limit": 0.3}, id="rate-limit-without-retry-after"),
    pytest.param({"server_error": 0.3}, id="server-error"),
    pytest.param({"reset": 0.3}, id="reset-mid-body"),
    pytest.param({"truncate": 0.3}, id="truncated-body"),
    # The latency keeps requests in flight long enough for the limit to be hit.
    pytest.param({"latency": 0.05, "concurrency_limit": 2}, id="latency-and-concurrency-limit"),
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


def assert_each_fault_cost_one_retry(sb: Sandbox, delays: Delays) -> None:
    """Every injected fault was retried once, and nothing that succeeded was asked for again."""
    injected = sum(sb.injected.values())
    assert injected > 0, "the faults must have happened for the test to mean anything"
    assert len(delays) == injected
    # Each request line is a distinct page: its extra arrivals are exactly its failures.
    assert sum(r.times - 1 for r in logged(sb)) == injected


@pytest.mark.parametrize("knobs", FAULT_KNOBS)
def test_load_calls_under_faults_still_equals_the_ground_truth(
    sandbox: Sandbox, app: ConnectApp, delays: Delays, knobs: dict[str, Any]
) -> None:
    # The growing family (five accounts) up to the sandbox's clock: every request line is fixed,
    # so the seeded faults are the same on every run.
    main, connected = authorized(sandbox, 2)
    sandbox.faults = Faults(seed=11, **knobs)
    frame = load_calls(connected, app=app, end=NOW, concurrency=8, retry=policy(delays, attempts=15), progress=False)
    assert_frame_equal(frame, expected_calls(family_truth(sandbox, main)))
    assert_each_fault_cost_one_retry(sandbox, delays)
    # Backoff is exponential with full jitter (at its top here): base * 2**k, or the Retry-After sent.
    allowed = {0.0} | {min(20.0, 0.2 * 2**k) for k in range(15)}
    assert set(delays) <= allowed


@pytest.mark.parametrize("knobs", [FAULT_KNOBS[0], FAULT_KNOBS[-1]])
def test_load_messages_under_faults_still_equals_the_ground_truth(
    sandbox: Sandbox, app: ConnectApp, delays: Delays, knobs: dict[str, Any]
) -> None:
    main, connected = authorized(sandbox, 2)
    sandbox.faults = Faults(seed=12, **knobs)
    start = datetime(2026, 1, 1, tzinfo=UTC)  # inside the 400 days, so the requests do not move with the real date
    frame = load_messages(connected, app=app, start=start, end=NOW, retry=policy(delays, attempts=15), progress=False)
    expected = in_range(family_truth(sandbox, main, "messages"), "date_sent", start, NOW)
    assert_frame_equal(frame, expected_messages(expected))
    assert_each_fault_cost_one_retry(sandbox, delays)


def test_load_calls_honours_retry_after_instead_of_its_own_backoff(
    sandbox: Sandbox, connected: str, app: ConnectApp, truth: dict[str, list[Record]], delays: Delays
) -> None:
    sandbox.faults = Faults(seed=3, rate_limit=0.3, retry_after=2)
    frame = load_calls(connected, app=app, start="2026-10-01", end=NOW, retry=policy(delays), progress=False)
    assert_frame_equal(frame, expected_calls(in_range(truth["calls"], "start_time", as_utc("2026-10-01"), NOW)))
    assert delays  # some 429s happened
    assert set(delays) == {2.0}
    assert len(delays) == sandbox.injected["rate_limit"]


def test_one_failing_request_is_retried_with_exponential_backoff_and_fetched_once_more(
    sandbox: Sandbox, connected: str, app: ConnectApp, truth: dict[str, list[Record]], delays: Delays
) -> None:
    # The first request of every load is the family list; it fails three times.
    sandbox.fail_next(3, status=503)
    start, end = date(2026, 10, 20), date(2026, 10, 23)
    frame = load_calls(connected, app=app, start=start, end=end, concurrency=1, retry=policy(delays), progress=False)
    assert_frame_equal(frame, expected_calls(in_range(truth["calls"], "start_time", as_utc(start), as_utc(end))))
    assert delays == [0.2, 0.4, 0.8]
    assert [r.times for r in logged(sandbox, "Accounts.json")] == [4]
    others = [r.times for r in logged(sandbox) if r.resource != "Accounts.json"]
    assert others and set(others) == {1}  # every usage count and every window exactly once


def test_backoff_without_jitter_headroom_never_exceeds_the_exponential_bound(
    sandbox: Sandbox, connected: str, app: ConnectApp, delays: Delays
) -> None:
    sandbox.fail_next(6, status=500)
    retry = RetryPolicy(attempts=8, base_delay=0.5, max_delay=4.0, sleep=delays, rng=random.Random(1))
    load_calls(connected, app=app, start="2026-10-20", end="2026-10-21", concurrency=1, retry=retry, progress=False)
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
def test_retries_exhausted_raise_a_clear_error_naming_the_request_and_stop_the_load(
    sandbox: Sandbox,
    connected: str,
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
            connected,
            app=app,
            start="2026-09-01",
            end="2026-10-20",
            concurrency=1,
            retry=policy(delays, attempts=3),
            progress=False,
        )
    exc = info.value
    message = str(exc)
    # Every request fails, so the first one (the family list) is the one that gives up, and it is named.
    assert f"{app.api_url}/2010-04-01/Accounts.json?PageSize=1000" in message
    assert "accounts page" in message
    assert "3 tries" in message
    if statuses is not None:
        assert exc.status_code in statuses  # type: ignore[attr-defined]
        assert exc.code in codes  # type: ignore[attr-defined, operator]
        assert "Accounts.json" in exc.url  # type: ignore[attr-defined]
    else:
        # The httpx error is described, never chained: its .request holds the Authorization header.
        assert exc.__cause__ is None
        assert exc.__context__ is None
    if knobs.get("reset"):
        assert "RemoteProtocolError" in message or "ReadError" in message or "ConnectError" in message
    if error is RateLimitError:
        assert exc.retry_after == 0.0  # type: ignore[attr-defined]
    # Nothing after it was tried: no usage count, no window (never a partial frame).
    assert [(r.resource, r.times) for r in logged(sandbox)] == [("Accounts.json", 3)]


def _first_seed_failing_a_window(sb: Sandbox, load: Callable[[], object]) -> tuple[ServerError, int]:
    """The first fault seed for which a Calls.json window (not the family list) fails for good.

    ``fail_next`` always hits the first request, the family list. Seeded faults are drawn
    per request line and attempt, so for a fixed range some seed lets the family list
    through and keeps failing a window: a deterministic search, a few loads long.
    """
    for seed in range(200):
        clear_log(sb)
        sb.faults = Faults(seed=seed, server_error=0.5)
        try:
            load()
        except ServerError as exc:
            if "/Calls.json?" in exc.url:
                return exc, seed
    pytest.fail("no fault seed below 200 made a Calls.json window fail three times in a row")


def test_a_window_that_fails_for_good_raises_naming_its_url_and_days(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, delays: Delays
) -> None:
    def load() -> object:
        return load_calls(
            connected,
            app=app,
            accounts=[customer],
            start="2026-10-21",
            end="2026-10-22",
            concurrency=1,
            retry=policy(delays, attempts=3),
            progress=False,
        )

    exc, _ = _first_seed_failing_a_window(sandbox, load)
    window = f"{app.api_url}/2010-04-01/Accounts/{customer}/Calls.json?StartTime=2026-10-21&PageSize=1000"
    assert exc.url == window
    assert window in str(exc)
    assert "calls page of 2026-10-21" in str(exc)
    assert "3 tries" in str(exc)
    assert exc.status_code in (500, 503)
    calls = logged(sandbox, "Calls.json")
    assert [(r.account, r.query, r.times) for r in calls] == [
        (customer, {"StartTime": "2026-10-21", "PageSize": "1000"}, 3)
    ]


def test_fail_next_beyond_the_attempts_raises_for_that_request(
    sandbox: Sandbox, connected: str, app: ConnectApp, delays: Delays
) -> None:
    sandbox.fail_next(4, status=503)
    with pytest.raises(ServerError) as info:
        load_calls(
            connected,
            app=app,
            start="2026-10-20",
            end="2026-10-23",
            concurrency=1,
            retry=policy(delays, attempts=4),
            progress=False,
        )
    assert "Accounts.json" in str(info.value)
    assert info.value.status_code == 503
    assert info.value.code == 20503
    assert delays == [0.2, 0.4, 0.8]
    assert total_requests(sandbox) == 4


# --- authorization -------------------------------------------------------------------

LOADERS = [
    pytest.param(lambda c, a: load_calls(c, app=a, start="2026-10-20", end="2026-10-21", progress=False), id="calls"),
    pytest.param(lambda c, a: load_calls(c, app=a, progress=False), id="calls-whole-history"),
    pytest.param(lambda c, a: load_messages(c, app=a, start="2026-10-20", progress=False), id="messages"),
    pytest.param(lambda c, a: load_usage(c, app=a), id="usage"),
    pytest.param(lambda c, a: load_alerts(c, app=a), id="alerts"),
]


def _assert_revoked_error(exc: AuthorizationRevoked, sid: str, app: ConnectApp) -> None:
    message = str(exc)
    assert sid in message
    assert app.connect_app_sid in message
    assert "has not authorized" in message
    assert "revoked" in message
    assert exc.account_sid == sid
    assert exc.connect_app_sid == app.connect_app_sid
    shown = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for text in shown:
        assert app.auth_token not in text


@pytest.mark.parametrize("load", LOADERS)
def test_a_customer_that_revoked_gets_authorization_revoked_naming_the_connected_sid_and_app(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, load: Callable[[str, ConnectApp], Any]
) -> None:
    sandbox.deauthorize(customer)
    with pytest.raises(AuthorizationRevoked) as info:
        load(connected, app)
    _assert_revoked_error(info.value, connected, app)


@pytest.mark.parametrize("load", LOADERS)
def test_a_customer_that_never_authorized_gets_authorization_revoked(
    sandbox: Sandbox, app: ConnectApp, load: Callable[[str, ConnectApp], Any]
) -> None:
    stranger = sandbox.customer_account_sids[1]
    with pytest.raises(AuthorizationRevoked) as info:
        load(stranger, app)
    _assert_revoked_error(info.value, stranger, app)


def test_the_customers_main_account_sid_is_not_what_the_app_authenticates_as(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp
) -> None:
    # Twilio gives the app its Connect subaccount's SID; the owner's token does not open the main account.
    with pytest.raises(AuthorizationRevoked) as info:
        load_calls(customer, app=app, start="2026-10-20", end="2026-10-21", progress=False)
    _assert_revoked_error(info.value, customer, app)


def test_revoking_between_two_loads_turns_the_second_into_authorization_revoked(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp
) -> None:
    first = load_calls(connected, app=app, start="2026-10-20", end="2026-10-21", progress=False)
    assert first.height > 0
    sandbox.deauthorize(customer)
    with pytest.raises(AuthorizationRevoked):
        load_calls(connected, app=app, start="2026-10-20", end="2026-10-21", progress=False)


def test_an_exhausted_retry_error_never_shows_the_auth_token(
    sandbox: Sandbox, connected: str, app: ConnectApp, delays: Delays
) -> None:
    sandbox.faults = Faults(server_error=1.0)
    with pytest.raises(ServerError) as info:
        load_calls(connected, app=app, start="2026-10-20", end="2026-10-21", retry=policy(delays, 2), progress=False)
    for text in (str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))):
        assert app.auth_token not in text


# --- bad input --------------------------------------------------------------------


EVERY_LOADER: list[Any] = [
    pytest.param(lambda c, a, **kw: load_calls(c, app=a, progress=False, **kw), id="calls"),
    pytest.param(lambda c, a, **kw: load_messages(c, app=a, progress=False, **kw), id="messages"),
    pytest.param(lambda c, a, **kw: load_usage(c, app=a, **kw), id="usage"),
    pytest.param(lambda c, a, **kw: load_alerts(c, app=a, **kw), id="alerts"),
]


@pytest.mark.parametrize("load", EVERY_LOADER)
def test_end_before_start_is_a_value_error_raised_before_any_request(
    sandbox: Sandbox, connected: str, app: ConnectApp, load: Callable[..., Any]
) -> None:
    with pytest.raises(ValueError, match=r"end .*2026-10-20.* is before start .*2026-10-21"):
        load(connected, app, start="2026-10-21", end="2026-10-20")
    assert sandbox.requests == {}


@pytest.mark.parametrize(
    "concurrency", [pytest.param(0, id="zero"), pytest.param(-1, id="negative"), pytest.param(65, id="over-64")]
)
def test_concurrency_outside_1_to_64_is_a_value_error(
    sandbox: Sandbox, connected: str, app: ConnectApp, concurrency: int
) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        load_calls(connected, app=app, start="2026-10-20", end="2026-10-21", concurrency=concurrency, progress=False)
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
    connected: str,
    app: ConnectApp,
    tmp_path: Path,
    filters: dict[str, Any],
    bad: str,
    cached: bool,
) -> None:
    # A typo must not quietly return nothing (or, without a cache, surface as Twilio's 400).
    with pytest.raises(ValueError) as info:
        load_calls(
            connected,
            app=app,
            start="2026-10-20",
            end="2026-10-21",
            cache_dir=tmp_path if cached else None,
            progress=False,
            **filters,
        )
    assert repr(bad) in str(info.value)
    assert sandbox.requests == {}


@pytest.mark.parametrize(
    "concurrency", [pytest.param(1, id="one"), pytest.param(3, id="three"), pytest.param(None, id="the-apps")]
)
def test_concurrency_bounds_the_requests_in_flight(sandbox: Sandbox, app: ConnectApp, concurrency: int | None) -> None:
    # The growing family: five accounts, so a load plans five at once and has more windows than the limit.
    main, connected = authorized(sandbox, 2)
    limit = concurrency or 2
    # The sandbox answers 429 beyond the limit; with one attempt, a single excess request fails the load.
    sandbox.faults = Faults(latency=0.01, concurrency_limit=limit)
    app = dataclasses.replace(app, concurrency=2) if concurrency is None else app
    frame = load_calls(connected, app=app, concurrency=concurrency, retry=RetryPolicy(attempts=1), progress=False)
    assert_frame_equal(frame, expected_calls(family_truth(sandbox, main)))
    assert sandbox.injected == {}
    assert total_requests(sandbox) - 1 > limit  # after the family list, more requests than the limit to send


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
    sandbox: Sandbox, connected: str, app: ConnectApp, truth: dict[str, list[Record]]
) -> None:
    class Connected:
        sid = connected

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
    sandbox: Sandbox, connected: str, app: ConnectApp, load: Callable[..., Any], kwargs: dict[str, str], name: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be a date") as info:
        load(connected, app, **kwargs)
    assert repr(kwargs[name]) in str(info.value)
    assert sandbox.requests == {}


# --- message retention ----------------------------------------------------------


def test_load_messages_from_before_400_days_of_a_young_family_is_exact_without_bulkexport(
    sandbox: Sandbox, connected: str, app: ConnectApp, truth: dict[str, list[Record]]
) -> None:
    # Older days are read from BulkExport (tests/test_loaders_history.py), but this family is younger
    # than 400 days: its accounts have nothing before their creation, so nothing is exported.
    long_ago = datetime.now(UTC) - timedelta(days=500)
    frame = load_messages(connected, app=app, start=long_ago, end=NOW, progress=False)
    assert_frame_equal(frame, expected_messages(truth["messages"]))
    assert not [r for r in logged(sandbox) if r.path.startswith("/v1/Exports")]


def test_load_messages_entirely_before_a_young_family_is_empty_without_a_request_for_it(
    sandbox: Sandbox, connected: str, app: ConnectApp
) -> None:
    start = datetime.now(UTC) - timedelta(days=700)
    frame = load_messages(connected, app=app, start=start, end=start + timedelta(days=30), progress=False)
    assert_frame_equal(frame, pl.DataFrame(schema=MESSAGES_SCHEMA))
    assert [(r.resource, r.times) for r in logged(sandbox)] == [("Accounts.json", 1)]


def test_load_messages_within_400_days_does_not_warn(sandbox: Sandbox, connected: str, app: ConnectApp) -> None:
    # warnings are errors in this suite: any warning here fails the test.
    frame = load_messages(connected, app=app, start="2026-10-20", end="2026-10-21", progress=False)
    assert frame.height > 0


# --- progress -------------------------------------------------------------------


def test_progress_bar_counts_pages_on_stderr_and_the_result_is_unchanged(
    sandbox: Sandbox,
    connected: str,
    app: ConnectApp,
    truth: dict[str, list[Record]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    frame = load_calls(connected, app=app, start="2026-10-20", end="2026-10-25", progress=True)
    captured = capsys.readouterr()
    pages = sum(r.times for r in logged(sandbox, "Calls.json"))
    assert pages >= 3  # one window at least for each of the three accounts with calls
    assert f"calls {connected[-4:]}" in captured.err
    assert "page" in captured.err
    # With exact usage counts the plan knows every page in advance: the bar's total is the request count.
    assert re.search(rf"\b\d+/{pages}\b", captured.err), captured.err
    assert captured.out == ""
    assert_frame_equal(
        frame, expected_calls(in_range(truth["calls"], "start_time", as_utc("2026-10-20"), as_utc("2026-10-25")))
    )


def test_progress_false_writes_nothing(
    sandbox: Sandbox, connected: str, app: ConnectApp, capsys: pytest.CaptureFixture[str]
) -> None:
    load_calls(connected, app=app, start="2026-10-20", end="2026-10-25", progress=False)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == ""
