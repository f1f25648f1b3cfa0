"""connect_notebook: Twilio Connect inside JupyterLab, with call logs as polars frames.

The public API is re-exported here. Heavy parts (the loaders with polars, the
sandbox with Tornado) are imported lazily, so ``import connect_notebook`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._config import ConnectApp
from ._exceptions import (
    APIError,
    AuthError,
    AuthorizationRevoked,
    BulkExportError,
    CallbackTimeout,
    ConfigError,
    ConnectDeclined,
    ConnectNotebookError,
    InsightsNotEnabledWarning,
    NotFoundError,
    PagingError,
    RateLimitError,
    SchemaError,
    ServerError,
    TransportError,
)
from ._retry import RetryPolicy
from ._version import __version__

if TYPE_CHECKING:
    from datetime import date

    from ._events import EVENTS_SCHEMA, load_events
    from ._frames import ACCOUNTS_SCHEMA, ALERTS_SCHEMA, CALLS_SCHEMA, MESSAGES_SCHEMA, USAGE_SCHEMA
    from ._insights import CALL_SUMMARIES_SCHEMA, load_call_summaries
    from ._kernel import Kernel
    from ._loaders import (
        accounts,
        customer,
        load_alerts,
        load_calls,
        load_messages,
        load_usage,
        scan_calls,
        scan_messages,
    )
    from ._session import ConnectedAccount, Session
    from ._sync import SYNC_SUMMARY_SCHEMA, sync
    from ._widget import ConnectButton
    from .sandbox import Sandbox

__all__ = [
    "ACCOUNTS_SCHEMA",
    "ALERTS_SCHEMA",
    "APIError",
    "AuthError",
    "AuthorizationRevoked",
    "BulkExportError",
    "CALLS_SCHEMA",
    "CALL_SUMMARIES_SCHEMA",
    "CallbackTimeout",
    "ConfigError",
    "ConnectApp",
    "ConnectButton",
    "ConnectDeclined",
    "ConnectNotebookError",
    "ConnectedAccount",
    "EVENTS_SCHEMA",
    "InsightsNotEnabledWarning",
    "MESSAGES_SCHEMA",
    "NotFoundError",
    "PagingError",
    "RateLimitError",
    "RetryPolicy",
    "SYNC_SUMMARY_SCHEMA",
    "Sandbox",
    "SchemaError",
    "ServerError",
    "Session",
    "TransportError",
    "USAGE_SCHEMA",
    "__version__",
    "accounts",
    "active_app",
    "connect_button",
    "connect_pasted",
    "customer",
    "default_customer",
    "default_customers",
    "load_alerts",
    "load_call_summaries",
    "load_calls",
    "load_events",
    "load_ipython_extension",
    "load_messages",
    "load_usage",
    "register_callback",
    "scan_calls",
    "scan_messages",
    "session",
    "sync",
    "today",
    "unload_ipython_extension",
    "use_app",
    "use_sandbox",
]

_LAZY = {
    "Sandbox": "connect_notebook.sandbox",
    "ConnectButton": "connect_notebook._widget",
    "ConnectedAccount": "connect_notebook._session",
    "Session": "connect_notebook._session",
    "CALL_SUMMARIES_SCHEMA": "connect_notebook._insights",
    "load_call_summaries": "connect_notebook._insights",
    "EVENTS_SCHEMA": "connect_notebook._events",
    "load_events": "connect_notebook._events",
    "sync": "connect_notebook._sync",
    "SYNC_SUMMARY_SCHEMA": "connect_notebook._sync",
    **{
        name: "connect_notebook._loaders"
        for name in (
            "accounts",
            "customer",
            "load_alerts",
            "load_calls",
            "load_messages",
            "load_usage",
            "scan_calls",
            "scan_messages",
        )
    },
    **{
        name: "connect_notebook._frames"
        for name in ("ACCOUNTS_SCHEMA", "ALERTS_SCHEMA", "CALLS_SCHEMA", "MESSAGES_SCHEMA", "USAGE_SCHEMA")
    },
}


def _current_kernel() -> Kernel:
    from ._kernel import current  # the callback server's Tornado comes with it: imported on first use

    return current()


def active_app() -> ConnectApp:
    """The app loaders use by default: the one ``%load_ext`` (or ``use_app``) made active, else
    ``ConnectApp.from_env()`` when credentials are set, else the embedded sandbox's."""
    return _current_kernel().active_app()


def use_app(app: ConnectApp | None) -> None:
    """Make ``app`` the default of every loader (None goes back to the environment / sandbox)."""
    _current_kernel().use_app(app)


def use_sandbox(sandbox: Sandbox | None = None) -> ConnectApp:
    """Make a sandbox the active app: the one given, or the embedded one. Returns its ConnectApp."""
    return _current_kernel().use_sandbox(sandbox)


def default_customer() -> str:
    """The account connected last in this kernel; on a sandbox, else its first customer."""
    return _current_kernel().default_customer()


def default_customers() -> list[str]:
    """The accounts connected in this kernel; on a sandbox, else every customer it holds (a portfolio's default)."""
    return _current_kernel().default_customers()


def today(tz: str = "UTC") -> date:
    """The day reports count back from, in ``tz``: the embedded sandbox's (pinned in CI) or the real one."""
    return _current_kernel().today(tz)


def session() -> Session:
    """The kernel's session of connected accounts (starts the callback server if needed)."""
    return _current_kernel().session()


def connect_button(app: ConnectApp | None = None) -> ConnectButton:
    """A Connect button for ``app`` (default: the kernel's app), with a live status line."""
    return _current_kernel().connect_button(app)


def connect_pasted(text: str, app: ConnectApp | None = None) -> ConnectedAccount:
    """Complete a Connect by hand, where no callback can arrive: the address the browser landed on, or the AccountSid.

    The same as pasting it under the Connect button (for front ends that cannot show it).
    """
    return _current_kernel().connect_pasted(text, app)


def register_callback(
    app: ConnectApp | None = None, *, authorize_url: str | None = None, deauthorize_url: str | None = None
) -> dict[str, Any]:
    """Set the Connect App's Authorize and Deauthorize Callback URLs on Twilio (default: this kernel's server).

    This changes the app for every user of it, which is why it is never done silently.
    """
    return _current_kernel().register_callback(app, authorize_url=authorize_url, deauthorize_url=deauthorize_url)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext connect_notebook``: start the kernel's Connect callback server."""
    from ._magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext connect_notebook``: stop the callback server and free its port."""
    from ._magics import unload_ipython_extension as unload

    unload(ipython)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'connect_notebook' has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(module), name)
