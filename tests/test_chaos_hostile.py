"""Hostile servers, quick profile: ``bench/chaos_hostile.py --quick`` and the zeros it must print.

The bench script is the single definition of the run (loaders, scenarios, the other
origin's listeners, the ground truth, the secret scan, the hang guard); this test
runs its quick profile and asserts what issue 10 asks for: no request and no
credential reaches another origin, no exception shows the owner's token, every load
ends, and every load returns the ground truth or raises a ``ConnectNotebookError``.

The run happens in a child process (with warnings as errors, as here): a load that
never ends leaves a worker pool behind whose threads are not daemons, and it must
not keep the test session alive. The bench stops such a load's sandbox, and leaves
without waiting for that pool; the timeout below only guards against a hang of the
bench itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUICK_SEED = 1
GUARD = 900  # seconds; a hang guard for the child process, never a measurement
HOSTILE_FAULTS = ("foreign_link", "self_link", "echo_auth", "odd_retry_after")


@pytest.fixture(scope="module")
def chaos() -> ModuleType:
    from bench import chaos_hostile

    return chaos_hostile


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("chaos_hostile") / "figures.json"
    command = [sys.executable, "-W", "error", "bench/chaos_hostile.py", "--quick", "--seed", str(QUICK_SEED)]
    done = subprocess.run(
        [*command, "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=GUARD, check=False
    )
    assert done.returncode in (0, 1), f"the bench crashed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(out.read_text()), done


@pytest.fixture(scope="module")
def figures(run: tuple[dict[str, Any], subprocess.CompletedProcess[str]]) -> dict[str, Any]:
    return run[0]


def test_the_quick_plan_is_seeded_and_covers_every_scenario_and_loader(chaos: ModuleType) -> None:
    specs = chaos.plan(chaos.QUICK_LOADS, QUICK_SEED)
    assert specs == chaos.plan(chaos.QUICK_LOADS, QUICK_SEED)
    assert specs != chaos.plan(chaos.QUICK_LOADS, QUICK_SEED + 1)
    assert {s.scenario for s in specs} == set(chaos.SCENARIOS)
    assert {s.loader for s in specs} == set(chaos.LOADERS)
    assert {s.target for s in specs if s.scenario in ("foreign-link", "mix")} == set(chaos.TARGETS)
    # accounts() takes no RetryPolicy: its loads meet no 429 / 5xx, which would really sleep.
    for spec in specs:
        if spec.loader == "accounts":
            assert set(spec.faults) <= {"seed", "foreign_link", "self_link"}, spec


def test_every_hostile_fault_was_injected_in_the_quick_profile(figures: dict[str, Any]) -> None:
    # Otherwise the zeros below would be about a sandbox that behaved.
    assert figures["loads"] == 15
    assert all(figures["faults_injected"][kind] > 0 for kind in HOSTILE_FAULTS), figures["faults_injected"]
    assert figures["exceptions_scanned"] > 0


def test_the_instruments_see_a_secret_where_one_is(figures: dict[str, Any]) -> None:
    # The controls: the scanner finds an echoed token, a listener records credentials sent to it,
    # and the attribute walk finds the header an httpx.ConnectError keeps. Without them a 0 means nothing.
    assert figures["controls"]
    assert all(figures["controls"].values()), figures["controls"]


def test_the_bench_exit_status_follows_its_verdict(
    chaos: ModuleType, run: tuple[dict[str, Any], subprocess.CompletedProcess[str]]
) -> None:
    figures, done = run
    assert done.returncode == (1 if chaos.verdict(figures) else 0)
    assert "requests that reached the other origin" in done.stdout


def test_no_credentials_reach_another_origin(figures: dict[str, Any]) -> None:
    assert figures["foreign_requests_with_authorization"] == 0, figures["problems"]
    assert figures["foreign_requests_with_owner_token"] == 0
    assert figures["loads_that_sent_credentials_off_origin"] == 0


def test_a_link_to_another_origin_is_an_error_never_a_request(figures: dict[str, Any]) -> None:
    assert figures["foreign_requests"] == 0, figures["problems"]


def test_no_exception_shows_the_owner_token(figures: dict[str, Any]) -> None:
    # Text, cause/context chain, formatted traceback, and every object its attributes reach.
    assert figures["exceptions_showing_the_token"] == {p: 0 for p in ("text", "chain", "traceback", "attributes")}, (
        figures["problems"]
    )
    assert figures["secret_occurrences"] == 0


def test_every_load_finishes_within_its_request_budget(chaos: ModuleType, figures: dict[str, Any]) -> None:
    assert figures["did_not_finish"] == 0, figures["problems"]
    assert figures["still_running_after_their_sandbox_stopped"] == 0
    assert figures["requests_per_load_max"] <= chaos.BUDGET


def test_every_load_equals_the_ground_truth_or_raises_a_clear_error(figures: dict[str, Any]) -> None:
    # A Retry-After in any form is honoured or ignored, never raised; a followed link never shortens a frame.
    assert figures["unclear_errors"] == {}, figures["problems"]
    assert figures["wrong_frames"] == 0
    assert figures["equal_to_ground_truth"] + sum(figures["clear_errors"].values()) == figures["loads"]
