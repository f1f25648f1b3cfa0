"""`_loaders`: a connected account's calls, messages, usage and alerts as typed polars frames.

Twilio's date filters select whole UTC days, so a range is fetched as one window
per day, several days at once (bounded, backing off on 429), each day paged at
1,000 records and decoded columnar. The days are then put together newest first,
trimmed to the exact instants asked for and de-duplicated by SID.

With a cache folder, completed days are kept as hive-partitioned parquet
(``calls/account=AC…/date=YYYY-MM-DD/part-0.parquet``), written to a temporary
file and renamed into place, so a reader never sees half a day.
"""

from __future__ import annotations

import email.utils
import logging
import os
import uuid
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl

from ._active import active_app, notify_revoked
from ._client import APIClient
from ._config import DEFAULT_LOOKBACK_DAYS, ConnectApp, check_sid
from ._exceptions import AuthorizationRevoked
from ._frames import (
    CALL_DIRECTIONS,
    CALL_STATUSES,
    CALLS_SCHEMA,
    MESSAGES_SCHEMA,
    decode_alerts_page,
    decode_calls_page,
    decode_messages_page,
    decode_usage_page,
    empty,
    type_alerts,
    type_calls,
    type_messages,
    type_usage,
)
from ._retry import RetryPolicy, Throttle

__all__ = ["load_alerts", "load_calls", "load_messages", "load_usage", "scan_calls", "scan_messages"]

log = logging.getLogger("connect_notebook")
PAGE_SIZE = 1000
MESSAGE_RETENTION_DAYS = 400
Moment = datetime | date | str


def _account_sid(account: object) -> str:
    """An AccountSid, or a connected-account object's ``sid``."""
    sid = account if isinstance(account, str) else getattr(account, "sid", getattr(account, "account_sid", None))
    return check_sid(sid, "AC", "account")


def _instant(value: Moment, name: str) -> datetime:
    """A UTC datetime from a datetime (naive means UTC), a date (its midnight) or an ISO string."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            msg = f"{name} must be a date or time such as '2026-10-01' or '2026-10-01T12:00:00Z', got {value!r}"
            raise ValueError(msg) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    msg = f"{name} must be a datetime, a date or an ISO 8601 string, got {type(value).__name__}"
    raise TypeError(msg)


def _checked_range(start: Moment | None, end: Moment | None) -> tuple[datetime | None, datetime | None]:
    """Parse an optional ``[start, end)``; an end before its start is a ValueError, before any request."""
    start_at = _instant(start, "start") if start is not None else None
    end_at = _instant(end, "end") if end is not None else None
    if start_at is not None and end_at is not None and end_at < start_at:
        msg = f"end ({end_at.isoformat()}) is before start ({start_at.isoformat()})"
        raise ValueError(msg)
    return start_at, end_at


def _choices(values: list[str] | None, allowed: Sequence[str], name: str) -> list[str] | None:
    """Check filter values against the schema's Enum, so a typo is an error, not an empty frame."""
    unknown = [v for v in values or () if v not in allowed]
    if unknown:
        msg = f"{name} must be one or more of {', '.join(allowed)}; got {', '.join(map(repr, unknown))}"
        raise ValueError(msg)
    return values


def _days(start: datetime, end: datetime) -> list[date]:
    """The UTC days that ``[start, end)`` touches, newest first."""
    last = (end - timedelta(microseconds=1)).date()
    return [last - timedelta(days=i) for i in range((last - start.date()).days + 1)]


@dataclass(frozen=True)
class _Kind:
    """What differs between loading calls and loading messages."""

    name: str
    path: str
    time_column: str
    day_filter: str
    schema: pl.Schema
    decode: Callable[[bytes], tuple[pl.DataFrame, str | None]]
    type: Callable[[pl.DataFrame], pl.DataFrame]


_CALLS = _Kind("calls", "Calls.json", "start_time", "StartTime", CALLS_SCHEMA, decode_calls_page, type_calls)
_MESSAGES = _Kind(
    "messages", "Messages.json", "date_sent", "DateSent", MESSAGES_SCHEMA, decode_messages_page, type_messages
)


class _Cache:
    """Completed UTC days of one account, as parquet files that appear whole or not at all."""

    def __init__(self, root: Path, kind: str, account_sid: str) -> None:
        self.folder = root / kind / f"account={account_sid}"

    def path(self, day: date) -> Path:
        return self.folder / f"date={day.isoformat()}" / "part-0.parquet"

    def read(self, day: date) -> pl.DataFrame | None:
        path = self.path(day)
        return pl.read_parquet(path) if path.exists() else None

    def write(self, day: date, frame: pl.DataFrame) -> None:
        path = self.path(day)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp")
        try:
            frame.write_parquet(temp)
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)  # on disk before it gets the real name, so a power cut cannot leave it half there
            finally:
                os.close(fd)
            os.replace(temp, path)  # atomic: readers see the old file or the new one
        finally:
            temp.unlink(missing_ok=True)
        # Temp files of writers killed before their rename (their process is gone): the day is whole now.
        for stale in path.parent.glob(f".{path.name}.*-*.tmp"):
            if not _alive(int(stale.name.split(".")[-2].split("-")[0] or 0)):
                stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _progress(total: int, unit: str, enabled: bool, description: str) -> Any:
    from tqdm.auto import tqdm  # type: ignore[import-untyped]  # tqdm ships no type information

    return tqdm(total=total, unit=unit, desc=description, disable=not enabled, leave=False)


def _load_days_checked(
    kind: _Kind,
    account: object,
    *,
    app: ConnectApp | None,
    start: Moment | None,
    end: Moment | None,
    server_filters: Sequence[tuple[str, str]],
    keep: pl.Expr | None,
    progress: bool,
    cache_dir: str | Path | None,
    refresh: bool,
    concurrency: int | None,
    lookback_days: int,
    retry: RetryPolicy | None,
    earliest: Callable[[datetime], datetime | None] | None = None,
) -> pl.DataFrame:
    app = app or active_app()
    sid = _account_sid(account)
    workers = app.concurrency if concurrency is None else concurrency
    if not 1 <= workers <= 64:
        msg = f"concurrency must be from 1 to 64, got {workers}"
        raise ValueError(msg)
    now = datetime.now(UTC)
    end_at = _instant(end, "end") if end is not None else now
    throttle = Throttle(workers)
    with APIClient(app, sid, retry=retry, throttle=throttle) as client:
        if start is None:
            created = client.get_json(f"{app.api_url}/2010-04-01/Accounts/{sid}.json").get("date_created")
            start_at = email.utils.parsedate_to_datetime(created).astimezone(UTC) if created else end_at
        else:
            start_at = _instant(start, "start")
        if earliest is not None and (clamped := earliest(start_at)) is not None:
            start_at = clamped
        if end_at < start_at:
            msg = f"end ({end_at.isoformat()}) is before start ({start_at.isoformat()})"
            raise ValueError(msg)
        if end_at == start_at:
            return empty(kind.schema)
        days = _days(start_at, end_at)
        root = Path(cache_dir).expanduser() if cache_dir is not None else app.cache_dir
        cache = _Cache(root, kind.name, sid) if root is not None else None
        # Days this recent may still change (calls ringing, prices posted): always fetch them.
        settled_before = now.date() - timedelta(days=lookback_days)
        filters = [] if cache else list(server_filters)  # a cached day must be the whole day

        def one_day(day: date) -> pl.DataFrame:
            if cache and not refresh and day < settled_before and (frame := cache.read(day)) is not None:
                return frame
            query = [(kind.day_filter, day.isoformat()), *filters, ("PageSize", str(PAGE_SIZE))]
            pages = list(
                client.iter_pages(
                    client.api(f"{kind.path}?{urlencode(query)}"),
                    kind.decode,
                    what=f"{kind.name} page of {day}",
                )
            )
            frame = kind.type(pl.concat(pages, how="vertical") if pages else pl.DataFrame())
            if cache and day < now.date():
                cache.write(day, frame)
            return frame

        frames: dict[date, pl.DataFrame] = {}
        with _progress(len(days), "day", progress, f"{kind.name} {sid[-4:]}") as bar:
            with ThreadPoolExecutor(workers, thread_name_prefix="connect_notebook-load") as pool:
                for day, frame in zip(days, pool.map(one_day, days), strict=True):
                    frames[day] = frame
                    bar.update(1)
                    bar.set_postfix(rows=f"{sum(f.height for f in frames.values()):,}", refresh=False)
    result = pl.concat([frames[d] for d in days], how="vertical") if days else empty(kind.schema)
    column = pl.col(kind.time_column)
    result = result.filter((column >= start_at) & (column < end_at))
    if keep is not None:
        result = result.filter(keep)
    return result.filter(pl.col("sid").is_first_distinct())  # keeps the order; cheaper than unique()


def _load_days(kind: _Kind, account: object, **kwargs: Any) -> pl.DataFrame:
    """``_load_days_checked``, telling the session when Twilio refuses the account."""
    try:
        return _load_days_checked(kind, account, **kwargs)
    except AuthorizationRevoked as exc:
        notify_revoked(exc.account_sid)
        raise


def _one_or_many(values: str | Iterable[str] | None) -> list[str] | None:
    if values is None:
        return None
    return [values] if isinstance(values, str) else list(values)


def load_calls(
    account: object,
    *,
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
    """Load a connected account's calls into a polars DataFrame (schema ``CALLS_SCHEMA``).

    Parameters
    ----------
    account
        The customer's AccountSid (``AC…``), or a connected account object.
    app
        The Connect App; defaults to the active one (``%load_ext``, then the
        ``CONNECT_NOTEBOOK_*`` variables, then the embedded sandbox).
    start, end
        Calls that started in ``[start, end)``; datetimes (naive means UTC), dates or
        ISO strings. ``start`` defaults to the account's creation, ``end`` to now.
    status, to, from_, direction
        Keep only matching calls (``status`` and ``direction`` take one value or several).
    progress
        Show a progress bar (days and rows) in notebooks and terminals.
    cache_dir
        Keep completed days as parquet here and reuse them (default: the app's ``cache_dir``).
    refresh
        Fetch every day again, even those in the cache.
    concurrency
        Day windows fetched at once (default: the app's, 8).
    lookback_days
        Days before today that are fetched again even when cached, because calls
        still change status and price for a while after they are first read.

    Returns
    -------
    polars.DataFrame
        Newest first, one row per call SID; the same columns and types when empty.

    Raises
    ------
    AuthorizationRevoked
        The account has not authorized the Connect App, or has revoked it.
    APIError, TransportError
        Twilio kept failing after every retry; nothing partial is returned.
    """
    statuses = _choices(_one_or_many(status), CALL_STATUSES, "status")
    directions = _choices(_one_or_many(direction), CALL_DIRECTIONS, "direction")
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
    keep = pl.all_horizontal(conditions) if conditions else None
    return _load_days(
        _CALLS,
        account,
        app=app,
        start=start,
        end=end,
        server_filters=server,
        keep=keep,
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
    """Load a connected account's messages (schema ``MESSAGES_SCHEMA``), newest first.

    Twilio keeps messages for 400 days: a ``start`` older than that is moved up to
    the oldest day Twilio still has, with a warning that says so. Other parameters
    are as for ``load_calls``; the time filtered on is ``date_sent``.
    """

    def earliest(start_at: datetime) -> datetime | None:
        oldest = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
            days=MESSAGE_RETENTION_DAYS
        )
        if start_at >= oldest:
            return None
        if end is not None and _instant(end, "end") <= oldest:
            msg = (
                f"Twilio keeps messages for {MESSAGE_RETENTION_DAYS} days: nothing before {oldest.date()} "
                f"can be loaded, and the range ends on {_instant(end, 'end').date()}"
            )
            raise ValueError(msg)
        if start is not None:
            message = (
                f"Twilio keeps messages for {MESSAGE_RETENTION_DAYS} days: loading from "
                f"{oldest.date()} instead of {start_at.date()}"
            )
            warnings.warn(message, UserWarning, stacklevel=3)
        return oldest

    server = [(name, value) for name, value in (("To", to), ("From", from_)) if value is not None]
    conditions = [pl.col(c) == v for c, v in (("to", to), ("from", from_)) if v is not None]
    return _load_days(
        _MESSAGES,
        account,
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
        earliest=earliest,
    )


def load_usage(
    account: object,
    *,
    app: ConnectApp | None = None,
    start: date | str | None = None,
    end: date | str | None = None,
    category: str | None = None,
    retry: RetryPolicy | None = None,
) -> pl.DataFrame:
    """Load daily usage records by category (schema ``USAGE_SCHEMA``), count / usage / price numeric.

    The days are ``[start, end)`` in UTC, as for ``load_calls``; Twilio's defaults apply when omitted.
    """
    app = app or active_app()
    sid = _account_sid(account)
    start_at, end_at = _checked_range(start, end)
    query = [("PageSize", str(PAGE_SIZE))]
    if start_at is not None:
        query.append(("StartDate", start_at.date().isoformat()))
    if end_at is not None:
        # Twilio's EndDate is inclusive; ours, like every end here, is not.
        query.append(("EndDate", (end_at - timedelta(microseconds=1)).date().isoformat()))
    if category is not None:
        query.append(("Category", category))
    with APIClient(app, sid, retry=retry) as client:
        pages = list(
            client.iter_pages(
                client.api(f"Usage/Records/Daily.json?{urlencode(query)}"),
                decode_usage_page,
                what="usage page",
            )
        )
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
    """Load Monitor alerts (the debugger log; Twilio keeps the last 30 days), schema ``ALERTS_SCHEMA``."""
    app = app or active_app()
    sid = _account_sid(account)
    start_at, end_at = _checked_range(start, end)
    query = [("PageSize", str(PAGE_SIZE))]
    for name, moment in (("StartDate", start_at), ("EndDate", end_at)):
        if moment is not None:
            query.append((name, moment.strftime("%Y-%m-%dT%H:%M:%SZ")))
    if log_level is not None:
        query.append(("LogLevel", log_level))
    with APIClient(app, sid, retry=retry) as client:
        pages = list(
            client.iter_pages(f"{app.monitor_url}/v1/Alerts?{urlencode(query)}", decode_alerts_page, what="alerts page")
        )
    return type_alerts(pl.concat(pages) if pages else pl.DataFrame())


def _scan(kind: _Kind, account: object, app: ConnectApp | None, cache_dir: str | Path | None) -> pl.LazyFrame:
    sid = _account_sid(account)
    root = Path(cache_dir).expanduser() if cache_dir is not None else (app or active_app()).cache_dir
    if root is None:
        msg = "scan needs a cache folder: pass cache_dir= (or set CONNECT_NOTEBOOK_CACHE_DIR) and load first"
        raise ValueError(msg)
    folder = root / kind.name / f"account={sid}"
    if not any(folder.glob("date=*/*.parquet")):
        return empty(kind.schema).lazy()
    return pl.scan_parquet(folder / "**" / "*.parquet", hive_partitioning=False, schema=kind.schema).sort(
        kind.time_column, descending=True, maintain_order=True
    )


def scan_calls(account: object, *, app: ConnectApp | None = None, cache_dir: str | Path | None = None) -> pl.LazyFrame:
    """A LazyFrame over the cached calls of an account, for data larger than memory."""
    return _scan(_CALLS, account, app, cache_dir)


def scan_messages(
    account: object, *, app: ConnectApp | None = None, cache_dir: str | Path | None = None
) -> pl.LazyFrame:
    """A LazyFrame over the cached messages of an account."""
    return _scan(_MESSAGES, account, app, cache_dir)
