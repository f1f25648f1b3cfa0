"""`sandbox._faults`: seeded fault injection for the REST API.

Each decision is drawn from ``(seed, request line, how many times that request
was seen)``, not from one shared random stream, so a run is reproducible even
when a client sends pages concurrently and in a different order each time.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["USAGE_HINTS", "Decision", "FaultInjector", "Faults"]

Kind = Literal["rate_limit", "server_error", "reset", "truncate"]
UsageHints = Literal["exact", "lagging", "missing", "low", "high", "zero"]
USAGE_HINTS: tuple[UsageHints, ...] = ("exact", "lagging", "missing", "low", "high", "zero")
KINDS: tuple[Kind, ...] = ("rate_limit", "server_error", "reset", "truncate")


@dataclass(frozen=True, kw_only=True)
class Faults:
    """What can go wrong, and how often. All probabilities are per API request.

    Parameters
    ----------
    seed
        Seeds every decision, so the same requests meet the same faults.
    latency
        Seconds added to every API response.
    spike_rate, spike_latency
        Probability that a response is delayed by a further ``spike_latency`` seconds.
    rate_limit
        Probability of ``429`` / ``20429`` (with ``Twilio-Concurrent-Requests``).
    retry_after
        Seconds sent as ``Retry-After`` with every 429, or None to send none.
    server_error
        Probability of a ``500`` or ``503`` (half each).
    reset
        Probability that the connection is reset after half the body was sent.
    truncate
        Probability of a ``200`` whose JSON body is cut short.
    concurrency_limit
        Concurrent API requests allowed per account before ``429`` / ``20429``.
    usage
        How usage records' ``count`` relates to the records it counts: ``"exact"``;
        ``"lagging"`` (each day's usage shows up three days late); ``"missing"``
        (about a third of the records left out); ``"low"`` / ``"high"`` (a tenth /
        ten times the real count); ``"zero"``. Real counts can lag, count other
        things or be missing, so a client may plan from them but must not trust them.
    """

    seed: int = 0
    latency: float = 0.0
    spike_rate: float = 0.0
    spike_latency: float = 1.0
    rate_limit: float = 0.0
    retry_after: float | None = None
    server_error: float = 0.0
    reset: float = 0.0
    truncate: float = 0.0
    concurrency_limit: int | None = None
    usage: UsageHints = "exact"

    def __post_init__(self) -> None:
        if self.usage not in USAGE_HINTS:
            msg = f"Faults.usage must be one of {', '.join(USAGE_HINTS)}, got {self.usage!r}"
            raise ValueError(msg)
        # Written as "not (0 <= x)" so that NaN fails every check too.
        for name in ("spike_rate", "rate_limit", "server_error", "reset", "truncate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                msg = f"Faults.{name} is a probability between 0 and 1, got {value!r}"
                raise ValueError(msg)
        if math.fsum((self.rate_limit, self.server_error, self.reset, self.truncate)) > 1.0 + 1e-9:
            msg = "the fault probabilities rate_limit + server_error + reset + truncate exceed 1"
            raise ValueError(msg)
        for name in ("latency", "spike_latency", "retry_after"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < math.inf:
                msg = f"Faults.{name} must be a finite number of seconds, 0 or more, got {value!r}"
                raise ValueError(msg)
        if self.concurrency_limit is not None and self.concurrency_limit < 1:
            msg = f"Faults.concurrency_limit must be at least 1, got {self.concurrency_limit!r}"
            raise ValueError(msg)


@dataclass(frozen=True)
class Decision:
    """What to do to one request: delay it, and maybe fail it one way."""

    delay: float = 0.0
    kind: Kind | None = None
    status: int = 200
    retry_after: float | None = None


@dataclass
class _Forced:
    kind: Kind
    status: int
    retry_after: float | None


@dataclass
class FaultInjector:
    """Decides the fault for each request and counts what it injected."""

    faults: Faults = field(default_factory=Faults)
    injected: Counter[str] = field(default_factory=Counter)
    _seen: Counter[str] = field(default_factory=Counter)
    _requests: Counter[str] = field(default_factory=Counter)
    _forced: deque[_Forced] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(
        self, n: int = 1, *, status: int = 503, retry_after: float | None = None, kind: Kind | None = None
    ) -> None:
        """Fail the next ``n`` API requests, whatever the probabilities say."""
        if kind is None:
            kind = "rate_limit" if status == 429 else "server_error"
        if kind not in KINDS:
            msg = f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}"
            raise ValueError(msg)
        with self._lock:
            self._forced.extend(_Forced(kind, status, retry_after) for _ in range(n))

    def reset(self, faults: Faults | None = None) -> None:
        """Forget counters and forced faults; optionally switch to new settings."""
        with self._lock:
            self.faults = faults or Faults()
            self.injected.clear()
            self._seen.clear()
            self._requests.clear()
            self._forced.clear()

    def decide(self, request_line: str) -> Decision:
        """Return the decision for one request (``"GET /2010-04-01/…?…"``)."""
        f = self.faults
        with self._lock:
            n = self._seen[request_line]
            self._seen[request_line] += 1
            forced = self._forced.popleft() if self._forced else None
        rng = random.Random(f"{f.seed}\x1f{request_line}\x1f{n}")
        delay = f.latency + (f.spike_latency if rng.random() < f.spike_rate else 0.0)
        if forced is not None:
            decision = Decision(delay, forced.kind, forced.status, forced.retry_after)
        else:
            x = rng.random()
            decision = Decision(delay)
            for kind, p in zip(KINDS, (f.rate_limit, f.server_error, f.reset, f.truncate), strict=True):
                if x < p:
                    status = {"rate_limit": 429, "server_error": rng.choice((500, 503))}.get(kind, 200)
                    decision = Decision(delay, kind, status, f.retry_after if kind == "rate_limit" else None)
                    break
                x -= p
        if decision.kind is not None:
            with self._lock:
                self.injected[decision.kind] += 1
        return decision

    def note(self, request_line: str) -> None:
        """Count one authenticated API request, whatever then happens to it."""
        with self._lock:
            self._requests[request_line] += 1

    def seen(self) -> dict[str, int]:
        """How many times each authenticated API request line arrived since the last reset."""
        with self._lock:
            return dict(self._requests)

    def count(self, kind: str) -> None:
        """Record a fault decided elsewhere (the concurrency limit)."""
        with self._lock:
            self.injected[kind] += 1
