"""Support for the loads-under-faults property: the scenarios, their strategies, the sandbox fleet, one load.

A load picks a fault scenario (parametrized), a sandbox, a time range, retry attempts,
a loader concurrency, fault rates and a fault seed (drawn), then runs ``load_calls``
against a sandbox on 127.0.0.1 with those faults on. The scenarios:

* ``429-storm-retry-after-0``: 429 / 20429 on up to half the requests, ``Retry-After: 0``;
* ``429-storm-backoff``: the same without ``Retry-After`` (the client's own backoff);
* ``5xx``: 500 / 503;
* ``reset-mid-body``: the connection is reset after half the body was sent;
* ``truncated-json``: a 200 whose JSON body is cut short;
* ``latency-spikes``: 20% of responses delayed by 50 ms (5% in ``everything``; bounded in time);
* ``concurrency-limit-5``: the sandbox allows 5 requests in flight, the loader sends 8;
* ``everything``: all of the above at once, at lower rates.

Retries do not really wait: ``RetryPolicy(sleep=Delays())`` records the delays it asked
for. The sandbox counts the faults it injected (``Sandbox.injected``) but not latency
spikes, so the fleet wraps each sandbox's fault decision to count the decisions whose
delay exceeds the base latency (instrumentation only; the decision is unchanged).
Which request meets the concurrency limit depends on thread timing, so counts under
that limit vary slightly between runs; the verdicts do not.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from chaos.needles import Needles
from chaos.truth import NOW, SANDBOXES, Delays, family_truth, in_range
from connect_notebook import ConnectNotebookError, RetryPolicy, load_calls
from connect_notebook._kernel import app_for_sandbox
from connect_notebook.sandbox import Faults, Profile, Sandbox

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
# The errors a load may end with once its retries ran out: one per kind of fault that is retried.
CLEAR_ERRORS = ("RateLimitError", "ServerError", "TransportError")
# Sandbox.injected's kinds (plus the spikes the fleet counts), and how the figures name them.
FAULT_KINDS = {
    "rate_limit": "429",
    "server_error": "5xx",
    "reset": "resets",
    "truncate": "truncated",
    "concurrency_limit": "concurrency limit",
    "latency_spike": "latency spikes",
}
# Shrinking goes to the first: the family (three accounts, one closed) is the most telling small sandbox.
SANDBOX_ORDER = ("family", "small", "paged", "wide")
ATTEMPTS = (2, 3, 4, 6, 8, 12)
CONCURRENCY = (1, 3, 8)
SPIKE = {"spike_rate": 0.05, "spike_latency": 0.05}  # small, so that loads stay bounded in time


# --- what one load is -----------------------------------------------------------------


@dataclass(frozen=True)
class LoadSpec:
    """One load: which scenario, where, which faults, which range, how many tries."""

    scenario: str
    sandbox: str
    faults: dict[str, Any]
    attempts: int
    concurrency: int
    start: datetime
    end: datetime

    def describe(self) -> str:
        """One line for assertion messages: everything needed to run this load again."""
        knobs = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.faults.items())
        return (
            f"[{self.scenario}] sandbox={self.sandbox} {self.start:%m-%d %H:%M:%S}..{self.end:%m-%d %H:%M:%S} "
            f"attempts={self.attempts} concurrency={self.concurrency} faults({knobs})"
        )


def _rate(low: int, high: int) -> st.SearchStrategy[float]:
    """A probability between ``low`` and ``high`` percent, in whole percents (shrinks to ``low``)."""
    return st.integers(low, high).map(lambda percent: percent / 100)


def scenario_faults(scenario: str) -> st.SearchStrategy[dict[str, Any]]:
    """The ``Faults`` settings of a scenario, without the seed (rates as the old seeded plan drew them)."""
    if scenario == "429-storm-retry-after-0":
        return st.fixed_dictionaries({"rate_limit": _rate(20, 50), "retry_after": st.just(0.0)})
    if scenario == "429-storm-backoff":
        return st.fixed_dictionaries({"rate_limit": _rate(20, 50)})
    if scenario == "5xx":
        return st.fixed_dictionaries({"server_error": _rate(10, 40)})
    if scenario == "reset-mid-body":
        return st.fixed_dictionaries({"reset": _rate(10, 40)})
    if scenario == "truncated-json":
        return st.fixed_dictionaries({"truncate": _rate(10, 40)})
    if scenario == "latency-spikes":
        # A load sends about ten requests: one in five spikes, so nearly every such load meets some.
        return st.just({"latency": 0.001, "spike_rate": 0.2, "spike_latency": 0.05})
    if scenario == "concurrency-limit-5":
        # Some base latency, so that eight windows really are in flight together.
        return st.just({"latency": 0.02, "concurrency_limit": 5})
    if scenario == "everything":
        return st.fixed_dictionaries(
            {
                "rate_limit": _rate(5, 20),
                "retry_after": st.sampled_from((0.0, None)),
                "server_error": _rate(2, 10),
                "reset": _rate(2, 10),
                "truncate": _rate(2, 10),
                "latency": st.just(0.002),
                **{name: st.just(value) for name, value in SPIKE.items()},
                "concurrency_limit": st.just(5),
            }
        )
    msg = f"unknown scenario {scenario!r}; use one of {', '.join(SCENARIOS)}"
    raise ValueError(msg)


@st.composite
def load_specs(draw: st.DrawFn, scenario: str) -> LoadSpec:
    """A load of ``scenario``: the old plan's constraints, drawn so that a failure shrinks to a small load.

    A concurrency limit needs more windows than it allows (the ``wide`` sandbox, eight
    workers) and spikes need enough requests to land on, so both read the whole ``wide``
    history. Otherwise: any sandbox, the whole history or instants inside it (to the
    second, at least half of it).
    """
    faults = {"seed": draw(st.integers(0, 2**31 - 1)), **draw(scenario_faults(scenario))}
    limited = faults.get("concurrency_limit") is not None
    whole = limited or scenario == "latency-spikes"
    name = "wide" if whole else draw(st.sampled_from(SANDBOX_ORDER))
    now = datetime.fromisoformat(NOW)
    first = now - timedelta(days=SANDBOXES[name][2])
    start, end = first, now
    if not whole and draw(st.booleans()):
        span = int((now - first).total_seconds())
        a = draw(st.integers(0, span // 2 - 1))
        b = draw(st.integers(a + span // 2, span - 1))
        start, end = first + timedelta(seconds=a), first + timedelta(seconds=b)
    return LoadSpec(
        scenario=scenario,
        sandbox=name,
        faults=faults,
        attempts=draw(st.sampled_from(ATTEMPTS)),
        concurrency=8 if limited else draw(st.sampled_from(CONCURRENCY)),
        start=start,
        end=end,
    )


# --- the sandboxes ------------------------------------------------------------------


@dataclass
class Fleet:
    """The running sandboxes, their one customer's typed ground truth, a spike counter and token needles."""

    sandboxes: dict[str, Sandbox] = field(default_factory=dict)
    truth: dict[str, pl.DataFrame] = field(default_factory=dict)  # built once per sandbox
    spikes: Counter[str] = field(default_factory=Counter)
    needles: dict[str, Needles] = field(default_factory=dict)

    def customer(self, name: str) -> str:
        """The main account of the sandbox's one customer."""
        return self.sandboxes[name].customer_account_sids[0]


def _count_spikes(fleet: Fleet, name: str, sb: Sandbox) -> None:
    """Count the sandbox's latency spikes: decisions whose delay exceeds the base latency."""
    injector = sb.state.faults  # reset() keeps this object, so the wrapper outlives every reset
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
            fleet.needles[name] = Needles(sb.owner_auth_token)
            _count_spikes(fleet, name, sb)
        yield fleet
    finally:
        for sb in fleet.sandboxes.values():
            sb.stop()


# --- one load -------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one load did, and how it compares with the ground truth."""

    spec: LoadSpec
    expected_rows: int
    returned_rows: int | None = None  # None: the load raised
    difference: str | None = None  # why the returned frame differs from the ground truth
    error: str | None = None  # the exception's class name
    message: str = ""  # its message, the owner's token masked
    clear: bool = False  # a ConnectNotebookError of CLEAR_ERRORS naming the page and the tries
    unexpected: bool = False  # an exception that is not a ConnectNotebookError
    lost: int = 0
    duplicated: int = 0
    extra: int = 0
    max_tries: int = 0  # the most times one request line was sent
    injected: dict[str, int] = field(default_factory=dict)
    waited: float = 0.0  # seconds of backoff asked for (recorded, not slept)

    @property
    def equal(self) -> bool:
        """The load returned a frame equal to the ground truth."""
        return self.returned_rows is not None and self.difference is None

    @property
    def partial(self) -> bool:
        """The load returned a frame that misses rows of the ground truth."""
        return self.returned_rows is not None and self.lost > 0


def names_the_page(message: str, spec: LoadSpec) -> bool:
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


def compare_rows(outcome: Outcome, frame: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Count the SIDs a returned frame lost, duplicated or added, and say how it differs, if it does."""
    sids = frame["sid"].to_list()
    expected_sids = set(expected["sid"].to_list())
    outcome.returned_rows = frame.height
    outcome.duplicated = len(sids) - len(set(sids))
    outcome.lost = len(expected_sids - set(sids))
    outcome.extra = len(set(sids) - expected_sids)
    try:
        assert_frame_equal(frame, expected)
    except AssertionError as exc:
        outcome.difference = str(exc)


def run_load(spec: LoadSpec, fleet: Fleet) -> Outcome:
    """Run one load with its faults on and compare it with the ground truth (nothing asserted here)."""
    sb = fleet.sandboxes[spec.sandbox]
    customer = fleet.customer(spec.sandbox)
    sb.reset()  # fresh fault and request counters; then authorize again and set this load's faults
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
        outcome.error, outcome.message = type(exc).__name__, fleet.needles[spec.sandbox].mask(str(exc))
        outcome.clear = outcome.error in CLEAR_ERRORS and names_the_page(outcome.message, spec)
    except Exception as exc:  # noqa: BLE001 - anything else is a finding, asserted by the property
        outcome.error, outcome.message = type(exc).__name__, fleet.needles[spec.sandbox].mask(str(exc))
        outcome.unexpected = True
    injected = {**sb.injected, "latency_spike": fleet.spikes[spec.sandbox] - spikes_before}
    outcome.injected = {k: v for k, v in injected.items() if v}
    outcome.max_tries = max(sb.requests.values(), default=0)
    outcome.waited = sum(delays)
    if frame is not None:
        compare_rows(outcome, frame, expected)
    return outcome
