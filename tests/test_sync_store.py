"""``cn.sync`` to an fsspec URL: ``file://`` (a real filesystem through fsspec) and ``memory://``.

Object stores (``s3://``, ``gs://``, ``abfs://``) take the same path through ``_store``:
each task stages its family's files on the machine it runs on, and pushes what it
wrote whole (a temporary name, then a move).
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import polars as pl
import pytest
from loader_support import expected_calls, family_truth
from polars.testing import assert_frame_equal

import connect_notebook as cn
from connect_notebook import ConnectApp
from connect_notebook._store import Store
from connect_notebook.sandbox import Sandbox


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A fresh folder of fsspec's in-process memory filesystem, removed afterwards."""
    url = f"memory://portfolio-{uuid.uuid4().hex}"
    yield url
    fs = fsspec.filesystem("memory")
    root = url.removeprefix("memory://")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def _connected_all(sb: Sandbox) -> list[str]:
    return [sb.authorize(sid) for sid in sb.customer_account_sids]


def _truth(sb: Sandbox) -> pl.DataFrame:
    return expected_calls([r for m in sb.customer_account_sids for r in family_truth(sb, m)]).sort("sid")


def test_a_sync_to_a_file_url_is_the_ground_truth(sandbox: Sandbox, app: ConnectApp, tmp_path: Path) -> None:
    connected = _connected_all(sandbox)

    summary = cn.sync(connected, f"file://{tmp_path}/ds", app=app, resources=["calls", "usage"], progress=False)

    assert summary["error"].null_count() == 6, summary["error"].to_list()
    # The same layout as a local sync: readable as a folder, and through the URL.
    assert_frame_equal(cn.scan_calls(cache_dir=tmp_path / "ds").collect().sort("sid"), _truth(sandbox))
    assert_frame_equal(cn.scan_calls(cache_dir=f"file://{tmp_path}/ds").collect().sort("sid"), _truth(sandbox))
    assert_frame_equal(cn.scan_calls(f"file://{tmp_path}/ds").collect().sort("sid"), _truth(sandbox))
    assert (tmp_path / "ds" / "usage").is_dir() and (tmp_path / "ds" / "families").is_dir()
    assert not [p for p in (tmp_path / "ds").rglob("*") if ".tmp" in p.name]


def test_a_second_sync_to_a_url_fetches_only_the_unsettled_days(
    sandbox: Sandbox, app: ConnectApp, memory_url: str
) -> None:
    connected = _connected_all(sandbox)
    first = cn.sync(connected, memory_url, app=app, resources=["calls"], progress=False)
    store = Store(memory_url)
    files = {f: store.fs.info(store._remote(f))["size"] for f in store.files("calls")}

    second = cn.sync(connected, memory_url, app=app, resources=["calls"], progress=False)

    accounts = sum(len(sandbox.family(m)) for m in sandbox.customer_account_sids)
    assert second["days_fetched"].sum() <= 4 * accounts < first["days_fetched"].sum()
    assert second["days_cached"].sum() + second["days_fetched"].sum() == first["days_fetched"].sum()
    assert set(store.files("calls")) == set(files)
    assert_frame_equal(cn.scan_calls(cache_dir=memory_url).collect().sort("sid"), _truth(sandbox))
    # One customer's family, through the family file the sync stored.
    one = cn.scan_calls(connected[0], cache_dir=memory_url).collect()
    assert_frame_equal(
        one.sort("sid"), expected_calls(family_truth(sandbox, sandbox.customer_account_sids[0])).sort("sid")
    )


def test_a_push_that_died_leaves_only_an_unread_temporary(
    sandbox: Sandbox, app: ConnectApp, memory_url: str, tmp_path: Path
) -> None:
    connected = _connected_all(sandbox)[:1]
    cn.sync(connected, memory_url, app=app, resources=["calls"], progress=False)
    store = Store(memory_url)
    month = sorted(store.files("calls"))[0]
    stale = f"{store._remote(month)}.tmp-{'0' * 32}"
    store.fs.pipe_file(stale, b"half a parquet file")  # what a worker killed between put and move leaves

    got = cn.scan_calls(cache_dir=memory_url).collect()  # the temporary is not read
    assert_frame_equal(
        got.sort("sid"), expected_calls(family_truth(sandbox, sandbox.customer_account_sids[0])).sort("sid")
    )
    assert month in store.files("calls") and not [f for f in store.files("calls") if ".tmp-" in f]

    store.pull(tmp_path, [month])
    store.push(tmp_path, month)  # the next push of that month clears what the dead one left

    assert not store.fs.exists(stale)
    assert store.fs.glob(f"{store._remote(month)}*") == [store._remote(month)]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("nope://bucket/portfolio", "nope:// is unknown"),
        pytest.param(
            "s3://bucket/portfolio",
            r"pip install 'connect_notebook\[s3\]'",
            marks=pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed"),
        ),
    ],
)
def test_a_url_without_its_filesystem_is_refused_before_any_request(
    sandbox: Sandbox, app: ConnectApp, url: str, words: str
) -> None:
    with pytest.raises(cn.ConfigError, match=words):
        cn.sync(sandbox.authorize(sandbox.customer_account_sids[0]), url, app=app, progress=False)
    assert not sandbox.requests
