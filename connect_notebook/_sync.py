"""`_sync`: many connected customers into one parquet dataset, incrementally, on any executor.

``sync`` runs one task per customer, its resources one after another. Each resource
is the loader itself with the dataset as its cache: calls and messages go to the
cache's month files (one per account and month, written atomically once complete),
so a second run fetches only what is missing or still unsettled, and a run killed
midway leaves whole months only, which the next run completes. Usage is small and
always fetched again: one file per account, replaced atomically. A customer's
requests share one concurrency budget (the loader's, halving on 429s), as Twilio
limits concurrency per account, so one customer's rate limit never slows another.

The tasks go to an executor: threads by default, or any ``concurrent.futures.Executor``,
such as ``dask.distributed.Client(...).get_executor()``, whose workers then write
their partitions straight to the dataset and send back only the summary rows. A task
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
from os import PathLike
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
from ._loaders import load_family, load_family_usage
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
    """One customer of a sync, every resource asked for: plain values, so that it pickles to a cluster's workers.

    One task per customer, its resources one after another, so that a customer's
    requests share one concurrency budget (Twilio limits concurrency per account).
    """

    app: ConnectApp
    account_sid: str
    resources: tuple[str, ...]
    root: str
    start: datetime | None
    end: datetime | None
    progress: bool  # the loader's own bar for this customer: on threads in this kernel, not on a cluster
    # This sync's own: an executor that caches results by argument (Dask's tasks are "pure" by
    # default, keyed by a hash of the arguments) must run a second sync, not hand back the first's summary.
    run: str


def _run(task: _Task) -> list[dict[str, Any]]:
    """Do one customer's task where it runs (a thread, a worker); its summary rows, errors included."""
    if not is_url(task.root):
        return _each(task, Path(task.root))
    # An fsspec URL: load into a staging folder here, push what it wrote (even when a load failed).
    with TemporaryDirectory(prefix="connect_notebook-sync-") as staging:
        try:
            store = Store(task.root)
            prefixes = [p for r in task.resources for p in _prefixes(store, Path(staging), task.account_sid, r)]
            with staged(store, Path(staging), prefixes):
                return _each(task, Path(staging))
        except (ConnectNotebookError, OSError) as exc:  # the store itself failed: every resource says so
            return [_row(task, r, LoadStats(), 0.0, 0, _described(exc, task.app.auth_token)) for r in task.resources]


def _each(task: _Task, root: Path) -> list[dict[str, Any]]:
    """Each resource of the task into the dataset folder ``root``; after a revocation the rest are not asked."""
    rows: list[dict[str, Any]] = []
    revoked: str | None = None
    for resource in task.resources:
        stats, began = LoadStats(), time.perf_counter()
        count, error = 0, revoked
        if revoked is None:
            try:
                count = _load(task, resource, root, stats)
            except (ConnectNotebookError, OSError) as exc:  # reported in the summary; the other customers go on
                error = _described(exc, task.app.auth_token)
                revoked = error if isinstance(exc, AuthorizationRevoked) else None
        rows.append(_row(task, resource, stats, time.perf_counter() - began, count, error, revoked is not None))
    return rows


def _row(
    task: _Task, resource: str, stats: LoadStats, seconds: float, rows: int, error: str | None, revoked: bool = False
) -> dict[str, Any]:
    return {
        "revoked": revoked,
        "account_sid": task.account_sid,
        "resource": resource,
        "days_fetched": stats.days_fetched,
        "days_cached": stats.days_cached,
        "rows": rows,
        "requests": stats.requests,
        "retries": stats.retries,
        "seconds": seconds,
        "error": error,
    }


def _load(task: _Task, resource: str, root: Path, stats: LoadStats) -> int:
    """Load one resource of the task's customer into the dataset folder ``root``; the number of rows."""
    if resource == "usage":
        frame = load_family_usage(
            task.account_sid,
            accounts=None,
            app=task.app,
            start=task.start,
            end=task.end,
            category=None,
            retry=None,
            stats=stats,
        )
        _write_usage(root, frame)
        return frame.height
    frame = load_family(
        CALLS if resource == "calls" else MESSAGES,
        task.account_sid,
        accounts=None,
        app=task.app,
        start=task.start,
        end=task.end,
        server_filters=[],
        keep=None,
        progress=task.progress,
        cache_dir=root,
        refresh=False,
        concurrency=None,
        lookback_days=DEFAULT_LOOKBACK_DAYS,
        retry=None,
        stats=stats,
    )
    return frame.height


def _prefixes(store: Store, staging: Path, account_sid: str, resource: str) -> list[str]:
    """What a resource needs from a remote dataset: its family's month files (the family file tells the accounts)."""
    if resource == "usage":
        return []  # replaced whole every run
    family = f"families/{account_sid}.json"
    store.pull(staging, store.files(family))
    accounts = read_family(staging, account_sid) or []
    return [f"{resource}/account={sid}" for sid in accounts]


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
    """Submit every customer's task and collect its summary rows as it finishes.

    The bar counts customers done, naming the last one and how many have an error; on
    threads each running customer also shows its loader's own bar of pages. Only
    summaries come back: the rows themselves were written where the task ran.
    """
    from tqdm.auto import tqdm  # type: ignore[import-untyped]  # tqdm ships no type information

    failed = 0
    rows: list[dict[str, Any]] = []
    with (
        owned or nullcontext(),
        tqdm(total=len(tasks), unit="customer", desc="sync", disable=not progress, leave=False) as bar,
    ):
        futures: dict[Future[list[dict[str, Any]]], _Task] = {pool.submit(_run, task): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                done = future.result()
            except Exception as exc:  # noqa: BLE001 - the executor's own failure (a lost worker), reported
                error = _described(exc, token)
                done = [{"account_sid": task.account_sid, "resource": r, "error": error} for r in task.resources]
            rows += done
            errors = any(row.get("error") is not None for row in done)
            failed += errors
            bar.set_postfix_str(f"{task.account_sid} {'failed' if errors else 'done'}; {failed} with errors", False)
            bar.update(1)
    return rows


def _location(to: object) -> str:
    """Where the dataset goes, checked and created: a local folder's path, or an fsspec URL."""
    if is_url(to):
        assert isinstance(to, str)
        store = Store(to)
        store.create()
        return to
    if to is None or not isinstance(to, str | PathLike):
        msg = (
            f"to must be the folder (a str or pathlib.Path) or fsspec URL the dataset goes to, got {type(to).__name__}"
        )
        raise TypeError(msg)
    root = folder(to, "to")
    assert root is not None
    # Absolute: a task on a worker must not resolve it against its own working directory.
    return str(checked_folder(root.absolute(), from_app=False, create=True, name="to"))


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
        Where the customers' tasks run: 4 threads by default, or any
        ``concurrent.futures.Executor``, e.g. a Dask cluster's ``client.get_executor()``.
    app
        The Connect App (default: the active one).
    progress
        A bar over the customers, naming each as it finishes; on threads, each
        running customer's own bar of pages too.

    Returns
    -------
    polars.DataFrame
        One row per (customer, resource), schema ``SYNC_SUMMARY_SCHEMA``: days fetched
        and found in the dataset, rows, requests, retries, seconds, and the error of a
        load that failed (a revoked customer, Twilio failing after every retry), which
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
    run, here = uuid.uuid4().hex, progress and executor is None
    tasks = [_Task(app, sid, tuple(chosen), location, start_at, end_at, here, run) for sid in sids]
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
    order = {(sid, resource): i for i, (sid, resource) in enumerate((s, r) for s in sids for r in chosen)}
    rows.sort(key=lambda r: order[(r["account_sid"], r["resource"])])
    return pl.DataFrame(rows, schema=SYNC_SUMMARY_SCHEMA)
