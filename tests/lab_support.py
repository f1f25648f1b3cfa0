"""One way to start a real JupyterLab for a test: isolated from ~, on a free port, ready when it serves."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

TIMEOUT = 120  # hang guard, never a measurement
READY = "jupyterlab | extension was successfully started"
# Ready when the server starts its extensions: that runs on its loop after the port is bound
# (both are loop callbacks, queued in that order), unlike the "is running at" line, printed before.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def follow_log(
    proc: subprocess.Popen[str], ready_text: str, log: list[str], name: str
) -> tuple[threading.Event, threading.Thread]:
    """Read ``proc``'s stderr into ``log`` on a daemon thread (keeping the pipe empty).

    The event is set at the first line holding ``ready_text``, or when the process ends,
    so a waiter is never left hanging.
    """
    ready = threading.Event()

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            log.append(line)
            if ready_text in line:
                ready.set()
        ready.set()

    reader = threading.Thread(target=drain, name=name, daemon=True)
    reader.start()
    return ready, reader


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """This environment without credentials, hub or pytest variables; Jupyter's folders under ``home``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONNECT_NOTEBOOK_", "TWILIO_", "JUPYTERHUB_", "PYTEST_"))
    }
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"),
        XDG_CONFIG_HOME=str(home / "xdg-config"),
    )
    env.update(extra)
    return env


@dataclass
class Lab:
    """A running JupyterLab: its URL (with any base URL), token, and what it logged."""

    url: str
    token: str
    port: int
    proc: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}


@contextmanager
def jupyterlab(
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    base_url: str = "/",
    command: Sequence[str] | None = None,
    port: int | None = None,
    stdout: int = subprocess.DEVNULL,
) -> Iterator[Lab]:
    """Start JupyterLab (``command``, default ``python -m jupyterlab``) and yield it once it serves.

    Its kernels are deleted and the process is stopped afterwards. ``command`` lets a test start it
    through ``connect-notebook lab``; its own options then come after ``--``, which the caller writes.
    A test may stop the process itself inside the block (``stdout=subprocess.PIPE`` to read it).
    """
    port = port or free_port()
    token = uuid.uuid4().hex
    # ``connect-notebook lab`` sets the port, the address and --no-browser itself (a repeated port is an error).
    where = [] if command is not None else ["--no-browser", "--ip=127.0.0.1", f"--port={port}"]
    options = [
        *where,
        "--ServerApp.port_retries=0",
        "--ServerApp.log_level=DEBUG",
        f"--IdentityProvider.token={token}",
        *([f"--ServerApp.base_url={base_url}"] if base_url != "/" else []),
        *(["--allow-root"] if os.geteuid() == 0 else []),
        *args,
    ]
    launch = [*command, *options] if command is not None else [sys.executable, "-m", "jupyterlab", *options]
    proc = subprocess.Popen(
        launch,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env if env is not None else isolated_env(tmp_path / "jupyter"),
        cwd=tmp_path,
    )
    lab = Lab(f"http://127.0.0.1:{port}{base_url.rstrip('/')}", token, port, proc)
    ready, reader = follow_log(proc, READY, lab.log, "lab-log")
    http = httpx.Client(headers=lab.headers, timeout=TIMEOUT, trust_env=False)
    try:
        if not ready.wait(TIMEOUT) or proc.poll() is not None:
            pytest.fail("JupyterLab did not start:\n" + "".join(lab.log))
        assert http.get(f"{lab.url}/api/status").status_code == 200
        yield lab
    finally:
        try:
            if proc.poll() is None:
                for kernel in http.get(f"{lab.url}/api/kernels").json():
                    http.delete(f"{lab.url}/api/kernels/{kernel['id']}")
        finally:
            http.close()
            if proc.poll() is None:
                proc.terminate()
            proc.wait(TIMEOUT)
            reader.join(TIMEOUT)
            assert proc.stderr is not None
            proc.stderr.close()
            if proc.stdout is not None:
                proc.stdout.close()
