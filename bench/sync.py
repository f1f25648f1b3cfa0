"""A portfolio of customers into one dataset: a twilio-python loop against ``cn.sync`` on threads and on Dask.

Run: ``python bench/sync.py [--scale 1] [--customers 20] [--latency 0.1] [--repeat 1]``
(about 3 minutes at the defaults; ``--scale 0.05 --customers 4`` checks the script
in 20 seconds).

One sandbox process (``python -m connect_notebook.sandbox --port 0 --now <this
minute> --authorize all --latency 0.1``: its clock agrees with the client's, so the
lists serve both the same 395 days) serves ``--customers`` customers, each one
year old, in four shapes taken in turn (calls at ``--scale 1``):

    big      growing:365:20000:3   a main account and 3 subaccounts, growing
    sparse   sparse:365:1500       bursts with quiet weeks between
    dense    dense:365:8000:1      a main account and 1 subaccount, steady
    small    growing:365:4000      one account

Every family also holds the Connect App's own subaccount (no calls). The sandbox
adds ``--latency`` seconds to every request. It is warmed first, not timed: a
``cn.sync`` of every customer's calls into a throwaway folder, so every day is
generated (and every day's usage counted) before a variant asks for it.

Variants, each in a child process of its own (``--child``, the sandbox's address,
credentials and connected AccountSids as JSON on stdin), clocks started after imports:

(a) twilio-python, as a user writes the loop: for each connected AccountSid,
    ``Client(connected, owner_token)`` with ``api.base_url`` set (edge and region
    never), ``accounts.list()``, then each account's ``calls.stream(page_size=1000)``,
    records as dicts, one ``pl.DataFrame`` per customer; customers one after another;
(b) ``cn.sync(connected, folder, resources=["calls"], progress=False)`` on its
    default threads (4 customers at once, each with its own budget of 16 requests
    in flight); then (b2) the same call again: the incremental run, which asks only
    for the days not yet settled;
(c) the same sync with ``executor=client.get_executor()`` of a
    ``LocalCluster(n_workers=2, threads_per_worker=2, processes=True)`` (4 customers
    at once, as (b)); the cluster's start-up is timed apart. After the clock, (c)'s
    dataset is compared with (b)'s (``cn.scan_calls(cache_dir=…)``, equal frames).

Requests: (a) counts ``TwilioHttpClient.request`` calls in its process; (b) and (c)
report the sum of the summary's ``requests`` (counted by each task where it ran, on
the workers for (c)); (b) also counts ``httpx.Client.send`` in its process as a
cross-check. ``cpu`` is the child's user + system CPU seconds (for (c) the client
process only: the work ran in the workers).

It prints one table (wall seconds, requests, rows, CPU, and each run's speed-up
over (a)), a rows line (every variant returned the same number of calls, equal
to the sandbox's warm-up count) and a projection to 10,000 customers from the
measured figures (see ``projection``). It exits 1 only when a child failed or
the rows differ; timings never fail it (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from load_calls import CallCounter, ChildFailed, SandboxProcess, run_script  # bench/load_calls.py: stdlib only

SHAPES = (  # (name, pattern, calls at --scale 1, subaccounts)
    ("big", "growing", 20_000, 3),
    ("sparse", "sparse", 1_500, 0),
    ("dense", "dense", 8_000, 1),
    ("small", "growing", 4_000, 0),
)
DAYS = 365
HANG_GUARD = 3600  # seconds a child may take; catches a hang, measures nothing
PROJECTED = 10_000  # customers
VARIANTS = {
    "a": "(a) twilio-python loop",
    "b": "(b) cn.sync, threads",
    "b2": "(b2) cn.sync again",
    "c": "(c) cn.sync, LocalCluster",
}


def profiles(customers: int, scale: float) -> list[str]:
    """The sandbox's ``--profile`` arguments: the shapes in turn, call counts scaled."""
    out = []
    for i in range(customers):
        _, pattern, calls, subaccounts = SHAPES[i % len(SHAPES)]
        text = f"{pattern}:{DAYS}:{max(1, round(calls * scale))}"
        out.append(f"{text}:{subaccounts}" if subaccounts else text)
    return out


# --------------------------------------------------------------------------------------
# The variants, each in a child process (``--child``, spec as JSON on stdin)
# --------------------------------------------------------------------------------------


def _app(spec: dict[str, Any]) -> Any:
    from connect_notebook import ConnectApp

    url = spec["url"]
    return ConnectApp(
        account_sid=spec["owner_sid"],
        auth_token=spec["auth_token"],
        connect_app_sid=spec["connect_app_sid"],
        api_url=url,
        monitor_url=url,
        authorize_base_url=url,
    )


def _twilio(spec: dict[str, Any], counter: CallCounter) -> dict[str, Any]:
    """(a): customer after customer, account after account, every page through twilio-python."""
    import polars as pl
    from twilio.rest import Client

    rows = 0
    for connected in spec["connected"]:
        client = Client(connected, spec["auth_token"])
        client.api.base_url = spec["url"]
        records = []
        for account in client.api.v2010.accounts.list():
            for call in client.api.v2010.accounts(account.sid).calls.stream(page_size=1000):
                record = {k: v for k, v in vars(call).items() if not k.startswith("_")}
                record["from"] = call._from  # twilio-python keeps "from" as _from (a keyword)
                records.append(record)
        rows += pl.DataFrame(records, infer_schema_length=None).height
    return {"runs": {"a": {"rows": rows, "requests": counter.count}}}


def _synced(summary: Any, seconds: float) -> dict[str, Any]:
    assert summary["error"].null_count() == summary.height, summary.filter(summary["error"].is_not_null())
    return {
        "seconds": seconds,
        "rows": int(summary["rows"].sum()),
        "requests": int(summary["requests"].sum()),
        "retries": int(summary["retries"].sum()),
        "days_fetched": int(summary["days_fetched"].sum()),
        "task_seconds": float(summary["seconds"].mean()),
    }


def _sync(spec: dict[str, Any], counter: CallCounter, *, again: bool = False) -> dict[str, Any]:
    """(b) and, with ``again``, (b2); also the warm-up. Each run timed on its own."""
    import connect_notebook as cn

    app, runs = _app(spec), {}
    for name in ("b", "b2") if again else ("b",):
        before, cpu, started = counter.count, _cpu(), time.perf_counter()
        summary = cn.sync(spec["connected"], spec["folder"], app=app, resources=["calls"], progress=False)
        runs[name] = _synced(summary, time.perf_counter() - started)
        runs[name] |= {"cpu": _cpu() - cpu, "client_requests": counter.count - before}
    return {"runs": runs}


def _cluster(spec: dict[str, Any]) -> dict[str, Any]:
    """(c): the sync on a 2-worker LocalCluster, then its dataset compared with (b)'s."""
    import polars as pl
    from dask.distributed import Client, LocalCluster
    from polars.testing import assert_frame_equal

    import connect_notebook as cn

    started = time.perf_counter()
    with (
        LocalCluster(n_workers=2, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None) as lc,
        Client(lc) as client,
    ):
        client.wait_for_workers(2)
        up = time.perf_counter() - started
        cpu, started = _cpu(), time.perf_counter()
        summary = cn.sync(
            spec["connected"],
            spec["folder"],
            app=_app(spec),
            resources=["calls"],
            executor=client.get_executor(),
            progress=False,
        )
        run = _synced(summary, time.perf_counter() - started) | {"cpu": _cpu() - cpu, "cluster_start": up}
    ours = cn.scan_calls(cache_dir=spec["folder"]).collect().sort("sid")
    theirs = cn.scan_calls(cache_dir=spec["compare"]).collect().sort("sid")
    assert_frame_equal(ours, theirs)
    assert ours["sid"].n_unique() == ours.height
    return {"runs": {"c": run}, "equal_to_b": True, "rows_scanned": ours.height, "polars": pl.__version__}


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def child(variant: str) -> None:
    """In the child: import, start the clock, run one variant, print its figures as one JSON line."""
    spec = json.loads(sys.stdin.read())
    import httpx
    import polars  # noqa: F401

    if variant == "a":
        import twilio.rest.api.v2010.account.call  # noqa: F401  # twilio-python imports these lazily
        from twilio.http.http_client import TwilioHttpClient

        counter = CallCounter(TwilioHttpClient, "request")
    else:
        import tqdm.auto  # noqa: F401  # sync imports it on its first call

        import connect_notebook._sync  # noqa: F401

        counter = CallCounter(httpx.Client, "send")
    if variant == "c":
        import dask.distributed  # noqa: F401
    started, cpu = time.perf_counter(), _cpu()
    if variant == "a":
        result = _twilio(spec, counter)
        result["runs"]["a"] |= {"seconds": time.perf_counter() - started, "cpu": _cpu() - cpu}
    elif variant == "c":
        result = _cluster(spec)
    else:  # "b" (with b2) or "warm"
        result = _sync(spec, counter, again=variant == "b")
    print(json.dumps(result))


# --------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------


def run_child(variant: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One variant in a child process; each of its runs gets the load average when the child started."""
    result = run_script(__file__, variant, spec)
    for run in result["runs"].values():
        run["load1"] = result["load1"]
    return result


def table(runs: dict[str, dict[str, Any]]) -> str:
    base = runs.get("a", {}).get("seconds", math.nan)
    head = f"{'variant':<28}{'wall s':>9}{'requests':>10}{'rows':>10}{'cpu s':>8}{'load1':>7}{'(a) ÷ it':>10}"
    lines = [head, "-" * len(head)]
    for key, name in VARIANTS.items():
        run = runs.get(key)
        if run is None:
            lines.append(f"{name:<28}{'failed':>9}")
            continue
        ratio = base / run["seconds"] if run["seconds"] else math.nan
        lines.append(
            f"{name:<28}{run['seconds']:>9.2f}{run['requests']:>10,}{run['rows']:>10,}"
            f"{run['cpu']:>8.1f}{run['load1']:>7.2f}{ratio:>9.1f}x"
        )
    return "\n".join(lines)


def projection(runs: dict[str, dict[str, Any]], customers: int, latency: float) -> str:
    """10,000 customers from the measured (b) and (b2): requests and client CPU per customer, and latency.

    Assumptions, printed with the figures: customers like these (the same mix, a year
    each); each customer's budget of requests in flight is its own (Twilio limits
    concurrency per account, and each customer's Connect subaccount is a different
    account), so customers add up until the client side saturates; client CPU per
    request as measured here (decoding, typing, writing parquet); the latency as
    set; the dataset's storage keeps up.
    """
    b, b2 = runs.get("b"), runs.get("b2")
    if not b or not b2:
        return "projection: needs (b) and (b2)"
    per_customer = b["requests"] / customers
    cpu_per_request = b["cpu"] / b["requests"]
    task = b["task_seconds"]  # one customer's sync, 4 at once, at this latency
    lines = [
        f"Projection to {PROJECTED:,} customers like these (first sync of a year each, then daily runs):",
        f"  measured: {per_customer:,.1f} requests per customer (first), "
        f"{b2['requests'] / customers:,.1f} (again); {cpu_per_request * 1000:.2f} ms client CPU per request; "
        f"{task:.2f} s per customer at {latency * 1000:.0f} ms latency",
    ]
    total = PROJECTED * per_customer
    for cores, tasks_per_core in ((2, 2), (32, 2), (128, 2)):
        cpu_bound = total * cpu_per_request / cores
        latency_bound = PROJECTED * task / (cores * tasks_per_core)
        wall = max(cpu_bound, latency_bound)
        again = wall * b2["requests"] / b["requests"]
        lines.append(
            f"  {cores:>4} worker cores, {tasks_per_core} customers per core: first sync ≈ {_duration(wall)} "
            f"(CPU bound {_duration(cpu_bound)}, latency bound {_duration(latency_bound)}); "
            f"a daily re-run ≈ {_duration(again)}"
        )
    lines.append(
        "  assumes: each customer's requests in flight count against its own account's concurrency (a Connect "
        "subaccount per customer), so customers only add client load; client CPU per request as measured; "
        "the store keeps up"
    )
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every customer's calls")
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the sandbox adds to every request")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant; the fastest is kept")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    # The sandbox's clock is this minute's, as the client's: the lists serve the days before either one.
    now = datetime.now(UTC).replace(second=0, microsecond=0).isoformat()
    sb = SandboxProcess.start(profiles(args.customers, args.scale), args.latency, now=now)
    portfolio = {**sb.spec(), "connected": sb.customers}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-sync-") as scratch:
            root = Path(scratch)
            print(f"{args.customers} customers × {DAYS} days at {args.latency * 1000:.0f} ms per request; warming…")
            started = time.perf_counter()
            warm = run_child("warm", {**portfolio, "folder": str(root / "warm")})["runs"]["b"]
            print(f"warm-up: {warm['rows']:,} calls in {time.perf_counter() - started:.0f} s (not timed below)\n")
            best: dict[str, dict[str, Any]] = {}
            failed = False
            for attempt in range(args.repeat):
                for variant in ("a", "b", "c"):
                    folder = root / f"{variant}-{attempt}"
                    spec = {**portfolio, "folder": str(folder), "compare": str(root / f"b-{attempt}")}
                    try:
                        result = run_child(variant, spec)
                    except ChildFailed as exc:
                        print(exc, file=sys.stderr)
                        failed = True
                        continue
                    for key, run in result["runs"].items():
                        if key not in best or run["seconds"] < best[key]["seconds"]:
                            best[key] = run
    finally:
        sb.stop()
    print(table(best))
    rows = {key: run["rows"] for key, run in best.items()}
    same = len(set(rows.values())) == 1 and warm["rows"] in rows.values()
    print(f"\nrows: {'every variant returned the same ' + format(warm['rows'], ',') + ' calls' if same else rows}")
    if "c" in best:
        print(f"(c)'s cluster started in {best['c']['cluster_start']:.1f} s (not in its wall time)")
    print()
    print(projection(best, args.customers, args.latency))
    return 1 if failed or not same else 0


if __name__ == "__main__":
    sys.exit(main())
