"""The official twilio-python client, pointed at the sandbox, sees the sandbox's ground truth.

Only ``client.api.base_url`` and ``client.monitor.base_url`` change; edge and region
stay unset, because twilio-python rewrites the host of every URL when they are set
(reference notes §5).

The client authenticates as the Connect subaccount the app received (notes §8.1),
so ``client.api.v2010.account`` is that subaccount, which has no history of its
own: the customer's calls are read under the main account's path,
``client.api.v2010.accounts(main).calls``. ``test_families.py`` walks every
account of a family this way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from connect_notebook.sandbox import Sandbox

Record = dict[str, Any]


@pytest.fixture(scope="module")
def truth(_sandbox_server: Sandbox) -> dict[str, list[Record]]:
    """The first customer's calls and messages as the API renders them (fixed by the seed)."""
    sid = _sandbox_server.customer_account_sids[0]
    return {"calls": _sandbox_server.calls(sid), "messages": _sandbox_server.messages(sid)}


def _client(sandbox: Sandbox, account_sid: str) -> Client:
    client = Client(account_sid, sandbox.owner_auth_token)
    client.api.base_url = sandbox.api_url
    client.monitor.base_url = sandbox.monitor_url
    return client


def _close(client: Client) -> None:
    session = getattr(client.http_client, "session", None)
    if session is not None:
        session.close()


@pytest.fixture
def twilio(sandbox: Sandbox, connected: str) -> Iterator[Client]:
    """twilio-python as the Connect App for ``customer``: its Connect subaccount's SID, the owner's Auth Token."""
    client = _client(sandbox, connected)
    try:
        yield client
    finally:
        _close(client)


@pytest.fixture
def main(twilio: Client, customer: str) -> Any:
    """The customer's main account as twilio-python addresses it: ``accounts(AC…)``."""
    return twilio.api.v2010.accounts(customer)


def _utc(rfc2822: str) -> datetime:
    return parsedate_to_datetime(rfc2822).astimezone(UTC)


# --- calls ------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1000, 50], ids=["page-size-1000", "page-size-50"])
def test_twilio_python_lists_every_call_in_ground_truth_order(
    page_size: int, main: Any, truth: dict[str, list[Record]]
) -> None:
    calls = main.calls.list(page_size=page_size)
    assert [c.sid for c in calls] == [c["sid"] for c in truth["calls"]]
    # The records come through parsed the way twilio-python parses the real API.
    first, expected = calls[0], truth["calls"][0]
    assert first.start_time == _utc(expected["start_time"])
    assert first.start_time.tzinfo is not None
    assert (first.price, first.duration, first.status) == (
        expected["price"],
        expected["duration"],
        expected["status"],
    )


def test_twilio_python_fetches_one_call(main: Any, truth: dict[str, list[Record]]) -> None:
    expected = next(c for c in truth["calls"] if c["parent_call_sid"] is not None and c["status"] == "completed")
    call = main.calls(expected["sid"]).fetch()
    assert call.sid == expected["sid"]
    assert call.parent_call_sid == expected["parent_call_sid"]
    assert call.direction == "outbound-dial"
    assert (call.status, call.duration, call.price) == ("completed", expected["duration"], expected["price"])
    assert call.start_time == _utc(expected["start_time"])
    assert call.end_time == _utc(expected["end_time"])
    assert call.to == expected["to"]
    assert call._from == expected["from"]  # twilio-python's own name for the `from` field


def test_twilio_python_filters_calls_by_date_and_status(main: Any, truth: dict[str, list[Record]]) -> None:
    lo, hi = date(2026, 10, 1), date(2026, 10, 15)
    # twilio-python sends these as StartTime%3E=2026-10-01T00:00:00Z and StartTime%3C=….
    calls = main.calls.list(start_time_after=lo, start_time_before=hi, status="completed", page_size=1000)
    expected = [
        c["sid"] for c in truth["calls"] if c["status"] == "completed" and lo <= _utc(c["start_time"]).date() < hi
    ]
    assert len(expected) > 50
    assert [c.sid for c in calls] == expected


def test_twilio_python_limit_stops_early(main: Any, truth: dict[str, list[Record]]) -> None:
    calls = main.calls.list(limit=120, page_size=50)
    assert [c.sid for c in calls] == [c["sid"] for c in truth["calls"][:120]]


# --- messages ----------------------------------------------------------------------


def test_twilio_python_lists_every_message_in_ground_truth_order(main: Any, truth: dict[str, list[Record]]) -> None:
    messages = main.messages.list(page_size=1000)
    assert [m.sid for m in messages] == [m["sid"] for m in truth["messages"]]
    failed = next(m for m in messages if m.error_code is not None)
    assert isinstance(failed.error_code, int)
    assert failed.status in ("undelivered", "failed")


# --- usage -------------------------------------------------------------------------


def test_twilio_python_lists_daily_usage_that_adds_up(main: Any, truth: dict[str, list[Record]]) -> None:
    lo, hi = date(2026, 10, 10), date(2026, 10, 20)
    # The main account's own usage: without include_subaccounts=False it adds up the family.
    records = main.usage.records.daily.list(category="calls", start_date=lo, end_date=hi, include_subaccounts=False)
    assert [r.start_date for r in records] == [date(2026, 10, d) for d in range(20, 9, -1)]
    for record in records:
        calls = [c for c in truth["calls"] if _utc(c["start_time"]).date() == record.start_date]
        assert record.category == "calls"
        assert int(record.count) == len(calls)
        # twilio-python turns the price string into a Decimal.
        assert record.price == sum((-Decimal(c["price"]) for c in calls if c["price"]), Decimal(0))


def test_twilio_python_reaches_usage_through_the_account_path(sandbox: Sandbox) -> None:
    # The shortcut is the authenticated account's usage: the owner's own here, since a
    # Connect subaccount has no history to bill.
    owner = _client(sandbox, sandbox.owner_account_sid)
    try:
        via_shortcut = owner.usage.records.last_month.list(category="totalprice")
        via_account = owner.api.v2010.account.usage.records.last_month.list(category="totalprice")
        via_sid = owner.api.v2010.accounts(sandbox.owner_account_sid).usage.records.last_month.list(
            category="totalprice"
        )
    finally:
        _close(owner)
    assert len(via_account) == 1
    assert [(r.category, r.price) for r in via_sid] == [(r.category, r.price) for r in via_account]
    assert (via_account[0].start_date, via_account[0].end_date) == (date(2026, 10, 1), date(2026, 10, 31))
    assert [(r.category, r.price) for r in via_shortcut] == [(r.category, r.price) for r in via_account]
    assert via_account[0].price > 0


# --- Monitor alerts --------------------------------------------------------------------


@pytest.fixture
def owner_twilio(monitored: Sandbox) -> Iterator[Client]:
    """twilio-python as the owner whose Monitor log has alerts (Monitor answers for the authenticated account)."""
    client = _client(monitored, monitored.owner_account_sid)
    try:
        yield client
    finally:
        _close(client)


def test_twilio_python_lists_alerts_through_absolute_next_page_urls(
    owner_twilio: Client, monitor_api: httpx.Client
) -> None:
    expected = monitor_api.get("/v1/Alerts", params={"PageSize": 1000}).json()["alerts"]
    assert len(expected) > 4
    alerts = owner_twilio.monitor.v1.alerts.list(page_size=2)
    assert [a.sid for a in alerts] == [a["sid"] for a in expected]
    assert all(a.date_created.tzinfo is not None for a in alerts)
    errors = owner_twilio.monitor.v1.alerts.list(log_level="error")
    assert [a.sid for a in errors] == [a["sid"] for a in expected if a["log_level"] == "error"]


def test_twilio_python_fetches_one_alert(owner_twilio: Client, monitored: Sandbox) -> None:
    listed = owner_twilio.monitor.v1.alerts.list(limit=1)[0]
    alert = owner_twilio.monitor.v1.alerts(listed.sid).fetch()
    assert (alert.sid, alert.error_code, alert.account_sid) == (
        listed.sid,
        listed.error_code,
        monitored.owner_account_sid,
    )


def test_twilio_python_with_connect_credentials_sees_the_connect_subaccounts_empty_log(twilio: Client) -> None:
    assert twilio.monitor.v1.alerts.list(page_size=50) == []


# --- account and Connect -------------------------------------------------------------


def test_twilio_python_fetches_the_connected_account(
    twilio: Client, sandbox: Sandbox, customer: str, connected: str
) -> None:
    account = twilio.api.v2010.account.fetch()
    assert account.sid == connected
    assert account.owner_account_sid == customer  # a subaccount under the customer's main account
    assert account.status == "active"
    assert account.auth_token is None  # never shown to Connect credentials
    assert isinstance(account.date_created, datetime)
    main = twilio.api.v2010.accounts(customer).fetch()
    assert (main.sid, main.owner_account_sid, main.auth_token) == (customer, customer, None)
    assert [a.sid for a in twilio.api.v2010.accounts.list()] == sandbox.family(customer)


def test_twilio_python_lists_authorized_connect_apps(main: Any, sandbox: Sandbox) -> None:
    # The app shows under the account that authorized it: the customer's main account.
    apps = main.authorized_connect_apps.list()
    assert [a.connect_app_sid for a in apps] == [sandbox.connect_app_sid]
    assert apps[0].permissions == ["get-all"]
    fetched = main.authorized_connect_apps(sandbox.connect_app_sid).fetch()
    assert fetched.connect_app_friendly_name == apps[0].connect_app_friendly_name


# --- refused credentials -----------------------------------------------------------


def _status_of(error: TwilioException) -> tuple[int, int]:
    """HTTP status and Twilio error code, wherever twilio-python put them."""
    if isinstance(error, TwilioRestException):
        return error.status, error.code
    # Page.process_response raises TwilioException("Unable to fetch page", response).
    response = error.args[1]
    return response.status_code, json.loads(response.text)["code"]


def test_revoked_customer_gets_401_from_twilio_python(
    twilio: Client, main: Any, sandbox: Sandbox, customer: str
) -> None:
    assert main.calls.list(limit=1)  # works while authorized
    sandbox.deauthorize(customer)
    with pytest.raises(TwilioException) as listing:
        main.calls.list(limit=1)
    assert _status_of(listing.value) == (401, 20003)
    with pytest.raises(TwilioRestException) as fetching:
        twilio.api.v2010.account.fetch()
    assert (fetching.value.status, fetching.value.code) == (401, 20003)


def test_never_authorized_customer_gets_401_from_twilio_python(sandbox: Sandbox) -> None:
    # The app holds no SID for this customer; its main account's SID with the owner's token is refused.
    client = _client(sandbox, sandbox.customer_account_sids[1])
    try:
        with pytest.raises(TwilioException) as listing:
            client.api.v2010.account.messages.list(limit=1)
    finally:
        _close(client)
    assert _status_of(listing.value) == (401, 20003)
