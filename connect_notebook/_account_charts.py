"""`_account_charts`: the audit (Monitor Events) and call-quality (Voice Insights) charts.

Re-exported by ``connect_notebook.charts``. Like the call charts, each aggregates in
polars and hands Altair the aggregate only, sorted, so the same frame gives the same
spec. Audit: ``events_over_time``, ``event_actors``, ``event_source_ips``,
``connect_timeline``. Quality: ``hangups``, ``pdd_distribution``, ``call_quality_issues``.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from ._chart_style import TIME_UNIT, Every, counts_over_time, inline_chart, themed, time_axis, utc_string

__all__ = [
    "call_quality_issues",
    "connect_timeline",
    "event_actors",
    "event_source_ips",
    "events_over_time",
    "hangups",
    "pdd_distribution",
]

CONNECT_EVENTS = {
    "authorized-connect-app.created": "authorized",
    "authorized-connect-app.deleted": "revoked",
}
PDD_BINS = (0, 500, 1000, 2000, 3000, 5000, 10000)  # post-dial delay, milliseconds
_BLUE, _RED, _GREEN = "#0263e0", "#f22f46", "#14b053"


def _top(frame: pl.DataFrame, column: str, name: str, n: int) -> pl.DataFrame:
    """The ``n`` most frequent values of ``column`` (ties by value), counted as ``name``."""
    return (
        frame.filter(pl.col(column).is_not_null())
        .group_by(pl.col(column).cast(pl.String))
        .agg(pl.len().alias(name))
        .sort([name, column], descending=[True, False])
        .head(n)
    )


def _bars(data: pl.DataFrame, column: str, title: str, axis: str, color: str) -> Any:
    order = data[column].to_list()
    chart = (
        inline_chart(data)
        .mark_bar(color=color)
        .encode(
            x=alt.X("events:Q", title="Events"),
            y=alt.Y(f"{column}:N", sort=order, title=axis),
            tooltip=[f"{column}:N", alt.Tooltip("events:Q", format=",")],
        )
        .properties(width=520, height=max(60, 22 * len(order)))
    )
    return themed(chart, title)


# -- the audit: Monitor Events ------------------------------------------------------


def events_over_time(events: pl.DataFrame, *, every: Every = "day", tz: str = "UTC") -> Any:
    """Access-log events per period, stacked by event type."""
    data = counts_over_time(events, "event_date", "event_type", "events", every, tz)
    chart = (
        inline_chart(data)
        .mark_bar()
        .encode(
            x=time_axis(every, tz),
            y=alt.Y("events:Q", title="Events", stack="zero"),
            color=alt.Color("event_type:N", title="Event type", sort=sorted(set(data["event_type"].to_list()))),
            order=alt.Order("event_type:N"),
            tooltip=[
                alt.Tooltip("period:T", title=every, timeUnit=TIME_UNIT[every]),
                "event_type:N",
                alt.Tooltip("events:Q", format=","),
            ],
        )
        .properties(width=640, height=240)
    )
    return themed(chart, "Access log: events over time, by type")


def event_actors(events: pl.DataFrame, *, n: int = 10) -> Any:
    """Who acted: the ``n`` busiest actors (a user's SID, or the actor type for API and Twilio actions)."""
    actors = events.with_columns(
        pl.coalesce(pl.col("actor_sid"), pl.col("actor_type").cast(pl.String), pl.lit("unknown")).alias("actor")
    )
    return _bars(_top(actors, "actor", "events", n), "actor", "Access log: who acted", "Actor", _BLUE)


def event_source_ips(events: pl.DataFrame, *, n: int = 10) -> Any:
    """Where from: the ``n`` source IP addresses with the most events (Twilio's own actions have none)."""
    data = _top(events, "source_ip_address", "events", n)
    return _bars(data, "source_ip_address", "Access log: source IP addresses", "Source IP", _BLUE)


def connect_timeline(events: pl.DataFrame) -> Any:
    """Every Connect authorization and revocation on a time line, one row per account of the family."""
    data = (
        events.filter(pl.col("event_type").is_in(list(CONNECT_EVENTS)))
        .select(
            utc_string(pl.col("event_date")).alias("when"),
            pl.col("account_sid").str.slice(-4).alias("account"),
            pl.col("event_type").replace_strict(CONNECT_EVENTS, return_dtype=pl.String).alias("what"),
            pl.col("resource_sid"),
        )
        .sort("when", "account", "what")
    )
    chart = (
        inline_chart(data)
        .mark_point(size=90, filled=True)
        .encode(
            x=alt.X("when:T", title="When (UTC)"),
            y=alt.Y("account:N", title="Account (last four)"),
            color=alt.Color(
                "what:N", title="", scale=alt.Scale(domain=["authorized", "revoked"], range=[_GREEN, _RED])
            ),
            tooltip=["when:T", "account:N", "what:N", "resource_sid:N"],
        )
        .properties(width=640, height=max(60, 30 * max(1, data["account"].n_unique())))
    )
    return themed(chart, "Connect authorizations and revocations")


# -- call quality: Voice Insights ---------------------------------------------------


def hangups(summaries: pl.DataFrame) -> Any:
    """Who hung up: calls by the side that ended them (caller, callee, or not recorded)."""
    data = (
        summaries.group_by(pl.col("disconnected_by").cast(pl.String).fill_null("not recorded").alias("side"))
        .agg(pl.len().alias("calls"))
        .sort("side")
    )
    chart = (
        inline_chart(data)
        .mark_bar(color=_BLUE)
        .encode(
            x=alt.X("calls:Q", title="Calls"),
            y=alt.Y("side:N", title="Hung up by", sort=data["side"].to_list()),
            tooltip=["side:N", alt.Tooltip("calls:Q", format=",")],
        )
        .properties(width=520, height=max(60, 26 * data.height))
    )
    return themed(chart, "Who hung up")


def _pdd_label(low: int, high: int | None) -> str:
    return f"≥ {low / 1000:g} s" if high is None else f"{low / 1000:g}–{high / 1000:g} s"


def pdd_distribution(summaries: pl.DataFrame) -> Any:
    """Post-dial delay: how long callers waited for ringing, in fixed bins (calls with a PDD only)."""
    edges = list(PDD_BINS)
    labels = [_pdd_label(lo, hi) for lo, hi in zip(edges, [*edges[1:], None], strict=True)]
    pdd = summaries["pdd_ms"].drop_nulls()
    bounds = zip(edges, [*edges[1:], None], strict=True)
    counts = {
        label: int(((pdd >= lo) & (pdd < (hi if hi is not None else 2**62))).sum())
        for label, (lo, hi) in zip(labels, bounds, strict=True)
    }
    data = pl.DataFrame({"pdd": labels, "calls": [counts[label] for label in labels]})
    chart = (
        inline_chart(data)
        .mark_bar(color=_BLUE)
        .encode(
            x=alt.X("pdd:N", sort=labels, title="Post-dial delay"),
            y=alt.Y("calls:Q", title="Calls"),
            tooltip=["pdd:N", alt.Tooltip("calls:Q", format=",")],
        )
        .properties(width=520, height=220)
    )
    return themed(chart, "Post-dial delay")


def call_quality_issues(summaries: pl.DataFrame, *, n: int = 12) -> Any:
    """Share of calls with a quality issue, by the other side's carrier and country (the ``n`` largest pairs)."""
    pairs = (
        summaries.with_columns(
            pl.col("counterpart_carrier").fill_null("unknown").alias("carrier"),
            pl.col("counterpart_country_code").fill_null("??").alias("country"),
            (pl.col("tags").list.len() > 0).alias("issue"),
        )
        .group_by("carrier", "country")
        .agg(pl.len().alias("calls"), pl.col("issue").sum().alias("with_issues"))
        .with_columns((pl.col("with_issues") / pl.col("calls")).round(4).alias("share"))
        .sort(["calls", "carrier", "country"], descending=[True, False, False])
        .head(n)
        .sort("carrier", "country")
    )
    chart = (
        inline_chart(pairs)
        .mark_rect()
        .encode(
            x=alt.X("country:N", title="Country (other side)"),
            y=alt.Y("carrier:N", title="Carrier (other side)"),
            color=alt.Color(
                "share:Q", title="Calls with issues", scale=alt.Scale(scheme="reds"), legend=alt.Legend(format=".0%")
            ),
            tooltip=[
                "carrier:N",
                "country:N",
                alt.Tooltip("calls:Q", format=","),
                alt.Tooltip("share:Q", format=".0%", title="with issues"),
            ],
        )
        .properties(width=420, height=max(80, 26 * pairs["carrier"].n_unique()))
    )
    return themed(chart, "Quality issues by carrier and country")
