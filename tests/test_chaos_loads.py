"""Loads under faults, quick profile: ``bench/chaos_loads.py`` with 20 seeded loads.

The bench script is the single definition of the chaos run (scenarios, sandboxes,
ground truth, verdicts); this test runs a short profile of it and asserts the
figures the full run prints: nothing lost, duplicated or partial, and every load
either equal to the ground truth or a ``ConnectNotebookError`` naming the page
after bounded retries. No test sleeps: retries record their delays instead.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

QUICK_LOADS = 20
# A seed whose 20 loads include retries exhausted by seeded (timing-independent) faults,
# so both outcomes, equal and clear error, are exercised.
QUICK_SEED = 1


@pytest.fixture(scope="module")
def chaos() -> ModuleType:
    from bench import chaos_loads

    return chaos_loads


@pytest.fixture(scope="module")
def figures(chaos: ModuleType) -> dict[str, Any]:
    return chaos.run(loads=QUICK_LOADS, seed=QUICK_SEED)


def test_the_plan_is_seeded_and_covers_every_scenario(chaos: ModuleType) -> None:
    specs = chaos.plan(QUICK_LOADS, QUICK_SEED)
    assert specs == chaos.plan(QUICK_LOADS, QUICK_SEED)
    assert specs != chaos.plan(QUICK_LOADS, QUICK_SEED + 1)
    assert {s.scenario for s in specs} == set(chaos.SCENARIOS)
    assert {s.sandbox for s in specs} == set(chaos.SANDBOXES)  # the family sandbox among them
    limited = [s for s in specs if s.faults.get("concurrency_limit")]
    assert limited
    assert all(s.faults["concurrency_limit"] == 5 and s.concurrency == 8 for s in limited)
    assert max(s.faults.get("rate_limit", 0) for s in specs) <= 0.5
    assert {s.faults.get("retry_after", "absent") for s in specs if "429" in s.scenario} == {0.0, "absent"}


def test_quick_profile_loses_duplicates_and_splits_nothing(figures: dict[str, Any]) -> None:
    assert figures["lost_rows"] == 0
    assert figures["duplicated_rows"] == 0
    assert figures["extra_rows"] == 0
    assert figures["partial_frames"] == 0
    assert figures["rows_returned"] == figures["rows_expected"] > 0


def test_every_quick_load_equals_the_ground_truth_or_raises_a_clear_error(figures: dict[str, Any]) -> None:
    # A problem is a frame that differs, an error that is not a ConnectNotebookError or does
    # not name its page and tries, or a request sent more often than the retry policy allows.
    assert figures["problems"] == []
    assert figures["unclear_or_unexpected_errors"] == {}
    clear = sum(figures["clear_errors"].values())
    assert figures["equal_to_ground_truth"] + clear == figures["loads"] == QUICK_LOADS
    # Both branches happened: most loads came through, some exhausted their retries.
    assert figures["equal_to_ground_truth"] > 0
    assert clear > 0
    assert set(figures["clear_errors"]) <= {"RateLimitError", "ServerError", "TransportError"}


def test_loads_of_a_family_through_its_connect_subaccount_equal_the_union_of_its_accounts(
    figures: dict[str, Any],
) -> None:
    # The "family" sandbox's customer has a main account and two subaccounts (one closed); its
    # ground truth is the union of their calls, and the loads authenticate as the Connect subaccount.
    family = figures["by_sandbox"]["family"]
    assert family["loads"] > 0
    assert family["equal"] > 0


def test_every_fault_kind_was_injected_in_the_quick_profile(figures: dict[str, Any]) -> None:
    # Otherwise the other assertions would be about a sandbox that behaved.
    injected = figures["faults_injected"]
    assert set(injected) == {"rate_limit", "server_error", "reset", "truncate", "concurrency_limit", "latency_spike"}
    assert all(n > 0 for n in injected.values()), injected
