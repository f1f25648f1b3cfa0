"""History older than the list APIs serve: ``load_calls`` / ``load_messages`` reach it through BulkExport.

The sandbox lists calls for ``call_retention_days`` (395 by default) and messages for
400 days; older days are only in BulkExport, as on Twilio. A load whose ``start`` is
older reads those days from day files made by custom export jobs. Every frame here
is compared with the ground truth (``loader_support``), and what was asked of which
API is read from the sandbox's request log. Creating a job is a POST, so these
customers authorize ``get-all`` and ``post-all`` (the sandbox's rule for Connect).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loader_support import (
    covered_days,
    expected_calls,
    expected_messages,
    family_truth,
    fetched_days,
    in_range,
    logged,
)
from polars.testing import assert_frame_equal

import connect_notebook as cn
from connect_notebook import BulkExportError, RetryPolicy
from connect_notebook._bulkexport import Exporter
from connect_notebook._client import APIClient
from connect_notebook._frames import read_export_file
from connect_notebook._kernel import app_for_sandbox
from connect_notebook.sandbox import Faults, Sandbox

READ_WRITE = ("get-all", "post-all")
TRAVEL = 2  # the default customer growing for almost three years across four accounts


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _listed_from(retention_days: int) -> date:
    """The oldest day a load reads from the list API (one day of margin inside the retention)."""
    return datetime.now(UTC).date() - timedelta(days=retention_days - 1)


def _exported_days(sb: Sandbox, resource: str = "Calls") -> set[date]:
    """The days whose BulkExport file was asked for, from the request log."""
    prefix = f"/v1/Exports/{resource}/Days/"
    return {date.fromisoformat(r.path.removeprefix(prefix)) for r in logged(sb) if r.path.startswith(prefix)}


def _job_posts(sb: Sandbox) -> int:
    return sum(times for line, times in sb.requests.items() if line.startswith("POST /v1/Exports/"))


@pytest.fixture(scope="module")
def _default_sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:  # the default sandbox: default customers, 13 months of calls listed, clock now
        yield sb


@pytest.fixture
def default_sandbox(_default_sandbox: Sandbox) -> Sandbox:
    _default_sandbox.reset()  # no authorizations, no jobs, no day's quota spent
    return _default_sandbox


@pytest.fixture
def travel(default_sandbox: Sandbox) -> tuple[str, str]:
    """The travel agency's main account and the Connect subaccount it authorized (read and write)."""
    main = default_sandbox.customer_account_sids[TRAVEL]
    return main, default_sandbox.authorize(main, READ_WRITE)


# --- the Done-when: a year and a half on the default sandbox ------------------------


def test_a_year_and_a_half_of_calls_is_the_ground_truth_with_its_old_part_from_bulkexport(
    default_sandbox: Sandbox, travel: tuple[str, str]
) -> None:
    main, connected = travel
    app = app_for_sandbox(default_sandbox)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=548)
    listed_from = _listed_from(app.call_retention_days)

    frame = cn.load_calls(connected, app=app, start=start, progress=False)

    expected = expected_calls(in_range(family_truth(default_sandbox, main), "start_time", start, None))
    assert_frame_equal(frame, expected)
    old = frame.filter(pl.col("start_time") < _midnight(listed_from))
    assert old.height > 1_000  # the old part is real history, not a corner
    # Every day before listed_from came from a day file; no list request asked for one of them.
    assert _exported_days(default_sandbox) == {
        start.date() + timedelta(days=i) for i in range((listed_from - start.date()).days)
    }
    assert all(min(days) >= listed_from for days in fetched_days(default_sandbox).values())
    assert _job_posts(default_sandbox) == 1  # one run of days, one job


def test_a_default_load_is_what_the_list_serves_and_needs_no_bulkexport(
    default_sandbox: Sandbox, travel: tuple[str, str]
) -> None:
    main, connected = travel
    app = app_for_sandbox(default_sandbox)

    frame = cn.load_calls(connected, app=app, progress=False)

    start = _midnight(_listed_from(app.call_retention_days))
    assert_frame_equal(frame, expected_calls(in_range(family_truth(default_sandbox, main), "start_time", start, None)))
    assert not [r for r in logged(default_sandbox) if r.path.startswith("/v1/Exports")]


def test_a_default_load_counts_the_retention_back_from_the_servers_day_not_ours() -> None:
    # A sandbox pinned 60 days back says so in its Date header, and its list serves the 395 days
    # before *its* today. A cut-off from our own clock would lose the oldest 60 of them.
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=60)
    with Sandbox(now=now) as sb:
        main = sb.customer_account_sids[TRAVEL]
        connected = sb.authorize(main)
        app = app_for_sandbox(sb)

        frame = cn.load_calls(connected, app=app, progress=False)

        start = _midnight(now.date() - timedelta(days=app.call_retention_days - 1))
        assert_frame_equal(frame, expected_calls(in_range(family_truth(sb, main), "start_time", start, None)))
        ours = _midnight(_listed_from(app.call_retention_days))
        assert frame.filter(pl.col("start_time") < ours).height > 100  # the days our clock would have cut
        assert not [r for r in logged(sb) if r.path.startswith("/v1/Exports")]


def test_a_range_that_ends_before_the_list_serves_needs_a_start(
    default_sandbox: Sandbox, travel: tuple[str, str]
) -> None:
    app = app_for_sandbox(default_sandbox)
    with pytest.raises(ValueError, match="pass a start to read those days from BulkExport"):
        cn.load_calls(travel[1], app=app, end=_listed_from(app.call_retention_days) - timedelta(days=30))


def test_old_messages_come_from_bulkexport_without_price_unit_and_error_message(
    default_sandbox: Sandbox, travel: tuple[str, str]
) -> None:
    main, connected = travel
    app = app_for_sandbox(default_sandbox)
    start, end = _midnight(_listed_from(400) - timedelta(days=60)), _midnight(_listed_from(400) + timedelta(days=30))

    frame = cn.load_messages(connected, app=app, start=start, end=end, progress=False)

    truth = expected_messages(in_range(family_truth(default_sandbox, main, "messages"), "date_sent", start, end))
    old = pl.col("date_sent") < _midnight(_listed_from(400))
    # BulkExport's message records have no price_unit and no error_message (twilio-api-notes.md §6).
    blanked = truth.with_columns(
        price_unit=pl.when(old).then(None).otherwise(pl.col("price_unit")),
        error_message=pl.when(old).then(None).otherwise(pl.col("error_message")),
    )
    assert_frame_equal(frame, blanked)
    assert truth.filter(old).height > 0 and truth.filter(~old).height > 0
    assert len(_exported_days(default_sandbox, "Messages")) == 60


# --- the same days through both APIs --------------------------------------------------


@pytest.fixture(scope="module")
def both() -> Iterator[Sandbox]:
    """A sandbox whose lists serve everything, so that BulkExport and the lists can serve the same days."""
    with Sandbox(seed=5, calls_per_customer=6_000, call_retention_days=7320) as sb:
        yield sb


@pytest.mark.parametrize("index", [0, 1, 2])
def test_bulkexport_and_the_list_give_identical_call_frames_for_the_days_both_serve(both: Sandbox, index: int) -> None:
    both.reset()
    main = both.customer_account_sids[index]
    connected = both.authorize(main, READ_WRITE)
    # At least 200 days, and back far enough for 100 calls: a sparse, bursty family's last 200 days
    # may hold next to nothing, depending on the day this runs (its history ends today).
    newest = sorted((parsedate_to_datetime(r["date_created"]) for r in family_truth(both, main)), reverse=True)
    start = min(datetime.now(UTC) - timedelta(days=200), _midnight(newest[min(100, len(newest) - 1)].date()))
    listing = app_for_sandbox(both)
    exporting = dataclasses.replace(listing, call_retention_days=30)  # older than 30 days: from BulkExport

    through_list = cn.load_calls(connected, app=listing, start=start, progress=False)
    through_export = cn.load_calls(connected, app=exporting, start=start, progress=False)

    assert_frame_equal(through_export, through_list)
    born = cn.accounts(connected, app=listing)["date_created"].min()
    assert isinstance(born, datetime)
    first, listed_from = max(start.date(), born.date()), _listed_from(30)
    assert _exported_days(both) == {first + timedelta(days=i) for i in range((listed_from - first).days)}
    assert through_list.height > 100


def test_bulkexport_and_the_list_give_the_same_messages_but_for_the_two_fields_files_lack(both: Sandbox) -> None:
    both.reset()
    main = both.customer_account_sids[2]
    connected = both.authorize(main, READ_WRITE)
    app = app_for_sandbox(both)
    # Days the messages list serves (within 400 days) and BulkExport too: read them through both.
    days = [datetime.now(UTC).date() - timedelta(days=d) for d in range(30, 60)]
    start, end = _midnight(days[-1]), _midnight(days[0] + timedelta(days=1))
    through_list = cn.load_messages(connected, app=app, start=start, end=end, progress=False)
    with APIClient(app, connected) as client:
        exporter = Exporter(client, "messages", days[-1], lambda _: None)
        ready = exporter.prepare(days)
        files = pl.concat([exporter.fetch(day) for day in ready])
    through_export = files.sort("date_sent", descending=True, maintain_order=True)

    assert sorted(ready) == sorted(days)
    assert through_list.height > 100
    lacking = ["price_unit", "error_message"]
    assert_frame_equal(through_export.drop(lacking), through_list.drop(lacking))
    assert through_export.select(pl.col(lacking).null_count()).row(0) == (files.height, files.height)
    assert through_list["price_unit"].null_count() == 0


# --- the cache keeps exported days ----------------------------------------------------


def test_exported_days_are_cached_and_a_second_load_asks_bulkexport_nothing(
    default_sandbox: Sandbox, travel: tuple[str, str], tmp_path: Path
) -> None:
    main, connected = travel
    app = app_for_sandbox(default_sandbox)
    listed_from = _listed_from(app.call_retention_days)
    start = _midnight(listed_from - timedelta(days=40))

    first = cn.load_calls(connected, app=app, start=start, progress=False, cache_dir=tmp_path)
    default_sandbox.state.faults.reset()  # forget the request log
    second = cn.load_calls(connected, app=app, start=start, progress=False, cache_dir=tmp_path)

    assert_frame_equal(second, first)
    assert_frame_equal(first, expected_calls(in_range(family_truth(default_sandbox, main), "start_time", start, None)))
    assert not [r for r in logged(default_sandbox) if r.path.startswith("/v1/Exports")]
    old_days = {listed_from - timedelta(days=i) for i in range(1, 41)}
    for sid in default_sandbox.family(main)[:-1]:  # every account but the Connect subaccount, which has no history
        created = cn.accounts(connected, app=app).filter(pl.col("sid") == sid)["date_created"][0]
        assert {d for d in old_days if d >= created.date()} <= covered_days(tmp_path, sid)


def test_a_second_load_within_a_week_reuses_the_files_and_spends_no_quota(
    default_sandbox: Sandbox, travel: tuple[str, str]
) -> None:
    _, connected = travel
    app = app_for_sandbox(default_sandbox)
    start = _midnight(_listed_from(app.call_retention_days) - timedelta(days=10))

    first = cn.load_calls(connected, app=app, start=start, progress=False)
    second = cn.load_calls(connected, app=app, start=start, progress=False)

    assert_frame_equal(second, first)
    assert _job_posts(default_sandbox) == 1  # the second load found the day files in Days


# --- jobs that take time --------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_jobs() -> Iterator[Sandbox]:
    """Jobs stay Running for three reads; a small customer, so each test is quick."""
    with Sandbox(seed=3, calls_per_customer=3_000, export_job_polls=3) as sb:
        yield sb


def test_a_load_waits_for_its_job_and_shows_it_in_the_progress_bar(
    slow_jobs: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    slow_jobs.reset()
    main = slow_jobs.customer_account_sids[TRAVEL]
    connected = slow_jobs.authorize(main, READ_WRITE)
    app = app_for_sandbox(slow_jobs)
    waits: list[float] = []
    start = _midnight(_listed_from(app.call_retention_days) - timedelta(days=15))

    frame = cn.load_calls(connected, app=app, start=start, retry=RetryPolicy(sleep=waits.append))

    assert_frame_equal(frame, expected_calls(in_range(family_truth(slow_jobs, main), "start_time", start, None)))
    assert waits == [2.0, 4.0, 8.0]  # three reads while Running, doubling
    err = capsys.readouterr().err
    assert "BulkExport job" in err and "queue position" in err


def test_a_load_waits_for_an_unfinished_job_of_an_earlier_load_instead_of_making_another(slow_jobs: Sandbox) -> None:
    slow_jobs.reset()
    main = slow_jobs.customer_account_sids[TRAVEL]
    connected = slow_jobs.authorize(main, READ_WRITE)
    app = app_for_sandbox(slow_jobs)
    listed_from = _listed_from(app.call_retention_days)
    first, last = listed_from - timedelta(days=20), listed_from - timedelta(days=1)
    with httpx.Client(auth=(connected, slow_jobs.owner_auth_token)) as http:
        made = http.post(
            f"{slow_jobs.bulkexports_url}/v1/Exports/Calls/Jobs",
            data={"StartDay": first.isoformat(), "EndDay": last.isoformat(), "FriendlyName": "earlier load"},
        )
    assert made.status_code == 201

    frame = cn.load_calls(
        connected, app=app, start=_midnight(first), progress=False, retry=RetryPolicy(sleep=lambda _: None)
    )

    truth = in_range(family_truth(slow_jobs, main), "start_time", _midnight(first), None)
    assert_frame_equal(frame, expected_calls(truth))
    assert _job_posts(slow_jobs) == 1  # the earlier one only


def test_a_file_removed_while_its_job_ran_is_a_clear_error(slow_jobs: Sandbox) -> None:
    slow_jobs.reset()
    connected = slow_jobs.authorize(slow_jobs.customer_account_sids[TRAVEL], READ_WRITE)
    app = app_for_sandbox(slow_jobs)
    clock = slow_jobs.state.now

    def a_week_passes(_: float) -> None:  # while the loader waits for its job, the job's files expire
        slow_jobs.state.now = clock + 8 * 86_400

    start = _midnight(_listed_from(app.call_retention_days) - timedelta(days=3))
    try:
        with pytest.raises(BulkExportError, match="Twilio removes files 7 days after making them. Run the load again"):
            cn.load_calls(connected, app=app, start=start, progress=False, retry=RetryPolicy(sleep=a_week_passes))
    finally:
        slow_jobs.state.now = clock


# --- where BulkExport cannot help -----------------------------------------------------


def test_the_366_day_quota_is_a_clear_error_after_the_days_it_allowed_are_cached(
    default_sandbox: Sandbox, travel: tuple[str, str], tmp_path: Path
) -> None:
    main, connected = travel
    app = app_for_sandbox(default_sandbox)
    listed_from = _listed_from(app.call_retention_days)
    start = _midnight(listed_from - timedelta(days=400))

    with pytest.raises(BulkExportError) as raised:
        cn.load_calls(connected, app=app, start=start, progress=False, cache_dir=tmp_path)

    message = str(raised.value)
    assert "at most 366 days per UTC day" in message and "run the load again after midnight UTC" in message
    assert raised.value.listed_from == listed_from
    # The newest 366 days were exported and are in the cache; the 34 before them were refused.
    main_days = covered_days(tmp_path, main)
    assert {listed_from - timedelta(days=i) for i in range(1, 367)} <= main_days
    assert not {listed_from - timedelta(days=i) for i in range(367, 401)} & main_days


def test_a_customer_who_granted_get_all_only_cannot_have_export_jobs_made(default_sandbox: Sandbox) -> None:
    connected = default_sandbox.authorize(default_sandbox.customer_account_sids[TRAVEL])  # get-all
    app = app_for_sandbox(default_sandbox)
    start = _midnight(_listed_from(app.call_retention_days) - timedelta(days=5))

    with pytest.raises(BulkExportError, match="post-all") as raised:
        cn.load_calls(connected, app=app, start=start, progress=False)
    assert f"start='{_listed_from(app.call_retention_days)}'" in str(raised.value)
    assert default_sandbox.connected_account_sids  # a refusal of BulkExport is not a revocation


def test_bulkexport_refusing_connect_credentials_is_a_clear_error() -> None:
    with Sandbox(seed=4, calls_per_customer=500, bulkexport_for_connect=False) as sb:
        connected = sb.authorize(sb.customer_account_sids[TRAVEL], READ_WRITE)
        app = app_for_sandbox(sb)
        start = _midnight(_listed_from(app.call_retention_days) - timedelta(days=5))
        with pytest.raises(BulkExportError, match="an account's own credentials only") as raised:
            cn.load_calls(connected, app=app, start=start, progress=False)
        assert raised.value.listed_from == _listed_from(app.call_retention_days)
        # The list API still serves what it has.
        assert cn.load_calls(connected, app=app, progress=False).height > 0


def test_an_account_outside_us1_is_told_before_any_request(default_sandbox: Sandbox, travel: tuple[str, str]) -> None:
    app = app_for_sandbox(default_sandbox)
    dublin = dataclasses.replace(app, api_url="https://api.dublin.ie1.twilio.com")
    start = _midnight(_listed_from(app.call_retention_days) - timedelta(days=5))

    with pytest.raises(BulkExportError, match="US1 region only; this app's REST API is in ie1"):
        cn.load_calls(travel[1], app=dublin, start=start, progress=False)
    assert not default_sandbox.requests


# --- faults cost requests, never records or quota -------------------------------------


@pytest.fixture(scope="module")
def flaky() -> Iterator[Sandbox]:
    with Sandbox(seed=6, calls_per_customer=3_000) as sb:
        yield sb


@settings(max_examples=12)
@given(seed=st.integers(0, 2**32 - 1))
def test_faults_never_cost_a_record_nor_a_second_job(flaky: Sandbox, seed: int) -> None:
    flaky.reset()
    main = flaky.customer_account_sids[TRAVEL]
    connected = flaky.authorize(main, READ_WRITE)
    app = app_for_sandbox(flaky)
    listed_from = _listed_from(app.call_retention_days)
    start = _midnight(listed_from - timedelta(days=12))
    # Lost answers to the job's POST (a reset or a cut body after the job was made) must not make a second job.
    flaky.faults = Faults(seed=seed, server_error=0.2, reset=0.15, truncate=0.2, rate_limit=0.1)
    retry = RetryPolicy(attempts=40, sleep=lambda _: None)

    frame = cn.load_calls(connected, app=app, start=start, progress=False, retry=retry)

    flaky.faults = Faults()
    assert_frame_equal(frame, expected_calls(in_range(family_truth(flaky, main), "start_time", start, None)))
    with httpx.Client(auth=(connected, flaky.owner_auth_token)) as http:
        jobs = http.get(f"{flaky.bulkexports_url}/v1/Exports/Calls/Jobs").json()["jobs"]
    assert [(j["start_day"], j["end_day"]) for j in jobs] == [(str(start.date()), str(listed_from - timedelta(days=1)))]


# --- a day file as Twilio may write it ------------------------------------------------


def _gzip_lines(*records: dict[str, object]) -> bytes:
    return gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())


def test_a_day_file_with_numbers_as_json_numbers_fractions_and_missing_fields_is_typed_like_the_list() -> None:
    body = _gzip_lines(
        {
            "sid": "SM" + "a" * 32,
            "account_sid": "AC" + "b" * 32,
            "from": "+15005550006",
            "to": "+15005550001",
            "direction": "outbound-api",
            "status": "undelivered",
            "body": "hi",
            "num_segments": 2,  # a JSON number where the list API sends "2"
            "num_media": "0",
            "price": -0.0075,
            "error_code": 30003,
            "date_created": "2025-01-02T03:04:05Z",
            "date_sent": "2025-01-02T03:04:05.250Z",  # fractions of a second
            "date_updated": "2025-01-02T03:04:06+00:00",
        }
    )
    frame = read_export_file(body, "messages")

    assert frame.schema == cn.MESSAGES_SCHEMA
    row = frame.row(0, named=True)
    assert row["num_segments"] == 2 and row["price"] == -0.0075 and row["cost"] == 0.0075
    assert row["error_code"] == 30003 and row["error_message"] is None and row["price_unit"] is None
    assert row["date_sent"] == datetime(2025, 1, 2, 3, 4, 5, 250_000, tzinfo=UTC)
    assert row["our_number"] == "+15005550006" and row["counterpart"] == "+15005550001"
    assert row["messaging_service_sid"] is None  # a field the file lacks is null


def test_an_empty_day_file_and_a_broken_one() -> None:
    assert read_export_file(_gzip_lines(), "calls").schema == cn.CALLS_SCHEMA
    with pytest.raises(ValueError, match="not a gzip JSON-lines file of calls"):
        read_export_file(b"<html>expired</html>", "calls")
