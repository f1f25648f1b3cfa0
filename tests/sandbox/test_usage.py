"""Usage records of a family: IncludeSubaccounts, exact daily counts, and the ways ``Faults(usage=…)`` lies.

As on Twilio, a main account's usage includes its subaccounts' unless
``IncludeSubaccounts=false`` (the spec's default is true). ``Faults(usage=…)``
makes the records' ``count`` lie the ways real ones can, so that a client that
plans from them can be tested for never trusting them; the other fields stay
honest. Everything is read with the Connect App's credentials over loopback.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from connect_notebook.sandbox import Faults, Sandbox

Record = dict[str, Any]
TODAY = date(2026, 11, 1)  # the session sandbox's pinned clock
LAG = 3  # days, as Faults.usage="lagging" documents


def usage(client: httpx.Client, sid: str, kind: str = "Daily", **params: str) -> list[Record]:
    """Every usage record of one account and kind, through next_page_uri."""
    path = f"/2010-04-01/Accounts/{sid}/Usage/Records{'/' + kind if kind else ''}.json"
    response = client.get(path, params={**params, "PageSize": "1000"})
    records: list[Record] = []
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        records.extend(body["usage_records"])
        if body["next_page_uri"] is None:
            return records
        response = client.get(body["next_page_uri"])


def by_period(records: list[Record], kind: str) -> dict[tuple[str, str], Record]:
    """Records by (category, period): the day for Daily, the month for Monthly."""
    width = 10 if kind == "Daily" else 7
    out = {(r["category"], r["start_date"][:width]): r for r in records}
    assert len(out) == len(records)
    return out


def totals(records: list[Record]) -> tuple[int, Decimal, Decimal]:
    """(count, usage, price) added up over records."""
    return (
        sum(int(r["count"]) for r in records),
        sum((Decimal(r["usage"]) for r in records), Decimal(0)),
        sum((Decimal(r["price"]) for r in records), Decimal(0)),
    )


def calls_per_day(calls: list[Record]) -> Counter[str]:
    return Counter(parsedate_to_datetime(c["start_time"]).astimezone(UTC).date().isoformat() for c in calls)


def assert_twilio_400(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["status"], body["code"]) == (400, 20001)
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20001"


# --- IncludeSubaccounts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "kind"),
    [
        pytest.param(0, "Daily", id="dense-family-daily"),
        pytest.param(2, "Monthly", id="growing-family-with-a-closed-subaccount-monthly"),
    ],
)
def test_main_account_usage_includes_its_subaccounts_by_default(sandbox: Sandbox, index: int, kind: str) -> None:
    customer = sandbox.customer_account_sids[index]
    connected = sandbox.authorize(customer)
    family = sandbox.family(customer)
    with httpx.Client(base_url=sandbox.api_url, auth=(connected, sandbox.owner_auth_token)) as client:
        default = by_period(usage(client, customer, kind), kind)
        explicit = by_period(usage(client, customer, kind, IncludeSubaccounts="true"), kind)
        own = {sid: by_period(usage(client, sid, kind, IncludeSubaccounts="false"), kind) for sid in family}

    assert len(family) >= 4
    assert default == explicit
    assert {r["account_sid"] for r in default.values()} == {customer}
    summed: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for records in own.values():
        for key, record in records.items():
            summed[key].append(record)
    assert set(summed) == set(default)
    for key, record in default.items():
        assert totals([record]) == totals(summed[key]), key
    # Not vacuous: the subaccounts add something to the main account's own usage.
    assert (
        totals([r for (c, _), r in default.items() if c == "calls"])[0]
        > totals([r for (c, _), r in own[customer].items() if c == "calls"])[0]
    )


def test_include_subaccounts_changes_nothing_on_a_subaccount(
    sandbox: Sandbox, customer: str, api: httpx.Client
) -> None:
    sub = sandbox.family(customer)[1]
    assert (
        usage(api, sub, "Monthly")
        == usage(api, sub, "Monthly", IncludeSubaccounts="true")
        == usage(api, sub, "Monthly", IncludeSubaccounts="false")
    )


@pytest.mark.parametrize("value", ["maybe", "yes", "1", "0", "truth"])
@pytest.mark.parametrize("kind", ["", "Daily", "AllTime"])
def test_include_subaccounts_that_is_not_true_or_false_is_400(
    kind: str, value: str, customer: str, api: httpx.Client
) -> None:
    path = f"/2010-04-01/Accounts/{customer}/Usage/Records{'/' + kind if kind else ''}.json"
    assert_twilio_400(api.get(path, params={"IncludeSubaccounts": value}))


# --- exact counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("faults", [None, Faults(usage="exact")], ids=["default", "exact-hints"])
def test_daily_calls_count_is_the_number_of_calls_that_day(
    sandbox: Sandbox, customer: str, api: httpx.Client, faults: Faults | None
) -> None:
    if faults is not None:
        sandbox.faults = faults
    own = usage(api, customer, Category="calls", IncludeSubaccounts="false")
    family = usage(api, customer, Category="calls")
    own_truth = calls_per_day(sandbox.calls(customer))
    family_truth = calls_per_day([c for sid in sandbox.family(customer) for c in sandbox.calls(sid)])

    assert len(own) == len(family) == 91  # 90 whole days and today
    assert {r["start_date"]: int(r["count"]) for r in own} == {r["start_date"]: own_truth[r["start_date"]] for r in own}
    assert {r["start_date"]: int(r["count"]) for r in family} == {
        r["start_date"]: family_truth[r["start_date"]] for r in family
    }
    assert sum(own_truth.values()) < sum(family_truth.values()) == sum(int(r["count"]) for r in family)


# --- Faults(usage=…) ------------------------------------------------------------------------


@pytest.fixture
def exact(customer: str, api: httpx.Client) -> dict[tuple[str, str], Record]:
    """The main account's own Daily usage with honest counts, by (category, day)."""
    return by_period(usage(api, customer, IncludeSubaccounts="false"), "Daily")


def lying(sandbox: Sandbox, api: httpx.Client, customer: str, hints: str) -> dict[tuple[str, str], Record]:
    sandbox.faults = Faults(usage=hints)  # type: ignore[arg-type]
    return by_period(usage(api, customer, IncludeSubaccounts="false"), "Daily")


@pytest.mark.parametrize(("hints", "factor"), [("low", 0.1), ("high", 10), ("zero", 0)])
def test_scaled_usage_hints_scale_only_the_count(
    sandbox: Sandbox,
    customer: str,
    api: httpx.Client,
    exact: dict[tuple[str, str], Record],
    hints: str,
    factor: float,
) -> None:
    distorted = lying(sandbox, api, customer, hints)

    assert distorted.keys() == exact.keys()
    for key, record in exact.items():
        assert int(distorted[key]["count"]) == int(int(record["count"]) * factor), key
        # Usage, price, dates and links stay honest.
        assert {k: v for k, v in distorted[key].items() if k != "count"} == {
            k: v for k, v in record.items() if k != "count"
        }, key
    changed = sum(distorted[k]["count"] != r["count"] for k, r in exact.items())
    assert changed > len(exact) / 4


def test_lagging_usage_shows_each_days_usage_three_days_late(
    sandbox: Sandbox, customer: str, api: httpx.Client, exact: dict[tuple[str, str], Record]
) -> None:
    distorted = lying(sandbox, api, customer, "lagging")

    assert distorted.keys() == exact.keys()
    days = sorted({day for _, day in exact})
    for (category, day), record in distorted.items():
        earlier = (date.fromisoformat(day) - timedelta(days=LAG)).isoformat()
        if earlier in days:
            source = exact[(category, earlier)]
            assert (record["count"], record["usage"], record["price"]) == (
                source["count"],
                source["usage"],
                source["price"],
            ), (category, day)
        else:  # the first three days: nothing has shown up yet
            assert (record["count"], record["price"]) == ("0", "0.00000"), (category, day)
    # The last three days' calls have not shown up at all.
    shown = sum(int(r["count"]) for (c, _), r in distorted.items() if c == "calls")
    assert shown == sum(int(r["count"]) for (c, d), r in exact.items() if c == "calls" and d <= days[-1 - LAG])
    assert shown < sum(int(r["count"]) for (c, _), r in exact.items() if c == "calls")


def test_missing_usage_leaves_out_about_a_third_of_the_periods_and_keeps_the_rest_exact(
    sandbox: Sandbox, customer: str, api: httpx.Client, exact: dict[tuple[str, str], Record]
) -> None:
    distorted = lying(sandbox, api, customer, "missing")

    assert set(distorted) < set(exact)
    for key, record in distorted.items():
        assert record == exact[key], key
    days = {day for _, day in exact}
    kept = {day for _, day in distorted}
    # A period is left out whole: every category of a missing day is missing.
    categories = {c for c, _ in exact}
    assert all({c for c, d in distorted if d == day} == categories for day in kept)
    assert 0.2 <= 1 - len(kept) / len(days) <= 0.45


def test_usage_hints_do_not_touch_calls_or_messages(sandbox: Sandbox, customer: str, api: httpx.Client) -> None:
    honest = api.get(f"/2010-04-01/Accounts/{customer}/Calls.json", params={"PageSize": 200}).json()["calls"]
    sandbox.faults = Faults(usage="zero")
    assert api.get(f"/2010-04-01/Accounts/{customer}/Calls.json", params={"PageSize": 200}).json()["calls"] == honest
    assert honest == sandbox.calls(customer)[:200]


def test_faults_refuses_an_unknown_usage_hint() -> None:
    with pytest.raises(ValueError, match="Faults.usage must be one of exact, lagging, missing, low, high, zero"):
        Faults(usage="late")  # type: ignore[arg-type]


def test_usage_dates_stay_within_the_history(customer: str, api: httpx.Client) -> None:
    records = usage(api, customer, Category="calls", IncludeSubaccounts="false", StartDate="2020-01-01")
    assert records[0]["start_date"] == TODAY.isoformat()
    assert records[-1]["start_date"] == "2026-08-03"  # the main account's first day
