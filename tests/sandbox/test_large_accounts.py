"""Large accounts: 100,000 calls page out exactly; 1,000,000 calls are served without rendering them first."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connect_notebook.sandbox import Profile, Sandbox

NOW = "2026-11-01T12:00:00Z"


def _solo(calls: int) -> list[Profile]:
    """One customer of one dense account with ``calls`` calls over 90 days."""
    return [Profile(name="Solo", pattern="dense", days=90, calls=calls)]


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    with Sandbox(seed=5, customers=_solo(100_000), now=NOW) as sb:
        sb.authorize(sb.customer_account_sids[0])
        yield sb


def _connected(sb: Sandbox) -> str:
    sid = sb.connected_sid(sb.customer_account_sids[0])
    assert sid is not None
    return sid


@pytest.mark.slow
def test_httpx_pages_through_100000_calls_and_gets_exactly_the_ground_truth(big: Sandbox) -> None:
    customer = big.customer_account_sids[0]
    got = []
    with httpx.Client(base_url=big.api_url, auth=(_connected(big), big.owner_auth_token), timeout=60) as client:
        uri: str | None = f"/2010-04-01/Accounts/{customer}/Calls.json?PageSize=1000"
        while uri:
            page = client.get(uri).raise_for_status().json()
            got.extend(page["calls"])
            uri = page["next_page_uri"]
    truth = big.calls(customer)
    assert len(truth) == 100_000
    assert len({c["sid"] for c in got}) == len(got) == 100_000
    assert got == truth


@pytest.mark.slow
def test_twilio_python_pages_through_100000_calls_and_gets_exactly_the_ground_truth(big: Sandbox) -> None:
    from twilio.rest import Client

    customer = big.customer_account_sids[0]
    client = Client(_connected(big), big.owner_auth_token)
    client.api.base_url = big.api_url
    sids = [call.sid for call in client.api.v2010.accounts(customer).calls.stream(page_size=1000)]
    assert sids == [c["sid"] for c in big.calls(customer)]


def test_a_million_call_account_serves_pages_without_generating_its_whole_history() -> None:
    with Sandbox(seed=9, customers=_solo(1_000_000), now=NOW) as sb:
        customer = sb.customer_account_sids[0]
        connected = sb.authorize(customer)
        with httpx.Client(base_url=sb.api_url, auth=(connected, sb.owner_auth_token), timeout=60) as client:
            newest = client.get(f"/2010-04-01/Accounts/{customer}/Calls.json", params={"PageSize": 1000})
            one_day = client.get(
                f"/2010-04-01/Accounts/{customer}/Calls.json",
                params={"PageSize": 1000, "StartTime": "2026-09-15"},
            )
            sid = one_day.json()["calls"][0]["sid"]
            fetched = client.get(f"/2010-04-01/Accounts/{customer}/Calls/{sid}.json")
        assert newest.status_code == one_day.status_code == fetched.status_code == 200
        assert len(newest.json()["calls"]) == len(one_day.json()["calls"]) == 1000
        assert fetched.json()["start_time"].startswith("Tue, 15 Sep 2026")
        generated_days = sb.state.data(customer).days_generated()
        assert 1 <= generated_days <= 3  # of 91
