"""Whose data a load covers: the customer's account family behind one Connect authorization.

The SID the app receives names its Connect subaccount (``twilio-api-notes.md`` §8.1);
the calls live in the main account and the other subaccounts. These tests check, on
the three default customers of the session sandbox (a dense family of three accounts,
a sparse single account of eight years, a growing family of four accounts with one
closed), that every loader covers exactly the family, or the ``accounts=`` asked for,
and that ``cn.accounts()`` / ``customer()`` describe it. Expected frames come from
``loader_support.py``'s independent builders; usage and alerts are compared with the
sandbox's API read directly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import polars as pl
import pytest
from loader_support import (
    NOW,
    Record,
    authorized,
    clear_log,
    expected_calls,
    expected_messages,
    family_truth,
    in_range,
    logged,
)
from polars.testing import assert_frame_equal

import connect_notebook as cn
from connect_notebook import ACCOUNTS_SCHEMA, ALERTS_SCHEMA, USAGE_SCHEMA, ConfigError, ConnectApp
from connect_notebook._kernel import app_for_sandbox
from connect_notebook._loaders import customer as customer_of
from connect_notebook._redact import shown
from connect_notebook.sandbox import Profile, Sandbox

DEFAULT_CUSTOMERS = [
    pytest.param(0, id="dense-family-of-three"),
    pytest.param(1, id="sparse-single-account-of-eight-years"),
    pytest.param(2, id="growing-family-with-a-closed-subaccount"),
]


@pytest.fixture(params=DEFAULT_CUSTOMERS)
def family(sandbox: Sandbox, request: pytest.FixtureRequest) -> tuple[str, str]:
    """Each default customer in turn, authorized: (main account, connected SID)."""
    return authorized(sandbox, request.param)


@pytest.fixture
def kestrel(sandbox: Sandbox) -> tuple[str, str]:
    """The growing family (main account, three subaccounts, the oldest closed), authorized."""
    return authorized(sandbox, 2)


def api_pages(client: httpx.Client, url: str, key: str, next_link: Callable[[Record], str | None]) -> list[Record]:
    """Every record of a list read straight from the API, following its next-page link."""
    records: list[Record] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        body = response.json()
        records.extend(body[key])
        next_url = next_link(body)
    return records


def accounts_of(sb: Sandbox, connected: str) -> list[Record]:
    """``/Accounts.json`` as the Connect App sees it."""
    with httpx.Client(base_url=sb.api_url, auth=(connected, sb.owner_auth_token)) as client:
        return api_pages(client, "/2010-04-01/Accounts.json?PageSize=1000", "accounts", lambda b: b["next_page_uri"])


# --- calls: the whole family ----------------------------------------------------------


def test_load_calls_equals_the_union_of_the_familys_accounts(
    sandbox: Sandbox, family: tuple[str, str], app: ConnectApp
) -> None:
    main, connected = family
    truth = family_truth(sandbox, main)
    frame = cn.load_calls(connected, app=app, progress=False)
    assert_frame_equal(frame, expected_calls(truth))
    assert frame.height == 2_000  # calls_per_customer: the whole family's calls
    assert frame["sid"].is_unique().all()
    members = sandbox.family(main)
    assert members[0] == main and members[-1] == connected
    with_calls = {sid for sid in members if sandbox.calls(sid)}
    assert set(frame["account_sid"].unique()) == with_calls
    assert connected not in with_calls


def test_load_calls_of_the_owners_own_sid_covers_the_owner_alone(sandbox: Sandbox, app: ConnectApp) -> None:
    owner = sandbox.owner_account_sid
    frame = cn.load_calls(owner, app=app, progress=False)
    assert_frame_equal(frame, expected_calls(sandbox.calls(owner)))
    assert frame.height > 0


def test_the_closed_subaccounts_rows_stop_at_its_closing(
    sandbox: Sandbox, kestrel: tuple[str, str], app: ConnectApp
) -> None:
    main, connected = kestrel
    accounts = cn.accounts(connected, app=app)
    closed = accounts.filter(pl.col("status") == "closed")
    assert closed.height == 1
    sid, closed_at = closed["sid"][0], closed["date_updated"][0]
    frame = cn.load_calls(connected, app=app, progress=False)
    rows = frame.filter(pl.col("account_sid") == sid)
    assert rows.height == len(sandbox.calls(sid)) > 0
    assert rows["start_time"].max() <= closed_at < NOW
    # After the closing the account holds nothing: a load of that stretch gets no row from it,
    # and its empty days cost no more than planning them and one window.
    clear_log(sandbox)
    later = cn.load_calls(connected, app=app, start=closed_at + timedelta(days=2), end=NOW, progress=False)
    assert later.height > 0
    assert sid not in later["account_sid"].to_list()
    assert sum(r.times for r in logged(sandbox) if r.account == sid) <= 2


def test_a_range_before_a_subaccount_existed_sends_nothing_for_it(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp
) -> None:
    accounts = cn.accounts(connected, app=app)
    # The youngest clinic (Harbor Dental's last subaccount before the Connect one): a range that
    # ends before it opened has nothing of it, nor of the Connect subaccount made later still.
    youngest = accounts.filter(~pl.col("is_connect_subaccount"))[-1]
    opened = youngest["date_created"][0]
    start = accounts["date_created"][0] + timedelta(days=1)  # the day after the main account opened
    end = opened - timedelta(days=1)
    later = set(accounts.filter(pl.col("date_created") >= opened)["sid"])
    assert later == {youngest["sid"][0], connected}
    clear_log(sandbox)
    frame = cn.load_calls(connected, app=app, start=start, end=end, progress=False)
    expected = in_range(family_truth(sandbox, customer), "start_time", start, end)
    assert expected
    assert_frame_equal(frame, expected_calls(expected))
    asked = {r.account for r in logged(sandbox) if r.account is not None}
    assert asked == set(sandbox.family(customer)) - later


def test_calls_at_the_same_second_in_two_accounts_keep_the_family_order() -> None:
    # Two busy days of three accounts: dozens of calls start in the same second as one of another account.
    profile = Profile(name="Busy", pattern="dense", days=2, calls=6_000, subaccounts=2)
    with Sandbox(seed=7, customers=[profile], now=NOW) as sb:
        main, connected = authorized(sb)
        app = app_for_sandbox(sb)
        truth = family_truth(sb, main)
        accounts_at: dict[str, set[str]] = {}
        for r in truth:
            accounts_at.setdefault(r["start_time"], set()).add(r["account_sid"])
        assert sum(len(a) > 1 for a in accounts_at.values()) >= 10, "precondition: calls at the same second"
        assert cn.accounts(connected, app=app)["sid"].to_list() == sb.family(main)  # one family order
        assert_frame_equal(cn.load_calls(connected, app=app, progress=False), expected_calls(truth))


# --- accounts= ----------------------------------------------------------------------

SUBSETS = [
    pytest.param(lambda f: f[0], id="the-main-account-as-a-string"),
    pytest.param(lambda f: [f[2]], id="one-subaccount"),
    pytest.param(lambda f: [f[1]], id="the-closed-subaccount"),
    pytest.param(lambda f: (f[3], f[0]), id="two-in-another-order-as-a-tuple"),
    pytest.param(lambda f: list(f), id="every-account-named"),
    pytest.param(lambda f: [f[-1]], id="the-connect-subaccount"),
]


@pytest.mark.parametrize("choose", SUBSETS)
def test_accounts_loads_exactly_that_subset_in_family_order(
    sandbox: Sandbox, kestrel: tuple[str, str], app: ConnectApp, choose: Callable[[list[str]], Any]
) -> None:
    main, connected = kestrel
    members = sandbox.family(main)
    assert len(members) == 5  # main, three subaccounts (the first closed), the Connect subaccount
    chosen = choose(members)
    subset = {chosen} if isinstance(chosen, str) else set(chosen)
    frame = cn.load_calls(connected, app=app, accounts=chosen, progress=False)
    assert_frame_equal(frame, expected_calls(family_truth(sandbox, main, accounts=subset)))
    # Only the accounts asked for were read (after the family list, which every load needs).
    assert {r.account for r in logged(sandbox) if r.account is not None} <= subset
    assert sum(r.times for r in logged(sandbox, "Accounts.json")) == 1


@pytest.mark.parametrize(
    "load",
    [
        pytest.param(lambda c, a, acc: cn.load_calls(c, app=a, accounts=acc, progress=False), id="calls"),
        pytest.param(lambda c, a, acc: cn.load_messages(c, app=a, accounts=acc, progress=False), id="messages"),
        pytest.param(lambda c, a, acc: cn.load_usage(c, app=a, accounts=acc), id="usage"),
    ],
)
def test_an_account_outside_the_family_is_a_value_error_naming_the_choices(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, load: Callable[..., Any]
) -> None:
    stranger = sandbox.customer_account_sids[1]  # another customer's main account
    with pytest.raises(ValueError, match="accounts must belong to the family") as info:
        load(connected, app, [customer, stranger])
    message = str(info.value)
    # SIDs by their last four, as every message shows them (shown()): a token pasted after "AC" is SID-shaped.
    assert shown(stranger) in message and stranger not in message
    for sid in sandbox.family(customer):
        assert shown(sid) in message  # the choices
    assert "cn.accounts()" in message
    # Only the family list was read, to know the choices; no account's data.
    assert [(r.resource, r.times) for r in logged(sandbox)] == [("Accounts.json", 1)]


def test_a_malformed_sid_in_accounts_is_a_config_error(sandbox: Sandbox, connected: str, app: ConnectApp) -> None:
    with pytest.raises(ConfigError, match="accounts must be 'AC'"):
        cn.load_calls(connected, app=app, accounts=["AC123"], progress=False)


def test_the_connect_subaccount_belongs_to_the_family_but_contributes_no_rows(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp
) -> None:
    assert connected in cn.accounts(connected, app=app)["sid"].to_list()
    frame = cn.load_calls(connected, app=app, progress=False)
    assert frame.height > 0
    assert frame.filter(pl.col("account_sid") == connected).height == 0
    alone = cn.load_calls(connected, app=app, accounts=[connected], progress=False)
    assert_frame_equal(alone, pl.DataFrame(schema=cn.CALLS_SCHEMA))


# --- cn.accounts() and customer() -----------------------------------------------------


def _rfc2822(value: str) -> datetime:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(value).astimezone(UTC)


def test_accounts_is_a_typed_frame_with_one_row_per_family_member(
    sandbox: Sandbox, family: tuple[str, str], app: ConnectApp
) -> None:
    main, connected = family
    frame = cn.accounts(connected, app=app)
    records = {r["sid"]: r for r in accounts_of(sandbox, connected)}
    members = sandbox.family(main)
    expected = pl.DataFrame(
        [
            {
                "sid": sid,
                "friendly_name": records[sid]["friendly_name"],
                "status": records[sid]["status"],
                "type": records[sid]["type"],
                "owner_account_sid": records[sid]["owner_account_sid"],
                "date_created": _rfc2822(records[sid]["date_created"]),
                "date_updated": _rfc2822(records[sid]["date_updated"]),
                "is_connect_subaccount": sid == connected,
            }
            for sid in members
        ],
        schema=ACCOUNTS_SCHEMA,
    )
    assert frame.schema == ACCOUNTS_SCHEMA
    assert_frame_equal(frame, expected)  # the main account first, then the others by age
    assert set(records) == set(members)
    assert frame.filter(pl.col("is_connect_subaccount"))["sid"].to_list() == [connected]
    assert set(frame["owner_account_sid"]) == {main}
    assert frame["friendly_name"][0] == sandbox.state.account(main).friendly_name  # type: ignore[union-attr]


def test_accounts_marks_the_closed_subaccount(sandbox: Sandbox, kestrel: tuple[str, str], app: ConnectApp) -> None:
    main, connected = kestrel
    frame = cn.accounts(connected, app=app)
    assert frame["status"].cast(pl.String).to_list() == ["active", "closed", "active", "active", "active"]
    assert frame["sid"].to_list() == sandbox.family(main)


def test_accounts_of_the_owners_own_sid_is_the_owner_alone(sandbox: Sandbox, app: ConnectApp) -> None:
    owner = sandbox.owner_account_sid
    frame = cn.accounts(owner, app=app)
    assert frame["sid"].to_list() == [owner]
    assert frame["is_connect_subaccount"].to_list() == [False]
    assert frame["owner_account_sid"].to_list() == [owner]


def test_customer_names_the_main_account_behind_the_connect_subaccount(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp
) -> None:
    who = customer_of(connected, app=app)
    assert who.sid == connected
    assert who.customer_sid == customer
    assert who.friendly_name == "Harbor Dental Group"
    assert who.permissions == ("get-all",)
    assert who.label == f"Harbor Dental Group (AC…{customer[-4:]})"


def test_customer_is_public_as_cn_customer(sandbox: Sandbox, customer: str, connected: str, app: ConnectApp) -> None:
    assert "customer" in cn.__all__
    assert cn.customer(connected, app=app) == customer_of(connected, app=app)


# --- messages, usage and alerts ---------------------------------------------------------


def test_load_messages_covers_the_family(sandbox: Sandbox, customer: str, connected: str, app: ConnectApp) -> None:
    frame = cn.load_messages(connected, app=app, progress=False)
    truth = family_truth(sandbox, customer, "messages")
    assert_frame_equal(frame, expected_messages(truth))
    assert frame["account_sid"].n_unique() == 3


def test_load_messages_of_an_old_family_keeps_the_400_days_twilio_serves(
    sandbox: Sandbox, kestrel: tuple[str, str], app: ConnectApp
) -> None:
    main, connected = kestrel
    # Twilio's 400 days, counted back from the sandbox's today: the Date of its answers says it.
    today = sandbox.now.replace(hour=0, minute=0, second=0, microsecond=0)
    frame = cn.load_messages(connected, app=app, progress=False)  # no start: no warning, Twilio's 400 days
    truth = family_truth(sandbox, main, "messages")
    oldest = today - timedelta(days=399)  # 400 days, today included
    kept = in_range(truth, "date_sent", oldest, None)
    assert 0 < len(kept) < len(truth)  # the family is older than the retention: some messages are gone
    assert_frame_equal(frame, expected_messages(kept))
    assert frame["date_sent"].min() >= oldest


def expected_usage(records: list[Record]) -> pl.DataFrame:
    rows = [
        {
            "account_sid": r["account_sid"],
            "category": r["category"],
            "description": r["description"],
            "start_date": date.fromisoformat(r["start_date"]),
            "end_date": date.fromisoformat(r["end_date"]),
            "count": int(r["count"]),
            "count_unit": r["count_unit"],
            "usage": float(r["usage"]),
            "usage_unit": r["usage_unit"],
            "price": float(r["price"]),
            "price_unit": r["price_unit"],
            "as_of": datetime.fromisoformat(r["as_of"]).astimezone(UTC),
        }
        for r in records
    ]
    return pl.DataFrame(rows, schema=USAGE_SCHEMA)


USAGE_CASES = [
    pytest.param(0, {}, "", id="dense-family-twilio-default-range"),
    # Like every end in the loaders, ``end`` is exclusive: Twilio's inclusive EndDate is the day before.
    pytest.param(
        0, {"start": "2026-10-01", "end": "2026-10-08"}, "&StartDate=2026-10-01&EndDate=2026-10-07", id="dense-range"
    ),
    # Over a thousand days of five accounts: slow (the sandbox adds up every day's usage three times).
    pytest.param(2, {}, "", id="growing-family-twilio-default-range", marks=pytest.mark.slow),
    pytest.param(
        2,
        {"start": date(2025, 6, 1), "end": date(2025, 10, 1), "category": "calls-inbound"},
        "&StartDate=2025-06-01&EndDate=2025-09-30&Category=calls-inbound",
        id="growing-family-range-and-category-across-the-closing",
    ),
]


@pytest.mark.parametrize(("index", "kwargs", "query"), USAGE_CASES)
def test_load_usage_is_each_accounts_own_records_and_adds_up_to_the_main_accounts_totals(
    sandbox: Sandbox, app: ConnectApp, index: int, kwargs: dict[str, Any], query: str
) -> None:
    main, connected = authorized(sandbox, index)
    frame = cn.load_usage(connected, app=app, **kwargs)
    with httpx.Client(base_url=sandbox.api_url, auth=(connected, sandbox.owner_auth_token)) as api:

        def daily(sid: str, include: str) -> list[Record]:
            url = f"/2010-04-01/Accounts/{sid}/Usage/Records/Daily.json?PageSize=1000{include}{query}"
            return api_pages(api, url, "usage_records", lambda body: body["next_page_uri"])

        own = [r for sid in sandbox.family(main) for r in daily(sid, "&IncludeSubaccounts=false")]
        combined = daily(main, "")  # Twilio's default: the main account's records include its subaccounts
    assert own and combined
    assert frame.schema == USAGE_SCHEMA
    assert_frame_equal(frame, expected_usage(own))
    assert (frame["start_date"] == frame["end_date"]).all()  # daily records
    assert set(frame["account_sid"]) <= set(sandbox.family(main))
    # Summed over the family, each account counted once, the frame is the main account's default totals.
    totals = expected_usage(combined).group_by("category").agg(pl.col("count", "usage", "price").sum())
    summed = frame.group_by("category").agg(pl.col("count", "usage", "price").sum())
    assert_frame_equal(summed, totals, check_row_order=False, check_exact=False, rel_tol=1e-9, abs_tol=1e-6)
    assert summed["count"].sum() > 0


def test_load_alerts_with_connect_credentials_are_the_connect_subaccounts_own_and_empty(
    sandbox: Sandbox, connected: str, app: ConnectApp
) -> None:
    frame = cn.load_alerts(connected, app=app)
    assert_frame_equal(frame, pl.DataFrame(schema=ALERTS_SCHEMA))
    # Monitor has no account in its path: it answered for the authenticated Connect subaccount.
    with httpx.Client(base_url=sandbox.monitor_url, auth=(connected, sandbox.owner_auth_token)) as monitor:
        assert monitor.get("/v1/Alerts?PageSize=1000").json()["alerts"] == []
    assert [r.resource for r in logged(sandbox)] == ["Alerts"]


def expected_alerts(records: list[Record]) -> pl.DataFrame:
    def moment(value: str) -> datetime:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    rows = [
        {
            **{name: r[name] for name in ALERTS_SCHEMA if not name.startswith("date_")},
            "date_created": moment(r["date_created"]),
            "date_generated": moment(r["date_generated"]),
            "date_updated": moment(r["date_updated"]),
        }
        for r in records
    ]
    return pl.DataFrame(rows, schema=ALERTS_SCHEMA)


@pytest.mark.parametrize(
    ("kwargs", "query"),
    [
        pytest.param({}, "", id="last-30-days"),
        pytest.param({"log_level": "warning"}, "&LogLevel=warning", id="log-level"),
        pytest.param(
            {"start": datetime(2026, 10, 15, 6, tzinfo=UTC), "end": "2026-10-25T18:00:00Z"},
            "&StartDate=2026-10-15T06:00:00Z&EndDate=2026-10-25T18:00:00Z",
            id="range",
        ),
    ],
)
def test_load_alerts_with_the_owners_sid_equal_the_monitor_api_typed(
    sandbox: Sandbox, app: ConnectApp, kwargs: dict[str, Any], query: str
) -> None:
    owner = sandbox.owner_account_sid
    frame = cn.load_alerts(owner, app=app, **kwargs)
    with httpx.Client(base_url=sandbox.monitor_url, auth=(owner, sandbox.owner_auth_token)) as monitor:
        records = api_pages(
            monitor, f"/v1/Alerts?PageSize=1000{query}", "alerts", lambda body: body["meta"]["next_page_url"]
        )
    assert records
    assert frame.schema == ALERTS_SCHEMA
    assert_frame_equal(frame, expected_alerts(records))
    assert set(frame["account_sid"]) == {owner}
