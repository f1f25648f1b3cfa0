"""`_planner`: which day windows to request, planned from usage counts; pure, no I/O.

Twilio's list filters select whole UTC days, so a load is a set of day windows,
each paged through with ``next_page_uri``, several windows at once. Asking for
one window per day costs a request per day even where nothing happened (3,651
requests for a ten-year account with 4,000 calls); asking for one window costs
nothing extra but pages serially. Daily or monthly usage records say roughly how
many records each stretch holds, so the windows can be cut where the data is:

- **units** are the stretches the counts describe (days, or months where only a
  monthly count is known), newest first, covering the whole range without gaps;
- **windows** are runs of consecutive units. A window of ``C`` records costs
  ``max(1, ceil(C / page_size))`` requests, so the plan minimises the sum of that
  over windows, subject to at most ``max_pages`` pages per window (so several
  windows can be fetched at once); a unit bigger than that stands alone.

Correctness never depends on a count: windows always cover every unit, so a
count that is wrong (late, missing, counting other things) only changes how many
requests the load needs, never which records it gets.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["Unit", "Window", "max_pages_per_window", "plan_windows", "units_from_counts"]


@dataclass(frozen=True)
class Unit:
    """Days ``first`` … ``last`` (inclusive) and about how many records they hold."""

    first: date
    last: date
    count: int


@dataclass(frozen=True)
class Window:
    """One request window: days ``first`` … ``last`` (inclusive), expected to hold ``count`` records."""

    first: date
    last: date
    count: int

    def pages(self, page_size: int) -> int:
        """Requests this window is expected to need."""
        return max(1, math.ceil(self.count / page_size))


def units_from_counts(first: date, last: date, counts: Sequence[tuple[date, date, int]]) -> list[Unit]:
    """Turn usage periods into units covering ``first`` … ``last`` exactly, newest first.

    ``counts`` are ``(period_first, period_last, count)`` in any order, possibly
    overlapping the range's edges, possibly with gaps (missing records) or
    overlaps (a lying server): gaps become units with count 0, periods are
    clipped to the range, and a day claimed twice keeps the first claim.
    """
    if last < first:
        return []
    claimed: list[Unit] = []
    cursor = first
    for p_first, p_last, count in sorted(counts, key=lambda c: (c[0], c[1])):
        lo, hi = max(p_first, cursor), min(p_last, last)
        if hi < lo:
            continue
        if lo > cursor:  # a gap: no record says anything about these days
            claimed.append(Unit(cursor, lo - timedelta(days=1), 0))
        # A period clipped at the range's edge keeps only its share of the count.
        span = (p_last - p_first).days + 1
        share = count if span == (hi - lo).days + 1 else math.ceil(max(count, 0) * ((hi - lo).days + 1) / span)
        claimed.append(Unit(lo, hi, max(share, 0)))
        cursor = hi + timedelta(days=1)
        if cursor > last:
            break
    if cursor <= last:
        claimed.append(Unit(cursor, last, 0))
    return claimed[::-1]


def max_pages_per_window(total_pages: int, concurrency: int) -> int:
    """Pages one window may hold: enough windows for every worker to have two or three to do."""
    return max(1, math.ceil(total_pages / (2.5 * concurrency)))


def plan_windows(units: Sequence[Unit], *, page_size: int, max_pages: int) -> list[Window]:
    """The cheapest windows over ``units`` (newest first) with at most ``max_pages`` pages each.

    Dynamic programming over the units: ``best[i]`` is the fewest requests that
    cover the first ``i`` units. ``best`` never decreases with ``i`` (covering less
    never costs more), so for each number of pages ``k`` the longest window ending
    at unit ``i`` with at most ``k`` pages is the best one, and a bisection over the
    prefix sums finds it: O(units × max_pages × log units).
    """
    n = len(units)
    if n == 0:
        return []
    prefix = [0]
    for u in units:
        prefix.append(prefix[-1] + max(u.count, 0))
    best = [0] + [math.inf] * n
    start = [0] * (n + 1)
    for i in range(1, n + 1):
        # A unit alone is always allowed, however big (a day cannot be split).
        cost, begin = best[i - 1] + max(1, math.ceil(units[i - 1].count / page_size)), i - 1
        for k in range(1, max_pages + 1):
            j = bisect.bisect_left(prefix, prefix[i] - k * page_size, 0, i - 1)
            pages = max(1, math.ceil((prefix[i] - prefix[j]) / page_size))
            if pages <= max_pages and best[j] + pages < cost:
                cost, begin = best[j] + pages, j
            if j == 0:
                break  # a longer window cannot start before the first unit
        best[i], start[i] = cost, begin
    windows: list[Window] = []
    i = n
    while i > 0:
        j = start[i]
        # Units are newest first, so the window's oldest day is in its last unit.
        windows.append(Window(units[i - 1].first, units[j].last, prefix[i] - prefix[j]))
        i = j
    return windows[::-1]
