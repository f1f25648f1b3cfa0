"""Hostile servers: seeded loads against sandboxes that send links elsewhere, loops, echoed secrets, odd Retry-After.

Run: ``python bench/chaos_hostile.py [--quick] [--loads N] [--seed 1] [--json out.json]``.

Each load picks, from the seed, a loader (``load_calls``, ``load_messages``,
``load_alerts`` as the owner, whose own AccountSid Monitor answers for, or
``accounts``), a hostile scenario, a sandbox and a retry budget, and runs against a
sandbox on 127.0.0.1 with the sandbox's hostile faults on (``Faults`` documents each):

* ``foreign-link``: next links (``next_page_uri``, Monitor's ``meta.next_page_url``)
  point at another origin, spelled absolute, ``http://api@other/…`` or ``//other/…``;
* ``self-link``: a page's next link is the page itself;
* ``echo-auth``: 429 / 5xx bodies whose ``message`` quotes the request's
  ``Authorization`` header and the password it decodes to;
* ``odd-retry-after``: 429s whose ``Retry-After`` is an RFC 9110 HTTP-date in one of
  its three forms, or ``nan``, ``-5``, ``1e9``, ``soon``, empty, …;
* ``mix``: all of them at lower rates, with 429s, 5xx and connection resets.

``accounts()`` takes no ``RetryPolicy``, so a 429 or 5xx there would really sleep:
its loads meet only the link faults (``foreign-link``, ``self-link`` and ``mix``).

The other origin is real: two recording listeners this script runs (one on another
loopback address, 127.0.0.2, where the system routes it; one on another port of
127.0.0.1), and a third port where nothing listens (a refused connection). The
listeners answer any request with an empty last page, as a hostile host would, so a
client that follows them returns a short frame rather than an error. Each request
they get is counted, with whether it carried an ``Authorization`` header and whether
that header holds the owner's token.

Each load runs on a daemon thread and is waited for with a hang guard: the load
ends, or it sends more than ``BUDGET`` requests (sandbox and listeners together),
or ``--hang-after`` seconds pass. A load that did not end is counted as not
finished; its sandbox is then stopped, which makes the stuck load's next request
fail, and a fresh sandbox with the same seed takes its place.

Every exception a load raises is scanned, with ``bench/chaos_secrets.py``'s
``Needles`` (the token, its 12-character slices, its hex and its base64 in every
alignment, so the ``Basic`` header too), in four places: its text (``str`` and
``repr``), its ``__cause__`` / ``__context__`` chain, ``traceback.format_exception``
(and IPython's Context traceback), and the objects reachable from its attributes
and its chain's (an ``httpx.Request`` keeps the headers it was sent with).

Retries do not really wait: ``RetryPolicy(sleep=...)`` records the delays, and
refuses the ones ``time.sleep`` would refuse (NaN, negative, too large), so a delay
computed from ``Retry-After: nan`` fails here as it would for real.

Printed: loads; loads equal to the ground truth (the sandbox's own records, typed
without the package's decoders for calls, by SID for the others); wrong frames;
clear errors (``ConnectNotebookError`` subclasses) and other errors, by class;
requests that reached the other origin and how many carried credentials; exceptions
whose text, chain, traceback or attributes hold the token; loads that did not
finish; requests per load. Exits 1 if a credential reached the other origin, a
secret appeared in an exception, or a load did not finish.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import gc
import json
import math
import os
import random
import socket
import sys
import threading
import time
import types
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import tornado.web
from polars.testing import assert_frame_equal

ROOT = Path(__file__).resolve().parents[1]
if not __package__:  # run as a script: make ``bench`` importable, as the tests see it
    sys.path.insert(0, str(ROOT))

from bench import chaos_loads, chaos_secrets  # noqa: E402
from connect_notebook import (  # noqa: E402
    ConnectNotebookError,
    RetryPolicy,
    accounts,
    load_alerts,
    load_calls,
    load_messages,
)
from connect_notebook._kernel import app_for_sandbox  # noqa: E402
from connect_notebook._serving import ServerThread  # noqa: E402
from connect_notebook.sandbox import Faults, Profile, Sandbox  # noqa: E402

NOW = chaos_loads.NOW  # every sandbox's pinned clock
SCENARIOS = ("foreign-link", "self-link", "echo-auth", "odd-retry-after", "mix")
LOADERS = ("load_calls", "load_messages", "load_alerts", "accounts")
# Which loaders meet each scenario (see the module docstring about accounts()).
LOADERS_OF = {s: LOADERS if s in ("foreign-link", "self-link", "mix") else LOADERS[:3] for s in SCENARIOS}
SANDBOXES = ("paged", "family")  # from chaos_loads.SANDBOXES: two pages a day; a family of three accounts
TARGETS = ("other-host", "other-port", "refused")  # where foreign links point
QUICK_LOADS, FULL_LOADS = 15, 100
# A load here needs at most a few hundred requests (ten pages, each tried at most six times, and the
# accounts and usage pages that plan them); a client that follows a self-link sends thousands a second.
BUDGET = 1_000
HANG_AFTER = 60.0  # seconds; a hang guard (a load here takes well under a second), never a measurement
FAULT_KINDS = ("foreign_link", "self_link", "echo_auth", "odd_retry_after", "rate_limit", "server_error", "reset")
PLACES = ("text", "chain", "traceback", "attributes")


# --- the plan ----------------------------------------------------------------------


@dataclass(frozen=True)
class HostileSpec:
    """One seeded load: which loader, against which sandbox, meeting which hostile faults."""

    index: int
    scenario: str
    loader: str
    sandbox: str
    target: str  # where foreign links point (TARGETS)
    faults: dict[str, Any]
    attempts: int
    concurrency: int

    def describe(self) -> str:
        knobs = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.faults.items())
        return (
            f"load {self.index} [{self.scenario}] {self.loader} sandbox={self.sandbox} target={self.target} "
            f"attempts={self.attempts} concurrency={self.concurrency} faults({knobs})"
        )


def _scenario_faults(scenario: str, loader: str, rng: random.Random) -> dict[str, Any]:
    def p(lo: float, hi: float) -> float:
        return round(rng.uniform(lo, hi), 2)

    if scenario == "foreign-link":
        return {"foreign_link": p(0.3, 1.0)}
    if scenario == "self-link":
        return {"self_link": p(0.3, 1.0)}
    if scenario == "echo-auth":
        # Heavy enough that some requests exhaust their few tries, so the echoed body reaches an exception.
        return {"echo_auth": 1.0, "server_error": p(0.3, 0.5), "rate_limit": p(0.2, 0.4), "retry_after": 0.0}
    if scenario == "odd-retry-after":
        # A load sends a handful of requests: enough 429s that most of the odd values come round.
        return {"odd_retry_after": 1.0, "rate_limit": p(0.4, 0.7)}
    links = {"foreign_link": p(0.05, 0.2), "self_link": p(0.05, 0.2)}
    if loader == "accounts":
        return links
    return {
        **links,
        "echo_auth": 0.5,
        "odd_retry_after": 0.5,
        "rate_limit": p(0.05, 0.15),
        "server_error": p(0.05, 0.15),
        "reset": p(0.02, 0.08),
    }


def plan(loads: int, seed: int) -> list[HostileSpec]:
    """The seeded loads; every scenario comes round once in each run of len(SCENARIOS), and loaders in turn."""
    rng = random.Random(seed)
    specs: list[HostileSpec] = []
    order: list[str] = []
    loaders: list[str] = []
    targets: list[str] = []
    for index in range(loads):
        if not order:
            order = list(SCENARIOS)
            rng.shuffle(order)
        scenario = order.pop()
        # The next loader not yet used in this round that the scenario allows (a new round when none is left).
        allowed = [name for name in loaders if name in LOADERS_OF[scenario]]
        if not allowed:
            loaders += rng.sample(LOADERS, len(LOADERS))
            allowed = [name for name in loaders if name in LOADERS_OF[scenario]]
        loader = allowed[0]
        loaders.remove(loader)
        # Foreign links point at each of the other origins in turn.
        if not targets:
            targets = rng.sample(TARGETS, len(TARGETS))
        target = targets.pop() if scenario in ("foreign-link", "mix") else "other-host"
        specs.append(
            HostileSpec(
                index=index,
                scenario=scenario,
                loader=loader,
                sandbox=rng.choice(SANDBOXES),
                target=target,
                faults={"seed": rng.randrange(2**31), **_scenario_faults(scenario, loader, rng)},
                attempts=rng.choice((2, 3) if scenario == "echo-auth" else (2, 3, 4, 6)),
                concurrency=rng.choice((1, 4, 8)),
            )
        )
    return specs


# --- the other origin --------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One request that reached a listener."""

    load: int
    listener: str
    uri: str
    authorization: bool  # an Authorization header came with it
    owner_token: bool  # and it holds the owner's token


class _Hostile(tornado.web.RequestHandler):
    """Records a request and answers with an empty last page, in the style of the path asked for."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")

    def initialize(self, origin: Origin) -> None:
        self.origin = origin

    def prepare(self) -> None:
        self.origin.record(self.request.uri or "", self.request.headers.get("Authorization"))
        path = self.request.path
        if path.startswith("/v1/"):
            meta = {"key": "alerts", "next_page_url": None, "page": 0, "page_size": 1000}
            self.finish({"alerts": [], "meta": meta})
            return
        key = {"Calls.json": "calls", "Messages.json": "messages", "Accounts.json": "accounts"}.get(
            path.rsplit("/", 1)[-1], "usage_records"
        )
        self.finish({key: [], "next_page_uri": None, "page": 0, "page_size": 1000, "uri": self.request.uri})


class Origin:
    """Another origin the foreign links point at: a recording listener, or a port where nothing listens."""

    def __init__(self, name: str, host: str, *, listen: bool, fleet: Fleet) -> None:
        self.name = name
        self.fleet = fleet
        self._server: ServerThread | None = None
        if listen:
            app = tornado.web.Application([(r".*", _Hostile, {"origin": self})])
            self._server = ServerThread(app, host=host, name=f"chaos-hostile-{name}").start()
            port = self._server.port
        else:
            # A port that was free a moment ago: nothing listens on it, so connecting is refused.
            with socket.socket() as probe:
                probe.bind((host, 0))
                port = probe.getsockname()[1]
        self.url = f"http://{host}:{port}"
        self.listens = listen

    def record(self, uri: str, authorization: str | None) -> None:
        """Called on the listener's thread for each request."""
        fleet = self.fleet
        arrival = Arrival(fleet.load_index, self.name, uri, authorization is not None, fleet.holds_token(authorization))
        with fleet.lock:
            fleet.arrivals.append(arrival)
        if fleet.guard is not None:
            fleet.guard.request()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


def _other_host() -> str:
    """127.0.0.2 where the system routes all of 127/8 to loopback (Linux), else 127.0.0.1 (another port)."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        return "127.0.0.1"
    return "127.0.0.2"


# --- the sandboxes -----------------------------------------------------------------


class Guard:
    """One load's request count; wakes the waiting thread when the load ends or exceeds the budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.requests = 0
        self.over = False
        self.finished = threading.Event()
        self.wake = threading.Event()
        self._lock = threading.Lock()

    def request(self) -> None:
        with self._lock:
            self.requests += 1
            if self.requests > self.budget:
                self.over = True
                self.wake.set()


@dataclass
class Truth:
    """What a load of each kind must return from one sandbox (its data is fixed by the seed)."""

    calls: pl.DataFrame
    messages: list[str]  # message SIDs of the family, sorted
    alerts: list[str]  # the owner's alert SIDs (Monitor's 30 days), sorted
    accounts: list[str]  # the family's SIDs, sorted


@dataclass
class Fleet:
    """The sandboxes (replaced after a stuck load), their ground truth, the other origins and what reached them."""

    sandboxes: dict[str, Sandbox] = field(default_factory=dict)
    truth: dict[str, Truth] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    guard: Guard | None = None
    load_index: int = -1
    replaced: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def customer(self, name: str) -> str:
        return self.sandboxes[name].customer_account_sids[0]

    def holds_token(self, authorization: str | None) -> bool:
        """Whether an Authorization header holds one of the owners' tokens (Basic, or anywhere in it)."""
        if not authorization:
            return False
        _, _, encoded = authorization.partition(" ")
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("latin-1")
        except (binascii.Error, ValueError):
            decoded = ""
        return any(token in decoded or token in authorization for token in self.tokens)

    def start(self, name: str) -> Sandbox:
        """Start sandbox ``name`` (as chaos_loads defines it) and count its API requests into the current guard."""
        seed, calls, days, subaccounts, closed = chaos_loads.SANDBOXES[name]
        customer = Profile(
            name=name.title(), pattern="dense", days=days, calls=calls, subaccounts=subaccounts, closed=closed
        )
        sb = Sandbox(seed=seed, customers=[customer], now=NOW).start()
        injector = sb.state.faults
        note = injector.note

        def counting(request_line: str) -> None:
            note(request_line)
            guard = self.guard
            if guard is not None:
                guard.request()  # instrumentation only: the request is served as before

        injector.note = counting  # type: ignore[method-assign]
        self.sandboxes[name] = sb
        self.tokens.add(sb.owner_auth_token)
        return sb

    def replace(self, name: str) -> None:
        """Stop a sandbox a stuck load is still talking to (its next request then fails) and start a fresh one."""
        self.sandboxes.pop(name).stop()
        self.start(name)
        self.replaced += 1


def _alert_sids(sb: Sandbox) -> list[str]:
    """The owner's alerts, paged through with plain httpx while no fault is on."""
    sids: list[str] = []
    url: str | None = f"{sb.api_url}/v1/Alerts?PageSize=1000"
    with httpx.Client(auth=(sb.owner_account_sid, sb.owner_auth_token)) as client:
        while url:
            page = client.get(url).raise_for_status().json()
            sids += [a["sid"] for a in page["alerts"]]
            url = page["meta"]["next_page_url"]
    return sorted(sids)


def _truth(sb: Sandbox, customer: str, days: int) -> Truth:
    start, end = _span(days)
    messages = [
        m["sid"]
        for sid in sb.family(customer)
        for m in sb.messages(sid)
        if start <= parsedate_to_datetime(m["date_sent"]) < end
    ]
    return Truth(
        calls=chaos_loads.in_range(chaos_loads.family_truth(sb, customer), start, end),
        messages=sorted(messages),
        alerts=_alert_sids(sb),
        accounts=sorted(sb.family(customer)),
    )


def _span(days: int) -> tuple[datetime, datetime]:
    """The whole history of a sandbox: ``days`` before its pinned clock, up to it."""
    now = datetime.fromisoformat(NOW)
    return now - timedelta(days=days), now


@contextmanager
def fleet_of_sandboxes() -> Iterator[Fleet]:
    """Start the sandboxes and the other origins on loopback; stop them all afterwards."""
    fleet = Fleet()
    try:
        for name in SANDBOXES:
            sb = fleet.start(name)
            customer = fleet.customer(name)
            sb.authorize(customer)  # so the family includes the Connect subaccount, as the loads see it
            fleet.truth[name] = _truth(sb, customer, chaos_loads.SANDBOXES[name][2])
        other = _other_host()
        fleet.origins["other-host"] = Origin("other-host", other, listen=True, fleet=fleet)
        fleet.origins["other-port"] = Origin("other-port", "127.0.0.1", listen=True, fleet=fleet)
        fleet.origins["refused"] = Origin("refused", "127.0.0.1", listen=False, fleet=fleet)
        yield fleet
    finally:
        for sb in fleet.sandboxes.values():
            sb.stop()
        for origin in fleet.origins.values():
            origin.stop()


# --- secrets in exceptions ---------------------------------------------------------


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception reachable through ``__cause__``, ``__context__`` and exception groups."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        current = todo.pop()
        if any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
        if isinstance(current, BaseExceptionGroup):
            todo += list(current.exceptions)
    return seen


_OPAQUE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType, type, types.FrameType)


def reachable_texts(roots: list[Any], limit: int = 20_000) -> Iterator[str]:
    """Every string and bytes reachable from ``roots`` through attributes, slots and containers.

    An ``httpx.Request`` shows ``[secure]`` for its Authorization header in ``repr``, but
    keeps the header's bytes, and that is what a user (or a log handler) can reach.
    """
    seen: set[int] = set()
    todo = list(roots)
    while todo and len(seen) < limit:
        obj = todo.pop()
        if id(obj) in seen or obj is None or isinstance(obj, (bool, int, float, complex, *_OPAQUE)):
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            yield obj
        elif isinstance(obj, bytes | bytearray | memoryview):
            yield bytes(obj).decode("latin-1")
        elif isinstance(obj, dict):
            todo += [*obj.keys(), *obj.values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            todo += list(obj)
        elif isinstance(obj, pl.DataFrame | pl.LazyFrame | types.TracebackType):
            continue
        else:
            todo += list(getattr(obj, "__dict__", {}).values())
            for cls in type(obj).__mro__:
                for slot in getattr(cls, "__slots__", ()):
                    if isinstance(slot, str) and hasattr(obj, slot):
                        todo.append(getattr(obj, slot))


@dataclass
class Leak:
    """Where one exception showed a secret (occurrences per place)."""

    found: Counter[str] = field(default_factory=Counter)
    where: list[str] = field(default_factory=list)  # masked excerpts


def scan_exception(exc: BaseException, needles: chaos_secrets.Needles) -> Leak:
    """Occurrences of the owner's token in everything an exception shows or holds (see PLACES)."""
    leak = Leak()

    def add(place: str, label: str, text: str) -> None:
        n = needles.count(text)
        if n:
            leak.found[place] += n
            # Mask first, then cut: a cut through the token's base64 would no longer match the mask.
            masked = needles.mask(text)
            at = masked.find("<TOKEN>")
            leak.where.append(f"{place} ({label}): …{masked[max(0, at - 60) : at + 80]!r}…")

    chain = _chain(exc)
    for i, current in enumerate(chain):
        name = type(current).__name__
        for label, text in chaos_secrets.exception_texts(current):
            if label in ("str", "repr"):
                add("text" if i == 0 else "chain", f"{name} {label}", text)
            elif label == "attributes":
                add("attributes", f"{name} {label}", text)
            elif i == 0:  # the top exception's tracebacks already print the whole chain
                add("traceback", label, text)
        roots = [current.args, *vars(current).values()] if hasattr(current, "__dict__") else [current.args]
        for text in reachable_texts(roots):
            add("attributes", f"reachable from {name}", text)
    return leak


# --- one load ----------------------------------------------------------------------


class StrictDelays(chaos_loads.Delays):
    """Records the delays a RetryPolicy asks for, refusing what ``time.sleep`` would refuse."""

    def __call__(self, seconds: float) -> None:
        if isinstance(seconds, float) and math.isnan(seconds):
            msg = "Invalid value NaN (not a number)"  # time.sleep's own words
            raise ValueError(msg)
        if seconds < 0:
            msg = "sleep length must be non-negative"
            raise ValueError(msg)
        if seconds > threading.TIMEOUT_MAX:
            msg = "timestamp too large to convert to C _PyTime_t"
            raise OverflowError(msg)
        super().__call__(seconds)


@dataclass
class Outcome:
    """What one load did."""

    spec: HostileSpec
    finished: bool = True
    stopped_on: str | None = None  # "budget" or "hang guard" when it did not finish
    still_running: bool = False  # even after its sandbox was stopped
    equal: bool = False
    wrong_frame: str | None = None  # how a returned frame differs from the ground truth
    error: str | None = None  # class name of what it raised
    clear: bool = False  # a ConnectNotebookError
    message: str = ""  # masked
    requests: int = 0
    arrivals: list[Arrival] = field(default_factory=list)
    raised: bool = False  # it raised (finished or, once its sandbox stopped, not)
    leaks: Counter[str] = field(default_factory=Counter)  # place -> occurrences
    leak_where: list[str] = field(default_factory=list)
    injected: dict[str, int] = field(default_factory=dict)
    longest_delay: float = 0.0


def _call(spec: HostileSpec, sb: Sandbox, connected: str, retry: RetryPolicy) -> Callable[[], pl.DataFrame]:
    app = app_for_sandbox(sb)
    start, end = _span(chaos_loads.SANDBOXES[spec.sandbox][2])
    common = {"app": app, "start": start, "end": end, "concurrency": spec.concurrency, "retry": retry}
    if spec.loader == "load_calls":
        return lambda: load_calls(connected, progress=False, **common)
    if spec.loader == "load_messages":
        return lambda: load_messages(connected, progress=False, **common)
    if spec.loader == "load_alerts":
        return lambda: load_alerts(sb.owner_account_sid, app=app, retry=retry)
    return lambda: accounts(connected, app=app)


def _compare(spec: HostileSpec, frame: pl.DataFrame, truth: Truth) -> str | None:
    """None if ``frame`` is what the load must return, else how it differs."""
    if spec.loader == "load_calls":
        try:
            assert_frame_equal(frame, truth.calls)
        except AssertionError as exc:
            return f"{frame.height} rows, expected {truth.calls.height}: {str(exc).splitlines()[0]}"
        return None
    expected = {"load_messages": truth.messages, "load_alerts": truth.alerts, "accounts": truth.accounts}[spec.loader]
    got = sorted(frame["sid"].to_list())
    return None if got == expected else f"{len(got)} rows ({len(set(got))} SIDs), expected {len(expected)}"


def run_load(spec: HostileSpec, fleet: Fleet, *, hang_after: float, budget: int = BUDGET) -> Outcome:
    """Run one load on a daemon thread with the hang guard, then judge it (see the module docstring)."""
    sb = fleet.sandboxes[spec.sandbox]
    sb.reset()  # fresh fault counters; then authorize again and set this load's faults
    connected = sb.authorize(fleet.customer(spec.sandbox))
    sb.faults = Faults(**spec.faults, foreign_origin=fleet.origins[spec.target].url)
    needles = chaos_secrets.Needles(sb.owner_auth_token, (sb.owner_account_sid, connected))
    delays = StrictDelays()
    retry = RetryPolicy(attempts=spec.attempts, sleep=delays, rng=random.Random(spec.faults["seed"]))
    call = _call(spec, sb, connected, retry)
    guard = Guard(budget)
    with fleet.lock:
        fleet.guard, fleet.load_index = guard, spec.index
        first_arrival = len(fleet.arrivals)
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["frame"] = call()
        except BaseException as exc:  # noqa: BLE001 - every exception is judged and scanned below
            result["error"] = exc
        finally:
            guard.finished.set()
            guard.wake.set()

    worker = threading.Thread(target=work, name=f"chaos-hostile-load-{spec.index}", daemon=True)
    worker.start()
    guard.wake.wait(hang_after)  # the hang guard: woken by the end of the load, or by the budget
    outcome = Outcome(spec, injected={k: v for k, v in sb.injected.items() if v})
    if not guard.finished.is_set():
        outcome.finished = False
        outcome.stopped_on = "budget" if guard.over else "hang guard"
        fleet.replace(spec.sandbox)  # the stuck load's next request is refused, so it should end now
        worker.join(hang_after)  # a guard again
        outcome.still_running = worker.is_alive()
    with fleet.lock:
        fleet.guard = None
        outcome.arrivals = fleet.arrivals[first_arrival:]
    outcome.requests = guard.requests
    outcome.longest_delay = max(delays, default=0.0)
    error: BaseException | None = result.get("error")
    if error is not None:
        # Scanned even when the load was cut off: it is still an exception the client raised.
        leak = scan_exception(error, needles)
        outcome.raised = True
        outcome.leaks, outcome.leak_where = leak.found, leak.where
    if error is not None and outcome.finished:
        outcome.error = type(error).__name__
        outcome.clear = isinstance(error, ConnectNotebookError)
        outcome.message = needles.mask(str(error))[:300]
    elif outcome.finished:
        outcome.wrong_frame = _compare(spec, result["frame"], fleet.truth[spec.sandbox])
        outcome.equal = outcome.wrong_frame is None
    return outcome


# --- the run -----------------------------------------------------------------------


def summarize(outcomes: list[Outcome], seconds: float, fleet: Fleet) -> dict[str, Any]:
    """The figures of a run (see the module docstring)."""
    finished = [o for o in outcomes if o.finished]
    arrivals = [a for o in outcomes for a in o.arrivals]
    injected: Counter[str] = Counter()
    for o in outcomes:
        injected.update(o.injected)
    scanned = [o for o in outcomes if o.raised]

    def rows(key: Callable[[Outcome], str], names: tuple[str, ...]) -> dict[str, dict[str, int]]:
        return {
            name: {
                "loads": sum(key(o) == name for o in outcomes),
                "equal": sum(o.equal for o in outcomes if key(o) == name),
                "clear": sum(o.clear for o in outcomes if key(o) == name),
                "other": sum(bool(o.error and not o.clear) or bool(o.wrong_frame) for o in outcomes if key(o) == name),
                "unfinished": sum(not o.finished for o in outcomes if key(o) == name),
                "foreign": sum(len(o.arrivals) for o in outcomes if key(o) == name),
                "leaky": sum(bool(o.leaks) for o in outcomes if key(o) == name),
            }
            for name in names
        }

    problems = []
    for o in outcomes:
        if not o.finished:
            problems.append(f"{o.spec.describe()}: did not finish ({o.stopped_on}, {o.requests} requests)")
        if o.error and not o.clear:
            problems.append(f"{o.spec.describe()}: unclear {o.error}: {o.message}")
        if o.wrong_frame:
            problems.append(f"{o.spec.describe()}: returned a wrong frame: {o.wrong_frame}")
        if any(a.authorization for a in o.arrivals):
            hosts = sorted({a.listener for a in o.arrivals if a.authorization})
            problems.append(f"{o.spec.describe()}: sent credentials to {', '.join(hosts)}")
        if o.leaks:
            problems.append(
                f"{o.spec.describe()}: its exception shows the token in {', '.join(sorted(o.leaks))}: {o.leak_where[0]}"
            )
    return {
        "loads": len(outcomes),
        "equal_to_ground_truth": sum(o.equal for o in outcomes),
        "wrong_frames": sum(bool(o.wrong_frame) for o in outcomes),
        "clear_errors": dict(sorted(Counter(o.error for o in outcomes if o.clear).items())),
        "unclear_errors": dict(sorted(Counter(o.error for o in outcomes if o.error and not o.clear).items())),
        "foreign_requests": len(arrivals),
        "foreign_requests_by_origin": {
            name: sum(a.listener == name for a in arrivals) for name in TARGETS if fleet.origins[name].listens
        },
        "foreign_requests_with_authorization": sum(a.authorization for a in arrivals),
        "foreign_requests_with_owner_token": sum(a.owner_token for a in arrivals),
        "loads_that_sent_credentials_off_origin": sum(any(a.authorization for a in o.arrivals) for o in outcomes),
        "origins": {name: origin.url for name, origin in fleet.origins.items()},
        "exceptions_scanned": len(scanned),
        "exceptions_showing_the_token": {p: sum(o.leaks[p] > 0 for o in scanned) for p in PLACES},
        "secret_occurrences": sum(sum(o.leaks.values()) for o in scanned),
        "loads_with_a_secret_in_an_exception": sum(bool(o.leaks) for o in scanned),
        "did_not_finish": sum(not o.finished for o in outcomes),
        "did_not_finish_by": dict(sorted(Counter(o.stopped_on for o in outcomes if not o.finished).items())),
        "still_running_after_their_sandbox_stopped": sum(o.still_running for o in outcomes),
        "sandboxes_replaced": fleet.replaced,
        "requests_per_load_max": max((o.requests for o in outcomes), default=0),
        "requests_per_finished_load_max": max((o.requests for o in finished), default=0),
        "longest_delay_asked_seconds": max((o.longest_delay for o in outcomes), default=0.0),
        "faults_injected": {kind: injected.get(kind, 0) for kind in FAULT_KINDS},
        "by_scenario": rows(lambda o: o.spec.scenario, SCENARIOS),
        "by_loader": rows(lambda o: o.spec.loader, LOADERS),
        "problems": problems,
        "seconds": round(seconds, 1),
    }


def controls(fleet: Fleet) -> dict[str, bool]:
    """Checks that the instruments see a secret where one is, so that their zeros mean something.

    Run before the loads, with plain httpx: the scanner finds the token in an echoed error
    body, a listener sees the credentials sent to it, and the attribute walk finds the
    Authorization header an ``httpx.ConnectError`` keeps in its request.
    """
    sb = fleet.sandboxes[SANDBOXES[0]]
    owner = (sb.owner_account_sid, sb.owner_auth_token)
    needles = chaos_secrets.Needles(sb.owner_auth_token, (sb.owner_account_sid,))
    sb.reset()
    sb.faults = Faults(server_error=1.0, echo_auth=1.0)
    with httpx.Client(auth=owner) as client:
        echoed = client.get(f"{sb.api_url}/2010-04-01/Accounts.json").text
        sb.reset()
        with fleet.lock:
            first = len(fleet.arrivals)
        client.get(f"{fleet.origins['other-host'].url}/control")
        with fleet.lock:
            seen = fleet.arrivals[first:]
            del fleet.arrivals[first:]  # a control, not a load's request
        try:
            client.get(f"{fleet.origins['refused'].url}/control")
        except httpx.ConnectError as exc:
            refused: BaseException | None = exc
        else:
            refused = None
    return {
        "scanner sees the token in an echoed body": needles.count(echoed) > 0,
        "listener sees credentials sent to it": any(a.owner_token for a in seen),
        "attribute walk sees an httpx request's header": (
            refused is not None and scan_exception(refused, needles).found["attributes"] > 0
        ),
    }


def run(*, loads: int, seed: int, hang_after: float = HANG_AFTER) -> dict[str, Any]:
    """Run ``loads`` seeded loads against hostile sandboxes and return the figures (see ``summarize``)."""
    began = time.perf_counter()
    with fleet_of_sandboxes() as fleet:
        checked = controls(fleet)
        outcomes = [run_load(spec, fleet, hang_after=hang_after) for spec in plan(loads, seed)]
        figures = summarize(outcomes, time.perf_counter() - began, fleet)
        figures["controls"] = checked
    gc.collect()  # drop the connection pools of the loads before the process reports and exits
    return figures


def verdict(figures: dict[str, Any]) -> list[str]:
    """Why the run fails (empty when it holds): credentials off-origin, secrets shown, loads that never ended."""
    reasons = []
    if figures["foreign_requests_with_authorization"]:
        reasons.append(f"{figures['foreign_requests_with_authorization']} requests carried credentials off-origin")
    if figures["loads_with_a_secret_in_an_exception"]:
        reasons.append(f"{figures['loads_with_a_secret_in_an_exception']} loads raised an exception showing the token")
    if figures["did_not_finish"]:
        reasons.append(f"{figures['did_not_finish']} loads did not finish")
    failed = [name for name, ok in figures["controls"].items() if not ok]
    if failed:
        reasons.append(f"controls failed, so the zeros above prove nothing: {'; '.join(failed)}")
    return reasons


def format_table(figures: dict[str, Any]) -> str:
    """The figures as a small plain-text table."""
    w = 48

    def line(label: str, value: object) -> str:
        return f"{label:<{w}}{value!s:>10}"

    clear, unclear = figures["clear_errors"], figures["unclear_errors"]
    lines = [
        line("loads", figures["loads"]),
        line("  equal to the ground truth", figures["equal_to_ground_truth"]),
        line("  returned a wrong frame", figures["wrong_frames"]),
        line("  clear error (ConnectNotebookError)", sum(clear.values())),
        *(line(f"    {name}", n) for name, n in clear.items()),
        line("  unclear error (anything else)", sum(unclear.values())),
        *(line(f"    {name}", n) for name, n in unclear.items()),
        line("  did not finish", figures["did_not_finish"]),
        *(line(f"    stopped by the {why}", n) for why, n in figures["did_not_finish_by"].items()),
        line("    still running after their sandbox stopped", figures["still_running_after_their_sandbox_stopped"]),
        line("requests that reached the other origin", figures["foreign_requests"]),
        *(
            line(f"  at {figures['origins'][name]} ({name})", n)
            for name, n in figures["foreign_requests_by_origin"].items()
        ),
        line("  with an Authorization header", figures["foreign_requests_with_authorization"]),
        line("  holding the owner's token", figures["foreign_requests_with_owner_token"]),
        line("  loads that sent credentials there", figures["loads_that_sent_credentials_off_origin"]),
        line("exceptions scanned", figures["exceptions_scanned"]),
        *(line(f"  showing the token in {place}", n) for place, n in figures["exceptions_showing_the_token"].items()),
        line("  occurrences of the token", figures["secret_occurrences"]),
        line("requests per load, max", figures["requests_per_load_max"]),
        line("requests per finished load, max", figures["requests_per_finished_load_max"]),
        line("longest retry delay asked (not slept), s", f"{figures['longest_delay_asked_seconds']:g}"),
        "faults injected",
        *(line(f"  {kind}", f"{n:,}") for kind, n in figures["faults_injected"].items()),
        line("wall time, s", figures["seconds"]),
        "controls (each must be yes)",
        *(line(f"  {name}", "yes" if ok else "NO") for name, ok in figures["controls"].items()),
    ]
    header = f"{'':<18}{'loads':>6}{'equal':>6}{'clear':>6}{'other':>6}{'stuck':>6}{'sent':>6}{'leaky':>6}"
    for title, table in (("scenario", figures["by_scenario"]), ("loader", figures["by_loader"])):
        lines += ["", title + header[len(title) :]]
        lines += [
            f"{name:<18}{v['loads']:>6}{v['equal']:>6}{v['clear']:>6}{v['other']:>6}"
            f"{v['unfinished']:>6}{v['foreign']:>6}{v['leaky']:>6}"
            for name, v in table.items()
        ]
    lines.append("(other: unclear error or wrong frame; stuck: did not finish; sent: requests to the other origin;")
    lines.append(" leaky: an exception showed the token)")
    if figures["problems"]:
        lines += ["", "PROBLEMS:", *figures["problems"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"a short profile, {QUICK_LOADS} loads (the tests')")
    parser.add_argument("--loads", type=int, default=None, help=f"how many loads (default {FULL_LOADS})")
    parser.add_argument("--seed", type=int, default=1, help="seed of the plan (default %(default)s)")
    parser.add_argument(
        "--hang-after", type=float, default=HANG_AFTER, help="seconds before a load counts as hung (a guard)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    loads = args.loads if args.loads is not None else QUICK_LOADS if args.quick else FULL_LOADS
    figures = run(loads=loads, seed=args.seed, hang_after=args.hang_after)
    print(f"python bench/chaos_hostile.py --loads {loads} --seed {args.seed}")
    print(format_table(figures))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    reasons = verdict(figures)
    print("\nheld" if not reasons else "\nFAILED: " + "; ".join(reasons), flush=True)
    code = 1 if reasons else 0
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        # A stuck load's worker pool is not ours to stop, and its threads are not daemons:
        # leave without waiting for them, so one hung load cannot keep the bench alive.
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
