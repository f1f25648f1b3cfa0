"""connect_notebook: Twilio Connect inside JupyterLab, with call logs as polars frames.

The public API is re-exported here. Heavy parts (the loaders with polars, the
sandbox with Tornado) are imported lazily, so ``import connect_notebook`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._active import active_app, default_customer, use_app, use_sandbox
from ._config import ConnectApp
from ._exceptions import (
    APIError,
    AuthError,
    AuthorizationRevoked,
    CallbackTimeout,
    ConfigError,
    ConnectDeclined,
    ConnectNotebookError,
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
    from ._family import accounts, customer
    from ._frames import ACCOUNTS_SCHEMA, ALERTS_SCHEMA, CALLS_SCHEMA, MESSAGES_SCHEMA, USAGE_SCHEMA
    from ._loaders import load_alerts, load_calls, load_messages, load_usage, scan_calls, scan_messages
    from ._magics import connect_button, session
    from ._session import ConnectedAccount, Session
    from ._widget import ConnectButton
    from .sandbox import Sandbox

__all__ = [
    "ACCOUNTS_SCHEMA",
    "ALERTS_SCHEMA",
    "APIError",
    "AuthError",
    "AuthorizationRevoked",
    "CALLS_SCHEMA",
    "CallbackTimeout",
    "ConfigError",
    "ConnectApp",
    "ConnectButton",
    "ConnectDeclined",
    "ConnectNotebookError",
    "ConnectedAccount",
    "MESSAGES_SCHEMA",
    "NotFoundError",
    "PagingError",
    "RateLimitError",
    "RetryPolicy",
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
    "customer",
    "default_customer",
    "load_alerts",
    "load_calls",
    "load_ipython_extension",
    "load_messages",
    "load_usage",
    "scan_calls",
    "scan_messages",
    "session",
    "unload_ipython_extension",
    "use_app",
    "use_sandbox",
]

_LAZY = {
    "Sandbox": "connect_notebook.sandbox",
    "ConnectButton": "connect_notebook._widget",
    "ConnectedAccount": "connect_notebook._session",
    "Session": "connect_notebook._session",
    "accounts": "connect_notebook._family",
    "customer": "connect_notebook._family",
    "connect_button": "connect_notebook._magics",
    "session": "connect_notebook._magics",
    **{
        name: "connect_notebook._loaders"
        for name in (
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
