"""Compare connected customers: a dataset written by ``cn.sync`` in, polars frames and Altair charts out.

A portfolio is several connected customers, each a *family* of Twilio accounts (a
main account, its subaccounts, the Connect App's own subaccount). ``cn.sync`` stores
their calls by account and, in ``families/<AC…>.json``, which accounts each
connected AccountSid reaches. This module turns that into comparisons:

- ``customers(dataset)``: which account belongs to which customer (one row per account);
- ``periods(start, end, tz=…)``: the report's days and the same number of days before them;
- ``compare(calls, customers, current=…, previous=…)``: one row per customer with volume,
  ASR, ACD, minutes, cost and failure rate in both periods, and how each moved;
- ``movers(comparison, "cost")``: the customers whose metric moved most;
- ``by_account(calls, customers, period=…)``: each customer's accounts side by side;
- charts of those frames: ``change_chart``, ``accounts_chart``.

The metrics mean what they mean in ``charts.kpis``: calls, ASR (answered / attempted)
and failure rate (``failed`` / attempted) count call attempts (parent legs), ACD is the
average talk time of answered attempts, minutes (per started minute) and cost count
every leg, as Twilio bills them. Every function takes frames (``calls`` may be the lazy
``cn.scan_calls(cache_dir=dataset)``: only the aggregates are collected) and performs
no HTTP, so a portfolio can be studied offline, long after the sync.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from ._cache import read_family
from ._portfolio_charts import accounts_chart, change_chart

__all__ = [
    "CUSTOMERS_SCHEMA",
    "METRICS",
    "Breakdown",
    "Comparison",
    "Metric",
    "Movers",
    "Period",
    "accounts_chart",
    "by_account",
    "change_chart",
    "compare",
    "customers",
    "movers",
    "periods",
]

Metric = Literal["calls", "asr", "acd_seconds", "minutes", "cost", "failure_rate"]
METRICS: tuple[Metric, ...] = get_args(Metric)
# Ratios move in points (a difference); counts and money grow by a share of what they were.
_RATIOS = frozenset({"asr", "failure_rate"})
DEFAULT_DAYS = 30
CUSTOMERS_SCHEMA = pl.Schema(
    {
        "customer": pl.String,  # the connected AccountSid (its families/<AC…>.json)
        "label": pl.String,  # the customer's name and its main account's last four, e.g. "Harbor Dental (AC…2804)"
        "account_sid": pl.String,
        "account": pl.String,  # the account's friendly name (its last four without names)
        "is_main": pl.Boolean,  # the family's main account (listed first)
    }
)
_SID = re.compile(r"AC[0-9a-f]{32}")
_KINDS = ("calls", "messages", "usage")  # cn.sync's folders of account=AC… partitions


def _short(sid: str) -> str:
    return f"AC…{sid[-4:]}"


def _dataset(dataset: object) -> Path:
    if not isinstance(dataset, str | os.PathLike):
        msg = f"dataset must be the folder cn.sync(accounts, to=…) wrote, got {type(dataset).__name__}"
        raise TypeError(msg)
    root = Path(dataset).expanduser()
    if not root.is_dir():
        msg = f"dataset must be the folder cn.sync(accounts, to=…) wrote; {root} is not a folder"
        raise ValueError(msg)
    return root


def _partitions(root: Path) -> list[str]:
    """Every AccountSid with data in the dataset (``<kind>/account=AC…`` folders), sorted."""
    found: set[str] = set()
    for kind in _KINDS:
        try:
            names = os.listdir(root / kind)
        except OSError:
            continue
        found |= {n[8:] for n in names if n.startswith("account=") and _SID.fullmatch(n[8:])}
    return sorted(found)


def customers(dataset: str | os.PathLike[str], *, accounts: pl.DataFrame | None = None) -> pl.DataFrame:
    """Which account belongs to which customer in a dataset written by ``cn.sync``: one row per account.

    Parameters
    ----------
    dataset
        The folder ``cn.sync(accounts, to=dataset)`` wrote.
    accounts
        Optional names: the customers' ``cn.accounts(sid)`` frames concatenated
        (``sid``, ``friendly_name``). Without them customers and accounts are named by
        their last four digits, since the dataset stores no names.

    Returns
    -------
    polars.DataFrame
        ``CUSTOMERS_SCHEMA``, customers sorted by label, each family in its stored order
        (main account first). Two connected AccountSids of one customer (families with
        the same main account) are one customer, under the first by AccountSid, and an
        account listed twice is counted once, so no call is counted twice. An account
        with data but in no family (a dataset from before families were stored) is a
        customer of its own.

    Raises
    ------
    ValueError
        ``dataset`` is not a folder.

    Examples
    --------
    >>> who = portfolio.customers("portfolio/")  # doctest: +SKIP
    >>> who.group_by("label").len()  # doctest: +SKIP
    """
    root = _dataset(dataset)
    names: dict[str, str] = {}
    if accounts is not None:
        names = {s: n for s, n in accounts.select("sid", "friendly_name").iter_rows() if n}
    try:
        files = sorted(p.stem for p in (root / "families").iterdir() if p.suffix == ".json" and _SID.fullmatch(p.stem))
    except OSError:
        files = []
    families = [(sid, read_family(root, sid) or [sid]) for sid in files]
    seen = {a for _, family in families for a in family}
    families += [(sid, [sid]) for sid in _partitions(root) if sid not in seen]
    rows: list[dict[str, Any]] = []
    owner: dict[str, str] = {}  # account -> the customer it is counted under
    for connected, family in families:
        main = family[0]
        # A second connected AccountSid of a customer already listed (its main account taken) joins that customer.
        customer = owner.get(main, connected)
        label = f"{names[main]} ({_short(main)})" if main in names else _short(main)
        for i, sid in enumerate(family):
            if sid not in owner:
                owner[sid] = customer
                rows.append(
                    {
                        "customer": customer,
                        "label": label,
                        "account_sid": sid,
                        "account": names.get(sid, _short(sid)),
                        "is_main": i == 0,
                    }
                )
    frame = pl.DataFrame(rows, schema=CUSTOMERS_SCHEMA)
    order = frame.select("label", "customer").unique(maintain_order=True).sort("label", "customer")
    return order.join(frame, on=["label", "customer"], how="left", maintain_order="left").select(
        CUSTOMERS_SCHEMA.names()
    )


@dataclass(frozen=True)
class Period:
    """Whole days ``[start, end)`` in the time zone ``tz``, e.g. a report's 30 days."""

    start: date
    end: date
    tz: str = "UTC"

    @property
    def start_at(self) -> datetime:
        """The first instant: local midnight of ``start``, in UTC."""
        return datetime.combine(self.start, time(), ZoneInfo(self.tz)).astimezone(UTC)

    @property
    def end_at(self) -> datetime:
        """The first instant after the period: local midnight of ``end``, in UTC."""
        return datetime.combine(self.end, time(), ZoneInfo(self.tz)).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def __str__(self) -> str:
        return f"{self.start} to {self.end} (end excluded)"


def _day(value: object, name: str) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    msg = f"{name} must be a day such as '2026-10-01' (or None), got {value!r}"
    raise ValueError(msg)


def periods(
    start: date | str | None = None,
    end: date | str | None = None,
    *,
    tz: str = "UTC",
    today: date | None = None,
    days: int = DEFAULT_DAYS,
) -> tuple[Period, Period]:
    """The report's days and the same number of days just before them, for growth.

    Parameters
    ----------
    start, end
        The first day and the day after the last, in ``tz``. Without both, the last
        ``days`` full days before ``today``; with one, the ``days`` days after ``start``
        or before ``end`` (as ``connect-notebook report`` reads them).
    tz
        An IANA time zone.
    today
        The day the default counts back from (``cn.today(tz)``; the real one when None).

    Returns
    -------
    tuple of Period
        ``(current, previous)``; ``previous`` ends where ``current`` starts.

    Raises
    ------
    ValueError
        A day that is not one, an unknown time zone, or ``end`` not after ``start``.
    """
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        msg = f"tz must be an IANA time zone such as America/New_York, got {tz!r}"
        raise ValueError(msg) from None
    first, after = _day(start, "start"), _day(end, "end")
    span = timedelta(days=days)
    if after is None:
        after = first + span if first is not None else (today or datetime.now(ZoneInfo(tz)).date())
    if first is None:
        first = after - span
    if after <= first:
        msg = f"end ({after}) must be after start ({first})"
        raise ValueError(msg)
    current = Period(first, after, tz)
    return current, Period(first - (after - first), first, tz)


# -- the metrics --------------------------------------------------------------------


def _aggregates() -> list[pl.Expr]:
    """One group's metrics, as ``charts.kpis`` computes them (attempts are parent legs)."""
    attempt = pl.col("parent_call_sid").is_null()
    answered = attempt & (pl.col("status") == "completed")
    return [
        attempt.sum().cast(pl.Int64).alias("calls"),
        answered.sum().cast(pl.Int64).alias("answered"),
        (attempt & (pl.col("status") == "failed")).sum().cast(pl.Int64).alias("failed"),
        pl.col("duration").filter(answered).mean().cast(pl.Float64).alias("acd_seconds"),
        (pl.col("duration").fill_null(0) / 60).ceil().sum().cast(pl.Float64).alias("minutes"),
        pl.col("cost").sum().round(5).cast(pl.Float64).alias("cost"),
    ]


def _rates() -> list[pl.Expr]:
    calls = pl.col("calls")
    return [
        pl.when(calls > 0).then(pl.col("answered") / calls).alias("asr"),
        pl.when(calls > 0).then(pl.col("failed") / calls).alias("failure_rate"),
    ]


def _in(period: Period) -> pl.Expr:
    return pl.col("start_time").is_between(pl.lit(period.start_at), pl.lit(period.end_at), closed="left")


def _measured(
    calls: pl.DataFrame | pl.LazyFrame, customers: pl.DataFrame, period: Period, by: list[str]
) -> pl.DataFrame:
    """The metrics of ``period``'s calls per ``by`` (columns of ``customers``); groups without calls left out."""
    owners = customers.lazy().select("customer", "account_sid")
    return (
        calls.lazy()
        .filter(_in(period))
        .join(owners, on="account_sid", how="inner")
        .group_by(by)
        .agg(_aggregates())
        .collect()
    )


_ZEROS = {"calls": 0, "answered": 0, "failed": 0, "minutes": 0.0, "cost": 0.0}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _growth(value: float | None) -> str:
    return "" if value is None else f"{value:+.1%}"


def _points(value: float | None) -> str:
    return "" if value is None else f"{value * 100:+.1f} pts"


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain HTML table with inline styles: it renders alike in JupyterLab and in the offline HTML report."""
    cell = "padding:4px 10px;border-top:1px solid #e1e3ea"
    header = "".join(f"<th style='text-align:left;padding:4px 10px'>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td style='{cell}'>{c}</td>" for c in row) + "</tr>" for row in rows)
    style = "border-collapse:collapse;font-family:system-ui;font-size:13px"
    return f"<table style='{style}'><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


class Comparison(pl.DataFrame):
    """``compare``'s frame, shown in a notebook as a compact table of each metric and its move."""

    def _repr_html_(self, **kwargs: Any) -> str:
        head = ("Customer", "Accounts", "Calls", "", "ASR", "", "ACD", "Minutes", "", "Cost", "", "Failed", "")
        rows = [
            (
                html.escape(r["label"]),
                f"{r['accounts']}",
                f"{r['calls']:,}",
                _growth(r["calls_growth"]),
                _pct(r["asr"]),
                _points(r["asr_change"]),
                _minutes(r["acd_seconds"]),
                f"{r['minutes']:,.0f}",
                _growth(r["minutes_growth"]),
                f"{r['cost']:,.2f} {html.escape(r['cost_unit'])}",
                _growth(r["cost_growth"]),
                _pct(r["failure_rate"]),
                _points(r["failure_rate_change"]),
            )
            for r in self.iter_rows(named=True)
        ]
        return _table(head, rows)


class Movers(pl.DataFrame):
    """``movers``'s frame, shown in a notebook as a table of the metric before, after and its move."""

    metric: Metric = "calls"

    def _repr_html_(self, **kwargs: Any) -> str:
        ratio = self.metric in _RATIOS

        def value(v: float | None) -> str:
            if v is None:
                return "–"
            return _pct(v) if ratio else f"{v:,.2f}" if self.metric == "cost" else f"{v:,.0f}"

        head = ("Customer", "Previous", "Current", "Change", "")
        rows = [
            (
                html.escape(r["label"]),
                value(r["previous"]),
                value(r["current"]),
                _points(r["change"]) if ratio else f"{r['change']:+,.2f}",
                "" if ratio else _growth(r["growth"]),
            )
            for r in self.iter_rows(named=True)
        ]
        return _table(head, rows)


class Breakdown(pl.DataFrame):
    """``by_account``'s frame, shown in a notebook as one table of every customer's accounts."""

    def _repr_html_(self, **kwargs: Any) -> str:
        head = ("Customer", "Account", "Calls", "Share", "ASR", "ACD", "Minutes", "Cost", "Failed")
        rows = [
            (
                html.escape(r["label"]) if r["is_main"] else "",
                html.escape(r["account"]),
                f"{r['calls']:,}",
                _pct(r["share"]),
                _pct(r["asr"]),
                _minutes(r["acd_seconds"]),
                f"{r['minutes']:,.0f}",
                f"{r['cost']:,.2f}",
                _pct(r["failure_rate"]),
            )
            for r in self.iter_rows(named=True)
        ]
        return _table(head, rows)


def compare(
    calls: pl.DataFrame | pl.LazyFrame, customers: pl.DataFrame, *, current: Period, previous: Period
) -> pl.DataFrame:
    """One row per customer: its metrics in ``current`` and ``previous``, and how each moved.

    Parameters
    ----------
    calls
        Calls (``CALLS_SCHEMA``) covering both periods, e.g. ``cn.scan_calls(cache_dir=dataset)``;
        calls outside them, or of accounts not in ``customers``, are left out.
    customers
        ``customers(dataset)``.
    current, previous
        From ``periods``.

    Returns
    -------
    Comparison
        A polars frame, every customer of ``customers`` in its order (zeros without calls):
        ``customer``, ``label``, ``accounts``, then for each metric of ``METRICS`` its
        value, ``<metric>_previous`` and its move: ``<metric>_change`` (in points: current
        minus previous) for the ratios ``asr`` and ``failure_rate``, ``<metric>_growth``
        (a share of the previous value: 0.1 is 10 % more; null when it was 0 or null)
        for the others; plus ``answered`` and ``cost_unit``.
    """
    who = customers.group_by("customer", "label", maintain_order=True).agg(pl.len().cast(pl.Int64).alias("accounts"))
    now = _measured(calls, customers, current, ["customer"])
    before = _measured(calls, customers, previous, ["customer"])
    unit = (
        calls.lazy()
        .filter(_in(current) | _in(previous))
        .join(customers.lazy().select("customer", "account_sid"), on="account_sid")
        .group_by("customer")
        .agg(pl.col("price_unit").drop_nulls().unique().sort().str.to_uppercase().str.join("/").alias("cost_unit"))
        .collect()
    )
    frame = (
        who.join(now, on="customer", how="left", maintain_order="left")
        .with_columns(**{k: pl.col(k).fill_null(v) for k, v in _ZEROS.items()})
        .with_columns(_rates())
    )
    old = before.with_columns(_rates()).select("customer", *(pl.col(m).alias(f"{m}_previous") for m in METRICS))
    frame = frame.join(old, on="customer", how="left", maintain_order="left").with_columns(
        pl.col(f"{m}_previous").fill_null(_ZEROS[m]) for m in METRICS if m in _ZEROS
    )
    moves = []
    for m in METRICS:
        was, now_ = pl.col(f"{m}_previous"), pl.col(m)
        if m in _RATIOS:
            moves.append((now_ - was).alias(f"{m}_change"))
        else:
            moves.append(pl.when(was != 0).then(now_ / was - 1).alias(f"{m}_growth"))
    frame = frame.with_columns(moves).join(unit, on="customer", how="left", maintain_order="left")
    columns = ["customer", "label", "accounts"]
    for m in METRICS:
        columns += [m, f"{m}_previous", f"{m}_change" if m in _RATIOS else f"{m}_growth"]
    frame = frame.with_columns(pl.col("cost_unit").fill_null("").replace("", "USD"))
    return Comparison(frame.select(*columns, "answered", "cost_unit"))


def movers(comparison: pl.DataFrame, metric: Metric, *, n: int = 5) -> pl.DataFrame:
    """The ``n`` customers whose ``metric`` moved most between the periods of ``compare``.

    Ranked by the size of the move, up or down: points for the ratios (``asr``,
    ``failure_rate``), the amount for the others (a cost that grew by 500 USD outranks
    one that doubled from 10), ties by label.

    Returns
    -------
    polars.DataFrame
        ``customer``, ``label``, ``previous``, ``current``, ``change`` (current minus
        previous) and ``growth`` (a share of previous; null when it was 0).
    """
    if metric not in METRICS:
        msg = f"metric must be one of {', '.join(METRICS)}, got {metric!r}"
        raise ValueError(msg)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        msg = f"n must be a whole number of customers, at least 1, got {n!r}"
        raise ValueError(msg)
    was, now = pl.col(f"{metric}_previous"), pl.col(metric)
    frame = (
        pl.DataFrame(comparison)
        .select(
            "customer",
            "label",
            was.alias("previous"),
            now.alias("current"),
            (now - was).alias("change"),
            pl.when(was != 0).then(now / was - 1).alias("growth"),
        )
        .filter(pl.col("change").is_not_null())
        .sort(pl.col("change").abs(), pl.col("label"), descending=[True, False])
        .head(n)
    )
    table = Movers(frame)
    table.metric = metric
    return table


def by_account(calls: pl.DataFrame | pl.LazyFrame, customers: pl.DataFrame, *, period: Period) -> pl.DataFrame:
    """Each customer's accounts side by side over ``period``: one row per account of ``customers``.

    Returns
    -------
    polars.DataFrame
        ``customer``, ``label``, ``account_sid``, ``account``, ``is_main``, then
        ``calls``, ``answered``, ``asr``, ``acd_seconds``, ``minutes``, ``cost``,
        ``failure_rate`` as in ``compare``, and ``share``: the account's part of its
        customer's calls. Accounts without calls are listed with zeros, in the order
        of ``customers``.
    """
    measured = _measured(calls, customers, period, ["account_sid"])
    frame = (
        customers.join(measured, on="account_sid", how="left", maintain_order="left")
        .with_columns(**{k: pl.col(k).fill_null(v) for k, v in _ZEROS.items()})
        .with_columns(_rates())
    )
    total = pl.col("calls").sum().over("customer")
    return Breakdown(
        frame.select(
            *CUSTOMERS_SCHEMA.names(),
            "calls",
            "answered",
            "asr",
            "acd_seconds",
            "minutes",
            "cost",
            "failure_rate",
            pl.when(total > 0).then(pl.col("calls") / total).alias("share"),
        )
    )
