"""``cn.sync``: several customers into one dataset, on threads (a Dask cluster: tests/test_sync_dask.py).

The session sandbox's three customers (each a family) are synced into ``tmp_path``; the
dataset read back with ``cn.scan_calls(cache_dir=…)`` must be the union of the families'
ground truths, a second run must ask for nothing settled, and a revoked customer is
reported in the summary while the others complete.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from loader_support import (
    expected_calls,
    expected_messages,
    family_truth,
    in_range,
    logged,
    total_requests,
    window_days,
)
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
    # The dataset in the account's place (cn.scan_calls(to)): a path, or a folder's name.
    assert_frame_equal(_by_sid(cn.scan_calls(tmp_path).collect()), _by_sid(expected_calls(calls)))
    assert_frame_equal(_by_sid(cn.scan_calls(str(tmp_path)).collect()), _by_sid(expected_calls(calls)))
    with pytest.raises(TypeError, match="pass it once"):
        cn.scan_calls(tmp_path, cache_dir=tmp_path)
    # Twilio's 400 days of messages, counted back from the sandbox's today (its answers' Date).
    today = sandbox.now.replace(hour=0, minute=0, second=0, microsecond=0)
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
    # Every request the sandbox served is counted in some row, usage's too.
    assert summary["requests"].sum() == total_requests(sandbox)
    assert summary.filter(pl.col("resource") == "usage")["requests"].min() > 0  # type: ignore[operator]


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


def test_a_customer_revoked_during_the_sync_is_reported_and_the_others_complete(
    sandbox: Sandbox, app: ConnectApp, tmp_path: Path
) -> None:
    connected = _connected_all(sandbox)
    mains = sandbox.customer_account_sids
    # The second customer deauthorizes the app while its calls are being read (held after a few pages).
    with ThreadPoolExecutor(1) as here, sandbox.hold(f"{mains[1]}/Calls.json", after=3) as hold:
        running = here.submit(cn.sync, connected, tmp_path, app=app, resources=["calls", "usage"], progress=False)
        assert hold.arrived(1)
        sandbox.deauthorize(mains[1])
        hold.release()
        summary = running.result()

    failed = summary.filter(pl.col("error").is_not_null())
    assert failed["account_sid"].unique().to_list() == [connected[1]]
    assert failed["error"].str.starts_with("AuthorizationRevoked").all()
    assert all(app.auth_token not in e for e in failed["error"])
    got = cn.scan_calls(cache_dir=tmp_path).collect()
    others = [r for main in (mains[0], mains[2]) for r in family_truth(sandbox, main)]
    revoked = set(sandbox.family(mains[1]))
    assert_frame_equal(_by_sid(got.filter(~pl.col("account_sid").is_in(revoked))), _by_sid(expected_calls(others)))
    # What was read before the revocation stays, whole months of true records only.
    theirs = {r["sid"] for r in family_truth(sandbox, mains[1])}
    assert set(got.filter(pl.col("account_sid").is_in(revoked))["sid"]) <= theirs


def test_a_sync_can_be_run_on_any_executor(sandbox: Sandbox, app: ConnectApp, tmp_path: Path) -> None:
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
    with pytest.raises(ValueError, match="^to must be a folder") as refused:
        cn.sync(sandbox.authorize(sandbox.customer_account_sids[0]), tmp_path / "data", app=app)
    assert "cache" not in str(refused.value)  # the argument is to, and None is no choice for it


@pytest.mark.parametrize(
    ("to", "error"), [(None, TypeError), (5, TypeError), (b"/tmp/x", TypeError), ("  ", ValueError)]
)
def test_a_to_that_is_no_folder_is_refused(sandbox: Sandbox, app: ConnectApp, to: object, error: type) -> None:
    with pytest.raises(error, match="^to must be"):
        cn.sync(sandbox.authorize(sandbox.customer_account_sids[0]), to, app=app)  # type: ignore[arg-type]
    assert not sandbox.requests


def test_a_relative_to_is_the_folder_it_names_here(
    sandbox: Sandbox, app: ConnectApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    connected = sandbox.authorize(sandbox.customer_account_sids[0])

    summary = cn.sync(connected, "portfolio", app=app, resources=["usage"], progress=False)

    assert summary["error"].null_count() == 1 and summary["rows"].sum() > 0
    assert list((tmp_path / "portfolio" / "usage").rglob("*.parquet"))


def test_a_sync_killed_midway_resumes_to_exactly_the_ground_truth(
    sandbox: Sandbox, app: ConnectApp, tmp_path: Path
) -> None:
    connected = _connected_all(sandbox)
    mains = sandbox.customer_account_sids
    root = tmp_path / "dataset"
    job = tmp_path / "job.pickle"
    job.write_bytes(pickle.dumps((app, connected, str(root))))
    job.chmod(0o600)
    child_script = Path(__file__).with_name("sync_child.py")
    # The second customer's main account is held after a few pages; the others are let finish.
    with sandbox.hold(f"{mains[1]}/Calls.json", after=3) as hold:
        child = subprocess.Popen([sys.executable, str(child_script), str(job)], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            done = set()
            while {connected[0], connected[2]} - done:
                line = child.stdout.readline()
                assert line, f"the sync process ended early ({child.wait()})"
                done.add(line.split()[1])
            assert hold.arrived(1)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
            child.stdout.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL

    summary = cn.sync(connected, root, app=app, resources=["calls"], progress=False)

    assert summary["error"].null_count() == 3
    calls = [r for main in mains for r in family_truth(sandbox, main)]
    assert_frame_equal(_by_sid(cn.scan_calls(cache_dir=root).collect()), _by_sid(expected_calls(calls)))
    assert not list(root.rglob("*.tmp"))
    # The customers finished before the kill are asked only for their unsettled days; the held one resumes.
    fetched = dict(zip(summary["account_sid"], summary["days_fetched"], strict=True))
    for i in (0, 2):
        assert fetched[connected[i]] <= 4 * len(sandbox.family(mains[i]))
    assert fetched[connected[1]] > 4 * len(sandbox.family(mains[1]))
