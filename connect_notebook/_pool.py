"""`_pool`: a bounded pool of daemon threads whose calls are answered through futures (a load's requests)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar

__all__ = ["DaemonPool"]

T = TypeVar("T")


class DaemonPool:
    """At most ``workers`` daemon threads running submitted calls, each answered through a ``Future``.

    ``ThreadPoolExecutor`` is not used because its threads are joined at interpreter exit: a
    load interrupted while a request hangs (a server that never answers) would keep the
    kernel or script from exiting (issue 10, item 7). These threads are daemons. Leaving
    the ``with`` block normally, or on an ``Exception``, stops them and joins them, as the
    executor did (the requests in flight finish first, so nothing keeps talking to the
    server after the load returned or raised). On ``KeyboardInterrupt`` or ``SystemExit``
    it does not wait: queued calls are cancelled, and the threads end after their current call.
    """

    def __init__(self, workers: int, name: str = "connect_notebook-load") -> None:
        self.workers = workers
        self.name = name
        self.threads: list[threading.Thread] = []
        self._calls: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None]
        self._calls = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # released by a thread each time it finishes a call

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """Queue ``fn(*args)``; a thread is started for it unless one is idle or there are ``workers``."""
        future: Future[T] = Future()
        self._calls.put((future, fn, args))
        if not self._idle.acquire(blocking=False) and len(self.threads) < self.workers:
            thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self.threads)}", daemon=True)
            self.threads.append(thread)
            thread.start()
        return future

    def _work(self) -> None:
        while (call := self._calls.get()) is not None:
            future, fn, args = call
            del call
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args)
                except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, fn, args  # a finished call's result is the future's, not this thread's
            self._idle.release()

    def shutdown(self, *, wait: bool) -> None:
        """Cancel the calls not started, end every thread after its current call; join them if ``wait``."""
        while True:
            try:
                call = self._calls.get_nowait()
            except queue.Empty:
                break
            if call is not None:
                call[0].cancel()
        for _ in self.threads:
            self._calls.put(None)
        if wait:
            for thread in self.threads:
                thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown(wait=exc_type is None or issubclass(exc_type, Exception))
