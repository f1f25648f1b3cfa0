"""Fixtures of the sandbox tests, beyond ``tests/conftest.py``: an owner with a busy debugger log.

Monitor answers for the authenticated account only (``twilio-api-notes.md`` §8.1),
so Connect credentials see the Connect subaccount's own log, which is empty. The
owner's log is the one with alerts to page, filter and validate; the session
sandbox's owner has only a handful, so these tests use an owner with ten times
the traffic (2,000 calls and 500 messages over 90 days, like one busy customer).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connect_notebook.sandbox import Sandbox

NOW = "2026-11-01T12:00:00+00:00"  # the session sandbox's pinned clock


@pytest.fixture(scope="session")
def monitored() -> Iterator[Sandbox]:
    """A sandbox whose owner has 2,000 calls over 90 days (the customers' data is never generated)."""
    with Sandbox(seed=7, calls_per_customer=20_000, customers=1, now=NOW) as sb:
        yield sb


@pytest.fixture(scope="session")
def monitor_api(monitored: Sandbox) -> Iterator[httpx.Client]:
    """httpx as the owner of ``monitored``: the credentials whose Monitor log has alerts."""
    auth = (monitored.owner_account_sid, monitored.owner_auth_token)
    with httpx.Client(base_url=monitored.api_url, auth=auth) as client:
        yield client
