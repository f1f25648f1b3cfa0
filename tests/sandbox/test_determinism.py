"""Same seed and options, same bytes; and the synthetic history looks like a real call log."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from connect_notebook.sandbox import Sandbox

OPTIONS: dict[str, Any] = {"seed": 11, "calls_per_account": 500, "days": 10, "now": "2026-11-01T12:00:00Z"}
# E.164 country calling codes of the counterparts we expect to see (longest match first).
CALLING_CODES = ("+1", "+44", "+49", "+33", "+52", "+91", "+61", "+55")
# What answering machine detection reports (Twilio's AnsweredBy values).
AMD_RESULTS = {"human", "machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other",
               "fax", "unknown"}


@pytest.fixture(scope="module")
def twins() -> Iterator[tuple[Sandbox, Sandbox]]:
    """Two sandboxes with identical options, each on its own port."""
    with Sandbox(**OPTIONS) as first, Sandbox(**OPTIONS) as second:
        yield first, second


@pytest.fixture(scope="module")
def other_seed() -> Iterator[Sandbox]:
    with Sandbox(**{**OPTIONS, "seed": 12}) as sb:
        yield sb


def fetch_all(sb: Sandbox) -> dict[str, bytes]:
    """Fetch a fixed set of resources as the first customer; bodies with the origin masked."""
    customer = sb.customer_account_sids[0]
    sb.authorize(customer)
    base = f"/2010-04-01/Accounts/{customer}"
    origin = sb.url.encode()
    bodies: dict[str, bytes] = {}
    with httpx.Client(base_url=sb.api_url, auth=(customer, sb.owner_auth_token)) as client:

        def get(name: str, path: str, **params: Any) -> dict[str, Any]:
            response = client.get(path, params=params)
            assert response.status_code == 200, (name, response.text)
            bodies[name] = response.content.replace(origin, b"ORIGIN")
            return response.json()

        calls = get("calls-page-0", f"{base}/Calls.json", PageSize=50)
        get("calls-page-1", calls["next_page_uri"])
        get("calls-busy", f"{base}/Calls.json", Status="busy", PageSize=20)
        get("calls-children", f"{base}/Calls.json", ParentCallSid=next(
            c["parent_call_sid"] for c in sb.calls(customer) if c["parent_call_sid"]))
        get("call", f"{base}/Calls/{calls['calls'][17]['sid']}.json")
        messages = get("messages", f"{base}/Messages.json", PageSize=50)
        get("message", f"{base}/Messages/{messages['messages'][3]['sid']}.json")
        get("usage-daily", f"{base}/Usage/Records/Daily.json", Category="calls")
        get("usage-all", f"{base}/Usage/Records.json")
        get("account", f"{base}.json")
        alerts = get("alerts", "/v1/Alerts", PageSize=20)
        assert origin in client.get("/v1/Alerts", params={"PageSize": 20}).content  # masking was not vacuous
        get("alert", f"/v1/Alerts/{alerts['alerts'][0]['sid']}")
    return bodies


def test_same_seed_gives_byte_identical_responses(twins: tuple[Sandbox, Sandbox]) -> None:
    first, second = twins
    assert first.port != second.port

    a, b = fetch_all(first), fetch_all(second)

    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name


def test_same_seed_gives_same_sids_token_and_connect_app(twins: tuple[Sandbox, Sandbox]) -> None:
    first, second = twins

    assert first.owner_account_sid == second.owner_account_sid
    assert first.customer_account_sids == second.customer_account_sids
    assert first.owner_auth_token == second.owner_auth_token
    assert first.connect_app_sid == second.connect_app_sid
    for customer in first.customer_account_sids:
        assert first.calls(customer) == second.calls(customer)
        assert first.messages(customer) == second.messages(customer)


def test_api_serves_the_ground_truth(twins: tuple[Sandbox, Sandbox]) -> None:
    sb = twins[0]
    customer = sb.customer_account_sids[1]
    sb.authorize(customer)
    with httpx.Client(base_url=sb.api_url, auth=(customer, sb.owner_auth_token)) as client:
        page = client.get(f"/2010-04-01/Accounts/{customer}/Calls.json", params={"PageSize": 100}).json()

    assert page["calls"] == sb.calls(customer)[:100]


def test_different_seed_gives_different_data(twins: tuple[Sandbox, Sandbox], other_seed: Sandbox) -> None:
    first = twins[0]

    assert first.owner_account_sid != other_seed.owner_account_sid
    assert not set(first.customer_account_sids) & set(other_seed.customer_account_sids)
    assert first.owner_auth_token != other_seed.owner_auth_token
    assert first.connect_app_sid != other_seed.connect_app_sid
    sids = {c["sid"] for c in first.calls(first.customer_account_sids[0])}
    other_sids = {c["sid"] for c in other_seed.calls(other_seed.customer_account_sids[0])}
    assert not sids & other_sids
    a, b = fetch_all(first), fetch_all(other_seed)
    for name in ("calls-page-0", "messages", "usage-daily", "alerts"):
        assert a[name] != b[name], name


# --- realistic ground truth ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def history(twins: tuple[Sandbox, Sandbox]) -> dict[str, list[dict[str, Any]]]:
    """Every customer's calls from the seed-11 sandbox."""
    sb = twins[0]
    return {sid: sb.calls(sid) for sid in sb.customer_account_sids}


def _all(history: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [c for calls in history.values() for c in calls]


def test_history_has_the_requested_size_newest_first(
    twins: tuple[Sandbox, Sandbox], history: dict[str, list[dict[str, Any]]]
) -> None:
    for sid, calls in history.items():
        assert len(calls) == OPTIONS["calls_per_account"]
        assert {c["account_sid"] for c in calls} == {sid}
        assert len({c["sid"] for c in calls}) == len(calls)
        starts = [parsedate_to_datetime(c["start_time"]) for c in calls]
        assert starts == sorted(starts, reverse=True)


def test_history_has_every_final_status_and_direction(history: dict[str, list[dict[str, Any]]]) -> None:
    calls = _all(history)

    assert {"completed", "busy", "no-answer", "failed", "canceled"} <= {c["status"] for c in calls}
    assert {"inbound", "outbound-api", "outbound-dial"} <= {c["direction"] for c in calls}


def test_child_legs_point_to_a_parent_in_the_same_account(history: dict[str, list[dict[str, Any]]]) -> None:
    children = 0
    for calls in history.values():
        by_sid = {c["sid"]: c for c in calls}
        for call in calls:
            if call["parent_call_sid"] is None:
                continue
            children += 1
            parent = by_sid[call["parent_call_sid"]]
            assert call["direction"] == "outbound-dial"
            assert parent["parent_call_sid"] is None
            assert parsedate_to_datetime(call["start_time"]) >= parsedate_to_datetime(parent["start_time"])

    assert children >= 20


def _calling_code(number: str) -> str | None:
    longest_first = sorted(CALLING_CODES, key=len, reverse=True)
    return next((code for code in longest_first if number.startswith(code)), None)


def test_counterparts_are_in_several_countries(history: dict[str, list[dict[str, Any]]]) -> None:
    counterparts = [c["from"] if c["direction"] == "inbound" else c["to"] for c in _all(history)]
    codes = [_calling_code(n) for n in counterparts]

    assert all(n.startswith("+") for n in counterparts)
    assert len(set(codes) - {None}) >= 4
    assert codes.count("+1") < len(codes)


def test_answered_by_is_set_on_some_outbound_calls_only(history: dict[str, list[dict[str, Any]]]) -> None:
    calls = _all(history)
    answered = [c for c in calls if c["answered_by"] is not None]

    assert answered
    assert len(answered) < len(calls) / 2
    assert {c["direction"] for c in answered} <= {"outbound-api", "outbound-dial"}
    assert {c["status"] for c in answered} == {"completed"}
    assert {c["answered_by"] for c in answered} <= AMD_RESULTS


def test_durations_are_long_tailed(history: dict[str, list[dict[str, Any]]]) -> None:
    durations = [int(c["duration"]) for c in _all(history) if c["status"] == "completed"]

    assert len(durations) > 100
    assert min(durations) >= 1
    assert max(durations) > 10 * statistics.median(durations)


def test_completed_calls_cost_money_and_unanswered_ones_have_no_duration(
    history: dict[str, list[dict[str, Any]]]
) -> None:
    for call in _all(history):
        if call["status"] == "completed":
            assert isinstance(call["price"], str)
            assert call["price"].startswith("-")
            assert Decimal(call["price"]) < 0
            assert call["price_unit"] == "USD"
            assert call["end_time"] is not None
        elif call["status"] in ("busy", "failed", "no-answer"):
            assert call["duration"] is None
