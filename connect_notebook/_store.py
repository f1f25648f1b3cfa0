"""`_store`: a sync's dataset at an fsspec URL (``s3://``, ``gs://``, ``abfs://``, ``file://``, ``memory://``).

The cache's writer needs a local disk: atomic renames, fsync, open descriptors. A
task whose dataset is a URL therefore works in a staging folder of its own on the
machine it runs on: it pulls its family's files from the store, loads into the
staging folder as into any cache, and pushes back the files the load created or
replaced. A push puts the file under a temporary name and then moves it onto its
final name, so a reader, or a later run, finds the old file or the new one and never
a part of one: an object store's put is all or nothing, a local move is a rename.
A temporary object left by a process that died midway is never read (its name is not
``part-0.parquet``) and is removed by the next push of that file.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory

import polars as pl

from ._cache import read_family
from ._exceptions import ConfigError

__all__ = ["Store", "family", "is_url", "scan", "staged"]

# The extra that brings each scheme's filesystem (pyproject.toml's optional dependencies).
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "abfs": "abfs", "az": "abfs", "abfss": "abfs"}
_TEMP = ".tmp-"  # the infix of a pushed file's temporary name


def is_url(value: object) -> bool:
    """Whether a dataset location is an fsspec URL (``scheme://…``) rather than a local folder."""
    return isinstance(value, str) and "://" in value and value.split("://", 1)[0].isidentifier()


class Store:
    """A dataset on an fsspec filesystem: listing, pulling into and pushing from a local staging folder.

    Built from the URL alone, so a task carries the URL (a string) and each worker
    makes its own filesystem object with the credentials configured where it runs.
    """

    def __init__(self, url: str) -> None:
        scheme = url.split("://", 1)[0]
        try:
            import fsspec  # type: ignore[import-untyped]  # fsspec ships no type information
        except ImportError:
            extra = _EXTRAS.get(scheme, "s3")
            msg = f"a dataset at {scheme}:// needs fsspec: pip install 'connect_notebook[{extra}]'"
            raise ConfigError(msg) from None
        try:
            self.fs, root = fsspec.core.url_to_fs(url)
        except ImportError:
            wanted = _EXTRAS.get(scheme)
            hint = f"pip install 'connect_notebook[{wanted}]'" if wanted else "install the fsspec filesystem for it"
            msg = f"the dataset's filesystem ({scheme}://) is not installed: {hint}"
            raise ConfigError(msg) from None
        except ValueError as exc:  # "Protocol not known"
            msg = f"to must be a folder or an fsspec URL such as s3://bucket/portfolio; {scheme}:// is unknown ({exc})"
            raise ConfigError(msg) from None
        self.url = url
        self.root = str(root).rstrip("/")

    def _remote(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def create(self) -> None:
        """Make the dataset's root (a no-op on object stores, which have no folders)."""
        self.fs.makedirs(self.root, exist_ok=True)

    def files(self, prefix: str) -> list[str]:
        """The dataset's files under ``prefix`` (relative paths), temporary ones left out."""
        try:
            found = self.fs.find(self._remote(prefix))
        except FileNotFoundError:
            return []
        out = []
        for path in found:
            relative = str(path).removeprefix(self.root).lstrip("/")
            if _TEMP not in relative.rsplit("/", 1)[-1]:
                out.append(relative)
        return out

    def pull(self, staging: Path, relatives: list[str]) -> None:
        """Copy these dataset files into ``staging`` (same relative paths)."""
        for relative in relatives:
            local = staging / relative
            local.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(self._remote(relative), str(local))

    def push(self, staging: Path, relative: str) -> None:
        """Put one staged file into the dataset whole: a temporary name first, then a move onto its name."""
        final = self._remote(relative)
        parent = final.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        temp = f"{final}{_TEMP}{uuid.uuid4().hex}"
        self.fs.put_file(str(staging / relative), temp)
        try:
            self.fs.mv(temp, final)
        except BaseException:
            self.fs.rm(temp)
            raise
        stale = [p for p in self.fs.glob(f"{final}{_TEMP}*") if str(p) != temp]  # left by pushes that died
        if stale:
            self.fs.rm(stale)

    def read_parquet(self, relatives: list[str], schema: pl.Schema) -> list[pl.DataFrame]:
        """Read dataset parquet files eagerly, each with exactly ``schema``'s columns."""
        frames = []
        for relative in relatives:
            with self.fs.open(self._remote(relative), "rb") as file:
                frames.append(pl.read_parquet(file, columns=list(schema)).cast(schema))
        return frames


def _snapshot(staging: Path) -> dict[str, tuple[int, int]]:
    """Size and mtime of every staged file, to tell afterwards which ones a load wrote."""
    out = {}
    for path in staging.rglob("*"):
        if path.is_file() and not path.name.startswith("."):  # the cache's own temporary and lock files
            stat = path.stat()
            out[path.relative_to(staging).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return out


@contextmanager
def staged(store: Store, staging: Path, prefixes: list[str]) -> Iterator[Path]:
    """Pull the files under ``prefixes`` into ``staging``, yield it, then push what the block wrote.

    What was written is pushed even when the block fails midway (a customer who
    revoked the app, Twilio failing after every retry): whole months already read
    are not lost, and the next run asks only for the rest.
    """
    store.pull(staging, [f for prefix in prefixes for f in store.files(prefix)])
    before = _snapshot(staging)
    try:
        yield staging
    finally:
        after = _snapshot(staging)
        for relative, mark in sorted(after.items()):
            if before.get(relative) != mark:
                store.push(staging, relative)


def family(store: Store, connected_sid: str) -> list[str] | None:
    """The accounts a remote dataset records for a connected AccountSid (``families/AC….json``), if any."""
    with TemporaryDirectory(prefix="connect_notebook-family-") as staging:
        store.pull(Path(staging), store.files(f"families/{connected_sid}.json"))
        return read_family(Path(staging), connected_sid)


def scan(store: Store, kind: str, accounts: list[str] | None, schema: pl.Schema, time_column: str) -> pl.LazyFrame:
    """A frame over a remote dataset's month files of ``accounts`` (all when None), read now, newest first."""
    prefixes = [kind] if accounts is None else [f"{kind}/account={sid}" for sid in accounts]
    relatives = [f for p in prefixes for f in store.files(p) if f.endswith("/part-0.parquet") and "/month=" in f]
    frames = store.read_parquet(sorted(relatives), schema)
    if not frames:
        return pl.LazyFrame(schema=schema)
    whole: pl.DataFrame = pl.concat(frames)
    return whole.lazy().sort(time_column, descending=True, maintain_order=True)
