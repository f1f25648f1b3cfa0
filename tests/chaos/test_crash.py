"""Crash safety of the parquet cache: ``kill -9`` a loading child while it writes, then load again.

Each hypothesis example is one kill point (``chaos/crash_support.py`` has the child and
the inspection): a child process loading the family's calls into a fresh cache folder
is killed with ``SIGKILL`` on a drawn write event, and maybe a second child on the same
folder (a load resumed from a crashed cache, crashed again early). After each kill:

* every ``part-0.parquet`` reads with polars, its footer says which days it covers and
  it holds exactly the rows of those days (typed ground truth), else it is *corrupt* or
  *incomplete*; no month folder holds two parquet files (*duplicated*);
* temporary files of dead writers may remain, but ``scan_calls`` must read the cache
  anyway, with exactly the rows of the covered days, once each.

Then ``load_calls`` runs again in this process with the same cache: it must equal the
ground truth (the union of the family's calls), fetch only the account-days the cache
did not cover, and leave every account-day cached in one file per account and month.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from chaos.crash_support import (
    CacheReport,
    Kill,
    account_days,
    all_days,
    check_clock,
    child_config,
    crash_sandbox,
    days_fetched,
    inspect_cache,
    month_files,
    months,
    run_child,
    write_events,
)
from chaos.figures import Figures, Table, budget
from chaos.needles import Needles
from chaos.truth import NOW, expected_calls
from connect_notebook import ConnectApp, load_calls
from connect_notebook._kernel import app_for_sandbox
from connect_notebook.sandbox import Sandbox

TITLE = "crash safety"
POINTS = "points (a fresh cache each)"
KILLS = "children killed (SIGKILL)"
FINISHED = "children that finished before their kill point"
INTERRUPTED = "kills that interrupted the load (a temporary file left, or some but not all account-days cached)"
PARTIAL = "kills that left part of the account-days cached"
TEMPS = "dead writers' temporary files (distinct)"
HALF = "half-written temporary files (distinct)"
SCAN_FAILURES = "scan_calls failures"
SCANS_BESIDE_TEMPS = "scans that read fine beside temporary files"
EQUAL = "re-loads equal to the ground truth"
ONLY_MISSING = "re-loads that fetched only the missing account-days"
FETCHED = "account-days the re-loads fetched"
TEMPS_AFTER = "temporary files left after the re-loads"
# Every count, in the order the table shows them (each starts at 0 so that its row shows).
ROWS = (
    POINTS,
    KILLS,
    "  just after 'write <AC>/<month>'",
    "  just after 'replaced <AC>/<month>'",
    FINISHED,
    INTERRUPTED,
    PARTIAL,
    TEMPS,
    HALF,
    "corrupt files",
    "incomplete days",
    "duplicated days",
    SCAN_FAILURES,
    SCANS_BESIDE_TEMPS,
    EQUAL,
    ONLY_MISSING,
    FETCHED,
    TEMPS_AFTER,
)


@dataclass
class _Crash:
    """The running sandbox, its customer (authorized), the app and each account's typed ground truth."""

    sb: Sandbox
    customer: str
    connected: str
    app: ConnectApp
    truth: dict[str, pl.DataFrame]
    needles: Needles

    def family_truth(self) -> pl.DataFrame:
        """The whole family's calls, newest first (ties in family order), as a load returns them."""
        return pl.concat(list(self.truth.values())).sort("start_time", descending=True, maintain_order=True)


@pytest.fixture(scope="module")
def crash() -> Iterator[_Crash]:
    """The family's sandbox on a loopback port, reached by the test and by its children, for the whole module."""
    check_clock()
    with crash_sandbox() as sb:
        customer = sb.customer_account_sids[0]
        connected = sb.authorize(customer)  # what the Connect App authenticates as
        truth = {sid: expected_calls(sb.calls(sid)) for sid in sb.family(customer) if sid in account_days()}
        assert set(truth) == set(account_days()), "the sandbox's family is not the one the figures count"
        assert all(t.height for t in truth.values()), "an account of the family has no calls"
        yield _Crash(sb, customer, connected, app_for_sandbox(sb), truth, Needles(sb.owner_auth_token))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the examples' cache folders and the children's stderr go (a folder per example)."""
    return tmp_path_factory.mktemp("chaos-crash")


def _load_again(crash: _Crash, root: Path) -> tuple[pl.DataFrame, set[str]]:
    """Load the whole family in this process with the cache at ``root``; the account-days it fetched."""
    crash.sb.reset()  # count only this load's requests
    assert crash.sb.authorize(crash.customer) == crash.connected, "authorizing again made another Connect subaccount"
    start = min(first for first, _ in account_days().values()).isoformat()
    frame = load_calls(crash.connected, app=crash.app, start=start, end=NOW, cache_dir=root, progress=False)
    return frame, days_fetched(crash.sb)


def _record_kill(table: Table, kill: Kill, report: CacheReport) -> None:
    """Count one child's kill and what it left (before it is judged)."""
    if kill.killed:
        table.add(KILLS)
        table.add(f"  just after '{kill.trigger.split()[0]} <AC>/<month>'")
    else:
        table.add(FINISHED)
    cached = len(report.complete_days)
    table.add(PARTIAL, 0 < cached < len(all_days()))
    table.add(INTERRUPTED, kill.killed and (bool(report.temp_files) or 0 < cached < len(all_days())))
    _record_cache(table, report)


def _record_cache(table: Table, report: CacheReport) -> None:
    """Count what one inspection of a cache found."""
    table.add("corrupt files", report.corrupt_files)
    table.add("incomplete days", report.incomplete_days)
    table.add("duplicated days", report.duplicated_days)
    table.add(SCAN_FAILURES, not report.scan_ok)
    table.add(SCANS_BESIDE_TEMPS, report.scan_ok and bool(report.temp_files))


# -- the property --


@settings(max_examples=budget(quick=3, full=10))
@given(
    # The last event (the last rename) would leave nothing to interrupt.
    first=st.integers(0, write_events() - 2),
    # A second child on the same cache, killed at an early event of its own (it has less to write).
    second=st.none() | st.integers(0, 3),
    concurrency=st.sampled_from((1, 2, 4)),
)
def test_a_killed_load_leaves_a_sound_cache_that_the_next_load_completes(
    crash: _Crash, workdir: Path, figures: Figures, first: int, second: int | None, concurrency: int
) -> None:
    """After ``kill -9`` of one or two loading children the cache is sound, and loading again completes it."""
    table = figures.table(TITLE)
    for label in ROWS:
        table.add(label, 0)
    table.set("month files a whole load writes", month_files())
    table.set("account-days a whole load covers", len(all_days()))
    table.add(POINTS)
    root = Path(tempfile.mkdtemp(prefix="point-", dir=workdir))
    config = child_config(crash.app, crash.connected, root, concurrency)
    temps: set[str] = set()
    half: set[str] = set()
    cached: set[str] = set()
    for n, at in enumerate((first,) if second is None else (first, second)):
        kill = run_child(config, at, workdir / f"{root.name}-child-{n}.stderr")
        report = inspect_cache(root, crash.connected, crash.app, crash.truth)
        _record_kill(table, kill, report)
        table.add(TEMPS, len(set(report.temp_files) - temps))
        table.add(HALF, len(set(report.half_written) - half))
        temps |= set(report.temp_files)
        half |= set(report.half_written)
        cached = set(report.complete_days)
        where = f"{root.name}: child {n} (concurrency {concurrency}) at write event {kill.label}"
        # On an empty cache a load announces every write event, so the first child always meets its kill.
        assert n > 0 or kill.killed, f"{where}: it finished before event #{at} of {write_events()}"
        problems = crash.needles.mask("; ".join(report.problems()))
        assert not problems, f"{where}, {len(cached)} account-days cached: {problems}"

    frame, refetched = _load_again(crash, root)
    after = inspect_cache(root, crash.connected, crash.app, crash.truth)
    missing = all_days() - cached
    difference = None
    try:
        assert_frame_equal(frame, crash.family_truth())
    except AssertionError as exc:
        difference = crash.needles.mask(str(exc))
    table.add(EQUAL, difference is None)
    table.add(ONLY_MISSING, refetched == missing)
    table.add(FETCHED, len(refetched))
    table.add(TEMPS_AFTER, len(after.temp_files))
    _record_cache(table, after)

    where = f"{root.name}: the re-load after {len(cached)} of {len(all_days())} account-days were cached"
    assert difference is None, f"{where} differs from the ground truth: {difference}"
    assert refetched == missing, (
        f"{where} fetched {len(refetched)} account-days, the cache lacked {len(missing)}: "
        f"fetched but cached {sorted(refetched - missing)[:5]}, "
        f"missing but not fetched {sorted(missing - refetched)[:5]}"
    )
    problems = crash.needles.mask("; ".join(after.problems()))
    assert not problems, f"{where} left the cache unsound: {problems}"
    assert set(after.complete_days) == all_days(), f"{where} left {len(after.complete_days)} account-days cached"
    files = sorted(root.glob("calls/account=*/month=*/part-0.parquet"))
    assert len(files) == month_files(), f"{where} left {len(files)} month files, not {month_files()}"
    shutil.rmtree(root)  # only when it held: a failing example's folder stays for a look


# -- audits of what the property did (they read its figures) --


def test_every_point_killed_a_child_that_was_writing(recorded: Callable[[str, str], Table]) -> None:
    table = recorded(TITLE, "test_a_killed_load_leaves_a_sound_cache_that_the_next_load_completes")
    assert table.get(KILLS) >= table.get(POINTS) > 0
    # The kills interrupted real work (not before the first write, not after the last one),
    # so the re-loads had account-days to fetch: the fetch check compared something.
    assert table.get(INTERRUPTED) > 0
    assert table.get(FETCHED) > 0
    assert table.get(EQUAL) == table.get(ONLY_MISSING) == table.get(POINTS)
    for label in ("corrupt files", "incomplete days", "duplicated days", SCAN_FAILURES):
        assert table.get(label) == 0, label


# -- the deterministic facts the kill points rest on, and controls of the inspection --


def test_a_fresh_load_writes_one_file_per_account_and_month() -> None:
    spans = account_days()
    assert len(spans) == 3  # the main account and its two subaccounts; the Connect subaccount holds no calls
    # July to October for the main account, then August and September onwards for the subaccounts.
    assert sorted(len(months(first, last)) for first, last in spans.values()) == [2, 3, 4]
    assert month_files() == 9
    assert write_events() == 18
    assert len(all_days()) == 200  # 100 days of the main account, 67 and 33 of its subaccounts


@pytest.fixture(scope="module")
def whole(crash: _Crash, workdir: Path) -> tuple[Kill, Path, set[str]]:
    """A child left alone on an empty cache: what it announced, its cache folder, the account-days it fetched."""
    crash.sb.reset()  # count only the child's requests
    assert crash.sb.authorize(crash.customer) == crash.connected
    root = workdir / "whole"
    kill = run_child(child_config(crash.app, crash.connected, root, 2), None, workdir / "whole-child.stderr")
    return kill, root, days_fetched(crash.sb)


def test_a_child_left_alone_announces_every_write_and_caches_every_account_day(
    crash: _Crash, whole: tuple[Kill, Path, set[str]]
) -> None:
    # The control of the kill points and of the fetch count: what a child that is not killed does.
    kill, root, fetched = whole
    assert not kill.killed and kill.returncode == 0
    assert len(kill.events) == write_events()
    assert sorted(e.split()[0] for e in kill.events) == ["replaced"] * month_files() + ["write"] * month_files()
    assert fetched == all_days()
    report = inspect_cache(root, crash.connected, crash.app, crash.truth)
    assert report.problems() == []
    assert set(report.complete_days) == all_days()
    assert report.temp_files == []
    # A second load on the complete cache fetches no account-day at all.
    frame, refetched = _load_again(crash, root)
    assert refetched == set()
    assert_frame_equal(frame, crash.family_truth())


def test_the_inspection_sees_corrupt_duplicated_incomplete_and_half_written_files(
    crash: _Crash, whole: tuple[Kill, Path, set[str]], tmp_path: Path
) -> None:
    # The control of the zeros: a cache doctored each way is reported each way.
    root = tmp_path / "cache"
    shutil.copytree(whole[1], root)
    files = sorted(root.glob("calls/account=*/month=*/part-0.parquet"))
    assert len(files) == month_files()
    data = files[0].read_bytes()
    (files[0].parent / ".part-0.parquet.999999999-0123abcd.tmp").write_bytes(data[: len(data) // 2])
    beside = inspect_cache(root, crash.connected, crash.app, crash.truth)
    assert (len(beside.temp_files), len(beside.half_written)) == (1, 1)
    assert beside.problems() == []  # scan_calls ignores a dead writer's temporary file
    files[1].write_bytes(files[1].read_bytes()[:-100])  # cut short
    shutil.copy(files[2], files[2].with_name("part-1.parquet"))  # a second file for the month
    # Ground truth with a row more in the month of files[3]: that file no longer holds exactly its days.
    sid = files[3].parts[-3].removeprefix("account=")
    month = files[3].parts[-2].removeprefix("month=")
    truth = dict(crash.truth)
    row = truth[sid].filter(pl.col("start_time").dt.strftime("%Y-%m") == month).head(1)
    truth[sid] = pl.concat([truth[sid], row.with_columns(pl.lit("CA" + "0" * 32).alias("sid"))]).sort(
        "start_time", descending=True, maintain_order=True
    )
    doctored = inspect_cache(root, crash.connected, crash.app, truth)
    assert doctored.duplicated_days == 1
    assert doctored.corrupt_files == 2  # the file cut short, and the second file (no reader uses it)
    assert doctored.incomplete_days == 1
    assert doctored.problems()
