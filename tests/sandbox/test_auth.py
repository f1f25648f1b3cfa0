"""The sandbox's REST auth matrix over real HTTP: who may read, write and update what.

Connect credentials are the AccountSid the app received, which names the app's
Connect subaccount under the customer's main account (notes §8.1), with the
owner's Auth Token (§1.6), valid only while the customer has the app authorized
(§1.7). Every refusal is Twilio's error body (§3.1). The family-wide side of the
matrix (every family account readable, nothing else) is in ``test_families.py``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from twilio_support import assert_twilio_error

from connect_notebook.sandbox import Sandbox

UNKNOWN_ACCOUNT = "AC" + "0" * 32
WRONG_TOKEN = "f" * 32


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A client for the sandbox that sends no credentials unless a request adds them."""
    with httpx.Client(base_url=sandbox.api_url) as client:
        yield client


def assert_unauthorized(response: httpx.Response) -> None:
    """401 / 20003 "Authenticate", with a Basic challenge."""
    assert_twilio_error(response, 401, 20003)
    assert response.headers["www-authenticate"].lower().startswith("basic")


def who(sandbox: Sandbox, role: str) -> str:
    """Resolve a role name used in the parameter tables to an AccountSid.

    ``connected`` / ``other-connected`` are the Connect subaccounts the app received
    for the first / second customer; they exist once that customer has authorized.
    """
    customer, other = sandbox.customer_account_sids[:2]
    if role in ("connected", "other-connected"):
        sid = sandbox.connected_sid(customer if role == "connected" else other)
        assert sid is not None, f"{role} needs an authorization first"
        return sid
    return {
        "owner": sandbox.owner_account_sid,
        "customer": customer,
        "subaccount": sandbox.family(customer)[1],
        "other": other,
        "unknown": UNKNOWN_ACCOUNT,
    }[role]


def token(sandbox: Sandbox, kind: str) -> str:
    """Resolve a token name used in the parameter tables."""
    return {
        "owner": sandbox.owner_auth_token,
        "wrong": WRONG_TOKEN,
        "upper": sandbox.owner_auth_token.upper(),
        "empty": "",
    }[kind]


def prepare(sandbox: Sandbox, steps: tuple[str, ...]) -> None:
    """Bring the Connect authorizations into the state a test case needs."""
    for step in steps:
        if step == "authorize":
            sandbox.authorize(who(sandbox, "customer"))
        elif step == "authorize-other":
            sandbox.authorize(who(sandbox, "other"))
        elif step == "revoke":
            result = sandbox.deauthorize(who(sandbox, "customer"))
            assert result.callback_url is None  # the default app has no callback to call
        else:  # pragma: no cover - a typo in the table
            raise AssertionError(step)


# --- accepted credentials ----------------------------------------------------------


def test_owner_credentials_read_own_account_and_see_own_auth_token(sandbox: Sandbox, http: httpx.Client) -> None:
    owner = sandbox.owner_account_sid
    auth = (owner, sandbox.owner_auth_token)

    calls = http.get(f"/2010-04-01/Accounts/{owner}/Calls.json", auth=auth)
    account = http.get(f"/2010-04-01/Accounts/{owner}.json", auth=auth)

    assert calls.status_code == 200
    assert calls.json()["calls"]
    assert {c["account_sid"] for c in calls.json()["calls"]} == {owner}
    assert account.status_code == 200
    assert account.json()["sid"] == owner
    assert account.json()["auth_token"] == sandbox.owner_auth_token


@pytest.mark.parametrize(
    "permissions",
    [
        pytest.param(("get-all",), id="get-all"),
        pytest.param(("get-all", "post-all"), id="get-all-and-post-all"),
    ],
)
def test_authorized_customer_reads_with_owner_token_but_never_sees_it(
    sandbox: Sandbox, http: httpx.Client, permissions: tuple[str, ...]
) -> None:
    customer = sandbox.customer_account_sids[0]
    connected = sandbox.authorize(customer, permissions)
    auth = (connected, sandbox.owner_auth_token)

    calls = http.get(f"/2010-04-01/Accounts/{customer}/Calls.json", auth=auth)
    account = http.get(f"/2010-04-01/Accounts/{customer}.json", auth=auth)
    accounts = http.get("/2010-04-01/Accounts.json", auth=auth)

    assert connected != customer
    assert calls.status_code == 200
    assert calls.json()["calls"]
    assert {c["account_sid"] for c in calls.json()["calls"]} == {customer}
    assert account.status_code == 200
    assert account.json()["sid"] == customer
    assert account.json()["auth_token"] is None
    assert accounts.status_code == 200
    assert [(a["sid"], a["auth_token"]) for a in accounts.json()["accounts"]] == [
        (sid, None) for sid in sandbox.family(customer)
    ]
    for response in (calls, account, accounts):
        assert sandbox.owner_auth_token not in response.text


# --- refused credentials -------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "password", "path_account", "steps"),
    [
        pytest.param("owner", "owner", "customer", (), id="owner-creds-on-customer-path"),
        pytest.param("owner", "owner", "customer", ("authorize",), id="owner-creds-on-authorized-customer-path"),
        pytest.param("customer", "owner", "customer", (), id="never-authorized-customer"),
        pytest.param("customer", "owner", "customer", ("authorize",), id="main-account-sid-while-authorized"),
        pytest.param("subaccount", "owner", "subaccount", ("authorize",), id="subaccount-sid-while-authorized"),
        pytest.param("connected", "owner", "customer", ("authorize", "revoke"), id="revoked-customer"),
        pytest.param("owner", "wrong", "owner", (), id="owner-with-wrong-token"),
        pytest.param("owner", "upper", "owner", (), id="owner-token-in-other-case"),
        pytest.param("owner", "empty", "owner", (), id="owner-with-empty-token"),
        pytest.param("connected", "wrong", "customer", ("authorize",), id="authorized-customer-wrong-token"),
        pytest.param("unknown", "owner", "unknown", (), id="unknown-account-sid"),
        pytest.param("connected", "owner", "other", ("authorize", "authorize-other"), id="username-differs-from-path"),
        pytest.param("connected", "owner", "owner", ("authorize",), id="connected-on-owner-path"),
        pytest.param("other", "owner", "customer", ("authorize",), id="unauthorized-user-on-authorized-path"),
    ],
)
def test_refused_credentials_get_401_20003(
    sandbox: Sandbox, http: httpx.Client, user: str, password: str, path_account: str, steps: tuple[str, ...]
) -> None:
    prepare(sandbox, steps)
    auth = (who(sandbox, user), token(sandbox, password))
    base = f"/2010-04-01/Accounts/{who(sandbox, path_account)}"

    for path in (f"{base}/Calls.json", f"{base}.json", f"{base}/Messages.json"):
        assert_unauthorized(http.get(path, auth=auth))


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("Bearer abc.def.ghi", id="bearer-scheme"),
        pytest.param("Basic", id="basic-without-credentials"),
        pytest.param("Basic !!!not-base64!!!", id="not-base64"),
        pytest.param("Basic QUN4", id="truncated-base64"),
        pytest.param("{basic-no-colon}", id="no-colon-separator"),
        pytest.param("{basic-not-utf8}", id="not-utf8"),
    ],
)
def test_missing_or_garbled_authorization_header_gets_401_with_challenge(
    sandbox: Sandbox, http: httpx.Client, authorization: str | None
) -> None:
    customer = sandbox.customer_account_sids[0]
    connected = sandbox.authorize(customer)
    if authorization == "{basic-no-colon}":
        authorization = _basic(f"{connected}{sandbox.owner_auth_token}".encode())
    elif authorization == "{basic-not-utf8}":
        authorization = _basic(connected.encode() + b":\xff\xfe" + sandbox.owner_auth_token.encode())
    headers = {} if authorization is None else {"Authorization": authorization}

    response = http.get(f"/2010-04-01/Accounts/{customer}/Calls.json", headers=headers)

    assert_unauthorized(response)


# --- permissions: get-all reads, post-all writes --------------------------------------


@pytest.mark.parametrize(
    ("resource", "form"),
    [
        pytest.param(
            "Calls.json", {"To": "+14155550100", "From": "+14155550199", "Url": "https://example.com/twiml"}, id="calls"
        ),
        pytest.param("Messages.json", {"To": "+14155550100", "From": "+14155550199", "Body": "hi"}, id="messages"),
    ],
)
def test_get_all_customer_cannot_post_403_20403(
    sandbox: Sandbox, http: httpx.Client, resource: str, form: dict[str, str]
) -> None:
    customer = sandbox.customer_account_sids[0]
    connected = sandbox.authorize(customer, ("get-all",))
    auth = (connected, sandbox.owner_auth_token)

    own = http.post(f"/2010-04-01/Accounts/{connected}/{resource}", data=form, auth=auth)
    main = http.post(f"/2010-04-01/Accounts/{customer}/{resource}", data=form, auth=auth)

    assert_twilio_error(own, 403, 20403)
    assert_twilio_error(main, 403, 20403)


def test_post_all_customer_places_a_call_201(sandbox: Sandbox, http: httpx.Client) -> None:
    customer = sandbox.customer_account_sids[0]
    connected = sandbox.authorize(customer, ("get-all", "post-all"))
    form = {"To": "+14155550100", "From": "+14155550199", "Url": "https://example.com/twiml"}

    # post-all writes into the Connect subaccount only (notes §8.1).
    response = http.post(
        f"/2010-04-01/Accounts/{connected}/Calls.json", data=form, auth=(connected, sandbox.owner_auth_token)
    )

    assert response.status_code == 201, response.text
    call = response.json()
    assert call["account_sid"] == connected
    assert call["status"] == "queued"
    assert (call["to"], call["from"]) == (form["To"], form["From"])
    assert call["sid"].startswith("CA")


# --- the owner updates its Connect App -------------------------------------------------


def _app_path(sandbox: Sandbox, account: str | None = None) -> str:
    account = account or sandbox.owner_account_sid
    return f"/2010-04-01/Accounts/{account}/ConnectApps/{sandbox.connect_app_sid}.json"


@pytest.mark.parametrize(
    "permissions_form",
    [
        pytest.param({"Permissions": "get-all,post-all"}, id="comma-separated-permissions"),
        pytest.param({"Permissions": ["get-all", "post-all"]}, id="repeated-permissions"),
    ],
)
def test_owner_post_updates_connect_app_fields(
    sandbox: Sandbox, http: httpx.Client, permissions_form: dict[str, str | list[str]]
) -> None:
    auth = (sandbox.owner_account_sid, sandbox.owner_auth_token)
    form = {
        "AuthorizeRedirectUrl": "https://app.example.com/connect/authorized",
        "DeauthorizeCallbackUrl": "https://app.example.com/connect/deauthorized",
        "DeauthorizeCallbackMethod": "GET",
        **permissions_form,
    }

    response = http.post(_app_path(sandbox), data=form, auth=auth)
    fetched = http.get(_app_path(sandbox), auth=auth)

    assert response.status_code == 200, response.text
    expected = {
        "sid": sandbox.connect_app_sid,
        "account_sid": sandbox.owner_account_sid,
        "authorize_redirect_url": "https://app.example.com/connect/authorized",
        "deauthorize_callback_url": "https://app.example.com/connect/deauthorized",
        "deauthorize_callback_method": "GET",
        "permissions": ["get-all", "post-all"],
    }
    for body in (response.json(), fetched.json()):
        assert {k: body[k] for k in expected} == expected
    app = sandbox.connect_app
    assert app.authorize_redirect_url == expected["authorize_redirect_url"]
    assert app.deauthorize_callback_url == expected["deauthorize_callback_url"]
    assert app.deauthorize_callback_method == "GET"
    assert app.permissions == ("get-all", "post-all")


@pytest.mark.parametrize(
    "form",
    [
        pytest.param({"AuthorizeRedirectUrl": "ftp://app.example.com/x"}, id="authorize-url-not-http"),
        pytest.param({"AuthorizeRedirectUrl": "not a url"}, id="authorize-url-garbage"),
        pytest.param({"DeauthorizeCallbackUrl": "/connect/deauthorized"}, id="callback-url-relative"),
        pytest.param({"DeauthorizeCallbackMethod": "PUT"}, id="callback-method-put"),
        pytest.param({"Permissions": "read-all"}, id="unknown-permission"),
        pytest.param({"Permissions": ""}, id="no-permission"),
        pytest.param({"FriendlyName": "x" * 65}, id="friendly-name-too-long"),
        pytest.param(
            {"AuthorizeRedirectUrl": "https://ok.example.com/", "Permissions": "root"},
            id="valid-field-with-invalid-field",
        ),
    ],
)
def test_owner_post_with_invalid_connect_app_value_is_400_and_changes_nothing(
    sandbox: Sandbox, http: httpx.Client, form: dict[str, str]
) -> None:
    before = sandbox.connect_app

    auth = (sandbox.owner_account_sid, sandbox.owner_auth_token)

    response = http.post(_app_path(sandbox), data=form, auth=auth)

    assert_twilio_error(response, 400)
    assert sandbox.connect_app == before


def test_customer_cannot_update_the_owners_connect_app(sandbox: Sandbox, http: httpx.Client) -> None:
    customer = sandbox.customer_account_sids[0]
    connected = sandbox.authorize(customer, ("get-all", "post-all"))
    auth = (connected, sandbox.owner_auth_token)
    before = sandbox.connect_app
    form = {"AuthorizeRedirectUrl": "https://evil.example.com/"}

    on_owner_path = http.post(_app_path(sandbox), data=form, auth=auth)
    on_own_path = http.post(_app_path(sandbox, connected), data=form, auth=auth)
    on_main_path = http.post(_app_path(sandbox, customer), data=form, auth=auth)

    assert_unauthorized(on_owner_path)
    assert_twilio_error(on_own_path, 404, 20404)
    assert_twilio_error(on_main_path, 403, 20403)
    assert sandbox.connect_app == before


# --- 404 and 405 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/2010-04-01/Accounts/{owner}/Balance.json", id="unknown-resource"),
        pytest.param("/2010-04-01/Accounts/{owner}/Calls/CA" + "0" * 32 + ".json", id="unknown-call-sid"),
        pytest.param("/2010-04-01/Accounts/{owner}/Calls/CAnot-a-sid.json", id="malformed-call-sid"),
        pytest.param("/2010-04-01/Accounts/{owner}/Messages/SM" + "0" * 32 + ".json", id="unknown-message-sid"),
        pytest.param("/2010-04-01/Accounts/{owner}/ConnectApps/CN" + "0" * 32 + ".json", id="unknown-connect-app-sid"),
        pytest.param("/v1/Alerts/NO" + "0" * 32, id="unknown-alert-sid"),
        pytest.param("/2010-04-01/Nothing.json", id="unknown-top-level-path"),
    ],
)
def test_unknown_resource_is_404_20404(sandbox: Sandbox, http: httpx.Client, path: str) -> None:
    path = path.format(owner=sandbox.owner_account_sid)

    response = http.get(path, auth=(sandbox.owner_account_sid, sandbox.owner_auth_token))

    body = assert_twilio_error(response, 404, 20404)
    assert path in body["message"]


def test_call_sid_of_another_account_is_404(sandbox: Sandbox, http: httpx.Client) -> None:
    first, second = sandbox.customer_account_sids[:2]
    first_connected = sandbox.authorize(first)
    second_connected = sandbox.authorize(second)
    call_sid = sandbox.calls(first)[0]["sid"]
    subaccount = sandbox.family(first)[1]

    own = http.get(
        f"/2010-04-01/Accounts/{first}/Calls/{call_sid}.json", auth=(first_connected, sandbox.owner_auth_token)
    )
    sibling = http.get(
        f"/2010-04-01/Accounts/{subaccount}/Calls/{call_sid}.json", auth=(first_connected, sandbox.owner_auth_token)
    )
    other = http.get(
        f"/2010-04-01/Accounts/{second}/Calls/{call_sid}.json", auth=(second_connected, sandbox.owner_auth_token)
    )

    assert own.status_code == 200
    assert own.json()["sid"] == call_sid
    # A call belongs to one account: not to its family's other accounts, nor another customer's.
    assert_twilio_error(sibling, 404, 20404)
    assert_twilio_error(other, 404, 20404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("DELETE", "/2010-04-01/Accounts/{owner}/Calls.json", id="delete-calls-list"),
        pytest.param("PUT", "/2010-04-01/Accounts/{owner}/Calls.json", id="put-calls-list"),
        pytest.param("POST", "/2010-04-01/Accounts/{owner}/Usage/Records.json", id="post-usage-records"),
        pytest.param("DELETE", "/v1/Alerts", id="delete-alerts"),
    ],
)
def test_unsupported_method_is_405_json(sandbox: Sandbox, http: httpx.Client, method: str, path: str) -> None:
    path = path.format(owner=sandbox.owner_account_sid)

    response = http.request(method, path, auth=(sandbox.owner_account_sid, sandbox.owner_auth_token))

    assert_twilio_error(response, 405)


# --- Monitor follows the same credential rules ---------------------------------------------


@pytest.mark.parametrize(
    ("user", "password", "steps", "status"),
    [
        pytest.param("owner", "owner", (), 200, id="owner"),
        pytest.param("connected", "owner", ("authorize",), 200, id="authorized-customer"),
        pytest.param("customer", "owner", (), 401, id="never-authorized-customer"),
        pytest.param("customer", "owner", ("authorize",), 401, id="main-account-sid-while-authorized"),
        pytest.param("connected", "owner", ("authorize", "revoke"), 401, id="revoked-customer"),
        pytest.param("owner", "wrong", (), 401, id="wrong-token"),
        pytest.param("connected", "wrong", ("authorize",), 401, id="authorized-customer-wrong-token"),
        pytest.param("unknown", "owner", (), 401, id="unknown-account-sid"),
        pytest.param(None, None, (), 401, id="no-credentials"),
    ],
)
def test_monitor_alerts_obey_connect_credential_rules(
    sandbox: Sandbox,
    http: httpx.Client,
    user: str | None,
    password: str | None,
    steps: tuple[str, ...],
    status: int,
) -> None:
    prepare(sandbox, steps)
    auth = None if user is None or password is None else (who(sandbox, user), token(sandbox, password))

    response = http.get("/v1/Alerts", params={"PageSize": 20}, auth=auth)

    if status == 200:
        assert response.status_code == 200, response.text
        alerts = response.json()["alerts"]
        # Monitor answers for the authenticated account only: the owner's debugger log has
        # alerts; a Connect subaccount's own log is empty in the sandbox.
        assert bool(alerts) is (user == "owner")
        assert {a["account_sid"] for a in alerts} <= {who(sandbox, user)}  # type: ignore[arg-type]
        assert sandbox.owner_auth_token not in response.text
    else:
        assert_unauthorized(response)


def test_monitor_alert_of_another_account_is_404(sandbox: Sandbox, http: httpx.Client) -> None:
    customer = sandbox.customer_account_sids[0]
    connected = sandbox.authorize(customer)
    owner_auth = (sandbox.owner_account_sid, sandbox.owner_auth_token)
    alert_sid = http.get("/v1/Alerts", auth=owner_auth).json()["alerts"][0]["sid"]

    as_owner = http.get(f"/v1/Alerts/{alert_sid}", auth=owner_auth)
    as_customer = http.get(f"/v1/Alerts/{alert_sid}", auth=(connected, sandbox.owner_auth_token))

    assert as_owner.status_code == 200
    assert as_owner.json()["sid"] == alert_sid
    assert_twilio_error(as_customer, 404, 20404)
