"""`_windows`: a family's calls or messages over a range, fetched as planned day windows.

For each account of the load: the days the cache already holds (settled days
only) are read from it; for the others, usage counts (one or two requests) plan
the day windows (``_planner``), and the windows of every account are fetched
from one pool, within one concurrency budget. Days older than the list API
serves (``export_before``) are not listed but read from BulkExport
(``_bulkexport``), one file per day for the whole family, in the same pool.
Each page is typed as soon as it arrives, so page buffers are freed once decoded; a month whose windows are all
in is written to the cache at once, so an interrupted load keeps what it got.
The pieces are then put together newest first, trimmed to the exact instants
asked for, with each SID once.
"""

from __future__ import annotations

import io
import logging
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl

from ._bulkexport import Exporter
from ._cache import MonthCache, read_many
from ._client import APIClient
from ._exceptions import APIError, BulkExportError
from ._frames import (
    CALLS_SCHEMA,
    MESSAGES_SCHEMA,
    decode_calls_page,
    decode_messages_page,
    decode_usage_page,
    empty,
    type_calls,
    type_messages,
    type_usage,
)
from ._planner import Unit, Window, max_pages_per_window, plan_windows, units_from_counts
from ._pool import DaemonPool

__all__ = ["CALLS", "MESSAGES", "PAGE_SIZE", "Kind", "Span", "load_windows"]

log = logging.getLogger("connect_notebook")
PAGE_SIZE = 1000
DAILY_USAGE_DAYS = 1000  # daily usage records that fit one page
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Kind:
    """What differs between loading calls and loading messages."""

    name: str
    path: str
    time_column: str
    day_filter: str
    before_is_inclusive: bool  # ``DateSent<`` is "on and before"; ``StartTime<`` is "before" (the spec's words)
    usage_category: str
    schema: pl.Schema
    decode: Callable[[bytes], tuple[pl.DataFrame, str | None]]
    type: Callable[[pl.DataFrame], pl.DataFrame]

    def window_filters(self, window: Window) -> list[tuple[str, str]]:
        """The day filters that select exactly the window's days."""
        if window.first == window.last:
            return [(self.day_filter, window.first.isoformat())]
        before = window.last if self.before_is_inclusive else window.last + _DAY
        return [(f"{self.day_filter}>", window.first.isoformat()), (f"{self.day_filter}<", before.isoformat())]


CALLS = Kind(
    "calls", "Calls.json", "start_time", "StartTime", False, "calls", CALLS_SCHEMA, decode_calls_page, type_calls
)
MESSAGES = Kind(
    "messages",
    "Messages.json",
    "date_sent",
    "DateSent",
    True,
    "sms",
    MESSAGES_SCHEMA,
    decode_messages_page,
    type_messages,
)


@dataclass(frozen=True)
class Span:
    """One account's part of a load: the UTC days ``first`` … ``last`` (inclusive)."""

    account_sid: str
    first: date
    last: date


@dataclass
class _Piece:
    """Records of the days ``first`` … ``last`` of one account: a frame read from the cache, or fetched.

    A fetched window is kept as compressed parquet bytes until the end. Pages
    typed one by one hold their strings in many small, partly empty buffers; the
    bytes are a tenth of that, and decoding them once builds compact columns.
    That is what keeps a load's peak memory near the size of its result.
    """

    first: date
    last: date
    frame: pl.DataFrame | None = None
    data: bytes | None = None

    def load(self) -> pl.DataFrame:
        """The records, decoding the bytes of a fetched window."""
        if self.frame is not None:
            return self.frame
        assert self.data is not None
        return pl.read_parquet(io.BytesIO(self.data))


def _packed(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="lz4", statistics=False)
    return buffer.getvalue()


@dataclass
class _Plan:
    span: Span
    cached: list[_Piece]
    windows: list[Window]
    cache: MonthCache | None
    exported: list[date] = field(default_factory=list)  # days for BulkExport, newest first


@dataclass
class _ExportedDay:
    """One BulkExport day file: the records of every account of the family on ``day``."""

    day: date
    frame: pl.DataFrame


@dataclass
class _Fetched:
    span: Span
    window: Window
    piece: _Piece


@dataclass
class _Progress:
    """Pages and rows so far, shown in a tqdm bar; updated from the pool's threads."""

    bar: Any
    pages: int = 0
    rows: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def expect(self, pages: int) -> None:
        with self.lock:
            self.bar.total = (self.bar.total or 0) + pages
            self.bar.refresh()

    def describe(self, text: str) -> None:
        """Say what the load waits for (a BulkExport job) next to the bar."""
        with self.lock:
            self.bar.set_postfix_str(text)

    def page(self, rows: int) -> None:
        with self.lock:
            self.pages += 1
            self.rows += rows
            if self.pages > (self.bar.total or 0):
                self.bar.total = self.pages  # a count was low: the bar grows rather than overflowing
            self.bar.update(1)
            self.bar.set_postfix(rows=f"{self.rows:,}", refresh=False)


@dataclass
class _Load:
    kind: Kind
    client: APIClient
    start_at: datetime | None
    end_at: datetime
    server_filters: Sequence[tuple[str, str]]
    keep: pl.Expr | None
    cache_root: Path | None
    refresh: bool
    today: date
    settled_before: date
    workers: int
    progress: _Progress
    export_before: date | None  # days before it are read from BulkExport, not listed

    # -- planning: cache first, then usage counts for what is missing --

    def plan(self, span: Span, cache: MonthCache | None, cached: list[_Piece]) -> _Plan:
        """The windows for the days of ``span`` that ``cached`` does not hold (usage counts: one or two requests)."""
        # With a cache, today gets a window of its own, so that the days before it can be written whole.
        runs = _missing_runs(span, [(p.first, p.last) for p in cached], self.today if cache is not None else None)
        exported: list[date] = []
        if self.export_before is not None:
            cut = self.export_before
            exported = [d for first, last in runs if first < cut for d in _days(first, min(last, cut - _DAY))]
            runs = [(max(first, cut), last) for first, last in runs if last >= cut]
        windows: list[Window] = []
        if runs:
            lo, hi = runs[-1][0], runs[0][1]
            if lo == hi:  # one day: nothing to plan, a day cannot be split
                units = [Unit(lo, hi, 0)]
            else:
                units = self._units(span.account_sid, lo, hi)
            periods = [(u.first, u.last, u.count) for u in units]
            per_run = [units_from_counts(first, last, periods) for first, last in runs]
            # The pages the data needs, not per unit: a quiet day is a fraction of a page, not a whole one.
            pages = math.ceil(sum(u.count for run in per_run for u in run) / PAGE_SIZE)
            limit = max_pages_per_window(pages, self.workers)
            windows = [w for run in per_run for w in plan_windows(run, page_size=PAGE_SIZE, max_pages=limit)]
        return _Plan(span, cached, windows, cache, sorted(exported, reverse=True))

    def _units(self, sid: str, first: date, last: date) -> list[Unit]:
        """Usage counts of ``first`` … ``last`` as planning units: daily, or monthly refined where busy."""
        try:
            if (last - first).days < DAILY_USAGE_DAYS:
                return units_from_counts(first, last, self._usage(sid, "Daily", first, last))
            units = units_from_counts(first, last, self._usage(sid, "Monthly", first, last))
            pages = math.ceil(sum(u.count for u in units) / PAGE_SIZE)
            busy = PAGE_SIZE * max_pages_per_window(pages, self.workers) / 2
            busy_units = [u for u in units if u.count > busy and u.first < u.last]
            periods = [(u.first, u.last, u.count) for u in units if u not in busy_units]
            # Months too busy to sit in a window with others get daily counts: one request per 1,000 days of them.
            for group_first, group_last in _groups(busy_units):
                months = [u for u in busy_units if group_first <= u.first and u.last <= group_last]
                daily = self._usage(sid, "Daily", group_first, group_last)
                periods += [d for d in daily if any(u.first <= d[0] <= u.last for u in months)]
            return units_from_counts(first, last, periods)
        except APIError as exc:
            # Usage may be refused where calls are not; counts only save requests, so go on without them.
            log.info("no usage counts for %s (%s): loading %s to %s as one window", sid, exc.status_code, first, last)
            return [Unit(first, last, 0)]

    def _usage(self, sid: str, period: str, first: date, last: date) -> list[tuple[date, date, int]]:
        query = [
            ("Category", self.kind.usage_category),
            ("StartDate", first.isoformat()),
            ("EndDate", last.isoformat()),
            # A main account's usage includes its subaccounts by default; each account is counted on its own.
            ("IncludeSubaccounts", "false"),
            ("PageSize", str(PAGE_SIZE)),
        ]
        url = self.client.api(f"Usage/Records/{period}.json?{urlencode(query)}", account_sid=sid)
        pages = list(self.client.iter_pages(url, decode_usage_page, what=f"{period.lower()} usage page"))
        usage = type_usage(pl.concat(pages) if pages else pl.DataFrame())
        rows = usage.select("start_date", "end_date", pl.col("count").fill_null(0)).rows()
        return [(s, e, c) for s, e, c in rows if s is not None and e is not None]

    # -- fetching one window, page by page --

    def fetch(self, span: Span, window: Window) -> _Fetched:
        query = [*self.kind.window_filters(window), *self.server_filters, ("PageSize", str(PAGE_SIZE))]
        url = self.client.api(f"{self.kind.path}?{urlencode(query)}", account_sid=span.account_sid)
        chunks = []
        for raw in self.client.iter_pages(url, self.kind.decode, what=f"{self.kind.name} page of {window.first}"):
            chunks.append(self.kind.type(raw))  # typed now, so the page's string columns are freed
            self.progress.page(raw.height)
        frame = pl.concat(chunks, how="vertical", rechunk=False) if chunks else empty(self.kind.schema)
        if frame.height and frame["sid"].n_unique() < frame.height:
            # Busy accounts can list a record on two pages (twilio-api-notes.md §8.2).
            frame = frame.filter(pl.col("sid").is_first_distinct())
        return _Fetched(span, window, _Piece(window.first, window.last, data=_packed(frame)))

    def finish(self, piece: _Piece) -> pl.DataFrame:
        """A piece's records trimmed to the instants asked for, with the filters the server could not apply."""
        frame = piece.load()
        if frame.height == 0:
            return frame
        column = pl.col(self.kind.time_column)
        conditions = []
        # Pieces hold whole days: trim only one that reaches past an instant asked for (a filter copies the piece).
        begins = datetime(piece.first.year, piece.first.month, piece.first.day, tzinfo=UTC)
        if self.start_at is not None and begins < self.start_at:
            conditions.append(column >= self.start_at)
        if begins + timedelta(days=(piece.last - piece.first).days + 1) > self.end_at:
            conditions.append(column < self.end_at)
        if self.keep is not None:
            conditions.append(self.keep)
        return frame.filter(pl.all_horizontal(conditions)) if conditions else frame


def _missing_runs(span: Span, cached: Sequence[tuple[date, date]], today: date | None) -> list[tuple[date, date]]:
    """The days of ``span`` no cached piece covers, as runs newest first; ``today`` (if given) stands alone."""
    covered = sorted(cached)
    runs: list[tuple[date, date]] = []
    cursor = span.first
    for first, last in [*covered, (span.last + _DAY, span.last + _DAY)]:
        if first > cursor:
            runs.append((cursor, min(first - _DAY, span.last)))
        cursor = max(cursor, last + _DAY)
    split: list[tuple[date, date]] = []
    for first, last in runs:
        if today is not None and first < today <= last:
            split += [(first, today - _DAY), (today, last)]
        else:
            split.append((first, last))
    return sorted(split, reverse=True)


def _days(first: date, last: date) -> list[date]:
    """The days ``first`` … ``last``, oldest first."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _groups(units: Sequence[Unit]) -> Iterator[tuple[date, date]]:
    """Consecutive busy units grouped into spans of at most ``DAILY_USAGE_DAYS`` days (one request each)."""
    group: tuple[date, date] | None = None
    for u in sorted(units, key=lambda u: u.first):
        if group is not None and (u.last - group[0]).days < DAILY_USAGE_DAYS:
            group = (group[0], u.last)
            continue
        if group is not None:
            yield group
        group = (u.first, u.last)
    if group is not None:
        yield group


def _months(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _day_range(column: str, first: date, last: date) -> pl.Expr:
    lo = datetime(first.year, first.month, first.day, tzinfo=UTC)
    hi = lo + timedelta(days=(last - first).days + 1)
    return (pl.col(column) >= lo) & (pl.col(column) < hi)


def _per_account(exported: _ExportedDay, plans: Sequence[_Plan], time_column: str) -> Iterator[_Fetched]:
    """A family's day file as one piece per account that asked for that day, newest first."""
    for plan in plans:
        if exported.day in plan.exported:
            frame = exported.frame.filter(pl.col("account_sid") == plan.span.account_sid)
            frame = frame.sort(time_column, descending=True, maintain_order=True)
            window = Window(exported.day, exported.day, 0)
            yield _Fetched(plan.span, window, _Piece(exported.day, exported.day, frame=frame))


def _export_day(exporter: Exporter, progress: _Progress, day: date) -> _ExportedDay:
    frame = exporter.fetch(day)
    progress.page(frame.height)
    return _ExportedDay(day, frame)


class _CacheWriter:
    """Writes each month of fetched, settled days once every window touching it has arrived."""

    def __init__(self, load: _Load) -> None:
        self.load = load
        self.pending: dict[tuple[str, date], int] = {}
        self.fetched: dict[str, list[_Fetched]] = {}
        self.caches: dict[str, MonthCache] = {}

    def _writable(self, window: Window) -> tuple[date, date] | None:
        last = min(window.last, self.load.today - _DAY)
        return (window.first, last) if window.first <= last else None

    def expect(self, plan: _Plan) -> None:
        if plan.cache is None or self.load.server_filters:
            return  # without a cache, or with server-side filters (not whole days), nothing is written
        self.caches[plan.span.account_sid] = plan.cache
        for window in [*plan.windows, *(Window(d, d, 0) for d in plan.exported)]:
            if (days := self._writable(window)) is not None:
                for month in _months(*days):
                    key = (plan.span.account_sid, month)
                    self.pending[key] = self.pending.get(key, 0) + 1

    def arrived(self, fetched: _Fetched) -> None:
        sid = fetched.span.account_sid
        days = self._writable(fetched.window)
        if sid not in self.caches or days is None:
            return
        self.fetched.setdefault(sid, []).append(fetched)
        self._done(sid, days)

    def forgo(self, span: Span, day: date) -> None:
        """A day that will not arrive (BulkExport's quota): its month is written with the days that did."""
        if span.account_sid in self.caches and (days := self._writable(Window(day, day, 0))) is not None:
            self.fetched.setdefault(span.account_sid, [])
            self._done(span.account_sid, days)

    def _done(self, sid: str, days: tuple[date, date]) -> None:
        for month in _months(*days):
            self.pending[(sid, month)] -= 1
            if self.pending[(sid, month)] == 0:
                self._write(sid, month)

    def _write(self, sid: str, month: date) -> None:
        month_last = (month + timedelta(days=32)).replace(day=1) - _DAY
        column = self.load.kind.time_column
        parts = []
        for f in self.fetched[sid]:
            days = self._writable(f.window)
            assert days is not None
            lo, hi = max(days[0], month), min(days[1], month_last)
            if lo <= hi:
                inside = f.window.first >= month and f.window.last <= hi
                frame = f.piece.load()
                parts.append((lo, hi, frame if inside else frame.filter(_day_range(column, lo, hi))))
        # Adjacent windows become one run, so a month is usually written once.
        parts.sort(key=lambda p: p[0], reverse=True)
        runs: list[tuple[date, date, list[pl.DataFrame]]] = []
        for lo, hi, frame in parts:
            if runs and runs[-1][0] == hi + _DAY:
                runs[-1] = (lo, runs[-1][1], [*runs[-1][2], frame])
            else:
                runs.append((lo, hi, [frame]))
        for lo, hi, frames in runs:
            self.caches[sid].write(lo, hi, pl.concat(frames, how="vertical", rechunk=False))


def load_windows(
    kind: Kind,
    client: APIClient,
    spans: Sequence[Span],
    *,
    start_at: datetime | None,
    end_at: datetime,
    server_filters: Sequence[tuple[str, str]],
    keep: pl.Expr | None,
    cache_root: Path | None,
    refresh: bool,
    now: datetime,
    lookback_days: int,
    workers: int,
    bar: Any,
    export_before: date | None = None,
) -> pl.DataFrame:
    """Load ``spans`` (one per account) and return one frame, newest first, each SID once.

    With a ``cache_root``, server-side filters are not sent (a cached day must be
    the whole day); ``keep`` then does the filtering. Days before ``export_before``
    come from BulkExport; ``BulkExportError`` is raised when some could not be
    exported, after the others are in the cache.
    """
    load = _Load(
        kind=kind,
        client=client,
        start_at=start_at,
        end_at=end_at,
        server_filters=[] if cache_root is not None else list(server_filters),
        keep=keep,
        cache_root=cache_root,
        refresh=refresh,
        today=now.date(),
        settled_before=now.date() - timedelta(days=lookback_days),
        workers=workers,
        progress=_Progress(bar),
        export_before=export_before,
    )
    exporter = None
    if export_before is not None:
        exporter = Exporter(client, kind.name, export_before, load.progress.describe)
    writer = _CacheWriter(load)
    pieces: dict[str, list[_Piece]] = {span.account_sid: [] for span in spans}
    caches = {}
    if cache_root is not None:
        caches = {
            s.account_sid: MonthCache(
                cache_root, kind.name, s.account_sid, time_column=kind.time_column, schema=kind.schema
            )
            for s in spans
        }
    # Days this recent may still change (calls ringing, prices posted): only older ones come from the cache.
    # Every account's are read at once: a family's year is dozens of month files, and one read of them all is quick.
    settled = [(s, min(s.last, load.settled_before - _DAY)) for s in spans if s.first < load.settled_before]
    cached: dict[str, list[_Piece]] = {}
    if caches and not refresh and settled:
        runs = read_many([(caches[s.account_sid], s.first, last) for s, last in settled])
        for (span, _), found in zip(settled, runs, strict=True):
            cached[span.account_sid] = [_Piece(first, last, frame=frame) for first, last, frame in found]
    plans: list[_Plan] = []
    with DaemonPool(workers) as pool:
        running: set[Future[Any]] = {
            pool.submit(load.plan, span, caches.get(span.account_sid), cached.get(span.account_sid, []))
            for span in spans
        }
        try:
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    if isinstance(result, _Plan):
                        plans.append(result)
                        if client.stats is not None:
                            client.stats.add(
                                days_cached=sum((p.last - p.first).days + 1 for p in result.cached),
                                days_fetched=sum((w.last - w.first).days + 1 for w in result.windows)
                                + len(result.exported),
                            )
                        pieces[result.span.account_sid] += result.cached
                        writer.expect(result)
                        load.progress.expect(sum(w.pages(PAGE_SIZE) for w in result.windows))
                        # Longest windows first, so the pool does not end waiting on one of them.
                        for window in sorted(result.windows, key=lambda w: -w.pages(PAGE_SIZE)):
                            running.add(pool.submit(load.fetch, result.span, window))
                        exported = sorted({d for plan in plans for d in plan.exported}, reverse=True)
                        if exporter is not None and len(plans) == len(spans) and exported:
                            # One file a day serves every account: asked once every account's days are known.
                            running.add(pool.submit(exporter.prepare, exported))
                    elif isinstance(result, list):  # the days BulkExport has files for
                        load.progress.expect(len(result))
                        for plan in plans:  # days the quota left out: their months are written without them
                            for day in set(plan.exported) - set(result):
                                writer.forgo(plan.span, day)
                        running |= {pool.submit(_export_day, exporter, load.progress, day) for day in result}
                    elif isinstance(result, _ExportedDay):
                        for fetched in _per_account(result, plans, kind.time_column):
                            writer.arrived(fetched)
                            pieces[fetched.span.account_sid].append(fetched.piece)
                    else:
                        writer.arrived(result)
                        pieces[result.span.account_sid].append(result.piece)
        except BaseException:
            for future in running:
                future.cancel()
            raise
    if exporter is not None and exporter.refused is not None:
        raise BulkExportError(exporter.refused, listed_from=export_before)
    frames: list[pl.DataFrame] = []
    accounts_with_rows = 0
    for span in spans:
        parts = []
        for piece in sorted(pieces.pop(span.account_sid), key=lambda p: p.first, reverse=True):
            if (frame := load.finish(piece)).height:
                parts.append(frame)
            piece.data = piece.frame = None  # decoded: free the bytes as we go
        accounts_with_rows += bool(parts)
        frames += parts
    if not frames:
        return empty(kind.schema)
    # Not rechunked: a copy would double the peak, and the chunks are a window each, not a page.
    result = pl.concat(frames, how="vertical", rechunk=False)
    if accounts_with_rows == 1:
        return result  # one account's pieces are in order already
    # A family: newest first across accounts; ties keep the family's order (stable sort).
    return result.sort(kind.time_column, descending=True, maintain_order=True)
