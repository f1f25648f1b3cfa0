"""Reliability and security, measured: every chaos bench in one run, loopback only, seeded, bounded.

Run: ``python bench/chaos.py [--seed 1] [--quick]``. Runs, each in its own process,
and prints each one's table:

- ``chaos_loads.py``: 200 seeded loads under 429 storms, 5xx, resets mid-body,
  truncated JSON, latency spikes and a concurrency limit; rows lost / duplicated.
- ``chaos_fuzz.py``: 10,000 hostile requests at the callback server and 2,000 at
  the sandbox's REST parameters; 5xx answers and session changes.
- ``chaos_secrets.py``: notebooks, the report CLI, logs, errors, reprs and the
  session file run with a recognisable owner token; occurrences of it.
- ``chaos_crash.py``: ``kill -9`` of a loader while it writes its cache; corrupt
  or duplicated days, and whether the next load equals the ground truth.
- ``chaos_hostile.py``: 100 seeded loads against hostile servers (next links to
  other origins and to the page itself, credentials echoed in error bodies, odd
  ``Retry-After``); requests and credentials that reached the other origin, the
  token in exceptions, loads that did not finish.

Exits non-zero if any of them found a loss, a leak or a crash.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a short profile (what the tests run)")
    args = parser.parse_args()
    seed = str(args.seed)
    runs = [
        ("loads under faults", ["chaos_loads.py", "--loads", "20" if args.quick else "200", "--seed", seed]),
        (
            "hostile input",
            [
                "chaos_fuzz.py",
                "--seed",
                seed,
                *(["--callback-requests", "1000", "--sandbox-requests", "300"] if args.quick else []),
            ],
        ),
        ("secrets", ["chaos_secrets.py", *(["--quick"] if args.quick else [])]),
        ("crash safety", ["chaos_crash.py", "--points", "3" if args.quick else "10", "--seed", seed]),
        ("hostile servers", ["chaos_hostile.py", "--seed", seed, *(["--quick"] if args.quick else [])]),
    ]
    failed = []
    for title, command in runs:
        print(f"\n=== {title}: python bench/{' '.join(command)}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(HERE / command[0]), *command[1:]], cwd=HERE.parent)
        print(f"--- {title}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(title)
    print("\nall held" if not failed else f"\nFAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
