"""``load_call_summaries``: Voice Insights call quality for the family, typed, joinable with ``load_calls``.

The expected frame is built here from ``Sandbox.call_summaries()`` (the records as the
sandbox renders them) with plain Python, not with ``connect_notebook._insights``.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loader_support import authorized
from polars.testing import assert_frame_equal

import connect_notebook as cn
from connect_notebook import CALL_SUMMARIES_SCHEMA, ConnectApp, InsightsNotEnabledWarning, SchemaError
from connect_notebook._insights import type_call_summaries
from connect_notebook.sandbox import Sandbox

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # the session sandbox's pinned clock
Record = dict[str, Any]
_EDGES = ("carrier_edge", "sip_edge", "sdk_edge", "client_edge")


def _utc(text: str | None) -> datetime | None:
    return None if text is None else datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _row(r: Record) -> Record:
    edge = next((e for e in _EDGES if r[e]), None)
    props = (r[edge] or {}).get("properties", {}) if edge else {}
    metrics = (r[edge] or {}).get("metrics", {}) if edge else {}
    inbound, outbound = metrics.get("inbound", {}), metrics.get("outbound", {})
    p = r["properties"]
    theirs = r["from"] if p["direction"] in ("inbound", "trunking_originating") else r["to"]
    return {
        "sid": r["call_sid"],
        "account_sid": r["account_sid"],
        "call_type": r["call_type"],
        "call_state": r["call_state"],
        "direction": p["direction"],
        "processing_state": r["processing_state"],
        "answered_by": r["answered_by"],
        "created_time": _utc(r["created_time"]),
        "start_time": _utc(r["start_time"]),
        "end_time": _utc(r["end_time"]),
        "duration": r["duration"],
        "connect_duration": r["connect_duration"],
        "disconnected_by": p.get("disconnected_by"),
        "pdd_ms": p.get("pdd_ms"),
        "last_sip_response_num": p.get("last_sip_response_num"),
        "caller": r["from"].get("caller"),
        "from_carrier": r["from"].get("carrier"),
        "from_connection": r["from"].get("connection"),
        "from_country_code": r["from"].get("country_code"),
        "callee": r["to"].get("callee"),
        "to_carrier": r["to"].get("carrier"),
        "to_connection": r["to"].get("connection"),
        "to_country_code": r["to"].get("country_code"),
        "counterpart_carrier": theirs.get("carrier"),
        "counterpart_country_code": theirs.get("country_code"),
        "edge": edge,
        "edge_location": props.get("edge_location"),
        "media_region": props.get("media_region"),
        "inbound_packet_loss_percentage": inbound.get("packets_loss_percentage"),
        "outbound_packet_loss_percentage": outbound.get("packets_loss_percentage"),
        "inbound_jitter_avg": inbound.get("jitter", {}).get("avg"),
        "outbound_jitter_avg": outbound.get("jitter", {}).get("avg"),
        "tags": r["tags"] or [],
        "verified_caller": ((r["trust"] or {}).get("verified_caller") or {}).get("verified"),
    }


def expected_summaries(sb: Sandbox, customer: str, accounts: list[str] | None = None) -> pl.DataFrame:
    """Every summary of the family Insights keeps, newest first (ties by SID), typed without the package."""
    records = [r for sid in sb.family(customer) if accounts is None or sid in accounts for r in sb.call_summaries(sid)]
    records.sort(key=lambda r: r["call_sid"])
    records.sort(key=lambda r: r["start_time"], reverse=True)  # ISO 8601 UTC sorts as text; the sort is stable
    return pl.DataFrame([_row(r) for r in records], schema=CALL_SUMMARIES_SCHEMA)


def test_load_call_summaries_equals_the_ground_truth(sandbox: Sandbox, app: ConnectApp) -> None:
    customer, connected = authorized(sandbox)
    frame = cn.load_call_summaries(connected, app=app)
    expected = expected_summaries(sandbox, customer)
    assert expected.height > 500
    assert frame.schema == CALL_SUMMARIES_SCHEMA
    assert_frame_equal(frame, expected)
    assert set(frame["account_sid"]) == set(sandbox.family(customer)[:3])  # the main account and both clinics


def test_summaries_join_with_load_calls_on_the_call_sid(sandbox: Sandbox, app: ConnectApp) -> None:
    _, connected = authorized(sandbox)
    summaries = cn.load_call_summaries(connected, app=app)
    calls = cn.load_calls(connected, app=app, start=NOW - timedelta(days=30), progress=False)
    joined = calls.join(summaries, on=["sid", "account_sid"], how="left", validate="1:1")
    assert joined.height == calls.height == summaries.height
    assert joined["processing_state"].null_count() == 0  # every call has its summary
    assert (joined["start_time"] == joined["start_time_right"]).all()
    assert joined.filter(pl.col("connect_duration").ne_missing(pl.col("duration"))).height == 0
    ended = joined.filter(pl.col("end_time").is_not_null())
    whole = (ended["end_time"] - ended["start_time"]).dt.total_seconds()
    assert (whole == ended["duration_right"]).all()
    # What the analyst asks: quality issues by the counterpart's country.
    by_country = joined.group_by("counterpart_country_code").agg(issues=pl.col("tags").list.len().gt(0).mean())
    assert by_country.height >= 5


def test_accounts_narrows_the_load_to_those_of_the_family(sandbox: Sandbox, app: ConnectApp) -> None:
    customer, connected = authorized(sandbox)
    clinic = sandbox.family(customer)[1]
    frame = cn.load_call_summaries(connected, app=app, accounts=[clinic])
    assert_frame_equal(frame, expected_summaries(sandbox, customer, [clinic]))
    assert frame.height > 0


@settings(max_examples=12)
@given(
    start_minutes=st.integers(min_value=0, max_value=30 * 24 * 60),
    length_minutes=st.integers(min_value=0, max_value=10 * 24 * 60),
)
def test_start_and_end_keep_the_calls_that_started_in_the_range(
    _sandbox_server: Sandbox, start_minutes: int, length_minutes: int
) -> None:
    sb = _sandbox_server  # one authorization for every example: reset() would revoke it between them
    customer, connected = authorized(sb)
    start = NOW - timedelta(minutes=start_minutes)
    end = start + timedelta(minutes=length_minutes)
    frame = cn.load_call_summaries(connected, app=_app(sb), start=start, end=end)
    expected = expected_summaries(sb, customer).filter(
        (pl.col("start_time") >= max(start, NOW - timedelta(days=30))) & (pl.col("start_time") < end)
    )
    assert_frame_equal(frame, expected)


def _app(sb: Sandbox) -> ConnectApp:
    from connect_notebook._kernel import app_for_sandbox

    return app_for_sandbox(sb)


def test_account_without_insights_warns_and_gives_an_empty_frame_with_the_schema(
    sandbox: Sandbox, app: ConnectApp
) -> None:
    _, connected = authorized(sandbox, 1)  # Northwind Logistics: no Voice Insights Advanced Features
    with pytest.warns(InsightsNotEnabledWarning, match="Voice Insights Advanced Features are not enabled") as caught:
        frame = cn.load_call_summaries(connected, app=app)
    assert len(caught) == 1  # one warning for the load, naming every refused account
    assert connected[-4:] in str(caught[0].message)
    assert caught[0].filename == __file__  # it points at the caller's line
    assert frame.height == 0
    assert frame.schema == CALL_SUMMARIES_SCHEMA


def test_the_warning_can_be_silenced_by_its_class(sandbox: Sandbox, app: ConnectApp) -> None:
    _, connected = authorized(sandbox, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=InsightsNotEnabledWarning)
        assert cn.load_call_summaries(connected, app=app).height == 0


def test_a_start_after_now_is_an_empty_frame_without_a_request(sandbox: Sandbox, app: ConnectApp) -> None:
    _, connected = authorized(sandbox)
    before = dict(sandbox.requests)
    frame = cn.load_call_summaries(connected, app=app, start=datetime.now(UTC) + timedelta(days=1))
    assert frame.height == 0 and frame.schema == CALL_SUMMARIES_SCHEMA
    assert sandbox.requests == before


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"start": 5}, TypeError, id="start-int"),
        pytest.param({"start": "2026-10-10", "end": "2026-10-01"}, ValueError, id="end-before-start"),
        pytest.param({"accounts": []}, ValueError, id="accounts-empty"),
        pytest.param({"retry": 3}, TypeError, id="retry-int"),
    ],
)
def test_bad_arguments_fail_before_any_request(
    kwargs: dict[str, Any], error: type[Exception], sandbox: Sandbox, app: ConnectApp
) -> None:
    _, connected = authorized(sandbox)
    before = dict(sandbox.requests)
    with pytest.raises(error):
        cn.load_call_summaries(connected, app=app, **kwargs)
    assert sandbox.requests == before


def test_a_summary_that_does_not_fit_is_a_schema_error_naming_the_field() -> None:
    row = _row(
        {
            "call_sid": "CA" + "1" * 32,
            "account_sid": "AC" + "1" * 32,
            "call_type": "carrier",
            "call_state": "teleported",
            "processing_state": "complete",
            "answered_by": "unknown",
            "created_time": "2026-10-01T00:00:00Z",
            "start_time": "2026-10-01T00:00:00Z",
            "end_time": None,
            "duration": None,
            "connect_duration": None,
            "from": {},
            "to": {},
            "carrier_edge": None,
            "sip_edge": None,
            "sdk_edge": None,
            "client_edge": None,
            "properties": {"direction": "inbound"},
            "tags": None,
            "trust": None,
        }
    )
    row = {k: (v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, datetime) else v) for k, v in row.items()}
    for derived in ("counterpart_carrier", "counterpart_country_code"):
        row.pop(derived)
    with pytest.raises(SchemaError, match="call_state"):
        type_call_summaries([row])


def test_app_for_sandbox_points_insights_at_the_sandbox(sandbox: Sandbox, app: ConnectApp) -> None:
    assert app.insights_url == sandbox.insights_url
    assert ConnectApp(
        account_sid=app.account_sid, auth_token="x", connect_app_sid=app.connect_app_sid
    ).insights_url == ("https://insights.twilio.com")
