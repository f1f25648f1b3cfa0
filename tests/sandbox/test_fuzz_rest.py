"""The sandbox's REST API under bad input: a seeded hypothesis fuzz (quick profile), and what it found.

The fuzzer is ``bench/chaos_fuzz.py`` (``python bench/chaos_fuzz.py`` runs 2,000 requests and
prints the figures). It fuzzes PageSize, Page, PageToken, the date filters, SIDs in paths,
methods and credentials on every resource, with faults off: each answer must be a 2xx JSON
body or Twilio's JSON error (``code``, ``message``, ``more_info``, ``status``), never a 5xx.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bench import chaos_fuzz as chaos
from connect_notebook.sandbox import Sandbox

REQUESTS = 300
SEED = 2026
NOW = "2026-11-01T12:00:00+00:00"
ERROR_KEYS = {"code", "message", "more_info", "status"}


@pytest.fixture(scope="module")
def fuzz() -> Any:
    """One fuzz run on a sandbox of its own, shared by the tests that each check one invariant."""
    with Sandbox(seed=5, calls_per_customer=500, customers=3, now=NOW) as sb:
        return chaos.fuzz_sandbox(sb, requests=REQUESTS, seed=SEED)


def test_fuzz_reaches_every_resource(fuzz: Any) -> None:
    assert fuzz.requests == REQUESTS
    assert sorted(fuzz.by_endpoint) == sorted(chaos.REST_ENDPOINTS)
    assert 200 in fuzz.statuses  # most requests are well-formed enough to succeed or to reach a parser
    assert 400 in fuzz.statuses


def test_no_fuzzed_request_gets_a_5xx(fuzz: Any) -> None:
    assert fuzz.server_errors == 0
    assert [request for why, request in fuzz.problems if why == "5xx"] == []


def test_every_fuzzed_answer_is_json_or_twilios_error_body(fuzz: Any) -> None:
    assert fuzz.problems == []


def test_the_sandbox_logs_no_uncaught_exception(fuzz: Any) -> None:
    assert fuzz.error_logs == []


# -- what the full fuzz found: dates beyond the calendar --


def assert_twilio_400(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["status"] == 400
    assert body["code"] == 20001
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20001"


@pytest.mark.parametrize(
    ("resource", "params"),
    [
        pytest.param("Calls.json", {"StartTime": "9999-12-31T23:59:59-01:00"}, id="calls-StartTime-after-9999"),
        pytest.param("Calls.json", {"StartTime>": "0001-01-01T00:00:00+01:00"}, id="calls-StartTime-before-0001"),
        pytest.param("Calls.json", {"EndTime<": "Fri, 31 Dec 9999 23:59:59 -0100"}, id="calls-EndTime-rfc2822"),
        pytest.param("Messages.json", {"DateSent": "9999-12-31 23:59:59-01:00"}, id="messages-DateSent"),
        pytest.param("Messages.json", {"DateSent>": "Mon, 01 Jan 0001 00:00:00 +0100"}, id="messages-DateSent-rfc2822"),
    ],
)
def test_a_date_filter_whose_utc_day_is_outside_the_calendar_is_a_400(
    resource: str, params: dict[str, str], api: httpx.Client, customer: str
) -> None:
    assert_twilio_400(api.get(f"/2010-04-01/Accounts/{customer}/{resource}", params=params))


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param("+9999999days", id="past-year-9999"),
        pytest.param("-10000000days", id="before-year-1"),
        pytest.param("+99999999999days", id="too-large-for-a-timedelta"),
    ],
)
@pytest.mark.parametrize("name", ["StartDate", "EndDate"])
def test_a_usage_date_offset_outside_the_calendar_is_a_400(
    name: str, offset: str, api: httpx.Client, customer: str
) -> None:
    assert_twilio_400(api.get(f"/2010-04-01/Accounts/{customer}/Usage/Records.json", params={name: offset}))


@pytest.mark.parametrize("kind", ["Monthly", "Yearly"])
def test_usage_periods_up_to_the_last_day_of_year_9999_are_not_a_5xx(
    kind: str, api: httpx.Client, customer: str
) -> None:
    # One or two periods only: the period after December 9999 used to be built, and fail.
    params = {"StartDate": "9999-11-01", "EndDate": "9999-12-31"}
    response = api.get(f"/2010-04-01/Accounts/{customer}/Usage/Records/{kind}.json", params=params)
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code != 200:
        assert set(body) == ERROR_KEYS
        assert body["status"] == response.status_code
