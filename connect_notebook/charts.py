"""Charts of a connected account's calls, messages and usage: polars frames in, Altair charts out.

Every function aggregates in polars first and hands Altair only the aggregate,
so a chart of 1,000,000 calls is as small as a chart of 1,000 (no
``MaxRowsError``, nothing global disabled). Data is sorted and nothing is named
at random, so the same frame gives the same spec, run after run. The functions
never display anything and never change Altair's global state.

Calls: ``calls_over_time``, ``direction_split``, ``disposition_mix``,
``asr_acd_over_time``, ``duration_histogram``, ``hour_of_week_heatmap``,
``cost_over_time``, ``cost_by_country``, ``top_counterparts``. Messages:
``messages_over_time``. Usage: ``usage_spend``. A customer's accounts:
``accounts_breakdown`` (a table) and ``calls_by_account``. Plus ``kpis(calls)``.
The access log (``load_events``): ``events_over_time``, ``event_actors``,
``event_source_ips``, ``connect_timeline``. Call quality (``load_call_summaries``):
``hangups``, ``pdd_distribution``, ``call_quality_issues``.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from ._account_charts import (
    call_quality_issues,
    connect_timeline,
    event_actors,
    event_source_ips,
    events_over_time,
    hangups,
    pdd_distribution,
)
from ._chart_style import (
    TIME_UNIT,
    Every,
    counts_over_time,
    inline_chart,
    period_of,
    themed,
    time_axis,
    utc_string,
)

__all__ = [
    "accounts_breakdown",
    "asr_acd_over_time",
    "call_quality_issues",
    "calls_by_account",
    "calls_over_time",
    "connect_timeline",
    "cost_by_country",
    "cost_over_time",
    "counterpart_country",
    "direction_split",
    "disposition_mix",
    "duration_histogram",
    "event_actors",
    "event_source_ips",
    "events_over_time",
    "hangups",
    "hour_of_week_heatmap",
    "kpis",
    "messages_over_time",
    "pdd_distribution",
    "top_counterparts",
    "usage_spend",
]

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
STATUS_ORDER = ("completed", "busy", "no-answer", "failed", "canceled", "in-progress", "ringing", "queued")
# Twilio-like palette: green for answered, warm colours for the failures.
STATUS_COLORS = ("#14b053", "#f4a72f", "#8891aa", "#f22f46", "#5e1c44", "#0263e0", "#87c8ff", "#cacdd8")
DURATION_BINS = (0, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
SHORT_CALL_SECONDS = 10
_COUNTRY_PREFIXES = (
    ("1", "US/CA"),
    ("44", "GB"),
    ("49", "DE"),
    ("33", "FR"),
    ("52", "MX"),
    ("91", "IN"),
    ("61", "AU"),
    ("55", "BR"),
    ("34", "ES"),
    ("39", "IT"),
    ("31", "NL"),
    ("81", "JP"),
    ("86", "CN"),
    ("27", "ZA"),
)


def _parents(calls: pl.DataFrame) -> pl.DataFrame:
    """Call attempts: the parent legs (a forwarded call's agent leg is not a second call)."""
    return calls.filter(pl.col("parent_call_sid").is_null())


def _stacked_over_time(data: pl.DataFrame, by: str, every: Every, tz: str, color: Any, title: str) -> Any:
    """Bars of calls per period, stacked by ``by`` (data from ``counts_over_time``)."""
    chart = (
        inline_chart(data)
        .mark_bar()
        .encode(
            x=time_axis(every, tz),
            y=alt.Y("calls:Q", title="Calls", stack="zero"),
            color=color,
            order=alt.Order(f"{by}:N"),
            tooltip=[
                alt.Tooltip("period:T", title=every, timeUnit=TIME_UNIT[every]),
                f"{by}:N",
                alt.Tooltip("calls:Q", format=","),
            ],
        )
        .properties(width=640, height=240)
    )
    return themed(chart, title)


def calls_over_time(calls: pl.DataFrame, *, every: Every = "day", tz: str = "UTC") -> Any:
    """Calls per hour / day / week, stacked by final status (parent legs only)."""
    data = counts_over_time(_parents(calls), "start_time", "status", "calls", every, tz)
    color = alt.Color(
        "status:N",
        title="Status",
        sort=list(STATUS_ORDER),
        scale=alt.Scale(domain=list(STATUS_ORDER), range=list(STATUS_COLORS)),
    )
    return _stacked_over_time(data, "status", every, tz, color, "Calls over time, by status")


def direction_split(calls: pl.DataFrame) -> Any:
    """Call legs by direction: inbound, outbound-api (placed by the app), outbound-dial (forwarded)."""
    data = (
        calls.group_by(pl.col("direction").cast(pl.String))
        .agg(pl.len().alias("calls"))
        .sort("calls", "direction", descending=[True, False])
    )
    chart = (
        inline_chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("direction:N", sort="-x", title="Direction"),
            x=alt.X("calls:Q", title="Call legs"),
            color=alt.value("#0263e0"),
            tooltip=["direction:N", alt.Tooltip("calls:Q", format=",")],
        )
        .properties(width=480, height=120)
    )
    return themed(chart, "Direction split")


def disposition_mix(calls: pl.DataFrame) -> Any:
    """Share of call attempts by final status (parent legs only)."""
    data = (
        _parents(calls)
        .group_by(pl.col("status").cast(pl.String))
        .agg(pl.len().alias("calls"))
        .with_columns((pl.col("calls") / pl.col("calls").sum()).alias("share"))
        .sort("status")
    )
    chart = (
        inline_chart(data)
        .mark_bar()
        .encode(
            x=alt.X("share:Q", title="Share of calls", axis=alt.Axis(format="%"), stack="normalize"),
            color=alt.Color(
                "status:N",
                title="Status",
                sort=list(STATUS_ORDER),
                scale=alt.Scale(domain=list(STATUS_ORDER), range=list(STATUS_COLORS)),
            ),
            order=alt.Order("status:N"),
            tooltip=["status:N", alt.Tooltip("calls:Q", format=","), alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(width=640, height=60)
    )
    return themed(chart, "Disposition mix")


def asr_acd_over_time(calls: pl.DataFrame, *, every: Every = "day", tz: str = "UTC") -> Any:
    """Answer-seizure ratio (answered / attempts) and average call duration of answered calls."""
    data = (
        _parents(calls)
        .group_by(period_of(calls, "start_time", every, tz).alias("period"))
        .agg(
            pl.len().alias("attempts"),
            (pl.col("status") == "completed").sum().alias("answered"),
            pl.col("duration").filter(pl.col("status") == "completed").mean().truediv(60).alias("acd_minutes"),
        )
        .with_columns((pl.col("answered") / pl.col("attempts")).alias("asr"))
        .sort("period")
        .with_columns(utc_string(pl.col("period")).alias("period"))
    )
    x = alt.X("period:T", timeUnit=TIME_UNIT[every], title=f"{every.capitalize()} ({tz})")
    base = inline_chart(data).properties(width=640, height=140)
    asr = base.mark_line(point=True, color="#14b053").encode(
        x=x,
        y=alt.Y("asr:Q", title="ASR", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=[
            alt.Tooltip("period:T", timeUnit=TIME_UNIT[every]),
            alt.Tooltip("asr:Q", format=".1%"),
            alt.Tooltip("attempts:Q", format=","),
        ],
    )
    acd = base.mark_line(point=True, color="#0263e0").encode(
        x=x,
        y=alt.Y("acd_minutes:Q", title="ACD (minutes)"),
        tooltip=[
            alt.Tooltip("period:T", timeUnit=TIME_UNIT[every]),
            alt.Tooltip("acd_minutes:Q", format=".2f", title="ACD (min)"),
        ],
    )
    return themed(alt.vconcat(asr, acd), "Answer-seizure ratio and average call duration")


def _duration_bins() -> tuple[list[float], list[str]]:
    edges = list(DURATION_BINS)
    labels = []
    for lo, hi in zip(edges, [*edges[1:], None], strict=True):
        labels.append(f"{_fmt_seconds(lo)}+" if hi is None else f"{_fmt_seconds(lo)}–{_fmt_seconds(hi)}")
    return [float(e) for e in edges[1:]], labels


def _fmt_seconds(s: int) -> str:
    return f"{s // 60} min" if s >= 60 and s % 60 == 0 else f"{s} s"


def duration_histogram(calls: pl.DataFrame) -> Any:
    """Talk time of answered calls (parent legs) in widening bins (10 s … 1 h+), for long-tailed durations."""
    breaks, labels = _duration_bins()
    answered = _parents(calls).filter((pl.col("status") == "completed") & pl.col("duration").is_not_null())
    bin_of = pl.lit(labels[-1])
    for upper, label in reversed(list(zip(breaks, labels, strict=False))):
        bin_of = pl.when(pl.col("duration") < upper).then(pl.lit(label)).otherwise(bin_of)
    binned = answered.select(bin_of.alias("bin"))
    counts = binned.group_by("bin").agg(pl.len().alias("calls"))
    data = (
        pl.DataFrame({"bin": labels, "order": list(range(len(labels)))})
        .join(counts.with_columns(pl.col("bin").cast(pl.String)), on="bin", how="left")
        .with_columns(pl.col("calls").fill_null(0))
        .sort("order")
    )
    chart = (
        inline_chart(data)
        .mark_bar(color="#0263e0")
        .encode(
            x=alt.X("bin:N", sort=labels, title="Duration of answered calls", axis=alt.Axis(labelAngle=-30)),
            y=alt.Y("calls:Q", title="Calls"),
            tooltip=[alt.Tooltip("bin:N", title="duration"), alt.Tooltip("calls:Q", format=",")],
        )
        .properties(width=640, height=220)
    )
    return themed(chart, "Call durations")


def hour_of_week_heatmap(calls: pl.DataFrame, *, tz: str = "UTC") -> Any:
    """Calls by weekday and hour in ``tz`` (e.g. "America/New_York"): when the phones ring."""
    local = pl.col("start_time").dt.convert_time_zone(tz)
    counts = (
        _parents(calls)
        .group_by((local.dt.weekday() - 1).alias("weekday_index"), local.dt.hour().cast(pl.Int64).alias("hour"))
        .agg(pl.len().alias("calls"))
    )
    grid = pl.DataFrame({"weekday_index": list(range(7))}).join(pl.DataFrame({"hour": list(range(24))}), how="cross")
    data = (
        grid.join(counts.with_columns(pl.col("weekday_index").cast(pl.Int64)), on=["weekday_index", "hour"], how="left")
        .with_columns(
            pl.col("calls").fill_null(0),
            pl.col("weekday_index").replace_strict(list(range(7)), list(WEEKDAYS)).alias("weekday"),
        )
        .sort("weekday_index", "hour")
    )
    chart = (
        inline_chart(data)
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title=f"Hour of day ({tz})"),
            y=alt.Y("weekday:N", sort=list(WEEKDAYS), title=None),
            color=alt.Color("calls:Q", title="Calls", scale=alt.Scale(scheme="reds")),
            tooltip=["weekday:N", "hour:O", alt.Tooltip("calls:Q", format=",")],
        )
        .properties(width=640, height=200)
    )
    return themed(chart, "Calls by hour of the week")


def _unit(frame: pl.DataFrame) -> str:
    units = frame.get_column("price_unit").drop_nulls().unique().sort().to_list() if frame.height else []
    return "/".join(u.upper() for u in units) or "USD"


def cost_over_time(calls: pl.DataFrame, *, every: Every = "day", tz: str = "UTC") -> Any:
    """What the calls cost per hour / day / week (all legs, as Twilio bills them)."""
    unit = _unit(calls)
    data = (
        calls.group_by(period_of(calls, "start_time", every, tz).alias("period"))
        .agg(pl.col("cost").sum().round(5).alias("cost"))
        .sort("period")
        .with_columns(utc_string(pl.col("period")).alias("period"))
    )
    chart = (
        inline_chart(data)
        .mark_area(line={"color": "#f22f46"}, color="#fde4e7")
        .encode(
            x=time_axis(every, tz),
            y=alt.Y("cost:Q", title=f"Cost ({unit})"),
            tooltip=[alt.Tooltip("period:T", timeUnit=TIME_UNIT[every]), alt.Tooltip("cost:Q", format=",.2f")],
        )
        .properties(width=640, height=200)
    )
    return themed(chart, "Call cost over time")


def counterpart_country(number: pl.Expr) -> pl.Expr:
    """The country (ISO code, "US/CA" for +1) of an E.164 number, by its calling code."""
    expr = pl.lit("Other")
    # Longest codes last, so they win.
    for code, country in sorted(_COUNTRY_PREFIXES, key=lambda p: len(p[0])):
        expr = pl.when(number.str.starts_with("+" + code)).then(pl.lit(country)).otherwise(expr)
    return expr


def cost_by_country(calls: pl.DataFrame) -> Any:
    """Call cost by the counterpart's country (outbound calls are priced by destination)."""
    unit = _unit(calls)
    data = (
        calls.group_by(counterpart_country(pl.col("counterpart")).alias("country"))
        .agg(pl.col("cost").sum().round(5).alias("cost"), pl.len().alias("calls"))
        .sort(["cost", "country"], descending=[True, False])
    )
    chart = (
        inline_chart(data)
        .mark_bar(color="#f22f46")
        .encode(
            y=alt.Y("country:N", sort="-x", title="Counterpart country"),
            x=alt.X("cost:Q", title=f"Cost ({unit})"),
            tooltip=["country:N", alt.Tooltip("cost:Q", format=",.2f"), alt.Tooltip("calls:Q", format=",")],
        )
        .properties(width=480, height=240)
    )
    return themed(chart, "Cost by counterpart country")


def top_counterparts(calls: pl.DataFrame, *, n: int = 10) -> Any:
    """The ``n`` numbers the account talks to most (parent legs), with their minutes."""
    data = (
        _parents(calls)
        .group_by("counterpart")
        .agg(pl.len().alias("calls"), (pl.col("duration").fill_null(0).sum() / 60).round(1).alias("minutes"))
        .sort(["calls", "counterpart"], descending=[True, False])
        .head(n)
    )
    chart = (
        inline_chart(data)
        .mark_bar(color="#0263e0")
        .encode(
            y=alt.Y("counterpart:N", sort="-x", title="Number"),
            x=alt.X("calls:Q", title="Calls"),
            tooltip=["counterpart:N", alt.Tooltip("calls:Q", format=","), alt.Tooltip("minutes:Q", format=",.1f")],
        )
        .properties(width=480, height=max(120, 22 * n))
    )
    return themed(chart, f"Top {n} counterparts")


def messages_over_time(messages: pl.DataFrame, *, every: Every = "day", tz: str = "UTC") -> Any:
    """Messages per hour / day / week, stacked by direction."""
    data = counts_over_time(messages, "date_sent", "direction", "messages", every, tz)
    chart = (
        inline_chart(data)
        .mark_bar()
        .encode(
            x=time_axis(every, tz),
            y=alt.Y("messages:Q", title="Messages", stack="zero"),
            color=alt.Color("direction:N", title="Direction"),
            order=alt.Order("direction:N"),
            tooltip=[
                alt.Tooltip("period:T", timeUnit=TIME_UNIT[every]),
                "direction:N",
                alt.Tooltip("messages:Q", format=","),
            ],
        )
        .properties(width=640, height=220)
    )
    return themed(chart, "Messages over time")


def usage_spend(usage: pl.DataFrame) -> Any:
    """Spend by usage category over the records' period (``totalprice`` and sub-categories left out)."""
    top_level = ("calls", "sms", "mms", "phonenumbers", "recordings", "transcriptions", "lookups")
    unit = _unit(usage)
    data = (
        usage.filter(pl.col("category").is_in(top_level))
        .group_by("category")
        .agg(pl.col("price").sum().round(5).alias("spend"))
        .sort(["spend", "category"], descending=[True, False])
    )
    chart = (
        inline_chart(data)
        .mark_bar(color="#f22f46")
        .encode(
            y=alt.Y("category:N", sort="-x", title="Category"),
            x=alt.X("spend:Q", title=f"Spend ({unit})"),
            tooltip=["category:N", alt.Tooltip("spend:Q", format=",.2f")],
        )
        .properties(width=480, height=160)
    )
    return themed(chart, "Usage spend by category")


class KPIs(pl.DataFrame):
    """The one-row KPI frame, with a compact HTML card as its notebook repr."""

    def _repr_html_(self, **kwargs: Any) -> str:
        row = self.row(0, named=True)
        cards = [
            ("Calls", f"{row['total_calls']:,}"),
            ("Answered", f"{row['completed']:,}"),
            ("ASR", f"{row['asr']:.1%}" if row["asr"] is not None else "–"),
            ("ACD", f"{row['acd_seconds'] / 60:.1f} min" if row["acd_seconds"] is not None else "–"),
            ("Minutes", f"{row['total_minutes']:,.0f}"),
            ("Cost", f"{row['total_cost']:,.2f} {row['cost_unit']}"),
            ("Short calls", f"{row['short_call_share']:.1%}" if row["short_call_share"] is not None else "–"),
        ]
        cells = "".join(
            f"<div style='padding:8px 14px;border-left:3px solid #f22f46'><div style='color:#606b85;"
            f"font-size:12px'>{name}</div><div style='font-size:20px;font-weight:600'>{value}</div></div>"
            for name, value in cards
        )
        return f"<div style='display:flex;gap:12px;flex-wrap:wrap;font-family:system-ui'>{cells}</div>"


def kpis(calls: pl.DataFrame) -> pl.DataFrame:
    """Headline numbers as one row: attempts, answered, ASR, ACD, minutes, cost, short-call share.

    Attempts and ASR count parent legs (a forwarded call is one call); minutes and
    cost count every leg, as Twilio bills them. A short call is an answered call
    under 10 seconds.
    """
    parents = _parents(calls)
    answered = parents.filter(pl.col("status") == "completed")
    total = parents.height
    billed = calls.select((pl.col("duration").fill_null(0) / 60).ceil().sum()).item() if calls.height else 0
    frame = pl.DataFrame(
        {
            "total_calls": [total],
            "completed": [answered.height],
            "asr": [answered.height / total if total else None],
            "acd_seconds": [answered.get_column("duration").mean() if answered.height else None],
            "total_minutes": [float(billed or 0)],
            "total_cost": [round(float(calls.get_column("cost").sum() or 0.0), 5) if calls.height else 0.0],
            "cost_unit": [_unit(calls)],
            "short_call_share": [
                answered.filter(pl.col("duration") < SHORT_CALL_SECONDS).height / answered.height
                if answered.height
                else None
            ],
        },
        schema={
            "total_calls": pl.Int64,
            "completed": pl.Int64,
            "asr": pl.Float64,
            "acd_seconds": pl.Float64,
            "total_minutes": pl.Float64,
            "total_cost": pl.Float64,
            "cost_unit": pl.String,
            "short_call_share": pl.Float64,
        },
    )
    return KPIs(frame)


def accounts_breakdown(calls: pl.DataFrame, accounts: pl.DataFrame) -> pl.DataFrame:
    """One row per account of the customer (``cn.accounts``): its name, status and its share of the calls.

    Calls and ASR count parent legs, minutes and cost every leg, as in ``kpis``.
    Accounts without a call in ``calls`` are listed with zeros, in the family's order.
    """
    parents = _parents(calls)
    per_account = (
        calls.group_by("account_sid")
        .agg(
            (pl.col("duration").fill_null(0) / 60).ceil().sum().cast(pl.Float64).alias("minutes"),
            pl.col("cost").sum().round(5).alias("cost"),
        )
        .join(
            parents.group_by("account_sid").agg(
                pl.len().alias("calls"), (pl.col("status") == "completed").sum().alias("answered")
            ),
            on="account_sid",
            how="left",
        )
    )
    return (
        accounts.select(
            pl.col("friendly_name").alias("account"),
            pl.col("sid").alias("account_sid"),
            pl.col("status").cast(pl.String),
            pl.col("date_created").dt.date().alias("created"),
        )
        .join(per_account, on="account_sid", how="left", maintain_order="left")
        .with_columns(
            pl.col("calls").fill_null(0).cast(pl.Int64),
            pl.col("answered").fill_null(0).cast(pl.Int64),
            pl.col("minutes").fill_null(0.0),
            pl.col("cost").fill_null(0.0),
        )
        .with_columns(
            pl.when(pl.col("calls") > 0).then(pl.col("answered") / pl.col("calls")).otherwise(None).alias("asr")
        )
        .select("account", "account_sid", "status", "created", "calls", "answered", "asr", "minutes", "cost")
    )


def calls_by_account(calls: pl.DataFrame, accounts: pl.DataFrame, *, every: Every = "week", tz: str = "UTC") -> Any:
    """Calls per period, stacked by the account of the customer's family they belong to (parent legs only)."""
    names = accounts.select(pl.col("sid").alias("account_sid"), pl.col("friendly_name").alias("account"))
    data = counts_over_time(
        _parents(calls).join(names, on="account_sid", how="left").with_columns(pl.col("account").fill_null("other")),
        "start_time",
        "account",
        "calls",
        every,
        tz,
    )
    order = [n for n in accounts["friendly_name"].to_list() if n in set(data["account"].to_list())]
    color = alt.Color("account:N", title="Account", sort=order)
    return _stacked_over_time(data, "account", every, tz, color, "Calls over time, by account")
