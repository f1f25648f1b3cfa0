"""A customer is a family of accounts, and Connect credentials open exactly that family.

Twilio's Connect guide (``twilio-api-notes.md`` §8.1): the ``AccountSid`` the app
receives names its Connect subaccount under the customer's main account; with the
owner's Auth Token it may ``GET /Accounts.json`` (the family: the main account, its
subaccounts, the Connect subaccount, each with ``owner_account_sid`` = the main
account) and every family account's resources under that account's own path, and
with ``post-all`` write into the Connect subaccount only. Everything here goes over
loopback with httpx or the official twilio-python client.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.rest import Client
from twilio_support import assert_twilio_error

from connect_notebook.sandbox import Profile, Sandbox

NOW = "2026-11-01T12:00:00+00:00"
CALL_FORM = {"To": "+14155550100", "From": "+14155550199", "Url": "https://example.com/twiml"}
MESSAGE_FORM = {"To": "+14155550100", "From": "+14155550199", "Body": "hello"}
CUSTOMERS = [
    pytest.param(0, id="dense-2-subaccounts"),
    pytest.param(1, id="sparse-alone"),
    pytest.param(2, id="growing-3-subaccounts-1-closed"),
]


# --- helpers -------------------------------------------------------------------------


def statuses(profile: Profile) -> list[str]:
    """The statuses of a family in list order: main, subaccounts (the oldest ``closed`` closed), Connect."""
    closed = profile.closed
    return ["active"] + ["closed"] * closed + ["active"] * (profile.subaccounts - closed) + ["active"]


def connect_client(sb: Sandbox, customer: str) -> httpx.Client:
    """httpx as the Connect App for ``customer`` (authorizing it with get-all if it is not yet)."""
    sid = sb.connected_sid(customer)
    if sid is None or sid not in sb.connected_account_sids:
        sid = sb.authorize(customer)
    return httpx.Client(base_url=sb.api_url, auth=(sid, sb.owner_auth_token))


def account_paths(sid: str) -> list[str]:
    """One request per kind of account resource."""
    base = f"/2010-04-01/Accounts/{sid}"
    return [
        f"{base}.json",
        f"{base}/Calls.json?PageSize=5",
        f"{base}/Messages.json?PageSize=5",
        f"{base}/Usage/Records/Daily.json?PageSize=5",
    ]


@pytest.fixture
def twilio_for(sandbox: Sandbox) -> Iterator[Any]:
    """Make twilio-python clients as the Connect App for a customer; close their sessions afterwards."""
    clients: list[Client] = []

    def make(customer: str) -> Client:
        client = Client(sandbox.authorize(customer), sandbox.owner_auth_token)
        client.api.base_url = sandbox.api_url  # never edge or region: they rewrite every host (notes §5)
        clients.append(client)
        return client

    yield make
    for client in clients:
        session = getattr(client.http_client, "session", None)
        if session is not None:
            session.close()


# --- the family list -------------------------------------------------------------------


@pytest.mark.parametrize("index", CUSTOMERS)
def test_accounts_list_with_connect_credentials_is_the_family(sandbox: Sandbox, index: int) -> None:
    customer = sandbox.customer_account_sids[index]
    with connect_client(sandbox, customer) as client:
        body = client.get("/2010-04-01/Accounts.json").raise_for_status().json()

    accounts = body["accounts"]
    family = sandbox.family(customer)
    assert [a["sid"] for a in accounts] == family
    assert family[0] == customer and family[-1] == sandbox.connected_sid(customer)
    assert len(family) == sandbox.profiles[index].subaccounts + 2
    assert {a["owner_account_sid"] for a in accounts} == {customer}
    assert [a["status"] for a in accounts] == statuses(sandbox.profiles[index])
    assert {a["type"] for a in accounts} == {"Full"}
    assert {a["auth_token"] for a in accounts} == {None}
    assert accounts[0]["friendly_name"] == sandbox.profiles[index].name
    assert all(a["uri"] == f"/2010-04-01/Accounts/{a['sid']}.json" for a in accounts)
    assert body["next_page_uri"] is None


@pytest.mark.parametrize("index", CUSTOMERS)
def test_twilio_python_lists_the_family(sandbox: Sandbox, twilio_for: Any, index: int) -> None:
    customer = sandbox.customer_account_sids[index]
    client = twilio_for(customer)

    accounts = client.api.v2010.accounts.list()

    assert [a.sid for a in accounts] == sandbox.family(customer)
    assert {a.owner_account_sid for a in accounts} == {customer}
    assert [a.status for a in accounts] == statuses(sandbox.profiles[index])
    assert {a.type for a in accounts} == {"Full"}
    assert {a.auth_token for a in accounts} == {None}


@pytest.mark.parametrize("index", CUSTOMERS)
def test_twilio_python_streams_every_family_accounts_calls_exactly(
    sandbox: Sandbox, twilio_for: Any, index: int
) -> None:
    customer = sandbox.customer_account_sids[index]
    client = twilio_for(customer)
    total = 0
    for account in client.api.v2010.accounts.list():
        sids = [c.sid for c in client.api.v2010.accounts(account.sid).calls.stream(page_size=1000)]
        assert sids == [c["sid"] for c in sandbox.calls(account.sid)], account.friendly_name
        total += len(sids)
    # The family's accounts share the customer's calls between them; the Connect subaccount has none.
    assert total == sandbox.profiles[index].calls
    assert sandbox.calls(sandbox.family(customer)[-1]) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"Status": "closed"}, lambda fam: fam[1:2], id="status-closed"),
        pytest.param({"Status": "active"}, lambda fam: fam[:1] + fam[2:], id="status-active"),
        pytest.param({"Status": "suspended"}, lambda fam: [], id="status-suspended"),
        pytest.param({"FriendlyName": "Kestrel Travel"}, lambda fam: fam[:1], id="friendly-name-main"),
        pytest.param({"FriendlyName": "Kestrel Travel – Bookings"}, lambda fam: fam[2:3], id="friendly-name-sub"),
        pytest.param({"FriendlyName": "Kestrel"}, lambda fam: [], id="friendly-name-is-exact"),
        pytest.param({"FriendlyName": "Kestrel Travel", "Status": "closed"}, lambda fam: [], id="both"),
    ],
)
def test_accounts_list_filters_the_family(sandbox: Sandbox, params: dict[str, str], expected: Any) -> None:
    customer = sandbox.customer_account_sids[2]  # the growing family, whose oldest subaccount is closed
    with connect_client(sandbox, customer) as client:
        response = client.get("/2010-04-01/Accounts.json", params=params)
    assert response.status_code == 200, response.text
    assert [a["sid"] for a in response.json()["accounts"]] == expected(sandbox.family(customer))


def test_accounts_list_pages_the_family_with_tokens(sandbox: Sandbox) -> None:
    customer = sandbox.customer_account_sids[2]
    with connect_client(sandbox, customer) as client:
        pages = [client.get("/2010-04-01/Accounts.json", params={"PageSize": 2}).raise_for_status().json()]
        while pages[-1]["next_page_uri"] is not None:
            pages.append(client.get(pages[-1]["next_page_uri"]).raise_for_status().json())
    assert [len(p["accounts"]) for p in pages] == [2, 2, 1]
    assert [a["sid"] for p in pages for a in p["accounts"]] == sandbox.family(customer)


def test_owner_credentials_list_the_owners_account_only_with_its_token(sandbox: Sandbox) -> None:
    with httpx.Client(base_url=sandbox.api_url, auth=(sandbox.owner_account_sid, sandbox.owner_auth_token)) as c:
        accounts = c.get("/2010-04-01/Accounts.json").raise_for_status().json()["accounts"]
    assert [(a["sid"], a["owner_account_sid"], a["auth_token"]) for a in accounts] == [
        (sandbox.owner_account_sid, sandbox.owner_account_sid, sandbox.owner_auth_token)
    ]


def test_connect_subaccount_exists_only_once_authorized_and_is_kept(sandbox: Sandbox) -> None:
    customer = sandbox.customer_account_sids[0]
    before = sandbox.family(customer)

    first = sandbox.authorize(customer)
    sandbox.deauthorize(customer)
    revoked = sandbox.family(customer)
    again = sandbox.authorize(customer, ("get-all", "post-all"))

    assert sandbox.connected_sid(customer) == first == again
    assert before == sandbox.family(customer)[:-1]
    assert revoked == before + [first]  # revoking keeps the subaccount; only access ends
    assert first not in before
    assert sandbox.connected_account_sids == [first]


# --- what Connect credentials may read --------------------------------------------------


@pytest.mark.parametrize("index", CUSTOMERS)
def test_every_family_account_is_readable_under_its_own_path(sandbox: Sandbox, index: int) -> None:
    customer = sandbox.customer_account_sids[index]
    with connect_client(sandbox, customer) as client:
        for sid in sandbox.family(customer):
            for path in account_paths(sid):
                response = client.get(path)
                assert response.status_code == 200, (path, response.text)
                body = response.json()
                if "calls" in body:
                    assert body["calls"] == sandbox.calls(sid)[:5]
                elif "messages" in body:
                    assert body["messages"] == sandbox.messages(sid)[:5]
                elif "usage_records" in body:
                    assert {r["account_sid"] for r in body["usage_records"]} <= {sid}
                else:
                    assert (body["sid"], body["owner_account_sid"]) == (sid, customer)


@pytest.mark.parametrize(
    "outsider",
    [
        pytest.param("owner", id="the-owners-account"),
        pytest.param("other-main", id="another-customers-main-account"),
        pytest.param("other-subaccount", id="another-customers-subaccount"),
        pytest.param("other-connect", id="another-customers-connect-subaccount"),
        pytest.param("unknown", id="an-unknown-account"),
    ],
)
def test_every_account_outside_the_family_is_401_20003(sandbox: Sandbox, customer: str, outsider: str) -> None:
    other = sandbox.customer_account_sids[2]
    sid = {
        "owner": sandbox.owner_account_sid,
        "other-main": other,
        "other-subaccount": sandbox.family(other)[2],
        "other-connect": sandbox.authorize(other) if outsider == "other-connect" else "",
        "unknown": "AC" + "1" * 32,
    }[outsider]
    with connect_client(sandbox, customer) as client:
        for path in account_paths(sid):
            assert_twilio_error(client.get(path), 401, 20003)


@pytest.mark.parametrize("member", [0, 1, 2], ids=["main-account", "subaccount", "newer-subaccount"])
def test_main_account_or_subaccount_sid_as_username_is_401(sandbox: Sandbox, customer: str, member: int) -> None:
    # Only the Connect subaccount's SID opens the family; the owner's token is no key to the others.
    sid = sandbox.family(customer)[member]
    with httpx.Client(base_url=sandbox.api_url, auth=(sid, sandbox.owner_auth_token)) as client:
        for path in ["/2010-04-01/Accounts.json", *account_paths(sid), *account_paths(customer)]:
            assert_twilio_error(client.get(path), 401, 20003)


@pytest.mark.parametrize("how", ["sandbox-deauthorize", "revoke-page"])
def test_revocation_closes_the_whole_family(sandbox: Sandbox, customer: str, connected: str, how: str) -> None:
    family = sandbox.family(customer)
    with httpx.Client(base_url=sandbox.url, auth=(connected, sandbox.owner_auth_token)) as client:
        assert client.get("/2010-04-01/Accounts.json").status_code == 200
        if how == "sandbox-deauthorize":
            sandbox.deauthorize(customer)
        else:
            assert client.post(sandbox.deauthorize_page_url, data={"AccountSid": customer}).status_code == 200

        assert_twilio_error(client.get("/2010-04-01/Accounts.json"), 401, 20003)
        for sid in family:
            for path in account_paths(sid):
                assert_twilio_error(client.get(path), 401, 20003)
    assert sandbox.connected_account_sids == []


def test_reauthorization_gives_the_same_connect_sid_and_reopens_the_family(
    sandbox: Sandbox, customer: str, connected: str
) -> None:
    sandbox.deauthorize(customer)

    again = sandbox.authorize(customer)

    assert again == connected
    with httpx.Client(base_url=sandbox.api_url, auth=(again, sandbox.owner_auth_token)) as client:
        listed = client.get("/2010-04-01/Accounts.json").raise_for_status().json()["accounts"]
        assert [a["sid"] for a in listed] == sandbox.family(customer)
        for sid in sandbox.family(customer):
            assert client.get(f"/2010-04-01/Accounts/{sid}/Calls.json").status_code == 200


def test_revoking_one_customer_leaves_another_customers_family_open(sandbox: Sandbox, customer: str) -> None:
    other = sandbox.customer_account_sids[2]
    other_connected = sandbox.authorize(other)

    sandbox.deauthorize(customer)

    with httpx.Client(base_url=sandbox.api_url, auth=(other_connected, sandbox.owner_auth_token)) as client:
        for sid in sandbox.family(other):
            assert client.get(f"/2010-04-01/Accounts/{sid}/Calls.json").status_code == 200
    assert sandbox.connected_account_sids == [other_connected]


# --- what Connect credentials may write ---------------------------------------------------


@pytest.mark.parametrize(("resource", "form"), [("Calls", CALL_FORM), ("Messages", MESSAGE_FORM)])
def test_post_all_writes_only_into_the_connect_subaccount(
    sandbox: Sandbox, customer: str, resource: str, form: dict[str, str]
) -> None:
    connected = sandbox.authorize(customer, ("get-all", "post-all"))
    other = sandbox.customer_account_sids[1]
    with httpx.Client(base_url=sandbox.api_url, auth=(connected, sandbox.owner_auth_token)) as client:
        own = client.post(f"/2010-04-01/Accounts/{connected}/{resource}.json", data=form)
        family = [
            client.post(f"/2010-04-01/Accounts/{sid}/{resource}.json", data=form)
            for sid in sandbox.family(customer)[:-1]
        ]
        outside = client.post(f"/2010-04-01/Accounts/{other}/{resource}.json", data=form)

    assert own.status_code == 201, own.text
    assert own.json()["account_sid"] == connected
    assert len(family) == 3
    for response in family:
        assert_twilio_error(response, 403, 20403)
    assert_twilio_error(outside, 401, 20003)


@pytest.mark.parametrize(("resource", "form"), [("Calls", CALL_FORM), ("Messages", MESSAGE_FORM)])
def test_get_all_only_is_403_for_any_post(
    sandbox: Sandbox, customer: str, connected: str, resource: str, form: dict[str, str]
) -> None:
    with httpx.Client(base_url=sandbox.api_url, auth=(connected, sandbox.owner_auth_token)) as client:
        for sid in sandbox.family(customer):
            assert_twilio_error(client.post(f"/2010-04-01/Accounts/{sid}/{resource}.json", data=form), 403, 20403)


# --- any small family ----------------------------------------------------------------------


@st.composite
def families(draw: st.DrawFn) -> Profile:
    """A small customer: any pattern, up to three years old, up to four subaccounts, some closed."""
    subaccounts = draw(st.integers(min_value=0, max_value=4))
    return Profile(
        name=draw(st.text(alphabet="abcdefgh ", min_size=1, max_size=12).map(str.strip).filter(bool)),
        pattern=draw(st.sampled_from(["dense", "sparse", "growing"])),
        days=draw(st.integers(min_value=1, max_value=3 * 366)),
        calls=draw(st.integers(min_value=0, max_value=3_000)),
        messages=draw(st.none() | st.integers(min_value=0, max_value=500)),
        subaccounts=subaccounts,
        closed=draw(st.integers(min_value=0, max_value=subaccounts)),
        utc_offset=draw(st.integers(min_value=-12, max_value=14)),
    )


@settings(max_examples=25, deadline=None)
@given(profile=families(), seed=st.integers(min_value=0, max_value=2**16))
def test_any_small_family_is_listed_as_sandbox_family_and_its_days_add_up(profile: Profile, seed: int) -> None:
    with Sandbox(seed=seed, customers=[profile], now=NOW, call_retention_days=7320) as sb:
        customer = sb.customer_account_sids[0]
        with connect_client(sb, customer) as client:
            listed = client.get("/2010-04-01/Accounts.json", params={"PageSize": 1000}).raise_for_status().json()
        members = sb.family(customer)[:-1]
        histories = [sb.state.data(sid) for sid in members]

    accounts = listed["accounts"]
    assert [a["sid"] for a in accounts] == sb.family(customer)
    assert len(accounts) == profile.subaccounts + 2
    assert {a["owner_account_sid"] for a in accounts} == {customer}
    assert [a["status"] for a in accounts] == statuses(profile)
    assert accounts[0]["friendly_name"] == profile.name
    # The per-day counts of the family's accounts add up to the profile's totals exactly.
    assert sum(sum(h._call_counts.values()) for h in histories) == profile.calls
    assert sum(sum(h._message_counts.values()) for h in histories) == profile.message_total
    for history in histories:
        assert all(n >= 0 for n in history._call_counts.values())
