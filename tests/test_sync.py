"""``cn.sync``: several customers into one dataset, on threads (a Dask cluster: tests/test_sync_dask.py).

The session sandbox's three customers (each a family) are synced into ``tmp_path``; the
dataset read back with ``cn.scan_calls(cache_dir=…)`` must be the union of the families'
ground truths, a second run must ask for nothing settled, and a revoked customer is
reported in the summary while the others complete.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from loader_support import expected_calls, expected_messages, family_truth, in_range, logged, window_days
from polars.testing import assert_frame_equal

import connect_notebook as cn
from connect_notebook import ConnectApp
from connect_notebook.sandbox import Sandbox


def _connected_all(sb: Sandbox) -> list[str]:
    return [sb.authorize(sid) for sid in sb.customer_account_sids]


def _by_sid(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("sid")


def test_a_sync_of_every_customer_is_the_ground_truth_of_every_family(
    sandbox: Sandbox, app: ConnectApp, tmp_path: Path
) -> None:
    connected = _connected_all(sandbox)

    summary = cn.sync(connected, tmp_path, app=app, progress=False)

    assert summary.schema == cn.SYNC_SUMMARY_SCHEMA
    assert summary.height == 9 and summary["error"].null_count() == 9
    mains = sandbox.customer_account_sids
    calls = [r for main in mains for r in family_truth(sandbox, main)]
    assert_frame_equal(_by_sid(cn.scan_calls(cache_dir=tmp_path).collect()), _by_sid(expected_calls(calls)))
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    messages = in_range(
        [r for main in mains for r in family_truth(sandbox, main, "messages")],
        "date_sent",
        today - timedelta(days=399),
        None,
    )
    got = cn.scan_messages(cache_dir=tmp_path).collect()
    assert_frame_equal(_by_sid(got), _by_sid(expected_messages(messages)))
    # Rows per customer and resource add up to the dataset.
    assert summary.filter(pl.col("resource") == "calls")["rows"].sum() == len(calls)
    usage = pl.read_parquet(tmp_path / "usage", hive_partitioning=True)
    accounts = {sid for main in mains for sid in sandbox.family(main)}
    assert set(usage["account"].unique()) <= accounts and usage.height > 0
    assert set(summary["account_sid"]) == set(connected)


def test_a_second_sync_asks_for_nothing_settled(sandbox: Sandbox, app: ConnectApp, tmp_path: Path) -> None:
    connected = _connected_all(sandbox)
    first = cn.sync(connected, tmp_path, app=app, resources=["calls"], progress=False)
    sandbox.state.faults.reset()  # forget the request log

    second = cn.sync(connected, tmp_path, app=app, resources=["calls"], progress=False)

    assert second["days_cached"].sum() > 0 and second["rows"].sum() == first["rows"].sum()
    # Only the days that may still change (today and the 3 days of lookback) are asked again.
    asked = {d for r in logged(sandbox, "Calls.json") for d in window_days(r)}
    today = datetime.now(UTC).date()
    assert asked and min(asked) >= today - timedelta(days=3)
    accounts = sum(len(sandbox.family(m)) for m in sandbox.customer_account_sids)
    assert second["days_fetched"].sum() <= 4 * accounts < first["days_fetched"].sum()
    assert second["days_cached"].sum() + second["days_fetched"].sum() == first["days_fetched"].sum()


def test_a_revoked_customer_is_reported_and_the_others_complete(
    sandbox: Sandbox, app: ConnectApp, tmp_path: Path
) -> None:
    connected = _connected_all(sandbox)
    sandbox.deauthorize(sandbox.customer_account_sids[1])

    summary = cn.sync(connected, tmp_path, app=app, resources=["calls", "usage"], progress=False)

    failed = summary.filter(pl.col("error").is_not_null())
    assert set(failed["account_sid"]) == {connected[1]} and failed.height == 2
    assert failed["error"].str.starts_with("AuthorizationRevoked").all()
    assert all(app.auth_token not in e for e in failed["error"])
    mains = [sandbox.customer_account_sids[i] for i in (0, 2)]
    calls = [r for main in mains for r in family_truth(sandbox, main)]
    assert_frame_equal(_by_sid(cn.scan_calls(cache_dir=tmp_path).collect()), _by_sid(expected_calls(calls)))


def test_a_sync_can_be_run_on_any_executor(sandbox: Sandbox, app: ConnectApp, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    connected = _connected_all(sandbox)
    with ThreadPoolExecutor(max_workers=1) as one:
        summary = cn.sync(connected[:2], tmp_path, app=app, resources="messages", executor=one, progress=False)
    assert summary["resource"].to_list() == ["messages", "messages"]
    assert summary["account_sid"].to_list() == connected[:2]


@pytest.mark.parametrize(
    ("arguments", "error", "words"),
    [
        ({"accounts": []}, ValueError, "accounts is empty"),
        ({"accounts": 5}, TypeError, "accounts must be"),
        ({"accounts": ["ACnope"]}, cn.ConfigError, "account"),
        ({"resources": ["calls", "faxes"]}, ValueError, "resources must be one or more of"),
        ({"resources": [1]}, TypeError, "resources must be names"),
        ({"executor": "threads"}, TypeError, "executor must be a concurrent.futures.Executor"),
        ({"start": "2026-10-02", "end": "2026-10-01"}, ValueError, "end"),
        ({"progress": "yes"}, TypeError, "progress"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(
    sandbox: Sandbox, app: ConnectApp, tmp_path: Path, arguments: dict[str, object], error: type, words: str
) -> None:
    options = {"accounts": [sandbox.authorize(sandbox.customer_account_sids[0])], **arguments}
    accounts = options.pop("accounts")
    with pytest.raises(error, match=words):
        cn.sync(accounts, tmp_path, app=app, **options)  # type: ignore[arg-type]
    assert not sandbox.requests


def test_a_file_where_the_dataset_goes_is_refused(sandbox: Sandbox, app: ConnectApp, tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(ValueError, match="must be a folder"):
        cn.sync(sandbox.authorize(sandbox.customer_account_sids[0]), tmp_path / "data", app=app)
