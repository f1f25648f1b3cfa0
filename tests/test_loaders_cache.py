"""The loaders' parquet cache, seen through loads: what is written, what is read back, what is fetched again.

Layout (``_cache``): ``<root>/<kind>/account=<AC>/month=YYYY-MM/part-0.parquet``, one file
per account and month, the days it covers in its footer, and ``families/<AC>.json`` for
``scan_calls(connected)``. Days older than ``lookback_days`` come from the cache; what a
load fetched is read from the sandbox's request log (``fetched_days``), what the cache
covers from the footers (``covered_days``). Every frame is compared with the ground truth
of ``loader_support.py``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loader_support import (
    NOW,
    Record,
    _utc,
    as_utc,
    authorized,
    clear_log,
    covered_days,
    days_between,
    expected_calls,
    expected_messages,
    family_truth,
    fetched_days,
    in_range,
    logged,
    month_files,
    solo,
)
from polars.testing import assert_frame_equal

import connect_notebook as cn
from connect_notebook import CALLS_SCHEMA, ConnectApp
from connect_notebook._kernel import app_for_sandbox
from connect_notebook.sandbox import Profile, Sandbox


@pytest.fixture
def created(connected: str, app: ConnectApp) -> dict[str, datetime]:
    """When each account of the first customer's family was created (from ``cn.accounts``)."""
    return dict(cn.accounts(connected, app=app).select("sid", "date_created").iter_rows())


def span_days(created: dict[str, datetime], start: datetime, end: datetime) -> dict[str, set[date]]:
    """The days of ``[start, end)`` each account existed on (accounts created after ``end`` left out)."""
    last = (end - timedelta(microseconds=1)).date()
    out = {}
    for sid, at in created.items():
        if at < end:
            out[sid] = days_between(max(start, at).date(), last)
    return out


def months_of(days: set[date]) -> set[str]:
    return {f"{d:%Y-%m}" for d in days}


def only_the_family_list_was_asked(sb: Sandbox) -> bool:
    return [(r.resource, r.times) for r in logged(sb)] == [("Accounts.json", 1)]


# --- what a cached load writes --------------------------------------------------------


def test_a_cached_load_writes_one_month_file_per_account_and_month_with_its_days_in_the_footer(
    sandbox: Sandbox,
    customer: str,
    connected: str,
    app: ConnectApp,
    created: dict[str, datetime],
    tmp_path: Path,
) -> None:
    start, end = datetime(2026, 9, 28, 6, tzinfo=UTC), datetime(2026, 10, 4, 18, tzinfo=UTC)  # across a month's end
    frame = cn.load_calls(connected, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    truth = family_truth(sandbox, customer)
    assert_frame_equal(frame, expected_calls(in_range(truth, "start_time", start, end)))
    spans = span_days(created, start, end)
    assert connected not in spans  # the Connect subaccount came later: nothing to cache for it
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    expected = [f"calls/account={sid}/month={m}/part-0.parquet" for sid, days in spans.items() for m in months_of(days)]
    assert files == sorted([*expected, f"families/{connected}.json"])
    for sid, days in spans.items():
        # The whole first and last days are cached, not only the instants asked for.
        assert covered_days(tmp_path, sid) == days
        cached = pl.read_parquet([p for p in month_files(tmp_path) if p.parent.parent.name == f"account={sid}"])
        whole_days = [r for r in truth if r["account_sid"] == sid and _utc(r["start_time"]).date() in days]
        assert_frame_equal(cached, expected_calls(whole_days), check_row_order=False)
    family = json.loads((tmp_path / "families" / f"{connected}.json").read_text())
    assert family["accounts"] == sandbox.family(customer)


def test_a_second_load_of_settled_days_sends_only_the_family_list(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, tmp_path: Path
) -> None:
    start, end = "2026-10-20T06:00:00Z", "2026-10-25T18:00:00Z"
    first = cn.load_calls(connected, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    assert logged(sandbox, "Calls.json")
    clear_log(sandbox)
    second = cn.load_calls(connected, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    # The sandbox's days are weeks before the real today: all of them are settled, so all come from the cache.
    assert only_the_family_list_was_asked(sandbox)
    assert_frame_equal(second, first)
    truth = family_truth(sandbox, customer)
    assert_frame_equal(second, expected_calls(in_range(truth, "start_time", as_utc(start), as_utc(end))))


def test_whole_history_cached_twice_fetches_again_only_the_look_back_and_one_file_per_account_and_month(
    sandbox: Sandbox,
    customer: str,
    connected: str,
    app: ConnectApp,
    created: dict[str, datetime],
    tmp_path: Path,
) -> None:
    # From each account's creation to the real now: the days after the sandbox's clock are empty,
    # and their cached (empty) months must read back with the same schema.
    today = datetime.now(UTC).date()
    first = cn.load_calls(connected, app=app, cache_dir=tmp_path, progress=False)
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC day changed during the load, so 'today' moved")
    for sid, at in created.items():
        assert covered_days(tmp_path, sid) == days_between(at.date(), today - timedelta(days=1))  # not today
    assert len(month_files(tmp_path)) == sum(
        len(months_of(days_between(at.date(), today - timedelta(days=1)))) for at in created.values()
    )
    assert not list(tmp_path.rglob("date=*"))
    clear_log(sandbox)
    second = cn.load_calls(connected, app=app, cache_dir=tmp_path, progress=False)
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC day changed during the test, so 'today' moved")
    look_back = today - timedelta(days=3)  # DEFAULT_LOOKBACK_DAYS
    assert fetched_days(sandbox) == {sid: days_between(max(at.date(), look_back), today) for sid, at in created.items()}
    assert_frame_equal(first, expected_calls(family_truth(sandbox, customer)))
    assert_frame_equal(second, first)
    assert_frame_equal(cn.scan_calls(connected, app=app, cache_dir=tmp_path).collect(), first)
    # Everything settled comes from one file per account and month, without a single call request.
    clear_log(sandbox)
    settled = cn.load_calls(connected, app=app, end=look_back, cache_dir=tmp_path, progress=False)
    assert only_the_family_list_was_asked(sandbox)
    assert_frame_equal(
        settled, first.filter(pl.col("start_time") < datetime.combine(look_back, datetime.min.time(), UTC))
    )


def test_refresh_fetches_every_day_again(
    sandbox: Sandbox, connected: str, app: ConnectApp, created: dict[str, datetime], tmp_path: Path
) -> None:
    start, end = datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)
    kwargs: dict[str, Any] = {"start": start, "end": end, "cache_dir": tmp_path, "progress": False}
    first = cn.load_calls(connected, app=app, **kwargs)
    clear_log(sandbox)
    refreshed = cn.load_calls(connected, app=app, refresh=True, **kwargs)
    assert fetched_days(sandbox) == span_days(created, start, end)
    assert_frame_equal(refreshed, first)


def test_a_wider_range_fetches_only_the_days_missing_from_the_cache(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, created: dict[str, datetime], tmp_path: Path
) -> None:
    cn.load_calls(connected, app=app, start="2026-10-20", end="2026-10-25", cache_dir=tmp_path, progress=False)
    clear_log(sandbox)
    start, end = datetime(2026, 10, 18, tzinfo=UTC), datetime(2026, 10, 27, tzinfo=UTC)
    frame = cn.load_calls(connected, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    missing = {date(2026, 10, 18), date(2026, 10, 19), date(2026, 10, 25), date(2026, 10, 26)}
    assert fetched_days(sandbox) == {sid: days & missing for sid, days in span_days(created, start, end).items()}
    assert_frame_equal(frame, expected_calls(in_range(family_truth(sandbox, customer), "start_time", start, end)))


def test_a_partial_month_extended_to_the_whole_month_stays_one_file(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, created: dict[str, datetime], tmp_path: Path
) -> None:
    cn.load_calls(connected, app=app, start="2026-10-10", end="2026-10-15", cache_dir=tmp_path, progress=False)
    clear_log(sandbox)
    start, end = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
    frame = cn.load_calls(connected, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    spans = span_days(created, start, end)
    cached_before = days_between(date(2026, 10, 10), date(2026, 10, 14))
    assert fetched_days(sandbox) == {sid: days - cached_before for sid, days in spans.items()}
    assert_frame_equal(frame, expected_calls(in_range(family_truth(sandbox, customer), "start_time", start, end)))
    for sid, days in spans.items():
        assert covered_days(tmp_path, sid) == days
    assert len(month_files(tmp_path)) == len(spans)  # October only, one file per account
    clear_log(sandbox)
    again = cn.load_calls(connected, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    assert only_the_family_list_was_asked(sandbox)
    assert_frame_equal(again, frame)


def test_messages_are_cached_under_their_own_folder_and_reused(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, created: dict[str, datetime], tmp_path: Path
) -> None:
    start, end = datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 10, 23, tzinfo=UTC)
    first = cn.load_messages(connected, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    for sid, days in span_days(created, start, end).items():
        assert covered_days(tmp_path, sid, "messages") == days
    assert month_files(tmp_path, "calls") == []
    clear_log(sandbox)
    second = cn.load_messages(connected, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    assert only_the_family_list_was_asked(sandbox)
    assert_frame_equal(second, first)
    truth = family_truth(sandbox, customer, "messages")
    assert_frame_equal(second, expected_messages(in_range(truth, "date_sent", start, end)))
    assert_frame_equal(cn.scan_messages(connected, app=app, cache_dir=tmp_path).collect(), first)


def test_a_filtered_load_caches_whole_days_so_an_unfiltered_load_from_the_cache_is_complete(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, tmp_path: Path
) -> None:
    start, end = datetime(2026, 10, 10, tzinfo=UTC), datetime(2026, 10, 15, tzinfo=UTC)
    busy = cn.load_calls(connected, app=app, start=start, end=end, status="busy", cache_dir=tmp_path, progress=False)
    assert busy.height > 0 and set(busy["status"].cast(pl.String)) == {"busy"}
    clear_log(sandbox)
    frame = cn.load_calls(connected, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    assert only_the_family_list_was_asked(sandbox)  # all from the cache
    assert_frame_equal(frame, expected_calls(in_range(family_truth(sandbox, customer), "start_time", start, end)))


# --- scanning the cache ---------------------------------------------------------------------


def test_scan_calls_of_the_connected_sid_is_the_loaded_family(
    sandbox: Sandbox, connected: str, app: ConnectApp, tmp_path: Path
) -> None:
    frame = cn.load_calls(connected, app=app, start="2026-10-15", end="2026-10-25", cache_dir=tmp_path, progress=False)
    lazy = cn.scan_calls(connected, app=app, cache_dir=tmp_path)
    assert isinstance(lazy, pl.LazyFrame)
    assert_frame_equal(lazy.collect(), frame)
    # A later load of some accounts only does not change which family the scan covers.
    sub = cn.accounts(connected, app=app)["sid"][1]
    part = cn.load_calls(
        connected, app=app, accounts=[sub], start="2026-10-01", end="2026-10-05", cache_dir=tmp_path, progress=False
    )
    assert part.height > 0
    scanned = cn.scan_calls(connected, app=app, cache_dir=tmp_path).collect()
    assert_frame_equal(scanned, pl.concat([frame, part]).sort("start_time", descending=True), check_row_order=False)


def test_scan_calls_after_loading_only_some_accounts_covers_what_was_loaded(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, tmp_path: Path
) -> None:
    part = cn.load_calls(
        connected,
        app=app,
        accounts=[customer],
        start="2026-10-01",
        end="2026-10-05",
        cache_dir=tmp_path,
        progress=False,
    )
    assert part.height > 0
    assert_frame_equal(cn.scan_calls(connected, app=app, cache_dir=tmp_path).collect(), part)


def test_scan_calls_without_an_account_covers_every_cached_account_and_reads_as_hive_partitions(
    sandbox: Sandbox, app: ConnectApp, tmp_path: Path
) -> None:
    frames = []
    for index in (0, 2):  # two customers, two families in one cache folder
        _, connected = authorized(sandbox, index)
        frames.append(
            cn.load_calls(connected, app=app, start="2026-09-25", end="2026-10-05", cache_dir=tmp_path, progress=False)
        )
    everything = pl.concat(frames)
    assert everything["account_sid"].n_unique() >= 5
    scanned = cn.scan_calls(app=app, cache_dir=tmp_path).collect()
    assert scanned.schema == CALLS_SCHEMA
    assert_frame_equal(scanned, everything, check_row_order=False)
    assert scanned["start_time"].is_sorted(descending=True)
    # Any hive-aware reader sees the same rows, with the account and month as partition columns.
    hive = pl.scan_parquet(tmp_path / "calls", hive_partitioning=True).collect()
    assert (hive["account"] == hive["account_sid"]).all()
    assert (hive["month"] == hive["start_time"].dt.strftime("%Y-%m")).all()
    assert_frame_equal(hive.drop("account", "month"), everything, check_row_order=False)


def test_scan_calls_of_an_empty_cache_is_empty_with_the_schema(connected: str, app: ConnectApp, tmp_path: Path) -> None:
    empty = pl.DataFrame(schema=CALLS_SCHEMA)
    assert_frame_equal(cn.scan_calls(connected, app=app, cache_dir=tmp_path).collect(), empty)
    assert_frame_equal(cn.scan_calls(app=app, cache_dir=tmp_path).collect(), empty)


# --- failures and old layouts -----------------------------------------------------------------


def test_an_interrupted_month_write_leaves_no_file_and_a_later_load_succeeds(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = "month=2026-10"
    real_write = pl.DataFrame.write_parquet

    def write_then_fail(self: pl.DataFrame, file: Any, *args: Any, **kwargs: Any) -> None:
        real_write(self, file, *args, **kwargs)
        if not isinstance(file, str | os.PathLike) or Path(file).parent.name != broken:
            return  # not a cache file (the loader also packs fetched pages in memory), or another month
        # The disk fills up halfway through: half a parquet file is on disk, then an error.
        data = Path(file).read_bytes()
        Path(file).write_bytes(data[: len(data) // 2])
        msg = "No space left on device"
        raise OSError(msg)

    start, end = datetime(2026, 9, 28, tzinfo=UTC), datetime(2026, 10, 4, tzinfo=UTC)
    with monkeypatch.context() as patch:
        patch.setattr(pl.DataFrame, "write_parquet", write_then_fail)
        with pytest.raises(OSError, match="No space left"):
            cn.load_calls(connected, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)

    assert not list((tmp_path / "calls").glob(f"account=*/{broken}/part-0.parquet"))
    # Nothing but whole month files is left: no temporary file for a glob to pick up.
    assert [p.name for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".json"] == [
        "part-0.parquet" for _ in month_files(tmp_path)
    ]
    # What scan_calls sees is only whole days, each exactly as the API has it.
    truth = family_truth(sandbox, customer)
    covered = {(sid, d) for sid in sandbox.family(customer) for d in covered_days(tmp_path, sid)}
    # Only September can have been written (as soon as its windows were in), never half of October.
    assert all(d.month == 9 for _, d in covered)
    expected = [r for r in truth if (r["account_sid"], _utc(r["start_time"]).date()) in covered]
    assert_frame_equal(
        cn.scan_calls(connected, app=app, cache_dir=tmp_path).collect(), expected_calls(expected), check_row_order=False
    )

    frame = cn.load_calls(connected, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    assert_frame_equal(frame, expected_calls(in_range(truth, "start_time", start, end)))
    assert date(2026, 10, 1) in covered_days(tmp_path, customer)
    assert_frame_equal(cn.scan_calls(connected, app=app, cache_dir=tmp_path).collect(), frame)


def test_a_cache_in_the_legacy_day_layout_is_migrated_and_read_without_requests(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, created: dict[str, datetime], tmp_path: Path
) -> None:
    start, end = datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)
    truth = family_truth(sandbox, customer)
    spans = span_days(created, start, end)
    # The previous layout, written by hand: one folder per account and day, each with that day's frame
    # (an empty day has an empty frame).
    for sid, days in spans.items():
        for day in days:
            folder = tmp_path / "calls" / f"account={sid}" / f"date={day.isoformat()}"
            folder.mkdir(parents=True)
            rows = [r for r in truth if r["account_sid"] == sid and _utc(r["start_time"]).date() == day]
            expected_calls(rows).write_parquet(folder / "part-0.parquet")
    clear_log(sandbox)
    frame = cn.load_calls(connected, app=app, start=start, end=end, cache_dir=tmp_path, progress=False)
    assert_frame_equal(frame, expected_calls(in_range(truth, "start_time", start, end)))
    assert only_the_family_list_was_asked(sandbox)  # every day came from the migrated cache
    assert not list(tmp_path.rglob("date=*"))
    assert len(month_files(tmp_path)) == len(spans)
    for sid, days in spans.items():
        assert covered_days(tmp_path, sid) == days
    assert_frame_equal(cn.scan_calls(connected, app=app, cache_dir=tmp_path).collect(), frame)


# --- the look-back, against the real clock ------------------------------------------------------


@pytest.fixture
def live_sandbox() -> Iterator[Sandbox]:
    """A small sandbox whose clock is the real one, so its last days are inside the look-back."""
    with Sandbox(seed=21, customers=solo(10, 500)) as sb:
        yield sb


@pytest.mark.parametrize(
    "lookback_days",
    [pytest.param(0, id="no-look-back"), pytest.param(3, id="three-days"), pytest.param(30, id="longer-than-history")],
)
def test_a_cached_reload_fetches_today_and_the_look_back_and_reads_older_days_from_the_cache(
    live_sandbox: Sandbox, tmp_path: Path, lookback_days: int
) -> None:
    sb = live_sandbox
    main, connected = authorized(sb)
    app = app_for_sandbox(sb)
    today = datetime.now(UTC).date()
    created = dict(cn.accounts(connected, app=app).select("sid", "date_created").iter_rows())
    first = cn.load_calls(connected, app=app, cache_dir=tmp_path, lookback_days=lookback_days, progress=False)
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC day changed during the load, so 'today' moved")
    assert_frame_equal(first, expected_calls(sb.calls(main)))
    # Every completed day is cached; today is not.
    for sid, at in created.items():
        assert covered_days(tmp_path, sid) == days_between(at.date(), today - timedelta(days=1))
    clear_log(sb)
    second = cn.load_calls(connected, app=app, cache_dir=tmp_path, lookback_days=lookback_days, progress=False)
    if datetime.now(UTC).date() != today:
        pytest.skip("the UTC day changed during the test, so 'today' moved")
    expected = {
        sid: days_between(max(at.date(), today - timedelta(days=lookback_days)), today) for sid, at in created.items()
    }
    assert fetched_days(sb) == expected
    assert_frame_equal(second, first)


@pytest.fixture
def sandboxes_twenty_minutes_apart() -> Iterator[tuple[Sandbox, Sandbox]]:
    """The same seed seen at 00:10 and at 00:30 on 2026-10-20.

    The seed is chosen so that the calls of 2026-10-19 are identical in both except one
    that is still ``in-progress`` at 00:10 and ``completed`` by 00:30; the test checks
    this precondition first. Both clocks give the same SIDs, the Connect one included.
    """
    customers = solo(5, 500)
    with (
        Sandbox(seed=169, customers=customers, now="2026-10-20T00:10:00Z") as early,
        Sandbox(seed=169, customers=customers, now="2026-10-20T00:30:00Z") as late,
    ):
        yield early, late


def test_refresh_picks_up_a_call_whose_status_changed_since_it_was_cached(
    sandboxes_twenty_minutes_apart: tuple[Sandbox, Sandbox], tmp_path: Path
) -> None:
    early, late = sandboxes_twenty_minutes_apart
    main, connected = authorized(early)
    assert authorized(late) == (main, connected)
    start, end = datetime(2026, 10, 19, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC)
    before = {r["sid"]: r for r in in_range(early.calls(main), "start_time", start, end)}
    after = {r["sid"]: r for r in in_range(late.calls(main), "start_time", start, end)}
    assert set(before) == set(after)
    changed = [sid for sid in before if before[sid] != after[sid]]
    assert len(changed) == 1, "precondition: exactly one call of 2026-10-19 changes between the two clocks"
    assert (before[changed[0]]["status"], after[changed[0]]["status"]) == ("in-progress", "completed")
    kwargs: dict[str, Any] = {"start": start, "end": end, "cache_dir": tmp_path, "progress": False}

    seen_early = cn.load_calls(connected, app=app_for_sandbox(early), **kwargs)
    assert_frame_equal(seen_early, expected_calls(list(before.values())))
    # 2026-10-19 is weeks before the real today, so it is settled: a plain reload keeps the cached copy.
    stale = cn.load_calls(connected, app=app_for_sandbox(late), **kwargs)
    assert_frame_equal(stale, seen_early)
    assert only_the_family_list_was_asked(late)
    fresh = cn.load_calls(connected, app=app_for_sandbox(late), refresh=True, **kwargs)
    assert_frame_equal(fresh, expected_calls(list(after.values())))
    row = fresh.filter(pl.col("sid") == changed[0])
    assert row["status"].cast(pl.String).to_list() == ["completed"]
    assert row["end_time"].null_count() == 0
    # The refreshed day replaced the cached one.
    assert_frame_equal(cn.scan_calls(connected, app=app_for_sandbox(late), cache_dir=tmp_path).collect(), fresh)
    assert_frame_equal(cn.load_calls(connected, app=app_for_sandbox(late), **kwargs), fresh)


# --- the property ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def family_of_three() -> Iterator[tuple[Sandbox, str, str, list[Record]]]:
    """A growing family over 120 days (1,500 calls), one of its two subaccounts closed."""
    profile = Profile(name="Three", pattern="growing", days=120, calls=1_500, subaccounts=2, closed=1)
    with Sandbox(seed=9, customers=[profile], now=NOW) as sb:
        main, connected = authorized(sb)
        yield sb, main, connected, family_truth(sb, main)


day_ranges = st.tuples(st.integers(0, 130), st.integers(0, 40), st.integers(0, 23), st.booleans())


@settings(max_examples=12, deadline=None)
@given(loads=st.lists(day_ranges, min_size=1, max_size=4))
def test_any_sequence_of_cached_loads_is_exact_and_the_cache_holds_each_day_once(
    family_of_three: tuple[Sandbox, str, str, list[Record]], loads: list[tuple[int, int, int, bool]]
) -> None:
    sb, main, connected, truth = family_of_three
    app = app_for_sandbox(sb)
    origin = NOW - timedelta(days=125)
    with tempfile.TemporaryDirectory() as folder:
        for offset, length, hour, refresh in loads:
            start = origin + timedelta(days=offset, hours=hour)
            end = start + timedelta(days=length, hours=hour)
            frame = cn.load_calls(
                connected, app=app, start=start, end=end, cache_dir=folder, refresh=refresh, progress=False
            )
            assert_frame_equal(frame, expected_calls(in_range(truth, "start_time", start, end)))
        root = Path(folder)
        covered = {(sid, d) for sid in sb.family(main) for d in covered_days(root, sid)}
        scanned = cn.scan_calls(connected, app=app, cache_dir=root).collect()
    assert scanned["sid"].is_unique().all()
    expected = [r for r in truth if (r["account_sid"], _utc(r["start_time"]).date()) in covered]
    assert_frame_equal(scanned, expected_calls(expected))
