"""Loading a connected account's calls: connect_notebook against the official client and the raw floor.

Run: ``python bench/load_calls.py [--calls 200000] [--repeat 1] [--skip-latency] [--variants abcde]``.

The sandbox runs in its own process (``python -m connect_notebook.sandbox``), pinned
to ``--now 2026-11-01T00:00:00Z`` with one customer holding N calls over 90 days, once
with no added latency and once with ``--latency 0.1`` (100 ms per page). It is warmed
first (every day generated and rendered, not timed), so every variant is served
from cached page bytes. Each variant then runs in a child process of its own, so
its peak RSS (``ru_maxrss``) is its alone; the clock starts after imports:

(a) twilio-python: ``Client(customer, owner_token)``, ``client.api.base_url = url``,
    ``client.calls.stream(page_size=1000)``, each record's public instance attributes
    into a dict, then ``pl.DataFrame(records)``;
(b) ``load_calls(customer, concurrency=1)``;
(c) ``load_calls(customer)``, the default concurrency (8 day windows at once);
(d) the floor: httpx pages serially through ``Calls.json?PageSize=1000`` following
    ``next_page_uri`` (found with a regex on the body's tail), bytes discarded;
(e) a cached re-load: ``load_calls`` with a ``cache_dir`` over October 2026, cold
    (fetch and write the parquet days), then again (every day read from the cache).

The loaders get ``end=`` the sandbox's pinned clock (otherwise they would also ask
for every empty day between it and today's real date); ``start`` is left to its
default, the account's creation, which is the first day of the sandbox's history.

It prints one table (wall time, rows/s, peak RSS, ratios to (a) and (d), the CPU
seconds of the client process and of the sandbox process, and the 1-minute load
average when the variant started), then one PASS / MISS line per target. It
exits 0 whatever the timings: the machine may be shared.

The parent process stays small on purpose (no httpx, polars or twilio imported;
the warm-up runs in a child too): Linux carries a process's RSS high-water mark
across ``fork`` + ``exec`` into the child's ``ru_maxrss``, so a big parent would
put a floor under every child's figure. Each child also reads its own ``VmHWM``
(the same high-water mark, not inherited) as a cross-check.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

NOW = "2026-11-01T00:00:00Z"
DAYS = 90
PAGE_SIZE = 1000
MONTH = ("2026-10-01", "2026-11-01")  # the cached re-load's range, [start, end)
VARIANTS = {
    "a": "(a) twilio-python stream",
    "b": "(b) load_calls, concurrency 1",
    "c": "(c) load_calls, concurrency 8",
    "d": "(d) floor: httpx raw pages",
}
CACHE_COLD = "(e) cached: cold load, Oct"
CACHE_WARM = "(e) cached: re-load, Oct"

_NEXT = re.compile(rb'"next_page_uri":(null|"([^"]*)")')
_RECORD = b'"sid":"CA'  # once per call record (in parent_call_sid it follows "_", not '"')


# --------------------------------------------------------------------------------------
# The sandbox, in a process of its own
# --------------------------------------------------------------------------------------


@dataclass
class SandboxProcess:
    """``python -m connect_notebook.sandbox`` running, with what it printed."""

    process: subprocess.Popen[str]
    url: str
    owner_sid: str
    auth_token: str
    connect_app_sid: str
    customer: str

    @classmethod
    def start(cls, calls: int, latency: float) -> SandboxProcess:
        command = [
            sys.executable,
            "-m",
            "connect_notebook.sandbox",
            "--port",
            "0",
            "--now",
            NOW,
            "--days",
            str(DAYS),
            "--customers",
            "1",
            "--calls",
            str(calls),
            "--authorize",
            "all",
            "--latency",
            str(latency),
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=_environment())
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        # Printed by describe() in connect_notebook/sandbox/_cli.py; the first customer follows its heading.
        patterns = (
            r"serving on (http://\S+)",
            r"AccountSid\s+(AC[0-9a-f]{32})",
            r"Auth Token\s+(\S+)",
            r"Connect App\s+(CN[0-9a-f]{32})",
            r"Customer accounts:\s+(AC[0-9a-f]{32})\s",
        )
        found = [re.search(pattern, text) for pattern in patterns]
        if not all(found):
            process.kill()
            process.wait()
            sys.exit(f"could not read the sandbox's address and credentials from its output:\n{text}")
        url, owner, token, app, customer = (m.group(1) for m in found if m is not None)
        return cls(process, url, owner, token, app, customer)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the sandbox process so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        return _status_mb("VmRSS", self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def spec(self) -> dict[str, str]:
        return {
            "url": self.url,
            "owner_sid": self.owner_sid,
            "auth_token": self.auth_token,
            "connect_app_sid": self.connect_app_sid,
            "customer": self.customer,
        }


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    for name in ("TWILIO_EDGE", "TWILIO_REGION"):  # they would rewrite the sandbox's host
        env.pop(name, None)
    return env


def _status_mb(key: str, pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --------------------------------------------------------------------------------------
# The variants, each run in a child process (``--child``, spec as JSON on stdin)
# --------------------------------------------------------------------------------------


def page_through(client: Any, uri: str) -> tuple[int, int]:
    """Follow next_page_uri from ``uri``; count records without parsing the JSON. (pages, calls)."""
    pages = calls = 0
    while uri:
        body = client.get(uri).raise_for_status().content
        pages += 1
        calls += body.count(_RECORD)
        m = _NEXT.search(body, max(0, len(body) - 4096))
        uri = m.group(2).decode() if m and m.group(2) else ""
    return pages, calls


def _warm(spec: dict[str, Any]) -> dict[str, Any]:
    """Make the sandbox generate and render every day (not timed as a variant)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    base = f"/2010-04-01/Accounts/{spec['customer']}/Calls.json"
    started = time.perf_counter()
    with httpx.Client(base_url=spec["url"], auth=(spec["customer"], spec["auth_token"]), timeout=120) as client:
        if spec["latency"] == 0:
            pages, calls = page_through(client, f"{base}?PageSize={PAGE_SIZE}")
            how = "one serial raw pass"
        else:
            # The same day caches, but 8 day windows at once so that the added latency overlaps.
            last = date.fromisoformat(NOW[:10]) - timedelta(days=1)
            days = [last - timedelta(days=i) for i in range(DAYS)]
            with ThreadPoolExecutor(8) as pool:
                done = list(
                    pool.map(lambda d: page_through(client, f"{base}?PageSize={PAGE_SIZE}&StartTime={d}"), days)
                )
            pages, calls = sum(p for p, _ in done), sum(c for _, c in done)
            how = "one raw pass, 8 day windows at once"
    return {"how": how, "pages": pages, "rows": calls, "seconds": time.perf_counter() - started}


def _cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _app(spec: dict[str, str]) -> Any:
    from connect_notebook import ConnectApp

    return ConnectApp(
        account_sid=spec["owner_sid"],
        auth_token=spec["auth_token"],
        connect_app_sid=spec["connect_app_sid"],
        api_url=spec["url"],
        monitor_url=spec["url"],
        authorize_base_url=spec["url"],
    )


def _sizes(frame: Any) -> dict[str, int]:
    """``estimated_size()``, and the bytes its Arrow buffers take.

    polars counts a String column as its text bytes; stored as string views it takes
    16 bytes a row, plus the text of strings longer than 12 bytes (shorter ones are
    inlined in the view).
    """
    import polars as pl

    buffers = 0
    for name, dtype in frame.schema.items():
        column = frame[name]
        if dtype == pl.String:
            lengths = column.str.len_bytes()
            buffers += 16 * frame.height + int(lengths.filter(lengths > 12).sum() or 0)
        else:
            buffers += int(column.estimated_size())
    return {"estimated_size": int(frame.estimated_size()), "buffers": buffers}


def _twilio(spec: dict[str, str]) -> tuple[int, dict[str, int]]:
    import polars as pl
    from twilio.rest import Client

    client = Client(spec["customer"], spec["auth_token"])
    client.api.base_url = spec["url"]
    records = []
    for call in client.calls.stream(page_size=PAGE_SIZE):
        record = {k: v for k, v in vars(call).items() if not k.startswith("_")}
        record["from"] = call._from  # twilio-python keeps "from" as _from (a keyword)
        records.append(record)
    # Nulls run long in some columns (answered_by, trunk_sid…): infer from every row.
    frame = pl.DataFrame(records, infer_schema_length=None)
    return frame.height, {"estimated_size": int(frame.estimated_size())}


def _loader(spec: dict[str, str], concurrency: int | None) -> tuple[int, dict[str, int]]:
    from connect_notebook import load_calls

    frame = load_calls(spec["customer"], app=_app(spec), end=NOW, concurrency=concurrency, progress=False)
    return frame.height, _sizes(frame)


def _floor(spec: dict[str, str]) -> tuple[int, dict[str, int]]:
    import httpx

    with httpx.Client(base_url=spec["url"], auth=(spec["customer"], spec["auth_token"]), timeout=120) as client:
        _, calls = page_through(client, f"/2010-04-01/Accounts/{spec['customer']}/Calls.json?PageSize={PAGE_SIZE}")
    return calls, {}


def _cached(spec: dict[str, str]) -> dict[str, Any]:
    from connect_notebook import load_calls

    app = _app(spec)
    with tempfile.TemporaryDirectory(prefix="bench-load-calls-") as cache:
        timings, frames = [], []
        for _ in range(2):  # cold, then the re-load
            t, cpu = time.perf_counter(), _cpu()
            frame = load_calls(spec["customer"], app=app, start=MONTH[0], end=MONTH[1], cache_dir=cache, progress=False)
            timings.append((time.perf_counter() - t, _cpu() - cpu))
            frames.append(frame)
        files = len(list(Path(cache).rglob("*.parquet")))
    assert frames[0].equals(frames[1]), "the cached re-load differs from the cold load"
    return {
        "rows": frames[0].height,
        "cold_s": timings[0][0],
        "cold_cpu_s": timings[0][1],
        "warm_s": timings[1][0],
        "warm_cpu_s": timings[1][1],
        "files": files,
    }


def child(variant: str) -> None:
    import resource

    spec = json.loads(sys.stdin.read())
    if variant == "warm":
        print(json.dumps(_warm(spec)))
        return
    # Imports first, outside the clock (and in the baseline RSS).
    import httpx  # noqa: F401
    import polars  # noqa: F401

    import connect_notebook  # noqa: F401

    if variant == "a":
        import twilio.rest  # noqa: F401
    result: dict[str, Any] = {"variant": variant, "rss_after_imports_mb": _status_mb("VmRSS")}
    if variant == "e":
        result.update(_cached(spec))
    else:
        run = {
            "a": lambda: _twilio(spec),
            "b": lambda: _loader(spec, 1),
            "c": lambda: _loader(spec, None),
            "d": lambda: _floor(spec),
        }[variant]
        t, cpu = time.perf_counter(), _cpu()
        rows, sizes = run()
        result.update(seconds=time.perf_counter() - t, cpu_s=_cpu() - cpu, rows=rows, **sizes)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    result["vm_hwm_mb"] = _status_mb("VmHWM")
    print(json.dumps(result))


def run_child(variant: str, sb: SandboxProcess, latency: float) -> dict[str, Any]:
    load = os.getloadavg()[0]
    server_cpu = sb.cpu_seconds()
    done = subprocess.run(
        [sys.executable, __file__, "--child", variant],
        input=json.dumps({**sb.spec(), "latency": latency}),
        capture_output=True,
        text=True,
        env=_environment(),
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        sb.stop()
        sys.exit(f"variant {variant} failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["server_cpu_s"] = sb.cpu_seconds() - server_cpu
    result["load1"] = load
    return result


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


@dataclass
class Mode:
    name: str
    latency: float
    warmup: str = ""
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def best(self, variant: str) -> dict[str, Any] | None:
        """The fastest run of a variant (peak RSS: the highest of its runs); None if not run."""
        runs = self.runs.get(variant)
        if not runs:
            return None
        key = "warm_s" if variant == "e" else "seconds"
        best = dict(min(runs, key=lambda r: r[key]))
        best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
        best["vm_hwm_mb"] = max(r["vm_hwm_mb"] for r in runs)
        if variant == "e":
            best["cold_s"] = min(r["cold_s"] for r in runs)
        best["spread"] = max(r[key] for r in runs) / best[key]
        return best

    def seconds(self, variant: str) -> float:
        best = self.best(variant)
        return best["seconds"] if best else float("nan")


def _ratio(x: float, y: float) -> str:
    return f"{x / y:.2f}" if x == x and y == y else "-"


def print_report(args: argparse.Namespace, modes: list[Mode], started: float) -> None:
    header = (
        f"{'variant':<32}{'mode':>7}{'wall s':>9}{'rows':>10}{'rows/s':>10}{'peak RSS MB':>12}"
        f"{'÷ (a)':>7}{'÷ (d)':>7}{'client CPU s':>13}{'sandbox CPU s':>14}{'load1':>6}"
    )
    print()
    print(
        f"load_calls benchmark: {args.calls:,} calls in one account over {DAYS} days, PageSize {PAGE_SIZE}, "
        f"best of {args.repeat}, {os.cpu_count()} CPUs (shared)"
    )
    print(
        "÷ (a), ÷ (d): wall time over that of (a) / (d) in the same mode; CPU s: user + system of the "
        "client's process and of the sandbox's during the run; load1: 1-min load average at its start"
    )
    print(header)
    print("-" * len(header))
    for mode in modes:
        a, d = mode.seconds("a"), mode.seconds("d")
        for variant, label in VARIANTS.items():
            r = mode.best(variant)
            if r is None:
                continue
            print(
                f"{label:<32}{mode.name:>7}{r['seconds']:>9.2f}{r['rows']:>10,}{r['rows'] / r['seconds']:>10,.0f}"
                f"{r['peak_rss_mb']:>12.0f}{_ratio(r['seconds'], a):>7}{_ratio(r['seconds'], d):>7}"
                f"{r['cpu_s']:>13.2f}{r['server_cpu_s']:>14.2f}{r['load1']:>6.2f}"
            )
        e = mode.best("e")
        if e is not None:
            for label, s, cpu, server in (
                (CACHE_COLD, e["cold_s"], e["cold_cpu_s"], f"{e['server_cpu_s']:.2f}"),
                (CACHE_WARM, e["warm_s"], e["warm_cpu_s"], "-"),
            ):
                print(
                    f"{label:<32}{mode.name:>7}{s:>9.3f}{e['rows']:>10,}{e['rows'] / s:>10,.0f}"
                    f"{e['peak_rss_mb']:>12.0f}{'-':>7}{'-':>7}{cpu:>13.2f}{server:>14}{e['load1']:>6.2f}"
                )
    print()
    for mode in modes:
        bests = {v: b for v in "abcde" if (b := mode.best(v)) is not None}
        notes = [f"warm-up: {mode.warmup}"]
        after_imports = ", ".join(f"{v} {b['rss_after_imports_mb']:.0f}" for v, b in bests.items())
        notes.append(f"RSS right after imports {after_imports} MB")
        differ = [v for v, b in bests.items() if abs(b["peak_rss_mb"] - b["vm_hwm_mb"]) > 2]
        notes.append(f"ru_maxrss ≠ VmHWM for {', '.join(differ)}" if differ else "ru_maxrss agrees with VmHWM")
        for v in "ac":
            if v in bests:
                notes.append(f"({v}) frame estimated_size() {bests[v]['estimated_size'] / 2**20:.1f} MB")
        if "c" in bests:
            notes.append(f"(c) frame Arrow buffers ≈ {bests['c']['buffers'] / 2**20:.1f} MB")
        if args.repeat > 1:
            notes.append(f"slowest ÷ fastest run up to {max(b['spread'] for b in bests.values()):.2f}")
        print(f"{mode.name}: " + "; ".join(notes))
    print()

    def line(ok: bool | None, text: str) -> None:
        print(f"{'skip' if ok is None else 'PASS' if ok else 'MISS'}  {text}")

    zero = next((m for m in modes if m.latency == 0), None)
    slow = next((m for m in modes if m.latency > 0), None)
    print("targets:")
    if zero and zero.best("c") and zero.best("d"):
        c0, d0 = zero.seconds("c"), zero.seconds("d")
        text = f"zero latency: (c) ≤ 1.5× the floor (d): (c) {c0:.2f} s = {c0 / d0:.2f}× (d)'s {d0:.2f} s"
        line(c0 <= 1.5 * d0, text)
    else:
        line(None, "zero latency: (c) ≤ 1.5× the floor (d)")
    if slow and slow.best("a") and slow.best("c"):
        a1, c1 = slow.seconds("a"), slow.seconds("c")
        text = f"100 ms latency: (c) ≥ 6× faster than (a): (a) {a1:.2f} s ÷ (c) {c1:.2f} s = {a1 / c1:.2f}×"
        line(a1 >= 6 * c1, text)
    else:
        line(None, "100 ms latency: (c) ≥ 6× faster than (a)")
    for mode in modes:
        if (c := mode.best("c")) is None:
            continue
        size, rss, base = c["estimated_size"] / 2**20, c["peak_rss_mb"], c["rss_after_imports_mb"]
        buffers = c["buffers"] / 2**20
        line(
            rss <= 3 * size,
            f"{mode.name}: peak RSS of (c) at {args.calls:,} calls ≤ 3× the frame's estimated_size(): "
            f"{rss:.0f} MB = {rss / size:.2f}× {size:.1f} MB (without the {base:.0f} MB after imports: "
            f"{(rss - base) / size:.2f}×; over Arrow buffers ≈ {buffers:.0f} MB: {rss / buffers:.2f}×)",
        )
    for mode in modes:
        if (e := mode.best("e")) is not None:
            line(
                e["warm_s"] <= 0.05 * e["cold_s"],
                f"{mode.name}: cached re-load of an unchanged month ≤ 5% of the cold load: "
                f"{e['warm_s'] * 1000:.0f} ms ÷ {e['cold_s'] * 1000:.0f} ms = {100 * e['warm_s'] / e['cold_s']:.1f}% "
                f"({e['rows']:,} calls, {e['files']} day files)",
            )
    if zero and zero.best("a") and zero.best("d"):
        a0, d0 = zero.seconds("a"), zero.seconds("d")
        line(
            a0 >= 5 * d0,
            f"validity, zero latency: (a) ≥ 5× (d), the sandbox is not the bottleneck: "
            f"(a) {a0:.2f} s = {a0 / d0:.2f}× (d) {d0:.2f} s",
        )
        if zero.best("c"):
            print(f"info  zero latency: (c) is {a0 / zero.seconds('c'):.2f}× faster than (a)")
    else:
        line(None, "validity, zero latency: (a) ≥ 5× (d)")
    loads = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min) at the end: {loads}; total {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--calls", type=int, default=200_000, help="calls in the customer account (default %(default)s)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant; the fastest is shown (default 1)")
    parser.add_argument("--skip-latency", action="store_true", help="only the zero-latency mode (quicker)")
    parser.add_argument(
        "--variants", default="abcde", help="which variants to run, e.g. 'cd' (default all: %(default)s)"
    )
    parser.add_argument("--child", choices=[*VARIANTS, "e", "warm"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    variants = [v for v in "abcde" if v in args.variants]
    if not variants or set(args.variants) - set("abcde"):
        parser.error("--variants takes letters from 'abcde'")
    started = time.perf_counter()
    print(f"load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    modes = [Mode("0 ms", 0.0)] + ([] if args.skip_latency else [Mode("100 ms", 0.1)])
    for mode in modes:
        sb = SandboxProcess.start(args.calls, mode.latency)
        try:
            w = run_child("warm", sb, mode.latency)
            mode.warmup = (
                f"{w['how']}, {w['pages']} pages, {w['rows']:,} calls, {w['seconds']:.1f} s; "
                f"sandbox RSS {sb.rss_mb():.0f} MB"
            )
            print(f"{mode.name}: sandbox at {sb.url}; warm-up: {mode.warmup}", flush=True)
            for i in range(args.repeat):
                for variant in variants:
                    r = run_child(variant, sb, mode.latency)
                    mode.runs.setdefault(variant, []).append(r)
                    took = r["seconds"] if variant != "e" else r["cold_s"] + r["warm_s"]
                    print(f"  {mode.name} run {i + 1}: {variant} {took:.2f} s, {r['rows']:,} rows", flush=True)
        finally:
            sb.stop()
    counts = {r["rows"] for m in modes for v in VARIANTS for r in m.runs.get(v, [])}
    assert len(counts) <= 1, f"variants returned different numbers of calls: {sorted(counts)}"
    cached = {r["rows"] for m in modes for r in m.runs.get("e", [])}
    assert len(cached) <= 1, f"the cached month has different row counts across runs: {sorted(cached)}"
    print_report(args, modes, started)


if __name__ == "__main__":
    main()
