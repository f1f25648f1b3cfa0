"""Crash safety of the parquet cache: ``kill -9`` a loader while it writes, then load again.

Run: ``python bench/chaos_crash.py [--points 10] [--seed 1]``.

A sandbox runs in this process on 127.0.0.1: one customer whose family is a main
account and two subaccounts (created a third and two thirds through its life, the first
closed since), 12,000 calls over the 100 whole days before its pinned clock, July to
October. A load covers every
account of the family, and the cache holds one parquet file per account and month
(``<root>/calls/account=<AC>/month=YYYY-MM/part-0.parquet``, its covered days in the
footer; see ``connect_notebook/_cache.py``): a fresh load writes ``month_files()`` (9)
files, each once. For each seeded kill point, a child process (``python -c``) runs
``load_calls(<connected AccountSid>, cache_dir=<fresh folder>)`` against it and is
killed with ``SIGKILL`` at that point of its cache writing. Some points crash a second
child on the same folder (a load resumed from a crashed cache, crashed again).

Where the kill lands: the child taps ``DataFrame.write_parquet`` and ``os.replace``
(observers only: each prints a line, ``write <account>/<month>`` just before a month
file's temporary file is written, ``replaced <account>/<month>`` just after it is
renamed into place, then calls the original; the loader's in-memory parquet buffers and
other files are not announced). The parent reads those lines from a pipe, blocking on
it, and kills the child as soon as the seeded event arrives; a kill on a ``write`` event
usually lands while the temporary file is half written. No polling, no sleeping.

After each kill the cache is inspected:

* every ``part-0.parquet`` reads with polars, its footer says which days it covers
  (``MonthCache.cached_days``), and it holds exactly the rows of those days (typed
  ground truth, built without the package's decoders), else it is *corrupt* or
  *incomplete*;
* no month folder holds more than one ``*.parquet`` file (*duplicated*);
* temporary files (``.part-0.parquet.<pid>-<hex>.tmp``) may remain: counted, and read to
  see whether the kill cut them short (*half-written*); ``scan_calls`` must read the
  cache anyway, with exactly the rows of the covered days, once each.

Then ``load_calls`` runs again in this process with the same cache: it must equal the
ground truth (the union of the family's calls), and fetch only the account-days the
cache did not cover. The next write of a month removes the temporary files its dead
writers left, so few remain after a re-load (counted).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import random
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import polars as pl
from polars.testing import assert_frame_equal

from connect_notebook import CALLS_SCHEMA, load_calls, scan_calls
from connect_notebook._cache import MonthCache
from connect_notebook._kernel import app_for_sandbox
from connect_notebook.sandbox import Profile, Sandbox

NOW = "2026-11-01T00:00:00+00:00"  # the sandbox's pinned clock: 100 whole days before it
DAYS = 100
CALLS = 12_000  # of the family: month files of 1,000 to 3,000 rows, a few ms to write
PROFILE = Profile(name="Crash Test Clinics", pattern="dense", days=DAYS, calls=CALLS, subaccounts=2, closed=1)
SANDBOX_SEED = 17
LOOKBACK_DAYS = 3  # the loader's default: days this recent are neither cached nor read back
CHILD_TIMEOUT = 120.0  # seconds a child may take to reach its kill point; guards a hang only

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


def _sibling(name: str) -> ModuleType:
    """``bench/<name>.py``: the package's module when bench is imported as a package, else by path."""
    if __package__:
        return importlib.import_module(f"{__package__}.{name}")
    module_name = f"_bench_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


expected_calls = _sibling("chaos_loads").expected_calls
family_truth = _sibling("chaos_loads").family_truth


def _sandbox() -> Sandbox:
    return Sandbox(seed=SANDBOX_SEED, customers=[PROFILE], now=NOW)


def _utc_day(epoch: int) -> date:
    return datetime.fromtimestamp(epoch, UTC).date()


@functools.cache
def account_days() -> dict[str, tuple[date, date]]:
    """The days a whole load covers in each account of the family (its creation day to the last day)."""
    sb = _sandbox()  # not started: only its (seeded) accounts are read
    last = datetime.fromisoformat(NOW).date() - timedelta(days=1)
    return {sid: (_utc_day(sb.state.account(sid).created), last) for sid in sb.family(sb.customer_account_sids[0])}  # type: ignore[union-attr]


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


# --- the plan ----------------------------------------------------------------------


@dataclass(frozen=True)
class KillPoint:
    """One point: the seeded events at which one or two children are killed, on one cache."""

    index: int
    kills: tuple[int, ...]  # the event number (0-based) at which each child is killed
    concurrency: int


def write_events() -> int:
    """The events a load on an empty cache announces: a ``write`` and a ``replaced`` per month file."""
    return 2 * month_files()


def plan(points: int, seed: int) -> list[KillPoint]:
    """Kill points spread over the ``write_events()`` of a fresh load, early to late (stratified)."""
    rng = random.Random(seed)
    events = write_events() - 1  # the last event (the last rename) would leave nothing to interrupt
    result = []
    for i in range(points):
        lo, hi = i * events // points, (i + 1) * events // points
        first = rng.randrange(lo, max(hi, lo + 1))
        # About half the points crash a second child on the same cache, at a seeded early event.
        kills = (first, rng.randrange(0, 4)) if rng.random() < 0.5 else (first,)
        result.append(KillPoint(i, kills, rng.choice((1, 2, 4))))
    return result


# --- a child, killed -------------------------------------------------------------


@dataclass
class Kill:
    """What one killed child had announced, and what its kill left in the cache."""

    at_event: int
    events: list[str] = field(default_factory=list)  # what the child announced before it died
    trigger: str = ""  # the announcement the kill answered
    killed: bool = False  # False: it finished before the kill point
    returncode: int | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"#{self.at_event} ({self.trigger})" if self.killed else f"#{self.at_event} (finished first)"


def _child_env() -> dict[str, str]:
    # The child gets its app explicitly; no CONNECT_NOTEBOOK_* setting may steer it.
    return {k: v for k, v in os.environ.items() if not k.startswith(("CONNECT_NOTEBOOK_", "TWILIO_"))}


def run_child_until(config: dict[str, Any], kill_at: int, stderr_path: Path) -> Kill:
    """Start a loading child and ``SIGKILL`` it once it announced event ``kill_at`` (0-based)."""
    kill = Kill(kill_at)
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=_child_env(),
        )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps(config) + "\n").encode())  # the token travels by pipe, not argv
        proc.stdin.close()
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + CHILD_TIMEOUT
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while not kill.killed:
                remaining = deadline - time.monotonic()
                # Blocks on the pipe: wakes up when the child writes a line or exits.
                if remaining <= 0 or not selector.select(remaining):
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
                    if len(kill.events) > kill_at and not kill.killed:
                        proc.send_signal(signal.SIGKILL)
                        kill.killed, kill.trigger = True, kill.events[kill_at]
        kill.returncode = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
    if not kill.killed and kill.returncode != 0:
        msg = f"the loading child failed by itself (exit {kill.returncode}): {stderr_path.read_text()[-2000:]}"
        raise RuntimeError(msg)
    return kill


# --- inspecting a cache ------------------------------------------------------------


def _readable(path: Path) -> bool:
    try:
        pl.read_parquet(path)
    except Exception:  # noqa: BLE001 - any failure to read is what is being counted
        return False
    return True


def _equal(frame: pl.DataFrame, expected: pl.DataFrame) -> bool:
    try:
        assert_frame_equal(frame, expected)
    except AssertionError:
        return False
    return True


def _of_days(truth: pl.DataFrame, days: set[date]) -> pl.DataFrame:
    """The rows of an account's typed truth on the given UTC days, newest first (the cache's order)."""
    return truth.filter(pl.col("start_time").dt.date().is_in(sorted(days)))


def inspect_cache(root: Path, connected: str, app: Any, truth: dict[str, pl.DataFrame]) -> dict[str, Any]:
    """What a cache folder holds, checked file by file against the ground truth of each account.

    ``truth`` is each account's typed calls. ``complete_days`` lists the ``<AC>:<day>`` the
    month files cover, each holding exactly its rows.
    """
    report: dict[str, Any] = {
        "complete_days": [],
        "corrupt_files": 0,  # a part-0.parquet that does not read, or whose footer is not usable
        "incomplete_days": 0,  # a part-0.parquet that reads but does not hold exactly its covered days
        "duplicated_days": 0,  # a month folder with more than one *.parquet file
        "temp_files": 0,
        "half_written": [],  # temp files that do not read: the kill cut them short
        "other_files": [],
        "scan_ok": False,
        "scan_error": None,
        "scan_duplicated_rows": 0,
        "scan_equals_complete_days": False,
    }
    expected_parts = []
    for sid, account_truth in truth.items():
        folder = root / "calls" / f"account={sid}"
        cache = MonthCache(root, "calls", sid, time_column="start_time", schema=CALLS_SCHEMA)
        for month_dir in sorted(folder.glob("month=*")) if folder.is_dir() else []:
            entries = list(month_dir.iterdir())
            parquet = [e for e in entries if e.name.endswith(".parquet")]
            temps = [e for e in entries if e.name.startswith(".part-0.parquet.") and e.name.endswith(".tmp")]
            report["other_files"] += [str(e) for e in entries if e not in parquet and e not in temps]
            report["duplicated_days"] += len(parquet) > 1
            report["temp_files"] += len(temps)
            report["half_written"] += [str(t) for t in temps if not _readable(t)]
            month = date.fromisoformat(month_dir.name.removeprefix("month=") + "-01")
            month_last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            for part in parquet:
                try:
                    frame = pl.read_parquet(part)
                except Exception:  # noqa: BLE001 - counted, not raised: the figure is the point
                    report["corrupt_files"] += 1
                    continue
                # What the footer says (the loader trusts it); a file it cannot use covers nothing.
                days = cache.cached_days(month, month_last) if part.name == "part-0.parquet" else set()
                if not days:
                    report["corrupt_files"] += 1
                elif _equal(frame, _of_days(account_truth, days)):
                    report["complete_days"] += [f"{sid}:{d}" for d in sorted(days)]
                    expected_parts.append(_of_days(account_truth, days))
                else:
                    report["incomplete_days"] += 1
    try:
        scanned = scan_calls(connected, app=app, cache_dir=root).collect()
    except Exception as exc:  # noqa: BLE001 - a scan that fails is a finding
        report["scan_error"] = f"{type(exc).__name__}: {exc}"
    else:
        report["scan_ok"] = True
        report["scan_duplicated_rows"] = scanned.height - scanned["sid"].n_unique()
        wanted = pl.concat(expected_parts) if expected_parts else scanned.clear()
        report["scan_equals_complete_days"] = _equal(scanned.sort("sid"), wanted.sort("sid"))
    return report


def _window_days(query: dict[str, str]) -> set[date]:
    """The UTC days a Calls.json request's ``StartTime`` filters select (``StartTime<`` is exclusive)."""
    if "StartTime" in query:
        return {date.fromisoformat(query["StartTime"])}
    first, before = date.fromisoformat(query["StartTime>"]), date.fromisoformat(query["StartTime<"])
    return {first + timedelta(days=i) for i in range((before - first).days)}


def _days_fetched(sb: Sandbox) -> set[str]:
    """The ``<AC>:<day>`` that the Calls.json requests the sandbox saw since its last reset asked for."""
    days = set()
    for line in sb.requests:
        target = urlsplit(line.split(" ", 1)[1])
        if target.path.endswith("/Calls.json"):
            sid = target.path.split("/")[-2]
            days |= {f"{sid}:{d}" for d in _window_days(dict(parse_qsl(target.query)))}
    return days


# --- the run -----------------------------------------------------------------------


@dataclass
class PointResult:
    """One point's kills, the re-load's verdicts, and anything that broke a rule."""

    point: KillPoint
    kills: list[Kill]
    result_equal: bool
    refetched_only_missing: bool
    after: dict[str, Any]  # the cache after the re-load
    problems: list[str]


def _all_days() -> set[str]:
    """Every ``<AC>:<day>`` a whole load covers."""
    return {
        f"{sid}:{first + timedelta(days=i)}"
        for sid, (first, last) in account_days().items()
        for i in range((last - first).days + 1)
    }


def run_point(point: KillPoint, sb: Sandbox, workdir: Path, truth: dict[str, pl.DataFrame]) -> PointResult:
    """Crash one or two children on a fresh cache, inspect it after each, then load again here."""
    customer = sb.customer_account_sids[0]
    app = app_for_sandbox(sb)
    root = workdir / f"point-{point.index}"
    start, end = min(first for first, _ in account_days().values()).isoformat(), NOW
    connected = sb.connected_sid(customer)  # what the Connect App authenticates as
    assert connected is not None, "start_sandbox() authorizes the customer"
    config = {
        "app": {
            "account_sid": app.account_sid,
            "auth_token": app.auth_token,
            "connect_app_sid": app.connect_app_sid,
            "api_url": app.api_url,
            "monitor_url": app.monitor_url,
            "authorize_base_url": app.authorize_base_url,
        },
        "connected": connected,
        "start": start,
        "end": end,
        "cache_dir": str(root),
        "concurrency": point.concurrency,
    }
    problems: list[str] = []
    kills = []
    for n, at in enumerate(point.kills):
        kill = run_child_until(config, at, workdir / f"point-{point.index}-child-{n}.stderr")
        kill.cache = inspect_cache(root, connected, app, truth)
        kills.append(kill)
    sb.reset()  # count only the re-load's requests
    if sb.authorize(customer) != connected:  # authorizing again keeps the Connect subaccount
        msg = f"authorizing {customer} again made another Connect subaccount than {connected}"
        raise RuntimeError(msg)
    cached = set(kills[-1].cache["complete_days"])
    frame = load_calls(connected, app=app, start=start, end=end, cache_dir=root, progress=False)
    expected = pl.concat(list(truth.values())).sort("start_time", descending=True, maintain_order=True)
    equal = _equal(frame, expected)
    refetched = _days_fetched(sb)
    after = inspect_cache(root, connected, app, truth)
    for n, kill in enumerate([*kills, None]):
        c = kill.cache if kill is not None else after
        where = f"point {point.index} kill {n} {kill.label}" if kill is not None else f"point {point.index} re-load"
        for name in ("corrupt_files", "incomplete_days", "duplicated_days", "scan_duplicated_rows"):
            if c[name]:
                problems.append(f"{where}: {name} = {c[name]}")
        if c["other_files"]:
            problems.append(f"{where}: unexpected files {c['other_files']}")
        if not c["scan_ok"] or not c["scan_equals_complete_days"]:
            problems.append(f"{where}: scan_calls {c['scan_error'] or 'differs from the complete days'}")
    if not equal:
        problems.append(f"point {point.index}: the re-load differs from the ground truth")
    missing = _all_days() - cached
    if refetched != missing:
        problems.append(
            f"point {point.index}: re-load fetched {len(refetched)} account-days, the cache lacked {len(missing)}: "
            f"fetched but cached {sorted(refetched - missing)[:5]}, "
            f"missing but not fetched {sorted(missing - refetched)[:5]}"
        )
    files = sorted(root.glob("calls/account=*/month=*/part-0.parquet"))
    if len(files) != month_files():
        problems.append(f"point {point.index}: after the re-load the cache holds {len(files)} month files")
    if set(after["complete_days"]) != _all_days():
        problems.append(
            f"point {point.index}: after the re-load the cache covers {len(after['complete_days'])} account-days"
        )
    return PointResult(point, kills, equal, refetched == missing, after, problems)


def start_sandbox() -> Sandbox:
    """The sandbox both processes reach over loopback, its customer authorized."""
    last_day = datetime.fromisoformat(NOW).date() - timedelta(days=1)
    if datetime.now(UTC).date() - timedelta(days=LOOKBACK_DAYS) <= last_day:
        # The loader caches only settled days, judged by the real clock.
        msg = f"this machine's clock ({datetime.now(UTC):%Y-%m-%d}) is before {NOW}: no day would be cached"
        raise RuntimeError(msg)
    sb = _sandbox().start()
    sb.authorize(sb.customer_account_sids[0])
    return sb


def run(*, points: int, seed: int) -> dict[str, Any]:
    """Run ``points`` seeded kill points and return the figures."""
    began = time.perf_counter()
    sb = start_sandbox()
    try:
        customer = sb.customer_account_sids[0]
        truth = {sid: expected_calls(sb.calls(sid)) for sid in sb.family(customer) if sid in account_days()}
        if set(truth) != set(account_days()) or len(truth) != 3 or not all(t.height for t in truth.values()):
            msg = f"the sandbox's family is not the one planned for: {sorted(truth)} vs {sorted(account_days())}"
            raise RuntimeError(msg)
        with tempfile.TemporaryDirectory(prefix="chaos-crash-") as tmp:
            results = [run_point(p, sb, Path(tmp), truth) for p in plan(points, seed)]
    finally:
        sb.stop()
    kills = [k for r in results for k in r.kills]
    caches = [k.cache for k in kills] + [r.after for r in results]
    return {
        "points": len(results),
        "month_files": month_files(),
        "account_days": len(_all_days()),
        "kills": sum(k.killed for k in kills),
        "children_finished_before_their_kill": sum(not k.killed for k in kills),
        "kill_points": [k.label for k in kills],
        "files_seen_per_kill": [len(k.cache["complete_days"]) for k in kills],
        "temp_files_per_kill": [k.cache["temp_files"] for k in kills],
        # The same leftover file is seen again by later inspections: count each file once.
        "half_written_temp_files": len({p for k in kills for p in k.cache["half_written"]}),
        "corrupt_files": sum(c["corrupt_files"] for c in caches),
        "incomplete_days": sum(c["incomplete_days"] for c in caches),
        "duplicated_days": sum(c["duplicated_days"] for c in caches),
        "scan_ok_with_temp_files_present": sum(c["scan_ok"] and c["temp_files"] > 0 for c in caches),
        "scan_failures": sum(not (c["scan_ok"] and c["scan_equals_complete_days"]) for c in caches),
        "results_equal": sum(r.result_equal for r in results),
        "reloads_fetched_only_missing_days": sum(r.refetched_only_missing for r in results),
        "temp_files_left_after_reload": sum(r.after["temp_files"] for r in results),
        "kill_events": dict(Counter(k.trigger.split()[0] for k in kills if k.killed)),
        "problems": [p for r in results for p in r.problems],
        "seconds": round(time.perf_counter() - began, 1),
    }


def format_table(figures: dict[str, Any]) -> str:
    """The figures as a small plain-text table."""
    rows = [
        ("points (fresh cache each)", figures["points"]),
        ("children killed (SIGKILL)", figures["kills"]),
        ("  killed just after 'write <AC>/<mo>'", figures["kill_events"].get("write", 0)),
        ("  killed just after 'replaced <AC>/<mo>'", figures["kill_events"].get("replaced", 0)),
        ("  finished before their kill point", figures["children_finished_before_their_kill"]),
        ("month files a whole load writes", figures["month_files"]),
        (
            f"account-days cached per kill (of {figures['account_days']})",
            " ".join(map(str, figures["files_seen_per_kill"])),
        ),
        ("temp files left, per kill", " ".join(map(str, figures["temp_files_per_kill"]))),
        ("half-written temp files (distinct)", figures["half_written_temp_files"]),
        ("corrupt files", figures["corrupt_files"]),
        ("incomplete days", figures["incomplete_days"]),
        ("duplicated days", figures["duplicated_days"]),
        ("scans that read fine beside temp files", figures["scan_ok_with_temp_files_present"]),
        ("scan_calls failures", figures["scan_failures"]),
        ("re-load equal to the ground truth", f"{figures['results_equal']}/{figures['points']}"),
        (
            "re-load fetched only missing account-days",
            f"{figures['reloads_fetched_only_missing_days']}/{figures['points']}",
        ),
        ("temp files left after the re-loads", figures["temp_files_left_after_reload"]),
        ("wall time, s", figures["seconds"]),
    ]
    lines = [f"{name:<40}{value!s:>12}" if len(str(value)) <= 12 else f"{name:<40}{value}" for name, value in rows]
    lines.insert(6, "kill points (event #, the announcement killed on): " + ", ".join(figures["kill_points"]))
    if figures["problems"]:
        lines += ["", "PROBLEMS:", *figures["problems"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10, help="kill points (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill points (default %(default)s)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    figures = run(points=args.points, seed=args.seed)
    print(f"python bench/chaos_crash.py --points {args.points} --seed {args.seed}")
    print(format_table(figures))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if figures["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
