"""The ground truth a chaos load is compared with, built without the package's decoders.

Also the small sandboxes the load properties share, and ``Delays``: a ``RetryPolicy``
sleep that records the delays it was asked for instead of sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import polars as pl

from connect_notebook import CALLS_SCHEMA
from connect_notebook.sandbox import Sandbox

NOW = "2026-11-01T00:00:00+00:00"  # every sandbox's pinned clock: whole days of history before it
Record = dict[str, Any]

# Small sandboxes, so that hundreds of loads take minutes: (seed, calls of the customer's
# family, days, subaccounts, closed subaccounts).
SANDBOXES: dict[str, tuple[int, int, int, int, int]] = {
    "small": (101, 600, 4, 0, 0),  # one short page a day
    "paged": (102, 3_600, 3, 0, 0),  # 1,200 calls a day: two pages a day, a next-page link to follow
    # 1,200 calls a day for ten days: ten windows of two pages (usage counts plan one window a day
    # once a day fills a page), enough for eight workers to exceed a concurrency limit of 5.
    "wide": (103, 12_000, 10, 0, 0),
    # A main account and two subaccounts made later, one closed since: the load reads all three.
    "family": (104, 1_500, 6, 2, 1),
}


def _utc(value: str | None) -> datetime | None:
    return None if value in (None, "") else parsedate_to_datetime(value).astimezone(UTC)


def _int(value: str | int | None) -> int | None:
    return None if value in (None, "") else int(value)


def _float(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


def expected_calls(records: list[Record]) -> pl.DataFrame:
    """The typed calls frame for API records (as ``tests/test_loaders.py`` builds it)."""
    rows = []
    for r in records:
        price = _float(r["price"])
        inbound = r["direction"] in ("inbound", "trunking-originating")
        rows.append(
            {
                **{name: r[name] for name in CALLS_SCHEMA if name in r},
                "start_time": _utc(r["start_time"]),
                "end_time": _utc(r["end_time"]),
                "date_created": _utc(r["date_created"]),
                "date_updated": _utc(r["date_updated"]),
                "duration": _int(r["duration"]),
                "queue_time": _int(r["queue_time"]),
                "price": price,
                "cost": None if price is None else -price,
                "our_number": r["to"] if inbound else r["from"],
                "counterpart": r["from"] if inbound else r["to"],
            }
        )
    return pl.DataFrame(rows, schema=CALLS_SCHEMA)


def family_truth(sb: Sandbox, customer: str) -> pl.DataFrame:
    """The typed calls of every account of a customer's family, newest first (ties in family order)."""
    frames = [expected_calls(sb.calls(sid)) for sid in sb.family(customer)]
    return pl.concat(frames).sort("start_time", descending=True, maintain_order=True)


def in_range(expected: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    """The rows of a typed calls frame that started in ``[start, end)``, in its order (newest first)."""
    return expected.filter((pl.col("start_time") >= start) & (pl.col("start_time") < end))


class Delays(list[float]):
    """The delays a RetryPolicy asked for, recorded instead of slept."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
