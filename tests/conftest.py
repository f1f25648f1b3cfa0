"""Shared fixtures: a real sandbox on a loopback port, and clients for it."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings

from connect_notebook import ConnectApp
from connect_notebook._kernel import app_for_sandbox, swap
from connect_notebook.sandbox import Sandbox

# The sandbox's clock is pinned, so every test sees the same history.
NOW = "2026-11-01T12:00:00+00:00"
SHARED = Path(__file__).resolve().parents[2] / "shared"
SPECS = SHARED / "reference" / "twilio-oai"

# Hypothesis profiles. No deadline anywhere: the machines are shared and noisy, and a
# wall-clock limit is not a verdict. ``full`` is what ``python bench/chaos.py`` runs: the
# chaos properties take their full example budgets (``tests/chaos/figures.py``).
settings.register_profile("quick", deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("full", parent=settings.get_profile("quick"))
settings.load_profile("quick")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--figures",
        metavar="PATH",
        help="write the figures the chaos properties recorded to PATH as JSON (bench/chaos.py reads it)",
    )


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CONNECT_NOTEBOOK_* or TWILIO_* variable leaks into a test from outside."""
    for name in list(os.environ):
        if name.startswith(("CONNECT_NOTEBOOK_", "TWILIO_")):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _fresh_kernel(_clean_environ: None) -> Iterator[None]:
    """Each test gets a kernel of its own, built from the environment when first used (after the test set it).

    The kernel a test used is closed afterwards: its callback server and embedded sandbox stop.
    """
    previous = swap(None)
    yield
    used = swap(previous)
    if used is not None:
        used.close()


@pytest.fixture(scope="session")
def _sandbox_server() -> Iterator[Sandbox]:
    # Calls listed back to each account's creation: the session's tests read whole histories through the list
    # API. The 13-month retention and BulkExport have their own sandboxes (tests/test_loaders_history.py).
    with Sandbox(seed=7, calls_per_customer=2_000, now=NOW, call_retention_days=7320) as sb:
        yield sb


@pytest.fixture
def sandbox(_sandbox_server: Sandbox) -> Sandbox:
    """The session's sandbox (three customers of 2,000 calls each, whole call histories listed), reset."""
    _sandbox_server.reset()
    return _sandbox_server


@pytest.fixture
def customer(sandbox: Sandbox) -> str:
    """The first customer's main account (a dense family of three), authorized with get-all."""
    sid = sandbox.customer_account_sids[0]
    sandbox.authorize(sid)
    return sid


@pytest.fixture
def connected(sandbox: Sandbox, customer: str) -> str:
    """The AccountSid the Connect App received for ``customer``: its Connect subaccount."""
    sid = sandbox.connected_sid(customer)
    assert sid is not None
    return sid


@pytest.fixture
def app(sandbox: Sandbox) -> ConnectApp:
    """The session sandbox's Connect App (owner credentials, sandbox URLs)."""
    return app_for_sandbox(sandbox)


@pytest.fixture
def api(sandbox: Sandbox, connected: str) -> Iterator[httpx.Client]:
    """httpx authenticated as the Connect App for ``customer`` (its Connect subaccount, the owner's token)."""
    with httpx.Client(base_url=sandbox.api_url, auth=(connected, sandbox.owner_auth_token)) as client:
        yield client


@pytest.fixture(scope="session")
def specs_dir() -> Path:
    """Twilio's OpenAPI specs in ../shared (present on our machines and in CI only)."""
    if not SPECS.is_dir():
        pytest.skip(
            f"Twilio's OpenAPI specs are not at {SPECS}: ../shared/ exists on developer "
            "machines and in CI, not in a user's clone"
        )
    return SPECS


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail loudly if a test left a server thread running."""
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("connect_notebook-") and t.is_alive()]
    if leaked:
        session.exitstatus = 1
        print(f"\nleaked server threads: {leaked}")


@pytest.fixture
def browser_context() -> Iterator[Any]:
    """A fresh headless Chromium context (Debian's, via Playwright); skips where Chromium is missing."""
    from browser_support import CHROMIUM, chromium

    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (make test installs it)")
    with chromium() as ctx:
        yield ctx
