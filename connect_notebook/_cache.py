"""`_cache`: the on-disk cache of loaded records.

Concern and boundary: ``MonthCache`` and ``scan`` own the parquet cache, written with
``_atomic.atomic_write`` (the package's one write-temporary-then-rename). They never
perform HTTP and never decide what is stale: the loader asks which days are cached,
fetches the others, and hands whole days back to ``write``.

Layout, hive-partitioned (DuckDB's ``read_parquet('cache/calls/*/*/*.parquet',
hive_partitioning=true)`` and ``spark.read.parquet("cache/calls")`` read it)::

    <root>/<kind>/account=<AC…>/month=YYYY-MM/part-0.parquet    kind: "calls" or "messages"
    <root>/families/<AC…>.json                                  a connected account's family

A month file's parquet key-value metadata holds, under ``connect_notebook.cache``, the
JSON ``{"version": 1, "month": "2026-10", "days": [1, 2, …], "rows": 70000, "schema":
"<16 hex digits>"}``: the UTC days of the month it covers, each completely (a covered
day may have no row: an empty day is knowledge too), its row count, and a fingerprint
of column names and dtypes, so a file of an older schema is recognised from its footer
alone. Rows are ordered newest first by the kind's time column, ties in the order given.

Why one file per month: re-loading a year of one account used to open 365 day files;
now it opens 12, and knowing which days are cached costs one footer per month. A busy
account's month (~70,000 calls) is a few MB, small enough to rewrite whole when days are
added, and few enough files for DuckDB and Spark to list quickly.

Crash safety: a month file is only ever replaced whole, by ``atomic_write`` (temporary
file in the same folder, fsync, ``os.replace``, fsync of the folder), and its metadata
travels in the same file as its rows. After ``kill -9`` at any point, every
``part-0.parquet`` is complete and agrees with its metadata; a leftover temporary file
(``.part-0.parquet.<pid>-<hex>.tmp``) is ignored by readers and removed by the next
write once its writer is dead. A day belongs to one month file, so no day is read twice.
Legacy day folders (``date=YYYY-MM-DD``, the previous layout) are folded in on first use:
month file first, then the day folders it covers are removed. Readers never look at day
folders, so a crash between the two steps costs only a removal on the next use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeGuard

from ._atomic import atomic_write

# polars is imported inside the functions that use it, so listing a cache stays cheap.
if TYPE_CHECKING:
    import polars as pl

__all__ = ["METADATA_KEY", "MonthCache", "read_family", "read_many", "scan", "write_family"]

log = logging.getLogger("connect_notebook")

METADATA_KEY = "connect_notebook.cache"
FORMAT_VERSION = 1
FILE_NAME = "part-0.parquet"
_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_KIND = re.compile(r"[a-z][a-z0-9_]*")
_FD_PATHS = Path("/proc/self/fd")  # Linux: a path for each open file descriptor
_MONTH_FOLDER = re.compile(r"month=(\d{4})-(\d{2})")


# -- months and days --


def _month_end(month: date) -> date:
    """The last day of the month that ``month`` falls in."""
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _months(first: date, last: date) -> list[date]:
    """The first days of the months that ``[first, last]`` touches, newest first."""
    months = [first.replace(day=1)]
    while (following := _month_end(months[-1]) + timedelta(days=1)) <= last:
        months.append(following)
    return months[::-1] if first <= last else []


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _fingerprint(schema: pl.Schema) -> str:
    """A short digest of column names and dtypes (Enum categories included).

    Built from polars' dtype names: should a polars upgrade rename one, old files read as
    "another schema" and are fetched again, which is correct, only slower once.
    """
    text = json.dumps([[name, str(dtype)] for name, dtype in schema.items()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_sid(value: str, what: str) -> str:
    # Also a path component: anything but an AccountSid could leave the cache folder.
    if not isinstance(value, str) or _SID.fullmatch(value) is None:
        msg = f"{what} must be 'AC' followed by 32 hex digits, got {value!r}; pass the account's AccountSid"
        raise ValueError(msg)
    return value


# -- the month cache --


@dataclass(frozen=True)
class _MonthFile:
    """What a month file's metadata says."""

    days: frozenset[date]
    rows: int


@dataclass(frozen=True)
class _Opened:
    """A month file opened for reading, identified by what ``fstat`` says of the open file."""

    path: Path
    key: tuple[int, int, int, int]
    info: _MonthFile
    file: IO[bytes]


# One lock per month file, process-wide on purpose and private: two loads in two threads may
# each build a MonthCache for the same account, and their writes to one month must still not
# lose each other's days. It grows by one small lock per month file this process writes.
# Across processes the last writer wins: each file is still internally consistent (its
# metadata is written with its rows), and a lost update only costs a re-fetch later.
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path: Path) -> threading.Lock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(os.path.abspath(path), threading.Lock())


class MonthCache:
    """Cached UTC days of one account and one kind, one parquet file per month.

    Safe to share between threads. Construction does no I/O; the first call folds any
    legacy ``date=YYYY-MM-DD`` folders of the account into month files.

    Parameters
    ----------
    root
        The cache folder (the app's ``cache_dir``).
    kind
        ``"calls"`` or ``"messages"``: the folder under ``root``.
    account_sid
        The account (``AC…``) whose records these are.
    time_column
        The column that places a record on a UTC day (``start_time``, ``date_sent``);
        a ``pl.Datetime`` in UTC.
    schema
        The exact schema of the frames written and read.

    Raises
    ------
    ValueError
        ``kind`` or ``account_sid`` is malformed, or ``time_column`` is not a UTC
        datetime column of ``schema``.
    """

    def __init__(self, root: Path, kind: str, account_sid: str, *, time_column: str, schema: pl.Schema) -> None:
        import polars as pl

        if _KIND.fullmatch(kind) is None:
            msg = f"kind must be a lower-case name such as 'calls', got {kind!r}"
            raise ValueError(msg)
        _check_sid(account_sid, "account_sid")
        schema = pl.Schema(schema)
        dtype = schema.get(time_column)
        if not isinstance(dtype, pl.Datetime) or dtype.time_zone != "UTC":
            msg = f"time_column {time_column!r} must be a UTC Datetime column of the schema, got {dtype}"
            raise ValueError(msg)
        self.root = root
        self.kind = kind
        self.account_sid = account_sid
        self.time_column = time_column
        self.schema = schema
        self.folder = root / kind / f"account={account_sid}"
        self._fingerprint = _fingerprint(schema)
        self._lock = threading.Lock()  # guards _known
        self._known: dict[Path, tuple[tuple[int, int, int, int], _MonthFile | None]] = {}
        self._migration_lock = threading.Lock()
        self._migrated = False

    def path(self, month: date) -> Path:
        """The file of the month that ``month`` falls in."""
        return self.folder / f"month={month:%Y-%m}" / FILE_NAME

    # -- reading --

    def cached_days(self, first: date, last: date) -> set[date]:
        """Days in ``[first, last]`` (inclusive) that the cache covers; reads only file metadata."""
        self._migrate_once()
        days: set[date] = set()
        for month in _months(first, last):
            with self._open(month) as opened:
                if opened is not None:
                    days.update(d for d in opened.info.days if first <= d <= last)
        return days

    def read(self, first: date, last: date) -> list[tuple[date, date, pl.DataFrame]]:
        """The cached rows of days in ``[first, last]``, as contiguous runs of covered days.

        Returns
        -------
        list of (run_first_day, run_last_day, frame)
            Newest run first; each frame newest first. Runs never overlap and may span
            months. A file found unreadable here (after ``cached_days`` counted it) is
            left out with a warning: fetch every day that no run covers.
        """
        return read_many([(self, first, last)])[0]

    def _wanted(self, stack: ExitStack, first: date, last: date) -> dict[date, _Opened]:
        """The month files holding days of ``[first, last]``, opened (kept open by ``stack``), newest first."""
        self._migrate_once()
        wanted: dict[date, _Opened] = {}
        for month in sorted(_months(first, last), reverse=True):
            opened = stack.enter_context(self._open(month))
            if opened is not None and any(first <= d <= last for d in opened.info.days):
                wanted[month] = opened
        return wanted

    def _assemble(
        self, files: dict[date, tuple[_MonthFile, pl.DataFrame]], first: date, last: date
    ) -> list[tuple[date, date, pl.DataFrame]]:
        """The runs of covered days in ``[first, last]``, each with its rows (month files' rows, newest first)."""
        import polars as pl

        covered = sorted((d for info, _ in files.values() for d in info.days if first <= d <= last), reverse=True)
        runs: list[tuple[date, date, pl.DataFrame]] = []
        for run_first, run_last in _runs(covered):
            pieces = []
            for month in _months(run_first, run_last):
                info, frame = files[month]
                lo, hi = max(run_first, month), min(run_last, _month_end(month))
                if not all(lo <= d <= hi for d in info.days):  # the run takes part of the file only
                    column = pl.col(self.time_column)
                    frame = frame.filter((column >= _midnight(lo)) & (column < _midnight(hi + timedelta(days=1))))
                pieces.append(frame)
            frame = pieces[0] if len(pieces) == 1 else pl.concat(pieces, how="vertical", rechunk=False)
            runs.append((run_first, run_last, frame))
        return runs

    def month_files(self) -> list[Path]:
        """The readable month files of this account, newest month first (for ``scan``)."""
        self._migrate_once()
        try:
            names = os.listdir(self.folder)
        except OSError:
            names = []
        found = [m for m in map(_MONTH_FOLDER.fullmatch, names) if m is not None and 1 <= int(m[2]) <= 12]
        paths = []
        for month in sorted((date(int(m[1]), int(m[2]), 1) for m in found), reverse=True):
            with self._open(month) as opened:
                if opened is not None:
                    paths.append(opened.path)
        return paths

    # -- writing --

    def write(self, first: date, last: date, frame: pl.DataFrame) -> None:
        """Cache the whole UTC days ``[first, last]``.

        ``frame`` holds every record whose time falls on a UTC day in ``[first, last]``;
        a day without a row is an empty day. Each month touched is merged and written
        once, atomically: rows of other days already in it are kept, rows of these days
        replaced, and its covered days grow.

        Raises
        ------
        ValueError
            ``last`` is before ``first``, ``frame`` does not have the cache's schema, or a
            row's time is missing or outside ``[first, last]``.
        """
        import polars as pl

        if last < first:
            msg = f"last ({last}) is before first ({first}); pass the days oldest first"
            raise ValueError(msg)
        frame = self._conform(frame)
        column = pl.col(self.time_column)
        stray = frame.filter(
            column.is_null() | (column < _midnight(first)) | (column >= _midnight(last) + timedelta(days=1))
        )
        if stray.height:
            msg = (
                f"{stray.height} of the {frame.height} rows to cache have a {self.time_column} that is missing or "
                f"outside the days {first} to {last}; write only the records of the days fetched"
            )
            raise ValueError(msg)
        self._migrate_once()
        for month in _months(first, last):
            lo, hi = max(first, month), min(last, _month_end(month))
            rows = frame.filter((column >= _midnight(lo)) & (column < _midnight(hi) + timedelta(days=1)))
            with _write_lock(self.path(month)):
                self._merge(month, {lo + timedelta(days=i) for i in range((hi - lo).days + 1)}, rows)

    def _merge(self, month: date, days: set[date], rows: pl.DataFrame) -> None:
        """Write the month file with ``rows`` for ``days``, keeping its other days; hold the path's lock."""
        import polars as pl

        path = self.path(month)
        covered: frozenset[date] = frozenset()
        kept = None
        with self._open(month) as opened:
            if opened is not None and not opened.info.days <= days:  # some of its days stay
                old = self._load(opened)
                if old is not None:
                    covered = opened.info.days
                    kept = old.filter(~pl.col(self.time_column).dt.date().is_in(sorted(days)))
        merged = rows if kept is None else pl.concat([kept, rows], how="vertical")
        # Stable: rows with the same time stay in the order they were given.
        merged = merged.sort(self.time_column, descending=True, maintain_order=True)
        covered |= days
        doc = {"version": FORMAT_VERSION, "month": f"{month:%Y-%m}", "days": sorted(d.day for d in covered)}
        metadata = {METADATA_KEY: json.dumps({**doc, "rows": merged.height, "schema": self._fingerprint})}

        def write_parquet(temp: Path) -> None:
            merged.write_parquet(temp, metadata=metadata)

        atomic_write(path, write_parquet)

    def _conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with the cache's columns in order; a ValueError naming what differs otherwise."""
        if frame.schema == self.schema:
            return frame
        if dict(frame.schema) == dict(self.schema):  # same columns, another order
            return frame.select(self.schema.names())
        differ = ", ".join(sorted({repr(name) for name, _ in frame.schema.items() ^ self.schema.items()}))
        msg = f"the frame to cache differs from the {self.kind} schema in {differ}; build it from that schema"
        raise ValueError(msg)

    # -- files --

    @contextmanager
    def _open(self, month: date) -> Iterator[_Opened | None]:
        """The month's file, open, with its metadata (read once per version of the file); None if absent or bad."""
        path = self.path(month)
        try:
            file = path.open("rb")
        except FileNotFoundError:
            file = None
        except OSError as exc:
            self._warn(path, str(exc))
            file = None
        if file is None:
            yield None
            return
        with file:
            # Identify the file by the open descriptor: a rename by another writer cannot mix two versions.
            st = os.fstat(file.fileno())
            key = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
            with self._lock:
                known = self._known.get(path)
            if known is None or known[0] != key:
                known = (key, self._parse(path, month, file))
                with self._lock:
                    self._known[path] = known
            info = known[1]
            yield None if info is None else _Opened(path, key, info, file)

    def _parse(self, path: Path, month: date, file: IO[bytes]) -> _MonthFile | None:
        import polars as pl

        try:
            text = pl.read_parquet_metadata(file).get(METADATA_KEY)
            if text is None:
                self._warn(path, f"no {METADATA_KEY} metadata")
                return None
            doc = json.loads(text)
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:  # corrupt, truncated, not JSON
            self._warn(path, str(exc))
            return None
        doc = doc if isinstance(doc, dict) else {}
        rows, days = doc.get("rows"), doc.get("days")
        if (doc.get("version"), doc.get("month")) != (FORMAT_VERSION, f"{month:%Y-%m}"):
            problem = f"metadata of format version {doc.get('version')!r} for month {doc.get('month')!r}"
        elif doc.get("schema") != self._fingerprint:
            problem = "written for another schema (by another version of connect_notebook?)"
        elif not _is_count(rows, 0, 2**63) or not isinstance(days, list) or not days:
            problem = f"metadata rows {rows!r} and days {days!r}"
        elif not all(_is_count(d, 1, _month_end(month).day) for d in days):
            problem = f"metadata days {days!r}"
        else:
            return _MonthFile(frozenset(month.replace(day=d) for d in days), rows)
        self._warn(path, problem)
        return None

    def _load(self, opened: _Opened) -> pl.DataFrame | None:
        """The rows of an opened month file, checked against its metadata; None (and forgotten) if they differ."""
        import polars as pl

        try:
            opened.file.seek(0)
            frame = pl.read_parquet(opened.file)
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            return self._reject(opened, str(exc))
        return self._checked(opened, frame)

    def _checked(self, opened: _Opened, frame: pl.DataFrame) -> pl.DataFrame | None:
        if frame.schema == self.schema and frame.height == opened.info.rows:
            return frame
        return self._reject(opened, f"its rows ({frame.height}, {len(frame.columns)} columns) differ from its metadata")

    def _reject(self, opened: _Opened, problem: str) -> pl.DataFrame | None:
        """Warn, forget the file's metadata (so the next write replaces it), and give None instead of rows."""
        self._warn(opened.path, problem)
        with self._lock:
            self._known[opened.path] = (opened.key, None)
        return None

    def _warn(self, path: Path, problem: str) -> None:
        log.warning(
            "ignoring the cache file %s (%s); its days will be fetched again and the file replaced", path, problem
        )

    # -- the legacy layout --

    def _migrate_once(self) -> None:
        """Fold legacy ``date=`` folders into month files, once per object; other threads wait for it."""
        with self._migration_lock:
            if not self._migrated:
                self._migrate()
                self._migrated = True  # not set on failure: the next call tries again

    def _migrate(self) -> None:
        legacy: dict[date, dict[date, Path]] = {}
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        for name in names:
            with suppress(ValueError):  # not a legacy folder, or not a real date
                day = date.fromisoformat(name.removeprefix("date=") if name.startswith("date=") else "")
                legacy.setdefault(day.replace(day=1), {})[day] = self.folder / name
        for month, folders in sorted(legacy.items(), reverse=True):
            with _write_lock(self.path(month)):
                self._migrate_month(month, folders)

    def _migrate_month(self, month: date, folders: dict[date, Path]) -> None:
        """Add the legacy days the month file lacks, then remove every legacy folder of the month."""
        import polars as pl

        with self._open(month) as opened:
            covered = opened.info.days if opened is not None else frozenset()
        frames = {}
        for day, folder in folders.items():
            if day not in covered and (frame := self._read_legacy(day, folder)) is not None:
                frames[day] = frame
        if frames:
            # The month file first: if we die before the removals, it wins over the folders next time.
            self._merge(month, set(frames), pl.concat(list(frames.values()), how="vertical"))
        for folder in folders.values():
            try:
                shutil.rmtree(folder)
            except FileNotFoundError:  # another thread or process migrated it first
                pass
            except OSError as exc:
                log.warning("could not remove the legacy cache folder %s (%s); it is ignored", folder, exc)

    def _read_legacy(self, day: date, folder: Path) -> pl.DataFrame | None:
        """A legacy day's rows in the cache's schema; None (the folder is then dropped) if unusable."""
        import polars as pl

        path = folder / FILE_NAME
        try:
            frame = self._conform(pl.read_parquet(path))
        except FileNotFoundError:
            return None  # a folder holding only a dead writer's temporary file
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            log.warning("dropping the unreadable legacy cache file %s (%s); the day will be fetched again", path, exc)
            return None
        return frame.filter(pl.col(self.time_column).dt.date() == day)


def _is_count(value: object, lo: int, hi: int) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _runs(days_newest_first: list[date]) -> list[tuple[date, date]]:
    """Contiguous runs ``(first, last)`` of distinct days given newest first, newest run first."""
    runs: list[tuple[date, date]] = []
    for day in days_newest_first:
        if runs and runs[-1][0] - timedelta(days=1) == day:
            runs[-1] = (day, runs[-1][1])
        else:
            runs.append((day, day))
    return runs


def read_many(requests: Sequence[tuple[MonthCache, date, date]]) -> list[list[tuple[date, date, pl.DataFrame]]]:
    """``MonthCache.read`` of several accounts' days at once: their month files read as one.

    A re-load of a family's year opens a dozen files per account; read one by one,
    the per-file overhead is most of the time. Files of one kind share a schema, so
    polars can read them all in one call and each file's rows are a slice of the
    result (its metadata says how many).
    """
    with ExitStack() as stack:
        wanted = [cache._wanted(stack, first, last) for cache, first, last in requests]
        opened = [o for w in wanted for o in w.values()]
        frames = _read_together(opened, [cache for (cache, _, _), w in zip(requests, wanted, strict=True) for _ in w])
        results = []
        for (cache, first, last), files in zip(requests, wanted, strict=True):
            if frames is not None:
                loaded = {m: (o.info, frames[id(o)]) for m, o in files.items()}
            else:
                loaded = {m: (o.info, frame) for m, o in files.items() if (frame := cache._load(o)) is not None}
            results.append(cache._assemble(loaded, first, last))
    return results


def _read_together(opened: list[_Opened], caches: list[MonthCache]) -> dict[int, pl.DataFrame] | None:
    """The rows of open month files from one read, by ``id`` of each; None where that cannot be trusted.

    ``/proc/self/fd/N`` names exactly the file already open (no later rename can
    swap it). The rows must add up to the files' metadata, and each file's slice must
    lie in its own month; otherwise (or where there are no such paths) the caller
    reads and checks each file alone.
    """
    import polars as pl

    if len(opened) < 2 or not _FD_PATHS.is_dir() or any(c.schema != caches[0].schema for c in caches):
        return None
    try:
        whole = pl.read_parquet([_FD_PATHS / str(o.file.fileno()) for o in opened])
    except (pl.exceptions.PolarsError, OSError, ValueError):
        return None  # one of them is bad: each is read alone to find out which
    if whole.schema != caches[0].schema or whole.height != sum(o.info.rows for o in opened):
        return None
    frames: dict[int, pl.DataFrame] = {}
    offset = 0
    for o, cache in zip(opened, caches, strict=True):
        piece = whole.slice(offset, o.info.rows)
        offset += o.info.rows
        if piece.height:
            month = min(o.info.days).replace(day=1)
            times = piece.get_column(cache.time_column)
            lo, hi = times.min(), times.max()
            if lo is None or lo < _midnight(month) or hi >= _midnight(_month_end(month) + timedelta(days=1)):  # type: ignore[operator]
                return None
        frames[id(o)] = piece
    return frames


def scan(root: Path, kind: str, accounts: Sequence[str] | None, *, schema: pl.Schema, time_column: str) -> pl.LazyFrame:
    """A LazyFrame over the cached month files of ``accounts`` (every account under ``root/kind`` when None).

    Only file footers are read here; the rows are read when the frame is collected.
    Unreadable files are left out with a warning, legacy day folders are migrated first.

    Returns
    -------
    polars.LazyFrame
        Exactly ``schema`` (no hive columns), newest first by ``time_column``; empty
        with that schema when nothing is cached.
    """
    import polars as pl

    if accounts is None:
        try:
            names = sorted(os.listdir(root / kind))
        except OSError:
            names = []
        accounts = [n.removeprefix("account=") for n in names if n.startswith("account=") and _SID.fullmatch(n[8:])]
    files: list[Path] = []
    for sid in accounts:
        files += MonthCache(root, kind, sid, time_column=time_column, schema=schema).month_files()
    if not files:
        return pl.LazyFrame(schema=schema)
    # glob=False: a cache folder whose name holds "[" or "*" is still a plain path.
    return pl.scan_parquet(files, schema=schema, hive_partitioning=False, glob=False).sort(
        time_column, descending=True, maintain_order=True
    )


# -- account families --


def _family_path(root: Path, connected_sid: str) -> Path:
    return root / "families" / f"{_check_sid(connected_sid, 'connected_sid')}.json"


def write_family(root: Path, connected_sid: str, account_sids: Sequence[str]) -> None:
    """Remember the accounts (the connected one and its subaccounts) reached through ``connected_sid``.

    Nothing is written when the stored family is the same (every cached load calls this).
    """
    sids = [_check_sid(sid, "account_sids") for sid in account_sids]
    if _family_path(root, connected_sid).exists() and read_family(root, connected_sid) == sids:
        return
    data = {"version": FORMAT_VERSION, "connected": connected_sid, "accounts": sids}
    atomic_write(_family_path(root, connected_sid), json.dumps(data, indent=1).encode())


def read_family(root: Path, connected_sid: str) -> list[str] | None:
    """The accounts stored by ``write_family``; None when nothing usable is stored (unreadable files warn)."""
    path = _family_path(root, connected_sid)
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring the unreadable account family file %s (%s)", path, exc)
        return None
    sids = doc.get("accounts") if isinstance(doc, dict) and doc.get("connected") == connected_sid else None
    if not isinstance(sids, list) or not all(isinstance(s, str) and _SID.fullmatch(s) for s in sids):
        log.warning("ignoring the account family file %s: not a family of %s", path, connected_sid)
        return None
    return list(sids)
