"""The audit and call-quality charts over the sandbox's access log and Voice Insights summaries.

Each chart's aggregate comes back out of its spec and is checked against counts taken
from the frame by hand; every chart renders offline to SVG (vl-convert).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import polars as pl
import pytest
import vl_convert

from connect_notebook import ConnectApp, charts, load_call_summaries, load_events
from connect_notebook._account_charts import PDD_BINS


@pytest.fixture
def events(app: ConnectApp, connected: str) -> pl.DataFrame:
    frame = load_events(connected, app=app)
    assert frame.height > 0
    return frame


@pytest.fixture
def summaries(app: ConnectApp, connected: str) -> pl.DataFrame:
    frame = load_call_summaries(connected, app=app)
    assert frame.height > 0
    return frame


def data_of(chart: Any) -> list[dict[str, Any]]:
    ((_, values),) = chart.to_dict()["datasets"].items()
    return list(values)


def test_events_over_time_counts_every_event_once_by_type(events: pl.DataFrame) -> None:
    rows = data_of(charts.events_over_time(events))
    by_type: Counter[str] = Counter()
    for row in rows:
        by_type[row["event_type"]] += row["events"]
    assert by_type == Counter(events["event_type"].to_list())


def test_the_connect_timeline_shows_the_authorization_the_sandbox_made(events: pl.DataFrame) -> None:
    rows = data_of(charts.connect_timeline(events))
    assert rows and {row["what"] for row in rows} <= {"authorized", "revoked"}
    assert "authorized" in {row["what"] for row in rows}  # the customer authorized the app for this test
    assert len(rows) == events.filter(pl.col("event_type").str.starts_with("authorized-connect-app.")).height


def test_actors_and_source_ips_are_the_busiest_first(events: pl.DataFrame) -> None:
    actors = data_of(charts.event_actors(events, n=3))
    counts = [row["events"] for row in actors]
    assert counts == sorted(counts, reverse=True) and len(actors) <= 3
    ips = data_of(charts.event_source_ips(events))
    expected = Counter(ip for ip in events["source_ip_address"].to_list() if ip is not None)
    assert {row["source_ip_address"]: row["events"] for row in ips} == dict(expected.most_common(10))


def test_hangups_count_every_call_once(summaries: pl.DataFrame) -> None:
    rows = data_of(charts.hangups(summaries))
    assert sum(row["calls"] for row in rows) == summaries.height
    assert {row["side"] for row in rows} <= {"caller", "callee", "not recorded"}


def test_pdd_bins_hold_every_call_with_a_pdd(summaries: pl.DataFrame) -> None:
    rows = data_of(charts.pdd_distribution(summaries))
    assert len(rows) == len(PDD_BINS)
    assert sum(row["calls"] for row in rows) == summaries["pdd_ms"].drop_nulls().len()
    first = summaries.filter(pl.col("pdd_ms") < PDD_BINS[1]).height
    assert rows[0]["calls"] == first


def test_quality_issue_shares_match_the_tags(summaries: pl.DataFrame) -> None:
    rows = data_of(charts.call_quality_issues(summaries, n=50))
    for row in rows:
        pair = summaries.filter(
            (pl.col("counterpart_carrier").fill_null("unknown") == row["carrier"])
            & (pl.col("counterpart_country_code").fill_null("??") == row["country"])
        )
        assert row["calls"] == pair.height
        assert row["share"] == pytest.approx((pair["tags"].list.len() > 0).sum() / pair.height, abs=1e-4)


def test_empty_frames_still_draw() -> None:
    from connect_notebook import CALL_SUMMARIES_SCHEMA, EVENTS_SCHEMA

    no_events, no_calls = pl.DataFrame(schema=EVENTS_SCHEMA), pl.DataFrame(schema=CALL_SUMMARIES_SCHEMA)
    for chart in (
        charts.events_over_time(no_events),
        charts.event_actors(no_events),
        charts.event_source_ips(no_events),
        charts.connect_timeline(no_events),
        charts.hangups(no_calls),
        charts.pdd_distribution(no_calls),
        charts.call_quality_issues(no_calls),
    ):
        assert vl_convert.vegalite_to_svg(chart.to_dict()).startswith("<svg")


def test_every_chart_renders_offline(events: pl.DataFrame, summaries: pl.DataFrame) -> None:
    for chart in (
        charts.events_over_time(events, every="week", tz="America/New_York"),
        charts.event_actors(events),
        charts.event_source_ips(events),
        charts.connect_timeline(events),
        charts.hangups(summaries),
        charts.pdd_distribution(summaries),
        charts.call_quality_issues(summaries),
    ):
        svg = vl_convert.vegalite_to_svg(chart.to_dict())
        assert svg.startswith("<svg") and "<text" in svg


def test_the_same_frames_give_the_same_spec_and_svg(events: pl.DataFrame, summaries: pl.DataFrame) -> None:
    for draw, frame in ((charts.events_over_time, events), (charts.call_quality_issues, summaries)):
        assert draw(frame).to_json() == draw(frame).to_json()
        first, second = (vl_convert.vegalite_to_svg(draw(frame).to_dict()) for _ in range(2))
        # vl-convert numbers legend gradients per process (gradient_0, gradient_1, …): the rest is equal.
        assert re.sub(r"gradient_\d+", "gradient", first) == re.sub(r"gradient_\d+", "gradient", second)
