"""``cn.sync`` on a real Dask cluster: a ``distributed.LocalCluster`` with two worker processes.

The workers are separate processes that reach the session sandbox over loopback and
write their partitions straight into the dataset; the test process gathers only the
summaries. Killing a worker midway (SIGKILL, found by its pid) must not change the
result, and the owner's Auth Token must appear in no task key, worker or scheduler
log, or dashboard page.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask
import httpx
import polars as pl
import pytest
from distributed import Client, LocalCluster, get_task_stream
from loader_support import expected_calls, family_truth
from polars.testing import assert_frame_equal

import connect_notebook as cn
from connect_notebook import ConnectApp
from connect_notebook.sandbox import Sandbox


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Client]:
    """Two worker processes of two threads each, and a dashboard on a loopback port."""
    with (
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=2,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _connected_all(sb: Sandbox) -> list[str]:
    return [sb.authorize(sid) for sid in sb.customer_account_sids]


def _truth(sb: Sandbox, mains: list[str]) -> pl.DataFrame:
    return expected_calls([r for main in mains for r in family_truth(sb, main)]).sort("sid")


def _worker_pids(client: Client) -> dict[str, int]:
    return client.run(os.getpid)  # type: ignore[no-any-return]


def test_a_sync_on_the_cluster_is_the_ground_truth_and_ran_on_its_workers(
    sandbox: Sandbox, app: ConnectApp, tmp_path: Path, dask_client: Client
) -> None:
    connected = _connected_all(sandbox)

    with get_task_stream(dask_client) as stream:
        summary = cn.sync(
            connected,
            tmp_path,
            app=app,
            resources=["calls", "usage"],
            executor=dask_client.get_executor(),
            progress=False,
        )

    assert summary["error"].null_count() == summary.height == 6
    got = cn.scan_calls(cache_dir=tmp_path).collect().sort("sid")
    assert_frame_equal(got, _truth(sandbox, sandbox.customer_account_sids))
    workers = {t["worker"] for t in stream.data}
    assert len(stream.data) == 3 and workers <= set(_worker_pids(dask_client))  # one task per customer
    # Every task ran on a worker (the task stream above), and the tasks did fetch.
    assert summary["requests"].sum() > 0


def test_a_second_sync_on_the_cluster_fetches_nothing_settled(
    sandbox: Sandbox, app: ConnectApp, tmp_path: Path, dask_client: Client
) -> None:
    connected = _connected_all(sandbox)
    pool = dask_client.get_executor()
    first = cn.sync(connected, tmp_path, app=app, resources=["calls"], executor=pool, progress=False)

    second = cn.sync(connected, tmp_path, app=app, resources=["calls"], executor=pool, progress=False)

    accounts = sum(len(sandbox.family(m)) for m in sandbox.customer_account_sids)
    assert second["days_fetched"].sum() <= 4 * accounts < first["days_fetched"].sum()
    assert second["days_cached"].sum() + second["days_fetched"].sum() == first["days_fetched"].sum()
    assert_frame_equal(
        cn.scan_calls(cache_dir=tmp_path).collect().sort("sid"), _truth(sandbox, sandbox.customer_account_sids)
    )


def test_a_worker_killed_midway_changes_nothing(
    sandbox: Sandbox, app: ConnectApp, tmp_path: Path, dask_client: Client
) -> None:
    connected = _connected_all(sandbox)
    victim = sandbox.family(sandbox.customer_account_sids[1])[0]
    pool = dask_client.get_executor()
    # The second customer's calls are held after a few pages: its task is mid-load when the workers die.
    with ThreadPoolExecutor(1) as here, sandbox.hold(f"{victim}/Calls.json", after=3) as hold:
        running = here.submit(cn.sync, connected, tmp_path, app=app, resources=["calls"], executor=pool, progress=False)
        assert hold.arrived(1)
        pids = _worker_pids(dask_client)
        busy = [w for w, keys in dask_client.processing().items() if keys]
        assert busy
        for worker in busy:  # the held task's worker among them (task keys do not say whose task it is)
            os.kill(pids[worker], signal.SIGKILL)
        hold.release()
        summary = running.result()

    assert summary["error"].null_count() == 3, summary["error"].to_list()
    assert_frame_equal(
        cn.scan_calls(cache_dir=tmp_path).collect().sort("sid"), _truth(sandbox, sandbox.customer_account_sids)
    )
    assert not list(tmp_path.rglob("*.tmp"))
    assert set(_worker_pids(dask_client).values()).isdisjoint(pids[w] for w in busy)  # they were replaced


def test_the_token_is_in_no_task_key_log_or_dashboard_page(
    sandbox: Sandbox, app: ConnectApp, tmp_path: Path, dask_client: Client
) -> None:
    connected = _connected_all(sandbox)
    sandbox.deauthorize(sandbox.customer_account_sids[2])  # an error on a worker, too

    summary = cn.sync(connected, tmp_path, app=app, executor=dask_client.get_executor(), progress=False)

    assert summary.filter(pl.col("error").is_not_null())["account_sid"].unique().to_list() == [connected[2]]
    token = app.auth_token
    keys = dask_client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
    assert token not in repr(keys)
    logs = [dask_client.get_scheduler_logs(), *dask_client.get_worker_logs().values()]
    assert logs and token not in repr(logs)
    dashboard = dask_client.dashboard_link.rsplit("/", 1)[0]
    pages = ["/status", "/workers", "/tasks", "/info/main/workers.html", "/info/main/logs.html", "/json/counts.json"]
    with httpx.Client(base_url=dashboard, follow_redirects=True) as http:
        bodies = [http.get(p) for p in pages]
    assert all(b.status_code == 200 for b in bodies), [(b.url, b.status_code) for b in bodies]
    assert not [b.url for b in bodies if token in b.text]


def test_a_customer_whose_worker_dies_past_the_allowed_failures_is_reported_and_resumes(
    sandbox: Sandbox, app: ConnectApp, tmp_path: Path
) -> None:
    """Dask gives up on a task whose workers died too often (``KilledWorker``): that customer's row says so.

    With no failure allowed, one worker death is enough. The other customers complete,
    the dead task's month files are whole or absent, and the next sync finishes it.
    """
    connected = _connected_all(sandbox)
    victim = sandbox.family(sandbox.customer_account_sids[1])[0]
    with (
        # No failure allowed, and one task at a time on the worker's one thread (none queued there).
        dask.config.set({"distributed.scheduler.allowed-failures": 0, "distributed.scheduler.worker-saturation": 1.0}),
        LocalCluster(
            n_workers=1, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
        ThreadPoolExecutor(1) as here,
        sandbox.hold(f"{victim}/Calls.json", after=3) as hold,
    ):
        pool = client.get_executor()
        running = here.submit(cn.sync, connected, tmp_path, app=app, resources=["calls"], executor=pool, progress=False)
        assert hold.arrived(1)
        os.kill(next(iter(_worker_pids(client).values())), signal.SIGKILL)  # one thread: the held task's worker
        summary = running.result()
        hold.release()

        failed = summary.filter(pl.col("error").is_not_null())
        assert failed["account_sid"].to_list() == [connected[1]]
        assert failed["error"].item().startswith("KilledWorker: ")
        assert app.auth_token not in failed["error"].item()

        again = cn.sync(connected, tmp_path, app=app, resources=["calls"], executor=pool, progress=False)

    assert again["error"].null_count() == 3, again["error"].to_list()
    assert not list(tmp_path.rglob("*.tmp"))  # a write the death cut short was removed by the same file's next write
    assert_frame_equal(
        cn.scan_calls(cache_dir=tmp_path).collect().sort("sid"), _truth(sandbox, sandbox.customer_account_sids)
    )
