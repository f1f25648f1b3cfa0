"""`_portfolio_charts`: charts of a portfolio's comparison frames (``connect_notebook.portfolio``).

Re-exported by ``connect_notebook.portfolio``. Like the account charts, each takes a
frame that is already an aggregate (one row per customer or account), hands Altair
those rows sorted, and never displays anything or changes Altair's global state, so
the same frame draws the same spec every time.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from ._chart_style import inline_chart, themed

__all__ = ["accounts_chart", "change_chart"]

_GREY, _RED = "#8891aa", "#f22f46"
_LABEL_LIMIT = 320  # pixels: a customer's label ("Harbor Dental Group (AC…2804)") in full
# How each metric is titled and formatted on an axis (d3-format).
_AXES = {
    "calls": ("Calls", ",d"),
    "asr": ("ASR (answered / attempted)", ".0%"),
    "acd_seconds": ("ACD (seconds)", ",.0f"),
    "minutes": ("Minutes", ",.0f"),
    "cost": ("Cost", ",.2f"),
    "failure_rate": ("Failed calls (share of attempts)", ".1%"),
}


def change_chart(comparison: pl.DataFrame, metric: str = "calls") -> Any:
    """Each customer's ``metric`` in the previous period (grey) and the current one (red), joined by a line.

    ``comparison`` is ``portfolio.compare``'s frame; customers are ordered by the current
    value, largest first, so the biggest customers come first and a long line is a big move.
    """
    if metric not in _AXES:
        msg = f"metric must be one of {', '.join(_AXES)}, got {metric!r}"
        raise ValueError(msg)
    title, fmt = _AXES[metric]
    rows = comparison.select(
        "label", pl.col(f"{metric}_previous").cast(pl.Float64).alias("previous"), pl.col(metric).cast(pl.Float64)
    ).sort(metric, "label", descending=[True, False], nulls_last=True)
    order = rows["label"].to_list()
    points = rows.unpivot(
        index="label", on=["previous", metric], variable_name="period", value_name="value"
    ).with_columns(pl.col("period").replace({metric: "current"}))
    data = points.filter(pl.col("value").is_not_null()).sort("label", "period")
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=_LABEL_LIMIT))
    x = alt.X("value:Q", title=title, axis=alt.Axis(format=fmt))
    line = inline_chart(data).mark_line(color="#cacdd8", strokeWidth=3).encode(x=x, y=y, detail="label:N")
    dots = (
        inline_chart(data)
        .mark_point(filled=True, size=90, opacity=1)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "period:N",
                title="Period",
                sort=["previous", "current"],
                scale=alt.Scale(domain=["previous", "current"], range=[_GREY, _RED]),
            ),
            tooltip=["label:N", "period:N", alt.Tooltip("value:Q", title=title, format=fmt)],
        )
    )
    chart = alt.layer(line, dots).properties(width=560, height=max(80, 34 * len(order)))
    return themed(chart, f"{title}: previous and current period, by customer")


def accounts_chart(breakdown: pl.DataFrame, metric: str = "calls") -> Any:
    """Each customer's ``metric`` as one bar, split by the accounts of its family (``portfolio.by_account``).

    Only additive metrics split into parts: ``calls``, ``minutes`` or ``cost``.
    """
    if metric not in ("calls", "minutes", "cost"):
        msg = f"metric must be one of calls, minutes, cost (they add up over accounts), got {metric!r}"
        raise ValueError(msg)
    title, fmt = _AXES[metric]
    data = (
        breakdown.filter(pl.col(metric) > 0)
        .select("label", "account", "account_sid", pl.col(metric).cast(pl.Float64).alias("value"))
        .with_row_index("position")
        .sort("label", "position")
    )
    order = (
        data.group_by("label").agg(pl.col("value").sum()).sort("value", "label", descending=[True, False])["label"]
    ).to_list()
    chart = (
        inline_chart(data)
        .mark_bar()
        .encode(
            x=alt.X("value:Q", title=title, stack="zero", axis=alt.Axis(format=fmt)),
            y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=_LABEL_LIMIT)),
            color=alt.Color(
                "account:N",
                title="Account",
                sort=sorted(set(data["account"].to_list())),
                legend=alt.Legend(labelLimit=_LABEL_LIMIT),
            ),
            order=alt.Order("position:Q"),  # each family in its order: the main account first
            tooltip=["label:N", "account:N", alt.Tooltip("value:Q", title=title, format=fmt)],
        )
        .properties(width=560, height=max(80, 34 * len(order)))
    )
    return themed(chart, f"{title} by account of each customer")
