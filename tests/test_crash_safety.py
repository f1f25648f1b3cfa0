"""Crash safety, quick profile: ``bench/chaos_crash.py`` with 3 seeded kill points.

A child process loading calls into a parquet cache is killed with ``SIGKILL`` at
seeded points of its cache writing (it announces each write and rename on a pipe;
the parent blocks on that pipe and kills on the seeded announcement, so nothing
sleeps or polls). After each kill the cache must read cleanly, hold only whole days
and never two files for one day, and ``scan_calls`` must ignore leftover temporary
files; loading again with the same cache must equal the ground truth and fetch only
the days the cache lacked.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

QUICK_POINTS = 3
QUICK_SEED = 1


@pytest.fixture(scope="module")
def crash() -> ModuleType:
    from bench import chaos_crash

    return chaos_crash


@pytest.fixture(scope="module")
def figures(crash: ModuleType) -> dict[str, Any]:
    return crash.run(points=QUICK_POINTS, seed=QUICK_SEED)


def test_kill_points_are_seeded_and_spread_from_early_to_late(crash: ModuleType) -> None:
    points = crash.plan(QUICK_POINTS, QUICK_SEED)
    assert points == crash.plan(QUICK_POINTS, QUICK_SEED)
    firsts = [p.kills[0] for p in points]
    events = 2 * crash.DAYS - 1
    # One point in each third of the write events: early, middle, late.
    assert [f * QUICK_POINTS // events for f in firsts] == list(range(QUICK_POINTS))


def test_every_point_killed_a_child_midway(crash: ModuleType, figures: dict[str, Any]) -> None:
    # Every first child runs on an empty cache, so it reaches its kill point and dies by SIGKILL.
    assert figures["kills"] >= figures["points"] == QUICK_POINTS
    # The kills interrupted real work: some left part of the days cached, not none or all.
    assert any(0 < n < crash.DAYS for n in figures["files_seen_per_kill"]), figures["files_seen_per_kill"]


def test_a_killed_cache_is_never_corrupt_duplicated_or_half_a_day(figures: dict[str, Any]) -> None:
    assert figures["problems"] == []
    assert figures["corrupt_files"] == 0
    assert figures["incomplete_days"] == 0
    assert figures["duplicated_days"] == 0


def test_scan_calls_reads_a_killed_cache_and_ignores_temporary_files(figures: dict[str, Any]) -> None:
    # Each inspection compares the scan with exactly the complete days, rows once each.
    assert figures["scan_failures"] == 0


def test_loading_again_after_a_kill_equals_the_ground_truth_fetching_only_missing_days(
    figures: dict[str, Any],
) -> None:
    assert figures["results_equal"] == QUICK_POINTS
    assert figures["reloads_fetched_only_missing_days"] == QUICK_POINTS
