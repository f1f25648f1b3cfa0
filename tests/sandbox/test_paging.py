"""Paging of the sandbox's list resources, checked against its own ground truth.

``Sandbox.calls()`` / ``Sandbox.messages()`` render every record exactly as the API
does, newest first; walking ``next_page_uri`` must reproduce them exactly, whatever
the page size, and ``previous_page_uri`` must walk back over the same pages.
Absolute paging is gone: ``Page`` above 0 without a ``PageToken`` is Twilio's
``400`` / ``20001`` "PageToken is required for paging." (notes §8.2).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from twilio_support import assert_twilio_error

from connect_notebook.sandbox import Profile, Sandbox

NOW = "2026-11-01T12:00:00+00:00"


# --- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="module")
def truth(_sandbox_server: Sandbox) -> dict[str, list[dict[str, Any]]]:
    """The session sandbox's first customer's main account's calls and messages, as the API renders them.

    Computed once: the data is fixed by the seed and ``reset()`` never changes it.
    """
    sid = _sandbox_server.customer_account_sids[0]
    return {"calls": _sandbox_server.calls(sid), "messages": _sandbox_server.messages(sid)}


@pytest.fixture(scope="module")
def small_sandbox() -> Iterator[Sandbox]:
    """A sandbox small enough to page through one record at a time."""
    with Sandbox(seed=3, customers=[Profile(name="Solo", pattern="dense", days=5, calls=300)], now=NOW) as sb:
        sb.authorize(sb.customer_account_sids[0])
        yield sb


@pytest.fixture(scope="module")
def small_api(small_sandbox: Sandbox) -> Iterator[httpx.Client]:
    """httpx as the Connect App for the small sandbox's customer (its Connect subaccount's SID)."""
    sid = small_sandbox.connected_sid(small_sandbox.customer_account_sids[0])
    assert sid is not None
    with httpx.Client(base_url=small_sandbox.api_url, auth=(sid, small_sandbox.owner_auth_token)) as client:
        yield client


# --- helpers ---------------------------------------------------------------------


def _path(customer: str, resource: str) -> str:
    return f"/2010-04-01/Accounts/{customer}/{resource}.json"


def _get_json(client: httpx.Client, url: str, params: Any = None) -> dict[str, Any]:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _walk(client: httpx.Client, url: str, params: Any = None, *, limit: int = 5_000) -> list[dict[str, Any]]:
    """Every page of a 2010 list, following ``next_page_uri`` until it is null."""
    pages = [_get_json(client, url, params)]
    while pages[-1]["next_page_uri"] is not None:
        assert len(pages) < limit, "next_page_uri never became null"
        pages.append(_get_json(client, pages[-1]["next_page_uri"]))
    return pages


def _walk_back(client: httpx.Client, last: dict[str, Any], *, limit: int = 5_000) -> list[dict[str, Any]]:
    """Every page from ``last`` back to the first, following ``previous_page_uri``; oldest page first."""
    pages = [last]
    while pages[-1]["previous_page_uri"] is not None:
        assert len(pages) < limit, "previous_page_uri never became null"
        pages.append(_get_json(client, pages[-1]["previous_page_uri"]))
    return pages[::-1]


def _records(pages: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [record for page in pages for record in page[key]]


# --- every record exactly once, in order ----------------------------------------------


@pytest.mark.parametrize("resource", ["Calls", "Messages"], ids=["calls", "messages"])
@pytest.mark.parametrize("page_size", [50, 1000], ids=["page-size-50", "page-size-1000"])
def test_paging_returns_every_record_once_in_ground_truth_order(
    resource: str, page_size: int, customer: str, api: httpx.Client, truth: dict[str, list[dict[str, Any]]]
) -> None:
    key = resource.lower()
    pages = _walk(api, _path(customer, resource), {"PageSize": page_size})
    expected = truth[key]
    assert len(pages) == -(-len(expected) // page_size)
    records = _records(pages, key)
    assert records == expected
    assert len({r["sid"] for r in records}) == len(records)
    # Newest first, as Twilio lists them.
    when = [parsedate_to_datetime(r["start_time" if key == "calls" else "date_sent"]) for r in records]
    assert when == sorted(when, reverse=True)


@pytest.mark.parametrize("resource", ["Calls", "Messages"], ids=["calls", "messages"])
def test_page_size_1_returns_every_record_once_in_ground_truth_order(
    resource: str, small_sandbox: Sandbox, small_api: httpx.Client
) -> None:
    sid = small_sandbox.customer_account_sids[0]
    key = resource.lower()
    expected = small_sandbox.calls(sid) if key == "calls" else small_sandbox.messages(sid)
    pages = _walk(small_api, _path(sid, resource), {"PageSize": 1})
    assert [len(p[key]) for p in pages] == [1] * len(expected)
    assert _records(pages, key) == expected


def test_filtered_paging_returns_every_matching_call_once(
    customer: str, api: httpx.Client, truth: dict[str, list[dict[str, Any]]]
) -> None:
    # Busy calls are sparse, so pages of 7 span several days, some with none.
    expected = [c for c in truth["calls"] if c["status"] == "busy"]
    assert len(expected) > 3 * 7
    pages = _walk(api, _path(customer, "Calls"), {"Status": "busy", "PageSize": 7})
    assert _records(pages, "calls") == expected


# --- walking back -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "params"),
    [
        pytest.param("Calls", {"PageSize": 50}, id="calls-page-size-50"),
        pytest.param("Messages", {"PageSize": 50}, id="messages-page-size-50"),
        pytest.param("Calls", {"PageSize": 7, "Status": "busy"}, id="busy-calls-page-size-7"),
        pytest.param("Calls", {"PageSize": 250}, id="calls-page-size-250"),  # the main account has 614
    ],
)
def test_previous_page_uri_walks_back_to_the_same_pages(
    resource: str, params: dict[str, Any], customer: str, api: httpx.Client
) -> None:
    key = resource.lower()
    forward = _walk(api, _path(customer, resource), params)
    assert len(forward) > 1
    backward = _walk_back(api, forward[-1])
    assert [p["page"] for p in backward] == [p["page"] for p in forward]
    assert [(p["start"], p["end"]) for p in backward] == [(p["start"], p["end"]) for p in forward]
    assert [p[key] for p in backward] == [p[key] for p in forward]


def test_previous_page_uri_walks_back_one_record_at_a_time(small_sandbox: Sandbox, small_api: httpx.Client) -> None:
    sid = small_sandbox.customer_account_sids[0]
    forward = _walk(small_api, _path(sid, "Messages"), {"PageSize": 1})
    backward = _walk_back(small_api, forward[-1])
    assert [p["messages"] for p in backward] == [p["messages"] for p in forward]


# --- envelope numbers -------------------------------------------------------------


def test_page_envelope_numbers_follow_the_walk(
    customer: str, api: httpx.Client, truth: dict[str, list[dict[str, Any]]]
) -> None:
    size = 100
    pages = _walk(api, _path(customer, "Calls"), {"PageSize": size})
    total = len(truth["calls"])
    assert total > 3 * size and total % size  # several full pages and a short last one
    for i, page in enumerate(pages):
        count = len(page["calls"])
        assert (page["page"], page["page_size"], page["start"]) == (i, size, i * size)
        assert count == min(size, total - i * size)
        assert page["end"] == i * size + count - 1
        assert page["first_page_uri"] == pages[0]["uri"]
        assert (page["previous_page_uri"] is None) == (i == 0)
        assert (page["next_page_uri"] is None) == (i == len(pages) - 1)
        assert dict(parse_qsl(urlsplit(page["uri"]).query))["Page"] == str(i)
    assert pages[-1]["end"] == total - 1


@pytest.mark.parametrize(
    "resource", ["Calls", "Messages", "Usage/Records/Daily"], ids=["calls", "messages", "usage-daily"]
)
@pytest.mark.parametrize("page", [None, "0"], ids=["no-page", "page-0"])
def test_page_0_without_a_token_is_the_first_page(
    resource: str, page: str | None, customer: str, api: httpx.Client
) -> None:
    path = _path(customer, resource)
    plain = _get_json(api, path, {"PageSize": 50})
    first = _get_json(api, path, {"PageSize": 50} if page is None else {"PageSize": 50, "Page": page})
    [key] = [k for k in first if isinstance(first[k], list)]
    assert first[key] == plain[key]
    assert len(first[key]) == 50
    assert (first["page"], first["start"], first["end"]) == (0, 0, 49)
    assert first["previous_page_uri"] is None
    # Its next link carries on from there, with a token, to page 1.
    second = _get_json(api, first["next_page_uri"])
    assert second["page"] == 1
    assert second[key]
    assert all(record not in first[key] for record in second[key])


def test_page_0_without_a_token_is_the_first_page_of_ground_truth(
    customer: str, api: httpx.Client, truth: dict[str, list[dict[str, Any]]]
) -> None:
    page = _get_json(api, _path(customer, "Calls"), {"PageSize": 50, "Page": 0})
    assert page["calls"] == truth["calls"][:50]
    assert _get_json(api, page["next_page_uri"])["calls"] == truth["calls"][50:100]


@pytest.mark.parametrize("n", [1, 17, 10_000], ids=["page-1", "page-17", "page-10000"])
@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/2010-04-01/Accounts/{customer}/Calls.json", id="calls"),
        pytest.param("/2010-04-01/Accounts/{customer}/Messages.json", id="messages"),
        pytest.param("/2010-04-01/Accounts/{customer}/Usage/Records.json", id="usage"),
        pytest.param("/2010-04-01/Accounts/{customer}/Usage/Records/Daily.json", id="usage-daily"),
        pytest.param("/2010-04-01/Accounts.json", id="accounts"),
    ],
)
def test_page_n_without_a_token_is_400_20001(path: str, n: int, customer: str, api: httpx.Client) -> None:
    response = api.get(path.format(customer=customer), params={"PageSize": 50, "Page": n})
    body = assert_twilio_error(response, 400)
    # The answer Twilio gives since absolute paging was retired (notes §8.2).
    assert (body["code"], body["message"]) == (20001, "PageToken is required for paging.")


def test_page_past_the_end_is_empty_without_links(
    customer: str, api: httpx.Client, truth: dict[str, list[dict[str, Any]]]
) -> None:
    last = _walk(api, _path(customer, "Calls"), {"PageSize": 50})[-1]
    assert last["next_page_uri"] is None
    # A next-page token made from the oldest call points past the end of the log.
    beyond = f"PA{truth['calls'][-1]['sid']}"
    page = _get_json(api, _path(customer, "Calls"), {"PageSize": 50, "Page": last["page"] + 1, "PageToken": beyond})
    assert page["calls"] == []
    assert page["next_page_uri"] is None
    assert page["previous_page_uri"] is None


@pytest.mark.parametrize(
    "resource", ["Calls", "Messages", "Usage/Records/Daily"], ids=["calls", "messages", "usage-daily"]
)
def test_page_size_defaults_to_50(resource: str, customer: str, api: httpx.Client) -> None:
    page = _get_json(api, _path(customer, resource))
    [key] = [k for k in page if isinstance(page[k], list)]
    assert page["page_size"] == 50
    assert len(page[key]) == 50
    assert ("PageSize", "50") in parse_qsl(urlsplit(page["uri"]).query)
    assert ("PageSize", "50") in parse_qsl(urlsplit(page["next_page_uri"]).query)


# --- errors -----------------------------------------------------------------------

BAD_PAGING = [
    pytest.param("Calls", {"PageSize": "0"}, id="calls-page-size-0"),
    pytest.param("Calls", {"PageSize": "1001"}, id="calls-page-size-1001"),
    pytest.param("Calls", {"PageSize": "abc"}, id="calls-page-size-abc"),
    pytest.param("Calls", {"PageSize": "-5"}, id="calls-page-size-negative"),
    pytest.param("Calls", {"PageSize": "2.5"}, id="calls-page-size-fraction"),
    pytest.param("Calls", {"Page": "-1"}, id="calls-page-negative"),
    pytest.param("Calls", {"Page": "abc"}, id="calls-page-abc"),
    pytest.param("Calls", {"PageToken": "PACA" + "0" * 32}, id="calls-token-unknown-call"),
    pytest.param("Calls", {"PageToken": "PBCA" + "f" * 32}, id="calls-previous-token-unknown-call"),
    pytest.param("Calls", {"PageToken": "PAnot-a-sid"}, id="calls-token-malformed"),
    pytest.param("Calls", {"PageToken": "garbage"}, id="calls-token-garbage"),
    pytest.param("Messages", {"PageSize": "1001"}, id="messages-page-size-1001"),
    pytest.param("Messages", {"PageToken": "PASM" + "0" * 32}, id="messages-token-unknown-message"),
    pytest.param("Usage/Records/Daily", {"PageSize": "0"}, id="usage-page-size-0"),
    pytest.param("Usage/Records/Daily", {"Page": "-2"}, id="usage-page-negative"),
    pytest.param("Usage/Records/Daily", {"PageToken": "bm9wZQ=="}, id="usage-token-forged-base64"),
    pytest.param("Usage/Records/Daily", {"PageToken": "PT50"}, id="usage-token-not-base64"),
]


@pytest.mark.parametrize(("resource", "params"), BAD_PAGING)
def test_invalid_paging_parameter_gives_400_with_twilio_error(
    resource: str, params: dict[str, str], customer: str, api: httpx.Client
) -> None:
    assert_twilio_error(api.get(_path(customer, resource), params=params), 400)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"PageSize": "abc"}, id="page-size-abc"),
        pytest.param({"PageSize": "1001"}, id="page-size-1001"),
        pytest.param({"Page": "-1"}, id="page-negative"),
        pytest.param({"PageToken": "bm9wZQ=="}, id="token-forged"),
    ],
)
def test_invalid_alerts_paging_parameter_gives_400_with_twilio_error(params: dict[str, str], api: httpx.Client) -> None:
    assert_twilio_error(api.get("/v1/Alerts", params=params), 400)


@pytest.mark.parametrize("whose", ["other-customer", "own-subaccount"])
def test_page_token_of_another_account_gives_400(
    sandbox: Sandbox, customer: str, api: httpx.Client, whose: str
) -> None:
    other = sandbox.customer_account_sids[1] if whose == "other-customer" else sandbox.family(customer)[1]
    foreign = sandbox.calls(other)[10]["sid"]
    response = api.get(_path(customer, "Calls"), params={"PageSize": 10, "Page": 1, "PageToken": f"PA{foreign}"})
    assert_twilio_error(response, 400)


@pytest.mark.parametrize(
    ("resource", "params"),
    [
        pytest.param("Calls", [("PageSize", "50"), ("PageSize", "50")], id="page-size-twice"),
        pytest.param("Calls", [("Page", "0"), ("Page", "1")], id="page-twice"),
        pytest.param("Calls", [("Status", "busy"), ("Status", "completed")], id="status-twice"),
        pytest.param(
            "Calls", [("StartTime>", "2026-10-01"), ("StartTime>", "2026-10-02")], id="start-time-after-twice"
        ),
        pytest.param("Messages", [("To", "+14156506409"), ("To", "+14156506409")], id="messages-to-twice"),
        pytest.param("Usage/Records/Daily", [("Category", "calls"), ("Category", "sms")], id="usage-category-twice"),
    ],
)
def test_duplicated_parameter_gives_400(
    resource: str, params: list[tuple[str, Any]], customer: str, api: httpx.Client
) -> None:
    assert_twilio_error(api.get(_path(customer, resource), params=params), 400)


def test_duplicated_alerts_parameter_gives_400(api: httpx.Client) -> None:
    assert_twilio_error(api.get("/v1/Alerts", params=[("LogLevel", "error"), ("LogLevel", "warning")]), 400)


@pytest.mark.parametrize(
    ("resource", "params"),
    [
        pytest.param("Calls", {"To": "+15005550000", "PageSize": "2"}, id="calls"),
        pytest.param("Messages", {"DateSent": "2025-01-01"}, id="messages"),
    ],
)
def test_empty_list_envelope_starts_and_ends_at_0(
    resource: str, params: dict[str, str], customer: str, api: httpx.Client
) -> None:
    page = _get_json(api, _path(customer, resource), params)
    # As in the spec's readEmpty examples: start 0, end 0, no links.
    assert page[resource.lower()] == []
    assert (page["page"], page["start"], page["end"]) == (0, 0, 0)
    assert (page["next_page_uri"], page["previous_page_uri"]) == (None, None)
    assert page["first_page_uri"] == page["uri"]


# --- links echo the filters ----------------------------------------------------------


def test_page_uris_echo_the_filters(customer: str, api: httpx.Client, truth: dict[str, list[dict[str, Any]]]) -> None:
    filters = [("Status", "completed"), ("StartTime>", "2026-10-01"), ("StartTime<", "2026-10-20")]
    path = _path(customer, "Calls")
    pages = _walk(api, path, [*filters, ("PageSize", "20")])
    assert len(pages) > 2
    for page in pages:
        links = [page["uri"], page["first_page_uri"], page["next_page_uri"], page["previous_page_uri"]]
        for link in filter(None, links):
            parts = urlsplit(link)
            assert parts.path == path
            query = parse_qsl(parts.query)
            assert all(f in query for f in filters), link
            assert ("PageSize", "20") in query
            # The inequality names are percent-encoded, as in the spec's examples.
            assert "StartTime%3E=2026-10-01" in link and "StartTime%3C=2026-10-20" in link
    # The next links really keep filtering: every record matches, none is missing.
    expected = [
        c
        for c in truth["calls"]
        if c["status"] == "completed" and date(2026, 10, 1) <= _start_day(c) < date(2026, 10, 20)
    ]
    assert [c["sid"] for c in _records(pages, "calls")] == [c["sid"] for c in expected]


def _start_day(call: dict[str, Any]) -> date:
    return parsedate_to_datetime(call["start_time"]).astimezone(UTC).date()


# --- usage and alerts (opaque tokens) ----------------------------------------------------


def test_usage_paging_returns_every_record_once(customer: str, api: httpx.Client) -> None:
    path = _path(customer, "Usage/Records/Daily")
    whole = _get_json(api, path, {"PageSize": 1000})
    assert whole["next_page_uri"] is None
    expected = whole["usage_records"]
    assert len({(r["category"], r["start_date"]) for r in expected}) == len(expected) > 500

    pages = _walk(api, path, {"PageSize": 100})
    assert _records(pages, "usage_records") == expected
    assert [p["page"] for p in pages] == list(range(len(pages)))
    backward = _walk_back(api, pages[-1])
    assert [p["usage_records"] for p in backward] == [p["usage_records"] for p in pages]

    # The third page's own uri (with its token) gives it again.
    third = _get_json(api, pages[2]["uri"])
    assert third["usage_records"] == expected[200:300]


def _walk_alerts(client: httpx.Client, params: dict[str, Any]) -> list[dict[str, Any]]:
    pages = [_get_json(client, "/v1/Alerts", params)]
    while pages[-1]["meta"]["next_page_url"] is not None:
        assert len(pages) < 1_000, "meta.next_page_url never became null"
        pages.append(_get_json(client, pages[-1]["meta"]["next_page_url"]))
    return pages


def test_alerts_paging_returns_every_alert_once(monitor_api: httpx.Client) -> None:
    # Monitor answers for the authenticated account: the owner's log, not a Connect subaccount's.
    expected = _get_json(monitor_api, "/v1/Alerts", {"PageSize": 1000})["alerts"]
    assert len(expected) > 6
    pages = _walk_alerts(monitor_api, {"PageSize": 2})
    assert [a for p in pages for a in p["alerts"]] == expected
    assert [p["meta"]["page"] for p in pages] == list(range(len(pages)))
    assert len({a["sid"] for a in expected}) == len(expected)
    # And back again through meta.previous_page_url.
    back = [pages[-1]]
    while back[-1]["meta"]["previous_page_url"] is not None:
        back.append(_get_json(monitor_api, back[-1]["meta"]["previous_page_url"]))
    assert [p["alerts"] for p in back[::-1]] == [p["alerts"] for p in pages]


def test_alerts_page_n_without_a_token_is_400_20001(monitor_api: httpx.Client) -> None:
    body = assert_twilio_error(monitor_api.get("/v1/Alerts", params={"PageSize": 2, "Page": 1}), 400)
    assert body["code"] == 20001
