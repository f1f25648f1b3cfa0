"""How a load is planned, seen from the outside: exact results on every shape, and what they cost.

A load plans day windows from usage counts (``_planner``), so its cost is the pages
the data needs plus a little planning, whatever the shape of the history: dense,
sparse with dormant months and a day of more than 10,000 calls, growing, a family of
several accounts. Costs are read from the sandbox's request log; results are always
compared with the ground truth of ``loader_support.py`` (``family_truth``), also when the
usage counts lie (``Faults(usage=…)``), when pages repeat records (§8.2), and for
random ranges (hypothesis).
"""

from __future__ import annotations

import bisect
import functools
import json
import math
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loader_support import (
    NOW,
    Record,
    _utc,
    authorized,
    clear_log,
    days_between,
    expected_calls,
    expected_messages,
    family_truth,
    fetched_days,
    in_range,
    log_summary,
    logged,
    solo,
    total_requests,
    window_days,
)
from polars.testing import assert_frame_equal

import connect_notebook as cn
from connect_notebook import ConnectApp
from connect_notebook import _loaders as loaders
from connect_notebook._client import APIClient
from connect_notebook._kernel import app_for_sandbox
from connect_notebook.sandbox import Faults, Profile, Sandbox

USAGE_HINTS = ("exact", "lagging", "missing", "low", "high", "zero")
PAGE = 1000


def pages_of(sb: Sandbox, accounts: list[str]) -> int:
    """Pages the accounts' whole histories fill: the least any load of them can cost."""
    return sum(math.ceil(len(sb.calls(sid)) / PAGE) for sid in accounts)


@contextmanager
def started(profiles: list[Profile]) -> Iterator[tuple[Sandbox, str, str]]:
    """A sandbox of its own at the pinned clock: (sandbox, main account, connected SID).

    Calls are listed back to each account's creation: these tests are about planning list windows
    (the 13-month retention and BulkExport are tests/test_loaders_history.py's).
    """
    with Sandbox(seed=7, customers=profiles, now=NOW, call_retention_days=7320) as sb:
        main, connected = authorized(sb)
        yield sb, main, connected


def assert_windows_cover_each_day_once(sb: Sandbox, spans: dict[str, set[date]]) -> None:
    """The first pages of the windows, per account: no day asked twice, every day of its span asked."""
    for sid, days in spans.items():
        windows = [window_days(r) for r in logged(sb, "Calls.json") if r.account == sid and r.is_first_page]
        asked = Counter(d for w in windows for d in w)
        assert set(asked) == days, sid
        assert max(asked.values(), default=1) == 1, sid


# --- what a whole load costs, per shape ------------------------------------------------

SHAPES = [
    pytest.param(solo(90, 8_000), id="dense-90-days"),
    pytest.param(solo(3652, 5_000, "sparse"), id="sparse-10-years"),
    pytest.param(solo(730, 8_000, "growing"), id="growing-2-years"),
    pytest.param(
        [Profile(name="Family", pattern="growing", days=730, calls=8_000, subaccounts=4, closed=1)],
        id="main-account-and-4-subaccounts",
    ),
]


@pytest.mark.parametrize("profiles", SHAPES)
def test_a_whole_load_costs_its_pages_plus_a_little_planning(profiles: list[Profile]) -> None:
    with started(profiles) as (sb, main, connected):
        app = app_for_sandbox(sb)
        today = datetime.now(UTC).date()
        frame = cn.load_calls(connected, app=app, progress=False)
        if datetime.now(UTC).date() != today:
            pytest.skip("the UTC day changed during the load")
        members = sb.family(main)
        pages, requests = pages_of(sb, members), total_requests(sb)
        assert_frame_equal(frame, expected_calls(family_truth(sb, main)))
        bound = 1.1 * pages + 5 + 2 * len(members)
        assert requests <= bound, f"{pages} pages, {requests} requests > {bound:.1f}: {log_summary(sb)}"
        # Each account's days from its creation to today are asked for once, never twice.
        created = dict(cn.accounts(connected, app=app).select("sid", "date_created").iter_rows())
        assert_windows_cover_each_day_once(sb, {sid: days_between(created[sid].date(), today) for sid in members})


@pytest.fixture(scope="module")
def sparse() -> Iterator[tuple[Sandbox, str, str]]:
    """Ten years of a sparse account (5,000 calls): mostly dormant months, a few campaigns."""
    with started(solo(3652, 5_000, "sparse")) as started_sandbox:
        yield started_sandbox


def test_a_dormant_stretch_costs_its_planning_and_one_window(sparse: tuple[Sandbox, str, str]) -> None:
    sb, main, connected = sparse
    clear_log(sb)
    times = sorted({_utc(r["start_time"]) for r in sb.calls(main)})
    gap, before, after = max((b - a, a, b) for a, b in zip(times, times[1:], strict=False))
    assert gap > timedelta(days=60), "precondition: a sparse account has dormant months"
    # Whole days strictly inside the stretch: nothing there, and the plan knows it.
    start = datetime.combine(before.date() + timedelta(days=1), datetime.min.time(), UTC)
    end = datetime.combine(after.date(), datetime.min.time(), UTC)
    frame = cn.load_calls(connected, app=app_for_sandbox(sb), start=start, end=end, progress=False)
    assert frame.height == 0
    calls = logged(sb, "Calls.json")
    assert [(r.query.get("StartTime>"), r.times) for r in calls] == [(start.date().isoformat(), 1)]
    assert total_requests(sb) == 3, log_summary(sb)  # the family list, one usage count, one window


def test_a_range_across_a_dormant_stretch_is_exact_to_the_second(sparse: tuple[Sandbox, str, str]) -> None:
    sb, main, connected = sparse
    truth = family_truth(sb, main)
    times = sorted({_utc(r["start_time"]) for r in truth})
    _, before, after = max((b - a, a, b) for a, b in zip(times, times[1:], strict=False))
    app = app_for_sandbox(sb)
    # From the last call before the stretch (included) to the first after it (excluded) …
    frame = cn.load_calls(connected, app=app, start=before, end=after, progress=False)
    assert_frame_equal(frame, expected_calls(in_range(truth, "start_time", before, after)))
    assert frame.height >= 1 and frame["start_time"].min() == before
    # … and from just after the one to just after the other.
    start, end = before + timedelta(seconds=1), after + timedelta(seconds=1)
    frame = cn.load_calls(connected, app=app, start=start, end=end, progress=False)
    assert_frame_equal(frame, expected_calls(in_range(truth, "start_time", start, end)))
    assert frame["start_time"].max() == after


# --- burst days --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def northwind() -> Iterator[tuple[Sandbox, str, str]]:
    """The default sparse customer at its default size: 20,000 calls, one campaign day over 10,000."""
    profile = Profile(name="Northwind Logistics", pattern="sparse", days=8 * 365 + 137, calls=20_000, utc_offset=-6)
    with started([profile]) as started_sandbox:
        yield started_sandbox


def _busiest_day(records: list[Record]) -> tuple[date, int]:
    day, count = Counter(_utc(r["start_time"]).date() for r in records).most_common(1)[0]
    return day, count


@pytest.mark.slow
def test_the_eight_year_sparse_family_with_a_day_over_10000_calls_loads_exactly(
    northwind: tuple[Sandbox, str, str],
) -> None:
    sb, main, connected = northwind
    clear_log(sb)
    truth = family_truth(sb, main)
    assert _busiest_day(truth)[1] > 10_000
    frame = cn.load_calls(connected, app=app_for_sandbox(sb), progress=False)
    assert_frame_equal(frame, expected_calls(truth))
    members = sb.family(main)
    pages, requests = pages_of(sb, members), total_requests(sb)
    assert requests <= 1.1 * pages + 5 + 2 * len(members), f"{pages} pages, {requests} requests: {log_summary(sb)}"


@pytest.mark.slow
def test_a_burst_day_is_paged_through_alone_and_exactly(northwind: tuple[Sandbox, str, str]) -> None:
    sb, main, connected = northwind
    app = app_for_sandbox(sb)
    truth = family_truth(sb, main)
    day, count = _busiest_day(truth)
    assert count > 10_000
    start = datetime.combine(day, datetime.min.time(), UTC)
    clear_log(sb)
    frame = cn.load_calls(connected, app=app, start=start, end=start + timedelta(days=1), progress=False)
    assert_frame_equal(frame, expected_calls(in_range(truth, "start_time", start, start + timedelta(days=1))))
    assert frame.height == count
    # One day: no usage counts, one window of ceil(count / 1000) pages.
    pages = logged(sb, "Calls.json")
    assert {r.query.get("StartTime") for r in pages} == {day.isoformat()}
    assert sum(r.times for r in pages) == math.ceil(count / PAGE)
    assert total_requests(sb) == 1 + math.ceil(count / PAGE)
    # Instants inside the burst: the same day's pages, trimmed to the second.
    lo, hi = start + timedelta(hours=13, minutes=7, seconds=5), start + timedelta(hours=15, seconds=59)
    frame = cn.load_calls(connected, app=app, start=lo, end=hi, progress=False)
    assert_frame_equal(frame, expected_calls(in_range(truth, "start_time", lo, hi)))
    assert 0 < frame.height < count


# --- range edges on every default shape ---------------------------------------------------

DEFAULT_CUSTOMERS = [
    pytest.param(0, id="dense-family"),
    pytest.param(1, id="sparse-8-years"),
    pytest.param(2, id="growing-family"),
]


def _edges(truth: list[Record]) -> dict[str, tuple[datetime, datetime]]:
    """Ranges whose edges fall where loaders go wrong, placed where the family has calls."""
    times = sorted(_utc(r["start_time"]) for r in truth)
    middle = times[len(times) // 2]
    year = middle.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    first, second, last = times[0], times[1], times[-1]
    return {
        "mid-day-instants-across-a-month-boundary": _month_boundary_with_calls(times),
        "across-a-year-boundary": (year - timedelta(days=40, hours=5), year + timedelta(days=40, hours=7)),
        "from-before-the-first-call-to-the-second": (first - timedelta(days=3, seconds=1), second),
        "from-the-first-call-exactly": (first, first + timedelta(days=7)),
        "up-to-just-after-the-last-call": (last - timedelta(days=2, hours=3), last + timedelta(seconds=1)),
        "one-second": (middle, middle + timedelta(seconds=1)),
    }


def _month_boundary_with_calls(times: list[datetime]) -> tuple[datetime, datetime]:
    """Mid-day instants either side of the first month boundary after the middle call with calls near it.

    A sparse account sleeps for months, so the boundary next to the middle call may have no call around it.
    """
    for t in times[len(times) // 2 :] + times[: len(times) // 2]:
        boundary = (t.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)).replace(day=1)
        lo, hi = boundary - timedelta(hours=29, minutes=3), boundary + timedelta(hours=31)
        i = bisect.bisect_left(times, lo)
        if i < len(times) and times[i] < hi:
            return lo, hi
    msg = "no month boundary has a call within a day of it"
    raise AssertionError(msg)


EDGES = [
    "mid-day-instants-across-a-month-boundary",
    "across-a-year-boundary",
    "from-before-the-first-call-to-the-second",
    "from-the-first-call-exactly",
    "up-to-just-after-the-last-call",
    "one-second",
]


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("index", DEFAULT_CUSTOMERS)
def test_range_edges_are_exact_on_every_shape(sandbox: Sandbox, app: ConnectApp, index: int, edge: str) -> None:
    main, connected = authorized(sandbox, index)
    truth = family_truth(sandbox, main)
    start, end = _edges(truth)[edge]
    frame = cn.load_calls(connected, app=app, start=start, end=end, progress=False)
    expected = in_range(truth, "start_time", start, end)
    assert_frame_equal(frame, expected_calls(expected))
    if edge != "across-a-year-boundary":  # the dense family is younger than its last new year
        assert expected  # the edges sit next to calls


@pytest.mark.parametrize("index", DEFAULT_CUSTOMERS)
def test_a_range_before_the_family_existed_costs_only_the_family_list(
    sandbox: Sandbox, app: ConnectApp, index: int
) -> None:
    main, connected = authorized(sandbox, index)
    created = cn.accounts(connected, app=app)["date_created"].min()
    for start, end in [
        (created - timedelta(days=400), created - timedelta(days=1)),
        (created - timedelta(days=10), created),  # ending at the very instant the main account was created
    ]:
        clear_log(sandbox)
        frame = cn.load_calls(connected, app=app, start=start, end=end, progress=False)
        assert_frame_equal(frame, expected_calls([]))
        assert [(r.resource, r.times) for r in logged(sandbox)] == [("Accounts.json", 1)]


def test_a_range_in_the_future_costs_no_request(sandbox: Sandbox, connected: str, app: ConnectApp) -> None:
    start = datetime.now(UTC) + timedelta(days=1)
    frame = cn.load_calls(connected, app=app, start=start, end=start + timedelta(days=30), progress=False)
    assert_frame_equal(frame, expected_calls([]))
    assert logged(sandbox) == []  # not even the family list (issue 10): nothing has happened yet


def test_an_end_in_the_future_means_now(sandbox: Sandbox, customer: str, connected: str, app: ConnectApp) -> None:
    start = NOW - timedelta(days=3)
    today = datetime.now(UTC).date()
    frame = cn.load_calls(connected, app=app, start=start, end=datetime.now(UTC) + timedelta(days=10), progress=False)
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC day changed during the load")
    assert_frame_equal(frame, expected_calls(in_range(family_truth(sandbox, customer), "start_time", start, None)))
    asked = set().union(*fetched_days(sandbox).values())
    assert max(asked) == today  # nothing was asked for after today


def test_a_one_day_range_sends_no_usage_request(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp
) -> None:
    start = datetime(2026, 10, 21, tzinfo=UTC)
    frame = cn.load_calls(connected, app=app, start=start, end=start + timedelta(days=1), progress=False)
    truth = in_range(family_truth(sandbox, customer), "start_time", start, start + timedelta(days=1))
    assert_frame_equal(frame, expected_calls(truth))
    assert {r.resource for r in logged(sandbox)} == {"Accounts.json", "Calls.json"}
    windows = logged(sandbox, "Calls.json")
    assert {r.account for r in windows} == {r["account_sid"] for r in truth}
    assert all(r.query.get("StartTime") == "2026-10-21" and r.times == 1 for r in windows)


# --- lying usage counts --------------------------------------------------------------------

LIARS = {
    # Over a thousand days: monthly counts, refined to daily ones where a month is busy.
    "growing-family-3-years": [
        Profile(name="Travel", pattern="growing", days=1100, calls=6_000, subaccounts=3, closed=1)
    ],
    "dense-60-days": solo(60, 4_000),
}


@pytest.fixture(scope="module", params=list(LIARS))
def liar(request: pytest.FixtureRequest) -> Iterator[tuple[Sandbox, str, str]]:
    with started(LIARS[request.param]) as started_sandbox:
        yield started_sandbox


@pytest.mark.parametrize("hint", USAGE_HINTS)
@pytest.mark.parametrize("cached", [pytest.param(False, id="no-cache"), pytest.param(True, id="cache")])
def test_lying_usage_counts_only_cost_requests_never_records(
    liar: tuple[Sandbox, str, str], tmp_path: Path, hint: str, cached: bool
) -> None:
    sb, main, connected = liar
    clear_log(sb)
    sb.faults = Faults(usage=hint)  # type: ignore[arg-type]
    app = app_for_sandbox(sb)
    today = datetime.now(UTC).date()
    frame = cn.load_calls(connected, app=app, cache_dir=tmp_path if cached else None, progress=False)
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC day changed during the load")
    assert_frame_equal(frame, expected_calls(family_truth(sb, main)))
    usage = logged(sb, "Daily.json") + logged(sb, "Monthly.json")
    assert usage, "the counts were asked for, so the lie was heard"
    # What a lie can cost is bounded by the plan that trusts nothing: one window per day.
    created = dict(cn.accounts(connected, app=app).select("sid", "date_created").iter_rows())
    days = sum((today - created[sid].date()).days + 1 for sid in sb.family(main))
    calls = sum(r.times for r in logged(sb, "Calls.json"))
    assert calls <= days + pages_of(sb, sb.family(main)), log_summary(sb)
    if hint == "exact":
        pages, members = pages_of(sb, sb.family(main)), sb.family(main)
        assert total_requests(sb) <= 1.1 * pages + 5 + 2 * len(members), log_summary(sb)


@pytest.mark.parametrize("hint", USAGE_HINTS)
def test_lying_sms_counts_never_change_the_messages(liar: tuple[Sandbox, str, str], hint: str) -> None:
    sb, main, connected = liar
    sb.faults = Faults(usage=hint)  # type: ignore[arg-type]
    start = datetime(2026, 1, 1, tzinfo=UTC)  # within the 400 days Twilio serves messages for
    frame = cn.load_messages(connected, app=app_for_sandbox(sb), start=start, progress=False)
    expected = in_range(family_truth(sb, main, "messages"), "date_sent", start, None)
    assert expected
    assert_frame_equal(frame, expected_messages(expected))


# --- records repeated across pages (§8.2) ----------------------------------------------------


class RepeatingPages:
    """An httpx handler that forwards to the sandbox and makes busy pages overlap, as Twilio's do.

    twilio-python#606 saw 18,289 duplicate SIDs in 128,900 rows. The sandbox's cursors never
    repeat a record, so this is the one place where ``httpx.MockTransport`` stands in: every
    Calls.json page after the first starts again with the last record of the page before it
    (its ``PageToken`` names that record), exactly as the API rendered it.
    """

    def __init__(self, sb: Sandbox) -> None:
        self.records = {r["sid"]: r for sid in sb.family(sb.customer_account_sids[0]) for r in sb.calls(sid)}
        self.client = httpx.Client()
        self.repeated = 0
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        upstream = self.client.send(httpx.Request(request.method, request.url, headers=request.headers))
        body = upstream.read()
        token = dict(parse_qsl(request.url.query.decode())).get("PageToken", "")
        if upstream.status_code == 200 and request.url.path.endswith("/Calls.json") and token.startswith("PA"):
            page = json.loads(body)
            page["calls"].insert(0, self.records[token[2:]])
            body = json.dumps(page).encode()
            with self.lock:
                self.repeated += 1
        return httpx.Response(upstream.status_code, headers={"Content-Type": "application/json"}, content=body)


@pytest.fixture(scope="module")
def busy() -> Iterator[tuple[Sandbox, str, str]]:
    """Three days of about 2,000 calls each: every window has several pages."""
    with started(solo(3, 6_000)) as started_sandbox:
        yield started_sandbox


@pytest.mark.parametrize("cached", [pytest.param(False, id="no-cache"), pytest.param(True, id="cache")])
def test_records_repeated_across_pages_are_kept_once(
    busy: tuple[Sandbox, str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cached: bool
) -> None:
    sb, main, connected = busy
    pages = RepeatingPages(sb)
    # The loaders build their APIClient themselves; give it the repeating transport (the only stand-in here).
    monkeypatch.setattr(loaders, "APIClient", functools.partial(APIClient, transport=httpx.MockTransport(pages)))
    try:
        frame = cn.load_calls(
            connected, app=app_for_sandbox(sb), cache_dir=tmp_path if cached else None, progress=False
        )
    finally:
        pages.client.close()
    assert pages.repeated >= 3  # every day has pages after its first
    assert frame["sid"].is_unique().all()
    assert_frame_equal(frame, expected_calls(family_truth(sb, main)))
    if cached:
        assert_frame_equal(cn.scan_calls(connected, app=app_for_sandbox(sb), cache_dir=tmp_path).collect(), frame)


# --- properties -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> Iterator[tuple[Sandbox, str, str, list[Record]]]:
    """Twenty days of one account (600 calls), and its ground truth."""
    with started(solo(20, 600)) as (sb, main, connected):
        yield sb, main, connected, family_truth(sb, main)


def _instants(lo: datetime, hi: datetime) -> st.SearchStrategy[datetime]:
    naive = st.datetimes(min_value=lo.replace(tzinfo=None), max_value=hi.replace(tzinfo=None), timezones=st.just(UTC))
    # Also exact seconds and midnights: where off-by-one errors live.
    return st.one_of(
        naive,
        naive.map(lambda t: t.replace(microsecond=0)),
        naive.map(lambda t: t.replace(hour=0, minute=0, second=0, microsecond=0)),
    )


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_range_within_an_accounts_life_is_exactly_the_ground_truth(
    small: tuple[Sandbox, str, str, list[Record]], data: st.DataObject
) -> None:
    sb, main, connected, truth = small
    times = [_utc(r["start_time"]) for r in truth]
    lo, hi = min(times) - timedelta(days=2), NOW + timedelta(days=2)
    a, b = data.draw(_instants(lo, hi)), data.draw(_instants(lo, hi))
    start, end = min(a, b), max(a, b)
    # Also the instants of records themselves, so that one edge sits exactly on a call.
    if data.draw(st.booleans()):
        start = data.draw(st.sampled_from(times))
        end = max(end, start)
    frame = cn.load_calls(connected, app=app_for_sandbox(sb), start=start, end=end, progress=False)
    assert_frame_equal(frame, expected_calls(in_range(truth, "start_time", start, end)))


@pytest.fixture(scope="module")
def small_family() -> Iterator[tuple[Sandbox, str, str, list[Record]]]:
    """A growing family of three accounts over 400 days (1,200 calls), one subaccount closed."""
    profile = Profile(name="Small", pattern="growing", days=400, calls=1_200, subaccounts=2, closed=1)
    with started([profile]) as (sb, main, connected):
        yield sb, main, connected, family_truth(sb, main)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_any_range_subset_usage_hint_and_concurrency_give_exactly_the_ground_truth(
    small_family: tuple[Sandbox, str, str, list[Record]], data: st.DataObject
) -> None:
    sb, main, connected, truth = small_family
    members = sb.family(main)
    lo, hi = _utc(truth[-1]["start_time"]) - timedelta(days=5), NOW + timedelta(days=5)
    a, b = data.draw(_instants(lo, hi)), data.draw(_instants(lo, hi))
    start, end = min(a, b), max(a, b)
    subset = data.draw(st.none() | st.lists(st.sampled_from(members), min_size=1, unique=True))
    sb.faults = Faults(usage=data.draw(st.sampled_from(USAGE_HINTS)))
    frame = cn.load_calls(
        connected,
        app=app_for_sandbox(sb),
        accounts=subset,
        start=start,
        end=end,
        concurrency=data.draw(st.sampled_from([1, 3, 8])),
        progress=False,
    )
    wanted = set(members if subset is None else subset)
    expected = [r for r in in_range(truth, "start_time", start, end) if r["account_sid"] in wanted]
    assert_frame_equal(frame, expected_calls(expected))
