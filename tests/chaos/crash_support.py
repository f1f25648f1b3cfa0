"""Support for the crash-safety property: the family whose load is killed, the killed child, the cache inspection.

A sandbox runs in the test process on 127.0.0.1: one customer whose family is a main
account and two subaccounts (created a third and two thirds through its life, the first
closed since), 12,000 calls over the 100 whole days before its pinned clock, July to
October. The cache holds one parquet file per account and month
(``<root>/calls/account=<AC>/month=YYYY-MM/part-0.parquet``, its covered days in the
footer; see ``connect_notebook/_cache.py``): a fresh load writes ``month_files()`` (9)
files, each once.

The child (``python -c CHILD``) taps ``DataFrame.write_parquet`` and ``os.replace``
(observers only): it prints ``write <AC>/<month>`` just before a month file's temporary
file is written and ``replaced <AC>/<month>`` just after it is renamed into place, then
goes on. The parent reads those lines from a pipe, blocking on it, and sends ``SIGKILL``
as soon as the chosen event arrives; a kill on a ``write`` event usually lands while the
temporary file is half written. No polling, no sleeping.
"""

from __future__ import annotations

import functools
import json
import os
import selectors
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import polars as pl
from polars.testing import assert_frame_equal

from chaos.truth import NOW
from connect_notebook import CALLS_SCHEMA, ConnectApp, scan_calls
from connect_notebook._cache import MonthCache
from connect_notebook.sandbox import Profile, Sandbox

DAYS = 100
CALLS = 12_000  # of the family: month files of 1,000 to 3,000 rows, a few ms to write
PROFILE = Profile(name="Crash Test Clinics", pattern="dense", days=DAYS, calls=CALLS, subaccounts=2, closed=1)
SANDBOX_SEED = 17
LOOKBACK_DAYS = 3  # the loader's default: days this recent are neither cached nor read back
CHILD_TIMEOUT = 120.0  # seconds a child may take to announce its next event; guards a hang only

# The child: taps the two steps of a month file's write (observers only), then loads.
CHILD = r"""
import json, os, sys
config = json.loads(sys.stdin.readline())
import polars as pl
from connect_notebook import ConnectApp, load_calls

def event(text):
    os.write(1, (text + "\n").encode())  # unbuffered: the parent acts on each line at once

def month_file(path):
    # <root>/calls/account=<AC>/month=YYYY-MM/<file>: "<AC>/<YYYY-MM>", or None for any other file
    parts = os.fspath(path).split(os.sep)
    if len(parts) < 3 or not parts[-3].startswith("account=") or not parts[-2].startswith("month="):
        return None
    return parts[-3].removeprefix("account=") + "/" + parts[-2].removeprefix("month=")

_write_parquet = pl.DataFrame.write_parquet
def write_parquet(self, file, *args, **kwargs):
    # Only a month file's temporary file; the loader also packs windows into in-memory buffers.
    if isinstance(file, (str, os.PathLike)) and (where := month_file(file)) is not None:
        event("write " + where)
    return _write_parquet(self, file, *args, **kwargs)
pl.DataFrame.write_parquet = write_parquet

_replace = os.replace
def replace(src, dst, *args, **kwargs):
    _replace(src, dst, *args, **kwargs)
    if os.path.basename(os.fspath(dst)) == "part-0.parquet" and (where := month_file(dst)) is not None:
        event("replaced " + where)
os.replace = replace

app = ConnectApp(**config["app"])
event("ready")
load_calls(config["connected"], app=app, start=config["start"], end=config["end"],
           cache_dir=config["cache_dir"], concurrency=config["concurrency"], progress=False)
event("done")
"""


# --- what a whole load covers ---------------------------------------------------------


def crash_sandbox() -> Sandbox:
    """The sandbox of the family whose loads are killed (not started)."""
    return Sandbox(seed=SANDBOX_SEED, customers=[PROFILE], now=NOW)


def _utc_day(epoch: int) -> date:
    """The UTC day of a Unix time."""
    return datetime.fromtimestamp(epoch, UTC).date()


@functools.cache
def account_days() -> dict[str, tuple[date, date]]:
    """The days a whole load covers in each account of the family (its creation day to the last day)."""
    sb = crash_sandbox()  # not started: only its (seeded) accounts are read
    last = datetime.fromisoformat(NOW).date() - timedelta(days=1)
    family = sb.family(sb.customer_account_sids[0])
    return {sid: (_utc_day(sb.state.account(sid).created), last) for sid in family}  # type: ignore[union-attr]


def months(first: date, last: date) -> list[str]:
    """The months (``YYYY-MM``) that the days ``first`` … ``last`` touch, oldest first."""
    found, month = [], first.replace(day=1)
    while month <= last:
        found.append(f"{month:%Y-%m}")
        month = (month + timedelta(days=32)).replace(day=1)
    return found


@functools.cache
def month_files() -> int:
    """How many month files a load on an empty cache writes: one per account and month, each once."""
    return sum(len(months(first, last)) for first, last in account_days().values())


def write_events() -> int:
    """The events a load on an empty cache announces: a ``write`` and a ``replaced`` per month file."""
    return 2 * month_files()


@functools.cache
def all_days() -> frozenset[str]:
    """Every ``<AC>:<day>`` a whole load covers."""
    return frozenset(
        f"{sid}:{first + timedelta(days=i)}"
        for sid, (first, last) in account_days().items()
        for i in range((last - first).days + 1)
    )


def check_clock() -> None:
    """Raise unless this machine's clock is past the sandbox's: the loader caches only settled days."""
    last_day = datetime.fromisoformat(NOW).date() - timedelta(days=1)
    if datetime.now(UTC).date() - timedelta(days=LOOKBACK_DAYS) <= last_day:
        msg = f"this machine's clock ({datetime.now(UTC):%Y-%m-%d}) is before {NOW}: no day would be cached"
        raise RuntimeError(msg)


# --- a child, killed --------------------------------------------------------------------


def child_config(app: ConnectApp, connected: str, root: Path, concurrency: int) -> dict[str, Any]:
    """What the child loads (the whole history of the family, into ``root``); sent on its stdin."""
    return {
        "app": {
            "account_sid": app.account_sid,
            "auth_token": app.auth_token,
            "connect_app_sid": app.connect_app_sid,
            "api_url": app.api_url,
            "monitor_url": app.monitor_url,
            "authorize_base_url": app.authorize_base_url,
        },
        "connected": connected,
        "start": min(first for first, _ in account_days().values()).isoformat(),
        "end": NOW,
        "cache_dir": str(root),
        "concurrency": concurrency,
    }


@dataclass
class Kill:
    """What one child announced before it died, and whether the kill came before it finished."""

    at_event: int | None  # the event number (0-based) to kill on; None: let it finish
    events: list[str] = field(default_factory=list)  # the write events it announced
    trigger: str = ""  # the announcement the kill answered
    killed: bool = False  # False: it finished before the kill point
    returncode: int | None = None

    @property
    def label(self) -> str:
        """The kill point and what the child had just announced, for messages."""
        return f"#{self.at_event} ({self.trigger})" if self.killed else f"#{self.at_event} (finished first)"


def _child_env() -> dict[str, str]:
    """This environment without CONNECT_NOTEBOOK_* and TWILIO_* variables."""
    # The child gets its app explicitly; no CONNECT_NOTEBOOK_* setting may steer it.
    return {k: v for k, v in os.environ.items() if not k.startswith(("CONNECT_NOTEBOOK_", "TWILIO_"))}


def run_child(config: dict[str, Any], kill_at: int | None, stderr_path: Path) -> Kill:
    """Start a loading child and ``SIGKILL`` it once it announced write event ``kill_at`` (0-based).

    Raises ``RuntimeError`` if the child announces nothing for ``CHILD_TIMEOUT`` seconds (a
    hang) or fails by itself; its stderr is in ``stderr_path`` (the token travels by pipe).
    """
    kill = Kill(kill_at)
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=_child_env(),
        )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write((json.dumps(config) + "\n").encode())  # the token travels by pipe, not argv
        proc.stdin.close()
        fd = proc.stdout.fileno()
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while not kill.killed:
                # Blocks on the pipe: wakes up when the child writes a line or exits.
                if not selector.select(CHILD_TIMEOUT):
                    msg = f"the loading child announced no event for {CHILD_TIMEOUT:.0f}s; see {stderr_path}"
                    raise RuntimeError(msg)
                chunk = os.read(fd, 65536)
                if not chunk:
                    break  # end of file: the child exited by itself
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in (raw.decode() for raw in lines):
                    if line.startswith(("write ", "replaced ")):
                        kill.events.append(line)
                    if kill_at is not None and len(kill.events) > kill_at and not kill.killed:
                        proc.send_signal(signal.SIGKILL)
                        kill.killed, kill.trigger = True, kill.events[kill_at]
        kill.returncode = proc.wait(timeout=CHILD_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=CHILD_TIMEOUT)
        proc.stdout.close()
    if not kill.killed and kill.returncode != 0:
        msg = f"the loading child failed by itself (exit {kill.returncode}); see {stderr_path}"
        raise RuntimeError(msg)
    return kill


# --- inspecting a cache -------------------------------------------------------------------


@dataclass
class CacheReport:
    """What a cache folder holds, checked file by file against each account's ground truth."""

    complete_days: list[str] = field(default_factory=list)  # "<AC>:<day>" the month files cover, each exact
    corrupt_files: int = 0  # a part-0.parquet that does not read, or whose footer is not usable
    incomplete_days: int = 0  # a part-0.parquet that reads but does not hold exactly its covered days
    duplicated_days: int = 0  # a month folder with more than one *.parquet file
    temp_files: list[str] = field(default_factory=list)  # .part-0.parquet.<pid>-<hex>.tmp of dead writers
    half_written: list[str] = field(default_factory=list)  # temporary files that do not read: cut short
    other_files: list[str] = field(default_factory=list)
    scan_error: str | None = None  # scan_calls raised
    scan_duplicated_rows: int = 0
    scan_equals_complete_days: bool = False

    @property
    def scan_ok(self) -> bool:
        """``scan_calls`` read the cache and returned exactly the complete days' rows."""
        return self.scan_error is None and self.scan_equals_complete_days

    def problems(self) -> list[str]:
        """Every way this cache breaks a rule (empty when it is sound)."""
        found = [
            f"{name} = {getattr(self, name)}"
            for name in ("corrupt_files", "incomplete_days", "duplicated_days", "scan_duplicated_rows")
            if getattr(self, name)
        ]
        if self.other_files:
            found.append(f"unexpected files {self.other_files}")
        if not self.scan_ok:
            found.append(f"scan_calls {self.scan_error or 'differs from the complete days'}")
        return found


def _readable(path: Path) -> bool:
    """Whether polars reads ``path`` as parquet."""
    try:
        pl.read_parquet(path)
    except Exception:  # noqa: BLE001 - any failure to read is what is being counted
        return False
    return True


def _equal(frame: pl.DataFrame, expected: pl.DataFrame) -> bool:
    """``assert_frame_equal`` as a predicate."""
    try:
        assert_frame_equal(frame, expected)
    except AssertionError:
        return False
    return True


def _of_days(truth: pl.DataFrame, days: set[date]) -> pl.DataFrame:
    """The rows of an account's typed truth on the given UTC days, newest first (the cache's order)."""
    return truth.filter(pl.col("start_time").dt.date().is_in(sorted(days)))


def inspect_cache(root: Path, connected: str, app: ConnectApp, truth: dict[str, pl.DataFrame]) -> CacheReport:
    """Check every month file of ``root`` against ``truth`` (each account's typed calls), then scan it."""
    report = CacheReport()
    expected_parts = []
    for sid, account_truth in truth.items():
        folder = root / "calls" / f"account={sid}"
        cache = MonthCache(root, "calls", sid, time_column="start_time", schema=CALLS_SCHEMA)
        for month_dir in sorted(folder.glob("month=*")) if folder.is_dir() else []:
            entries = list(month_dir.iterdir())
            parquet = [e for e in entries if e.name.endswith(".parquet")]
            temps = [e for e in entries if e.name.startswith(".part-0.parquet.") and e.name.endswith(".tmp")]
            report.other_files += [str(e) for e in entries if e not in parquet and e not in temps]
            report.duplicated_days += len(parquet) > 1
            report.temp_files += [str(t) for t in temps]
            report.half_written += [str(t) for t in temps if not _readable(t)]
            month = date.fromisoformat(month_dir.name.removeprefix("month=") + "-01")
            month_last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            for part in parquet:
                try:
                    frame = pl.read_parquet(part)
                except Exception:  # noqa: BLE001 - counted, then asserted by the property
                    report.corrupt_files += 1
                    continue
                # What the footer says (the loader trusts it); a file it cannot use covers nothing.
                days = cache.cached_days(month, month_last) if part.name == "part-0.parquet" else set()
                if not days:
                    report.corrupt_files += 1
                elif _equal(frame, _of_days(account_truth, days)):
                    report.complete_days += [f"{sid}:{d}" for d in sorted(days)]
                    expected_parts.append(_of_days(account_truth, days))
                else:
                    report.incomplete_days += 1
    try:
        scanned = scan_calls(connected, app=app, cache_dir=root).collect()
    except Exception as exc:  # noqa: BLE001 - a scan that fails is a finding
        report.scan_error = f"{type(exc).__name__}: {exc}"
    else:
        report.scan_duplicated_rows = scanned.height - scanned["sid"].n_unique()
        wanted = pl.concat(expected_parts) if expected_parts else scanned.clear()
        report.scan_equals_complete_days = _equal(scanned.sort("sid"), wanted.sort("sid"))
    return report


def _window_days(query: dict[str, str]) -> set[date]:
    """The UTC days a Calls.json request's ``StartTime`` filters select (``StartTime<`` is exclusive)."""
    if "StartTime" in query:
        return {date.fromisoformat(query["StartTime"])}
    first, before = date.fromisoformat(query["StartTime>"]), date.fromisoformat(query["StartTime<"])
    return {first + timedelta(days=i) for i in range((before - first).days)}


def days_fetched(sb: Sandbox) -> set[str]:
    """The ``<AC>:<day>`` that the Calls.json requests the sandbox saw since its last reset asked for."""
    days = set()
    for line in sb.requests:
        target = urlsplit(line.split(" ", 1)[1])
        if target.path.endswith("/Calls.json"):
            sid = target.path.split("/")[-2]
            days |= {f"{sid}:{d}" for d in _window_days(dict(parse_qsl(target.query)))}
    return days
