"""The ground truth a chaos load is compared with, built without the package's decoders (``loader_support``).

Also the small sandboxes the load properties share, and ``Delays``: a ``RetryPolicy``
sleep that records the delays it was asked for instead of sleeping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from loader_support import expected_calls

from connect_notebook.sandbox import Sandbox

NOW = "2026-11-01T00:00:00+00:00"  # every sandbox's pinned clock: whole days of history before it
Record = dict[str, Any]
__all__ = ["NOW", "SANDBOXES", "Delays", "Record", "expected_calls", "family_truth", "in_range"]

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
