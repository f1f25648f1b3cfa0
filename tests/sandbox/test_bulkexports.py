"""BulkExport on the sandbox: ``/v1/Exports/{Calls|Messages}``, ``…/Days`` and ``…/Days/{Day}``.

Days exist for the 7 days before the sandbox's clock (a day is exported once it
has passed; files are kept 7 days after creation). A day redirects (307) to a
signed link on the sandbox serving a gzip JSON-lines file whose records are
exactly the list API's records of that UTC day, in BulkExport's field names and
ISO 8601 times, for every account the credentials may read. Checked over httpx
and twilio-python's ``client.bulkexports.v1``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.rest import Client

from connect_notebook.sandbox import Sandbox

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # the session sandbox's pinned clock
EXPECTED_DAYS = [(NOW.date() - timedelta(days=n)).isoformat() for n in range(1, 8)]
Record = dict[str, Any]


@pytest.fixture
def exports(sandbox: Sandbox, connected: str) -> Iterator[httpx.Client]:
    """httpx as the Connect App for the first customer, on the sandbox's BulkExport URL."""
    with httpx.Client(base_url=sandbox.bulkexports_url, auth=(connected, sandbox.owner_auth_token)) as client:
        yield client


def _list_truth(sandbox: Sandbox, customer: str, resource: str, day: str) -> list[Record]:
    """The family's records of one UTC day, read independently through the 2010 list API."""
    auth = (sandbox.connected_sid(customer) or "", sandbox.owner_auth_token)
    key = resource.lower()
    time_key = "start_time" if resource == "Calls" else "date_sent"
    # The list API's date filters are whole days; widen by one on each side, then keep the UTC day exactly.
    d = date.fromisoformat(day)
    lo, hi = (d - timedelta(days=1)).isoformat(), (d + timedelta(days=1)).isoformat()
    filters = {"StartTime>": lo, "StartTime<": hi} if resource == "Calls" else {"DateSent>": lo, "DateSent<": hi}
    out: list[Record] = []
    with httpx.Client(base_url=sandbox.api_url, auth=auth) as client:
        accounts = client.get("/2010-04-01/Accounts.json").json()["accounts"]
        for account in accounts:
            uri: str | None = f"/2010-04-01/Accounts/{account['sid']}/{resource}.json?" + urlencode(
                {**filters, "PageSize": "1000"}
            )
            while uri:
                body = client.get(uri).json()
                out += [r for r in body[key] if parsedate_to_datetime(r[time_key]).date() == d]
                uri = body["next_page_uri"]
    return out


def _as_bulk(record: Record, resource: str) -> Record:
    """A list API record in BulkExport's shape, built here, apart from the sandbox's code."""
    out = {k: v for k, v in record.items() if k not in ("uri", "subresource_uris")}
    if resource == "Messages":
        for k in ("price_unit", "api_version", "error_message"):
            out.pop(k)
    elif out["price"] is None:
        del out["price"]
    for k, v in out.items():
        if k in ("date_created", "date_updated", "start_time", "end_time", "date_sent") and v is not None:
            out[k] = parsedate_to_datetime(v).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def _file(exports: httpx.Client, resource: str, day: str) -> list[Record]:
    redirect = exports.get(f"/v1/Exports/{resource}/Days/{day}")
    assert redirect.status_code == 307, redirect.text
    target = redirect.json()["redirect_to"]
    assert redirect.headers["Location"] == target
    assert urlsplit(target).path == f"/v1/Exports/{resource}/Files/{day}"  # the signed link, on the sandbox
    with httpx.Client() as anonymous:  # a presigned link needs no credentials
        response = anonymous.get(target)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/gzip"
    return [json.loads(line) for line in gzip.decompress(response.content).decode().splitlines()]


def test_export_resource_links_days_and_jobs(exports: httpx.Client, sandbox: Sandbox) -> None:
    body = exports.get("/v1/Exports/Calls").json()
    base = f"{sandbox.bulkexports_url}/v1/Exports/Calls"
    assert body == {
        "resource_type": "Calls",
        "url": base,
        "links": {"days": f"{base}/Days", "export_custom_jobs": f"{base}/Jobs", "jobs": f"{base}/Jobs"},
    }


def test_days_lists_the_seven_passed_days_newest_first(exports: httpx.Client) -> None:
    body = exports.get("/v1/Exports/Messages/Days", params={"PageSize": "400"}).json()
    assert [d["day"] for d in body["days"]] == EXPECTED_DAYS
    assert {d["resource_type"] for d in body["days"]} == {"Messages"}
    assert all(d["create_date"] == (date.fromisoformat(d["day"]) + timedelta(days=1)).isoformat() for d in body["days"])
    assert body["meta"]["key"] == "days" and body["meta"]["next_page_url"] is None


def test_days_lists_only_ten_unless_page_size_is_set(exports: httpx.Client) -> None:
    body = exports.get("/v1/Exports/Calls/Days").json()
    assert body["meta"]["page_size"] == 10
    assert exports.get("/v1/Exports/Calls/Days", params={"PageSize": "401"}).status_code == 400


@given(size=st.integers(min_value=1, max_value=8))
@settings(deadline=None, max_examples=8)
def test_days_pages_join_to_the_whole_list(_sandbox_server: Sandbox, size: int) -> None:
    sandbox = _sandbox_server  # session-scoped: hypothesis reruns the body; owner credentials change nothing
    auth = (sandbox.owner_account_sid, sandbox.owner_auth_token)
    seen: list[str] = []
    with httpx.Client(auth=auth) as client:
        url: str | None = f"{sandbox.bulkexports_url}/v1/Exports/Calls/Days?PageSize={size}"
        while url:
            body = client.get(url).json()
            assert len(body["days"]) <= size
            seen += [d["day"] for d in body["days"]]
            url = body["meta"]["next_page_url"]
    assert seen == EXPECTED_DAYS


@pytest.mark.parametrize("resource", ["Calls", "Messages"])
def test_day_file_holds_exactly_the_list_apis_records_of_that_day(
    exports: httpx.Client, sandbox: Sandbox, customer: str, resource: str
) -> None:
    day = EXPECTED_DAYS[2]
    records = _file(exports, resource, day)
    truth = [_as_bulk(r, resource) for r in _list_truth(sandbox, customer, resource, day)]
    assert truth, "the day should have records to compare"
    key = lambda r: r["sid"]  # noqa: E731
    assert sorted(records, key=key) == sorted(truth, key=key)
    assert len({r["account_sid"] for r in records}) > 1  # the customer's whole family


def test_day_file_size_is_the_listed_size(exports: httpx.Client) -> None:
    listed = {d["day"]: d["size"] for d in exports.get("/v1/Exports/Calls/Days").json()["days"]}
    target = exports.get(f"/v1/Exports/Calls/Days/{EXPECTED_DAYS[0]}").json()["redirect_to"]
    assert len(httpx.get(target).content) == listed[EXPECTED_DAYS[0]]


def test_call_price_is_absent_not_null_when_unknown(exports: httpx.Client) -> None:
    records = [r for day in EXPECTED_DAYS for r in _file(exports, "Calls", day)]
    assert all(r.get("price", "x") is not None for r in records)
    assert any("price" not in r for r in records) and any("price" in r for r in records)


def test_day_outside_the_seven_days_is_404_and_a_bad_day_is_400(exports: httpx.Client) -> None:
    today = NOW.date().isoformat()
    old = (NOW.date() - timedelta(days=8)).isoformat()
    for day in (today, old):
        response = exports.get(f"/v1/Exports/Calls/Days/{day}")
        assert (response.status_code, response.json()["code"]) == (404, 20404)
    bad = exports.get("/v1/Exports/Calls/Days/2026-13-01")
    assert (bad.status_code, bad.json()["code"]) == (400, 20001)


def test_file_link_with_a_forged_signature_or_account_is_refused(exports: httpx.Client, sandbox: Sandbox) -> None:
    target = exports.get(f"/v1/Exports/Calls/Days/{EXPECTED_DAYS[0]}").json()["redirect_to"]
    parts = urlsplit(target)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    forged = [
        {**query, "Signature": "0" * 64},
        {**query, "Account": sandbox.owner_account_sid},
        {**query, "Expires": str(int(query["Expires"]) + 1)},
    ]
    for params in forged:
        response = httpx.get(f"{parts.scheme}://{parts.netloc}{parts.path}", params=params)
        assert (response.status_code, response.json()["code"]) == (403, 20403)


def test_file_link_stops_working_once_the_customer_revokes(
    exports: httpx.Client, sandbox: Sandbox, customer: str
) -> None:
    target = exports.get(f"/v1/Exports/Calls/Days/{EXPECTED_DAYS[0]}").json()["redirect_to"]
    sandbox.deauthorize(customer)
    assert httpx.get(target).status_code == 403
    assert exports.get("/v1/Exports/Calls/Days").status_code == 401


def test_bad_credentials_get_401(sandbox: Sandbox) -> None:
    response = httpx.get(f"{sandbox.bulkexports_url}/v1/Exports/Calls/Days", auth=(sandbox.owner_account_sid, "x" * 32))
    assert (response.status_code, response.json()["code"]) == (401, 20003)


def test_owner_credentials_export_the_owners_own_records(sandbox: Sandbox) -> None:
    auth = (sandbox.owner_account_sid, sandbox.owner_auth_token)
    with httpx.Client(base_url=sandbox.bulkexports_url, auth=auth) as client:
        records = [r for day in EXPECTED_DAYS for r in _file(client, "Calls", day)]
    assert {r["account_sid"] for r in records} <= {sandbox.owner_account_sid}


# --- twilio-python ------------------------------------------------------------------


@pytest.fixture
def twilio(sandbox: Sandbox, connected: str) -> Iterator[Client]:
    client = Client(connected, sandbox.owner_auth_token)
    client.bulkexports.base_url = sandbox.bulkexports_url  # never edge/region (§5)
    yield client
    client.http_client.session.close()  # type: ignore[attr-defined]


def test_twilio_python_lists_days_and_fetches_a_days_redirect(twilio: Client, exports: httpx.Client) -> None:
    days = twilio.bulkexports.v1.exports("Calls").days.list(page_size=400)
    assert [d.day for d in days] == EXPECTED_DAYS
    fetched = twilio.bulkexports.v1.exports("Calls").days(EXPECTED_DAYS[0]).fetch()
    assert fetched.redirect_to is not None
    assert httpx.get(fetched.redirect_to).status_code == 200


# --- custom jobs ----------------------------------------------------------------------

JOB_DAY = (NOW.date() - timedelta(days=10)).isoformat()  # outside the automatic seven days


@pytest.fixture
def writer(sandbox: Sandbox, customer: str, connected: str) -> Iterator[httpx.Client]:
    """httpx as the Connect App for the first customer, authorized with post-all (a job is a write)."""
    sandbox.authorize(customer, ("get-all", "post-all"))
    with httpx.Client(base_url=sandbox.bulkexports_url, auth=(connected, sandbox.owner_auth_token)) as client:
        yield client


def _job(client: httpx.Client, start: str, end: str, resource: str = "Calls", **extra: str) -> httpx.Response:
    return client.post(
        f"/v1/Exports/{resource}/Jobs", data={"StartDay": start, "EndDay": end, "FriendlyName": "audit", **extra}
    )


def test_job_is_created_completed_and_listed(writer: httpx.Client) -> None:
    response = _job(writer, JOB_DAY, JOB_DAY, Email="ops@example.com")
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["job_sid"].startswith("JS") and len(job["job_sid"]) == 34
    assert (job["start_day"], job["end_day"], job["friendly_name"], job["email"]) == (
        JOB_DAY,
        JOB_DAY,
        "audit",
        "ops@example.com",
    )
    assert job["details"] == [{"status": "Completed", "count": 1, "days": [JOB_DAY]}]
    listed = writer.get("/v1/Exports/Calls/Jobs").json()
    assert [j["job_sid"] for j in listed["jobs"]] == [job["job_sid"]] and listed["meta"]["key"] == "jobs"
    assert writer.get("/v1/Exports/Messages/Jobs").json()["jobs"] == []
    fetched = writer.get(f"/v1/Exports/Jobs/{job['job_sid']}").json()
    assert fetched["url"].endswith(f"/v1/Exports/Jobs/{job['job_sid']}")


def test_job_sids_are_deterministic_from_the_seed(writer: httpx.Client, sandbox: Sandbox) -> None:
    first = _job(writer, JOB_DAY, JOB_DAY).json()["job_sid"]
    sandbox.reset()
    sandbox.authorize(sandbox.customer_account_sids[0], ("get-all", "post-all"))
    assert _job(writer, JOB_DAY, JOB_DAY).json()["job_sid"] == first


@pytest.mark.parametrize(
    "form",
    [
        {"EndDay": "2026-10-01", "FriendlyName": "x"},
        {"StartDay": "2026-10-01", "FriendlyName": "x"},
        {"StartDay": "2026-10-01", "EndDay": "2026-10-01"},
        {"StartDay": "2026-10-05", "EndDay": "2026-10-01", "FriendlyName": "x"},
        {"StartDay": "2026-10-1", "EndDay": "2026-10-01", "FriendlyName": "x"},
        {"StartDay": "2026-10-01", "EndDay": "2026-10-01", "FriendlyName": "x", "WebhookUrl": "https://e.x/"},
        {"StartDay": "2026-10-01", "EndDay": "2026-10-01", "FriendlyName": "x", "WebhookMethod": "POST"},
    ],
)
def test_job_with_bad_fields_is_400(writer: httpx.Client, form: dict[str, str]) -> None:
    response = writer.post("/v1/Exports/Calls/Jobs", data=form)
    assert (response.status_code, response.json()["code"]) == (400, 20001), response.text


def test_job_end_day_must_be_two_days_before_today(writer: httpx.Client) -> None:
    yesterday = (NOW.date() - timedelta(days=1)).isoformat()
    two_ago = (NOW.date() - timedelta(days=2)).isoformat()
    refused = _job(writer, yesterday, yesterday)
    assert (refused.status_code, refused.json()["code"]) == (400, 20001)
    assert _job(writer, two_ago, two_ago).status_code == 201


@given(split=st.integers(min_value=1, max_value=365))
@settings(deadline=None, max_examples=6)
def test_at_most_366_days_per_utc_day_for_the_family(_sandbox_server: Sandbox, split: int) -> None:
    sandbox = _sandbox_server
    sandbox.reset()
    customer = sandbox.customer_account_sids[0]
    sandbox.authorize(customer, ("get-all", "post-all"))
    end = NOW.date() - timedelta(days=2)
    auth = (sandbox.connected_sid(customer) or "", sandbox.owner_auth_token)
    with httpx.Client(base_url=sandbox.bulkexports_url, auth=auth) as client:
        first = _job(client, (end - timedelta(days=split - 1)).isoformat(), end.isoformat())
        rest = 366 - split
        if rest:
            second = _job(client, (end - timedelta(days=rest - 1)).isoformat(), end.isoformat(), "Messages")
            assert second.status_code == 201
        over = _job(client, end.isoformat(), end.isoformat())
        job = first.json()["job_sid"]
        assert client.delete(f"/v1/Exports/Jobs/{job}").status_code == 204
        still_over = _job(client, end.isoformat(), end.isoformat())  # deleting gives no days back
    assert first.status_code == 201
    assert (over.status_code, over.json()["code"]) == (400, 20001)
    assert still_over.status_code == 400
    owner = (sandbox.owner_account_sid, sandbox.owner_auth_token)  # another family: its own quota
    with httpx.Client(base_url=sandbox.bulkexports_url, auth=owner) as client:
        assert _job(client, end.isoformat(), end.isoformat()).status_code == 201
    sandbox.reset()


@pytest.mark.parametrize("resource", ["Calls", "Messages"])
def test_job_days_appear_in_days_with_the_list_apis_records(
    writer: httpx.Client, sandbox: Sandbox, customer: str, resource: str
) -> None:
    assert writer.get(f"/v1/Exports/{resource}/Days/{JOB_DAY}").status_code == 404
    assert _job(writer, JOB_DAY, JOB_DAY, resource).status_code == 201
    days = writer.get(f"/v1/Exports/{resource}/Days", params={"PageSize": "400"}).json()["days"]
    assert [d["day"] for d in days] == [*EXPECTED_DAYS, JOB_DAY]
    assert days[-1]["friendly_name"] == "audit" and days[-1]["create_date"] == NOW.date().isoformat()
    records = _file(writer, resource, JOB_DAY)
    truth = [_as_bulk(r, resource) for r in _list_truth(sandbox, customer, resource, JOB_DAY)]
    assert truth, "the day should have records to compare"
    key = lambda r: r["sid"]  # noqa: E731
    assert sorted(records, key=key) == sorted(truth, key=key)


def test_job_files_last_seven_days_after_creation() -> None:
    from connect_notebook.sandbox._export_jobs import ExportJobs

    jobs = ExportJobs()
    created = int(NOW.timestamp())
    fields = {"start": 10, "end": 12, "friendly_name": "x", "webhook_url": None, "webhook_method": None, "email": None}
    jobs.create(1, "AC" + "0" * 32, "Calls", created, fields)
    assert sorted(jobs.days("AC" + "0" * 32, "Calls", created + 7 * 86_400 - 1)) == [10, 11, 12]
    assert jobs.days("AC" + "0" * 32, "Calls", created + 7 * 86_400) == {}


def test_deleted_job_is_gone_and_other_families_cannot_see_it(writer: httpx.Client, sandbox: Sandbox) -> None:
    sid = _job(writer, JOB_DAY, JOB_DAY).json()["job_sid"]
    owner = httpx.Client(base_url=sandbox.bulkexports_url, auth=(sandbox.owner_account_sid, sandbox.owner_auth_token))
    with owner:
        assert owner.get(f"/v1/Exports/Jobs/{sid}").status_code == 404
        assert owner.delete(f"/v1/Exports/Jobs/{sid}").status_code == 404
    assert writer.delete(f"/v1/Exports/Jobs/{sid}").status_code == 204
    gone = writer.get(f"/v1/Exports/Jobs/{sid}")
    assert (gone.status_code, gone.json()["code"]) == (404, 20404)
    assert writer.get(f"/v1/Exports/Calls/Days/{JOB_DAY}").status_code == 404
    assert writer.get("/v1/Exports/Calls/Jobs").json()["jobs"] == []


def test_get_all_only_may_not_create_jobs(exports: httpx.Client) -> None:
    response = _job(exports, JOB_DAY, JOB_DAY)
    assert (response.status_code, response.json()["code"]) == (403, 20403)


def test_reset_clears_jobs(writer: httpx.Client, sandbox: Sandbox, customer: str) -> None:
    sid = _job(writer, JOB_DAY, JOB_DAY).json()["job_sid"]
    sandbox.reset()
    sandbox.authorize(customer, ("get-all", "post-all"))
    assert writer.get(f"/v1/Exports/Jobs/{sid}").status_code == 404
    assert writer.get(f"/v1/Exports/Calls/Days/{JOB_DAY}").status_code == 404


def test_twilio_python_creates_lists_fetches_and_deletes_jobs(twilio: Client, writer: httpx.Client) -> None:
    calls = twilio.bulkexports.v1.exports("Calls")
    created = calls.export_custom_jobs.create(start_day=JOB_DAY, end_day=JOB_DAY, friendly_name="audit")
    assert created.job_sid is not None
    assert [j.job_sid for j in calls.export_custom_jobs.list()] == [created.job_sid]
    fetched = twilio.bulkexports.v1.exports.jobs(created.job_sid).fetch()
    assert (fetched.start_day, fetched.end_day, fetched.friendly_name) == (JOB_DAY, JOB_DAY, "audit")
    assert twilio.bulkexports.v1.exports.jobs(created.job_sid).delete() is True
    assert calls.export_custom_jobs.list() == []
