"""`_retry`: how long to wait between tries, and how many requests one load keeps in flight."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

from ._redact import shown

__all__ = ["RetryPolicy", "Throttle"]

MAX_ATTEMPTS = 100
MAX_DELAY = 3600.0  # seconds; a longer wait between two tries is a mistake, and time.sleep refuses huge ones


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts.

    ``Retry-After`` from the server wins when it is sent (capped at ``max_delay``).
    ``sleep`` and ``rng`` are injectable so tests can record delays instead of waiting.
    """

    attempts: int = 8
    base_delay: float = 0.2
    max_delay: float = 20.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        # bool is an int to Python, but attempts=True is a mistake, not one attempt.
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            msg = f"attempts must be a whole number from 1 to {MAX_ATTEMPTS}, got {type(self.attempts).__name__}"
            raise TypeError(msg)
        if not 1 <= self.attempts <= MAX_ATTEMPTS:
            msg = f"attempts must be a whole number from 1 to {MAX_ATTEMPTS}, got {shown(self.attempts)}"
            raise ValueError(msg)
        for name in ("base_delay", "max_delay"):
            seconds = getattr(self, name)
            allowed = f"a number of seconds from 0 to {MAX_DELAY:g}"
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                msg = f"{name} must be {allowed}, got {type(seconds).__name__}"
                raise TypeError(msg)
            if not (math.isfinite(seconds) and 0 <= seconds <= MAX_DELAY):
                msg = f"{name} must be {allowed}, got {shown(seconds)}"
                raise ValueError(msg)
        if not callable(self.sleep):
            msg = f"sleep must be a function taking seconds, such as time.sleep, got {type(self.sleep).__name__}"
            raise TypeError(msg)
        if not isinstance(self.rng, random.Random):
            msg = f"rng must be a random.Random (e.g. random.Random(1) in tests), got {type(self.rng).__name__}"
            raise TypeError(msg)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return self.rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


class Throttle:
    """How many requests one load may have in flight; halves on 429, creeps back up on success."""

    def __init__(self, limit: int) -> None:
        self.max_limit = self.limit = limit
        self._in_flight = 0
        self._successes = 0
        self._cond = threading.Condition()

    def __enter__(self) -> Self:
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def rate_limited(self) -> None:
        """The account said 429: send fewer requests at once."""
        with self._cond:
            self.limit = max(1, self.limit // 2)
            self._successes = 0

    def succeeded(self) -> None:
        """A request went through: after a run of them, allow one more at once."""
        with self._cond:
            self._successes += 1
            if self.limit < self.max_limit and self._successes >= 4 * self.limit:
                self.limit += 1
                self._successes = 0
                self._cond.notify_all()
