"""Reliability and security, measured: the chaos properties of ``tests/chaos/`` at full size, and their figures.

Run: ``python bench/chaos.py [--seed 1] [--quick]``.

The properties are hypothesis tests against real servers on loopback (loads under
faults, hostile requests at the callback server and the sandbox, secrets, ``kill -9``
during cache writes, hostile servers). Every loss and leak is asserted inside them, so
a failure is a failing test with a shrunk example. This driver runs them under the
``full`` hypothesis profile with a fixed seed, then prints the tables of figures they
recorded (the README's Reliability section). ``--quick`` runs the profile ``make test``
runs. Exits with pytest's status: non-zero if any property found a loss, a leak or a crash.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3g}"
    if isinstance(value, list | tuple):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_shown(v)}" for k, v in value.items())
    return str(value)


def print_tables(figures: dict[str, Any]) -> None:
    """Each recorded table as Markdown: ``| figure | value |``."""
    for table in figures["tables"]:
        print(f"\n**{table['title']}**\n\n| figure | value |\n| --- | --- |")
        for label, value in table["rows"]:
            print(f"| {label} | {_shown(value)} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1, help="hypothesis' seed (default 1)")
    parser.add_argument("--quick", action="store_true", help="the quick profile, as make test runs it")
    args = parser.parse_args()
    profile = "quick" if args.quick else "full"
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "figures.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "tests/chaos",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--hypothesis-profile={profile}",
            f"--hypothesis-seed={args.seed}",
            f"--figures={out}",
        ]
        print("$", " ".join(command[2:]), flush=True)
        started = time.monotonic()
        code = subprocess.call(command, cwd=ROOT)
        print(f"\n{profile} profile, seed {args.seed}: pytest exit {code} after {time.monotonic() - started:.0f} s")
        if out.exists():
            print_tables(json.loads(out.read_text()))
    print("\nall held" if code == 0 else "\nFAILED: see the failing properties above")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
