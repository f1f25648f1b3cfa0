"""`sandbox._holds`: API requests held at the sandbox until a test releases them.

A test that must act while a client is mid-load (kill its process, kill a Dask
worker, revoke the customer) holds the requests that match a text, waits until one
arrives, acts, and releases them. That is synchronisation by event, not by sleeping:
``Hold.arrived`` returns as soon as the sandbox has a matching request waiting.

The held requests wait on the sandbox's own event loop (an ``asyncio.Event``), so
requests that do not match go on being served meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

__all__ = ["Hold", "Holds"]


class Hold:
    """Requests whose request line (``"GET /2010-04-01/…?…"``) contains ``match``, held once ``after`` passed.

    Use it as a context manager (``with sandbox.hold("AC…/Calls.json") as hold:``) so the
    held requests are released however the test ends.
    """

    def __init__(self, owner: Holds, match: str, after: int) -> None:
        if not isinstance(match, str) or not match:
            msg = f"a hold needs a non-empty text to match in request lines, got {match!r}"
            raise ValueError(msg)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            msg = f"after is how many matching requests pass before the hold starts (0 or more), got {after!r}"
            raise ValueError(msg)
        self.match = match
        self._owner = owner
        self._after = after
        self._passed = 0
        self._held = 0
        self._released = False
        self._waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._changed = threading.Condition()

    @property
    def held(self) -> int:
        """How many requests this hold has stopped so far (released ones included)."""
        with self._changed:
            return self._held

    def arrived(self, n: int = 1, timeout: float = 120.0) -> bool:
        """Block until ``n`` requests are held (True), or ``timeout`` seconds passed (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._held >= n, timeout)

    def release(self) -> None:
        """Let every held request go on, and stop holding new ones."""
        with self._changed:
            self._released = True
            waiting, self._waiting = self._waiting, []
        for loop, event in waiting:
            loop.call_soon_threadsafe(event.set)
        self._owner.forget(self)

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def _admit(self, request_line: str) -> asyncio.Event | None:
        """None if the request goes on now; else the event it must wait for (on the running loop)."""
        if self.match not in request_line:
            return None
        with self._changed:
            if self._released:
                return None
            if self._passed < self._after:
                self._passed += 1
                return None
            event = asyncio.Event()
            self._waiting.append((asyncio.get_running_loop(), event))
            self._held += 1
            self._changed.notify_all()
            return event


class Holds:
    """The sandbox's current holds (a request waits for every hold that takes it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holds: list[Hold] = []

    def add(self, match: str, after: int = 0) -> Hold:
        """Start holding matching requests; see ``Hold``."""
        hold = Hold(self, match, after)
        with self._lock:
            self._holds.append(hold)
        return hold

    def forget(self, hold: Hold) -> None:
        """Drop a released hold."""
        with self._lock:
            if hold in self._holds:
                self._holds.remove(hold)

    def release_all(self) -> None:
        """Release every hold (the sandbox's reset)."""
        with self._lock:
            holds = list(self._holds)
        for hold in holds:
            hold.release()

    async def wait(self, request_line: str) -> None:
        """Wait while a hold takes this request (returns at once when none does)."""
        with self._lock:
            holds = list(self._holds)
        for hold in holds:
            event = hold._admit(request_line)
            if event is not None:
                await event.wait()
