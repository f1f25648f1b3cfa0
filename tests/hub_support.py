"""One way to start a real JupyterHub for a test: loopback ports, a dummy login, local single-user servers.

The hub runs configurable-http-proxy from npm (``make test`` installs it under
``.venv/npm``), the dummy authenticator (one password for every user) and the simple
local-process spawner, whose single-user servers run JupyterLab from this virtualenv
with jupyter-server-proxy, so ``/user/<name>/proxy/<port>/`` reaches a kernel's
callback server. ``public_url`` is set, as a hub admin would set it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lab_support import follow_log, free_port, isolated_env

ROOT = Path(__file__).resolve().parents[1]
# make test installs it here; a conda environment (environment.yml) has it on PATH.
PROXY = ROOT / ".venv" / "npm" / "node_modules" / ".bin" / "configurable-http-proxy"
if not PROXY.exists() and shutil.which("configurable-http-proxy"):
    PROXY = Path(str(shutil.which("configurable-http-proxy")))
SINGLEUSER = Path(sys.executable).with_name("jupyterhub-singleuser")
TIMEOUT = 180  # hang guard, never a measurement
READY = "JupyterHub is now running at"
PASSWORD = "analyst-password"  # the dummy authenticator's one password; a test fixture, not a secret


def missing() -> str | None:
    """Why a hub cannot start here (``make test`` installs both), or None."""
    if shutil.which("jupyterhub", path=str(SINGLEUSER.parent)) is None:
        return "needs jupyterhub in the virtualenv (make test installs it)"
    if not PROXY.exists():
        return "needs configurable-http-proxy under .venv/npm or on PATH (make test installs it from npm)"
    return None


@dataclass
class Hub:
    """A running JupyterHub: its public URL (ending in /), and what it logged."""

    url: str
    proc: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    def user_url(self, name: str) -> str:
        """The public URL of ``name``'s single-user server, as JUPYTERHUB_PUBLIC_URL gives it."""
        return f"{self.url}user/{name}/"


def _config(folder: Path, port: int, notebooks: Path, environment: Mapping[str, str]) -> str:
    home = folder / "home"
    values = {
        "url": f"http://127.0.0.1:{port}/",
        "hub_port": free_port(),
        "api_url": f"http://127.0.0.1:{free_port()}",
        "proxy": str(PROXY),
        "token": uuid.uuid4().hex,
        "password": PASSWORD,
        "singleuser": str(SINGLEUSER),
        "root": str(notebooks),
        "environment": dict(environment),
        "db": f"sqlite:///{folder / 'jupyterhub.sqlite'}",
        "cookie": str(folder / "jupyterhub_cookie_secret"),
        "pid": str(folder / "jupyterhub-proxy.pid"),
        "home": str(home / "{username}"),
    }
    lines = [
        "c = get_config()  # noqa: F821",
        f"c.JupyterHub.bind_url = {values['url']!r}",
        f"c.JupyterHub.public_url = {values['url']!r}",
        "c.JupyterHub.hub_ip = '127.0.0.1'",
        f"c.JupyterHub.hub_port = {values['hub_port']}",
        f"c.ConfigurableHTTPProxy.command = [{values['proxy']!r}]",
        f"c.ConfigurableHTTPProxy.api_url = {values['api_url']!r}",
        f"c.ConfigurableHTTPProxy.auth_token = {values['token']!r}",
        f"c.ConfigurableHTTPProxy.pid_file = {values['pid']!r}",
        "c.JupyterHub.authenticator_class = 'dummy'",
        f"c.DummyAuthenticator.password = {values['password']!r}",
        "c.Authenticator.allow_all = True",
        "c.JupyterHub.spawner_class = 'simple'",
        f"c.SimpleLocalProcessSpawner.home_dir_template = {values['home']!r}",
        f"c.Spawner.cmd = [{values['singleuser']!r}]",
        f"c.Spawner.args = ['--allow-root', '--ServerApp.port_retries=0', '--ServerApp.root_dir={values['root']}']",
        "c.Spawner.ip = '127.0.0.1'",
        "c.Spawner.default_url = '/lab'",
        f"c.Spawner.start_timeout = {TIMEOUT}",
        f"c.Spawner.http_timeout = {TIMEOUT}",
        f"c.Spawner.environment = {values['environment']!r}",
        f"c.JupyterHub.db_url = {values['db']!r}",
        f"c.JupyterHub.cookie_secret_file = {values['cookie']!r}",
        "c.JupyterHub.cleanup_servers = True",
        "c.JupyterHub.cleanup_proxy = True",
    ]
    return "\n".join(lines) + "\n"


@contextmanager
def jupyterhub(tmp_path: Path, notebooks: Path, *, environment: Mapping[str, str] = {}) -> Iterator[Hub]:  # noqa: B006
    """Start a JupyterHub serving ``notebooks`` and yield it once it runs; stop it (and its servers) afterwards.

    ``environment`` goes to every single-user server (and so to its kernels), on top of
    Jupyter folders of its own under ``tmp_path``.
    """
    reason = missing()
    if reason:
        pytest.skip(reason)
    folder = tmp_path / "hub"
    folder.mkdir()
    port = free_port()
    user_env = {k: v for k, v in isolated_env(tmp_path / "jupyter").items() if k.startswith(("JUPYTER", "XDG_"))}
    (folder / "jupyterhub_config.py").write_text(_config(folder, port, notebooks, {**user_env, **environment}))
    proc = subprocess.Popen(
        [str(SINGLEUSER.with_name("jupyterhub")), "-f", str(folder / "jupyterhub_config.py")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=isolated_env(tmp_path / "jupyter"),
        cwd=folder,
    )
    hub = Hub(f"http://127.0.0.1:{port}/", proc)
    ready, reader = follow_log(proc, READY, hub.log, "hub-log")
    try:
        if not ready.wait(TIMEOUT) or proc.poll() is not None:
            pytest.fail("JupyterHub did not start:\n" + "".join(hub.log))
        yield hub
    finally:
        if proc.poll() is None:
            proc.terminate()  # the hub stops its single-user servers and the proxy (cleanup_* on)
        try:
            proc.wait(TIMEOUT)
        finally:
            reader.join(TIMEOUT)
            assert proc.stderr is not None
            proc.stderr.close()
