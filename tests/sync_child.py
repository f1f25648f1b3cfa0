"""A client process for the resume test: ``cn.sync`` of a pickled job, one line per finished task.

``tests/test_sync.py`` starts it, reads its lines to know which customers are done,
kills it with SIGKILL while another customer's load is held at the sandbox, and then
resumes the sync in its own process.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import connect_notebook as cn


class _Announcing(ThreadPoolExecutor):
    """Threads that print ``done <AccountSid> <resource>`` for each summary row of a task that finishes."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        future.add_done_callback(_announce)
        return future


def _announce(future: Future[Any]) -> None:
    for row in future.result():  # a customer's task: one summary row per resource
        print("done", row["account_sid"], row["resource"], flush=True)


def main() -> None:
    app, accounts, root = pickle.loads(Path(sys.argv[1]).read_bytes())
    with _Announcing(len(accounts)) as pool:
        cn.sync(accounts, root, app=app, resources=["calls"], executor=pool, progress=False)
    print("finished", flush=True)


if __name__ == "__main__":
    main()
