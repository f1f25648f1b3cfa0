"""A year of old calls through BulkExport against the same year through the calls list (paging).

Run: ``python bench/bulkexport.py [--scale 1] [--repeat 3] [--shapes family,busy,heavy]``
(about 15 minutes, most of it the heavy shape's sandbox making its days).

Twilio's calls list stops at its retention (about 13 months); older days are only
in BulkExport, one gzip JSON-lines file per UTC day for the customer's family,
made by custom export jobs. This measures what that costs where both could serve:
each sandbox (``python -m connect_notebook.sandbox``, a process of its own, clock
pinned at ``NOW``) lists calls back 20 years (``--call-retention-days 7320``) and
grants the Connect App ``post-all`` (jobs are POSTs). The range is ``DAYS`` whole
UTC days ending ``AGE`` days before today, older than any list retention.

Shapes (``--scale F`` multiplies the calls):

    family   growing:1095:100000:4   a main account and 4 subaccounts, 3 years
    busy     dense:800:300000        one account, about 375 calls a day
    heavy    dense:800:2400000       one account, about 3,000 calls a day (``--shapes`` to leave it out)

each at 0 ms and with ``--latency 0.1`` (100 ms added to every API request; the
signed file links are served without it, as S3 would be, at its own latency).

Variants, in this process, each a ``load_calls(connected, app=…, start=S, end=E,
progress=False)`` without a cache:

(L) paging: ``ConnectApp(call_retention_days=7320)``: the list serves every day,
    planned from usage counts as always (the baseline);
(X) BulkExport, first load: ``call_retention_days`` set so that every day of the
    range is older than the list serves: the Days listing, one export job (it
    completes at once on the sandbox; Twilio's take minutes to hours, not counted
    here), then ``Days/{Day}`` (a 307) and the signed file for each day;
(X') BulkExport again within the week: the files exist, so no job, no quota spent.

The sandbox is warmed first (an untimed (L)), so every day is generated before a
timed run; (X) also compresses each day's file on the sandbox, once (the sandbox
keeps them, as Twilio keeps files 7 days), which (X') then does not pay. (L) and
(X') run ``--repeat`` times, the fastest kept; (X) once per sandbox (it spends the
family's 366-day quota of the day). Requests are counted on the client side
(every ``httpx.Client.send``). The frames of all variants must be equal, or the
script exits 1. It prints one table: seconds, requests, rows, and (L)÷variant.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from load_calls import CallCounter, SandboxProcess  # bench/load_calls.py

SHAPES = {"family": "growing:1095:100000:4", "busy": "dense:800:300000", "heavy": "dense:800:2400000"}
LATENCIES = (0.0, 0.1)
DAYS = 365
AGE = 400  # the range ends this many days before today: older than the list serves on Twilio


def _profile(text: str, scale: float) -> str:
    pattern, days, calls, *rest = text.split(":")
    return ":".join([pattern, days, str(max(1, round(int(calls) * scale))), *rest])


def _timed(load: Any, counter: CallCounter) -> tuple[float, int, Any]:
    before = counter.count
    started = time.perf_counter()
    frame = load()
    return time.perf_counter() - started, counter.count - before, frame


def run_cell(shape: str, latency: float, scale: float, repeat: int, counter: CallCounter) -> list[dict[str, Any]]:
    from polars.testing import assert_frame_equal

    import connect_notebook as cn
    from connect_notebook import ConnectApp

    extra = ("--call-retention-days", "7320", "--grant", "get-all,post-all")
    sb = SandboxProcess.start(_profile(SHAPES[shape], scale), latency, extra)
    try:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        end = today - timedelta(days=AGE)
        start = end - timedelta(days=DAYS)
        listing = ConnectApp(
            account_sid=sb.owner_sid,
            auth_token=sb.auth_token,
            connect_app_sid=sb.connect_app_sid,
            api_url=sb.url,
            monitor_url=sb.url,
            insights_url=sb.url,
            bulkexports_url=sb.url,
            authorize_base_url=sb.url,
            call_retention_days=7320,
        )
        exporting = dataclasses.replace(listing, call_retention_days=AGE + 1)  # the whole range is older

        def load(app: ConnectApp) -> Any:
            return lambda: cn.load_calls(sb.connected, app=app, start=start, end=end, progress=False)

        load(listing)()  # warm-up: every day generated on the sandbox
        best: dict[str, tuple[float, int, Any]] = {}
        best["X"] = _timed(load(exporting), counter)
        for _ in range(repeat):
            for name, app in (("L", listing), ("X'", exporting)):
                result = _timed(load(app), counter)
                if name not in best or result[0] < best[name][0]:
                    best[name] = result
        for name in ("X", "X'"):
            assert_frame_equal(best[name][2], best["L"][2])
        return [
            {
                "shape": shape,
                "latency": latency,
                "variant": name,
                "seconds": seconds,
                "requests": requests,
                "rows": frame.height,
                "ratio": best["L"][0] / seconds,
            }
            for name, (seconds, requests, frame) in ((n, best[n]) for n in ("L", "X", "X'"))
        ]
    finally:
        sb.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every shape's calls (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of (L) and (X'), fastest kept (default 3)")
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated (default: %(default)s)")
    args = parser.parse_args()
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = set(shapes) - set(SHAPES)
    if unknown:
        parser.error(f"unknown shapes {', '.join(sorted(unknown))}; choose from {', '.join(SHAPES)}")
    import httpx

    counter = CallCounter(httpx.Client, "send")
    names = {"L": "(L) paging the list", "X": "(X) BulkExport, with its job", "X'": "(X') BulkExport, files kept"}
    print(f"{DAYS} days of calls ending {AGE} days ago, no cache; (L)÷ = how many times faster than paging")
    header = f"{'shape':8} {'latency':>7}  {'variant':30} {'days':>5} {'requests':>8} {'rows':>8} {'seconds':>8}"
    print(f"{header} {'(L)÷':>6}")
    failed = False
    for shape in shapes:
        for latency in LATENCIES:
            try:
                rows = run_cell(shape, latency, args.scale, args.repeat, counter)
            except AssertionError as exc:
                print(f"{shape}: the frames differ: {exc}", file=sys.stderr)
                failed = True
                continue
            for row in rows:
                print(
                    f"{row['shape']:8} {row['latency'] * 1000:>5.0f}ms  {names[row['variant']]:30} {DAYS:>5} "
                    f"{row['requests']:>8,} {row['rows']:>8,} {row['seconds']:>8.2f} {row['ratio']:>6.2f}"
                )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
