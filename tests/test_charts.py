"""The charts and KPIs: hand-computed aggregates on small frames, the size bound, determinism, bad input.

Every chart function aggregates in polars and hands Altair only the aggregate; the
aggregate comes back out of ``chart.to_dict()["datasets"]`` (Altair stores inline data
there, also for the vconcat chart, whose sub-charts share the top-level data). The
small frames have exactly the loaders' schemas (``CALLS_SCHEMA`` …) and every expected
value below was worked out by hand from the rows next to it.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl
import pytest
import vl_convert

from connect_notebook import charts
from connect_notebook._frames import (
    ACCOUNTS_SCHEMA,
    CALL_DIRECTIONS,
    CALL_STATUSES,
    CALLS_SCHEMA,
    MESSAGE_DIRECTIONS,
    MESSAGES_SCHEMA,
    USAGE_SCHEMA,
)

ROOT = Path(__file__).resolve().parents[1]
UTC = UTC
NY = "America/New_York"
MAX_SPEC_BYTES = 200 * 1024

# ---------------------------------------------------------------------------------------------
# Small hand-made frames
# ---------------------------------------------------------------------------------------------

_sids = itertools.count(1)


def t(*args: int) -> datetime:
    """A UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def call(**fields: Any) -> dict[str, Any]:
    """One call leg: every CALLS_SCHEMA column, sensible defaults, ``fields`` on top."""
    row: dict[str, Any] = dict.fromkeys(CALLS_SCHEMA.names())
    row.update(
        sid=f"CA{next(_sids):032x}",
        account_sid="AC" + "a" * 32,
        direction="inbound",
        status="completed",
        start_time=t(2026, 1, 5, 12, 0),
        duration=60,
        price=-0.0085,
        cost=0.0085,
        price_unit="USD",
        our_number="+14155550100",
        counterpart="+14155550199",
    )
    unknown = set(fields) - set(row)
    assert not unknown, f"not CALLS_SCHEMA columns: {unknown}"
    row.update(fields)
    return row


def child(parent: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The agent leg of a forwarded call: ``parent_call_sid`` set, direction outbound-dial."""
    base = {"parent_call_sid": parent["sid"], "direction": "outbound-dial", "start_time": parent["start_time"]}
    return call(**{**base, **fields})


def calls_frame(*rows: dict[str, Any]) -> pl.DataFrame:
    frame = pl.DataFrame(list(rows), schema=CALLS_SCHEMA)
    assert frame.schema == CALLS_SCHEMA
    return frame


def message(**fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(MESSAGES_SCHEMA.names())
    row.update(
        sid=f"SM{next(_sids):032x}",
        direction="inbound",
        status="received",
        date_sent=t(2026, 1, 5, 12, 0),
        num_segments=1,
        price_unit="USD",
    )
    assert set(fields) <= set(row)
    row.update(fields)
    return row


def usage_record(category: str, price: float, day: date = date(2026, 1, 5)) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(USAGE_SCHEMA.names())
    row.update(category=category, price=price, price_unit="usd", start_date=day, end_date=day, count=1)
    return row


def data_of(chart: Any) -> list[dict[str, Any]]:
    """The one inline dataset a chart carries (top level, shared by vconcat sub-charts)."""
    spec = chart.to_dict()
    datasets = spec["datasets"]
    assert len(datasets) == 1, f"expected one dataset, got {list(datasets)}"
    ((name, values),) = datasets.items()
    assert spec["data"] == {"name": name}
    for sub in spec.get("vconcat", []) + spec.get("layer", []):
        assert "data" not in sub, "a sub-chart with its own data"
    return values


# ---------------------------------------------------------------------------------------------
# Each chart's aggregate, by hand
# ---------------------------------------------------------------------------------------------


def _mixed_day_calls() -> pl.DataFrame:
    """Mon 5 Jan: 2 completed + 1 busy parents, and a completed agent leg; Tue 6 Jan: 1 no-answer."""
    forwarded = call(start_time=t(2026, 1, 5, 16, 0), status="completed")
    return calls_frame(
        call(start_time=t(2026, 1, 5, 9, 0), status="completed"),
        forwarded,
        child(forwarded, status="completed"),
        call(start_time=t(2026, 1, 5, 17, 0), status="busy", duration=0),
        call(start_time=t(2026, 1, 6, 10, 0), status="no-answer", duration=0),
    )


def test_calls_over_time_counts_parent_legs_per_day_and_status() -> None:
    assert data_of(charts.calls_over_time(_mixed_day_calls())) == [
        {"period": "2026-01-05T00:00:00Z", "status": "busy", "calls": 1},
        {"period": "2026-01-05T00:00:00Z", "status": "completed", "calls": 2},  # not 3: the agent leg
        {"period": "2026-01-06T00:00:00Z", "status": "no-answer", "calls": 1},
    ]


@pytest.mark.parametrize(
    ("every", "tz", "expected"),
    [
        # 02:00 UTC on Tuesday is 21:00 on Monday in New York (EST): Monday's day.
        ("day", NY, ["2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-11T00:00:00Z"]),
        ("day", "UTC", ["2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "2026-01-12T00:00:00Z"]),
        ("hour", "UTC", ["2026-01-05T23:00:00Z", "2026-01-06T02:00:00Z", "2026-01-12T03:00:00Z"]),
        ("hour", NY, ["2026-01-05T18:00:00Z", "2026-01-05T21:00:00Z", "2026-01-11T22:00:00Z"]),
        # Weeks start on Monday: Mon 5 Jan and Sun 11 Jan (local) are one week.
        ("week", NY, ["2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z"]),
        ("week", "UTC", ["2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"]),
    ],
    ids=["day-new-york", "day-utc", "hour-utc", "hour-new-york", "week-new-york", "week-utc"],
)
def test_calls_over_time_periods_are_local_wall_clock_in_tz(every: str, tz: str, expected: list[str]) -> None:
    frame = calls_frame(
        call(start_time=t(2026, 1, 5, 23, 30), status="completed"),  # Mon 18:30 EST
        call(start_time=t(2026, 1, 6, 2, 0), status="busy"),  # Mon 21:00 EST
        call(start_time=t(2026, 1, 12, 3, 15), status="failed"),  # Sun 22:15 EST
    )
    chart = charts.calls_over_time(frame, every=every, tz=tz)  # type: ignore[arg-type]
    rows = data_of(chart)
    per_period: Counter[str] = Counter()
    for r in rows:
        per_period[r["period"]] += r["calls"]
    assert per_period == Counter(expected)
    assert [r["period"] for r in rows] == sorted(r["period"] for r in rows)
    assert chart.to_dict()["encoding"]["x"]["title"] == f"{every.capitalize()} ({tz})"


def test_direction_split_counts_every_leg_by_direction() -> None:
    forwarded = call(direction="inbound")
    frame = calls_frame(
        call(direction="inbound"),
        call(direction="inbound"),
        forwarded,
        child(forwarded),
        call(direction="outbound-api"),
    )
    assert data_of(charts.direction_split(frame)) == [
        {"direction": "inbound", "calls": 3},
        {"direction": "outbound-api", "calls": 1},  # ties in name order
        {"direction": "outbound-dial", "calls": 1},
    ]


def test_disposition_mix_shares_of_parent_legs_sum_to_one() -> None:
    rows = data_of(charts.disposition_mix(_mixed_day_calls()))
    assert rows == [
        {"status": "busy", "calls": 1, "share": 0.25},
        {"status": "completed", "calls": 2, "share": 0.5},
        {"status": "no-answer", "calls": 1, "share": 0.25},
    ]
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)


def test_asr_acd_over_time_answered_over_attempts_and_minutes_of_completed_calls() -> None:
    forwarded = call(start_time=t(2026, 1, 5, 10, 0), status="completed", duration=120)
    frame = calls_frame(
        call(start_time=t(2026, 1, 5, 9, 0), status="completed", duration=60),
        forwarded,
        child(forwarded, status="completed", duration=600),  # agent leg: neither an attempt nor in ACD
        call(start_time=t(2026, 1, 5, 11, 0), status="failed", duration=45),  # an attempt, not in ACD
        call(start_time=t(2026, 1, 6, 11, 0), status="no-answer", duration=0),
    )
    chart = charts.asr_acd_over_time(frame)
    assert data_of(chart) == [
        {"period": "2026-01-05T00:00:00Z", "attempts": 3, "answered": 2, "acd_minutes": 1.5, "asr": 2 / 3},
        {"period": "2026-01-06T00:00:00Z", "attempts": 1, "answered": 0, "acd_minutes": None, "asr": 0.0},
    ]
    spec = chart.to_dict()
    assert [sub["encoding"]["y"]["field"] for sub in spec["vconcat"]] == ["asr", "acd_minutes"]
    assert spec["vconcat"][1]["encoding"]["y"]["title"] == "ACD (minutes)"


def test_duration_histogram_bins_answered_calls_left_closed() -> None:
    frame = calls_frame(
        *(call(status="completed", duration=d) for d in (0, 9, 10, 29, 30, 59, 60, 3599, 3600, 7200)),
        call(status="busy", duration=0),  # not answered
        call(status="completed", duration=None),  # no duration yet
    )
    assert [(r["bin"], r["calls"]) for r in data_of(charts.duration_histogram(frame))] == [
        ("0 s–10 s", 2),  # 0, 9
        ("10 s–30 s", 2),  # 10, 29
        ("30 s–1 min", 2),  # 30, 59
        ("1 min–2 min", 1),  # 60
        ("2 min–5 min", 0),
        ("5 min–10 min", 0),
        ("10 min–20 min", 0),
        ("20 min–30 min", 0),
        ("30 min–60 min", 1),  # 3599
        ("60 min+", 2),  # 3600, 7200
    ]


def test_duration_histogram_of_no_calls_has_every_bin_at_zero() -> None:
    rows = data_of(charts.duration_histogram(calls_frame()))
    assert len(rows) == 10
    assert {r["calls"] for r in rows} == {0}


def _heatmap_cells(frame: pl.DataFrame, tz: str) -> dict[tuple[str, int], int]:
    rows = data_of(charts.hour_of_week_heatmap(frame, tz=tz))
    assert len(rows) == 168
    assert [(r["weekday_index"], r["hour"]) for r in rows] == [(d, h) for d in range(7) for h in range(24)]
    assert all(r["weekday"] == charts.WEEKDAYS[r["weekday_index"]] for r in rows)
    return {(r["weekday"], r["hour"]): r["calls"] for r in rows if r["calls"]}


@pytest.mark.parametrize(
    ("monday", "tz", "expected"),
    [
        (date(2026, 1, 5), NY, {("Mon", 18): 1, ("Mon", 21): 1}),  # EST, UTC−5
        (date(2026, 7, 6), NY, {("Mon", 19): 1, ("Mon", 22): 1}),  # EDT, UTC−4
        (date(2026, 1, 5), "UTC", {("Mon", 23): 1, ("Tue", 2): 1}),
        (date(2026, 1, 5), "Asia/Tokyo", {("Tue", 8): 1, ("Tue", 11): 1}),  # UTC+9
    ],
    ids=["new-york-winter", "new-york-summer", "utc", "tokyo"],
)
def test_hour_of_week_heatmap_places_calls_in_local_weekday_and_hour(
    monday: date, tz: str, expected: dict[tuple[str, int], int]
) -> None:
    assert monday.weekday() == 0
    y, m, d = monday.year, monday.month, monday.day  # Monday 23:30 UTC, then Tuesday 02:00 UTC
    late_monday = call(start_time=t(y, m, d, 23, 30))
    early_tuesday = datetime.combine(monday + timedelta(days=1), time(2, 0), tzinfo=UTC)
    frame = calls_frame(
        late_monday,
        child(late_monday),  # the agent leg is the same call
        call(start_time=early_tuesday),
    )
    assert _heatmap_cells(frame, tz) == expected


def test_hour_of_week_heatmap_of_no_calls_has_168_empty_cells() -> None:
    assert _heatmap_cells(calls_frame(), NY) == {}


def test_cost_over_time_sums_every_leg_per_local_day() -> None:
    forwarded = call(start_time=t(2026, 1, 5, 15, 0), cost=0.017)
    frame = calls_frame(
        call(start_time=t(2026, 1, 5, 14, 0), cost=0.0085),
        forwarded,
        child(forwarded, cost=0.0255),  # Twilio bills the agent leg too
        call(start_time=t(2026, 1, 6, 3, 0), cost=0.1),  # Mon 22:00 in New York
        call(start_time=t(2026, 1, 6, 15, 0), cost=0.25),
    )
    utc = data_of(charts.cost_over_time(frame))
    assert [r["period"] for r in utc] == ["2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"]
    assert [r["cost"] for r in utc] == [pytest.approx(0.051), pytest.approx(0.35)]
    local = data_of(charts.cost_over_time(frame, tz=NY))
    assert [r["period"] for r in local] == ["2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"]
    assert [r["cost"] for r in local] == [pytest.approx(0.151), pytest.approx(0.25)]
    assert charts.cost_over_time(frame).to_dict()["encoding"]["y"]["title"] == "Cost (USD)"


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("+14155550100", "US/CA"),
        ("+16135550100", "US/CA"),
        ("+442071234567", "GB"),
        ("+4930123456", "DE"),
        ("+33142685300", "FR"),
        ("+35312345678", "Other"),  # Ireland is not among the codes
        ("client:alice", "Other"),
        ("sip:bob@example.com", "Other"),
        ("", "Other"),
        (None, "Other"),
    ],
    ids=["us", "canada", "gb", "de", "fr", "ie-unknown", "client", "sip", "empty", "null"],
)
def test_counterpart_country_by_calling_code(number: str | None, country: str) -> None:
    frame = pl.DataFrame({"n": [number]}, schema={"n": pl.String})
    assert frame.select(charts.counterpart_country(pl.col("n"))).item() == country


def test_cost_by_country_sums_cost_per_counterpart_country() -> None:
    frame = calls_frame(
        call(counterpart="+14155550100", cost=0.01),
        call(counterpart="+16135550100", cost=0.02),
        call(counterpart="+442071234567", cost=0.05),
        call(counterpart="+4930123456", cost=0.07),
        call(counterpart="+35312345678", cost=0.001),
        call(counterpart="client:alice", cost=0.01),
    )
    chart = charts.cost_by_country(frame)
    rows = data_of(chart)
    assert [(r["country"], r["calls"]) for r in rows] == [("DE", 1), ("GB", 1), ("US/CA", 2), ("Other", 2)]
    assert [r["cost"] for r in rows] == [
        pytest.approx(0.07),
        pytest.approx(0.05),
        pytest.approx(0.03),
        pytest.approx(0.011),
    ]
    assert chart.to_dict()["encoding"]["x"]["title"] == "Cost (USD)"


def test_top_counterparts_orders_by_calls_then_number_and_keeps_n() -> None:
    a, b, c, d = "+14155550003", "+14155550002", "+14155550001", "+14155550004"
    to_d = call(counterpart=d, duration=30)
    frame = calls_frame(
        call(counterpart=a, duration=60),
        call(counterpart=a, duration=60),
        call(counterpart=a, duration=120),
        call(counterpart=b, duration=90),
        call(counterpart=b, status="busy", duration=0),
        call(counterpart=c, duration=30),
        call(counterpart=c, status="no-answer", duration=None),
        to_d,
        *(child(to_d, counterpart=d) for _ in range(5)),  # agent legs are not calls with d
    )
    top3 = charts.top_counterparts(frame, n=3)
    assert data_of(top3) == [
        {"counterpart": a, "calls": 3, "minutes": 4.0},
        {"counterpart": c, "calls": 2, "minutes": 0.5},  # tie with b: the lower number first
        {"counterpart": b, "calls": 2, "minutes": 1.5},
    ]
    assert top3.to_dict()["title"]["text"] == "Top 3 counterparts"
    assert [r["counterpart"] for r in data_of(charts.top_counterparts(frame))] == [a, c, b, d]


def test_messages_over_time_counts_per_day_and_direction() -> None:
    frame = pl.DataFrame(
        [
            message(direction="inbound", date_sent=t(2026, 1, 5, 9, 0)),
            message(direction="inbound", date_sent=t(2026, 1, 5, 12, 0)),
            message(direction="outbound-api", date_sent=t(2026, 1, 5, 13, 0)),
            message(direction="outbound-reply", date_sent=t(2026, 1, 6, 2, 0)),  # Mon 21:00 in New York
        ],
        schema=MESSAGES_SCHEMA,
    )
    assert data_of(charts.messages_over_time(frame)) == [
        {"period": "2026-01-05T00:00:00Z", "direction": "inbound", "messages": 2},
        {"period": "2026-01-05T00:00:00Z", "direction": "outbound-api", "messages": 1},
        {"period": "2026-01-06T00:00:00Z", "direction": "outbound-reply", "messages": 1},
    ]
    assert data_of(charts.messages_over_time(frame, tz=NY)) == [
        {"period": "2026-01-05T00:00:00Z", "direction": "inbound", "messages": 2},
        {"period": "2026-01-05T00:00:00Z", "direction": "outbound-api", "messages": 1},
        {"period": "2026-01-05T00:00:00Z", "direction": "outbound-reply", "messages": 1},
    ]


def test_usage_spend_sums_top_level_categories_without_totalprice_or_subcategories() -> None:
    frame = pl.DataFrame(
        [
            usage_record("calls", 1.0, date(2026, 1, 5)),
            usage_record("calls", 0.5, date(2026, 1, 6)),
            usage_record("calls-inbound", 0.5),
            usage_record("sms", 0.75),
            usage_record("sms-outbound", 0.75),
            usage_record("phonenumbers", 1.15),
            usage_record("totalprice", 3.4),
        ],
        schema=USAGE_SCHEMA,
    )
    chart = charts.usage_spend(frame)
    rows = data_of(chart)
    assert [r["category"] for r in rows] == ["calls", "phonenumbers", "sms"]
    assert [r["spend"] for r in rows] == [pytest.approx(1.5), pytest.approx(1.15), pytest.approx(0.75)]
    assert chart.to_dict()["encoding"]["x"]["title"] == "Spend (USD)"


# ---------------------------------------------------------------------------------------------
# kpis
# ---------------------------------------------------------------------------------------------

KPI_SCHEMA = pl.Schema(
    {
        "total_calls": pl.Int64,
        "completed": pl.Int64,
        "asr": pl.Float64,
        "acd_seconds": pl.Float64,
        "total_minutes": pl.Float64,
        "total_cost": pl.Float64,
        "cost_unit": pl.String,
        "short_call_share": pl.Float64,
    }
)


def _kpi_calls() -> pl.DataFrame:
    forwarded = call(status="completed", duration=65, cost=0.02)
    return calls_frame(
        call(status="completed", duration=5, cost=0.01),  # short: under 10 s
        call(status="completed", duration=10, cost=0.01),  # not short
        forwarded,
        call(status="completed", duration=120, cost=0.02),
        call(status="busy", duration=0, cost=0.0),
        call(status="no-answer", duration=0, cost=0.0),
        child(forwarded, status="completed", duration=61, cost=0.02),
    )


def test_kpis_count_parent_attempts_and_bill_every_leg_per_started_minute() -> None:
    kpi = charts.kpis(_kpi_calls())
    assert isinstance(kpi, pl.DataFrame)
    assert kpi.schema == KPI_SCHEMA
    row = kpi.row(0, named=True)
    assert kpi.height == 1
    assert row["total_calls"] == 6  # the agent leg is not a call
    assert row["completed"] == 4
    assert row["asr"] == pytest.approx(4 / 6)
    assert row["acd_seconds"] == pytest.approx((5 + 10 + 65 + 120) / 4)  # 50 s
    assert row["total_minutes"] == 1 + 1 + 2 + 2 + 0 + 0 + 2  # ceil(d / 60) of every leg
    assert row["total_cost"] == pytest.approx(0.08)
    assert row["cost_unit"] == "USD"
    assert row["short_call_share"] == pytest.approx(1 / 4)


def test_kpis_html_card_shows_the_numbers() -> None:
    card = charts.kpis(_kpi_calls())._repr_html_()
    for label, value in [
        ("Calls", "6"),
        ("Answered", "4"),
        ("ASR", "66.7%"),
        ("ACD", "0.8 min"),
        ("Minutes", "8"),
        ("Cost", "0.08 USD"),
        ("Short calls", "25.0%"),
    ]:
        assert f">{label}</div>" in card
        assert f">{value}</div>" in card
    assert "<script" not in card


def test_kpis_of_no_calls_are_zeros_and_nulls_with_the_same_schema() -> None:
    kpi = charts.kpis(calls_frame())
    assert kpi.schema == KPI_SCHEMA
    assert kpi.rows(named=True) == [
        {
            "total_calls": 0,
            "completed": 0,
            "asr": None,
            "acd_seconds": None,
            "total_minutes": 0.0,
            "total_cost": 0.0,
            "cost_unit": "USD",
            "short_call_share": None,
        }
    ]
    card = kpi._repr_html_()
    assert ">0</div>" in card
    assert ">0.00 USD</div>" in card
    assert ">–</div>" in card


def test_kpis_with_mixed_price_units_names_them_all() -> None:
    frame = calls_frame(call(price_unit="USD"), call(price_unit="EUR"))
    assert charts.kpis(frame).get_column("cost_unit").item() == "EUR/USD"


# ---------------------------------------------------------------------------------------------
# A customer's accounts: accounts_breakdown (a table) and calls_by_account
# ---------------------------------------------------------------------------------------------

MAIN, CLINIC, IDLE, CONNECT = ("AC" + c * 32 for c in "1234")


def family_accounts() -> pl.DataFrame:
    """A customer's family as ``cn.accounts`` lists it: main account first, then by age."""
    rows = [
        (MAIN, "Harbor Dental Group", "active", t(2025, 6, 1, 9), False),
        (CLINIC, "Harbor Dental Group – Downtown", "closed", t(2025, 9, 1, 9), False),
        (IDLE, "Harbor Dental Group – Eastside", "active", t(2025, 12, 1, 9), False),
        (CONNECT, "Connect Notebook", "active", t(2026, 1, 2, 9), True),
    ]
    frame = pl.DataFrame(
        [
            {
                "sid": sid,
                "friendly_name": name,
                "status": status,
                "type": "Full",
                "owner_account_sid": MAIN,
                "date_created": created,
                "date_updated": created,
                "is_connect_subaccount": connect,
            }
            for sid, name, status, created, connect in rows
        ],
        schema=ACCOUNTS_SCHEMA,
    )
    assert frame.schema == ACCOUNTS_SCHEMA
    return frame


def _family_calls() -> pl.DataFrame:
    """The main account: 2 completed parents (one forwarded, its agent leg billed) and a busy one; the clinic: 1."""
    forwarded = call(account_sid=MAIN, status="completed", duration=65, cost=0.02)
    return calls_frame(
        call(account_sid=MAIN, status="completed", duration=30, cost=0.01, start_time=t(2026, 1, 5, 9)),
        forwarded,
        child(forwarded, account_sid=MAIN, status="completed", duration=61, cost=0.02),
        call(account_sid=MAIN, status="busy", duration=0, cost=0.0, start_time=t(2026, 1, 13, 9)),
        call(account_sid=CLINIC, status="no-answer", duration=0, cost=0.0, start_time=t(2026, 1, 6, 9)),
    )


def test_accounts_breakdown_lists_every_account_in_family_order_with_its_share_of_the_calls() -> None:
    table = charts.accounts_breakdown(_family_calls(), family_accounts())
    assert isinstance(table, pl.DataFrame)
    columns = ["account", "account_sid", "status", "created", "calls", "answered", "asr", "minutes", "cost"]
    assert table.columns == columns
    rows = {r["account_sid"]: r for r in table.rows(named=True)}
    assert table["account_sid"].to_list() == [MAIN, CLINIC, IDLE, CONNECT]  # the family's order, idle ones too
    main = rows[MAIN]
    assert (main["account"], main["status"], main["created"]) == ("Harbor Dental Group", "active", date(2025, 6, 1))
    assert (main["calls"], main["answered"]) == (3, 2)  # parent legs: the agent leg is not a call
    assert main["asr"] == pytest.approx(2 / 3)
    assert main["minutes"] == 1 + 2 + 2 + 0  # ceil(d / 60) of every leg, the agent leg included
    assert main["cost"] == pytest.approx(0.05)
    clinic = rows[CLINIC]
    assert (clinic["status"], clinic["calls"], clinic["answered"], clinic["asr"]) == ("closed", 1, 0, 0.0)
    for idle in (rows[IDLE], rows[CONNECT]):  # no call: zeros, and no ASR rather than a division by zero
        assert (idle["calls"], idle["answered"], idle["asr"], idle["minutes"], idle["cost"]) == (0, 0, None, 0.0, 0.0)


def test_accounts_breakdown_of_no_calls_lists_the_accounts_with_zeros() -> None:
    table = charts.accounts_breakdown(calls_frame(), family_accounts())
    assert table.height == 4
    assert table["calls"].to_list() == [0, 0, 0, 0]
    assert table["asr"].to_list() == [None] * 4


def test_calls_by_account_counts_parent_legs_per_period_and_account_name() -> None:
    chart = charts.calls_by_account(_family_calls(), family_accounts(), every="week")
    assert data_of(chart) == [
        {"period": "2026-01-05T00:00:00Z", "account": "Harbor Dental Group", "calls": 2},  # not 3: the agent leg
        {"period": "2026-01-05T00:00:00Z", "account": "Harbor Dental Group – Downtown", "calls": 1},
        {"period": "2026-01-12T00:00:00Z", "account": "Harbor Dental Group", "calls": 1},
    ]
    color = chart.to_dict()["encoding"]["color"]
    # Stacked and coloured in the family's order, listing only the accounts that have calls.
    assert color["sort"] == ["Harbor Dental Group", "Harbor Dental Group – Downtown"]


def test_calls_by_account_puts_calls_of_an_account_outside_the_family_under_other() -> None:
    frame = calls_frame(call(account_sid=MAIN), call(account_sid="AC" + "9" * 32))
    rows = data_of(charts.calls_by_account(frame, family_accounts(), every="day"))
    assert sorted((r["account"], r["calls"]) for r in rows) == [("Harbor Dental Group", 1), ("other", 1)]


# ---------------------------------------------------------------------------------------------
# Synthetic frames: columnar, no Python object per row
# ---------------------------------------------------------------------------------------------

_PREFIXES = ["1415", "1212", "4420", "4930", "3314", "8133", "9122", "6128", "5511", "3531"]


def synthetic_calls(n: int, days: int = 90) -> pl.DataFrame:
    """``n`` call legs over ``days`` days: every 10th an agent leg, all statuses and several countries.

    Spread over the accounts of ``family_accounts()`` but its Connect subaccount: most in the main account.
    """
    i = pl.int_range(n, dtype=pl.Int64)
    sid = pl.lit("CA") + i.cast(pl.String).str.zfill(32)
    is_child = i % 10 == 9
    duration = (i * 37) % 4000
    built = pl.select(
        sid.alias("sid"),
        # The agent leg belongs to its parent's account (i - 1, hence the same i // 10).
        pl.when((i // 10) % 5 < 3)
        .then(pl.lit(MAIN))
        .when((i // 10) % 5 == 3)
        .then(pl.lit(CLINIC))
        .otherwise(pl.lit(IDLE))
        .alias("account_sid"),
        pl.when(is_child).then(pl.lit("CA") + (i - 1).cast(pl.String).str.zfill(32)).alias("parent_call_sid"),
        pl.when(is_child)
        .then(pl.lit("outbound-dial"))
        .when(i % 3 == 0)
        .then(pl.lit("outbound-api"))
        .otherwise(pl.lit("inbound"))
        .cast(pl.Enum(CALL_DIRECTIONS))
        .alias("direction"),
        ((i * 7919) % len(CALL_STATUSES))
        .replace_strict(list(range(len(CALL_STATUSES))), list(CALL_STATUSES), return_dtype=pl.Enum(CALL_STATUSES))
        .alias("status"),
        (pl.lit(t(2026, 8, 3)) + pl.duration(seconds=(i * 7793) % (days * 86_400))).alias("start_time"),
        duration.alias("duration"),
        ((duration / 60).ceil() * 0.0085).alias("cost"),
        pl.lit("USD").alias("price_unit"),
        (
            pl.lit("+")
            + (i % len(_PREFIXES)).replace_strict(list(range(len(_PREFIXES))), _PREFIXES, return_dtype=pl.String)
            + ((i * 31) % 5000).cast(pl.String).str.zfill(7)
        ).alias("counterpart"),
    )
    frame = built.select(
        (pl.col(name).cast(dtype) if name in built.columns else pl.lit(None, dtype=dtype)).alias(name)
        for name, dtype in CALLS_SCHEMA.items()
    )
    assert frame.schema == CALLS_SCHEMA
    return frame


def synthetic_messages(n: int, days: int = 90) -> pl.DataFrame:
    i = pl.int_range(n, dtype=pl.Int64)
    built = pl.select(
        (pl.lit("SM") + i.cast(pl.String).str.zfill(32)).alias("sid"),
        (i % len(MESSAGE_DIRECTIONS))
        .replace_strict(list(range(len(MESSAGE_DIRECTIONS))), list(MESSAGE_DIRECTIONS))
        .alias("direction"),
        (pl.lit(t(2026, 8, 3)) + pl.duration(seconds=(i * 7793) % (days * 86_400))).alias("date_sent"),
    )
    return built.select(
        (pl.col(name).cast(dtype) if name in built.columns else pl.lit(None, dtype=dtype)).alias(name)
        for name, dtype in MESSAGES_SCHEMA.items()
    )


def synthetic_usage(n: int) -> pl.DataFrame:
    categories = ["calls", "calls-inbound", "sms", "sms-outbound", "mms", "phonenumbers", "recordings", "totalprice"]
    i = pl.int_range(n, dtype=pl.Int64)
    built = pl.select(
        (i % len(categories)).replace_strict(list(range(len(categories))), categories).alias("category"),
        ((i % 997) / 100).alias("price"),
        pl.lit("usd").alias("price_unit"),
        (pl.lit(date(2026, 8, 3)) + pl.duration(days=i % 90)).cast(pl.Date).alias("start_date"),
    )
    return built.select(
        (pl.col(name).cast(dtype) if name in built.columns else pl.lit(None, dtype=dtype)).alias(name)
        for name, dtype in USAGE_SCHEMA.items()
    )


Frames = tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]

# Every chart, as the report notebook builds it, from (calls, messages, usage).
CHARTS: dict[str, Callable[[Frames], Any]] = {
    "calls_over_time": lambda f: charts.calls_over_time(f[0], every="day", tz=NY),
    "calls_over_time-week": lambda f: charts.calls_over_time(f[0], every="week", tz=NY),
    "direction_split": lambda f: charts.direction_split(f[0]),
    "disposition_mix": lambda f: charts.disposition_mix(f[0]),
    "asr_acd_over_time": lambda f: charts.asr_acd_over_time(f[0], every="day", tz=NY),
    "asr_acd_over_time-week": lambda f: charts.asr_acd_over_time(f[0], every="week", tz=NY),
    "duration_histogram": lambda f: charts.duration_histogram(f[0]),
    "hour_of_week_heatmap": lambda f: charts.hour_of_week_heatmap(f[0], tz=NY),
    "cost_over_time": lambda f: charts.cost_over_time(f[0], every="day", tz=NY),
    "cost_over_time-week": lambda f: charts.cost_over_time(f[0], every="week", tz=NY),
    "cost_by_country": lambda f: charts.cost_by_country(f[0]),
    "top_counterparts": lambda f: charts.top_counterparts(f[0], n=10),
    "messages_over_time": lambda f: charts.messages_over_time(f[1], every="day", tz=NY),
    "messages_over_time-week": lambda f: charts.messages_over_time(f[1], every="week", tz=NY),
    "usage_spend": lambda f: charts.usage_spend(f[2]),
    "calls_by_account": lambda f: charts.calls_by_account(f[0], family_accounts(), every="week", tz=NY),
    "calls_by_account-day": lambda f: charts.calls_by_account(f[0], family_accounts(), every="day", tz=NY),
}

HOURLY: dict[str, Callable[[Frames], Any]] = {
    "calls_over_time": lambda f: charts.calls_over_time(f[0], every="hour", tz=NY),
    "asr_acd_over_time": lambda f: charts.asr_acd_over_time(f[0], every="hour", tz=NY),
    "cost_over_time": lambda f: charts.cost_over_time(f[0], every="hour", tz=NY),
    "messages_over_time": lambda f: charts.messages_over_time(f[1], every="hour", tz=NY),
    "calls_by_account": lambda f: charts.calls_by_account(f[0], family_accounts(), every="hour", tz=NY),
}


def test_every_chart_function_is_covered_by_the_size_and_determinism_tests() -> None:
    # kpis and accounts_breakdown are tables, counterpart_country an expression: tested by hand above.
    # The access-log and call-quality charts take other frames: tests/test_account_charts.py.
    from connect_notebook._account_charts import __all__ as account_charts

    public = set(charts.__all__) - {"kpis", "accounts_breakdown", "counterpart_country"} - set(account_charts)
    assert {name.split("-")[0] for name in CHARTS} == public


def _altair_global_state() -> tuple[object, ...]:
    return (
        alt.data_transformers.active,
        dict(alt.data_transformers.options),
        alt.renderers.active,
        dict(alt.renderers.options),
        alt.theme.active,  # alt.themes is deprecated (a warning, so an error here)
    )


@pytest.fixture(scope="module")
def million() -> Frames:
    """1,000,000 calls, messages and usage records over 90 days."""
    n = 1_000_000
    return synthetic_calls(n), synthetic_messages(n), synthetic_usage(n)


def _spec_json(chart: Any) -> str:
    try:
        return chart.to_json()
    except alt.MaxRowsError as exc:
        pytest.fail(f"Altair refused the chart's data: {exc}")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CHARTS), ids=list(CHARTS))
def test_chart_of_a_million_calls_stays_under_200_kb_without_touching_altair_globals(
    name: str, million: Frames
) -> None:
    before = _altair_global_state()
    assert alt.data_transformers.options.get("max_rows", 5000) is not None
    spec = _spec_json(CHARTS[name](million))
    assert len(spec.encode()) < MAX_SPEC_BYTES
    assert _altair_global_state() == before


@pytest.mark.slow
@pytest.mark.parametrize("name", list(HOURLY), ids=list(HOURLY))
def test_hourly_chart_of_a_million_calls_over_90_days_raises_no_max_rows_error(name: str, million: Frames) -> None:
    before = _altair_global_state()
    spec = _spec_json(HOURLY[name](million))
    assert '"period"' in spec
    assert _altair_global_state() == before


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def medium() -> Frames:
    return synthetic_calls(20_000), synthetic_messages(5_000), synthetic_usage(2_000)


@pytest.mark.parametrize("name", list(CHARTS), ids=list(CHARTS))
def test_same_frame_gives_the_same_spec_twice(name: str, medium: Frames) -> None:
    first, second = CHARTS[name](medium).to_json(), CHARTS[name](medium).to_json()
    assert first == second
    assert "view_" not in first and "param_" not in first  # no counter-generated names


@pytest.mark.parametrize("name", ["calls_over_time", "asr_acd_over_time", "cost_by_country"])
def test_same_frame_gives_the_same_svg_twice(name: str, medium: Frames) -> None:
    first = vl_convert.vegalite_to_svg(CHARTS[name](medium).to_dict())
    second = vl_convert.vegalite_to_svg(CHARTS[name](medium).to_dict())
    assert first.lstrip().startswith("<svg")
    assert first == second


def test_heatmap_svg_differs_only_by_vl_converts_gradient_counter(medium: Frames) -> None:
    # vl-convert numbers legend gradients per process (gradient_0, gradient_1, …), so the
    # heatmap's SVG changes with each render in one process even though its spec does not.
    first = vl_convert.vegalite_to_svg(CHARTS["hour_of_week_heatmap"](medium).to_dict())
    second = vl_convert.vegalite_to_svg(CHARTS["hour_of_week_heatmap"](medium).to_dict())
    assert re.findall(r"gradient_\d+", first)
    assert re.sub(r"gradient_\d+", "gradient", first) == re.sub(r"gradient_\d+", "gradient", second)


_SPEC_DIGEST_SCRIPT = """
import hashlib
import importlib.util
spec = importlib.util.spec_from_file_location("chart_tests", {here!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(module.spec_digest())
"""


def spec_digest() -> str:
    """One digest of every chart's spec, from small synthetic frames."""
    frames = (synthetic_calls(5_000), synthetic_messages(1_000), synthetic_usage(500))
    digest = hashlib.sha256()
    for name, build in CHARTS.items():
        digest.update(name.encode() + build(frames).to_json().encode())
    return digest.hexdigest()


@pytest.mark.slow
def test_specs_are_identical_in_a_process_with_another_hash_seed() -> None:
    # This process's hash seed is random (PYTHONHASHSEED unset) or anything but 12345.
    assert os.environ.get("PYTHONHASHSEED") != "12345"
    done = subprocess.run(
        [sys.executable, "-c", _SPEC_DIGEST_SCRIPT.format(here=__file__)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "12345", "PYTHONWARNINGS": "ignore::DeprecationWarning"},
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == spec_digest()


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

PERIODIC: dict[str, Callable[..., Any]] = {
    "calls_over_time": lambda **kw: charts.calls_over_time(_mixed_day_calls(), **kw),
    "asr_acd_over_time": lambda **kw: charts.asr_acd_over_time(_mixed_day_calls(), **kw),
    "cost_over_time": lambda **kw: charts.cost_over_time(_mixed_day_calls(), **kw),
    "messages_over_time": lambda **kw: charts.messages_over_time(
        pl.DataFrame([message()], schema=MESSAGES_SCHEMA), **kw
    ),
    "calls_by_account": lambda **kw: charts.calls_by_account(_family_calls(), family_accounts(), **kw),
}


@pytest.mark.parametrize("name", list(PERIODIC), ids=list(PERIODIC))
def test_unknown_period_is_a_value_error_naming_the_choices(name: str) -> None:
    with pytest.raises(ValueError, match=r"every must be one of hour, day, week, got 'month'"):
        PERIODIC[name](every="month")


ZONED: dict[str, Callable[..., Any]] = {
    **PERIODIC,
    "hour_of_week_heatmap": lambda **kw: charts.hour_of_week_heatmap(_mixed_day_calls(), **kw),
}


@pytest.mark.parametrize("name", list(ZONED), ids=list(ZONED))
def test_unknown_time_zone_is_an_error_naming_the_zone(name: str) -> None:
    with pytest.raises(pl.exceptions.ComputeError, match="Mars/Olympus"):
        ZONED[name](tz="Mars/Olympus")
