"""`_sync`: many connected customers into one parquet dataset, incrementally, on any executor.

``sync`` runs one task per (customer, resource). A task is the loader itself with
the dataset as its cache: calls and messages go to the cache's month files (one per
account and month, written atomically once complete), so a second run fetches only
what is missing or still unsettled, and a run killed midway leaves whole months
only, which the next run completes. Usage is small and always fetched again: one
file per account, replaced atomically. Each task has its own concurrency budget
(the loader's, halving on 429s), so one customer's rate limit never slows another.

The tasks go to an executor: threads by default, or any ``concurrent.futures.Executor``,
such as ``dask.distributed.Client(...).get_executor()``, whose workers then write
their partitions straight to the dataset and send back only a summary row. A task
is a module-level function of plain, picklable arguments; the owner's Auth Token
travels inside the ``ConnectApp`` argument only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, Future, as_completed
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import polars as pl

from ._arguments import checked_folder, checked_range, flag, folder
from ._atomic import atomic_write
from ._cache import read_family
from ._client import LoadStats
from ._config import DEFAULT_LOOKBACK_DAYS, ConnectApp
from ._exceptions import AuthorizationRevoked, ConnectNotebookError
from ._family import account_sid_of
from ._kernel import current
from ._loaders import load_family, load_usage
from ._pool import DaemonPool
from ._redact import redact
from ._store import Store, is_url, staged
from ._windows import CALLS, MESSAGES

__all__ = ["RESOURCES", "SYNC_SUMMARY_SCHEMA", "sync"]

RESOURCES = ("calls", "messages", "usage")
DEFAULT_THREADS = 4  # customers at once on threads; each keeps its own requests in flight
_SUMMARY: dict[str, Any] = {
    "account_sid": pl.String,  # the connected AccountSid: the customer's family
    "resource": pl.Enum(RESOURCES),
    "days_fetched": pl.Int64,  # account-days asked of Twilio (calls, messages)
    "days_cached": pl.Int64,  # account-days already in the dataset, not asked again
    "rows": pl.Int64,
    "requests": pl.Int64,
    "retries": pl.Int64,
    "seconds": pl.Float64,
    "error": pl.String,  # null when the task succeeded
}
SYNC_SUMMARY_SCHEMA = pl.Schema(_SUMMARY)


@dataclass(frozen=True)
class _Task:
    """One (customer, resource) of a sync: plain values, so that it pickles to a cluster's workers."""

    app: ConnectApp
    account_sid: str
    resource: str
    root: str
    start: datetime | None
    end: datetime | None
    # This sync's own: an executor that caches results by argument (Dask's tasks are "pure" by
    # default, keyed by a hash of the arguments) must run a second sync, not hand back the first's summary.
    run: str


def _run(task: _Task) -> dict[str, Any]:
    """Do one task where it runs (a thread, a worker); return its summary row, the error included."""
    stats = LoadStats()
    began = time.perf_counter()
    rows, error, revoked = 0, None, False
    try:
        if is_url(task.root):  # an fsspec URL: load into a staging folder here, push what it wrote
            with TemporaryDirectory(prefix="connect_notebook-sync-") as staging:
                store = Store(task.root)
                with staged(store, Path(staging), _prefixes(store, Path(staging), task)):
                    rows = _load(task, Path(staging), stats)
        else:
            rows = _load(task, Path(task.root), stats)
    except (ConnectNotebookError, OSError) as exc:  # reported in the summary; the other customers go on
        error = _described(exc, task.app.auth_token)
        revoked = isinstance(exc, AuthorizationRevoked)
    return {
        "revoked": revoked,
        "account_sid": task.account_sid,
        "resource": task.resource,
        "days_fetched": stats.days_fetched,
        "days_cached": stats.days_cached,
        "rows": rows,
        "requests": stats.requests,
        "retries": stats.retries,
        "seconds": time.perf_counter() - began,
        "error": error,
    }


def _load(task: _Task, root: Path, stats: LoadStats) -> int:
    """Load one task's resource into the dataset folder ``root``; the number of rows."""
    if task.resource == "usage":
        frame = load_usage(task.account_sid, app=task.app, start=task.start, end=task.end)
        _write_usage(root, frame)
        return frame.height
    frame = load_family(
        CALLS if task.resource == "calls" else MESSAGES,
        task.account_sid,
        accounts=None,
        app=task.app,
        start=task.start,
        end=task.end,
        server_filters=[],
        keep=None,
        progress=False,
        cache_dir=root,
        refresh=False,
        concurrency=None,
        lookback_days=DEFAULT_LOOKBACK_DAYS,
        retry=None,
        stats=stats,
    )
    return frame.height


def _prefixes(store: Store, staging: Path, task: _Task) -> list[str]:
    """What a task needs from a remote dataset: its family's month files (the family file tells the accounts)."""
    if task.resource == "usage":
        return []  # replaced whole every run
    family = f"families/{task.account_sid}.json"
    store.pull(staging, store.files(family))
    accounts = read_family(staging, task.account_sid) or []
    return [f"{task.resource}/account={sid}" for sid in accounts]


def _described(exc: BaseException, token: str) -> str:
    """An error as the summary shows it: its type and its text, secrets masked."""
    return f"{type(exc).__name__}: {redact(str(exc), token)}"


def _write_usage(root: Path, frame: pl.DataFrame) -> None:
    """Each account's usage records as ``usage/account=AC…/part-0.parquet``, replaced whole."""
    for (sid,), part in frame.partition_by("account_sid", as_dict=True).items():
        path = root / "usage" / f"account={sid}" / "part-0.parquet"
        atomic_write(path, part.drop("account_sid").write_parquet)


def _gather(
    pool: Executor | DaemonPool, owned: DaemonPool | None, tasks: list[_Task], token: str, progress: bool
) -> list[dict[str, Any]]:
    """Submit every task and collect its summary row as it finishes, showing progress overall and per customer.

    Two bars: the tasks, and the customers whose every resource is done (naming the
    last one, and counting those with an error). Only summaries come back: the rows
    themselves were written where the task ran.
    """
    from tqdm.auto import tqdm  # type: ignore[import-untyped]  # tqdm ships no type information

    left = {t.account_sid: 0 for t in tasks}
    for t in tasks:
        left[t.account_sid] += 1
    failed: set[str] = set()
    rows: list[dict[str, Any]] = []
    with (
        owned or nullcontext(),
        tqdm(total=len(tasks), unit="task", desc="sync", disable=not progress, leave=False) as overall,
        tqdm(total=len(left), unit="customer", desc="customers", disable=not progress, leave=False) as customers,
    ):
        futures: dict[Future[dict[str, Any]], _Task] = {pool.submit(_run, task): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                row = future.result()
            except Exception as exc:  # noqa: BLE001 - the executor's own failure (a lost worker), reported
                row = {"account_sid": task.account_sid, "resource": task.resource, "error": _described(exc, token)}
            rows.append(row)
            overall.update(1)
            sid = task.account_sid
            if row.get("error") is not None:
                failed.add(sid)
            left[sid] -= 1
            if not left[sid]:
                outcome = "failed" if sid in failed else "done"
                customers.set_postfix_str(f"{sid} {outcome}; {len(failed)} with errors", refresh=False)
                customers.update(1)
    return rows


def _location(to: object) -> str:
    """Where the dataset goes, checked and created: a local folder's path, or an fsspec URL."""
    if is_url(to):
        assert isinstance(to, str)
        store = Store(to)
        store.create()
        return to
    root = folder(to, "to", none_means="nothing")
    if root is None:
        msg = "to must be the folder (or fsspec URL) the dataset goes to"
        raise TypeError(msg)
    return str(checked_folder(root, from_app=False, create=True))


def _accounts(accounts: object) -> list[str]:
    if isinstance(accounts, str) or hasattr(accounts, "sid"):
        accounts = [accounts]
    if not isinstance(accounts, Iterable):
        msg = f"accounts must be connected AccountSids (or session().accounts), got {type(accounts).__name__}"
        raise TypeError(msg)
    sids = list(dict.fromkeys(account_sid_of(a) for a in accounts))
    if not sids:
        msg = "accounts is empty: pass the connected AccountSids to sync (or session().accounts)"
        raise ValueError(msg)
    return sids


def _resources(resources: object) -> list[str]:
    chosen = [resources] if isinstance(resources, str) else resources
    if not isinstance(chosen, Iterable) or not all(isinstance(r, str) for r in chosen):
        msg = f"resources must be names from {', '.join(RESOURCES)}, got {type(resources).__name__}"
        raise TypeError(msg)
    chosen = list(dict.fromkeys(chosen))
    unknown = [r for r in chosen if r not in RESOURCES]
    if unknown or not chosen:
        msg = f"resources must be one or more of {', '.join(RESOURCES)}, got {chosen!r}"
        raise ValueError(msg)
    return chosen


def sync(
    accounts: str | Iterable[object],
    to: str | Path,
    *,
    resources: Sequence[str] = RESOURCES,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    executor: Executor | None = None,
    app: ConnectApp | None = None,
    progress: bool = True,
) -> pl.DataFrame:
    """Sync connected customers' calls, messages and usage into one parquet dataset at ``to``.

    Parameters
    ----------
    accounts
        Connected AccountSids (each means its customer's whole family), or
        ``session().accounts``.
    to
        A folder. It gets the cache's layout (``calls/account=AC…/month=…/part-0.parquet``,
        ``usage/account=AC…/part-0.parquet``), so ``cn.scan_calls(cache_dir=to)`` is
        one lazy frame over the portfolio, and DuckDB and Spark read it too.
    resources
        Any of ``"calls"``, ``"messages"``, ``"usage"``.
    start, end
        As for ``load_calls``: without ``start``, what the lists serve; an older
        start reads older days from BulkExport.
    executor
        Where the (customer, resource) tasks run: 4 threads by default, or any
        ``concurrent.futures.Executor``, e.g. a Dask cluster's ``client.get_executor()``.
    app
        The Connect App (default: the active one).
    progress
        A bar over the tasks, naming the customer each finished one belongs to.

    Returns
    -------
    polars.DataFrame
        One row per (customer, resource), schema ``SYNC_SUMMARY_SCHEMA``: days fetched
        and found in the dataset, rows, requests, retries, seconds, and the error of a
        task that failed (a revoked customer, Twilio failing after every retry), which
        does not stop the others. Run it again to retry those: nothing done is redone.
    """
    sids = _accounts(accounts)
    chosen = _resources(resources)
    start_at, end_at = checked_range(start, end)
    progress = flag(progress, "progress")
    if executor is not None and not isinstance(executor, Executor):
        msg = f"executor must be a concurrent.futures.Executor (or None for threads), got {type(executor).__name__}"
        raise TypeError(msg)
    app = current().resolve_app(app)
    location = _location(to)
    run = uuid.uuid4().hex
    tasks = [_Task(app, sid, resource, location, start_at, end_at, run) for sid in sids for resource in chosen]
    # Threads of the loaders' own pool by default: daemons, so a sync interrupted while a request hangs
    # does not keep the kernel from exiting (a ThreadPoolExecutor's threads are joined at exit).
    pool: Executor | DaemonPool
    owned: DaemonPool | None = None
    if executor is None:
        pool = owned = DaemonPool(min(DEFAULT_THREADS, len(tasks)), "connect_notebook-sync")
    else:
        pool = executor
    rows = _gather(pool, owned, tasks, app.auth_token, progress)
    for row in rows:  # a customer who revoked the app on a worker is revoked in this kernel's session too
        if row.pop("revoked", False):
            current().notify_revoked(row["account_sid"])
    order = {(t.account_sid, t.resource): i for i, t in enumerate(tasks)}
    rows.sort(key=lambda r: order[(r["account_sid"], r["resource"])])
    return pl.DataFrame(rows, schema=SYNC_SUMMARY_SCHEMA)
