"""The window planner: windows always cover every day once, and cost close to the fewest requests."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connect_notebook._planner import Unit, Window, max_pages_per_window, plan_windows, units_from_counts

PAGE = 1000
DAY = timedelta(days=1)


def days_newest_first(counts: list[int], last: date = date(2026, 10, 31)) -> list[Unit]:
    return [Unit(last - i * DAY, last - i * DAY, c) for i, c in enumerate(counts)]


def covered_days(windows: list[Window]) -> list[date]:
    """Every day the windows select, in the order they are listed (newest first)."""
    out = []
    for w in windows:
        out += [w.last - i * DAY for i in range((w.last - w.first).days + 1)]
    return out


def unit_days(units: list[Unit]) -> list[date]:
    return covered_days([Window(u.first, u.last, u.count) for u in units])


def requests(windows: list[Window]) -> int:
    return sum(w.pages(PAGE) for w in windows)


def fewest_requests(units: list[Unit], max_pages: int) -> int:
    """The optimum by brute force over every partition into runs (small inputs only)."""
    n = len(units)
    best = [0] + [math.inf] * n
    for i in range(1, n + 1):
        for j in range(i):
            count = sum(u.count for u in units[j:i])
            pages = max(1, math.ceil(count / PAGE))
            if pages <= max_pages or i == j + 1:
                best[i] = min(best[i], best[j] + pages)
    return int(best[n])


counts = st.lists(st.one_of(st.just(0), st.integers(0, 40), st.integers(0, 3000), st.integers(0, 15_000)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(counts=counts, max_pages=st.integers(1, 6))
def test_windows_cover_every_day_exactly_once_in_order(counts: list[int], max_pages: int) -> None:
    units = days_newest_first(counts)
    windows = plan_windows(units, page_size=PAGE, max_pages=max_pages)
    assert covered_days(windows) == unit_days(units)
    assert sum(w.count for w in windows) == sum(counts)
    for w in windows:
        # A window over its page limit can only be a single unit (a day cannot be split).
        assert w.pages(PAGE) <= max_pages or w.first == w.last


@settings(max_examples=200, deadline=None)
@given(counts=st.lists(st.integers(0, 4000), max_size=12), max_pages=st.integers(1, 5))
def test_the_plan_costs_the_fewest_requests_possible(counts: list[int], max_pages: int) -> None:
    units = days_newest_first(counts)
    assert requests(plan_windows(units, page_size=PAGE, max_pages=max_pages)) == fewest_requests(units, max_pages)


def test_ninety_dense_days_cost_within_ten_percent_of_the_pages_they_hold() -> None:
    units = days_newest_first([2222] * 90)
    pages = math.ceil(2222 * 90 / PAGE)
    windows = plan_windows(units, page_size=PAGE, max_pages=max_pages_per_window(pages, 8))
    assert requests(windows) <= 1.1 * pages
    assert len(windows) >= 16  # still enough windows for 8 at once, twice over


def test_empty_stretches_cost_nothing_beyond_the_windows_around_them() -> None:
    # Ten years with a few quiet days of traffic and long dormant months: a handful of windows.
    counts = [0] * 3650
    for i in range(0, 3650, 97):
        counts[i] = 30
    windows = plan_windows(days_newest_first(counts), page_size=PAGE, max_pages=1)
    assert requests(windows) == math.ceil(sum(counts) / PAGE)


def test_a_burst_day_stands_alone_with_all_its_pages() -> None:
    counts = [10] * 30
    counts[12] = 12_000
    windows = plan_windows(days_newest_first(counts), page_size=PAGE, max_pages=2)
    burst = [w for w in windows if w.count >= 12_000]
    assert len(burst) == 1 and burst[0].first == burst[0].last
    assert burst[0].pages(PAGE) == 12


def test_no_units_no_windows() -> None:
    assert plan_windows([], page_size=PAGE, max_pages=3) == []


@pytest.mark.parametrize(
    ("total_pages", "concurrency", "expected"),
    [
        pytest.param(0, 8, 1, id="nothing"),
        pytest.param(5, 8, 1, id="small"),
        pytest.param(200, 8, 10, id="dense"),
        pytest.param(200, 1, 80, id="serial"),
    ],
)
def test_max_pages_per_window_leaves_every_worker_two_or_three_windows(
    total_pages: int, concurrency: int, expected: int
) -> None:
    assert max_pages_per_window(total_pages, concurrency) == expected


# --- units from usage periods ----------------------------------------------------------

periods = st.lists(
    st.tuples(st.integers(-40, 80), st.integers(0, 40), st.integers(-5, 5000)).map(
        lambda t: (date(2026, 1, 1) + timedelta(days=t[0]), date(2026, 1, 1) + timedelta(days=t[0] + t[1]), t[2])
    ),
    max_size=15,
)


@settings(max_examples=300, deadline=None)
@given(periods=periods, start=st.integers(0, 30), length=st.integers(0, 60))
def test_units_cover_the_range_without_gaps_or_overlaps_whatever_the_periods(
    periods: list[tuple[date, date, int]], start: int, length: int
) -> None:
    first = date(2026, 1, 1) + timedelta(days=start)
    last = first + timedelta(days=length)
    units = units_from_counts(first, last, periods)
    days = unit_days(units)
    assert days == [last - i * DAY for i in range(length + 1)]  # every day once, newest first
    assert all(u.count >= 0 for u in units)


def test_a_month_clipped_by_the_range_keeps_its_share_of_the_count() -> None:
    units = units_from_counts(date(2026, 1, 22), date(2026, 2, 10), [(date(2026, 1, 1), date(2026, 1, 31), 310)])
    assert units == [Unit(date(2026, 2, 1), date(2026, 2, 10), 0), Unit(date(2026, 1, 22), date(2026, 1, 31), 100)]


def test_an_empty_range_has_no_units() -> None:
    assert units_from_counts(date(2026, 1, 2), date(2026, 1, 1), [(date(2026, 1, 1), date(2026, 1, 2), 5)]) == []
