"""Voice Insights on the sandbox: ``/v1/Voice/Summaries`` and ``/v1/Voice/{CA…}/Summary``.

The summaries must agree with the calls (same SIDs, times and durations), turn from
``partial`` to ``complete`` 30 minutes after a call ended, cluster their quality
issues by carrier and country, be refused to a customer without Voice Insights
Advanced Features, page like every v1 list, fit ``twilio_insights_v1.json`` and
work with twilio-python's ``client.insights.v1``.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openapi_core import OpenAPI
from openapi_core.configurations import Config
from spec_support import schema_errors
from twilio.rest import Client

from connect_notebook.sandbox import Profile, Sandbox
from connect_notebook.sandbox._data import Call
from connect_notebook.sandbox._insights import PARTIAL_SECONDS, summary_json

INSIGHTS_HOST = "https://insights.twilio.com"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # the session sandbox's pinned clock
OLDEST = NOW - timedelta(days=30)
Record = dict[str, Any]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def insights(sandbox: Sandbox, connected: str) -> Iterator[httpx.Client]:
    """httpx as the Connect App for the first customer, on the sandbox's Insights URL."""
    with httpx.Client(base_url=sandbox.insights_url, auth=(connected, sandbox.owner_auth_token)) as client:
        yield client


def _all(client: httpx.Client, **params: str) -> list[Record]:
    """Every summary of a listing (30 days unless ``StartTime`` is given), following the pages."""
    response = client.get("/v1/Voice/Summaries", params={"StartTime": "30d", "PageSize": "1000", **params})
    records: list[Record] = []
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        records += body["call_summaries"]
        if not body["meta"]["next_page_url"]:
            return records
        response = client.get(body["meta"]["next_page_url"])


def _family_calls(sb: Sandbox, customer: str) -> dict[str, Record]:
    return {
        c["sid"]: c
        for sid in sb.family(customer)
        for c in sb.calls(sid)
        if parsedate_to_datetime(c["start_time"]) >= OLDEST
    }


# --- consistency with the calls ----------------------------------------------------


def test_every_call_of_the_last_30_days_has_one_summary_with_its_sid_times_and_durations(
    sandbox: Sandbox, customer: str, insights: httpx.Client
) -> None:
    calls = _family_calls(sandbox, customer)
    summaries = _all(insights)
    assert len(calls) > 500
    assert sorted(s["call_sid"] for s in summaries) == sorted(calls)
    for s in summaries:
        call = calls[s["call_sid"]]
        assert s["account_sid"] == call["account_sid"]
        start = parsedate_to_datetime(call["start_time"])
        assert _utc(s["start_time"]) == start
        if call["end_time"]:
            end = parsedate_to_datetime(call["end_time"])
            assert _utc(s["end_time"]) == end
            assert s["duration"] == (end - start).total_seconds()
        else:
            assert s["end_time"] is None and s["duration"] is None
        assert s["connect_duration"] == (int(call["duration"]) if call["duration"] else None)
        inbound = call["direction"] == "inbound"
        assert s["properties"]["direction"] == call["direction"].replace("-", "_")
        assert (s["from"]["caller"], s["to"]["callee"]) == (call["from"], call["to"])
        ours = s["to"] if inbound else s["from"]
        assert ours["carrier"] == "Twilio"
        if call["status"] == "completed":
            assert s["call_state"] == "completed" and s["properties"]["last_sip_response_num"] == 200
            assert s["properties"]["disconnected_by"] in ("caller", "callee")
        assert isinstance(s["properties"]["pdd_ms"], int) and s["properties"]["pdd_ms"] > 0


def test_summaries_are_newest_first_and_the_same_on_every_request(insights: httpx.Client) -> None:
    first, again = _all(insights), _all(insights)
    assert first == again
    starts = [_utc(s["start_time"]) for s in first]
    assert starts == sorted(starts, reverse=True)


def test_who_hung_up_covers_both_sides_and_an_abandoned_call_is_the_callers(insights: httpx.Client) -> None:
    summaries = _all(insights)
    sides = {s["properties"].get("disconnected_by") for s in summaries if s["call_state"] == "completed"}
    assert sides == {"caller", "callee"}
    canceled = [s for s in summaries if s["call_state"] == "canceled"]
    assert canceled and all(s["properties"]["disconnected_by"] == "caller" for s in canceled)


def test_processing_state_is_partial_within_30_minutes_of_the_end_and_complete_after(insights: httpx.Client) -> None:
    summaries = _all(insights)
    for s in summaries:
        recent = s["end_time"] is None or (NOW - _utc(s["end_time"])).total_seconds() < 30 * 60
        assert s["processing_state"] == ("partial" if recent else "complete"), s["call_sid"]
    assert {s["processing_state"] for s in summaries} == {"partial", "complete"}
    partial = _all(insights, ProcessingState="partial")
    complete = _all(insights, ProcessingState="completed")
    assert len(partial) + len(complete) == len(summaries)
    assert {s["processing_state"] for s in partial} == {"partial"}


def _call(end: int) -> Call:
    return Call(
        sid="CA" + "1" * 32,
        parent_sid=None,
        direction="inbound",
        status="completed",
        from_="+5255123456789",
        to="+14155550100",
        counterpart_country="MX",
        phone_number_sid=None,
        created=end - 100,
        updated=end,
        start=end - 100,
        end=end,
        duration=90,
        price=-1000,
        queue_time=0,
        answered_by=None,
        caller_name=None,
        forwarded_from=None,
    )


@given(age=st.integers(min_value=0, max_value=10 * 86_400), end=st.integers(min_value=10**9, max_value=2 * 10**9))
def test_a_summary_turns_complete_exactly_30_minutes_after_its_call_ended(age: int, end: int) -> None:
    summary = summary_json(7, "AC" + "0" * 32, _call(end), end + age)
    assert summary["processing_state"] == ("partial" if age < PARTIAL_SECONDS else "complete")
    # Only the processing state depends on the clock: the rest is fixed by the call.
    later = summary_json(7, "AC" + "0" * 32, _call(end), end + age + PARTIAL_SECONDS)
    assert {k: v for k, v in later.items() if k != "processing_state"} == {
        k: v for k, v in summary.items() if k != "processing_state"
    }


@pytest.fixture(scope="module")
def busy() -> Iterator[Sandbox]:
    """One customer with 12,000 calls over its 30 days, enough to see the quality clusters."""
    with Sandbox(seed=11, customers=[Profile(name="Busy", days=30, calls=12_000)], now=NOW.isoformat()) as sb:
        yield sb


def test_quality_issues_cluster_by_carrier_and_country(busy: Sandbox) -> None:
    with httpx.Client(base_url=busy.insights_url, auth=(busy.owner_account_sid, busy.owner_auth_token)) as owner:
        assert owner.get("/v1/Voice/Summaries").status_code == 200  # the owner sees its own calls
    summaries = [s for sid in busy.family(busy.customer_account_sids[0]) for s in busy.call_summaries(sid)]
    assert len(summaries) > 10_000
    groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
    carriers: dict[str, set[str]] = defaultdict(set)
    for s in summaries:
        theirs = s["from"] if s["properties"]["direction"] == "inbound" else s["to"]
        groups[theirs["country_code"], theirs["carrier"]].append(bool(s["tags"]))
        carriers[theirs["caller" if "caller" in theirs else "callee"]].add(theirs["carrier"])
    assert all(len(c) == 1 for c in carriers.values())  # a number keeps its carrier
    rate = {k: sum(v) / len(v) for k, v in groups.items() if len(v) >= 100}
    us = [r for (country, _), r in rate.items() if country == "US"]
    # The worst group is a foreign carrier, far above every US carrier; within Mexico one carrier stands out.
    worst = max(rate, key=lambda k: rate[k])
    assert worst[0] != "US" and rate[worst] > 3 * max(us)
    mexico = sorted((r, c) for (country, c), r in rate.items() if country == "MX")
    assert len(mexico) >= 2 and mexico[-1][0] > 2 * mexico[0][0]
    tags = {t for s in summaries for t in s["tags"] or ()}
    assert tags == {"high_pdd", "high_packet_loss", "high_jitter"}


# --- accounts and the refusal ----------------------------------------------------------


def test_subaccount_filter_selects_one_account_of_the_family(
    sandbox: Sandbox, customer: str, insights: httpx.Client
) -> None:
    everything = _all(insights)
    by_account = {sid: _all(insights, Subaccount=sid) for sid in sandbox.family(customer)}
    assert sum(map(len, by_account.values())) == len(everything)
    for sid, records in by_account.items():
        assert {s["account_sid"] for s in records} <= {sid}
    assert all(by_account[sid] for sid in sandbox.family(customer)[:3])  # the main account and both clinics


def test_subaccount_outside_the_family_is_401(sandbox: Sandbox, insights: httpx.Client) -> None:
    other = sandbox.customer_account_sids[2]
    response = insights.get("/v1/Voice/Summaries", params={"Subaccount": other})
    assert response.status_code == 401
    assert response.json()["code"] == 20003


def test_customer_without_advanced_features_is_refused_403_20403(sandbox: Sandbox) -> None:
    northwind = sandbox.customer_account_sids[1]
    connected = sandbox.authorize(northwind)
    with httpx.Client(base_url=sandbox.insights_url, auth=(connected, sandbox.owner_auth_token)) as client:
        listed = client.get("/v1/Voice/Summaries", params={"StartTime": "30d"})
        call = sandbox.calls(northwind)[0]["sid"]
        fetched = client.get(f"/v1/Voice/{call}/Summary")
    for response in (listed, fetched):
        assert response.status_code == 403
        body = response.json()
        assert body["code"] == 20403 and body["status"] == 403
        assert "Voice Insights Advanced Features" in body["message"]
        assert body["more_info"] == "https://www.twilio.com/docs/errors/20403"


def test_a_profile_without_the_flag_still_gets_summaries() -> None:
    assert Profile(name="Old style").voice_insights is True


# --- paging, filters, fetch -------------------------------------------------------------


def test_paging_returns_every_summary_once_and_pages_back(insights: httpx.Client) -> None:
    expected = _all(insights)
    pages = [insights.get("/v1/Voice/Summaries", params={"StartTime": "30d", "PageSize": 97}).json()]
    while pages[-1]["meta"]["next_page_url"]:
        pages.append(insights.get(pages[-1]["meta"]["next_page_url"]).json())
    assert [s for p in pages for s in p["call_summaries"]] == expected
    assert all(p["meta"]["key"] == "call_summaries" and p["meta"]["page_size"] == 97 for p in pages)
    back = insights.get(pages[2]["meta"]["previous_page_url"]).json()
    assert back["call_summaries"] == pages[1]["call_summaries"]


def test_page_n_without_a_token_is_400_20001(insights: httpx.Client) -> None:
    response = insights.get("/v1/Voice/Summaries", params={"PageSize": 2, "Page": 1})
    assert response.status_code == 400
    assert response.json()["code"] == 20001


def test_start_time_defaults_to_4_hours_and_takes_relative_and_iso_times(insights: httpx.Client) -> None:
    everything = _all(insights)
    recent = insights.get("/v1/Voice/Summaries", params={"PageSize": 1000}).json()["call_summaries"]
    assert recent == [s for s in everything if _utc(s["start_time"]) >= NOW - timedelta(hours=4)]
    lo, hi = NOW - timedelta(days=3), NOW - timedelta(days=1)
    window = _all(insights, StartTime=lo.isoformat(), EndTime=hi.isoformat())
    assert window and window == [s for s in everything if lo <= _utc(s["start_time"]) <= hi]
    assert _all(insights, StartTime="3d", EndTime="1d") == window
    # Older than Insights keeps (30 days in the sandbox): nothing more.
    assert _all(insights, StartTime="90d") == everything


@pytest.mark.parametrize("params", [{"StartTime": "yesterday"}, {"ProcessingState": "done"}, {"SortBy": "sid"}])
def test_malformed_filters_are_400(params: dict[str, str], insights: httpx.Client) -> None:
    response = insights.get("/v1/Voice/Summaries", params=params)
    assert response.status_code == 400
    assert response.json()["code"] == 20001


def test_carrier_country_and_state_filters_select_matching_summaries(insights: httpx.Client) -> None:
    everything = _all(insights)
    mexico = _all(insights, FromCountryCode="MX")
    assert mexico and mexico == [s for s in everything if s["from"]["country_code"] == "MX"]
    carrier = mexico[0]["from"]["carrier"]
    assert _all(insights, FromCarrier=carrier) == [s for s in everything if s["from"]["carrier"] == carrier]
    busy = _all(insights, CallState="busy")
    assert busy and busy == [s for s in everything if s["call_state"] == "busy"]
    inbound = _all(insights, Direction="inbound")
    assert inbound == [s for s in everything if s["properties"]["direction"] == "inbound"]


def test_fetched_summary_is_the_listed_one(insights: httpx.Client) -> None:
    listed = _all(insights)
    for record in (listed[0], listed[len(listed) // 2], listed[-1]):
        response = insights.get(f"/v1/Voice/{record['call_sid']}/Summary")
        assert response.status_code == 200
        assert response.json() == record
        assert record["url"].endswith(f"/v1/Voice/{record['call_sid']}/Summary")


def test_fetch_of_an_unknown_call_or_the_wrong_processing_state_is_404(insights: httpx.Client) -> None:
    assert insights.get(f"/v1/Voice/CA{'0' * 32}/Summary").status_code == 404
    partial = _all(insights, ProcessingState="partial")[0]["call_sid"]
    response = insights.get(f"/v1/Voice/{partial}/Summary", params={"ProcessingState": "complete"})
    assert response.status_code == 404 and response.json()["code"] == 20404
    assert insights.get(f"/v1/Voice/{partial}/Summary", params={"ProcessingState": "partial"}).status_code == 200


def test_fetch_of_another_customers_call_is_404(sandbox: Sandbox, insights: httpx.Client) -> None:
    other = sandbox.calls(sandbox.customer_account_sids[2])[0]["sid"]
    assert insights.get(f"/v1/Voice/{other}/Summary").status_code == 404


# --- Twilio's spec ------------------------------------------------------------------------


# The same validation as test_schema.py's (every documented property required), for the Insights spec.


def _allow_null_in_nullable_enums(node: Any) -> Any:
    """As ``test_schema._patch_nullable_enums``: ``nullable`` admits null past an ``enum`` (OpenAPI 3.0.1)."""
    if isinstance(node, dict):
        if node.get("nullable") is True and isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        for value in node.values():
            _allow_null_in_nullable_enums(value)
    elif isinstance(node, list):
        for value in node:
            _allow_null_in_nullable_enums(value)
    return node


def _schema_errors(app: OpenAPI, response: httpx.Response) -> list[str]:
    return schema_errors(app, response, INSIGHTS_HOST)


@pytest.fixture(scope="session")
def openapi_insights(specs_dir: Path) -> OpenAPI:
    """The Insights v1 spec, patched for nullable enums (as the Monitor one)."""
    spec = _allow_null_in_nullable_enums(copy.deepcopy(json.loads((specs_dir / "twilio_insights_v1.json").read_text())))
    config = Config(spec_validator_cls=None, response_properties_default_policy="required")
    return OpenAPI.from_dict(spec, config=config)


def test_summaries_list_matches_twilio_spec(insights: httpx.Client, openapi_insights: OpenAPI) -> None:
    response = insights.get("/v1/Voice/Summaries", params={"StartTime": "30d", "PageSize": 1000})
    summaries = response.json()["call_summaries"]
    # The sample holds answered and unanswered, partial and complete, tagged and clean summaries.
    assert {s["processing_state"] for s in summaries} == {"partial", "complete"}
    assert {s["tags"] is None for s in summaries} == {True, False}
    assert {"metrics" in s["carrier_edge"] for s in summaries} == {True, False}
    assert _schema_errors(openapi_insights, response) == []


def test_summary_fetch_matches_twilio_spec(insights: httpx.Client, openapi_insights: OpenAPI) -> None:
    listed = _all(insights)
    for record in (listed[0], listed[-1]):
        response = insights.get(f"/v1/Voice/{record['call_sid']}/Summary")
        assert _schema_errors(openapi_insights, response) == []


def test_schema_check_rejects_a_summary_with_a_string_duration(
    insights: httpx.Client, openapi_insights: OpenAPI
) -> None:
    response = insights.get("/v1/Voice/Summaries", params={"StartTime": "1d", "PageSize": 1})
    body = response.json()
    body["call_summaries"][0]["duration"] = "10"
    broken = httpx.Response(200, json=body, request=response.request)
    assert _schema_errors(openapi_insights, broken) != []


# --- twilio-python ------------------------------------------------------------------------


@pytest.fixture
def twilio(sandbox: Sandbox, connected: str) -> Iterator[Client]:
    """twilio-python as the Connect App for the first customer, its Insights domain on the sandbox."""
    client = Client(connected, sandbox.owner_auth_token)
    client.insights.base_url = sandbox.insights_url
    try:
        yield client
    finally:
        session = getattr(client.http_client, "session", None)
        if session is not None:
            session.close()


def test_twilio_python_lists_call_summaries(twilio: Client, insights: httpx.Client) -> None:
    expected = _all(insights)
    listed = twilio.insights.v1.call_summaries.list(start_time="30d", page_size=200)
    assert [s.call_sid for s in listed] == [s["call_sid"] for s in expected]
    first = listed[0]
    assert first.account_sid == expected[0]["account_sid"]
    assert first.processing_state == expected[0]["processing_state"]
    assert first.start_time == _utc(expected[0]["start_time"])
    assert first.properties == expected[0]["properties"]
    partial = twilio.insights.v1.call_summaries.list(start_time="30d", processing_state="partial")
    assert partial and {s.processing_state for s in partial} == {"partial"}


def test_twilio_python_fetches_one_call_summary(twilio: Client, insights: httpx.Client) -> None:
    record = _all(insights)[3]
    summary = twilio.insights.v1.calls(record["call_sid"]).summary().fetch()
    assert summary.call_sid == record["call_sid"]
    assert summary.duration == record["duration"]
    assert summary.connect_duration == record["connect_duration"]
    assert summary.carrier_edge == record["carrier_edge"]
    assert summary.to == record["to"]
