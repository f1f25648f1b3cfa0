"""Settings for the notebooks run under nbval: the embedded sandbox, pinned and clicked through.

The quickstart waits for a customer to click Connect. Under nbval nobody clicks, so the
embedded sandbox's clock is pinned (reproducible output) and `wait()` walks through the
sandbox's authorize page for its first customer, exactly as a browser would.
"""

from __future__ import annotations

import os


def pytest_configure() -> None:
    os.environ.setdefault("CONNECT_NOTEBOOK_SANDBOX_NOW", "2026-11-01T12:00:00+00:00")
    os.environ.setdefault("CONNECT_NOTEBOOK_SANDBOX_AUTOCONNECT", "first")
