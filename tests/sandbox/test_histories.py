"""Customers' histories look like real ones: dense, sparse with campaigns, growing; closed accounts stop.

The default customers (``default_profiles``) at the default 20,000 calls each:
a young dense dental group, a logistics firm over eight years old whose traffic is
dormant months and campaigns (one day holds more than 10,000 calls), and a travel
agency growing for almost three years across subaccounts created later, one of
them closed. Per-day counts come from the sandbox's own ground truth
(``sb.state.data(sid)._call_counts``, ordinal -> count); records always come over
loopback through the REST API with the Connect App's credentials.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connect_notebook.sandbox import Profile, Sandbox

NOW = "2026-11-01T12:00:00+00:00"
NOW_DT = datetime.fromisoformat(NOW)
SPARSE, GROWING = 1, 2  # positions of the default customers


@pytest.fixture(scope="module")
def defaults() -> Iterator[Sandbox]:
    """The three default customers at the default size, with the Connect App authorized for each."""
    # Whole histories listed: these tests read old histories through the calls list.
    with Sandbox(seed=7, now=NOW, call_retention_days=7320) as sb:
        for customer in sb.customer_account_sids:
            sb.authorize(customer)
        yield sb


def connect_client(sb: Sandbox, customer: str) -> httpx.Client:
    sid = sb.connected_sid(customer)
    assert sid is not None
    return httpx.Client(base_url=sb.api_url, auth=(sid, sb.owner_auth_token), timeout=60)


def walk(client: httpx.Client, url: str, params: Any = None) -> list[dict[str, Any]]:
    """Every page of a 2010 list, following next_page_uri."""
    pages = [client.get(url, params=params).raise_for_status().json()]
    while pages[-1]["next_page_uri"] is not None:
        assert len(pages) < 1_000
        pages.append(client.get(pages[-1]["next_page_uri"]).raise_for_status().json())
    return pages


def utc(rfc2822: str) -> datetime:
    return parsedate_to_datetime(rfc2822).astimezone(UTC)


def counts(sb: Sandbox, sid: str) -> dict[int, int]:
    """Calls per UTC day (date ordinal) of one account, from the sandbox's ground truth."""
    return dict(sb.state.data(sid)._call_counts)


def month_of(ordinal: int) -> tuple[int, int]:
    d = date.fromordinal(ordinal)
    return d.year, d.month


# --- the sparse customer ----------------------------------------------------------------


@pytest.fixture(scope="module")
def sparse(defaults: Sandbox) -> str:
    customer = defaults.customer_account_sids[SPARSE]
    assert defaults.profiles[SPARSE].pattern == "sparse"
    return customer


def test_the_sparse_customer_is_more_than_eight_years_old(defaults: Sandbox, sparse: str) -> None:
    with connect_client(defaults, sparse) as client:
        account = client.get(f"/2010-04-01/Accounts/{sparse}.json").raise_for_status().json()
        oldest = walk(
            client,
            f"/2010-04-01/Accounts/{sparse}/Calls.json",
            {"PageSize": 1000, "StartTime<": (NOW_DT.date() - timedelta(days=8 * 365)).isoformat()},
        )
    created = utc(account["date_created"])
    assert created <= NOW_DT - timedelta(days=8 * 365)
    # The history really goes back that far: calls older than eight years are listed.
    calls = [c for page in oldest for c in page["calls"]]
    assert calls
    assert all(created <= utc(c["start_time"]) < NOW_DT - timedelta(days=8 * 365 - 1) for c in calls)


def test_the_sparse_customer_has_dormant_months_with_no_call_at_all(defaults: Sandbox, sparse: str) -> None:
    per_day = counts(defaults, sparse)
    months: Counter[tuple[int, int]] = Counter()
    for ordinal, n in per_day.items():
        months[month_of(ordinal)] += n
    first, last = month_of(min(per_day)), month_of(max(per_day))
    # Whole calendar months inside its life (not its first or last, which are partial).
    dormant = sorted(m for m, n in months.items() if n == 0 and first < m < last)
    assert len(dormant) >= 6
    # The API agrees: nothing in the log for a dormant month, and its calls usage is zero.
    year, month = dormant[len(dormant) // 2]
    start, end = date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)
    with connect_client(defaults, sparse) as client:
        listed = client.get(
            f"/2010-04-01/Accounts/{sparse}/Calls.json",
            params={"StartTime>": start.isoformat(), "StartTime<": end.isoformat()},
        ).json()
        usage = client.get(
            f"/2010-04-01/Accounts/{sparse}/Usage/Records/Monthly.json",
            params={
                "Category": "calls",
                "StartDate": start.isoformat(),
                "EndDate": (end - timedelta(days=1)).isoformat(),
            },
        ).json()
    assert listed["calls"] == []
    assert [(r["start_date"], r["count"]) for r in usage["usage_records"]] == [(start.isoformat(), "0")]


def test_the_sparse_customer_has_campaign_days_at_50_times_its_median_day(defaults: Sandbox, sparse: str) -> None:
    active = [n for n in counts(defaults, sparse).values() if n > 0]
    median = statistics.median(active)
    campaigns = [n for n in active if n >= 50 * median]
    # The one burst day, and several campaign days besides it.
    assert len(campaigns) >= 5
    assert len(campaigns) < len(active) / 20


@pytest.mark.slow
def test_the_sparse_customers_biggest_day_pages_out_exactly(defaults: Sandbox, sparse: str) -> None:
    per_day = counts(defaults, sparse)
    day, biggest = max(per_day.items(), key=lambda kv: kv[1])
    assert biggest > 10_000
    assert biggest > sum(per_day.values()) / 2  # one day holds most of the calls
    when = date.fromordinal(day)
    truth = [c for c in defaults.calls(sparse) if utc(c["start_time"]).date() == when]

    with connect_client(defaults, sparse) as client:
        pages = walk(
            client, f"/2010-04-01/Accounts/{sparse}/Calls.json", {"StartTime": when.isoformat(), "PageSize": 1000}
        )

    assert len(pages) == -(-biggest // 1000)
    got = [c for page in pages for c in page["calls"]]
    assert len(got) == len(truth) == biggest
    assert got == truth


# --- the growing customer -----------------------------------------------------------------


@pytest.fixture(scope="module")
def growing(defaults: Sandbox) -> str:
    customer = defaults.customer_account_sids[GROWING]
    assert defaults.profiles[GROWING].pattern == "growing"
    return customer


@pytest.fixture(scope="module")
def growing_family(defaults: Sandbox, growing: str) -> list[dict[str, Any]]:
    """The growing customer's family as the Connect App lists it."""
    with connect_client(defaults, growing) as client:
        return client.get("/2010-04-01/Accounts.json").raise_for_status().json()["accounts"]  # type: ignore[no-any-return]


def test_the_growing_customers_last_year_has_several_times_its_first_years_calls(
    defaults: Sandbox, growing: str
) -> None:
    family = defaults.family(growing)
    per_day: Counter[int] = Counter()
    for sid in family:
        per_day.update(counts(defaults, sid))
    born, today = min(per_day), max(per_day)
    assert today - born > 2 * 365
    first_year = sum(per_day[d] for d in range(born, born + 365))
    last_year = sum(per_day[d] for d in range(today - 364, today + 1))
    assert last_year >= 3 * first_year > 0
    assert sum(per_day.values()) == defaults.profiles[GROWING].calls


def test_the_growing_customer_has_subaccounts_created_more_than_a_year_after_it(
    growing_family: list[dict[str, Any]],
) -> None:
    main, *subaccounts, connect = growing_family
    created = [utc(a["date_created"]) for a in subaccounts]
    assert len(subaccounts) == 3
    assert created == sorted(created)  # listed oldest first
    assert any(c - utc(main["date_created"]) > timedelta(days=365) for c in created)
    assert all(c >= utc(main["date_created"]) for c in created)
    assert utc(connect["date_created"]) == NOW_DT  # made when the customer authorized the app


def test_a_subaccount_created_later_has_no_call_before_its_creation(
    defaults: Sandbox, growing: str, growing_family: list[dict[str, Any]]
) -> None:
    latest = growing_family[-2]
    created = utc(latest["date_created"])
    with connect_client(defaults, growing) as client:
        pages = walk(client, f"/2010-04-01/Accounts/{latest['sid']}/Calls.json", {"PageSize": 1000})
    calls = [c for page in pages for c in page["calls"]]
    assert calls
    assert min(utc(c["start_time"]) for c in calls) >= created


def test_the_closed_subaccount_is_closed_and_has_no_call_after_its_closing(
    defaults: Sandbox, growing: str, growing_family: list[dict[str, Any]]
) -> None:
    [closed] = [a for a in growing_family if a["status"] == "closed"]
    assert closed["sid"] == growing_family[1]["sid"]  # the oldest subaccount
    closing = utc(closed["date_updated"])  # when it was closed
    assert utc(closed["date_created"]) < closing < NOW_DT - timedelta(days=30)
    with connect_client(defaults, growing) as client:
        fetched = client.get(f"/2010-04-01/Accounts/{closed['sid']}.json").raise_for_status().json()
        pages = walk(client, f"/2010-04-01/Accounts/{closed['sid']}/Calls.json", {"PageSize": 1000})
        later = client.get(
            f"/2010-04-01/Accounts/{closed['sid']}/Calls.json",
            params={"StartTime>": (closing.date() + timedelta(days=1)).isoformat()},
        ).json()

    assert (fetched["status"], fetched["date_updated"]) == ("closed", closed["date_updated"])
    calls = [c for page in pages for c in page["calls"]]
    assert len(calls) > 100
    assert [c["sid"] for c in calls] == [c["sid"] for c in defaults.calls(closed["sid"])]
    assert max(utc(c["start_time"]) for c in calls) <= closing
    # It was busy until it closed: its history does not stop early.
    assert max(utc(c["start_time"]) for c in calls) > closing - timedelta(days=30)
    assert later["calls"] == []


# --- every account's records are consistent with its life -------------------------------------


def test_every_call_starts_within_its_accounts_life_and_messages_are_sent_after_they_are_created(
    sandbox: Sandbox,
) -> None:
    for customer in sandbox.customer_account_sids:
        for sid in sandbox.family(customer):
            account = sandbox.state.account(sid)
            assert account is not None
            life = (
                datetime.fromtimestamp(account.created, UTC),
                datetime.fromtimestamp(account.end(sandbox.state.now), UTC),
            )
            starts = [utc(c["start_time"]) for c in sandbox.calls(sid)]
            assert starts == sorted(starts, reverse=True), sid  # newest first, as listed
            assert all(life[0] <= s <= life[1] for s in starts), sid
            for m in sandbox.messages(sid):
                assert utc(m["date_created"]) <= utc(m["date_sent"]) <= life[1], m["sid"]


def test_each_days_calls_are_listed_under_that_day(sandbox: Sandbox, customer: str, api: httpx.Client) -> None:
    # The first (partial) day of each account is where a creation time in mid-day matters.
    for sid in sandbox.family(customer)[:-1]:
        data = sandbox.state.data(sid)
        for ordinal in (data.first_day, data.first_day + 1, data.last_day):
            day = date.fromordinal(ordinal)
            pages = walk(
                api, f"/2010-04-01/Accounts/{sid}/Calls.json", {"StartTime": day.isoformat(), "PageSize": 1000}
            )
            listed = [c for page in pages for c in page["calls"]]
            assert len(listed) == data.calls_count(ordinal), (sid, day)
            assert {utc(c["start_time"]).date() for c in listed} <= {day}


# --- a ten-year account starts instantly ----------------------------------------------------


def test_a_ten_year_account_serves_its_first_page_generating_only_the_days_it_needs() -> None:
    decade = Profile(name="Decade", pattern="sparse", days=3652, calls=5_000)
    with Sandbox(seed=7, customers=[decade], now=NOW, call_retention_days=7320) as sb:
        customer = sb.customer_account_sids[0]
        data = sb.state.data(customer)
        assert data.days_generated() == 0  # constructing it generated nothing
        # The days a first page of 50 needs: newest first, until 51 calls (one more, to know
        # that a next page exists); the ones among them that have calls must be generated.
        needed, with_calls, seen = 0, 0, 0
        for ordinal in data.days_desc:
            n = data.calls_count(ordinal)
            needed, with_calls, seen = needed + 1, with_calls + (n > 0), seen + n
            if seen > 50:
                break
        sb.authorize(customer)
        with connect_client(sb, customer) as client:
            page = client.get(f"/2010-04-01/Accounts/{customer}/Calls.json").raise_for_status().json()
        generated = data.days_generated()
        truth = sb.calls(customer)  # renders every day: only after counting

    assert with_calls <= generated <= needed
    assert with_calls > 0
    assert needed < len(data.days_desc) / 10  # a fraction of its 3,653 days
    assert page["calls"] == truth[:50]
    assert page["next_page_uri"] is not None


# --- any small family: every account's history lies within its life ----------------------------


@st.composite
def families(draw: st.DrawFn) -> Profile:
    """A small customer with subaccounts, some of them closed, of any pattern and age up to three years."""
    subaccounts = draw(st.integers(min_value=1, max_value=3))
    return Profile(
        name="Any",
        pattern=draw(st.sampled_from(["dense", "sparse", "growing"])),
        days=draw(st.integers(min_value=1, max_value=3 * 366)),
        calls=draw(st.integers(min_value=0, max_value=800)),
        messages=0,
        subaccounts=subaccounts,
        closed=draw(st.integers(min_value=0, max_value=subaccounts)),
        utc_offset=draw(st.integers(min_value=-12, max_value=14)),
    )


@settings(max_examples=25, deadline=None)
@given(profile=families(), seed=st.integers(min_value=0, max_value=2**16))
def test_any_familys_accounts_have_calls_only_within_their_lives(profile: Profile, seed: int) -> None:
    with Sandbox(seed=seed, customers=[profile], now=NOW, call_retention_days=7320) as sb:
        customer = sb.customer_account_sids[0]
        sb.authorize(customer)
        with connect_client(sb, customer) as client:
            accounts = client.get("/2010-04-01/Accounts.json").raise_for_status().json()["accounts"][:-1]
        lives = {
            a["sid"]: (utc(a["date_created"]), utc(a["date_updated"]) if a["status"] == "closed" else NOW_DT)
            for a in accounts
        }
        per_day = {sid: counts(sb, sid) for sid in lives}
        calls = {sid: sb.calls(sid) for sid in lives}

    assert sum(sum(days.values()) for days in per_day.values()) == profile.calls
    for sid, (born, ended) in lives.items():
        assert born < ended <= NOW_DT
        days = per_day[sid]
        # One count per UTC day of its life, from the day it was created to the day it ended.
        assert sorted(days) == list(
            range(born.date().toordinal(), (ended - timedelta(seconds=1)).date().toordinal() + 1)
        )
        assert len(calls[sid]) == sum(days.values())
        assert all(born <= utc(c["start_time"]) <= ended for c in calls[sid]), sid
