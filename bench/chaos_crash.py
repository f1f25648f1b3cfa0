"""Crash safety of the parquet cache: ``kill -9`` a loader while it writes, then load again.

Run: ``python bench/chaos_crash.py [--points 10] [--seed 1]``.

A sandbox runs in this process on 127.0.0.1 (one customer, 12,000 calls over 8
whole days, so each day is two pages and a parquet file of 1,500 rows). For each
seeded kill point, a child process (``python -c``) runs
``load_calls(customer, cache_dir=<fresh folder>)`` against it and is killed with
``SIGKILL`` at that point of its cache writing. Some points crash a second child on
the same folder (a load resumed from a crashed cache, crashed again).

Where the kill lands: the child taps ``DataFrame.write_parquet`` and ``os.replace``
(observers only: each prints a line, ``write <day>`` just before the temporary file
is written, ``replaced <day>`` just after it is renamed into place, then calls the
original). The parent reads those lines from a pipe, blocking on it, and kills the
child as soon as the seeded event arrives; a kill on a ``write`` event usually lands
while the temporary file is half written. No polling, no sleeping.

After each kill the cache is inspected:

* every ``part-0.parquet`` reads with polars and holds exactly its whole day
  (typed ground truth, built without the package's decoders), else it is *corrupt*
  or *incomplete*;
* no day folder holds more than one ``*.parquet`` file (*duplicated day*);
* temporary files (``.part-0.parquet.<hex>.tmp``) may remain: counted, and read to
  see whether the kill cut them short (*half-written*); ``scan_calls`` must read the
  cache anyway, with exactly the rows of the complete days, once each.

Then ``load_calls`` runs again in this process with the same cache: it must equal the
ground truth, and fetch only the days the cache did not hold. Leftover temporary
files are counted once more (the loader does not remove them; they are invisible to
``scan_calls`` and ``load_calls``).
"""

from __future__ import annotations

import argparse
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

from connect_notebook import load_calls, scan_calls
from connect_notebook._active import app_for_sandbox
from connect_notebook.sandbox import Sandbox

NOW = "2026-11-01T00:00:00+00:00"  # the sandbox's pinned clock: 8 whole days before it
DAYS = 8
CALLS = 12_000  # 1,500 a day: two pages and a parquet file that takes a few ms to write
SANDBOX_SEED = 17
LOOKBACK_DAYS = 3  # the loader's default: days this recent are neither cached nor read back
CHILD_TIMEOUT = 120.0  # seconds a child may take to reach its kill point; guards a hang only

# The child: taps the two steps of a cache write (observers only), then loads.
CHILD = r"""
import json, os, sys
config = json.loads(sys.stdin.readline())
import polars as pl
from connect_notebook import ConnectApp, load_calls

def event(text):
    os.write(1, (text + "\n").encode())  # unbuffered: the parent acts on each line at once

def day_of(path):
    return os.path.basename(os.path.dirname(os.fspath(path))).removeprefix("date=")

_write_parquet = pl.DataFrame.write_parquet
def write_parquet(self, file, *args, **kwargs):
    event("write " + day_of(file))
    return _write_parquet(self, file, *args, **kwargs)
pl.DataFrame.write_parquet = write_parquet

_replace = os.replace
def replace(src, dst, *args, **kwargs):
    _replace(src, dst, *args, **kwargs)
    event("replaced " + day_of(dst))
os.replace = replace

app = ConnectApp(**config["app"])
event("ready")
load_calls(config["customer"], app=app, start=config["start"], end=config["end"],
           cache_dir=config["cache_dir"], concurrency=config["concurrency"], progress=False)
event("done")
"""


def _sibling(name: str) -> ModuleType:
    """``bench/<name>.py``, imported by path (bench/ is a folder of scripts, not a package)."""
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


# --- the plan ----------------------------------------------------------------------


@dataclass(frozen=True)
class KillPoint:
    """One point: the seeded events at which one or two children are killed, on one cache."""

    index: int
    kills: tuple[int, ...]  # the event number (0-based) at which each child is killed
    concurrency: int


def plan(points: int, seed: int) -> list[KillPoint]:
    """Kill points spread over the ``2 * DAYS`` write events, early to late (stratified)."""
    rng = random.Random(seed)
    events = 2 * DAYS - 1  # the last event (the last rename) would leave nothing to interrupt
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


def inspect_cache(root: Path, customer: str, by_day: dict[str, pl.DataFrame]) -> dict[str, Any]:
    """What a cache folder holds, checked file by file against the ground truth of each day."""
    folder = root / "calls" / f"account={customer}"
    report: dict[str, Any] = {
        "complete_days": [],
        "corrupt_files": 0,  # a part-0.parquet that does not read
        "incomplete_days": 0,  # a part-0.parquet that reads but is not exactly its day
        "duplicated_days": 0,  # a day folder with more than one *.parquet file
        "temp_files": 0,
        "half_written": [],  # temp files that do not read: the kill cut them short
        "other_files": [],
        "scan_ok": False,
        "scan_error": None,
        "scan_duplicated_rows": 0,
        "scan_equals_complete_days": False,
    }
    for day_dir in sorted(folder.glob("date=*")) if folder.is_dir() else []:
        day = day_dir.name.removeprefix("date=")
        entries = list(day_dir.iterdir())
        parquet = [e for e in entries if e.name.endswith(".parquet")]
        temps = [e for e in entries if e.name.startswith(".part-0.parquet.") and e.name.endswith(".tmp")]
        report["other_files"] += [str(e) for e in entries if e not in parquet and e not in temps]
        report["duplicated_days"] += len(parquet) > 1
        report["temp_files"] += len(temps)
        report["half_written"] += [str(t) for t in temps if not _readable(t)]
        for part in parquet:
            try:
                frame = pl.read_parquet(part)
            except Exception:  # noqa: BLE001 - counted, not raised: the figure is the point
                report["corrupt_files"] += 1
                continue
            if part.name == "part-0.parquet" and day in by_day and _equal(frame, by_day[day]):
                report["complete_days"].append(day)
            else:
                report["incomplete_days"] += 1
    try:
        scanned = scan_calls(customer, cache_dir=root).collect()
    except Exception as exc:  # noqa: BLE001 - a scan that fails is a finding
        report["scan_error"] = f"{type(exc).__name__}: {exc}"
    else:
        report["scan_ok"] = True
        report["scan_duplicated_rows"] = scanned.height - scanned["sid"].n_unique()
        days = report["complete_days"]
        wanted = pl.concat([by_day[d] for d in days]) if days else scanned.clear()
        report["scan_equals_complete_days"] = _equal(scanned.sort("sid"), wanted.sort("sid"))
    return report


def _days_fetched(sb: Sandbox) -> set[str]:
    """The ``StartTime`` days of every Calls.json request the sandbox saw since its last reset."""
    days = set()
    for line in sb.requests:
        target = urlsplit(line.split(" ", 1)[1])
        if target.path.endswith("/Calls.json"):
            days.add(dict(parse_qsl(target.query)).get("StartTime", "?"))
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


def run_point(point: KillPoint, sb: Sandbox, workdir: Path, by_day: dict[str, pl.DataFrame]) -> PointResult:
    """Crash one or two children on a fresh cache, inspect it after each, then load again here."""
    customer = sb.customer_account_sids[0]
    app = app_for_sandbox(sb)
    root = workdir / f"point-{point.index}"
    start, end = min(by_day), NOW
    config = {
        "app": {
            "account_sid": app.account_sid,
            "auth_token": app.auth_token,
            "connect_app_sid": app.connect_app_sid,
            "api_url": app.api_url,
            "monitor_url": app.monitor_url,
            "authorize_base_url": app.authorize_base_url,
        },
        "customer": customer,
        "start": start,
        "end": end,
        "cache_dir": str(root),
        "concurrency": point.concurrency,
    }
    problems: list[str] = []
    kills = []
    for n, at in enumerate(point.kills):
        kill = run_child_until(config, at, workdir / f"point-{point.index}-child-{n}.stderr")
        kill.cache = inspect_cache(root, customer, by_day)
        kills.append(kill)
    sb.reset()  # count only the re-load's requests
    sb.authorize(customer)
    cached = set(kills[-1].cache["complete_days"])
    frame = load_calls(customer, app=app, start=start, end=end, cache_dir=root, progress=False)
    expected = pl.concat([by_day[d] for d in sorted(by_day, reverse=True)])
    equal = _equal(frame, expected)
    refetched = _days_fetched(sb)
    after = inspect_cache(root, customer, by_day)
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
    missing = set(by_day) - cached
    if refetched != missing:
        problems.append(f"point {point.index}: re-load fetched {sorted(refetched)}, cache lacked {sorted(missing)}")
    if len(after["complete_days"]) != len(by_day):
        problems.append(f"point {point.index}: after the re-load the cache holds {after['complete_days']}")
    return PointResult(point, kills, equal, refetched == missing, after, problems)


def start_sandbox() -> Sandbox:
    """The sandbox both processes reach over loopback, its customer authorized."""
    last_day = datetime.fromisoformat(NOW).date() - timedelta(days=1)
    if datetime.now(UTC).date() - timedelta(days=LOOKBACK_DAYS) <= last_day:
        # The loader caches only settled days, judged by the real clock.
        msg = f"this machine's clock ({datetime.now(UTC):%Y-%m-%d}) is before {NOW}: no day would be cached"
        raise RuntimeError(msg)
    sb = Sandbox(seed=SANDBOX_SEED, calls_per_account=CALLS, days=DAYS, customers=1, now=NOW).start()
    sb.authorize(sb.customer_account_sids[0])
    return sb


def run(*, points: int, seed: int) -> dict[str, Any]:
    """Run ``points`` seeded kill points and return the figures."""
    began = time.perf_counter()
    sb = start_sandbox()
    try:
        expected = expected_calls(sb.calls(sb.customer_account_sids[0]))
        by_day = {
            d.isoformat(): part for (d,), part in expected.group_by(pl.col("start_time").dt.date(), maintain_order=True)
        }
        assert len(by_day) == DAYS and all(isinstance(date.fromisoformat(d), date) for d in by_day)
        with tempfile.TemporaryDirectory(prefix="chaos-crash-") as tmp:
            results = [run_point(p, sb, Path(tmp), by_day) for p in plan(points, seed)]
    finally:
        sb.stop()
    kills = [k for r in results for k in r.kills]
    caches = [k.cache for k in kills] + [r.after for r in results]
    return {
        "points": len(results),
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
        ("  killed just after 'write <day>'", figures["kill_events"].get("write", 0)),
        ("  killed just after 'replaced <day>'", figures["kill_events"].get("replaced", 0)),
        ("  finished before their kill point", figures["children_finished_before_their_kill"]),
        ("complete days cached, per kill", " ".join(map(str, figures["files_seen_per_kill"]))),
        ("temp files left, per kill", " ".join(map(str, figures["temp_files_per_kill"]))),
        ("half-written temp files (distinct)", figures["half_written_temp_files"]),
        ("corrupt files", figures["corrupt_files"]),
        ("incomplete days", figures["incomplete_days"]),
        ("duplicated days", figures["duplicated_days"]),
        ("scans that read fine beside temp files", figures["scan_ok_with_temp_files_present"]),
        ("scan_calls failures", figures["scan_failures"]),
        ("re-load equal to the ground truth", f"{figures['results_equal']}/{figures['points']}"),
        ("re-load fetched only missing days", f"{figures['reloads_fetched_only_missing_days']}/{figures['points']}"),
        ("temp files left after the re-loads", figures["temp_files_left_after_reload"]),
        ("wall time, s", figures["seconds"]),
    ]
    lines = [f"{name:<40}{value!s:>12}" if len(str(value)) <= 12 else f"{name:<40}{value}" for name, value in rows]
    lines.insert(5, "kill points (event #, the announcement killed on): " + ", ".join(figures["kill_points"]))
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
