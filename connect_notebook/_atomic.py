"""`_atomic`: the package's one atomic file write (the cache's month files, the session, the report, keys).

``atomic_write`` writes a temporary file in the same folder, fsyncs it, renames it over
the target and fsyncs the folder, so after ``kill -9`` or a power cut a reader finds the
old file or the new one, never a mix. A temporary file left by a writer that died is
removed by the next write of the same file.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

__all__ = ["atomic_write"]

log = logging.getLogger("connect_notebook")


def atomic_write(
    path: Path,
    data: bytes | Callable[[Path], None],
    *,
    mode: int | None = None,
    folder_mode: int | None = None,
) -> None:
    """Write ``path`` whole or not at all: readers see the old file or the new one, never a mix.

    The data goes to ``.<name>.<pid>-<hex>.tmp`` in the same folder, is fsynced and
    renamed over ``path``; the folder is then fsynced where the platform allows.

    Parameters
    ----------
    path
        The file to write; missing parent folders are created.
    data
        The bytes, or a callable that writes the temporary path it is given
        (``DataFrame.write_parquet`` wants a path).
    mode
        ``None``: an ordinary file (``0o666 & ~umask``, as ``open()`` makes it). Otherwise
        the exact bits; the temporary file is created ``0o600``, so a private file is
        never readable by others, not even briefly.
    folder_mode
        The mode of the folder if it has to be created (``0o700``); an existing one is left as it is.

    Raises
    ------
    OSError
        Or whatever a ``data`` callable raises: ``path`` is then untouched and the temporary file removed.
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o777 if folder_mode is None else folder_mode)  # umask applies
    # The pid lets a later writer recognise (and remove) the temporary file of a writer that died.
    temp = folder / f".{path.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(temp, flags, 0o666 if mode is None else 0o600)  # the umask applies, as with open()
    try:
        try:
            if isinstance(data, bytes):
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            else:
                os.close(fd)
                fd = -1
                data(temp)
                fd = os.open(temp, os.O_RDONLY)
            if mode is not None:
                os.chmod(temp, mode)  # exact bits, whatever the umask
            os.fsync(fd)  # on disk before it gets the real name, so a power cut cannot leave it half there
        finally:
            if fd >= 0:
                os.close(fd)
        os.replace(temp, path)  # atomic: readers see the old file or the new one
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)
    _remove_stale_temps(path)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; best effort (not every platform can open a folder)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_stale_temps(path: Path) -> None:
    """Remove temporary files of ``path`` left by writers that died before their rename."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)-[0-9a-f]+\.tmp")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        # A live writer (this process or another) may be about to rename its file: keep it.
        # The pid is only meaningful on this machine, which is why the cache belongs on a local disk.
        if match is not None and not _is_alive(int(match[1])):
            try:
                (path.parent / name).unlink(missing_ok=True)
            except OSError as exc:
                log.debug("could not remove the stale temporary file %s: %s", path.parent / name, exc)


def _is_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process; larger than any pid
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
