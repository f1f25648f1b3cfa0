"""`_loaders`: a connected customer's calls, messages, usage and alerts as typed polars frames.

The AccountSid a Connect authorization yields names the app's own subaccount;
the customer's data lives in the rest of its family (``_family``). Every loader
therefore reads ``/Accounts.json`` first and covers each account of the family
(or the ``accounts=`` asked for); the ``account_sid`` column says which row came
from where. Calls and messages are fetched as planned day windows (``_windows``),
usage and alerts as plain lists.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl

from ._arguments import (
    address,
    checked_folder,
    checked_range,
    choices,
    flag,
    folder,
    one_of,
    retry_policy,
    up_to_now,
    usage_category,
    whole,
)
from ._bulkexport import check_region
from ._cache import read_family as cached_family
from ._cache import scan, write_family
from ._client import APIClient, LoadStats
from ._config import DEFAULT_LOOKBACK_DAYS, ConnectApp
from ._exceptions import AuthorizationRevoked
from ._family import (
    account_sid_of,
    check_accounts,
    describe_customer,
    list_accounts,
    read_family,
    select_accounts,
)
from ._frames import (
    CALL_DIRECTIONS,
    CALL_STATUSES,
    LOG_LEVELS,
    decode_alerts_page,
    decode_usage_page,
    empty,
    type_alerts,
    type_usage,
)
from ._kernel import current
from ._retry import RetryPolicy, Throttle
from ._session import ConnectedAccount
from ._store import Store, is_url
from ._store import family as store_family
from ._store import scan as store_scan
from ._windows import CALLS, MESSAGES, PAGE_SIZE, Kind, Span, load_windows

__all__ = [
    "accounts",
    "customer",
    "load_alerts",
    "load_calls",
    "load_family",
    "load_family_usage",
    "load_messages",
    "load_usage",
    "scan_calls",
    "scan_messages",
]

log = logging.getLogger("connect_notebook")
MESSAGE_RETENTION_DAYS = 400
MAX_LOOKBACK_DAYS = 3660  # ten years; refresh=True is the way to fetch everything again
MAX_CONCURRENCY = 64
Moment = datetime | date | str
Accounts = str | Iterable[str] | None


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _progress(enabled: bool, description: str) -> Any:
    from tqdm.auto import tqdm  # type: ignore[import-untyped]  # tqdm ships no type information

    return tqdm(total=0, unit="page", desc=description, disable=not enabled, leave=False)


def load_family(
    kind: Kind,
    account: object,
    *,
    accounts: Accounts,
    app: object,
    start: object,
    end: object,
    server_filters: Sequence[tuple[str, str]],
    keep: pl.Expr | None,
    progress: object,
    cache_dir: object,
    refresh: object,
    concurrency: object,
    lookback_days: object,
    retry: object,
    stats: LoadStats | None = None,
) -> pl.DataFrame:
    """Load ``kind`` for the family of ``account``: what ``load_calls`` and ``load_messages`` (and ``sync``) share."""
    # Every argument is checked before anything else happens (the active app may start the embedded sandbox).
    sid = account_sid_of(account)
    check_accounts(accounts)
    start_at, end_at = checked_range(start, end)
    progress = flag(progress, "progress")
    refresh = flag(refresh, "refresh")
    requested = None if concurrency is None else whole(concurrency, "concurrency", 1, MAX_CONCURRENCY, " (or None)")
    lookback_days = whole(
        lookback_days, "lookback_days", 0, MAX_LOOKBACK_DAYS, " (days; refresh=True fetches every day again)"
    )
    retry = retry_policy(retry)
    given = folder(cache_dir)
    app = current().resolve_app(app)
    workers = app.concurrency if requested is None else requested
    root = given if given is not None else app.cache_dir
    if root is not None:
        root = checked_folder(root, from_app=given is None, create=True)
    now = datetime.now(UTC)
    if start_at is not None and start_at >= now:
        return empty(kind.schema)  # wholly in the future: nothing has happened yet, so nothing to ask for
    end_at = now if end_at is None else min(end_at, now)  # nothing has happened after now yet
    days = app.call_retention_days if kind is CALLS else MESSAGE_RETENTION_DAYS
    ours = _listed_from(now, days)
    if start_at is not None and start_at.date() < ours:
        # Before any request, so by our own clock: BulkExport serves US1 only, and a regional REST host
        # names its region.
        check_region(app, kind.name, ours)
    try:
        with APIClient(app, sid, retry=retry, throttle=Throttle(workers), stats=stats) as client:
            family = read_family(client)
            # The list's retention counts back from the API's today (its answer's Date), which a sandbox
            # pins; what has settled is judged by our clock, so a pinned sandbox's past days are all settled.
            listed_from = _listed_from(client.now(), days)
            oldest = _midnight(listed_from) if start_at is None else None
            export_before = listed_from if start_at is not None and start_at.date() < listed_from else None
            chosen = select_accounts(family, sid, accounts)
            members = family.filter(pl.col("sid").is_in(chosen))
            if oldest is not None and end_at <= oldest and (members["date_created"] < end_at).any():
                msg = (
                    f"the range ends on {end_at.date()}, before {listed_from}, the oldest day Twilio's list API "
                    f"serves {kind.name} for; pass a start to read those days from BulkExport"
                )
                raise ValueError(msg)
            spans = []
            for row in members.iter_rows(named=True):
                # An account has nothing from before it was created; without a start, a load is what the list serves.
                first_at = max(x for x in (start_at, row["date_created"], oldest) if x is not None)
                if first_at < end_at:
                    spans.append(Span(row["sid"], first_at.date(), (end_at - timedelta(microseconds=1)).date()))
            if root is not None:
                write_family(root, sid, family["sid"].to_list() or [sid])  # so scan_calls(account) covers it
            with _progress(progress, f"{kind.name} {sid[-4:]}") as bar:
                return load_windows(
                    kind,
                    client,
                    spans,
                    start_at=start_at,
                    end_at=end_at,
                    server_filters=server_filters,
                    keep=keep,
                    cache_root=root,
                    refresh=refresh,
                    now=now,
                    lookback_days=lookback_days,
                    workers=workers,
                    bar=bar,
                    export_before=export_before,
                )
    except AuthorizationRevoked as exc:
        current().notify_revoked(exc.account_sid)
        raise


def _listed_from(now: datetime, days: int) -> date:
    """The oldest day a load reads from a list that serves ``days`` back from ``now``.

    One day of margin inside the retention, against clocks and Twilio's own cut-off;
    older days come from BulkExport, when a range asks for them.
    """
    return now.date() - timedelta(days=days - 1)


def load_calls(
    account: object,
    *,
    accounts: Accounts = None,
    app: ConnectApp | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
    status: str | Iterable[str] | None = None,
    to: str | None = None,
    from_: str | None = None,
    direction: str | Iterable[str] | None = None,
    progress: bool = True,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
    concurrency: int | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    retry: RetryPolicy | None = None,
) -> pl.DataFrame:
    """Load a connected customer's calls into a polars DataFrame (schema ``CALLS_SCHEMA``).

    Parameters
    ----------
    account
        The AccountSid the Connect App received (``AC…``), or a connected account
        object. Every account of its family is loaded: the customer's main account,
        its subaccounts (closed ones too) and the app's Connect subaccount.
    accounts
        Only these accounts of the family (SIDs from ``cn.accounts(account)``).
    app
        The Connect App; defaults to the active one (``%load_ext``, then the
        ``CONNECT_NOTEBOOK_*`` variables, then the embedded sandbox).
    start, end
        Calls that started in ``[start, end)``; datetimes (naive means UTC), dates or
        ISO strings. ``start`` defaults to the oldest day Twilio's calls list still
        serves (about 13 months back: ``ConnectApp.call_retention_days``), or each
        account's creation if later; ``end`` to now (a later ``end`` is the same as
        now; a ``start`` after now is an empty frame, without a request). Days older
        than the list serves are read from BulkExport: one file per day for the
        whole family, made by export jobs (at most 366 days per UTC day for the
        family; the bar shows a job while it runs) and kept in the cache like any day.
    status, to, from_, direction
        Keep only matching calls (``status`` and ``direction`` take one value or several;
        an empty list would select nothing, so it is an error: pass None for all).
    progress
        Show a progress bar (pages and rows) in notebooks and terminals.
    cache_dir
        Keep completed days as parquet here and reuse them (default: the app's ``cache_dir``).
    refresh
        Fetch every day again, even those in the cache.
    concurrency
        Requests in flight at once (default: the app's, 16); it halves on 429.
    lookback_days
        Days before today that are fetched again even when cached, because calls
        still change status and price for a while after they are first read.

    Returns
    -------
    polars.DataFrame
        Newest first, one row per call SID; ``account_sid`` says which account of
        the family it belongs to. The same columns and types when empty.

    Raises
    ------
    TypeError, ValueError
        An argument is not one of the kinds or values above (the message names it),
        raised before any request; ``ConfigError`` for a malformed AccountSid.
    AuthorizationRevoked
        The account has not authorized the Connect App, or has revoked it.
    BulkExportError
        Older days were asked for and BulkExport cannot give them (not US1, Connect
        credentials refused, the day's quota spent, a file removed); the message says
        what to do, and the days loaded before it are cached.
    APIError, TransportError
        Twilio kept failing after every retry; nothing partial is returned.
    """
    statuses = choices(status, CALL_STATUSES, "status")
    directions = choices(direction, CALL_DIRECTIONS, "direction")
    to, from_ = address(to, "to"), address(from_, "from_")
    server = [(name, value) for name, value in (("To", to), ("From", from_)) if value is not None]
    if statuses is not None and len(statuses) == 1:
        server.append(("Status", statuses[0]))
    conditions = []
    if statuses is not None:
        conditions.append(pl.col("status").cast(pl.String).is_in(statuses))
    if directions is not None:
        conditions.append(pl.col("direction").cast(pl.String).is_in(directions))
    if to is not None:
        conditions.append(pl.col("to") == to)
    if from_ is not None:
        conditions.append(pl.col("from") == from_)
    return load_family(
        CALLS,
        account,
        accounts=accounts,
        app=app,
        start=start,
        end=end,
        server_filters=server,
        keep=pl.all_horizontal(conditions) if conditions else None,
        progress=progress,
        cache_dir=cache_dir,
        refresh=refresh,
        concurrency=concurrency,
        lookback_days=lookback_days,
        retry=retry,
    )


def load_messages(
    account: object,
    *,
    accounts: Accounts = None,
    app: ConnectApp | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
    to: str | None = None,
    from_: str | None = None,
    progress: bool = True,
    cache_dir: str | Path | None = None,
    refresh: bool = False,
    concurrency: int | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    retry: RetryPolicy | None = None,
) -> pl.DataFrame:
    """Load a connected customer's messages (schema ``MESSAGES_SCHEMA``), newest first, family-wide.

    Twilio's messages list serves 400 days, so ``start`` defaults to 400 days ago
    (or each account's creation); an older ``start`` reads the older days from
    BulkExport, as for ``load_calls``. BulkExport's files have no ``price_unit`` and
    no ``error_message`` for messages (``error_code`` is there), so those columns are
    null on days read from it. Other parameters are as for ``load_calls``; the time
    filtered on is ``date_sent``.
    """
    to, from_ = address(to, "to"), address(from_, "from_")
    server = [(name, value) for name, value in (("To", to), ("From", from_)) if value is not None]
    conditions = [pl.col(c) == v for c, v in (("to", to), ("from", from_)) if v is not None]
    return load_family(
        MESSAGES,
        account,
        accounts=accounts,
        app=app,
        start=start,
        end=end,
        server_filters=server,
        keep=pl.all_horizontal(conditions) if conditions else None,
        progress=progress,
        cache_dir=cache_dir,
        refresh=refresh,
        concurrency=concurrency,
        lookback_days=lookback_days,
        retry=retry,
    )


def load_usage(
    account: object,
    *,
    accounts: Accounts = None,
    app: ConnectApp | None = None,
    start: date | str | None = None,
    end: date | str | None = None,
    category: str | None = None,
    retry: RetryPolicy | None = None,
) -> pl.DataFrame:
    """Load daily usage records by category (schema ``USAGE_SCHEMA``), one set per account of the family.

    Each account's records cover that account alone (``IncludeSubaccounts=false``;
    Twilio's default would count a subaccount's usage twice, once more in the main
    account's records), so summing over the frame gives the family's usage. The
    days are ``[start, end)`` in UTC, as for ``load_calls``; Twilio's defaults
    apply when both are omitted. With only an ``end``, each account's days start at
    its creation (an account created after ``end`` is not asked at all).
    """
    return load_family_usage(account, accounts=accounts, app=app, start=start, end=end, category=category, retry=retry)


def load_family_usage(
    account: object,
    *,
    accounts: Accounts,
    app: object,
    start: object,
    end: object,
    category: object,
    retry: object,
    stats: LoadStats | None = None,
) -> pl.DataFrame:
    """``load_usage``, counting its requests into ``stats`` (``sync``'s summary)."""
    sid = account_sid_of(account)
    check_accounts(accounts)
    start_at, end_at = checked_range(start, end)
    category = usage_category(category)
    retry = retry_policy(retry)
    app = current().resolve_app(app)
    bounded = up_to_now(start_at, end_at, datetime.now(UTC))  # no day after today has usage yet
    if bounded is None:
        return type_usage(pl.DataFrame())  # nothing to ask for
    start_at, end_at = bounded
    try:
        with APIClient(app, sid, retry=retry, stats=stats) as client:
            family = read_family(client)
            created = dict(zip(family["sid"].to_list(), family["date_created"].to_list(), strict=True))
            pages: list[pl.DataFrame] = []
            for member in select_accounts(family, sid, accounts):
                first_at = start_at
                if first_at is None and end_at is not None and created.get(member) is not None:
                    # Twilio's default start may fall after the end (a 400): the account's creation is the same start.
                    first_at = created[member]
                    if first_at >= end_at:
                        continue  # created after the range: no usage in it
                query = [("PageSize", str(PAGE_SIZE)), ("IncludeSubaccounts", "false")]
                if first_at is not None:
                    query.append(("StartDate", first_at.date().isoformat()))
                if end_at is not None:
                    # Twilio's EndDate is inclusive; ours, like every end here, is not.
                    query.append(("EndDate", (end_at - timedelta(microseconds=1)).date().isoformat()))
                if category is not None:
                    query.append(("Category", category))
                url = client.api(f"Usage/Records/Daily.json?{urlencode(query)}", account_sid=member)
                pages += client.iter_pages(url, decode_usage_page, what="usage page")
    except AuthorizationRevoked as exc:
        current().notify_revoked(exc.account_sid)
        raise
    return type_usage(pl.concat(pages) if pages else pl.DataFrame())


def load_alerts(
    account: object,
    *,
    app: ConnectApp | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
    log_level: str | None = None,
    retry: RetryPolicy | None = None,
) -> pl.DataFrame:
    """Load Monitor alerts (the debugger log; Twilio keeps the last 30 days), schema ``ALERTS_SCHEMA``.

    Unlike the other loaders this cannot cover the family: Monitor has no account
    in its path and answers for the account that authenticates, and Twilio serves
    such APIs only to an account's own credentials. With Connect credentials that
    is the Connect subaccount, so these are its alerts (the owner's own AccountSid
    gives the owner's).
    """
    sid = account_sid_of(account)
    start_at, end_at = checked_range(start, end)
    log_level = one_of(log_level, LOG_LEVELS, "log_level")
    retry = retry_policy(retry)
    app = current().resolve_app(app)
    bounded = up_to_now(start_at, end_at, datetime.now(UTC))  # no alert is from after now
    if bounded is None:
        return type_alerts(pl.DataFrame())  # nothing to ask for
    start_at, end_at = bounded
    query = [("PageSize", str(PAGE_SIZE))]
    for name, moment in (("StartDate", start_at), ("EndDate", end_at)):
        if moment is not None:
            # isoformat, not strftime: "%Y" writes year 1 as "1", and Monitor wants four digits.
            query.append((name, moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"))
    if log_level is not None:
        query.append(("LogLevel", log_level))
    with APIClient(app, sid, retry=retry) as client:
        pages = list(
            client.iter_pages(f"{app.monitor_url}/v1/Alerts?{urlencode(query)}", decode_alerts_page, what="alerts page")
        )
    return type_alerts(pl.concat(pages) if pages else pl.DataFrame())


def _dataset_given_as_account(account: object) -> bool:
    """Whether ``scan_calls(x)`` names a dataset (``cn.scan_calls(to)`` after ``cn.sync(…, to)``), not an account.

    A path object, an fsspec URL, or a string naming a folder is a dataset; any other
    string stays an account, checked as one (a mistyped SID is an account error).
    """
    if isinstance(account, os.PathLike):
        return True
    return isinstance(account, str) and (is_url(account) or (not account.startswith("AC") and os.path.isdir(account)))


def _scan(kind: Kind, account: object | None, app: object, cache_dir: object) -> pl.LazyFrame:
    if _dataset_given_as_account(account):
        if cache_dir is not None:
            msg = f"scan_{kind.name}(dataset) and cache_dir= both name the folder: pass it once"
            raise TypeError(msg)
        account, cache_dir = None, account
    sid = account_sid_of(account) if account is not None else None
    if is_url(cache_dir):  # a dataset cn.sync wrote to an fsspec URL
        assert isinstance(cache_dir, str)
        store = Store(cache_dir)
        family = None if sid is None else (store_family(store, sid) or [sid])
        return store_scan(store, kind.name, family, kind.schema, kind.time_column)
    given = folder(cache_dir)
    if app is not None:
        app = current().resolve_app(app)  # a TypeError for anything but a ConnectApp
    # The (active) app is needed only for its cache_dir: with a folder given, none is looked up.
    root = given if given is not None else current().resolve_app(app).cache_dir
    if root is None:
        msg = "scan needs a cache folder: pass cache_dir= (or set CONNECT_NOTEBOOK_CACHE_DIR) and load first"
        raise ValueError(msg)
    # A scan only reads: a missing folder is an empty cache, but a file in its place is a mistake.
    root = checked_folder(root, from_app=given is None, create=False)
    accounts = None
    if sid is not None:
        accounts = cached_family(root, sid) or [sid]
    return scan(root, kind.name, accounts, schema=kind.schema, time_column=kind.time_column)


def scan_calls(
    account: object | None = None, *, app: ConnectApp | None = None, cache_dir: str | Path | None = None
) -> pl.LazyFrame:
    """A LazyFrame over the cached calls, for data larger than memory.

    Given a connected AccountSid: its family as last loaded; without one, every
    account in the cache folder (a portfolio of customers). ``scan_calls(to)``, a
    folder or URL where ``account`` goes, reads the dataset ``cn.sync(…, to)`` wrote.
    """
    return _scan(CALLS, account, app, cache_dir)


def scan_messages(
    account: object | None = None, *, app: ConnectApp | None = None, cache_dir: str | Path | None = None
) -> pl.LazyFrame:
    """A LazyFrame over the cached messages (see ``scan_calls``)."""
    return _scan(MESSAGES, account, app, cache_dir)


def accounts(account: object, *, app: ConnectApp | None = None) -> pl.DataFrame:
    """The customer's accounts behind a connected AccountSid, as a typed frame (``ACCOUNTS_SCHEMA``).

    One row per account: the main account, its subaccounts (closed ones too) and
    the Connect App's own subaccount, with ``status``, ``type``,
    ``owner_account_sid`` (the main account), ``date_created`` and
    ``is_connect_subaccount`` (the SID Twilio gave the app).

    Examples
    --------
    >>> cn.accounts(account).select("friendly_name", "status")  # doctest: +SKIP
    """
    sid = account_sid_of(account)
    return list_accounts(current().resolve_app(app), sid)


def customer(account: object, *, app: ConnectApp | None = None) -> ConnectedAccount:
    """Who is behind a connected AccountSid: the customer's name and main account, and the app's permissions.

    Checks with Twilio that the owner's token works for the SID (``AuthorizationRevoked``
    otherwise). ``label`` is what the widget, the session and the report show,
    e.g. ``Harbor Dental Group (AC…0431)``: the customer, not the Connect subaccount.
    """
    sid = account_sid_of(account)
    return describe_customer(current().resolve_app(app), sid)
