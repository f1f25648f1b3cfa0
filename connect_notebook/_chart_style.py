"""`_chart_style`: what every chart shares: one look, aggregates handed over inline, time on a UTC scale.

Private to the chart modules (``charts`` and ``_account_charts``), so that both draw
alike without importing each other.
"""

from __future__ import annotations

from typing import Any, Literal

import altair as alt
import polars as pl

Every = Literal["hour", "day", "week"]
EVERY = {"hour": "1h", "day": "1d", "week": "1w"}
TIME_UNIT: dict[str, Any] = {"hour": "utcyearmonthdatehours", "day": "utcyearmonthdate", "week": "utcyearmonthdate"}
FONT = "Helvetica Neue, Helvetica, Arial, DejaVu Sans, sans-serif"


def themed(chart: Any, title: str) -> Any:
    """One look for every chart: title, fonts, sizes (set on the chart, never globally)."""
    return (
        chart.properties(title=alt.TitleParams(title, anchor="start", fontSize=15, font=FONT))
        .configure_axis(labelFont=FONT, titleFont=FONT, labelFontSize=11, titleFontSize=12, gridColor="#eef0f4")
        .configure_legend(labelFont=FONT, titleFont=FONT)
        .configure_view(strokeWidth=0)
    )


def inline_chart(data: pl.DataFrame) -> Any:
    """A chart over already-aggregated data, given as inline values.

    Inline values skip Altair's 5,000-row guard, which exists to stop raw rows from
    bloating a spec: the data here is an aggregate whose size depends on the
    periods asked for (e.g. hours over a quarter), not on the number of calls.
    """
    return alt.Chart(alt.InlineData(values=data.to_dicts()))


def utc_string(expr: pl.Expr) -> pl.Expr:
    """Wall-clock time as an ISO string read on a UTC scale, so viewers in any zone see the same hours."""
    return expr.dt.replace_time_zone(None).dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def period_of(calls: pl.DataFrame, column: str, every: Every, tz: str) -> pl.Expr:
    if every not in EVERY:
        msg = f"every must be one of {', '.join(EVERY)}, got {every!r}"
        raise ValueError(msg)
    return pl.col(column).dt.convert_time_zone(tz).dt.truncate(EVERY[every])


def time_axis(every: Every, tz: str) -> Any:
    return alt.X("period:T", timeUnit=TIME_UNIT[every], title=f"{every.capitalize()} ({tz})")


def counts_over_time(frame: pl.DataFrame, column: str, by: str, name: str, every: Every, tz: str) -> pl.DataFrame:
    """Rows per period and ``by`` value, sorted, periods as UTC-scale strings."""
    return (
        frame.group_by(period_of(frame, column, every, tz).alias("period"), pl.col(by).cast(pl.String))
        .agg(pl.len().alias(name))
        .sort("period", by)
        .with_columns(utc_string(pl.col("period")).alias("period"))
    )
