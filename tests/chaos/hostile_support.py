"""The machinery of the hostile-server property: the other origin, the hang guard, the secret scan, one load.

``tests/chaos/test_hostile.py`` draws the loads; this module runs them. A ``Fleet``
holds two sandboxes on 127.0.0.1 (``paged`` and ``family`` from ``truth.SANDBOXES``),
their ground truth, and the other origin the foreign links point at: two recording
listeners (one on another loopback address, 127.0.0.2 where the system routes it, one
on another port of 127.0.0.1) and a port where nothing listens. The listeners answer
any request with an empty last page, as a hostile host would, so a client that followed
them would return a short frame rather than an error; each request they get is kept,
with whether it carried an ``Authorization`` header holding an owner's token.

``run_load`` runs one load on a daemon thread under the hang guard (``guarded``): the
load ends, or it sends more than ``BUDGET`` requests (sandbox and listeners together),
or ``HANG_AFTER`` seconds pass. A load that did not end has its sandbox stopped, which
makes its next request fail, and a fresh sandbox with the same seed takes its place.
The package's worker pools are daemon threads, so a load that still does not end cannot
keep the pytest session alive.

``scan_exception`` looks for the owner's token (``needles.Needles``) in four places of
an exception: its text, its ``__cause__`` / ``__context__`` chain, its formatted
tracebacks (plain and IPython's), and every object reachable from its attributes (an
``httpx.Request`` keeps the headers it was sent with).
"""

from __future__ import annotations

import base64
import binascii
import math
import random
import socket
import threading
import types
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import polars as pl
import tornado.web
from polars.testing import assert_frame_equal

from chaos.needles import Needles, exception_texts
from chaos.truth import NOW, SANDBOXES, Delays, family_truth, in_range
from connect_notebook import RetryPolicy, accounts, load_alerts, load_calls, load_messages
from connect_notebook._kernel import app_for_sandbox
from connect_notebook._serving import ServerThread
from connect_notebook.sandbox import Faults, Profile, Sandbox

SCENARIOS = ("foreign-link", "self-link", "echo-auth", "odd-retry-after", "mix")
LOADERS = ("load_calls", "load_messages", "load_alerts", "accounts")
# accounts() takes no RetryPolicy, so a 429 or 5xx there would really sleep: it meets only the link faults.
LOADERS_OF = {s: LOADERS if s in ("foreign-link", "self-link", "mix") else LOADERS[:3] for s in SCENARIOS}
SANDBOX_NAMES = ("paged", "family")  # of truth.SANDBOXES: two pages a day; a family of three accounts
TARGETS = ("other-host", "other-port", "refused")  # where foreign links point
# A load here needs at most about a hundred requests (some fifteen pages of accounts, usage and records,
# each tried at most six times; the most seen is about twenty); a client that follows a self-link sends
# thousands a second. Kept well under the bench's 1,000: a looping load spends its whole budget in every
# example hypothesis tries while it shrinks.
BUDGET = 300
HANG_AFTER = 60.0  # seconds; a hang guard (a load here takes well under a second), never a measurement
FAULT_KINDS = ("foreign_link", "self_link", "echo_auth", "odd_retry_after", "rate_limit", "server_error", "reset")
PLACES = ("text", "chain", "traceback", "attributes")


@dataclass(frozen=True)
class Plan:
    """One load: which loader, against which sandbox, meeting which hostile faults (drawn by hypothesis)."""

    scenario: str
    loader: str
    sandbox: str
    target: str  # where foreign links point (TARGETS)
    faults: dict[str, Any]  # Faults keywords, the seed included
    attempts: int
    concurrency: int


# --- the other origin --------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One request that reached a listener of the other origin."""

    listener: str
    uri: str
    authorization: bool  # an Authorization header came with it
    owner_token: bool  # and it holds an owner's token


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
        self.host = host
        self.fleet = fleet
        self.listens = listen
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

    def record(self, uri: str, authorization: str | None) -> None:
        """Keep one request (called on the listener's thread) and count it into the running load's guard."""
        fleet = self.fleet
        arrival = Arrival(self.name, uri, authorization is not None, fleet.holds_token(authorization))
        with fleet.lock:
            fleet.arrivals.append(arrival)
            guard = fleet.guard
        if guard is not None:
            guard.request()

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


class Fleet:
    """The sandboxes (replaced after a stuck load), their ground truth, the other origins and what reached them."""

    def __init__(self) -> None:
        self.sandboxes: dict[str, Sandbox] = {}
        self.truth: dict[str, Truth] = {}
        self.origins: dict[str, Origin] = {}
        self.arrivals: list[Arrival] = []
        self.tokens: set[str] = set()
        self.guard: Guard | None = None
        self.replaced = 0
        self.lock = threading.Lock()

    def __repr__(self) -> str:  # short: hypothesis prints the test's arguments with the examples it reports
        sandboxes = ", ".join(f"{name}={sb.url}" for name, sb in self.sandboxes.items())
        return f"<Fleet {sandboxes}; other origins {', '.join(o.url for o in self.origins.values())}>"

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
        """Start sandbox ``name`` (as ``truth.SANDBOXES`` defines it) and count its API requests into the guard."""
        seed, calls, days, subaccounts, closed = SANDBOXES[name]
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

    def stop(self) -> None:
        for sb in self.sandboxes.values():
            sb.stop()
        for origin in self.origins.values():
            origin.stop()


def span(days: int) -> tuple[datetime, datetime]:
    """The whole history of a sandbox: ``days`` before its pinned clock, up to it."""
    now = datetime.fromisoformat(NOW)
    return now - timedelta(days=days), now


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
    start, end = span(days)
    messages = [
        m["sid"]
        for sid in sb.family(customer)
        for m in sb.messages(sid)
        if start <= parsedate_to_datetime(m["date_sent"]) < end
    ]
    return Truth(
        calls=in_range(family_truth(sb, customer), start, end),
        messages=sorted(messages),
        alerts=_alert_sids(sb),
        accounts=sorted(sb.family(customer)),
    )


@contextmanager
def fleet_of_sandboxes() -> Iterator[Fleet]:
    """Start the sandboxes and the other origins on loopback; stop them all afterwards."""
    fleet = Fleet()
    try:
        for name in SANDBOX_NAMES:
            sb = fleet.start(name)
            customer = fleet.customer(name)
            sb.authorize(customer)  # so the family includes the Connect subaccount, as the loads see it
            fleet.truth[name] = _truth(sb, customer, SANDBOXES[name][2])
        fleet.origins["other-host"] = Origin("other-host", _other_host(), listen=True, fleet=fleet)
        fleet.origins["other-port"] = Origin("other-port", "127.0.0.1", listen=True, fleet=fleet)
        fleet.origins["refused"] = Origin("refused", "127.0.0.1", listen=False, fleet=fleet)
        yield fleet
    finally:
        fleet.stop()


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


def _reachable_texts(roots: list[Any], limit: int = 20_000) -> Iterator[str]:
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
    """Where one exception showed a secret: occurrences per place (PLACES), and masked excerpts."""

    found: Counter[str] = field(default_factory=Counter)
    where: list[str] = field(default_factory=list)


def scan_exception(exc: BaseException, needles: Needles) -> Leak:
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

    for i, current in enumerate(_chain(exc)):
        name = type(current).__name__
        for label, text in exception_texts(current):
            if label in ("str", "repr"):
                add("text" if i == 0 else "chain", f"{name} {label}", text)
            elif label == "attributes":
                add("attributes", f"{name} {label}", text)
            elif i == 0:  # the top exception's tracebacks already print the whole chain
                add("traceback", label, text)
        roots = [current.args, *vars(current).values()] if hasattr(current, "__dict__") else [current.args]
        for text in _reachable_texts(roots):
            add("attributes", f"reachable from {name}", text)
    return leak


# --- one load ----------------------------------------------------------------------


class StrictDelays(Delays):
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
class Run:
    """What one call under the hang guard did."""

    finished: bool
    stopped_on: str | None  # "budget" or "hang guard" when it did not finish
    still_running: bool  # even after its sandbox was stopped
    requests: int  # to the sandbox and the listeners
    arrivals: list[Arrival]  # the requests that reached a listener
    frame: pl.DataFrame | None
    error: BaseException | None


def guarded(
    fleet: Fleet,
    sandbox: str,
    call: Callable[[], pl.DataFrame],
    *,
    budget: int = BUDGET,
    hang_after: float = HANG_AFTER,
) -> Run:
    """Run ``call`` on a daemon thread until it ends or the guard wakes (over ``budget``, or ``hang_after``)."""
    guard = Guard(budget)
    with fleet.lock:
        fleet.guard = guard
        first_arrival = len(fleet.arrivals)
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["frame"] = call()
        except BaseException as exc:  # every exception is judged and scanned by the caller
            result["error"] = exc
        finally:
            guard.finished.set()
            guard.wake.set()

    worker = threading.Thread(target=work, name="chaos-hostile-load", daemon=True)
    worker.start()
    guard.wake.wait(hang_after)  # the hang guard: woken by the end of the load, or by the budget
    finished = guard.finished.is_set()
    stopped_on, still_running = None, False
    if not finished:
        stopped_on = "budget" if guard.over else "hang guard"
        fleet.replace(sandbox)  # the stuck load's next request is refused, so it should end now
        worker.join(hang_after)  # a guard again
        still_running = worker.is_alive()
    with fleet.lock:
        fleet.guard = None
        arrivals = fleet.arrivals[first_arrival:]
    return Run(finished, stopped_on, still_running, guard.requests, arrivals, result.get("frame"), result.get("error"))


def _call(plan: Plan, sb: Sandbox, connected: str, retry: RetryPolicy) -> Callable[[], pl.DataFrame]:
    app = app_for_sandbox(sb)
    start, end = span(SANDBOXES[plan.sandbox][2])
    if plan.loader in ("load_calls", "load_messages"):
        loader = load_calls if plan.loader == "load_calls" else load_messages
        return lambda: loader(
            connected, app=app, start=start, end=end, concurrency=plan.concurrency, retry=retry, progress=False
        )
    if plan.loader == "load_alerts":  # as the owner: Monitor answers for the account that authenticates
        return lambda: load_alerts(sb.owner_account_sid, app=app, retry=retry)
    return lambda: accounts(connected, app=app)


def compare(loader: str, frame: pl.DataFrame, truth: Truth) -> str | None:
    """None if ``frame`` is what a load by ``loader`` must return, else how it differs."""
    if loader == "load_calls":
        try:
            assert_frame_equal(frame, truth.calls)
        except AssertionError as exc:
            return f"{frame.height} rows, expected {truth.calls.height}: {str(exc).splitlines()[0]}"
        return None
    expected = {"load_messages": truth.messages, "load_alerts": truth.alerts, "accounts": truth.accounts}[loader]
    got = sorted(frame["sid"].to_list())
    return None if got == expected else f"{len(got)} rows ({len(set(got))} SIDs), expected {len(expected)}"


@dataclass
class Outcome:
    """What one load did, as the property judges and counts it."""

    run: Run
    needles: Needles  # the owner's token, to scan and to mask with
    injected: dict[str, int]  # faults the sandbox injected, by kind
    leak: Leak | None  # the scan of what it raised (None when it raised nothing)
    wrong_frame: str | None  # how a returned frame differs from the ground truth
    longest_delay: float  # the longest retry delay asked for (not slept)


def run_load(plan: Plan, fleet: Fleet) -> Outcome:
    """Set up ``plan``'s faults, run its load under the hang guard, then scan what it raised or compare its frame."""
    sb = fleet.sandboxes[plan.sandbox]
    sb.reset()  # fresh fault counters; then authorize again and set this load's faults
    connected = sb.authorize(fleet.customer(plan.sandbox))
    sb.faults = Faults(**plan.faults, foreign_origin=fleet.origins[plan.target].url)
    needles = Needles(sb.owner_auth_token, (sb.owner_account_sid, connected))
    delays = StrictDelays()
    retry = RetryPolicy(attempts=plan.attempts, sleep=delays, rng=random.Random(plan.faults["seed"]))
    run = guarded(fleet, plan.sandbox, _call(plan, sb, connected, retry))
    injected = {k: v for k, v in sb.injected.items() if v}  # this load's sandbox, even if it was replaced since
    # Scanned even when the load was cut off: it is still an exception the client raised.
    leak = None if run.error is None else scan_exception(run.error, needles)
    wrong = None
    if run.finished and run.error is None:
        assert run.frame is not None
        wrong = compare(plan.loader, run.frame, fleet.truth[plan.sandbox])
    return Outcome(run, needles, injected, leak, wrong, max(delays, default=0.0))
