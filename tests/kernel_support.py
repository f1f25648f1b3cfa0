"""Real Jupyter kernels for tests: start one, run cells, read what they print (jupyter_client)."""

from __future__ import annotations

import os
import queue
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import start_new_kernel

TIMEOUT = 120  # hang guard for every kernel round trip, never a measurement


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernel_env(**extra: str) -> dict[str, str]:
    """This process's environment without any credential or hub variable, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONNECT_NOTEBOOK_", "TWILIO_", "JUPYTERHUB_", "PYTEST_"))
    }
    env.update(extra)
    return env


@dataclass
class Execution:
    """What one execute_request produced on iopub (and its reply)."""

    msg_id: str
    stdout: str = ""
    errors: list[str] = field(default_factory=list)
    done: bool = False


class Kernel:
    """A thin synchronous driver over a BlockingKernelClient: run cells, read iopub."""

    def __init__(self, kc: BlockingKernelClient) -> None:
        self.kc = kc

    def start(self, code: str) -> Execution:
        return Execution(self.kc.execute(code, store_history=False, allow_stdin=False))

    def pump(self, execution: Execution, until: Any = None, timeout: float = TIMEOUT) -> dict[str, Any] | None:
        """Read iopub until ``until(msg)`` is true (that message is returned) or the cell went idle."""
        while not execution.done:
            try:
                msg = self.kc.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no iopub message within {timeout}s; so far: {execution.stdout!r}")
            mtype, content = msg["msg_type"], msg["content"]
            if msg["parent_header"].get("msg_id") == execution.msg_id:
                if mtype == "stream":
                    execution.stdout += content["text"]
                elif mtype == "error":
                    execution.errors.append("\n".join(content["traceback"]))
                elif mtype == "status" and content["execution_state"] == "idle":
                    execution.done = True
            if until is not None and until(msg):
                return msg
        return None

    def finish(self, execution: Execution) -> Execution:
        self.pump(execution)
        while True:  # skip stray replies (wait_for_ready may have sent kernel_info more than once)
            reply = self.kc.get_shell_msg(timeout=TIMEOUT)
            if reply["parent_header"].get("msg_id") == execution.msg_id:
                break
        assert reply["content"]["status"] == ("error" if execution.errors else "ok")
        return execution

    def run(self, code: str) -> str:
        """Run a cell to the end; its stdout (the cell must not raise)."""
        execution = self.finish(self.start(code))
        assert not execution.errors, "\n".join(execution.errors)
        return execution.stdout


@contextmanager
def embedded_kernel(tmp_path: Path, now: str) -> Iterator[tuple[Kernel, int]]:
    """A python3 kernel started by jupyter_client alone, on the embedded sandbox; and its callback port."""
    port = free_port()
    env = kernel_env(
        CONNECT_NOTEBOOK_CALLBACK_PORT=str(port),
        CONNECT_NOTEBOOK_SANDBOX_NOW=now,
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=TIMEOUT, env=env, cwd=str(tmp_path))
    try:
        yield Kernel(kc), port
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        assert not km.is_alive()
