"""`_active`: which Connect App loaders use when none is passed.

In order: the app ``%load_ext`` (or ``use_app``) made active; else
``ConnectApp.from_env()`` when the credentials are set; else an embedded sandbox,
started on first use, whose customers are all pre-authorized. This module is the
one place where the client side meets the sandbox.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._config import ENV_VARS, ConnectApp
from ._exceptions import ConfigError

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = [
    "active_app",
    "app_for_sandbox",
    "default_customer",
    "embedded_sandbox",
    "is_embedded_sandbox",
    "notify_revoked",
    "revocation_listeners",
    "use_app",
    "use_sandbox",
]

log = logging.getLogger("connect_notebook")
_lock = threading.Lock()
_active: ConnectApp | None = None
_embedded: Sandbox | None = None
# Called with an AccountSid when Twilio refuses the owner's token for it (the extension's session).
revocation_listeners: list[Callable[[str], object]] = []
# The extension's session.current, while the extension is loaded.
connected_account: Callable[[], Any] | None = None
_CREDENTIALS = (
    "CONNECT_NOTEBOOK_ACCOUNT_SID",
    "CONNECT_NOTEBOOK_AUTH_TOKEN",
    "CONNECT_NOTEBOOK_CONNECT_APP_SID",
)
assert set(_CREDENTIALS) <= {v.name for v in ENV_VARS}


def app_for_sandbox(sandbox: Sandbox) -> ConnectApp:
    """The ConnectApp of a running sandbox (its owner's credentials and its URLs)."""
    return ConnectApp(
        account_sid=sandbox.owner_account_sid,
        auth_token=sandbox.owner_auth_token,
        connect_app_sid=sandbox.connect_app_sid,
        api_url=sandbox.api_url,
        monitor_url=sandbox.monitor_url,
        authorize_base_url=sandbox.url,
    )


def use_app(app: ConnectApp | None) -> None:
    """Make ``app`` the default of every loader (None goes back to the environment / sandbox)."""
    global _active
    with _lock:
        _active = app


def use_sandbox(sandbox: Sandbox | None = None) -> ConnectApp:
    """Make a sandbox the active app: the one given, or the embedded one. Returns its ConnectApp."""
    app = app_for_sandbox(sandbox if sandbox is not None else _embedded_sandbox())
    use_app(app)
    return app


def _embedded_sandbox() -> Sandbox:
    global _embedded
    with _lock:
        if _embedded is None:
            from .sandbox import Sandbox

            # Pinned by CONNECT_NOTEBOOK_SANDBOX_NOW for reproducible runs (CI), else the current time.
            sandbox = Sandbox(now=os.environ.get("CONNECT_NOTEBOOK_SANDBOX_NOW") or None).start()
            for sid in sandbox.customer_account_sids:
                sandbox.authorize(sid)
            log.info("no Twilio credentials are set: using the embedded sandbox at %s", sandbox.url)
            _embedded = sandbox
        return _embedded


def active_app() -> ConnectApp:
    """The app loaders use by default (see the module docstring for the order)."""
    with _lock:
        if _active is not None:
            return _active
    if any(os.environ.get(name) for name in _CREDENTIALS):
        # Half-set credentials are a mistake to report, not a reason to fall back to the sandbox.
        return ConnectApp.from_env()
    return app_for_sandbox(_embedded_sandbox())


def embedded_sandbox() -> Sandbox:
    """The embedded sandbox (started on first use), e.g. to list its customer accounts."""
    return _embedded_sandbox()


def is_embedded_sandbox(app: ConnectApp) -> bool:
    """Whether ``app`` is the embedded sandbox's (so the extension may configure it freely)."""
    with _lock:
        sandbox = _embedded
    return sandbox is not None and app.api_url == sandbox.api_url and app.account_sid == sandbox.owner_account_sid


def notify_revoked(account_sid: str) -> None:
    """Tell listeners that Twilio refused the owner's token for ``account_sid``."""
    for listener in list(revocation_listeners):
        listener(account_sid)


def default_customer() -> str:
    """The account a report uses when none is given.

    The account connected last in this kernel; else, on a sandbox, its first
    customer (pre-authorized there). Raises ``ConfigError`` on a real Twilio app
    with nothing connected, where guessing would be wrong.
    """
    connected = connected_account() if connected_account is not None else None
    if connected is not None:
        return str(connected.sid)
    app = active_app()
    if is_embedded_sandbox(app):
        return _embedded_sandbox().connected_account_sids[0]
    if customers := os.environ.get("CONNECT_NOTEBOOK_SANDBOX_CUSTOMERS"):
        return customers.split(",")[0]
    msg = "pass account='AC…' (a customer that authorized the Connect App); there is no default on real Twilio"
    raise ConfigError(msg)
