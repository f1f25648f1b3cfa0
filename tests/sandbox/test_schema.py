"""The sandbox's responses checked against Twilio's own OpenAPI specs.

Real responses, fetched over loopback, are validated with openapi-core against the
operation the spec declares for their path (``api.twilio.com`` 2010-04-01 and
``monitor.twilio.com`` v1). Every documented property must be present
(``response_properties_default_policy="required"``), so a field the sandbox forgets
fails here, not in a user's notebook.

Three quirks of the published specs are patched explicitly, never by switching
validation off: usage ``price`` typed as a number while the spec's own examples send
a string, ``format: uri`` on page links that its examples give as relative URIs, and
null outside the enum of a ``nullable`` field (see ``_patch_2010_spec`` and
``_patch_nullable_enums``). A test below proves each quirk is still in the spec, so
a fixed spec makes that test fail and the patch can go.
"""

from __future__ import annotations

import copy
import email.utils
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.configurations import Config
from spec_support import schema_errors

from connect_notebook.sandbox import Profile, Sandbox

API_HOST = "https://api.twilio.com"
MONITOR_HOST = "https://monitor.twilio.com"
# twilio-python's Page.META_KEYS: everything else at the top level is the record list.
META_KEYS = {
    "end",
    "first_page_uri",
    "next_page_uri",
    "last_page_uri",
    "page",
    "page_size",
    "previous_page_uri",
    "total",
    "num_pages",
    "start",
    "uri",
}
PAGE_URI_KEYS = ("first_page_uri", "next_page_uri", "previous_page_uri", "uri")
USAGE_KINDS = ("", "AllTime", "Daily", "Monthly", "Yearly", "Today", "Yesterday", "ThisMonth", "LastMonth")
# A usage record price as the spec's examples write it: "0", "2192.84855".
DECIMAL_STRING = r"^-?[0-9]+(\.[0-9]+)?$"


# --- loading and patching the specs (once per session) ------------------------------


def _usage_paths(spec: dict[str, Any]) -> list[str]:
    return [p for p in spec["paths"] if "/Usage/Records" in p and "get" in spec["paths"][p]]


def _list_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    ok = spec["paths"][path]["get"]["responses"]["200"]
    schema: dict[str, Any] = ok["content"]["application/json"]["schema"]
    return schema


def _patch_2010_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of the 2010 spec with its two self-contradictions resolved."""
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]
    for name, schema in schemas.items():
        if name.startswith("api.v2010.account.usage.usage_record"):
            # The schema types `price` as a number, but the spec's own examples send a
            # string (`"price": "2192.84855"` in ListUsageRecordResponse.readFull,
            # `"price": "0"` in every sub-list's readFull), as the live API does and as
            # twilio-python expects (it parses the string to Decimal). Validate the
            # string form strictly instead of dropping the check.
            schema["properties"]["price"] = {"type": "string", "pattern": DECIMAL_STRING, "nullable": True}
    for item in spec["paths"].values():
        ok = item.get("get", {}).get("responses", {}).get("200", {})
        props = ok.get("content", {}).get("application/json", {}).get("schema", {}).get("properties", {})
        if not any(p.get("type") == "array" for p in props.values()):
            continue  # not a list envelope
        for key in PAGE_URI_KEYS:
            if props.get(key, {}).get("format") == "uri":
                # The envelope declares `format: uri` (an absolute URI), yet every
                # example in the spec gives a relative one
                # ("/2010-04-01/Accounts/AC…/Calls.json?PageSize=50&Page=0"): the 2010
                # API's links are relative to https://api.twilio.com. Check them as
                # URI references rather than not at all.
                props[key]["format"] = "uri-reference"
    _patch_nullable_enums(spec)
    return spec


def _patch_nullable_enums(node: Any) -> Any:
    """Allow null in enums of ``nullable`` properties, as the specs' generator intends.

    Twilio's specs are OpenAPI 3.0.1, which does not say whether ``nullable: true``
    admits null past an ``enum``; OpenAPI 3.0.3 later said it does not, and
    openapi-core follows that. Twilio marks fields such as the alert's
    ``request_method`` nullable with ``enum: [GET, POST]`` and sends null for alerts
    that no HTTP request raised.
    """
    if isinstance(node, dict):
        if node.get("nullable") is True and isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        for value in node.values():
            _patch_nullable_enums(value)
    elif isinstance(node, list):
        for value in node:
            _patch_nullable_enums(value)
    return node


def _is_rfc2822_utc(value: object) -> bool:
    """``Tue, 31 Aug 2010 20:36:28 +0000``: the 2010 API's date format, always in UTC."""
    if not isinstance(value, str):
        return True  # nullability is the schema's business, not the format's
    try:
        email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return value.endswith(" +0000")


@pytest.fixture(scope="session")
def raw_2010_spec(specs_dir: Path) -> dict[str, Any]:
    """Twilio's 2010-04-01 spec as published."""
    spec: dict[str, Any] = json.loads((specs_dir / "twilio_api_v2010.json").read_text())
    return spec


@pytest.fixture(scope="session")
def raw_monitor_spec(specs_dir: Path) -> dict[str, Any]:
    """Twilio's Monitor v1 spec as published."""
    spec: dict[str, Any] = json.loads((specs_dir / "twilio_monitor_v1.json").read_text())
    return spec


def _openapi(spec: dict[str, Any], **formats: Any) -> OpenAPI:
    config = Config(
        # Twilio's spec is the reference here, not the thing under test; validating
        # a 1.9 MB spec on every run would only slow the suite down.
        spec_validator_cls=None,
        extra_format_validators=formats or None,
        response_properties_default_policy="required",
    )
    return OpenAPI.from_dict(spec, config=config)


@pytest.fixture(scope="session")
def openapi_2010(raw_2010_spec: dict[str, Any]) -> OpenAPI:
    """The 2010 spec, patched for its known quirks, ready to validate responses."""
    return _openapi(_patch_2010_spec(raw_2010_spec), **{"date-time-rfc-2822": _is_rfc2822_utc})


@pytest.fixture(scope="session")
def openapi_monitor(raw_monitor_spec: dict[str, Any]) -> OpenAPI:
    """The Monitor v1 spec, patched for nullable enums."""
    return _openapi(_patch_nullable_enums(copy.deepcopy(raw_monitor_spec)))


# --- clients -------------------------------------------------------------------


@pytest.fixture(scope="module")
def owner_api(_sandbox_server: Sandbox) -> Iterator[httpx.Client]:
    """httpx authenticated as the Connect App's owner (who has the ConnectApps).

    The owner's access does not depend on anything ``reset()`` clears, so one
    client serves the whole module.
    """
    sb = _sandbox_server
    with httpx.Client(base_url=sb.api_url, auth=(sb.owner_account_sid, sb.owner_auth_token)) as client:
        yield client


def _first(records: list[dict[str, Any]], wanted: Callable[[dict[str, Any]], bool], what: str) -> str:
    """The SID of the newest record that ``wanted`` accepts."""
    for record in records:
        if wanted(record):
            return str(record["sid"])
    msg = f"the sandbox's data has no {what}; pick another example"
    raise AssertionError(msg)


@pytest.fixture(scope="module")
def targets(_sandbox_server: Sandbox) -> dict[str, str]:
    """Path fragments that the parametrized cases below fill in (the data never changes).

    ``acc`` is the first customer's main account, ``sub`` its oldest subaccount; the
    Connect App reads both under their own paths.
    """
    sandbox = _sandbox_server
    customer = sandbox.customer_account_sids[0]
    calls = sandbox.calls(customer)
    messages = sandbox.messages(customer)
    return {
        "acc": f"/2010-04-01/Accounts/{customer}",
        "sub": f"/2010-04-01/Accounts/{sandbox.family(customer)[1]}",
        "owner": f"/2010-04-01/Accounts/{sandbox.owner_account_sid}",
        "app": sandbox.connect_app_sid,
        # The token next_page_uri carries after a first page of 100: the SID of its last call.
        "calls_page_1_token": f"PA{calls[99]['sid']}",
        "call_completed": _first(calls, lambda c: c["status"] == "completed", "completed call"),
        "call_child_leg": _first(calls, lambda c: c["parent_call_sid"] is not None, "child leg"),
        "call_no_answer": _first(calls, lambda c: c["status"] == "no-answer", "unanswered call"),
        "message_delivered": _first(messages, lambda m: m["status"] == "delivered", "delivered message"),
        "message_failed": _first(messages, lambda m: m["error_code"] is not None, "message with an error"),
        "message_inbound": _first(messages, lambda m: m["direction"] == "inbound", "inbound message"),
    }


API_CASES = [
    pytest.param("customer", "{acc}/Calls.json?PageSize=1000", id="calls-list"),
    pytest.param(
        "customer", "{acc}/Calls.json?PageSize=100&Page=1&PageToken={calls_page_1_token}", id="calls-list-page-1"
    ),
    pytest.param("customer", "{sub}/Calls.json?PageSize=1000", id="subaccount-calls-list"),
    pytest.param("customer", "{sub}/Messages.json?PageSize=1000", id="subaccount-messages-list"),
    pytest.param("customer", "{acc}/Calls/{call_completed}.json", id="call-fetch-completed"),
    pytest.param("customer", "{acc}/Calls/{call_child_leg}.json", id="call-fetch-child-leg"),
    pytest.param("customer", "{acc}/Calls/{call_no_answer}.json", id="call-fetch-no-answer"),
    pytest.param("customer", "{acc}/Messages.json?PageSize=1000", id="messages-list"),
    pytest.param("customer", "{acc}/Messages/{message_delivered}.json", id="message-fetch-delivered"),
    pytest.param("customer", "{acc}/Messages/{message_failed}.json", id="message-fetch-with-error-code"),
    pytest.param("customer", "{acc}/Messages/{message_inbound}.json", id="message-fetch-inbound"),
    *[
        pytest.param(
            "customer",
            f"{{acc}}/Usage/Records{'/' + kind if kind else ''}.json?PageSize=1000",
            id=f"usage-records-{kind or 'list'}",
        )
        for kind in USAGE_KINDS
    ],
    pytest.param(
        "customer", "{acc}/Usage/Records.json?PageSize=1000&IncludeSubaccounts=false", id="usage-records-own-only"
    ),
    pytest.param("customer", "{sub}/Usage/Records/Daily.json?PageSize=1000", id="subaccount-usage-records-Daily"),
    pytest.param("customer", "{acc}.json", id="account-fetch"),
    pytest.param("customer", "{sub}.json", id="account-fetch-subaccount"),
    pytest.param("owner", "{owner}.json", id="account-fetch-owner"),
    pytest.param("customer", "/2010-04-01/Accounts.json", id="accounts-list"),
    pytest.param("customer", "/2010-04-01/Accounts.json?Status=active", id="accounts-list-active"),
    pytest.param("owner", "/2010-04-01/Accounts.json", id="accounts-list-owner"),
    pytest.param("owner", "{owner}/ConnectApps.json", id="connect-apps-list"),
    pytest.param("owner", "{owner}/ConnectApps/{app}.json", id="connect-app-fetch"),
    pytest.param("customer", "{acc}/AuthorizedConnectApps.json", id="authorized-connect-apps-list"),
    pytest.param("customer", "{acc}/AuthorizedConnectApps/{app}.json", id="authorized-connect-app-fetch"),
]


@pytest.mark.parametrize(("who", "template"), API_CASES)
def test_2010_response_matches_twilio_spec(
    who: str,
    template: str,
    targets: dict[str, str],
    customer: str,
    api: httpx.Client,
    owner_api: httpx.Client,
    openapi_2010: OpenAPI,
) -> None:
    assert targets["acc"].endswith(customer)
    response = (api if who == "customer" else owner_api).get(template.format(**targets))
    assert response.status_code == 200, response.text
    body = response.json()
    if "page_size" in body:
        # A list must have records, or its item schema is never exercised.
        [records] = [v for k, v in body.items() if k not in META_KEYS]
        assert len(records) > 0
    assert schema_errors(openapi_2010, response, API_HOST) == []


FAMILY_CASES = [
    pytest.param("/2010-04-01/Accounts.json", id="family-list"),
    pytest.param("/2010-04-01/Accounts.json?Status=closed", id="family-list-closed"),
    pytest.param("/2010-04-01/Accounts.json?FriendlyName={closed_name}", id="family-list-by-name"),
    pytest.param("/2010-04-01/Accounts/{closed}.json", id="closed-subaccount-fetch"),
    pytest.param("/2010-04-01/Accounts/{connected}.json", id="connect-subaccount-fetch"),
    pytest.param("/2010-04-01/Accounts/{closed}/Calls.json?PageSize=1000", id="closed-subaccount-calls"),
    pytest.param("/2010-04-01/Accounts/{connected}/Calls.json", id="connect-subaccount-calls-empty"),
]


@pytest.mark.parametrize("template", FAMILY_CASES)
def test_family_lists_and_subaccount_records_match_twilio_spec(
    template: str, sandbox: Sandbox, openapi_2010: OpenAPI
) -> None:
    """The family of the customer with a closed subaccount, as its Connect App sees it."""
    customer = sandbox.customer_account_sids[2]
    connected = sandbox.authorize(customer)
    with httpx.Client(base_url=sandbox.api_url, auth=(connected, sandbox.owner_auth_token)) as client:
        family = client.get("/2010-04-01/Accounts.json").json()["accounts"]
        [closed] = [a for a in family if a["status"] == "closed"]
        names = {"closed": closed["sid"], "closed_name": closed["friendly_name"], "connected": connected}
        response = client.get(template.format(**names))
    assert response.status_code == 200, response.text
    body = response.json()
    if "accounts" in body:
        assert body["accounts"]
        assert {a["owner_account_sid"] for a in body["accounts"]} == {customer}
    if "calls" in body:
        assert bool(body["calls"]) is (template.count("{closed}") == 1)
    assert schema_errors(openapi_2010, response, API_HOST) == []


def test_in_progress_call_matches_twilio_spec(openapi_2010: OpenAPI) -> None:
    """A call still going on at the sandbox's clock (no end, duration or price) fits the schema.

    The session's sandbox has none at its pinned time, so this one is pinned at a
    busy hour where seed 7 has exactly such a call.
    """
    busy = Profile(name="Solo", pattern="dense", days=2, calls=1_000)
    with Sandbox(seed=7, customers=[busy], now="2026-11-01T16:00:00+00:00") as sb:
        customer = sb.customer_account_sids[0]
        connected = sb.authorize(customer)
        call = _first(sb.calls(customer), lambda c: c["status"] == "in-progress", "call in progress")
        with httpx.Client(base_url=sb.api_url, auth=(connected, sb.owner_auth_token)) as client:
            fetched = client.get(f"/2010-04-01/Accounts/{customer}/Calls/{call}.json")
            listed = client.get(f"/2010-04-01/Accounts/{customer}/Calls.json", params={"PageSize": 5})
    assert fetched.status_code == listed.status_code == 200
    body = fetched.json()
    assert (body["end_time"], body["duration"], body["price"]) == (None, None, None)
    assert call in [c["sid"] for c in listed.json()["calls"]]
    assert schema_errors(openapi_2010, fetched, API_HOST) == []
    assert schema_errors(openapi_2010, listed, API_HOST) == []


def test_monitor_alerts_list_matches_twilio_spec(monitor_api: httpx.Client, openapi_monitor: OpenAPI) -> None:
    # The owner's log: Monitor answers for the authenticated account, and a Connect subaccount's is empty.
    response = monitor_api.get("/v1/Alerts", params={"PageSize": 1000})
    assert response.status_code == 200, response.text
    alerts = response.json()["alerts"]
    # Both kinds of alert (raised by a webhook request, and not) are in the sample.
    assert {a["request_method"] is None for a in alerts} == {True, False}
    assert schema_errors(openapi_monitor, response, MONITOR_HOST) == []


@pytest.mark.parametrize("with_request", [True, False], ids=["raised-by-a-request", "no-request"])
def test_monitor_alert_fetch_matches_twilio_spec(
    with_request: bool, monitor_api: httpx.Client, openapi_monitor: OpenAPI
) -> None:
    alerts = monitor_api.get("/v1/Alerts", params={"PageSize": 1000}).json()["alerts"]
    sid = next(a["sid"] for a in alerts if (a["request_url"] is not None) is with_request)
    response = monitor_api.get(f"/v1/Alerts/{sid}")
    assert response.status_code == 200, response.text
    assert response.json()["sid"] == sid
    assert schema_errors(openapi_monitor, response, MONITOR_HOST) == []


def test_schema_check_rejects_a_call_with_a_numeric_duration(
    sandbox: Sandbox, customer: str, openapi_2010: OpenAPI
) -> None:
    """The validator is not a no-op: wrong types and formats are caught."""
    record = next(c for c in sandbox.calls(customer) if c["duration"] is not None)
    forged = {**record, "duration": int(record["duration"]), "start_time": "2026-10-01T00:00:00Z"}
    response = httpx.Response(200, json=forged, request=httpx.Request("GET", f"{API_HOST}{record['uri']}"))
    errors = schema_errors(openapi_2010, response, API_HOST)
    assert any(e.startswith("duration:") for e in errors), errors
    assert any(e.startswith("start_time:") for e in errors), errors


def test_schema_check_rejects_an_account_with_an_unknown_status_or_type(
    sandbox: Sandbox, customer: str, api: httpx.Client, openapi_2010: OpenAPI
) -> None:
    """Account records are really checked: Twilio's enums and the parent's SID pattern."""
    record = api.get(f"/2010-04-01/Accounts/{customer}.json").json()
    forged = {**record, "status": "frozen", "type": "Premium", "owner_account_sid": "AC123"}
    request = httpx.Request("GET", f"{API_HOST}/2010-04-01/Accounts/{customer}.json")
    errors = schema_errors(openapi_2010, httpx.Response(200, json=forged, request=request), API_HOST)
    for field in ("status", "type", "owner_account_sid"):
        assert any(e.startswith(f"{field}:") for e in errors), errors


# --- the quirks patched above are still in the published spec ------------------------


def test_spec_types_usage_price_as_number_but_its_examples_send_strings(
    raw_2010_spec: dict[str, Any],
) -> None:
    paths = _usage_paths(raw_2010_spec)
    assert len(paths) == len(USAGE_KINDS)
    for path in paths:
        item = _list_schema(raw_2010_spec, path)["properties"]["usage_records"]["items"]["$ref"]
        schema = raw_2010_spec["components"]["schemas"][item.rsplit("/", 1)[1]]
        assert schema["properties"]["price"]["type"] == "number", path
        examples = raw_2010_spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
        prices = [r["price"] for r in examples["readFull"]["value"]["usage_records"]]
        assert prices and all(isinstance(p, str) for p in prices), path


def test_spec_declares_absolute_page_uris_but_its_examples_are_relative(
    raw_2010_spec: dict[str, Any],
) -> None:
    path = "/2010-04-01/Accounts/{AccountSid}/Calls.json"
    props = _list_schema(raw_2010_spec, path)["properties"]
    assert props["first_page_uri"]["format"] == "uri"
    examples = raw_2010_spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["examples"]
    assert all(e["value"]["first_page_uri"].startswith("/2010-04-01/") for e in examples.values())


def test_spec_marks_alert_request_method_nullable_with_an_enum_without_null(
    raw_monitor_spec: dict[str, Any],
) -> None:
    prop = raw_monitor_spec["components"]["schemas"]["monitor.v1.alert"]["properties"]["request_method"]
    assert prop["nullable"] is True
    assert None not in prop["enum"]


# --- envelopes -----------------------------------------------------------------

ENVELOPE_CASES = [
    pytest.param("customer", "{acc}/Calls.json", "calls", id="calls"),
    pytest.param("customer", "{acc}/Calls.json?To=%2B10000000000", "calls", id="calls-empty"),
    pytest.param("customer", "{acc}/Messages.json", "messages", id="messages"),
    pytest.param("customer", "{acc}/Messages.json?From=%2B10000000000", "messages", id="messages-empty"),
    *[
        pytest.param(
            "customer",
            f"{{acc}}/Usage/Records{'/' + kind if kind else ''}.json",
            "usage_records",
            id=f"usage-records-{kind or 'list'}",
        )
        for kind in USAGE_KINDS
    ],
    pytest.param("customer", "/2010-04-01/Accounts.json", "accounts", id="accounts"),
    pytest.param("owner", "{owner}/ConnectApps.json", "connect_apps", id="connect-apps"),
    pytest.param("customer", "{acc}/ConnectApps.json", "connect_apps", id="connect-apps-empty"),
    pytest.param(
        "customer",
        "{acc}/AuthorizedConnectApps.json",
        "authorized_connect_apps",
        id="authorized-connect-apps",
    ),
]


@pytest.mark.parametrize(("who", "template", "key"), ENVELOPE_CASES)
def test_2010_list_envelope_has_exactly_one_record_key(
    who: str, template: str, key: str, targets: dict[str, str], api: httpx.Client, owner_api: httpx.Client
) -> None:
    response = (api if who == "customer" else owner_api).get(template.format(**targets))
    assert response.status_code == 200, response.text
    body = response.json()
    # twilio-python takes "the only key that is not a meta key" as the records.
    assert set(body) - META_KEYS == {key}
    assert isinstance(body[key], list)
    for name in PAGE_URI_KEYS:
        assert body[name] is None or body[name].startswith(urlsplit(str(response.url)).path + "?")


def _is_on_sandbox(url: str, sandbox: Sandbox, path: str) -> bool:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" == sandbox.monitor_url and parts.path == path


def test_alerts_envelope_has_absolute_meta_urls_on_the_sandbox_host(
    monitored: Sandbox, monitor_api: httpx.Client
) -> None:
    sandbox, api = monitored, monitor_api
    first = api.get("/v1/Alerts", params={"PageSize": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"alerts", "meta"}
    meta = body["meta"]
    assert meta["key"] == "alerts"
    assert (meta["page"], meta["page_size"], meta["previous_page_url"]) == (0, 2, None)
    for name in ("first_page_url", "url", "next_page_url"):
        assert _is_on_sandbox(meta[name], sandbox, "/v1/Alerts"), (name, meta[name])
    assert all(_is_on_sandbox(a["url"], sandbox, f"/v1/Alerts/{a['sid']}") for a in body["alerts"])

    # The absolute next link is followed verbatim (as twilio-python does) and links back.
    second = api.get(meta["next_page_url"])
    assert second.status_code == 200, second.text
    meta2 = second.json()["meta"]
    assert meta2["page"] == 1
    assert _is_on_sandbox(meta2["previous_page_url"], sandbox, "/v1/Alerts")
    assert parse_qs(urlsplit(meta2["url"]).query)["Page"] == ["1"]


# --- Monitor Events ----------------------------------------------------------------


def test_monitor_events_list_and_fetch_match_twilio_spec(sandbox: Sandbox, openapi_monitor: OpenAPI) -> None:
    # Northwind Logistics: 13 months of events (a paid Edition), every event type the sandbox makes.
    customer = sandbox.customer_account_sids[1]
    connected = sandbox.authorize(customer)
    with httpx.Client(base_url=sandbox.monitor_url, auth=(connected, sandbox.owner_auth_token)) as client:
        listed = client.get("/v1/Events", params={"PageSize": 1000})
        assert listed.status_code == 200, listed.text
        events = listed.json()["events"]
        assert {e["source"] for e in events} == {"web", "api", "twilio"}
        assert schema_errors(openapi_monitor, listed, MONITOR_HOST) == []
        paged = client.get("/v1/Events", params={"PageSize": 3, "EventType": "account.updated"})
        assert paged.json()["meta"]["next_page_url"] is not None
        assert schema_errors(openapi_monitor, paged, MONITOR_HOST) == []
        for kind in sorted({e["event_type"] for e in events}):
            sid = next(e["sid"] for e in events if e["event_type"] == kind)
            fetched = client.get(f"/v1/Events/{sid}")
            assert fetched.status_code == 200, fetched.text
            assert schema_errors(openapi_monitor, fetched, MONITOR_HOST) == [], kind


def test_schema_check_rejects_an_event_with_an_account_as_actor(openapi_monitor: OpenAPI) -> None:
    """The Events schema is really checked: the spec admits only a user (US…) as actor_sid."""
    forged = {
        "account_sid": "AC" + "a" * 32,
        "actor_sid": "AC" + "a" * 32,
        "actor_type": "account",
        "description": None,
        "event_data": None,
        "event_date": "2026-10-01T00:00:00Z",
        "event_type": "account.updated",
        "links": {},
        "resource_sid": "AC" + "a" * 32,
        "resource_type": "account",
        "sid": "AE" + "a" * 32,
        "source": "api",
        "source_ip_address": "198.51.100.7",
        "url": f"{MONITOR_HOST}/v1/Events/AE{'a' * 32}",
    }
    request = httpx.Request("GET", f"{MONITOR_HOST}/v1/Events/AE{'a' * 32}")
    errors = schema_errors(openapi_monitor, httpx.Response(200, json=forged, request=request), MONITOR_HOST)
    assert any(e.startswith("actor_sid:") for e in errors), errors


# --- BulkExport v1 ----------------------------------------------------------------

BULKEXPORTS_HOST = "https://bulkexports.twilio.com"


@pytest.fixture(scope="session")
def openapi_bulkexports(specs_dir: Path) -> OpenAPI:
    """Twilio's BulkExport v1 spec as published (no quirk needed patching)."""
    spec: dict[str, Any] = json.loads((specs_dir / "twilio_bulkexports_v1.json").read_text())
    return _openapi(spec)


@pytest.mark.parametrize("resource", ["Calls", "Messages"])
def test_bulkexports_export_days_and_day_redirect_match_twilio_spec(
    sandbox: Sandbox, openapi_bulkexports: OpenAPI, resource: str
) -> None:
    sid = sandbox.customer_account_sids[0]
    sandbox.authorize(sid)
    auth = (sandbox.connected_sid(sid) or "", sandbox.owner_auth_token)
    with httpx.Client(base_url=sandbox.bulkexports_url, auth=auth) as client:
        export = client.get(f"/v1/Exports/{resource}")
        days = client.get(f"/v1/Exports/{resource}/Days", params={"PageSize": "3"})
        following = client.get(days.json()["meta"]["next_page_url"])
        day = client.get(f"/v1/Exports/{resource}/Days/{days.json()['days'][0]['day']}")
    assert (export.status_code, days.status_code, following.status_code, day.status_code) == (200, 200, 200, 307)
    for response in (export, days, following, day):
        assert schema_errors(openapi_bulkexports, response, BULKEXPORTS_HOST) == []


def test_bulkexports_jobs_match_twilio_spec(sandbox: Sandbox, openapi_bulkexports: OpenAPI) -> None:
    sid = sandbox.customer_account_sids[0]
    sandbox.authorize(sid, ("get-all", "post-all"))
    auth = (sandbox.connected_sid(sid) or "", sandbox.owner_auth_token)
    form = {"StartDay": "2026-10-01", "EndDay": "2026-10-03", "FriendlyName": "audit"}
    with httpx.Client(base_url=sandbox.bulkexports_url, auth=auth) as client:
        created = client.post("/v1/Exports/Calls/Jobs", data=form)
        listed = client.get("/v1/Exports/Calls/Jobs")
        fetched = client.get(f"/v1/Exports/Jobs/{created.json()['job_sid']}")
        deleted = client.delete(f"/v1/Exports/Jobs/{created.json()['job_sid']}")
    assert (created.status_code, listed.status_code, fetched.status_code, deleted.status_code) == (201, 200, 200, 204)
    for response in (created, listed, fetched, deleted):
        assert schema_errors(openapi_bulkexports, response, BULKEXPORTS_HOST) == []


def test_a_running_bulkexports_job_matches_twilio_spec(openapi_bulkexports: OpenAPI) -> None:
    with Sandbox(seed=7, calls_per_customer=300, now="2026-11-01T12:00:00Z", export_job_polls=2) as sb:
        sid = sb.customer_account_sids[0]
        auth = (sb.authorize(sid, ("get-all", "post-all")), sb.owner_auth_token)
        form = {"StartDay": "2026-10-01", "EndDay": "2026-10-03", "FriendlyName": "slow"}
        with httpx.Client(base_url=sb.bulkexports_url, auth=auth) as client:
            created = client.post("/v1/Exports/Calls/Jobs", data=form)
            listed = client.get("/v1/Exports/Calls/Jobs")
            fetched = client.get(f"/v1/Exports/Jobs/{created.json()['job_sid']}")
    assert [r.json().get("job_queue_position") for r in (created, fetched)] == ["2", "1"]
    for response in (created, listed, fetched):
        assert schema_errors(openapi_bulkexports, response, BULKEXPORTS_HOST) == []
