"""The list APIs' retention on the sandbox, and the BulkExport switches tests set.

Twilio's lists stop serving old records (``twilio-api-notes.md`` §8.3): messages
after 400 days, calls after "13 months" (unconfirmed; the sandbox's
``call_retention_days``, 395 by default). The day ``today - N`` is the oldest
listed. Older records stay in the ground truth and in BulkExport's files. Also
here: ``bulkexport_for_connect=False`` (BulkExport refusing Connect credentials)
and ``export_job_polls`` (jobs that take a few reads to complete).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from connect_notebook.sandbox import Sandbox

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TRAVEL = 2  # the default customer whose history is almost three years long
Record = dict[str, Any]


def _day(record: Record, key: str) -> date:
    return parsedate_to_datetime(record[key]).astimezone(UTC).date()


def _listed(sb: Sandbox, connected: str, account: str, resource: str) -> list[Record]:
    """Every record the list API serves for one account, following its pages."""
    out: list[Record] = []
    with httpx.Client(base_url=sb.api_url, auth=(connected, sb.owner_auth_token)) as client:
        uri: str | None = f"/2010-04-01/Accounts/{account}/{resource}.json?PageSize=1000"
        while uri:
            page = client.get(uri).raise_for_status().json()
            out += page[resource.lower()]
            uri = page["next_page_uri"]
    return out


@pytest.fixture(scope="module")
def short() -> Iterator[Sandbox]:
    """Calls listed for 30 days only; jobs Running for two reads."""
    with Sandbox(seed=8, calls_per_customer=3_000, now=NOW, call_retention_days=30, export_job_polls=2) as sb:
        yield sb


@pytest.fixture(scope="module")
def default() -> Iterator[Sandbox]:
    with Sandbox(seed=8, calls_per_customer=3_000, now=NOW) as sb:
        yield sb


@pytest.mark.parametrize(("fixture", "days"), [("default", 395), ("short", 30)])
def test_calls_older_than_the_retention_are_not_listed(request: pytest.FixtureRequest, fixture: str, days: int) -> None:
    sb: Sandbox = request.getfixturevalue(fixture)
    main = sb.customer_account_sids[TRAVEL]
    connected = sb.authorize(main)
    oldest = NOW.date() - timedelta(days=days)
    assert sb.call_retention_days == days
    for account in sb.family(main):
        truth = sb.calls(account)
        listed = _listed(sb, connected, account, "Calls")
        assert listed == [c for c in truth if _day(c, "start_time") >= oldest]
    whole = [c for a in sb.family(main) for c in sb.calls(a)]
    assert any(_day(c, "start_time") < oldest for c in whole)  # there was something to hold back


def test_messages_older_than_400_days_are_not_listed_whatever_the_call_retention(short: Sandbox) -> None:
    main = short.customer_account_sids[TRAVEL]
    connected = short.authorize(main)
    oldest = NOW.date() - timedelta(days=400)
    held_back = 0
    for account in short.family(main):
        truth = short.messages(account)
        assert _listed(short, connected, account, "Messages") == [m for m in truth if _day(m, "date_sent") >= oldest]
        held_back += sum(_day(m, "date_sent") < oldest for m in truth)
    assert held_back > 0


def test_a_day_filter_older_than_the_retention_lists_nothing_and_is_not_an_error(short: Sandbox) -> None:
    main = short.customer_account_sids[TRAVEL]
    connected = short.authorize(main)
    old_day = (NOW.date() - timedelta(days=100)).isoformat()
    with httpx.Client(base_url=short.api_url, auth=(connected, short.owner_auth_token)) as client:
        page = client.get(f"/2010-04-01/Accounts/{main}/Calls.json", params={"StartTime": old_day}).json()
    assert page["calls"] == []
    assert any(_day(c, "start_time").isoformat() == old_day for c in short.calls(main))


def test_bulkexport_serves_the_days_the_list_no_longer_does(short: Sandbox) -> None:
    main = short.customer_account_sids[TRAVEL]
    connected = short.authorize(main, ("get-all", "post-all"))
    day = NOW.date() - timedelta(days=100)
    with httpx.Client(base_url=short.bulkexports_url, auth=(connected, short.owner_auth_token)) as client:
        job = client.post(
            "/v1/Exports/Calls/Jobs", data={"StartDay": str(day), "EndDay": str(day), "FriendlyName": "old"}
        ).json()
        for _ in range(2):  # export_job_polls=2: two reads to complete
            client.get(f"/v1/Exports/Jobs/{job['job_sid']}")
        link = client.get(f"/v1/Exports/Calls/Days/{day}").json()["redirect_to"]
        lines = gzip.decompress(httpx.get(link).content).decode().splitlines()
    sids = [json.loads(line)["sid"] for line in lines]
    truth = [c["sid"] for a in short.family(main) for c in short.calls(a) if _day(c, "start_time") == day]
    assert sids == truth and truth


def test_a_job_stays_running_with_its_queue_position_for_the_reads_asked(short: Sandbox) -> None:
    short.reset()
    main = short.customer_account_sids[TRAVEL]
    connected = short.authorize(main, ("get-all", "post-all"))
    day = (NOW.date() - timedelta(days=50)).isoformat()
    with httpx.Client(base_url=short.bulkexports_url, auth=(connected, short.owner_auth_token)) as client:
        made = client.post("/v1/Exports/Calls/Jobs", data={"StartDay": day, "EndDay": day, "FriendlyName": "x"})
        sid = made.json()["job_sid"]
        seen = [(made.json()["details"][0]["status"], made.json()["job_queue_position"])]
        listed = [client.get("/v1/Exports/Calls/Days", params={"PageSize": 400}).json()["days"]]
        for _ in range(3):
            job = client.get(f"/v1/Exports/Jobs/{sid}").json()
            seen.append((job["details"][0]["status"], job["job_queue_position"]))
        listed.append(client.get("/v1/Exports/Calls/Days", params={"PageSize": 400}).json()["days"])
    assert seen == [("Running", "2"), ("Running", "1"), ("Completed", None), ("Completed", None)]
    assert day not in [d["day"] for d in listed[0]]  # a running job's days have no file yet
    assert day in [d["day"] for d in listed[1]]


@pytest.mark.parametrize("path", ["/v1/Exports/Calls/Days", "/v1/Exports/Messages/Jobs"])
def test_bulkexport_can_refuse_connect_credentials_and_still_serve_the_owner(path: str) -> None:
    with Sandbox(seed=8, calls_per_customer=300, now=NOW, bulkexport_for_connect=False) as sb:
        connected = sb.authorize(sb.customer_account_sids[0], ("get-all", "post-all"))
        refused = httpx.get(f"{sb.bulkexports_url}{path}", auth=(connected, sb.owner_auth_token))
        owner = httpx.get(f"{sb.bulkexports_url}{path}", auth=(sb.owner_account_sid, sb.owner_auth_token))
        lists = httpx.get(f"{sb.api_url}/2010-04-01/Accounts.json", auth=(connected, sb.owner_auth_token))
        twilio = Client(connected, sb.owner_auth_token)
        twilio.bulkexports.base_url = sb.bulkexports_url
        with pytest.raises(TwilioException, match="403") as raised:  # a list page's failure, as twilio-python says it
            twilio.bulkexports.v1.exports("Calls").days.list(limit=1)
    assert refused.status_code == 403 and refused.json()["code"] == 20403
    assert "own credentials" in refused.json()["message"]
    assert owner.status_code == 200 and lists.status_code == 200
    assert "own credentials" in str(raised.value)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"call_retention_days": 6}, ValueError),
        ({"call_retention_days": 20 * 366 + 1}, ValueError),
        ({"call_retention_days": 30.0}, TypeError),
        ({"call_retention_days": True}, TypeError),
        ({"export_job_polls": -1}, ValueError),
        ({"export_job_polls": 1.5}, ValueError),
    ],
)
def test_bad_retention_and_job_options_are_refused(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match=next(iter(options))):
        Sandbox(**options)


def test_every_api_answer_is_dated_by_the_sandbox_clock_errors_too(default: Sandbox) -> None:
    # Twilio's Date is its clock; the sandbox's is pinned, and a client counting a list's
    # retention from the server's day must read that one.
    main = default.customer_account_sids[TRAVEL]
    connected = default.authorize(main)
    with httpx.Client(base_url=default.api_url) as client:
        listed = client.get("/2010-04-01/Accounts.json", auth=(connected, default.owner_auth_token))
        refused = client.get("/2010-04-01/Accounts.json", auth=(connected, "not-the-token"))
        missing = client.get(
            f"/2010-04-01/Accounts/{connected}/Nothing.json", auth=(connected, default.owner_auth_token)
        )
    assert (listed.status_code, refused.status_code, missing.status_code) == (200, 401, 404)
    for answer in (listed, refused, missing):
        assert parsedate_to_datetime(answer.headers["Date"]) == NOW
