"""``load_events``: the family's audit log as a typed frame, equal to the sandbox's own records.

The ground truth is built here from the raw JSON the sandbox serves (httpx, plain
Python: ``datetime.strptime`` and ``json.dumps``), not with the package's decoders.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import polars as pl
import pytest
from loader_support import total_requests
from polars.testing import assert_frame_equal

import connect_notebook as cn
from connect_notebook import ConfigError, ConnectApp
from connect_notebook._events import EVENT_SOURCES
from connect_notebook.sandbox import Sandbox

Record = dict[str, Any]
NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def _raw(sandbox: Sandbox, connected: str) -> list[Record]:
    """Every event the Connect credentials see, as the sandbox renders them."""
    with httpx.Client(base_url=sandbox.monitor_url, auth=(connected, sandbox.owner_auth_token)) as client:
        body = client.get("/v1/Events", params={"PageSize": 1000}).json()
        events = list(body["events"])
        while body["meta"]["next_page_url"]:
            body = client.get(body["meta"]["next_page_url"]).json()
            events += body["events"]
    return events


def _expected(records: list[Record]) -> pl.DataFrame:
    rows = [
        {
            "sid": r["sid"],
            "account_sid": r["account_sid"],
            "event_date": datetime.strptime(r["event_date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
            "event_type": r["event_type"],
            "resource_type": r["resource_type"],
            "resource_sid": r["resource_sid"],
            "actor_type": r["actor_type"],
            "actor_sid": r["actor_sid"],
            "source": r["source"],
            "source_ip_address": r["source_ip_address"],
            "description": r["description"],
            "event_data": None
            if r["event_data"] is None
            else json.dumps(r["event_data"], sort_keys=True, ensure_ascii=False),
        }
        for r in sorted(records, key=lambda r: (-datetime.fromisoformat(r["event_date"]).timestamp(), r["sid"]))
    ]
    schema = {
        "sid": pl.String,
        "account_sid": pl.String,
        "event_date": pl.Datetime("us", "UTC"),
        "event_type": pl.String,
        "resource_type": pl.String,
        "resource_sid": pl.String,
        "actor_type": pl.String,
        "actor_sid": pl.String,
        "source": pl.Enum(["web", "api", "twilio"]),
        "source_ip_address": pl.String,
        "description": pl.String,
        "event_data": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


@pytest.mark.parametrize("index", [0, 1, 2], ids=["dense", "paid-edition", "growing"])
def test_load_events_equals_the_ground_truth_for_the_family(index: int, sandbox: Sandbox, app: ConnectApp) -> None:
    customer = sandbox.customer_account_sids[index]
    connected = sandbox.authorize(customer)
    truth = _raw(sandbox, connected)
    frame = cn.load_events(connected, app=app)
    assert_frame_equal(frame, _expected(truth))
    assert frame.schema == cn.EVENTS_SCHEMA
    assert set(frame["account_sid"]) <= set(sandbox.family(customer))
    assert frame["event_date"].dtype == pl.Datetime("us", "UTC")


def test_load_events_keeps_the_accounts_asked_for(sandbox: Sandbox, app: ConnectApp, connected: str) -> None:
    customer = sandbox.customer_account_sids[0]
    frame = cn.load_events(connected, app=app, accounts=customer)
    expected = _expected([r for r in _raw(sandbox, connected) if r["account_sid"] == customer])
    assert_frame_equal(frame, expected)
    with pytest.raises(ValueError, match="must belong to the family"):
        cn.load_events(connected, app=app, accounts=sandbox.customer_account_sids[1])


def test_load_events_filters_and_range_match_the_ground_truth(
    sandbox: Sandbox, app: ConnectApp, connected: str
) -> None:
    truth = _raw(sandbox, connected)
    start, end = NOW - timedelta(days=12), NOW - timedelta(days=3, seconds=1)
    frame = cn.load_events(connected, app=app, start=start, end=end)
    assert_frame_equal(
        frame,
        _expected([r for r in truth if start <= datetime.fromisoformat(r["event_date"]) < end]),
    )
    at = truth[len(truth) // 2]
    exact = cn.load_events(connected, app=app, start=at["event_date"], end=at["event_date"])
    assert exact.height == 0  # [start, end) with start == end holds nothing
    kinds = cn.load_events(connected, app=app, event_type="phone-number.created")
    assert_frame_equal(kinds, _expected([r for r in truth if r["event_type"] == "phone-number.created"]))
    user = next(r["actor_sid"] for r in truth if r["actor_sid"] is not None)
    by_user = cn.load_events(connected, app=app, actor_sid=user, source_ip_address=None)
    assert_frame_equal(by_user, _expected([r for r in truth if r["actor_sid"] == user]))
    resource = cn.load_events(connected, app=app, resource_sid=sandbox.connect_app_sid)
    assert resource["event_type"].to_list() == ["authorized-connect-app.created"]
    permissions = resource["event_data"].str.json_path_match("$.permissions[0]").to_list()
    assert permissions == ["get-all"]


def test_load_events_after_now_is_an_empty_frame_without_a_request(
    sandbox: Sandbox, app: ConnectApp, connected: str
) -> None:
    before = total_requests(sandbox)
    frame = cn.load_events(connected, app=app, start=datetime.now(UTC) + timedelta(days=1))
    assert frame.height == 0
    assert frame.schema == cn.EVENTS_SCHEMA
    assert total_requests(sandbox) == before


def test_load_events_after_revocation_raises(sandbox: Sandbox, app: ConnectApp, customer: str, connected: str) -> None:
    sandbox.deauthorize(customer)
    with pytest.raises(cn.AuthorizationRevoked):
        cn.load_events(connected, app=app)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"start": "last week"}, ValueError, "start must be a date"),
        ({"start": 20261001}, TypeError, "start must be a datetime"),
        ({"start": "2026-10-10", "end": "2026-10-01"}, ValueError, "is before start"),
        ({"event_type": 3}, TypeError, "event_type must be a string"),
        ({"event_type": ""}, ValueError, "event_type must be a value"),
        ({"event_type": " account.updated"}, ValueError, "without surrounding spaces"),
        ({"actor_sid": "AC" + "0" * 32}, ValueError, "actor_sid must be a user SID"),
        ({"actor_sid": ["US" + "0" * 32]}, TypeError, "actor_sid must be a string"),
        ({"resource_sid": "PN123"}, ValueError, "resource_sid must be a resource SID"),
        ({"source_ip_address": b"1.2.3.4"}, TypeError, "source_ip_address must be a string"),
        ({"accounts": []}, ValueError, "accounts is empty"),
        ({"retry": 3}, TypeError, "retry must be a RetryPolicy"),
    ],
)
def test_load_events_checks_its_arguments_before_any_request(
    kwargs: dict[str, Any], error: type[Exception], fragment: str, sandbox: Sandbox, app: ConnectApp, connected: str
) -> None:
    before = total_requests(sandbox)
    with pytest.raises(error, match=fragment):
        cn.load_events(connected, app=app, **kwargs)
    assert total_requests(sandbox) == before


def test_load_events_rejects_a_malformed_account_sid(app: ConnectApp) -> None:
    with pytest.raises(ConfigError, match="account must be 'AC'"):
        cn.load_events("AC123", app=app)


def test_the_schema_documents_twilios_sources() -> None:
    assert cn.EVENTS_SCHEMA["source"] == pl.Enum(list(EVENT_SOURCES))
    assert EVENT_SOURCES == ("web", "api", "twilio")
    assert cn.EVENTS_SCHEMA["event_data"] == pl.String
