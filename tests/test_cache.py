"""The on-disk cache and the atomic write, on real files in ``tmp_path``."""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from connect_notebook._atomic import atomic_write
from connect_notebook._cache import METADATA_KEY, MonthCache, read_family, read_many, scan, write_family

SCHEMA = pl.Schema({"sid": pl.String(), "start_time": pl.Datetime("us", "UTC"), "duration": pl.Int64()})
ACCOUNT = "AC" + "a" * 32
OTHER = "AC" + "b" * 32


def umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def frame(*rows: tuple[str, datetime, int], schema: pl.Schema = SCHEMA) -> pl.DataFrame:
    return pl.DataFrame([list(r) for r in rows], schema=schema, orient="row")


def day_rows(day: date, count: int, tag: str) -> list[tuple[str, datetime, int]]:
    """``count`` rows on ``day``, newest first, their sids tagged so a replaced row shows."""
    return [(f"{tag}-{day}-{i}", at(day, 23 - i), i) for i in range(count)]


def month_cache(root: Path, account: str = ACCOUNT) -> MonthCache:
    return MonthCache(root, "calls", account, time_column="start_time", schema=SCHEMA)


def everything(cache: MonthCache, first: date, last: date) -> pl.DataFrame:
    frames = [f for _, _, f in cache.read(first, last)]
    return pl.concat(frames) if frames else pl.DataFrame(schema=SCHEMA)


def days(first: date, last: date) -> set[date]:
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}


def dead_pid() -> int:
    """A pid no process can have (above the kernel's limit)."""
    pid_max = Path("/proc/sys/kernel/pid_max")
    return int(pid_max.read_text()) + 1 if pid_max.exists() else 2**22 + 1


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "connect_notebook" and r.levelno == logging.WARNING]


# -- atomic_write --


def test_atomic_write_of_bytes_makes_an_ordinary_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "report.html"
    atomic_write(path, b"<!doctype html>")
    atomic_write(path, b"<!doctype html><p>again")
    assert path.read_bytes() == b"<!doctype html><p>again"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask()
    assert os.listdir(path.parent) == ["report.html"]


def test_atomic_write_gives_a_callable_a_hidden_temporary_path_named_after_its_pid(tmp_path: Path) -> None:
    path = tmp_path / "part-0.parquet"
    seen: list[Path] = []

    def write(temp: Path) -> None:
        seen.append(temp)
        pl.DataFrame({"a": [1, 2]}).write_parquet(temp)

    atomic_write(path, write)
    [temp] = seen
    assert temp.parent == tmp_path
    assert temp.name.startswith(".part-0.parquet.")
    assert temp.name.endswith(".tmp")
    assert f".{os.getpid()}-" in temp.name
    assert pl.read_parquet(path)["a"].to_list() == [1, 2]
    assert not temp.exists()


def test_atomic_write_private_file_is_0600_from_its_creation_in_a_0700_folder(tmp_path: Path) -> None:
    path = tmp_path / "config" / "accounts.json"
    modes: list[int] = []

    def write(temp: Path) -> None:
        modes.append(stat.S_IMODE(os.stat(temp).st_mode))  # before a byte is written
        temp.write_bytes(b"{}")
        modes.append(stat.S_IMODE(os.stat(temp).st_mode))

    old = os.umask(0)  # the most permissive umask: the mode must not come from it
    try:
        atomic_write(path, write, mode=0o600, folder_mode=0o700)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        atomic_write(path, b'{"accounts": []}', mode=0o600, folder_mode=0o700)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        os.umask(old)
    assert modes == [0o600, 0o600]
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert path.read_bytes() == b'{"accounts": []}'


def test_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "part-0.parquet"
    atomic_write(path, b"old")

    def half_then_fail(temp: Path) -> None:
        temp.write_bytes(b"half a fi")
        msg = "disk full"
        raise OSError(msg)

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["part-0.parquet"]


def test_atomic_write_removes_temporaries_of_dead_writers_and_keeps_live_ones(tmp_path: Path) -> None:
    dead = dead_pid()
    stale = tmp_path / f".part-0.parquet.{dead}-0123abcd.tmp"
    live = tmp_path / f".part-0.parquet.{os.getpid()}-4567ef01.tmp"
    other_target = tmp_path / f".other.parquet.{dead}-89ab.tmp"
    for leftover in (stale, live, other_target):
        leftover.write_bytes(b"half")
    atomic_write(tmp_path / "part-0.parquet", b"whole")
    assert not stale.exists()
    assert live.exists()  # this process is alive: it may be about to rename it
    assert other_target.exists()  # another file's temporaries are that file's business


# -- round trips --


def test_write_then_read_within_a_month(tmp_path: Path) -> None:
    cache = month_cache(tmp_path)
    rows = [*day_rows(date(2026, 10, 3), 2, "a"), *day_rows(date(2026, 10, 5), 3, "a")]
    cache.write(date(2026, 10, 3), date(2026, 10, 7), frame(*rows))

    assert cache.cached_days(date(2026, 10, 1), date(2026, 10, 31)) == days(date(2026, 10, 3), date(2026, 10, 7))
    [(first, last, got)] = cache.read(date(2026, 10, 1), date(2026, 10, 31))
    assert (first, last) == (date(2026, 10, 3), date(2026, 10, 7))
    assert_frame_equal(got, frame(*rows).sort("start_time", descending=True))
    # Part of the range: only those days, clipped to what was asked.
    [(first, last, got)] = month_cache(tmp_path).read(date(2026, 10, 4), date(2026, 10, 5))
    assert (first, last) == (date(2026, 10, 4), date(2026, 10, 5))
    assert got["sid"].to_list() == [f"a-2026-10-05-{i}" for i in range(3)]
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet")] == [
        f"calls/account={ACCOUNT}/month=2026-10/part-0.parquet"
    ]


def test_file_metadata_names_the_covered_days_and_the_row_count(tmp_path: Path) -> None:
    month_cache(tmp_path).write(date(2026, 10, 3), date(2026, 10, 4), frame(*day_rows(date(2026, 10, 4), 2, "a")))
    path = tmp_path / "calls" / f"account={ACCOUNT}" / "month=2026-10" / "part-0.parquet"
    doc = json.loads(pl.read_parquet_metadata(path)[METADATA_KEY])
    assert (doc["version"], doc["month"], doc["days"], doc["rows"]) == (1, "2026-10", [3, 4], 2)


def test_rows_with_the_same_time_keep_the_order_they_were_given(tmp_path: Path) -> None:
    cache = month_cache(tmp_path)
    noon = at(date(2026, 10, 3))
    cache.write(
        date(2026, 10, 3), date(2026, 10, 3), frame(("b", noon, 1), ("c", noon + timedelta(hours=1), 2), ("a", noon, 3))
    )
    assert everything(cache, date(2026, 10, 3), date(2026, 10, 3))["sid"].to_list() == ["c", "b", "a"]


def test_write_across_a_month_boundary_reads_back_as_one_run(tmp_path: Path) -> None:
    cache = month_cache(tmp_path)
    rows = [
        *day_rows(date(2026, 9, 29), 2, "a"),
        *day_rows(date(2026, 10, 1), 1, "a"),
        *day_rows(date(2026, 10, 2), 2, "a"),
    ]
    cache.write(date(2026, 9, 28), date(2026, 10, 3), frame(*rows))

    assert sorted(p.parent.name for p in tmp_path.rglob("part-0.parquet")) == ["month=2026-09", "month=2026-10"]
    [(first, last, got)] = month_cache(tmp_path).read(date(2026, 9, 1), date(2026, 10, 31))
    assert (first, last) == (date(2026, 9, 28), date(2026, 10, 3))
    assert_frame_equal(got, frame(*rows).sort("start_time", descending=True))


def test_a_sparse_account_caches_two_empty_years_as_one_empty_file_per_month(tmp_path: Path) -> None:
    cache = month_cache(tmp_path)
    cache.write(date(2024, 1, 1), date(2025, 12, 31), frame())

    assert len(list(tmp_path.rglob("part-0.parquet"))) == 24
    fresh = month_cache(tmp_path)
    assert fresh.cached_days(date(2023, 12, 1), date(2026, 1, 31)) == days(date(2024, 1, 1), date(2025, 12, 31))
    [(first, last, got)] = fresh.read(date(2023, 12, 1), date(2026, 1, 31))
    assert (first, last) == (date(2024, 1, 1), date(2025, 12, 31))
    assert got.height == 0
    assert got.schema == SCHEMA


def test_runs_are_contiguous_covered_days_newest_first(tmp_path: Path) -> None:
    cache = month_cache(tmp_path)
    cache.write(date(2026, 10, 1), date(2026, 10, 3), frame(*day_rows(date(2026, 10, 2), 1, "a")))
    cache.write(date(2026, 10, 6), date(2026, 10, 6), frame())
    cache.write(date(2026, 10, 29), date(2026, 11, 2), frame(*day_rows(date(2026, 11, 1), 1, "b")))

    runs = month_cache(tmp_path).read(date(2026, 10, 2), date(2026, 12, 31))
    assert [(first, last, f["sid"].to_list()) for first, last, f in runs] == [
        (date(2026, 10, 29), date(2026, 11, 2), ["b-2026-11-01-0"]),
        (date(2026, 10, 6), date(2026, 10, 6), []),
        (date(2026, 10, 2), date(2026, 10, 3), ["a-2026-10-02-0"]),
    ]


def test_extending_a_partial_month_keeps_other_days_and_replaces_rewritten_ones(tmp_path: Path) -> None:
    cache = month_cache(tmp_path)
    old = [row for d in range(1, 11) for row in day_rows(date(2026, 10, d), 2, "old")]
    cache.write(date(2026, 10, 1), date(2026, 10, 10), frame(*old))
    new = [row for d in range(8, 16) for row in day_rows(date(2026, 10, d), 1, "new")]
    cache.write(date(2026, 10, 8), date(2026, 10, 15), frame(*new))

    fresh = month_cache(tmp_path)
    assert fresh.cached_days(date(2026, 10, 1), date(2026, 10, 31)) == days(date(2026, 10, 1), date(2026, 10, 15))
    got = everything(fresh, date(2026, 10, 1), date(2026, 10, 31))
    expected = [r for r in old if r[1].day < 8] + new
    assert_frame_equal(got, frame(*expected).sort("start_time", descending=True))
    assert got["sid"].is_unique().all()


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param(SCHEMA, id="small"),
        pytest.param(
            pl.Schema(
                {
                    "sid": pl.String(),
                    "status": pl.Enum(["queued", "completed"]),
                    "date_sent": pl.Datetime("us", "UTC"),
                    "price": pl.Float64(),
                    "segments": pl.Int32(),
                    "day": pl.Date(),
                }
            ),
            id="enum-float-date",
        ),
    ],
)
def test_an_empty_frame_reads_back_with_the_exact_schema(tmp_path: Path, schema: pl.Schema) -> None:
    time_column = next(name for name, dtype in schema.items() if isinstance(dtype, pl.Datetime))
    cache = MonthCache(tmp_path, "messages", ACCOUNT, time_column=time_column, schema=schema)
    cache.write(date(2026, 10, 1), date(2026, 10, 31), pl.DataFrame(schema=schema))

    [(_, _, got)] = cache.read(date(2026, 10, 1), date(2026, 10, 31))
    assert got.schema == schema
    collected = scan(tmp_path, "messages", [ACCOUNT], schema=schema, time_column=time_column).collect()
    assert collected.schema == schema
    assert collected.height == 0


def test_write_refuses_rows_outside_its_days_or_of_another_schema(tmp_path: Path) -> None:
    cache = month_cache(tmp_path)
    with pytest.raises(ValueError, match="outside the days 2026-10-03 to 2026-10-04"):
        cache.write(date(2026, 10, 3), date(2026, 10, 4), frame(*day_rows(date(2026, 10, 5), 1, "a")))
    with pytest.raises(ValueError, match="'duration'"):
        cache.write(date(2026, 10, 3), date(2026, 10, 4), frame().drop("duration"))
    with pytest.raises(ValueError, match="before first"):
        cache.write(date(2026, 10, 4), date(2026, 10, 3), frame())
    assert not tmp_path.joinpath("calls").exists()


# -- unreadable files --


def _good(tmp_path: Path) -> Path:
    """A valid month file for October 2026 (day 1, 50 rows), written in a scratch folder."""
    scratch = tmp_path / "scratch"
    month_cache(scratch).write(date(2026, 10, 1), date(2026, 10, 1), frame(*day_rows(date(2026, 10, 1), 20, "x")))
    return next(scratch.rglob("part-0.parquet"))


def _rewritten(tmp_path: Path, text: str | None, rows: pl.DataFrame | None = None) -> bytes:
    """The good file's rows (or ``rows``) with other metadata (None: none of ours)."""
    target = tmp_path / "rewritten.parquet"
    rows = pl.read_parquet(_good(tmp_path)) if rows is None else rows
    rows.write_parquet(target, metadata=None if text is None else {METADATA_KEY: text})
    return target.read_bytes()


def _doc(tmp_path: Path, **changes: object) -> str:
    doc = json.loads(pl.read_parquet_metadata(_good(tmp_path))[METADATA_KEY])
    return json.dumps({**doc, **changes})


def _for_another_schema(tmp_path: Path) -> bytes:
    other = pl.Schema({**SCHEMA, "price": pl.Float64()})
    scratch = tmp_path / "other-schema"
    cache = MonthCache(scratch, "calls", ACCOUNT, time_column="start_time", schema=other)
    cache.write(date(2026, 10, 1), date(2026, 10, 1), pl.DataFrame(schema=other))
    return next(scratch.rglob("part-0.parquet")).read_bytes()


BROKEN: dict[str, Callable[[Path], bytes]] = {
    "garbage": lambda tmp: b"not a parquet file at all",
    "empty": lambda tmp: b"",
    "truncated": lambda tmp: _good(tmp).read_bytes()[:-40],
    "no-metadata": lambda tmp: _rewritten(tmp, None),
    "metadata-not-json": lambda tmp: _rewritten(tmp, "{days: 1"),
    "metadata-not-an-object": lambda tmp: _rewritten(tmp, "[1, 2]"),
    "days-out-of-range": lambda tmp: _rewritten(tmp, _doc(tmp, days=[1, 32])),
    "another-month": lambda tmp: _rewritten(tmp, _doc(tmp, month="2026-09")),
    "future-version": lambda tmp: _rewritten(tmp, _doc(tmp, version=99)),
    "written-for-another-schema": _for_another_schema,
}


def month_path(root: Path, month: str = "2026-10") -> Path:
    return root / "calls" / f"account={ACCOUNT}" / f"month={month}" / "part-0.parquet"


@pytest.mark.parametrize("kind", list(BROKEN))
def test_an_unreadable_month_file_covers_nothing_warns_and_is_replaced_by_the_next_write(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = month_path(tmp_path)
    broken = BROKEN[kind](tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(broken)

    cache = month_cache(tmp_path)
    with caplog.at_level(logging.WARNING, logger="connect_notebook"):
        assert cache.cached_days(date(2026, 10, 1), date(2026, 10, 31)) == set()
        assert cache.read(date(2026, 10, 1), date(2026, 10, 31)) == []
        assert scan(tmp_path, "calls", None, schema=SCHEMA, time_column="start_time").collect().height == 0
    assert warnings_of(caplog)
    assert all(str(path) in message for message in warnings_of(caplog))

    rows = day_rows(date(2026, 10, 3), 2, "new")
    cache.write(date(2026, 10, 3), date(2026, 10, 3), frame(*rows))
    fresh = month_cache(tmp_path)
    assert fresh.cached_days(date(2026, 10, 1), date(2026, 10, 31)) == {date(2026, 10, 3)}
    assert_frame_equal(everything(fresh, date(2026, 10, 1), date(2026, 10, 31)), frame(*rows))


@pytest.mark.parametrize(
    ("rows_said", "duration_dtype"),
    [
        pytest.param(7, pl.Int64(), id="row-count-differs"),
        pytest.param(20, pl.Int32(), id="dtype-differs"),
    ],
)
def test_rows_that_contradict_good_looking_metadata_are_left_out_when_read(
    tmp_path: Path, rows_said: int, duration_dtype: pl.DataType, caplog: pytest.LogCaptureFixture
) -> None:
    # Metadata that passes every footer check: only reading the rows shows the difference.
    rows = pl.read_parquet(_good(tmp_path)).with_columns(pl.col("duration").cast(duration_dtype))
    path = month_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(_rewritten(tmp_path, _doc(tmp_path, rows=rows_said), rows))

    cache = month_cache(tmp_path)
    assert cache.cached_days(date(2026, 10, 1), date(2026, 10, 31)) == {date(2026, 10, 1)}
    with caplog.at_level(logging.WARNING, logger="connect_notebook"):
        assert cache.read(date(2026, 10, 1), date(2026, 10, 31)) == []  # every day not in a run is fetched
    assert len(warnings_of(caplog)) == 1
    assert cache.cached_days(date(2026, 10, 1), date(2026, 10, 31)) == set()
    cache.write(date(2026, 10, 2), date(2026, 10, 2), frame())
    assert month_cache(tmp_path).cached_days(date(2026, 10, 1), date(2026, 10, 31)) == {date(2026, 10, 2)}


# -- several accounts and months at once (what a re-load of a family does) --


def _year_of(cache: MonthCache, tag: str) -> pl.DataFrame:
    """Two rows a day on a few days of every month from Nov 2025 to Oct 2026, written month by month."""
    rows = []
    for month in range(12):
        first = date(2025 + (10 + month) // 12, (10 + month) % 12 + 1, 1)
        for d in (first, first + timedelta(days=9), first + timedelta(days=20)):
            day = day_rows(d, 2, tag)
            cache.write(d, d, frame(*day))
            rows = day + rows
    return frame(*rows)


def test_read_many_reads_several_accounts_months_at_once_as_each_would_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    caches = [month_cache(tmp_path, ACCOUNT), month_cache(tmp_path, OTHER)]
    truths = [_year_of(cache, tag) for cache, tag in zip(caches, ("a", "b"), strict=True)]
    first, last = date(2025, 11, 1), date(2026, 10, 31)
    with monkeypatch.context() as patch:
        # Good files are read in one batch: the one-file-at-a-time path is not taken.
        patch.setattr(MonthCache, "_load", lambda self, opened: pytest.fail(f"{opened.path} read alone"))
        together = read_many([(cache, first, last) for cache in caches])
    for cache, truth, runs in zip(caches, truths, together, strict=True):
        assert [(lo, hi) for lo, hi, _ in runs] == [(lo, hi) for lo, hi, _ in cache.read(first, last)]
        assert_frame_equal(pl.concat([f for _, _, f in runs]), truth)
    # A range that cuts months in two: only the days asked for, from slices of the batch.
    part = read_many([(cache, date(2026, 3, 5), date(2026, 6, 15)) for cache in caches])
    for truth, runs in zip(truths, part, strict=True):
        got = pl.concat([f for _, _, f in runs])
        inside = truth.filter(pl.col("start_time").dt.date().is_between(date(2026, 3, 5), date(2026, 6, 15)))
        assert_frame_equal(got, inside)


@pytest.mark.parametrize("kind", ["row-count-lies", "unreadable"])
def test_one_bad_file_in_a_batch_is_left_out_and_the_others_still_read(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caches = [month_cache(tmp_path, ACCOUNT), month_cache(tmp_path, OTHER)]
    truths = [_year_of(cache, tag) for cache, tag in zip(caches, ("a", "b"), strict=True)]
    bad = tmp_path / "calls" / f"account={OTHER}" / "month=2026-03" / "part-0.parquet"
    if kind == "unreadable":
        bad.write_bytes(bad.read_bytes()[:-40])
    else:  # metadata that says one row more than the file holds: only the batch's total shows it
        rows = pl.read_parquet(bad)
        doc = json.loads(pl.read_parquet_metadata(bad)[METADATA_KEY])
        rows.write_parquet(bad, metadata={METADATA_KEY: json.dumps({**doc, "rows": doc["rows"] + 1})})
    first, last = date(2025, 11, 1), date(2026, 10, 31)
    with caplog.at_level(logging.WARNING, logger="connect_notebook"):
        good, other = read_many([(cache, first, last) for cache in caches])
    assert_frame_equal(pl.concat([f for _, _, f in good]), truths[0])
    march = pl.col("start_time").dt.strftime("%Y-%m") == "2026-03"
    assert_frame_equal(pl.concat([f for _, _, f in other]), truths[1].filter(~march))
    assert any(str(bad) in message for message in warnings_of(caplog))


def test_a_killed_writers_half_file_is_invisible_and_removed_by_the_next_write(tmp_path: Path) -> None:
    cache = month_cache(tmp_path)
    cache.write(date(2026, 10, 1), date(2026, 10, 1), frame(*day_rows(date(2026, 10, 1), 3, "a")))
    folder = tmp_path / "calls" / f"account={ACCOUNT}" / "month=2026-10"
    half = folder / f".part-0.parquet.{dead_pid()}-dead.tmp"
    half.write_bytes(_good(tmp_path).read_bytes()[:100])  # what kill -9 mid-write leaves

    assert everything(month_cache(tmp_path), date(2026, 10, 1), date(2026, 10, 31)).height == 3
    assert scan(tmp_path, "calls", [ACCOUNT], schema=SCHEMA, time_column="start_time").collect().height == 3
    cache.write(date(2026, 10, 2), date(2026, 10, 2), frame())
    assert sorted(os.listdir(folder)) == ["part-0.parquet"]


# -- the legacy layout --


def write_legacy_day(root: Path, day: date, rows: list[tuple[str, datetime, int]], account: str = ACCOUNT) -> Path:
    folder = root / "calls" / f"account={account}" / f"date={day.isoformat()}"
    folder.mkdir(parents=True)
    frame(*rows).write_parquet(folder / "part-0.parquet")
    return folder


def test_legacy_day_folders_are_folded_into_month_files(tmp_path: Path) -> None:
    legacy = {
        date(2026, 9, 30): day_rows(date(2026, 9, 30), 2, "legacy"),
        date(2026, 10, 1): day_rows(date(2026, 10, 1), 3, "legacy"),
        date(2026, 10, 2): [],  # an empty day is knowledge too
        date(2026, 10, 9): day_rows(date(2026, 10, 9), 1, "legacy"),
    }
    for day, rows in legacy.items():
        write_legacy_day(tmp_path, day, rows)
    # Only a dead writer's temporary: the old loader was killed before its rename.
    debris = tmp_path / "calls" / f"account={ACCOUNT}" / "date=2026-10-05"
    debris.mkdir()
    (debris / ".part-0.parquet.1-abc.tmp").write_bytes(b"half")

    cache = month_cache(tmp_path)
    assert cache.cached_days(date(2026, 9, 1), date(2026, 10, 31)) == set(legacy)
    account = tmp_path / "calls" / f"account={ACCOUNT}"
    assert sorted(os.listdir(account)) == ["month=2026-09", "month=2026-10"]
    runs = cache.read(date(2026, 9, 1), date(2026, 10, 31))
    assert [(first, last) for first, last, _ in runs] == [
        (date(2026, 10, 9), date(2026, 10, 9)),
        (date(2026, 9, 30), date(2026, 10, 2)),
    ]
    expected = frame(*[r for rows in legacy.values() for r in rows]).sort("start_time", descending=True)
    assert_frame_equal(pl.concat([f for _, _, f in runs]), expected)


def test_a_legacy_folder_next_to_a_covering_month_file_is_not_counted_twice(tmp_path: Path) -> None:
    day = date(2026, 10, 4)
    month_cache(tmp_path).write(day, day, frame(*day_rows(day, 2, "month")))
    # A crash after the month file was written and before the old day folder was removed.
    folder = write_legacy_day(tmp_path, day, day_rows(day, 2, "legacy"))
    other = write_legacy_day(tmp_path, date(2026, 10, 5), day_rows(date(2026, 10, 5), 1, "legacy"))

    cache = month_cache(tmp_path)
    got = everything(cache, date(2026, 10, 1), date(2026, 10, 31))
    assert got["sid"].to_list() == ["legacy-2026-10-05-0", "month-2026-10-04-0", "month-2026-10-04-1"]
    assert not folder.exists()
    assert not other.exists()
    scanned = scan(tmp_path, "calls", None, schema=SCHEMA, time_column="start_time").collect()
    assert_frame_equal(scanned, got)


def test_scan_migrates_legacy_folders_before_reading(tmp_path: Path) -> None:
    write_legacy_day(tmp_path, date(2026, 10, 1), day_rows(date(2026, 10, 1), 2, "legacy"), account=OTHER)
    scanned = scan(tmp_path, "calls", None, schema=SCHEMA, time_column="start_time").collect()
    assert scanned["sid"].to_list() == ["legacy-2026-10-01-0", "legacy-2026-10-01-1"]


# -- threads --


def test_concurrent_writes_to_the_same_month_lose_nothing(tmp_path: Path) -> None:
    workers = 8
    # Two objects for the same account, as two loads in two threads would make.
    caches = [month_cache(tmp_path), month_cache(tmp_path)]
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []
    written = {w: day_rows(date(2026, 10, 1 + 3 * w), w % 3, f"w{w}") for w in range(workers)}

    def work(w: int) -> None:
        try:
            day = date(2026, 10, 1 + 3 * w)
            barrier.wait()
            caches[w % 2].write(day, day + timedelta(days=1), frame(*written[w]))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    fresh = month_cache(tmp_path)
    expected_days = {date(2026, 10, 1 + 3 * w) + timedelta(days=k) for w in range(workers) for k in (0, 1)}
    assert fresh.cached_days(date(2026, 10, 1), date(2026, 10, 31)) == expected_days
    expected = frame(*[r for rows in written.values() for r in rows]).sort("start_time", descending=True)
    assert_frame_equal(everything(fresh, date(2026, 10, 1), date(2026, 10, 31)), expected)


# -- scan --


def test_scan_equals_read_and_the_folder_reads_as_hive_partitions(tmp_path: Path) -> None:
    mine = [*day_rows(date(2026, 9, 30), 2, "a"), *day_rows(date(2026, 10, 2), 2, "a")]
    month_cache(tmp_path).write(date(2026, 9, 29), date(2026, 10, 3), frame(*mine))
    theirs = day_rows(date(2026, 10, 1), 1, "b")
    month_cache(tmp_path, OTHER).write(date(2026, 10, 1), date(2026, 10, 1), frame(*theirs))
    write_family(tmp_path, ACCOUNT, [ACCOUNT, OTHER])  # not under calls/: not part of the scan

    one = scan(tmp_path, "calls", [ACCOUNT], schema=SCHEMA, time_column="start_time")
    assert isinstance(one, pl.LazyFrame)
    assert_frame_equal(one.collect(), everything(month_cache(tmp_path), date(2026, 1, 1), date(2026, 12, 31)))
    both = scan(tmp_path, "calls", None, schema=SCHEMA, time_column="start_time").collect()
    assert both.schema == SCHEMA
    assert_frame_equal(both, frame(*mine, *theirs).sort("start_time", descending=True))

    hive = pl.scan_parquet(tmp_path / "calls", hive_partitioning=True).collect()
    assert {"account", "month"} <= set(hive.columns)
    by_file = hive.group_by("account", "month").len().sort("account", "month")
    assert [tuple(row) for row in by_file.select("account", pl.col("month").cast(pl.String), "len").rows()] == [
        (ACCOUNT, "2026-09", 2),
        (ACCOUNT, "2026-10", 2),
        (OTHER, "2026-10", 1),
    ]


def test_scan_of_an_empty_cache_is_an_empty_frame_with_the_schema(tmp_path: Path) -> None:
    for accounts in (None, [ACCOUNT]):
        lazy = scan(tmp_path, "calls", accounts, schema=SCHEMA, time_column="start_time")
        assert lazy.collect_schema() == SCHEMA
        assert lazy.collect().height == 0


# -- families --


def test_family_round_trip_and_unreadable_family_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert read_family(tmp_path, ACCOUNT) is None
    write_family(tmp_path, ACCOUNT, [ACCOUNT, OTHER])
    assert read_family(tmp_path, ACCOUNT) == [ACCOUNT, OTHER]
    assert (tmp_path / "families" / f"{ACCOUNT}.json").exists()

    (tmp_path / "families" / f"{OTHER}.json").write_text('{"accounts": ["not a sid"]')
    with caplog.at_level(logging.WARNING, logger="connect_notebook"):
        assert read_family(tmp_path, OTHER) is None
    assert len(warnings_of(caplog)) == 1
    with pytest.raises(ValueError, match="connected_sid"):
        write_family(tmp_path, "../escape", [ACCOUNT])


# -- the property --

FIRST_DAY = date(2026, 1, 27)
SPAN = 40  # days: 27 January to 7 March, three months
write_plans = st.lists(
    st.tuples(
        st.integers(0, SPAN - 1),  # first day
        st.integers(0, 12),  # more days
        st.lists(st.tuples(st.integers(0, 40), st.integers(0, 2)), max_size=12),  # (day, hour slot) per row
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=50, deadline=None)
@given(plans=write_plans)
def test_any_sequence_of_writes_reads_back_the_last_rows_of_each_day_once_newest_first(
    plans: list[tuple[int, int, list[tuple[int, int]]]],
) -> None:
    expected: dict[date, list[tuple[str, datetime, int]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        cache = month_cache(root)
        for w, (start, more, cells) in enumerate(plans):
            first = FIRST_DAY + timedelta(days=start)
            last = min(first + timedelta(days=more), FIRST_DAY + timedelta(days=SPAN - 1))
            width = (last - first).days + 1
            rows = [
                (f"w{w}-{i}", at(first + timedelta(days=d % width), hour=6 * slot), i)
                for i, (d, slot) in enumerate(cells)
            ]
            cache.write(first, last, frame(*rows))
            for day in days(first, last):
                expected[day] = [r for r in rows if r[1].date() == day]  # in the order given

        fresh = month_cache(root)
        window = (FIRST_DAY - timedelta(days=3), FIRST_DAY + timedelta(days=SPAN + 3))
        assert fresh.cached_days(*window) == set(expected)
        runs = fresh.read(*window)
        scanned = scan(root, "calls", [ACCOUNT], schema=SCHEMA, time_column="start_time").collect()

    covered: list[date] = []
    for run_first, run_last, got in runs:
        run = days(run_first, run_last)
        assert run <= set(expected)
        assert all(t.date() in run for t in got["start_time"])
        covered += sorted(run, reverse=True)
    assert covered == sorted(expected, reverse=True)  # newest run first, no overlap, no gap inside a run
    for newer, older in zip(runs, runs[1:], strict=False):
        assert older[1] < newer[0] - timedelta(days=1)  # maximal runs: a gap between them
    # Python's sort is stable with reverse=True too: rows at the same time keep their given order.
    want = sorted((r for d in sorted(expected) for r in expected[d]), key=lambda r: r[1], reverse=True)
    got_all = pl.concat([f for _, _, f in runs]) if runs else pl.DataFrame(schema=SCHEMA)
    assert got_all.rows() == want
    assert scanned.rows() == want
