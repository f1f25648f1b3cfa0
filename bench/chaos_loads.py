"""Loads under faults: seeded ``load_calls`` runs against sandboxes that misbehave.

Run: ``python bench/chaos_loads.py [--loads 200] [--seed 1]``.

Each load picks, from the seed, a fault scenario, a sandbox, a time range, a
number of retry attempts and a loader concurrency, then runs ``load_calls``
against a sandbox on 127.0.0.1 with those faults on. The scenarios:

* ``429-storm-retry-after-0``: 429 / 20429 on up to half the requests, ``Retry-After: 0``;
* ``429-storm-backoff``: the same without ``Retry-After`` (the client's own backoff);
* ``5xx``: 500 / 503;
* ``reset-mid-body``: the connection is reset after half the body was sent;
* ``truncated-json``: a 200 whose JSON body is cut short;
* ``latency-spikes``: 20% of responses delayed by 50 ms (5% in ``everything``; bounded in time);
* ``concurrency-limit-5``: the sandbox allows 5 requests in flight, the loader sends 8;
* ``everything``: all of the above at once, at lower rates.

Every outcome must be one of two:

* a frame equal to the ground truth (``Sandbox.calls()`` of every account of the
  customer's family, typed here without the package's decoders, the way
  ``tests/test_loaders.py`` does), every SID exactly once;
* a ``ConnectNotebookError`` after bounded retries, whose message names the page
  (``calls page of <day>`` and its ``Calls.json?…StartTime…`` URL, or the
  ``accounts page`` / ``usage page`` a load reads first to plan its windows), and no
  request line sent more often than the retry policy allows.

Each sandbox serves one customer (a ``Profile``: a plain account, or in ``family`` a
main account with two later subaccounts, one closed); the load authenticates as the
Connect subaccount its authorization made, as a Connect App does
(``twilio-api-notes.md`` §8.1), and must return the union of the family's calls.

A frame that is returned but misses rows is a *partial frame*; the figures count
them, and the rows lost, duplicated and extra; all must be 0.

Retries do not really wait: ``RetryPolicy(sleep=...)`` records the delays it asked
for (their sum is printed), so heavy storms exhaust the attempts of some loads
quickly. That is the "clear error after bounded retries" branch, counted too.

The sandbox counts the faults it injected (``Sandbox.injected``). It does not count
latency spikes, so this script wraps each sandbox's fault decision to count the
decisions whose delay exceeds the base latency (instrumentation only; the decision
is unchanged). Fault decisions are seeded per request line, but which request meets
the concurrency limit depends on thread timing, so counts under that limit can vary
slightly from run to run; the verdicts must not.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

from connect_notebook import CALLS_SCHEMA, ConnectNotebookError, RetryPolicy, load_calls
from connect_notebook._kernel import app_for_sandbox
from connect_notebook.sandbox import Faults, Profile, Sandbox

NOW = "2026-11-01T00:00:00+00:00"  # every sandbox's pinned clock: whole days of history before it
Record = dict[str, Any]

# Small sandboxes, so 200 loads take minutes: (seed, calls of the customer's family, days,
# subaccounts, closed subaccounts).
SANDBOXES: dict[str, tuple[int, int, int, int, int]] = {
    "small": (101, 600, 4, 0, 0),  # one short page a day
    "paged": (102, 3_600, 3, 0, 0),  # 1,200 calls a day: two pages a day, a next-page link to follow
    # 1,200 calls a day for ten days: ten windows of two pages (usage counts plan one window a day
    # once a day fills a page), enough for eight workers to exceed a concurrency limit of 5.
    "wide": (103, 12_000, 10, 0, 0),
    # A main account and two subaccounts made later, one closed since: the load reads all three.
    "family": (104, 1_500, 6, 2, 1),
}
SCENARIOS = (
    "429-storm-retry-after-0",
    "429-storm-backoff",
    "5xx",
    "reset-mid-body",
    "truncated-json",
    "latency-spikes",
    "concurrency-limit-5",
    "everything",
)
SPIKE = {"spike_rate": 0.05, "spike_latency": 0.05}  # small, so that runs stay bounded in time
FAULT_KINDS = ("rate_limit", "server_error", "reset", "truncate", "concurrency_limit", "latency_spike")


# --- the expected frame, built independently of the package's decoders -------------


def _utc(value: str | None) -> datetime | None:
    return None if value in (None, "") else parsedate_to_datetime(value).astimezone(UTC)


def _int(value: str | int | None) -> int | None:
    return None if value in (None, "") else int(value)


def _float(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


def expected_calls(records: list[Record]) -> pl.DataFrame:
    """The typed calls frame for API records (as ``tests/test_loaders.py`` builds it)."""
    rows = []
    for r in records:
        price = _float(r["price"])
        inbound = r["direction"] in ("inbound", "trunking-originating")
        rows.append(
            {
                **{name: r[name] for name in CALLS_SCHEMA if name in r},
                "start_time": _utc(r["start_time"]),
                "end_time": _utc(r["end_time"]),
                "date_created": _utc(r["date_created"]),
                "date_updated": _utc(r["date_updated"]),
                "duration": _int(r["duration"]),
                "queue_time": _int(r["queue_time"]),
                "price": price,
                "cost": None if price is None else -price,
                "our_number": r["to"] if inbound else r["from"],
                "counterpart": r["from"] if inbound else r["to"],
            }
        )
    return pl.DataFrame(rows, schema=CALLS_SCHEMA)


def family_truth(sb: Sandbox, customer: str) -> pl.DataFrame:
    """The typed calls of every account of a customer's family, newest first (ties in family order)."""
    frames = [expected_calls(sb.calls(sid)) for sid in sb.family(customer)]
    return pl.concat(frames).sort("start_time", descending=True, maintain_order=True)


def in_range(expected: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    """The rows of a typed calls frame that started in ``[start, end)``, in its order (newest first)."""
    return expected.filter((pl.col("start_time") >= start) & (pl.col("start_time") < end))


# --- the plan ----------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSpec:
    """One seeded load: where, which faults, which range, how many tries."""

    index: int
    scenario: str
    sandbox: str
    faults: dict[str, Any]
    attempts: int
    concurrency: int
    start: datetime
    end: datetime

    def describe(self) -> str:
        knobs = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.faults.items())
        return (
            f"load {self.index} [{self.scenario}] sandbox={self.sandbox} {self.start:%m-%d %H:%M}.."
            f"{self.end:%m-%d %H:%M} attempts={self.attempts} concurrency={self.concurrency} faults({knobs})"
        )


def _scenario_faults(scenario: str, rng: random.Random) -> dict[str, Any]:
    if scenario == "429-storm-retry-after-0":
        return {"rate_limit": round(rng.uniform(0.2, 0.5), 2), "retry_after": 0.0}
    if scenario == "429-storm-backoff":
        return {"rate_limit": round(rng.uniform(0.2, 0.5), 2)}
    if scenario == "5xx":
        return {"server_error": round(rng.uniform(0.1, 0.4), 2)}
    if scenario == "reset-mid-body":
        return {"reset": round(rng.uniform(0.1, 0.4), 2)}
    if scenario == "truncated-json":
        return {"truncate": round(rng.uniform(0.1, 0.4), 2)}
    if scenario == "latency-spikes":
        # A load sends about ten requests: one in five spikes, so nearly every such load meets some.
        return {"latency": 0.001, "spike_rate": 0.2, "spike_latency": 0.05}
    if scenario == "concurrency-limit-5":
        # Some base latency, so that eight windows really are in flight together.
        return {"latency": 0.02, "concurrency_limit": 5}
    return {
        "rate_limit": round(rng.uniform(0.05, 0.2), 2),
        "retry_after": rng.choice((0.0, None)),
        "server_error": round(rng.uniform(0.02, 0.1), 2),
        "reset": round(rng.uniform(0.02, 0.1), 2),
        "truncate": round(rng.uniform(0.02, 0.1), 2),
        "latency": 0.002,
        **SPIKE,
        "concurrency_limit": 5,
    }


def plan(loads: int, seed: int) -> list[LoadSpec]:
    """The seeded loads; every scenario comes round once in each run of len(SCENARIOS)."""
    rng = random.Random(seed)
    now = datetime.fromisoformat(NOW)
    specs = []
    order: list[str] = []
    for index in range(loads):
        if not order:
            order = list(SCENARIOS)
            rng.shuffle(order)
        scenario = order.pop()
        faults = {"seed": rng.randrange(2**31), **_scenario_faults(scenario, rng)}
        limited = faults.get("concurrency_limit") is not None
        # The limit needs more windows than it allows; spikes need enough requests to land on.
        whole = limited or scenario == "latency-spikes"
        name = "wide" if whole else rng.choice(sorted(SANDBOXES))
        days = SANDBOXES[name][2]
        first = now - timedelta(days=days)
        if whole or rng.random() < 0.6:
            start, end = first, now  # the whole history
        else:  # instants inside the history, to the second, at least half of it
            span = int((now - first).total_seconds())
            a = rng.randrange(span // 2)
            start, end = first + timedelta(seconds=a), first + timedelta(seconds=rng.randrange(a + span // 2, span))
        specs.append(
            LoadSpec(
                index=index,
                scenario=scenario,
                sandbox=name,
                faults=faults,
                attempts=rng.choice((2, 3, 4, 6, 8, 12)),
                concurrency=8 if limited else rng.choice((1, 3, 8)),
                start=start,
                end=min(end, now),
            )
        )
    return specs


# --- the sandboxes -----------------------------------------------------------------


@dataclass
class Fleet:
    """The running sandboxes, their first customer, its typed ground truth and a spike counter."""

    sandboxes: dict[str, Sandbox] = field(default_factory=dict)
    truth: dict[str, pl.DataFrame] = field(default_factory=dict)  # built once per sandbox
    spikes: Counter[str] = field(default_factory=Counter)

    def customer(self, name: str) -> str:
        """The main account of the sandbox's one customer."""
        return self.sandboxes[name].customer_account_sids[0]


def _count_spikes(fleet: Fleet, name: str, sb: Sandbox) -> None:
    injector = sb.state.faults
    decide = injector.decide

    def counting(request_line: str) -> Any:
        decision = decide(request_line)
        if decision.delay > injector.faults.latency:
            fleet.spikes[name] += 1  # only the sandbox's own loop thread calls decide()
        return decision

    injector.decide = counting  # type: ignore[method-assign]


@contextmanager
def fleet_of_sandboxes() -> Iterator[Fleet]:
    """Start every sandbox of ``SANDBOXES`` on a loopback port; stop them all afterwards."""
    fleet = Fleet()
    try:
        for name, (seed, calls, days, subaccounts, closed) in SANDBOXES.items():
            customer = Profile(
                name=name.title(), pattern="dense", days=days, calls=calls, subaccounts=subaccounts, closed=closed
            )
            sb = Sandbox(seed=seed, customers=[customer], now=NOW).start()
            fleet.sandboxes[name] = sb
            fleet.truth[name] = family_truth(sb, fleet.customer(name))
            _count_spikes(fleet, name, sb)
        yield fleet
    finally:
        for sb in fleet.sandboxes.values():
            sb.stop()


# --- one load ----------------------------------------------------------------------


class Delays(list[float]):
    """The delays a RetryPolicy asked for, recorded instead of slept."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@dataclass
class Outcome:
    """What one load did, and how it compares with the ground truth."""

    spec: LoadSpec
    expected_rows: int
    returned_rows: int | None = None  # None: the load raised
    equal: bool = False
    error: str | None = None  # the exception's class name
    message: str = ""
    clear: bool = False  # a ConnectNotebookError naming the page
    lost: int = 0
    duplicated: int = 0
    extra: int = 0
    max_tries: int = 0  # the most times one request line was sent
    injected: dict[str, int] = field(default_factory=dict)
    waited: float = 0.0  # seconds of backoff asked for (recorded, not slept)
    problem: str | None = None  # why this outcome breaks a rule, or None

    @property
    def partial(self) -> bool:
        return self.returned_rows is not None and self.lost > 0


def _names_the_page(message: str, spec: LoadSpec) -> bool:
    """Whether an error names the page (what it is and its URL) and the tries spent on it.

    A load reads the family (``/Accounts.json``) and the usage counts that plan its
    windows before the calls pages; any of them may be the one that kept failing.
    """
    if f"{spec.attempts} tries" not in message:
        return False
    if "accounts page" in message and "/Accounts.json?" in message:
        return True
    if "usage page" in message and "/Usage/Records/" in message:
        return True
    days = {(spec.start + timedelta(days=i)).date().isoformat() for i in range((spec.end - spec.start).days + 2)}
    return "Calls.json?" in message and "StartTime" in message and any(f"calls page of {d}" in message for d in days)


def run_load(spec: LoadSpec, fleet: Fleet) -> Outcome:
    """Run one load with its faults on and compare it with the ground truth."""
    sb = fleet.sandboxes[spec.sandbox]
    customer = fleet.customer(spec.sandbox)
    sb.reset()  # fresh fault counters; then authorize again and set this load's faults
    connected = sb.authorize(customer)  # what the Connect App authenticates as
    sb.faults = Faults(**spec.faults)
    spikes_before = fleet.spikes[spec.sandbox]
    expected = in_range(fleet.truth[spec.sandbox], spec.start, spec.end)
    outcome = Outcome(spec, expected_rows=expected.height)
    delays = Delays()
    retry = RetryPolicy(attempts=spec.attempts, sleep=delays, rng=random.Random(spec.faults["seed"]))
    frame: pl.DataFrame | None = None
    try:
        frame = load_calls(
            connected,
            app=app_for_sandbox(sb),
            start=spec.start,
            end=spec.end,
            concurrency=spec.concurrency,
            retry=retry,
            progress=False,
        )
    except ConnectNotebookError as exc:
        outcome.error, outcome.message = type(exc).__name__, str(exc)
        outcome.clear = _names_the_page(outcome.message, spec)
        if not outcome.clear:
            outcome.problem = f"{outcome.error} does not name the page: {outcome.message}"
    except Exception as exc:  # noqa: BLE001 - anything else is a finding, reported, not hidden
        outcome.error, outcome.message = type(exc).__name__, str(exc)
        outcome.problem = f"unexpected {outcome.error} (not a ConnectNotebookError): {outcome.message}"
    outcome.injected = {**sb.injected, "latency_spike": fleet.spikes[spec.sandbox] - spikes_before}
    outcome.injected = {k: v for k, v in outcome.injected.items() if v}
    outcome.max_tries = max(sb.requests.values(), default=0)
    outcome.waited = sum(delays)
    if outcome.max_tries > spec.attempts and outcome.problem is None:
        outcome.problem = f"a request line was sent {outcome.max_tries} times, more than {spec.attempts} attempts"
    if frame is not None:
        outcome.returned_rows = frame.height
        sids = frame["sid"].to_list()
        expected_sids = set(expected["sid"].to_list())
        outcome.duplicated = len(sids) - len(set(sids))
        outcome.lost = len(expected_sids - set(sids))
        outcome.extra = len(set(sids) - expected_sids)
        try:
            assert_frame_equal(frame, expected)
            outcome.equal = True
        except AssertionError as exc:
            outcome.problem = f"the frame differs from the ground truth: {exc}"
    return outcome


# --- the run -----------------------------------------------------------------------


def summarize(outcomes: list[Outcome], seconds: float) -> dict[str, Any]:
    """The figures of a run (see the module docstring)."""
    ok = [o for o in outcomes if o.returned_rows is not None]
    injected: Counter[str] = Counter()
    for o in outcomes:
        injected.update(o.injected)
    return {
        "loads": len(outcomes),
        "equal_to_ground_truth": sum(o.equal for o in outcomes),
        "clear_errors": dict(sorted(Counter(o.error for o in outcomes if o.clear).items())),
        "unclear_or_unexpected_errors": dict(
            sorted(Counter(o.error for o in outcomes if o.error and not o.clear).items())
        ),
        "faults_injected": {kind: injected.get(kind, 0) for kind in FAULT_KINDS},
        "rows_expected": sum(o.expected_rows for o in ok),
        "rows_returned": sum(o.returned_rows or 0 for o in ok),
        "rows_expected_all_loads": sum(o.expected_rows for o in outcomes),
        "duplicated_rows": sum(o.duplicated for o in ok),
        "lost_rows": sum(o.lost for o in ok),
        "extra_rows": sum(o.extra for o in ok),
        "partial_frames": sum(o.partial for o in outcomes),
        "max_tries_of_one_request": max((o.max_tries for o in outcomes), default=0),
        "backoff_asked_seconds": round(sum(o.waited for o in outcomes), 1),
        "by_scenario": {
            s: {
                "loads": sum(o.spec.scenario == s for o in outcomes),
                "equal": sum(o.equal for o in outcomes if o.spec.scenario == s),
                "errors": sum(o.error is not None for o in outcomes if o.spec.scenario == s),
            }
            for s in SCENARIOS
        },
        "by_sandbox": {
            name: {
                "loads": sum(o.spec.sandbox == name for o in outcomes),
                "equal": sum(o.equal for o in outcomes if o.spec.sandbox == name),
            }
            for name in SANDBOXES
        },
        "problems": [f"{o.spec.describe()}: {o.problem}" for o in outcomes if o.problem],
        "seconds": round(seconds, 1),
    }


def run(*, loads: int, seed: int) -> dict[str, Any]:
    """Run ``loads`` seeded loads under faults and return the figures (see ``summarize``)."""
    began = time.perf_counter()
    with fleet_of_sandboxes() as fleet:
        outcomes = [run_load(spec, fleet) for spec in plan(loads, seed)]
    return summarize(outcomes, time.perf_counter() - began)


def format_table(figures: dict[str, Any]) -> str:
    """The figures as a small plain-text table."""
    errors = figures["clear_errors"]
    lines = [
        f"{'loads':<38}{figures['loads']:>10}",
        f"{'  equal to the ground truth':<38}{figures['equal_to_ground_truth']:>10}",
        f"{'  clear error after bounded retries':<38}{sum(errors.values()):>10}",
        *(f"{'    ' + name:<38}{n:>10}" for name, n in errors.items()),
        f"{'  unclear or unexpected errors':<38}{sum(figures['unclear_or_unexpected_errors'].values()):>10}",
        "faults injected",
        *(f"{'  ' + kind:<38}{n:>10,}" for kind, n in figures["faults_injected"].items()),
        f"{'rows expected (loads that returned)':<38}{figures['rows_expected']:>10,}",
        f"{'rows returned':<38}{figures['rows_returned']:>10,}",
        f"{'duplicated rows':<38}{figures['duplicated_rows']:>10}",
        f"{'lost rows':<38}{figures['lost_rows']:>10}",
        f"{'extra rows':<38}{figures['extra_rows']:>10}",
        f"{'partial frames':<38}{figures['partial_frames']:>10}",
        f"{'most tries of one request':<38}{figures['max_tries_of_one_request']:>10}",
        f"{'backoff asked for (not slept), s':<38}{figures['backoff_asked_seconds']:>10}",
        f"{'wall time, s':<38}{figures['seconds']:>10}",
        "",
        f"{'scenario':<26}{'loads':>6}{'equal':>7}{'error':>7}",
        *(f"{s:<26}{v['loads']:>6}{v['equal']:>7}{v['errors']:>7}" for s, v in figures["by_scenario"].items()),
        "",
        f"{'sandbox':<26}{'loads':>6}{'equal':>7}",
        *(f"{s:<26}{v['loads']:>6}{v['equal']:>7}" for s, v in figures["by_sandbox"].items()),
    ]
    if figures["problems"]:
        lines += ["", "PROBLEMS:", *figures["problems"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=200, help="how many loads (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the plan (default %(default)s)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    figures = run(loads=args.loads, seed=args.seed)
    print(f"python bench/chaos_loads.py --loads {args.loads} --seed {args.seed}")
    print(format_table(figures))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    bad = figures["lost_rows"] + figures["duplicated_rows"] + figures["partial_frames"] + len(figures["problems"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
