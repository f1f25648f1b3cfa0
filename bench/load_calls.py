"""Loading a customer's calls across its account family: connect_notebook against twilio-python and the raw floor.

Run: ``python bench/load_calls.py [--scale 1] [--shapes dense,sparse,growing,family]
[--skip-latency] [--skip-memory] [--skip-cache] [--memory-calls 1000000] [--repeat 3]``
(about 12 minutes; ``--repeat 1`` about a third of that, with noisier figures).

Shapes. Each runs in a sandbox process of its own (``python -m connect_notebook.sandbox
--port 0 --now 2026-11-01T00:00:00Z --authorize all --call-retention-days 7320
--profile P``: the calls list serves the whole history, ``LISTED_DAYS``), once with no added
latency and once with ``--latency 0.1`` (100 ms added to every request), so 8
sandbox processes in all (9 with the memory cell):

    dense    dense:90:200000         90 days, 200,000 calls, one account
    sparse   sparse:3652:5000        10 years, about 5,000 calls in bursts
    growing  growing:730:50000       2 years, growing to 50,000 calls
    family   growing:1095:100000:4   a main account and 4 subaccounts, 100,000 calls

``--scale F`` multiplies every call count (``--scale 0.02`` for a quick check). The
family the Connect App sees also holds its own Connect subaccount (no calls), so a
single-account shape lists 2 accounts and the family 6.

Each sandbox is warmed first, not timed: a child process pages through every
account of the family (the accounts in parallel), so every day of every account
is generated and rendered before any variant asks for it, then runs (b) once (the
sandbox computes usage counts from each day's calls and messages, and nothing
else asks for messages). The paging pass also counts each account's records: the
ground truth, ``pages`` = the sum over the family of ceil(calls / 1000).

Variants, each in a child process of its own (``--child``, the sandbox's address
and credentials as JSON on stdin), its clock started after its imports, with the
owner's Auth Token and the AccountSid the Connect App received (``Connected
AccountSid`` in the sandbox's banner):

(a) twilio-python as a user writes it for a family: ``Client(connected, owner_token)``,
    ``client.api.base_url = url`` (edge and region never set; TWILIO_EDGE and
    TWILIO_REGION are removed from the environment), ``client.api.v2010.accounts.list()``,
    then for each account ``client.api.v2010.accounts(sid).calls.stream(page_size=1000)``,
    each record's public attributes into a dict, one ``pl.DataFrame(records)``;
(b) ``load_calls(connected, app=ConnectApp(...), end=NOW, progress=False)`` as shipped
    (default concurrency, no cache; ``end`` is the sandbox's pinned clock);
(c) the floor: httpx, serially, ``/Accounts.json``, then each account's
    ``Calls.json?PageSize=1000`` following ``next_page_uri`` (``page_through`` of
    bench/sandbox_pages.py: a regex on the body's tail), bytes discarded, records
    counted without parsing. Importing that script also imports the sandbox
    package (about 8 MB, inside (c)'s post-import RSS, outside its clock).

Requests are counted in the child, on the client side: (a) wraps
``TwilioHttpClient.request``, (b) and (c) wrap ``httpx.Client.send`` (through which
every httpx request goes, retries included). The wrappers only count; the
requests are real. Peak RSS is the child's ``ru_maxrss``, cross-checked with its
``/proc/self/status`` ``VmHWM``.

Memory cell (``--skip-memory`` skips it; its sandbox warm-up takes minutes at the
default size): dense, 90 days, ``--memory-calls`` calls (not scaled), 0 ms, (b) only:
(``VmHWM`` after the load - ``VmRSS`` right after imports) / ``estimated_size()``.
``--repeat N`` (3 by default: the machine is shared) runs each variant N times and keeps
the fastest (and the highest peak RSS).

Cache cell (``--skip-cache`` skips it): the family shape at 0 ms, ``load_calls`` over one
year (``YEAR``, all of it settled) with a fresh ``cache_dir``: the cold load fetches and
writes the month files, then the same call again, in the same child process (as when a
notebook cell is run again), reads them (only ``/Accounts.json`` is requested); the two
frames must be equal. Target: the re-load takes at most 5% of the cold load.

It prints one table (a row per shape, latency and variant: wall seconds, requests,
rows, peak RSS, the 1-minute load average when the child started, and on (b)'s
row (a)÷(b) and (b)÷(c)), then one PASS / MISS line per target, a validity line
((a) ≥ 5× (c) at 0 ms on dense, else the sandbox is the bottleneck) and a rows
line (every variant returned every call served). It exits 0 whatever the timings
and targets (the machine may be shared); 1 only when a child process failed or a
variant's row count differs from the ground truth. At ``--scale 0.02`` every
figure is a fraction of a second and mostly process start-up and noise: such a
run checks the script, not the library.

The parent stays small on purpose (no httpx, polars or twilio imported; the
warm-up runs in a child too): Linux carries a process's RSS high-water mark
across ``fork`` + ``exec`` into the child's ``ru_maxrss``, so a big parent would put
a floor under every child's figure. ``VmHWM`` is not inherited.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOW = "2026-11-01T00:00:00Z"
PAGE_SIZE = 1000
SHAPES = {  # name: (pattern, days, calls, subaccounts)
    "dense": ("dense", 90, 200_000, 0),
    "sparse": ("sparse", 3652, 5_000, 0),
    "growing": ("growing", 730, 50_000, 0),
    "family": ("growing", 1095, 100_000, 4),
}
LATENCIES = (0.0, 0.1)
VARIANTS = {"a": "(a) twilio-python", "b": "(b) load_calls", "c": "(c) floor: httpx"}
# Days the calls list serves back, on both sides: every day of every shape (the sparse one spans
# ten years), so all three variants page the whole history. Twilio's own list stops at about 13
# months (README, "History past the list APIs' retention"); past it load_calls reads BulkExport,
# which bench/bulkexport.py measures.
LISTED_DAYS = 7320
LISTED = ("--call-retention-days", str(LISTED_DAYS))
YEAR = ("2025-11-01", "2026-11-01")  # the cache cell's range: a year the family shape has whole, all settled
HANG_GUARD = 3600  # seconds a child may take; catches a hang, measures nothing


# --------------------------------------------------------------------------------------
# The sandbox, in a process of its own
# --------------------------------------------------------------------------------------


def profile(shape: str, scale: float) -> str:
    """The shape's ``--profile`` argument, its call count scaled."""
    pattern, days, calls, subaccounts = SHAPES[shape]
    text = f"{pattern}:{days}:{max(1, round(calls * scale))}"
    return f"{text}:{subaccounts}" if subaccounts else text


@dataclass
class SandboxProcess:
    """``python -m connect_notebook.sandbox`` running one customer, with what its banner said."""

    process: subprocess.Popen[str]
    url: str
    owner_sid: str
    auth_token: str
    connect_app_sid: str
    connected: str  # the first customer's connected AccountSid
    customers: list[str]  # every customer's, in the order of the profiles

    @classmethod
    def start(
        cls, profile: str | list[str], latency: float, extra: tuple[str, ...] = (), now: str = NOW
    ) -> SandboxProcess:
        """Start it serving ``profile`` (one customer, or a list: one each); ``extra`` are more of its options.

        bench/bulkexport.py sets the retention and grant through ``extra``; bench/sync.py
        serves a portfolio and its own clock.
        """
        profiles = [profile] if isinstance(profile, str) else profile
        command = [sys.executable, "-m", "connect_notebook.sandbox", "--port", "0", "--now", now]
        command += ["--authorize", "all", "--latency", str(latency), *extra]
        for p in profiles:
            command += ["--profile", p]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=_environment())
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        # Printed by describe() in connect_notebook/sandbox/_cli.py.
        patterns = (
            r"serving on (http://\S+)",
            r"AccountSid\s+(AC[0-9a-f]{32})",
            r"Auth Token\s+(\S+)",
            r"Connect App\s+(CN[0-9a-f]{32})",
        )
        found = [re.search(pattern, text) for pattern in patterns]
        customers = re.findall(r"Connected AccountSid (AC[0-9a-f]{32})", text)
        if not all(found) or len(customers) != len(profiles):
            process.kill()
            process.wait()
            sys.exit(f"could not read the sandbox's address, credentials and customers from its output:\n{text}")
        url, owner_sid, auth_token, connect_app_sid = (m.group(1) for m in found if m is not None)
        return cls(process, url, owner_sid, auth_token, connect_app_sid, customers[0], customers)

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
        if self.process.stdout is not None:
            self.process.stdout.close()

    def spec(self) -> dict[str, str]:
        return {
            "url": self.url,
            "owner_sid": self.owner_sid,
            "auth_token": self.auth_token,
            "connect_app_sid": self.connect_app_sid,
            "connected": self.connected,
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


class CallCounter:
    """Wraps ``owner.name`` so that every call is counted (from any thread); the call itself is real."""

    def __init__(self, owner: type, name: str) -> None:
        import threading

        self.count, lock, original = 0, threading.Lock(), getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            with lock:
                self.count += 1
            return original(*args, **kwargs)

        setattr(owner, name, counted)


def _floor(spec: dict[str, str], *, parallel: bool = False) -> dict[str, Any]:
    """(c), and the warm-up (``parallel``: the accounts at once): records per account of the family."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx
    from sandbox_pages import page_through  # bench/sandbox_pages.py; imported before the clock by child()

    with httpx.Client(base_url=spec["url"], auth=(spec["connected"], spec["auth_token"]), timeout=120) as client:
        sids, uri = [], "/2010-04-01/Accounts.json?PageSize=1000"
        while uri:  # a few accounts: parsed, unlike the call pages
            page = client.get(uri).raise_for_status().json()
            sids += [account["sid"] for account in page["accounts"]]
            uri = page["next_page_uri"]
        uris = [f"/2010-04-01/Accounts/{sid}/Calls.json?PageSize={PAGE_SIZE}" for sid in sids]
        with ThreadPoolExecutor(len(uris) if parallel else 1) as pool:
            counts = [calls for _, calls in pool.map(lambda uri: page_through(client, uri), uris)]
    return {"rows": sum(counts), "per_account": dict(zip(sids, counts, strict=True))}


def _twilio(spec: dict[str, str]) -> dict[str, Any]:
    import polars as pl
    from twilio.rest import Client

    client = Client(spec["connected"], spec["auth_token"])
    client.api.base_url = spec["url"]
    records = []
    for account in client.api.v2010.accounts.list():
        for call in client.api.v2010.accounts(account.sid).calls.stream(page_size=PAGE_SIZE):
            record = {k: v for k, v in vars(call).items() if not k.startswith("_")}
            record["from"] = call._from  # twilio-python keeps "from" as _from (a keyword)
            records.append(record)
    # Nulls run long in some columns (answered_by, trunk_sid…): infer from every row.
    frame = pl.DataFrame(records, infer_schema_length=None)
    return {"rows": frame.height}


def _app(spec: dict[str, str]) -> Any:
    from connect_notebook import ConnectApp

    return ConnectApp(
        account_sid=spec["owner_sid"],
        auth_token=spec["auth_token"],
        connect_app_sid=spec["connect_app_sid"],
        api_url=spec["url"],
        monitor_url=spec["url"],
        authorize_base_url=spec["url"],
        call_retention_days=LISTED_DAYS,
    )


def _loader(spec: dict[str, str]) -> dict[str, Any]:
    from connect_notebook import load_calls

    frame = load_calls(spec["connected"], app=_app(spec), end=NOW, progress=False)
    return {"rows": frame.height, "estimated_size": int(frame.estimated_size())}


def _cached(spec: dict[str, str], counter: CallCounter) -> dict[str, Any]:
    """``load_calls`` over ``YEAR`` with a fresh ``cache_dir`` (fetch and write), then again (read), in one process.

    The same process, as in a notebook where a cell is run again; each load timed on its own.
    """
    from connect_notebook import load_calls

    app = _app(spec)
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as folder:
        times, frames, requests = [], [], []
        for _ in range(2):
            before, started = counter.count, time.perf_counter()
            frames.append(
                load_calls(spec["connected"], app=app, start=YEAR[0], end=YEAR[1], cache_dir=folder, progress=False)
            )
            times.append(time.perf_counter() - started)
            requests.append(counter.count - before)
        files = sum(1 for _ in Path(folder).glob("calls/account=*/month=*/part-0.parquet"))
    assert frames[0].equals(frames[1]), "the cached re-load differs from the cold load"
    return {
        "rows": frames[1].height,
        "cold_seconds": times[0],
        "reload_seconds": times[1],
        "cold_requests": requests[0],
        "reload_requests": requests[1],
        "files": files,
    }


def _warm(spec: dict[str, str]) -> dict[str, Any]:
    """Generate every day the variants will ask for: the floor's pass, then one load_calls (usage counts)."""
    truth = _floor(spec, parallel=True)
    # The sandbox computes a day's usage from its calls and messages: the floor never asks for those.
    _loader(spec)
    return truth


def child(variant: str) -> None:
    """In the child: import, start the clock, run one variant, print its figures as one JSON line."""
    import resource

    spec = json.loads(sys.stdin.read())
    # Imports first, outside the clock (and inside the post-import RSS); each variant's own.
    import httpcore  # noqa: F401  # httpx imports it when its first Client is made
    import httpx

    if variant == "a":
        import polars  # noqa: F401
        import twilio.rest.api.v2010.account.call  # noqa: F401  # twilio-python imports these lazily
        from twilio.http.http_client import TwilioHttpClient

        counter = CallCounter(TwilioHttpClient, "request")
    else:
        counter = CallCounter(httpx.Client, "send")
    if variant in ("b", "warm", "cached"):
        import tqdm.auto  # noqa: F401  # load_calls imports it on its first call

        import connect_notebook._loaders  # noqa: F401  # and polars
    if variant in ("c", "warm"):
        import sandbox_pages  # noqa: F401  # the floor's paging loop (bench/ is this script's sys.path[0])
    runs: dict[str, Any] = {"a": _twilio, "b": _loader, "c": _floor, "warm": _warm}
    runs["cached"] = lambda spec: _cached(spec, counter)  # it counts each of its two loads' requests
    run = runs[variant]
    result: dict[str, Any] = {"rss_after_imports_mb": _status_mb("VmRSS")}
    started = time.perf_counter()
    result.update(run(spec))
    result["seconds"] = time.perf_counter() - started
    result["requests"] = counter.count
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    result["vm_hwm_mb"] = _status_mb("VmHWM")
    print(json.dumps(result))


class ChildFailed(Exception):
    """A variant's child process crashed or hung (what it wrote to stderr is printed)."""


def run_child(variant: str, sb: SandboxProcess, **extra: str) -> dict[str, Any]:
    """Run ``--child variant`` against ``sb``: its figures, plus the load average when it started."""
    return run_script(__file__, variant, {**sb.spec(), **extra})


def run_script(script: str, variant: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``python script --child variant``, ``spec`` as JSON on stdin: its last stdout line, parsed, plus load1."""
    load1 = os.getloadavg()[0]
    try:
        done = subprocess.run(
            [sys.executable, script, "--child", variant],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            env=_environment(),
            check=False,
            timeout=HANG_GUARD,
        )
    except subprocess.TimeoutExpired:
        msg = f"variant {variant} did not finish within {HANG_GUARD} s"
        raise ChildFailed(msg) from None
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        msg = f"variant {variant} failed (exit {done.returncode})"
        raise ChildFailed(msg)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["load1"] = load1
    return result


# --------------------------------------------------------------------------------------
# The matrix
# --------------------------------------------------------------------------------------


@dataclass
class Cell:
    """One shape at one latency: its sandbox's warm-up and ground truth, and each variant's run."""

    shape: str
    profile: str
    latency: float
    truth: dict[str, int] = field(default_factory=dict)  # records per account, from the warm-up
    warmup: str = ""
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.shape} {self.latency * 1000:.0f} ms"

    @property
    def pages(self) -> int:
        return sum(math.ceil(n / PAGE_SIZE) for n in self.truth.values())

    @property
    def accounts(self) -> int:
        return len(self.truth)

    def seconds(self, variant: str) -> float:
        run = self.runs.get(variant)
        return run["seconds"] if run else math.nan


def run_cell(cell: Cell, variants: str, repeat: int = 1) -> None:
    """Start the cell's sandbox, warm it, run each variant ``repeat`` times (the fastest run is kept)."""
    sb = SandboxProcess.start(cell.profile, cell.latency, LISTED)
    try:
        try:
            w = run_child("warm", sb)
        except ChildFailed as exc:
            print(f"{cell.name}: {exc}", flush=True)
            cell.failed.append("warm")
            return
        cell.truth = w["per_account"]
        cell.warmup = f"{w['seconds']:.1f} s, {w['requests']} requests; sandbox RSS {sb.rss_mb():.0f} MB"
        print(
            f"{cell.name}: --profile {cell.profile}, {cell.accounts} accounts, {w['rows']:,} calls, "
            f"{cell.pages} pages; warm-up {cell.warmup}",
            flush=True,
        )
        for _ in range(repeat):
            for variant in variants:
                try:
                    r = run_child(variant, sb)
                except ChildFailed as exc:
                    print(f"  {exc}", flush=True)
                    cell.failed.append(variant)
                    continue
                print(f"  {VARIANTS[variant]}: {r['seconds']:.2f} s, {r['requests']} requests, {r['rows']:,} rows")
                if (best := cell.runs.get(variant)) is not None:
                    # The fastest run's figures, with the highest peak of all runs.
                    peaks = {k: max(best[k], r[k]) for k in ("peak_rss_mb", "vm_hwm_mb")}
                    r = {**min(best, r, key=lambda x: x["seconds"]), **peaks}
                cell.runs[variant] = r
            sys.stdout.flush()
    finally:
        sb.stop()


def run_cache_cell(profile_text: str, repeat: int) -> dict[str, Any] | None:
    """The cached re-load: a year of the family shape at 0 ms, cold then re-loaded; the fastest of ``repeat`` each."""
    sb = SandboxProcess.start(profile_text, 0.0, LISTED)
    try:
        run_child("warm", sb)
        runs = [run_child("cached", sb) for _ in range(repeat)]
    except ChildFailed as exc:
        print(f"cache cell: {exc}", flush=True)
        return None
    finally:
        sb.stop()
    best = {
        **min(runs, key=lambda r: r["reload_seconds"]),
        "cold_seconds": min(r["cold_seconds"] for r in runs),
    }
    print(
        f"cache, {profile_text}, {YEAR[0]} to {YEAR[1]}: cold {best['cold_seconds']:.3f} s, "
        f"{best['cold_requests']} requests; re-load {best['reload_seconds']:.3f} s, {best['reload_requests']} "
        f"request(s), {best['files']} month files",
        flush=True,
    )
    return best


def _ratio(x: float, y: float) -> str:
    return f"{x / y:.2f}" if x == x and y == y and y > 0 else "-"


def print_table(cells: list[Cell]) -> None:
    header = (
        f"{'shape':<9}{'latency':>8}  {'variant':<20}{'wall s':>9}{'requests':>10}{'rows':>10}"
        f"{'peak RSS MB':>13}{'(a)÷(b)':>9}{'(b)÷(c)':>9}{'load1':>7}"
    )
    print()
    print(header)
    print("-" * len(header))
    for cell in cells:
        for variant, label in VARIANTS.items():
            r = cell.runs.get(variant)
            if r is None:
                continue
            a, b, c = (cell.seconds(v) for v in "abc")
            ratios = (_ratio(a, b), _ratio(b, c)) if variant == "b" else ("", "")
            print(
                f"{cell.shape:<9}{cell.latency * 1000:>6.0f}ms  {label:<20}{r['seconds']:>9.2f}{r['requests']:>10,}"
                f"{r['rows']:>10,}{r['peak_rss_mb']:>13.0f}{ratios[0]:>9}{ratios[1]:>9}{r['load1']:>7.2f}"
            )
    print()
    differ = [
        f"{cell.name} {v} ({r['peak_rss_mb']:.0f} vs {r['vm_hwm_mb']:.0f} MB)"
        for cell in cells
        for v, r in cell.runs.items()
        if abs(r["peak_rss_mb"] - r["vm_hwm_mb"]) > 2
    ]
    print(f"ru_maxrss ≠ VmHWM: {', '.join(differ)}" if differ else "ru_maxrss agrees with VmHWM in every run")


def _line(ok: bool | None, text: str) -> None:
    print(f"{'skip' if ok is None else 'PASS' if ok else 'MISS'}  {text}")


def print_targets(cells: list[Cell], memory: dict[str, Any] | None, cache: dict[str, Any] | None = None) -> None:
    both = [cell for cell in cells if "a" in cell.runs and "b" in cell.runs]
    print("targets:")
    slower = [
        f"{c.name} ((b) {c.seconds('b'):.2f} s > (a) {c.seconds('a'):.2f} s)"
        for c in both
        if c.seconds("b") > c.seconds("a")
    ]
    if both:
        fastest = min(both, key=lambda c: c.seconds("a") / c.seconds("b"))
        detail = (
            "; ".join(slower) or f"least speed-up {fastest.seconds('a') / fastest.seconds('b'):.2f}× ({fastest.name})"
        )
        _line(not slower, f"(b) never slower than (a), in {len(both)} cells: {detail}")
    else:
        _line(None, "(b) never slower than (a): no cell ran both")

    slow = [c for c in both if c.latency > 0 and c.pages >= 20]
    figures = ", ".join(f"{c.shape} {c.seconds('a') / c.seconds('b'):.2f}× ({c.pages} pages)" for c in slow)
    small = ", ".join(f"{c.shape} {c.pages}" for c in both if c.latency > 0 and c.pages < 20)
    text = "(b) ≥ 6× faster than (a) at 100 ms on every shape with ≥ 20 pages: " + (figures or "no such shape")
    if small:
        text += f" (fewer pages, not judged: {small})"
    _line(all(c.seconds("a") >= 6 * c.seconds("b") for c in slow) if slow else None, text)

    dense0 = next((c for c in cells if c.shape == "dense" and c.latency == 0), None)
    if dense0 and "b" in dense0.runs and "c" in dense0.runs:
        b, c = dense0.seconds("b"), dense0.seconds("c")
        _line(b <= 1.5 * c, f"(b) ≤ 1.5× (c) at 0 ms, dense: (b) {b:.2f} s = {b / c:.2f}× (c) {c:.2f} s")
    else:
        _line(None, "(b) ≤ 1.5× (c) at 0 ms, dense: not run")

    for cell in (c for c in cells if "b" in c.runs):
        limit = 1.1 * cell.pages + 5 + 2 * cell.accounts
        requests = cell.runs["b"]["requests"]
        _line(
            requests <= limit,
            f"requests of (b) ≤ 1.1 × pages + 5 + 2 × accounts, {cell.name}: {requests} ≤ "
            f"1.1 × {cell.pages} + 5 + 2 × {cell.accounts} = {limit:.1f}",
        )

    if memory is None:
        _line(None, "memory: (peak - post-import RSS) ≤ 3 × estimated_size(): not run")
    else:
        m = memory
        above, size = m["vm_hwm_mb"] - m["rss_after_imports_mb"], m["estimated_size"] / 2**20
        _line(
            above <= 3 * size,
            f"memory, {m['rows']:,} calls: (VmHWM {m['vm_hwm_mb']:.0f} - post-import VmRSS "
            f"{m['rss_after_imports_mb']:.0f} MB) = {above:.0f} MB = {above / size:.2f}× estimated_size() "
            f"{size:.1f} MB (ru_maxrss {m['peak_rss_mb']:.0f} MB; {m['seconds']:.1f} s, load1 {m['load1']:.2f})",
        )

    if cache is None:
        _line(None, "cache: re-load of an unchanged year ≤ 5% of the cold load: not run")
    else:
        cold, reload = cache["cold_seconds"], cache["reload_seconds"]
        _line(
            reload <= 0.05 * cold,
            f"cache: re-load of an unchanged year ≤ 5% of the cold load at 0 ms: {reload * 1000:.0f} ms "
            f"÷ {cold * 1000:.0f} ms = {reload / cold:.1%} ({cache['rows']:,} calls, {cache['files']} month files "
            f"for {cache['accounts']} accounts, {cache['reload_requests']} request)",
        )

    if dense0 and "a" in dense0.runs and "c" in dense0.runs:
        a, c = dense0.seconds("a"), dense0.seconds("c")
        _line(
            a >= 5 * c,
            f"validity: (a) ≥ 5× (c) at 0 ms, dense, so the sandbox is not the bottleneck: "
            f"(a) {a:.2f} s = {a / c:.2f}× (c) {c:.2f} s",
        )
    else:
        _line(None, "validity: (a) ≥ 5× (c) at 0 ms, dense: not run")


def check_rows(cells: list[Cell], memory: dict[str, Any] | None) -> bool:
    """Every variant returned the ground truth's number of calls (a load that loses rows is not fast)."""
    wrong = [
        f"{cell.name} {v}: {r['rows']:,} rows, {sum(cell.truth.values()):,} calls served"
        for cell in cells
        for v, r in cell.runs.items()
        if r["rows"] != sum(cell.truth.values())
    ]
    if memory is not None and memory["rows"] != memory["truth"]:
        wrong.append(f"memory cell: {memory['rows']:,} rows, {memory['truth']:,} calls served")
    _line(not wrong, "rows: every variant returned every call served" + (f": {'; '.join(wrong)}" if wrong else ""))
    return not wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the shapes' call counts (default 1)")
    parser.add_argument(
        "--shapes", default=",".join(SHAPES), help=f"comma-separated subset of {', '.join(SHAPES)} (default all)"
    )
    parser.add_argument("--skip-latency", action="store_true", help="only 0 ms (no --latency 0.1 sandboxes)")
    parser.add_argument("--skip-memory", action="store_true", help="no memory cell (its warm-up takes minutes)")
    parser.add_argument("--skip-cache", action="store_true", help="no cached re-load cell")
    parser.add_argument(
        "--memory-calls", type=int, default=1_000_000, help="calls in the memory cell, not scaled (default %(default)s)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each variant; the fastest is kept (default 3)")
    parser.add_argument("--variants", default="abc", help=argparse.SUPPRESS)  # for debugging: e.g. 'bc'
    parser.add_argument("--child", choices=[*VARIANTS, "warm", "cached"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    if not shapes or set(shapes) - set(SHAPES):
        parser.error(f"--shapes takes names from {', '.join(SHAPES)}, got {args.shapes!r}")
    if args.scale <= 0 or args.memory_calls < 1 or args.repeat < 1:
        parser.error("--scale, --memory-calls and --repeat must be positive")
    variants = "".join(v for v in VARIANTS if v in args.variants)

    started = time.perf_counter()
    print(f"load_calls benchmark, {os.cpu_count()} CPUs (shared); --now {NOW}; PageSize {PAGE_SIZE}", flush=True)
    print(f"load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    latencies = LATENCIES[:1] if args.skip_latency else LATENCIES
    cells = [Cell(shape, profile(shape, args.scale), latency) for shape in shapes for latency in latencies]
    for cell in cells:
        run_cell(cell, variants, args.repeat)

    memory = None
    if not args.skip_memory:
        memory_cell = Cell("memory", f"dense:90:{args.memory_calls}", 0.0)
        run_cell(memory_cell, "b")
        if "b" in memory_cell.runs:
            memory = {**memory_cell.runs["b"], "truth": sum(memory_cell.truth.values())}
        cells_failed = memory_cell.failed
    else:
        cells_failed = []

    cache = None
    if not args.skip_cache:
        cache = run_cache_cell(profile("family", args.scale), args.repeat)
        if cache is not None:
            cache["accounts"] = SHAPES["family"][3] + 1

    print_table(cells)
    print(
        "(a)÷(b): how many times faster (b) is than (a); (b)÷(c): (b) over the floor; "
        "load1: 1-minute load average when the child started"
    )
    print()
    print_targets(cells, memory, cache)
    rows_ok = check_rows(cells, memory)
    failed = [f"{cell.name} {v}" for cell in cells for v in cell.failed] + [f"memory {v}" for v in cells_failed]
    if failed:
        print(f"FAILED children: {', '.join(failed)}")
    loads = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min) at the end: {loads}; total {time.perf_counter() - started:.0f} s")
    return 0 if rows_ok and not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
