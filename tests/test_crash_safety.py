"""Crash safety, quick profile: ``bench/chaos_crash.py`` with 3 seeded kill points.

A child process loading a customer's calls (a main account and two subaccounts, read
through its Connect subaccount) into a parquet cache of one file per account and month
is killed with ``SIGKILL`` at seeded points of its cache writing (it announces each
write and rename on a pipe; the parent blocks on that pipe and kills on the seeded
announcement, so nothing sleeps or polls). After each kill the cache must read
cleanly, every month file must hold exactly the days its footer says it covers, no
month may have two files, and ``scan_calls`` must ignore leftover temporary files;
loading again with the same cache must equal the family's ground truth and fetch only
the account-days the cache lacked.
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


def test_a_fresh_load_writes_one_file_per_account_and_month(crash: ModuleType) -> None:
    spans = crash.account_days()
    assert len(spans) == 3  # the main account and its two subaccounts; the Connect subaccount holds no calls
    # July to October for the main account, then August and September onwards for the subaccounts.
    assert sorted(len(crash.months(first, last)) for first, last in spans.values()) == [2, 3, 4]
    assert crash.month_files() == 9
    assert crash.write_events() == 18


def test_kill_points_are_seeded_and_spread_from_early_to_late(crash: ModuleType) -> None:
    points = crash.plan(QUICK_POINTS, QUICK_SEED)
    assert points == crash.plan(QUICK_POINTS, QUICK_SEED)
    firsts = [p.kills[0] for p in points]
    events = crash.write_events() - 1
    # One point in each third of the write events: early, middle, late.
    assert [f * QUICK_POINTS // events for f in firsts] == list(range(QUICK_POINTS))


def test_every_point_killed_a_child_midway(crash: ModuleType, figures: dict[str, Any]) -> None:
    # Every first child runs on an empty cache, so it reaches its kill point and dies by SIGKILL.
    assert figures["kills"] >= figures["points"] == QUICK_POINTS
    # The kills interrupted real work: some left part of the account-days cached, not none or all.
    assert figures["account_days"] == 200  # 100 days of the main account, 67 and 33 of its subaccounts
    assert any(0 < n < figures["account_days"] for n in figures["files_seen_per_kill"]), figures["files_seen_per_kill"]


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
    # ...and leaves every account-day cached, in exactly one file per account and month.
    assert figures["problems"] == []
