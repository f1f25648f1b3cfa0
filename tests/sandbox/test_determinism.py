"""Same seed and options, same bytes; and the synthetic history looks like a real call log.

Determinism covers the whole Connect picture: the family list, the Connect
subaccount's SID, and pages of every family account, for the default customers
and for explicit ``Profile``s.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from connect_notebook.sandbox import Profile, Sandbox

# 2,000 calls per family; the owner then has 200, enough for a few Monitor alerts.
# Whole histories listed (no call retention): these tests compare the API with the whole ground truth.
OPTIONS: dict[str, Any] = {
    "seed": 11,
    "calls_per_customer": 2_000,
    "days": 10,
    "now": "2026-11-01T12:00:00Z",
    "call_retention_days": 7320,
}
PROFILES = (
    Profile(name="Alder Dental", pattern="dense", days=40, calls=600, subaccounts=2),
    Profile(name="Birch Freight", pattern="sparse", days=900, calls=900, subaccounts=1),
    Profile(name="Cedar Tours", pattern="growing", days=500, calls=700, subaccounts=3, closed=2),
)
# E.164 country calling codes of the counterparts we expect to see (longest match first).
CALLING_CODES = ("+1", "+44", "+49", "+33", "+52", "+91", "+61", "+55")
# What answering machine detection reports (Twilio's AnsweredBy values).
AMD_RESULTS = {
    "human",
    "machine_start",
    "machine_end_beep",
    "machine_end_silence",
    "machine_end_other",
    "fax",
    "unknown",
}


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
    """Fetch a fixed set of resources as the first customer's Connect App; bodies with the origin masked.

    Alerts are fetched as the owner: Monitor answers for the authenticated account,
    and the Connect subaccount's own log is empty.
    """
    customer = sb.customer_account_sids[0]
    connected = sb.authorize(customer)
    base = f"/2010-04-01/Accounts/{customer}"
    sub = f"/2010-04-01/Accounts/{sb.family(customer)[1]}"
    origin = sb.url.encode()
    bodies: dict[str, bytes] = {}
    with (
        httpx.Client(base_url=sb.api_url, auth=(connected, sb.owner_auth_token)) as client,
        httpx.Client(base_url=sb.api_url, auth=(sb.owner_account_sid, sb.owner_auth_token)) as owner,
    ):

        def get(name: str, path: str, *, as_owner: bool = False, **params: Any) -> dict[str, Any]:
            response = (owner if as_owner else client).get(path, params=params)
            assert response.status_code == 200, (name, response.text)
            bodies[name] = response.content.replace(origin, b"ORIGIN")
            return response.json()

        get("family", "/2010-04-01/Accounts.json")
        get("connect-subaccount", f"/2010-04-01/Accounts/{connected}.json")
        sub_calls = get("subaccount-calls-page-0", f"{sub}/Calls.json", PageSize=20)
        get("subaccount-calls-page-1", sub_calls["next_page_uri"])
        get("subaccount-usage", f"{sub}/Usage/Records/Monthly.json")
        calls = get("calls-page-0", f"{base}/Calls.json", PageSize=50)
        get("calls-page-1", calls["next_page_uri"])
        get("calls-busy", f"{base}/Calls.json", Status="busy", PageSize=20)
        get(
            "calls-children",
            f"{base}/Calls.json",
            ParentCallSid=next(c["parent_call_sid"] for c in sb.calls(customer) if c["parent_call_sid"]),
        )
        get("call", f"{base}/Calls/{calls['calls'][17]['sid']}.json")
        messages = get("messages", f"{base}/Messages.json", PageSize=50)
        get("message", f"{base}/Messages/{messages['messages'][3]['sid']}.json")
        get("usage-daily", f"{base}/Usage/Records/Daily.json", Category="calls")
        get("usage-all", f"{base}/Usage/Records.json")
        get("usage-own", f"{base}/Usage/Records.json", IncludeSubaccounts="false")
        get("account", f"{base}.json")
        alerts = get("alerts", "/v1/Alerts", as_owner=True, PageSize=20)
        assert origin in owner.get("/v1/Alerts", params={"PageSize": 20}).content  # masking was not vacuous
        get("alert", f"/v1/Alerts/{alerts['alerts'][0]['sid']}", as_owner=True)
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
        assert first.authorize(customer) == second.authorize(customer)
        assert first.family(customer) == second.family(customer)
        for sid in first.family(customer):
            assert first.calls(sid) == second.calls(sid)
            assert first.messages(sid) == second.messages(sid)


@pytest.fixture(scope="module")
def profile_twins() -> Iterator[tuple[Sandbox, Sandbox]]:
    """Two sandboxes with the same seed and the same explicit profiles."""
    options = {"seed": 23, "customers": PROFILES, "now": OPTIONS["now"], "call_retention_days": 7320}
    with Sandbox(**options) as first, Sandbox(**options) as second:
        yield first, second


def _family_bodies(sb: Sandbox) -> dict[str, bytes]:
    """Every customer's family list, and the first two call pages and a message page of every family account.

    Named by position (customer ``i``, family member ``j``), so that two sandboxes can be compared.
    """
    bodies: dict[str, bytes] = {}
    for i, customer in enumerate(sb.customer_account_sids):
        connected = sb.authorize(customer)
        with httpx.Client(base_url=sb.api_url, auth=(connected, sb.owner_auth_token)) as client:
            family = client.get("/2010-04-01/Accounts.json").raise_for_status()
            bodies[f"{i}/Accounts"] = family.content
            for j, account in enumerate(family.json()["accounts"]):
                path = f"/2010-04-01/Accounts/{account['sid']}"
                first = client.get(f"{path}/Calls.json", params={"PageSize": 25}).raise_for_status()
                bodies[f"{i}.{j}/Calls/0"] = first.content
                if (link := first.json()["next_page_uri"]) is not None:
                    bodies[f"{i}.{j}/Calls/1"] = client.get(link).raise_for_status().content
                messages = client.get(f"{path}/Messages.json", params={"PageSize": 25}).raise_for_status()
                bodies[f"{i}.{j}/Messages/0"] = messages.content
    return bodies


def test_same_seed_and_profiles_give_byte_identical_family_lists_and_pages(
    profile_twins: tuple[Sandbox, Sandbox],
) -> None:
    first, second = profile_twins
    assert first.port != second.port

    a, b = _family_bodies(first), _family_bodies(second)

    # Three customers, each with its main account, subaccounts and Connect subaccount.
    assert sum(name.endswith("/Accounts") for name in a) == 3
    assert sum(name.endswith("/Calls/1") for name in a) >= 6
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name


def test_same_profiles_with_another_seed_give_other_sids_and_other_pages(
    profile_twins: tuple[Sandbox, Sandbox],
) -> None:
    with Sandbox(seed=24, customers=PROFILES, now=OPTIONS["now"], call_retention_days=7320) as other:
        a, b = _family_bodies(profile_twins[0]), _family_bodies(other)
        assert not set(profile_twins[0].customer_account_sids) & set(other.customer_account_sids)
    # The same shape (families, accounts with a second page), other contents; the Connect
    # subaccounts' empty pages differ too, by their SIDs.
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] != b[name], name


def test_api_serves_the_ground_truth(twins: tuple[Sandbox, Sandbox]) -> None:
    sb = twins[0]
    customer = sb.customer_account_sids[1]
    connected = sb.authorize(customer)
    with httpx.Client(base_url=sb.api_url, auth=(connected, sb.owner_auth_token)) as client:
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
    """The calls of every customer's every account (main account and subaccounts) from the seed-11 sandbox."""
    sb = twins[0]
    return {sid: sb.calls(sid) for customer in sb.customer_account_sids for sid in _members(sb, customer)}


def _members(sb: Sandbox, customer: str) -> list[str]:
    """A customer's main account and subaccounts: the family without the Connect subaccount (no history)."""
    return [sid for sid in sb.family(customer) if sid != sb.connected_sid(customer)]


def _all(history: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [c for calls in history.values() for c in calls]


def test_history_has_the_requested_size_newest_first(
    twins: tuple[Sandbox, Sandbox], history: dict[str, list[dict[str, Any]]]
) -> None:
    sb = twins[0]
    for customer in sb.customer_account_sids:
        # The family's calls add up to the requested size, whatever the split between accounts.
        assert sum(len(history[sid]) for sid in _members(sb, customer)) == OPTIONS["calls_per_customer"]
    for sid, calls in history.items():
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
    history: dict[str, list[dict[str, Any]]],
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
