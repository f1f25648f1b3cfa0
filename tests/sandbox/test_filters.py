"""List filters of Calls, Messages, Usage Records and Monitor Alerts, against ground truth.

Each expected result is computed here from ``Sandbox.calls()`` / ``Sandbox.messages()``
(the records exactly as the API renders them), parsing their RFC 2822 dates with
``email.utils``, so a filter that drops, adds or reorders a record fails.

The account filtered is one plain, busy account (2,000 calls over 90 days, no
subaccounts: a customer of one account), read with the Connect App's credentials,
so that every filter has records on either side of its boundary. Alerts are the
owner's (Monitor answers for the authenticated account only).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from connect_notebook.sandbox import Profile, Sandbox

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # the session sandbox's pinned clock
TODAY = NOW.date()
DAY = date(2026, 10, 15)  # a Thursday well inside the history
NOBODY = "+15005550000"  # a number that appears in no record

Record = dict[str, Any]


# --- ground truth -------------------------------------------------------------------


@pytest.fixture(scope="module")
def solo() -> Iterator[Sandbox]:
    """One customer of one dense account, 2,000 calls over 90 days, authorized (nothing here changes state)."""
    profile = Profile(name="Solo", pattern="dense", days=90, calls=2_000)
    with Sandbox(seed=7, customers=[profile], now=NOW) as sb:
        sb.authorize(sb.customer_account_sids[0])
        yield sb


@pytest.fixture(scope="module")
def account(solo: Sandbox) -> str:
    """The account whose lists are filtered: the customer's main (and only) account."""
    return solo.customer_account_sids[0]


@pytest.fixture(scope="module")
def api(solo: Sandbox, account: str) -> Iterator[httpx.Client]:
    """httpx as the Connect App for that customer (its Connect subaccount's SID, the owner's token)."""
    connected = solo.connected_sid(account)
    assert connected is not None and connected != account
    with httpx.Client(base_url=solo.api_url, auth=(connected, solo.owner_auth_token)) as client:
        yield client


@pytest.fixture(scope="module")
def truth(solo: Sandbox, account: str) -> dict[str, list[Record]]:
    """That account's calls and messages, newest first (fixed by the seed)."""
    return {"calls": solo.calls(account), "messages": solo.messages(account)}


def _moment(value: str) -> datetime:
    return parsedate_to_datetime(value).astimezone(UTC)


def _day(value: str | None) -> date | None:
    return None if value is None else _moment(value).date()


def _start(call: Record) -> date:
    day = _day(call["start_time"])
    assert day is not None
    return day


def _end(call: Record) -> date | None:
    return _day(call["end_time"])


def _sent(message: Record) -> date:
    day = _day(message["date_sent"])
    assert day is not None
    return day


def _fetch_all(client: httpx.Client, url: str, params: Any, key: str) -> list[Record]:
    """Every record of a 2010 list, following ``next_page_uri``."""
    response = client.get(url, params=[*_pairs(params), ("PageSize", "1000")])
    records: list[Record] = []
    for _ in range(100):
        assert response.status_code == 200, response.text
        body = response.json()
        records.extend(body[key])
        if body["next_page_uri"] is None:
            return records
        response = client.get(body["next_page_uri"])
    msg = f"next_page_uri of {url} never became null"
    raise AssertionError(msg)


def _pairs(params: Any) -> list[tuple[str, str]]:
    return list(params.items()) if isinstance(params, dict) else list(params)


def _sids(records: list[Record]) -> list[str]:
    return [r["sid"] for r in records]


def _calls(api: httpx.Client, account: str, params: Any) -> list[str]:
    return _sids(_fetch_all(api, f"/2010-04-01/Accounts/{account}/Calls.json", params, "calls"))


def _messages(api: httpx.Client, account: str, params: Any) -> list[str]:
    return _sids(_fetch_all(api, f"/2010-04-01/Accounts/{account}/Messages.json", params, "messages"))


def _assert_400(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) - {"details"} == {"code", "message", "more_info", "status"}
    assert body["status"] == 400


def _most_common(records: list[Record], field: str) -> str:
    return str(Counter(r[field] for r in records).most_common(1)[0][0])


# --- Calls: To, From, ParentCallSid, Status --------------------------------------------


@pytest.mark.parametrize("field", ["to", "from"], ids=["To", "From"])
@pytest.mark.parametrize("pick", ["most-common", "least-common", "nobody"])
def test_calls_number_filter_matches_ground_truth(
    field: str, pick: str, account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    counts = Counter(c[field] for c in truth["calls"]).most_common()
    number = {"most-common": counts[0][0], "least-common": counts[-1][0], "nobody": NOBODY}[pick]
    expected = [c for c in truth["calls"] if c[field] == number]
    assert (len(expected) > 0) is (pick != "nobody")
    assert _calls(api, account, {field.capitalize(): number}) == _sids(expected)


def test_calls_parent_call_sid_filter_returns_the_child_legs(
    account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    children = defaultdict(list)
    for call in truth["calls"]:
        if call["parent_call_sid"] is not None:
            children[call["parent_call_sid"]].append(call["sid"])
    assert len(children) > 10
    for parent in list(children)[:: len(children) // 5][:5]:
        assert _calls(api, account, {"ParentCallSid": parent}) == children[parent]
    childless = next(c["sid"] for c in truth["calls"] if c["sid"] not in children)
    assert _calls(api, account, {"ParentCallSid": childless}) == []
    assert _calls(api, account, {"ParentCallSid": "CA" + "0" * 32}) == []


STATUSES = ["queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"]


@pytest.mark.parametrize("status", STATUSES, ids=STATUSES)
def test_calls_status_filter_matches_ground_truth(
    status: str, account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    expected = [c for c in truth["calls"] if c["status"] == status]
    assert _calls(api, account, {"Status": status}) == _sids(expected)


@pytest.mark.parametrize("status", ["done", "in_progress"], ids=["done", "underscore"])
def test_calls_unknown_status_gives_400(status: str, account: str, api: httpx.Client) -> None:
    _assert_400(api.get(f"/2010-04-01/Accounts/{account}/Calls.json", params={"Status": status}))


# --- Calls: date filters ------------------------------------------------------------

DATE_FILTERS: dict[str, Callable[[Record, date], bool]] = {
    "StartTime": lambda c, d: _start(c) == d,
    "StartTime<": lambda c, d: _start(c) < d,
    "StartTime>": lambda c, d: _start(c) >= d,
    "EndTime": lambda c, d: _end(c) == d,
    "EndTime<": lambda c, d: (e := _end(c)) is not None and e < d,
    "EndTime>": lambda c, d: (e := _end(c)) is not None and e >= d,
}


@pytest.mark.parametrize("name", list(DATE_FILTERS), ids=list(DATE_FILTERS))
@pytest.mark.parametrize("day", [DAY, TODAY, date(2026, 8, 4)], ids=["mid-history", "today", "second-day"])
def test_calls_date_filter_matches_ground_truth(
    name: str, day: date, account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    expected = [c for c in truth["calls"] if DATE_FILTERS[name](c, day)]
    assert expected, f"no call matches {name}{day}; pick another day"
    assert _calls(api, account, {name: day.isoformat()}) == _sids(expected)


@pytest.fixture(scope="module")
def midnight_pair(truth: dict[str, list[Record]]) -> tuple[Record, Record, date]:
    """The call that started closest before a UTC midnight, the first call after it, and that day."""
    calls = truth["calls"]
    late = min(
        (c for c in calls if _start(c) < TODAY),
        key=lambda c: (
            datetime.combine(_start(c) + timedelta(days=1), datetime.min.time(), UTC) - _moment(c["start_time"])
        ),
    )
    day = _start(late) + timedelta(days=1)
    early = min((c for c in calls if _start(c) == day), key=lambda c: _moment(c["start_time"]))
    return late, early, day


def test_day_boundary_puts_2359_and_0000_on_the_right_side(
    midnight_pair: tuple[Record, Record, date], account: str, api: httpx.Client
) -> None:
    late, early, day = midnight_pair
    midnight = datetime.combine(day, datetime.min.time(), UTC)
    # The data has a call in the last minute of a day: the sharpest boundary it offers.
    assert timedelta(0) < midnight - _moment(late["start_time"]) <= timedelta(minutes=1)
    assert _moment(early["start_time"]) >= midnight

    before = set(_calls(api, account, {"StartTime<": day.isoformat()}))
    on_or_after = set(_calls(api, account, {"StartTime>": day.isoformat()}))
    on = set(_calls(api, account, {"StartTime": day.isoformat()}))
    day_before = set(_calls(api, account, {"StartTime": (day - timedelta(days=1)).isoformat()}))
    # StartTime< is strictly before the day's midnight (UTC); StartTime> is on or after it.
    assert late["sid"] in before and late["sid"] not in on_or_after
    assert early["sid"] in on_or_after and early["sid"] not in before
    assert early["sid"] in on and late["sid"] not in on
    assert late["sid"] in day_before and early["sid"] not in day_before
    assert not before & on_or_after


def test_call_crossing_midnight_starts_one_day_and_ends_the_next(
    account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    crossing = [c for c in truth["calls"] if _end(c) is not None and _end(c) != _start(c)]
    assert crossing, "the data has no call that crosses midnight"
    call = crossing[0]
    start, end = _start(call), _end(call)
    assert end is not None
    assert call["sid"] in _calls(api, account, {"StartTime": start.isoformat(), "EndTime": end.isoformat()})
    assert call["sid"] in _calls(api, account, {"EndTime>": end.isoformat(), "StartTime<": end.isoformat()})
    assert call["sid"] not in _calls(api, account, {"EndTime<": end.isoformat()})
    assert call["sid"] not in _calls(api, account, {"EndTime": start.isoformat()})
    expected = [c for c in truth["calls"] if _start(c) == start and _end(c) == end]
    assert _calls(api, account, {"StartTime": start.isoformat(), "EndTime": end.isoformat()}) == _sids(expected)


def test_calls_filter_combination_matches_ground_truth(
    account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    calls = truth["calls"]
    number = _most_common(calls, "from")
    lo, hi = date(2026, 9, 20), date(2026, 10, 20)
    expected = [c for c in calls if c["status"] == "completed" and c["from"] == number and lo <= _start(c) < hi]
    assert len(expected) > 5
    params = {
        "Status": "completed",
        "From": number,
        "StartTime>": lo.isoformat(),
        "StartTime<": hi.isoformat(),
    }
    assert _calls(api, account, params) == _sids(expected)


def test_calls_to_and_end_time_and_status_combination_matches_ground_truth(
    account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    calls = truth["calls"]
    number = _most_common(calls, "to")
    expected = [
        c for c in calls if c["to"] == number and c["status"] == "no-answer" and (e := _end(c)) is not None and e >= DAY
    ]
    assert expected
    params = {"To": number, "Status": "no-answer", "EndTime>": DAY.isoformat()}
    assert _calls(api, account, params) == _sids(expected)


def test_calls_parent_and_status_combination_matches_ground_truth(
    account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    child = next(c for c in truth["calls"] if c["parent_call_sid"] is not None)
    parent = child["parent_call_sid"]
    assert _calls(api, account, {"ParentCallSid": parent, "Status": child["status"]}) == [child["sid"]]
    other = next(s for s in STATUSES if s != child["status"])
    assert _calls(api, account, {"ParentCallSid": parent, "Status": other}) == []


def test_calls_empty_date_range_returns_nothing(account: str, api: httpx.Client) -> None:
    assert _calls(api, account, {"StartTime>": "2026-10-20", "StartTime<": "2026-10-10"}) == []
    assert _calls(api, account, {"StartTime": "2025-01-01"}) == []


# The same day in every form a client may send. The filters work on whole UTC days,
# so a time of day only selects the UTC day the instant falls on.
DATE_FORMS = [
    pytest.param("2026-10-15", DAY, id="yyyy-mm-dd"),
    pytest.param("2026-10-15T00:00:00Z", DAY, id="iso-midnight-z"),
    pytest.param("2026-10-15T23:59:59Z", DAY, id="iso-last-second-z"),
    pytest.param("2026-10-15T03:04:05+00:00", DAY, id="iso-utc-offset"),
    pytest.param("2026-10-15T22:00:00-05:00", DAY + timedelta(days=1), id="iso-negative-offset-next-utc-day"),
    pytest.param("Thu, 15 Oct 2026 00:00:00 +0000", DAY, id="rfc2822"),
    pytest.param("Thu, 15 Oct 2026 23:59:59 +0000", DAY, id="rfc2822-last-second"),
    pytest.param("Thu, 15 Oct 2026 22:00:00 -0500", DAY + timedelta(days=1), id="rfc2822-offset-next-utc-day"),
    pytest.param("Fri, 16 Oct 2026 01:00:00 +0200", DAY, id="rfc2822-offset-previous-utc-day"),
]


@pytest.mark.parametrize(("value", "day"), DATE_FORMS)
@pytest.mark.parametrize("name", ["StartTime", "EndTime"])
def test_calls_date_filter_accepts_every_date_form(
    value: str, day: date, name: str, account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    expected = [c for c in truth["calls"] if DATE_FILTERS[name](c, day)]
    assert expected
    assert _calls(api, account, {name: value}) == _sids(expected)


@pytest.mark.parametrize(
    ("name", "value", "day"),
    [
        # twilio-python sends a date as midnight UTC: StartTime%3E=2026-10-15T00:00:00Z.
        pytest.param("StartTime>", "2026-10-15T00:00:00Z", DAY, id="after-iso-z"),
        pytest.param("StartTime<", "2026-10-15T00:00:00Z", DAY, id="before-iso-z"),
        pytest.param("StartTime<", "2026-10-15T22:00:00-05:00", DAY + timedelta(days=1), id="before-iso-offset"),
        pytest.param("EndTime>", "Thu, 15 Oct 2026 10:00:00 +0000", DAY, id="end-after-rfc2822"),
        pytest.param("EndTime<", "Fri, 16 Oct 2026 01:00:00 +0200", DAY, id="end-before-rfc2822-offset"),
    ],
)
def test_calls_inequality_date_filter_accepts_iso_and_rfc2822(
    name: str, value: str, day: date, account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    expected = [c for c in truth["calls"] if DATE_FILTERS[name](c, day)]
    assert expected
    assert _calls(api, account, {name: value}) == _sids(expected)


BAD_DATES = [
    pytest.param("2026-13-01", id="month-13"),
    pytest.param("2026-02-30", id="february-30"),
    pytest.param("yesterday", id="word"),
    pytest.param("15/10/2026", id="day-first-no-time"),
    pytest.param("2026-10-15T25:00:00Z", id="hour-25"),
    pytest.param("Thu, 32 Oct 2026 00:00:00 +0000", id="rfc2822-day-32"),
    pytest.param("1760486400", id="epoch-seconds"),
]


@pytest.mark.parametrize("value", BAD_DATES)
@pytest.mark.parametrize("name", ["StartTime", "StartTime<", "EndTime>"])
def test_calls_bad_date_gives_400(value: str, name: str, account: str, api: httpx.Client) -> None:
    _assert_400(api.get(f"/2010-04-01/Accounts/{account}/Calls.json", params={name: value}))


# --- Messages ---------------------------------------------------------------------

MESSAGE_DATE_FILTERS: dict[str, Callable[[Record, date], bool]] = {
    "DateSent": lambda m, d: _sent(m) == d,
    "DateSent<": lambda m, d: _sent(m) <= d,  # on or before, unlike StartTime< for calls
    "DateSent>": lambda m, d: _sent(m) >= d,
}


@pytest.mark.parametrize("field", ["to", "from"], ids=["To", "From"])
def test_messages_number_filter_matches_ground_truth(
    field: str, account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    number = _most_common(truth["messages"], field)
    expected = [m for m in truth["messages"] if m[field] == number]
    assert len(expected) > 5
    assert _messages(api, account, {field.capitalize(): number}) == _sids(expected)
    assert _messages(api, account, {field.capitalize(): NOBODY}) == []


@pytest.mark.parametrize("name", list(MESSAGE_DATE_FILTERS), ids=list(MESSAGE_DATE_FILTERS))
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("2026-10-15", id="yyyy-mm-dd"),
        pytest.param("2026-10-15T18:30:00Z", id="iso"),
        pytest.param("Thu, 15 Oct 2026 12:00:00 +0000", id="rfc2822"),
    ],
)
def test_messages_date_sent_filter_matches_ground_truth(
    name: str, value: str, account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    expected = [m for m in truth["messages"] if MESSAGE_DATE_FILTERS[name](m, DAY)]
    assert expected
    assert _messages(api, account, {name: value}) == _sids(expected)


def test_messages_date_sent_on_or_before_includes_the_whole_day(
    account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    last_of_day = next(m for m in truth["messages"] if _sent(m) == DAY)  # newest first
    first_of_next = [m for m in truth["messages"] if _sent(m) == DAY + timedelta(days=1)][-1]
    sids = _messages(api, account, {"DateSent<": DAY.isoformat()})
    assert last_of_day["sid"] in sids
    assert first_of_next["sid"] not in sids
    assert first_of_next["sid"] in _messages(api, account, {"DateSent>": (DAY + timedelta(days=1)).isoformat()})


def test_messages_filter_combination_matches_ground_truth(
    account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    number = _most_common(truth["messages"], "from")
    lo, hi = date(2026, 9, 1), date(2026, 10, 10)
    expected = [m for m in truth["messages"] if m["from"] == number and lo <= _sent(m) <= hi]
    assert expected
    params = {"From": number, "DateSent>": lo.isoformat(), "DateSent<": hi.isoformat()}
    assert _messages(api, account, params) == _sids(expected)


@pytest.mark.parametrize("name", list(MESSAGE_DATE_FILTERS), ids=list(MESSAGE_DATE_FILTERS))
def test_messages_bad_date_gives_400(name: str, account: str, api: httpx.Client) -> None:
    _assert_400(api.get(f"/2010-04-01/Accounts/{account}/Messages.json", params={name: "2026-10-32"}))


# --- Usage Records ------------------------------------------------------------------

CATEGORIES = [
    "calls",
    "calls-inbound",
    "calls-outbound",
    "phonenumbers",
    "sms",
    "sms-inbound",
    "sms-outbound",
    "totalprice",
]


def _usage(api: httpx.Client, account: str, kind: str, params: Any = ()) -> list[Record]:
    path = f"/2010-04-01/Accounts/{account}/Usage/Records{'/' + kind if kind else ''}.json"
    return _fetch_all(api, path, params, "usage_records")


@pytest.fixture
def daily_usage(account: str, api: httpx.Client) -> dict[tuple[str, str], Record]:
    """The account's Daily usage records over the whole history, by (category, day).

    The account has no subaccounts, so IncludeSubaccounts changes nothing here
    (``test_usage.py`` checks what it does on a family).
    """
    return {(r["category"], r["start_date"]): r for r in _usage(api, account, "Daily")}


@pytest.mark.parametrize("category", CATEGORIES, ids=CATEGORIES)
def test_usage_category_filter_returns_only_that_category(category: str, account: str, api: httpx.Client) -> None:
    records = _usage(api, account, "Daily", {"Category": category})
    assert len(records) == 91  # 90 whole days and today
    assert {r["category"] for r in records} == {category}
    assert [r["start_date"] for r in records] == [(TODAY - timedelta(days=i)).isoformat() for i in range(91)]


def test_usage_without_category_has_every_category_each_day(account: str, api: httpx.Client) -> None:
    records = _usage(api, account, "Daily", {"StartDate": "2026-10-10", "EndDate": "2026-10-12"})
    assert Counter((r["start_date"], r["category"]) for r in records) == Counter(
        {(d, c): 1 for d in ("2026-10-10", "2026-10-11", "2026-10-12") for c in CATEGORIES}
    )


def test_usage_daily_start_and_end_date_bound_the_days(account: str, api: httpx.Client) -> None:
    records = _usage(api, account, "Daily", {"Category": "calls", "StartDate": "2026-10-10", "EndDate": "2026-10-20"})
    assert [r["start_date"] for r in records] == [
        (date(2026, 10, 20) - timedelta(days=i)).isoformat() for i in range(11)
    ]
    assert all(r["start_date"] == r["end_date"] for r in records)


def test_usage_records_over_a_range_add_up_the_calls_in_it(
    account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    lo, hi = date(2026, 10, 10), date(2026, 10, 20)
    [record] = _usage(api, account, "", {"Category": "calls", "StartDate": lo.isoformat(), "EndDate": hi.isoformat()})
    calls = [c for c in truth["calls"] if lo <= _start(c) <= hi]
    assert (record["start_date"], record["end_date"]) == (lo.isoformat(), hi.isoformat())
    assert int(record["count"]) == len(calls)
    assert Decimal(record["price"]) == sum((-Decimal(c["price"]) for c in calls if c["price"]), Decimal(0))


@pytest.mark.parametrize(
    ("start", "first"),
    [("-2days", TODAY - timedelta(days=2)), ("-30days", TODAY - timedelta(days=30))],
    ids=["-2days", "-30days"],
)
def test_usage_start_date_accepts_a_relative_offset(start: str, first: date, account: str, api: httpx.Client) -> None:
    records = _usage(api, account, "Daily", {"Category": "sms", "StartDate": start})
    assert records[-1]["start_date"] == first.isoformat()
    assert records[0]["start_date"] == TODAY.isoformat()


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"StartDate": "2026-13-01"}, id="bad-start"),
        pytest.param({"EndDate": "soon"}, id="bad-end"),
        pytest.param({"StartDate": "2026-10-20", "EndDate": "2026-10-10"}, id="end-before-start"),
    ],
)
def test_usage_bad_dates_give_400(params: dict[str, str], account: str, api: httpx.Client) -> None:
    _assert_400(api.get(f"/2010-04-01/Accounts/{account}/Usage/Records/Daily.json", params=params))


def _money(records: list[Record], field: str) -> Decimal:
    return sum((-Decimal(r[field]) for r in records if r[field] is not None), Decimal(0))


def test_daily_usage_adds_up_exactly_to_each_days_calls_and_messages(
    daily_usage: dict[tuple[str, str], Record], truth: dict[str, list[Record]]
) -> None:
    calls_by_day: dict[date, list[Record]] = defaultdict(list)
    for c in truth["calls"]:
        calls_by_day[_start(c)].append(c)
    messages_by_day: dict[date, list[Record]] = defaultdict(list)
    for m in truth["messages"]:
        messages_by_day[_sent(m)].append(m)
    for i in range(91):
        day = TODAY - timedelta(days=i)
        key = day.isoformat()
        calls, messages = calls_by_day[day], messages_by_day[day]
        inbound = [c for c in calls if c["direction"] == "inbound"]

        rec = daily_usage[("calls", key)]
        assert int(rec["count"]) == len(calls), key
        assert Decimal(rec["price"]) == _money(calls, "price"), key
        assert int(rec["usage"]) == sum(math.ceil(int(c["duration"]) / 60) for c in calls if c["duration"]), key
        assert int(daily_usage[("calls-inbound", key)]["count"]) == len(inbound), key
        assert int(daily_usage[("calls-outbound", key)]["count"]) == len(calls) - len(inbound), key

        rec = daily_usage[("sms", key)]
        assert int(rec["count"]) == len(messages), key
        assert Decimal(rec["price"]) == _money(messages, "price"), key
        assert int(rec["usage"]) == sum(int(m["num_segments"]) for m in messages), key

        total = daily_usage[("totalprice", key)]
        parts = sum(Decimal(daily_usage[(c, key)]["price"]) for c in ("calls", "sms", "phonenumbers"))
        assert Decimal(total["price"]) == parts, key
    assert sum(int(daily_usage[("calls", (TODAY - timedelta(days=i)).isoformat())]["count"]) for i in range(91)) == len(
        truth["calls"]
    )


@pytest.mark.parametrize("category", ["calls", "sms", "phonenumbers", "totalprice"])
def test_monthly_and_all_time_usage_are_sums_of_daily_usage(
    category: str, account: str, api: httpx.Client, daily_usage: dict[tuple[str, str], Record]
) -> None:
    daily = [r for (c, _), r in daily_usage.items() if c == category]
    monthly = _usage(api, account, "Monthly", {"Category": category})
    assert [m["start_date"][:7] for m in monthly] == ["2026-11", "2026-10", "2026-09", "2026-08"]
    for month in monthly:
        days = [d for d in daily if month["start_date"] <= d["start_date"] <= month["end_date"]]
        assert Decimal(month["price"]) == sum((Decimal(d["price"]) for d in days), Decimal(0))
        assert int(month["count"]) == sum(int(d["count"]) for d in days)
    [all_time] = _usage(api, account, "AllTime", {"Category": category})
    assert Decimal(all_time["price"]) == sum((Decimal(d["price"]) for d in daily), Decimal(0))


@pytest.mark.parametrize(
    ("kind", "start", "end"),
    [
        ("Today", TODAY, TODAY),
        ("Yesterday", TODAY - timedelta(days=1), TODAY - timedelta(days=1)),
        ("ThisMonth", date(2026, 11, 1), TODAY),
        ("LastMonth", date(2026, 10, 1), date(2026, 10, 31)),
    ],
    ids=["Today", "Yesterday", "ThisMonth", "LastMonth"],
)
def test_usage_period_subresources_cover_their_period(
    kind: str, start: date, end: date, account: str, api: httpx.Client, truth: dict[str, list[Record]]
) -> None:
    [record] = _usage(api, account, kind, {"Category": "calls"})
    assert (record["start_date"], record["end_date"]) == (start.isoformat(), end.isoformat())
    assert int(record["count"]) == sum(1 for c in truth["calls"] if start <= _start(c) <= end)


# --- Monitor Alerts ------------------------------------------------------------------


@pytest.fixture(scope="module")
def owner_messages(monitored: Sandbox) -> list[Record]:
    """The owner's messages in the sandbox whose owner has alerts, newest first."""
    return monitored.messages(monitored.owner_account_sid)


def _alerts(api: httpx.Client, params: Any = ()) -> list[Record]:
    response = api.get("/v1/Alerts", params=[*_pairs(params), ("PageSize", "1000")])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"]["next_page_url"] is None
    return body["alerts"]  # type: ignore[no-any-return]


def _created(alert: Record) -> datetime:
    return datetime.fromisoformat(alert["date_created"].replace("Z", "+00:00"))


def test_alerts_are_those_of_the_last_30_days_only(monitor_api: httpx.Client) -> None:
    api = monitor_api
    alerts = _alerts(api)
    assert alerts
    assert all(NOW - timedelta(days=30) <= _created(a) <= NOW for a in alerts)
    assert [_created(a) for a in alerts] == sorted((_created(a) for a in alerts), reverse=True)
    # Asking for older alerts does not bring them back.
    assert _alerts(api, {"StartDate": "2026-08-15"}) == alerts
    assert _alerts(api, {"EndDate": "2026-09-15"}) == []


def test_alerts_include_every_failed_message_of_the_last_30_days(
    monitor_api: httpx.Client, owner_messages: list[Record]
) -> None:
    api = monitor_api
    failed = {
        m["sid"]: str(m["error_code"])
        for m in owner_messages
        if m["error_code"] is not None and _moment(m["date_updated"]) >= NOW - timedelta(days=30)
    }
    assert failed
    about_messages = {a["resource_sid"]: a["error_code"] for a in _alerts(api) if a["resource_sid"].startswith("SM")}
    assert about_messages == failed


@pytest.mark.parametrize("level", ["error", "warning"])
def test_alerts_log_level_filter_matches(level: str, monitor_api: httpx.Client) -> None:
    api = monitor_api
    alerts = _alerts(api)
    expected = [a for a in alerts if a["log_level"] == level]
    assert expected
    assert _alerts(api, {"LogLevel": level}) == expected


def test_alerts_log_levels_partition_the_log(monitor_api: httpx.Client) -> None:
    api = monitor_api
    alerts = _alerts(api)
    assert alerts
    levels = {a["log_level"] for a in alerts}
    assert levels <= {"error", "warning", "notice", "debug"}
    assert sum(len(_alerts(api, {"LogLevel": lv})) for lv in ("error", "warning", "notice", "debug")) == len(alerts)


@pytest.mark.parametrize(
    ("params", "lo", "hi"),
    [
        pytest.param({"StartDate": "2026-10-20"}, datetime(2026, 10, 20, tzinfo=UTC), NOW, id="start-date"),
        # "Only include alerts that occurred on or before this date" (the spec's EndDate):
        # a bare date includes that whole UTC day, as EndDate does for usage records.
        pytest.param(
            {"EndDate": "2026-10-22"},
            NOW - timedelta(days=30),
            datetime(2026, 10, 22, 23, 59, 59, tzinfo=UTC),
            id="end-date-includes-that-day",
        ),
        pytest.param(
            {"StartDate": "2026-10-13", "EndDate": "2026-10-13"},
            datetime(2026, 10, 13, tzinfo=UTC),
            datetime(2026, 10, 13, 23, 59, 59, tzinfo=UTC),
            id="one-whole-day",
        ),
        pytest.param(
            {"StartDate": "2026-10-10T12:00:00Z", "EndDate": "2026-10-25T06:30:00Z"},
            datetime(2026, 10, 10, 12, tzinfo=UTC),
            datetime(2026, 10, 25, 6, 30, tzinfo=UTC),
            id="start-and-end-instants",
        ),
    ],
)
def test_alerts_date_filters_keep_alerts_between_the_instants(
    params: dict[str, str], lo: datetime, hi: datetime, monitor_api: httpx.Client
) -> None:
    api = monitor_api
    expected = [a for a in _alerts(api) if lo <= _created(a) <= hi]
    assert expected
    assert _alerts(api, params) == expected


@pytest.mark.parametrize(
    "params", [{"StartDate": "2026-10-32"}, {"EndDate": "last week"}], ids=["bad-start", "bad-end"]
)
def test_alerts_bad_date_gives_400(params: dict[str, str], monitor_api: httpx.Client) -> None:
    _assert_400(monitor_api.get("/v1/Alerts", params=params))


def test_alerts_of_connect_credentials_are_the_connect_subaccounts_own(solo: Sandbox, api: httpx.Client) -> None:
    # Monitor has no account in its path: it answers for whoever authenticated, so the
    # app sees its Connect subaccount's log (empty), never the customer's or the owner's.
    assert api.get("/v1/Alerts", params={"PageSize": 1000}).json()["alerts"] == []
    with httpx.Client(base_url=solo.api_url, auth=(solo.owner_account_sid, solo.owner_auth_token)) as owner:
        assert owner.get("/v1/Alerts").json()["alerts"]
