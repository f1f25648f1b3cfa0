"""Monitor Events (``/v1/Events``): the family's audit log, its filters, paging, window and errors.

A module sandbox of its own (same seed and clock as the session's) with every
customer authorized: Harbor Dental (free, 30 days), Northwind Logistics (on the
Enterprise Edition, 13 months) and Kestrel Travel. Twilio-python is pointed at it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.rest import Client

from connect_notebook.sandbox import Profile, Sandbox

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
Record = dict[str, Any]


@pytest.fixture(scope="module")
def audited() -> Iterator[Sandbox]:
    """Three customers of 2,000 calls, each authorized once with get-all."""
    with Sandbox(seed=7, calls_per_customer=2_000, now=NOW) as sb:
        for sid in sb.customer_account_sids:
            sb.authorize(sid)
        yield sb


def _client(sb: Sandbox, customer: str) -> httpx.Client:
    connected = sb.connected_sid(customer)
    assert connected is not None
    return httpx.Client(base_url=sb.monitor_url, auth=(connected, sb.owner_auth_token))


def _all(client: httpx.Client, **params: str | int) -> list[Record]:
    """Every event the credentials see, by following ``meta.next_page_url``."""
    body = client.get("/v1/Events", params={"PageSize": 1000, **params}).json()
    events = list(body["events"])
    while body["meta"]["next_page_url"]:
        body = client.get(body["meta"]["next_page_url"]).json()
        events += body["events"]
    return events


@pytest.fixture(scope="module")
def logs(audited: Sandbox) -> dict[str, list[Record]]:
    """Each customer's whole log as the Connect App sees it."""
    out = {}
    for sid in audited.customer_account_sids:
        with _client(audited, sid) as client:
            out[sid] = _all(client)
    return out


def _portable(events: list[Record]) -> list[Record]:
    """The events without their absolute URLs, which name the sandbox's port."""
    return [{k: v for k, v in e.items() if k not in ("url", "links")} for e in events]


def _date(event: Record) -> datetime:
    return datetime.strptime(event["event_date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_events_cover_the_family_newest_first(audited: Sandbox, logs: dict[str, list[Record]]) -> None:
    for customer, events in logs.items():
        family = set(audited.family(customer))
        assert {e["account_sid"] for e in events} <= family
        assert customer in {e["account_sid"] for e in events}
        keys = [(-_date(e).timestamp(), e["sid"]) for e in events]
        assert keys == sorted(keys)
        assert len({e["sid"] for e in events}) == len(events)


def test_events_use_twilio_event_types_and_sources(logs: dict[str, list[Record]]) -> None:
    events = [e for log in logs.values() for e in log]
    types = {e["event_type"] for e in events}
    assert {"phone-number.created", "phone-number.deleted", "user-session.created", "account.updated"} <= types
    assert "api-key.created" in types
    for e in events:
        assert e["event_type"].split(".")[0] == e["resource_type"]
        assert e["source"] in ("web", "api", "twilio")
        assert (e["source_ip_address"] is None) is (e["source"] == "twilio")
        assert (e["actor_sid"] is not None) is (e["actor_type"] == "user")


def test_the_connect_authorization_is_in_the_main_accounts_log(audited: Sandbox, logs: dict[str, list[Record]]) -> None:
    for customer, events in logs.items():
        [authorized] = [e for e in events if e["event_type"] == "authorized-connect-app.created"]
        assert authorized["account_sid"] == customer
        assert authorized["resource_sid"] == audited.connect_app_sid
        assert _date(authorized) == NOW
        assert authorized["event_data"]["permissions"] == ["get-all"]
        assert authorized["event_data"]["connect_subaccount_sid"] == audited.connected_sid(customer)


def test_revoking_and_authorizing_again_are_logged_in_order(sandbox: Sandbox, customer: str) -> None:
    assert sandbox.deauthorize(customer).callback_url is None
    sandbox.authorize(customer, ("get-all", "post-all"))
    with _client(sandbox, customer) as client:
        events = _all(client, ResourceSid=sandbox.connect_app_sid)
    kinds = [(e["event_type"], e["event_data"]["permissions"]) for e in events]
    assert sorted(kinds) == [
        ("authorized-connect-app.created", ["get-all"]),
        ("authorized-connect-app.created", ["get-all", "post-all"]),
        ("authorized-connect-app.deleted", ["get-all"]),
    ]
    sandbox.reset()  # the log of authorizations goes with them
    sandbox.authorize(customer)
    with _client(sandbox, customer) as client:
        assert len(_all(client, ResourceSid=sandbox.connect_app_sid)) == 1


def test_history_events_follow_from_the_accounts(audited: Sandbox, logs: dict[str, list[Record]]) -> None:
    """Subaccounts created inside the window log their creation and their numbers' purchase."""
    harbor = audited.customer_account_sids[0]
    for sid in audited.family(harbor):
        account = audited.state.account(sid)
        assert account is not None
        created = datetime.fromtimestamp(account.created, UTC)
        if account.role == "subaccount" and created >= NOW - timedelta(days=30):
            mine = [e for e in logs[harbor] if e["account_sid"] == sid]
            assert ("account.created", sid) in {(e["event_type"], e["resource_sid"]) for e in mine}
            bought = {e["resource_sid"] for e in mine if e["event_type"] == "phone-number.created"}
            assert {n.sid for n in account.numbers} <= bought


@given(data=st.data())
def test_each_filter_keeps_exactly_the_matching_events(
    data: st.DataObject, audited: Sandbox, logs: dict[str, list[Record]]
) -> None:
    customer = data.draw(st.sampled_from(audited.customer_account_sids))
    events = logs[customer]
    pick = data.draw(st.sampled_from(events))
    name, field = data.draw(
        st.sampled_from(
            [
                ("EventType", "event_type"),
                ("ResourceSid", "resource_sid"),
                ("SourceIpAddress", "source_ip_address"),
                ("ActorSid", "actor_sid"),
            ]
        ).filter(lambda f: pick[f[1]] is not None)
    )
    with _client(audited, customer) as client:
        got = _all(client, **{name: pick[field]})
    assert got == [e for e in events if e[field] == pick[field]]


@given(data=st.data())
def test_start_and_end_dates_bound_the_log_inclusively(
    data: st.DataObject, audited: Sandbox, logs: dict[str, list[Record]]
) -> None:
    customer = audited.customer_account_sids[0]
    events = logs[customer]
    a, b = sorted(data.draw(st.lists(st.sampled_from(events), min_size=2, max_size=2)), key=_date)
    with _client(audited, customer) as client:
        got = _all(client, StartDate=a["event_date"], EndDate=b["event_date"])
        whole_days = _all(client, StartDate=a["event_date"][:10], EndDate=b["event_date"][:10])
    assert got == [e for e in events if _date(a) <= _date(e) <= _date(b)]
    assert whole_days == [e for e in events if a["event_date"][:10] <= e["event_date"][:10] <= b["event_date"][:10]]


@pytest.mark.parametrize("page_size", [1, 7, 50])
def test_paging_through_next_page_urls_gives_the_whole_log(
    page_size: int, audited: Sandbox, logs: dict[str, list[Record]]
) -> None:
    customer = audited.customer_account_sids[2]
    with _client(audited, customer) as client:
        first = client.get("/v1/Events", params={"PageSize": page_size}).json()
        assert first["meta"]["key"] == "events"
        assert first["meta"]["page_size"] == page_size
        assert first["meta"]["url"].startswith(f"{audited.monitor_url}/v1/Events?")
        assert first["meta"]["previous_page_url"] is None
        assert _all(client, PageSize=page_size) == logs[customer]


def test_free_accounts_keep_30_days_and_paid_editions_13_months(
    audited: Sandbox, logs: dict[str, list[Record]]
) -> None:
    harbor, northwind, kestrel = audited.customer_account_sids
    for free in (harbor, kestrel):
        assert min(_date(e) for e in logs[free]) >= NOW - timedelta(days=30)
    oldest = min(_date(e) for e in logs[northwind])
    assert datetime(2025, 10, 1, tzinfo=UTC) <= oldest < NOW - timedelta(days=300)
    with _client(audited, harbor) as client:
        assert _all(client, EndDate=(NOW - timedelta(days=31)).date().isoformat()) == []


def test_a_paid_edition_adds_older_events_and_changes_none_of_the_last_30_days() -> None:
    profile = Profile(name="Harbor Dental Group", days=200, calls=500, subaccounts=1)
    logs = []
    for edition in (None, "security"):
        with Sandbox(seed=3, customers=[replace(profile, edition=edition)], now=NOW) as sb:
            customer = sb.customer_account_sids[0]
            sb.authorize(customer)
            with _client(sb, customer) as client:
                logs.append(_all(client))
    free, paid = logs
    recent = [e for e in paid if _date(e) >= NOW - timedelta(days=30)]
    assert _portable(recent) == _portable(free)
    assert len(paid) > len(free)


def test_the_owner_sees_its_own_log_only(audited: Sandbox) -> None:
    auth = (audited.owner_account_sid, audited.owner_auth_token)
    with httpx.Client(base_url=audited.monitor_url, auth=auth) as client:
        events = _all(client)
    assert events
    assert {e["account_sid"] for e in events} == {audited.owner_account_sid}


def test_fetching_an_event_returns_the_listed_record(audited: Sandbox, logs: dict[str, list[Record]]) -> None:
    customer = audited.customer_account_sids[1]
    with _client(audited, customer) as client:
        for event in logs[customer][:: max(len(logs[customer]) // 20, 1)]:
            response = client.get(f"/v1/Events/{event['sid']}")
            assert response.status_code == 200
            assert response.json() == event
            assert event["url"] == f"{audited.monitor_url}/v1/Events/{event['sid']}"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"StartDate": "yesterday"}, "StartDate"),
        ({"EndDate": "2026-13-01"}, "EndDate"),
        ({"ActorSid": "AC" + "0" * 32}, "ActorSid"),
        ({"ResourceSid": "PN123"}, "ResourceSid"),
        ({"PageSize": 1001}, "PageSize"),
        ({"EventType": "a", "PageToken": "nonsense", "Page": 1}, "PageToken"),
    ],
)
def test_bad_queries_get_twilios_400(params: dict[str, Any], fragment: str, audited: Sandbox) -> None:
    with _client(audited, audited.customer_account_sids[0]) as client:
        response = client.get("/v1/Events", params=params)
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["status"]) == (20001, 400)
    assert fragment in body["message"]


def test_unknown_event_and_bad_credentials_get_twilios_errors(audited: Sandbox) -> None:
    with _client(audited, audited.customer_account_sids[0]) as client:
        missing = client.get("/v1/Events/AE" + "0" * 32)
    assert (missing.status_code, missing.json()["code"]) == (404, 20404)
    main = audited.customer_account_sids[0]
    with httpx.Client(base_url=audited.monitor_url, auth=(main, audited.owner_auth_token)) as client:
        refused = client.get("/v1/Events")  # the main account's SID is not what the app was given
    assert (refused.status_code, refused.json()["code"]) == (401, 20003)


def test_a_revoked_app_is_refused(sandbox: Sandbox, customer: str, connected: str) -> None:
    sandbox.deauthorize(customer)
    with httpx.Client(base_url=sandbox.monitor_url, auth=(connected, sandbox.owner_auth_token)) as client:
        response = client.get("/v1/Events")
    assert (response.status_code, response.json()["code"]) == (401, 20003)


def test_the_log_is_the_same_for_the_same_seed(audited: Sandbox, logs: dict[str, list[Record]]) -> None:
    with Sandbox(seed=7, calls_per_customer=2_000, now=NOW) as again:
        customer = again.customer_account_sids[1]
        again.authorize(customer)
        with _client(again, customer) as client:
            replayed = _all(client)
    assert _portable(replayed) == _portable(logs[customer])


# --- twilio-python ------------------------------------------------------------------


@pytest.fixture(scope="module")
def twilio_events(audited: Sandbox) -> Iterator[Client]:
    """twilio-python as the Connect App for Northwind Logistics (13 months of events)."""
    connected = audited.connected_sid(audited.customer_account_sids[1])
    assert connected is not None
    client = Client(connected, audited.owner_auth_token)
    client.monitor.base_url = audited.monitor_url
    yield client
    session = getattr(client.http_client, "session", None)
    if session is not None:
        session.close()


def test_twilio_python_lists_and_filters_events(
    twilio_events: Client, audited: Sandbox, logs: dict[str, list[Record]]
) -> None:
    expected = logs[audited.customer_account_sids[1]]
    events = twilio_events.monitor.v1.events.list(page_size=100)
    assert [e.sid for e in events] == [e["sid"] for e in expected]
    assert all(e.event_date.tzinfo is not None for e in events)
    since = NOW - timedelta(days=10)
    recent = twilio_events.monitor.v1.events.list(event_type="phone-number.deleted", start_date=since)
    assert [e.sid for e in recent] == [
        e["sid"] for e in expected if e["event_type"] == "phone-number.deleted" and _date(e) >= since
    ]


def test_twilio_python_fetches_one_event(
    twilio_events: Client, logs: dict[str, list[Record]], audited: Sandbox
) -> None:
    listed = logs[audited.customer_account_sids[1]][3]
    event = twilio_events.monitor.v1.events(listed["sid"]).fetch()
    assert (event.sid, event.event_type, event.account_sid, event.event_data) == (
        listed["sid"],
        listed["event_type"],
        listed["account_sid"],
        listed["event_data"],
    )
