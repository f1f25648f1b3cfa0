"""connect_notebook: Twilio Connect inside JupyterLab, with call logs as polars frames.

The public API is re-exported here. Heavy parts (the loaders with polars, the
sandbox with Tornado) are imported lazily, so ``import connect_notebook`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._active import active_app, use_app, use_sandbox
from ._config import ConnectApp
from ._exceptions import (
    APIError,
    AuthError,
    AuthorizationRevoked,
    ConfigError,
    ConnectNotebookError,
    NotFoundError,
    RateLimitError,
    SchemaError,
    ServerError,
    TransportError,
)
from ._retry import RetryPolicy
from ._version import __version__

if TYPE_CHECKING:
    from ._frames import ALERTS_SCHEMA, CALLS_SCHEMA, MESSAGES_SCHEMA, USAGE_SCHEMA
    from ._loaders import load_alerts, load_calls, load_messages, load_usage, scan_calls, scan_messages
    from .sandbox import Sandbox

__all__ = [
    "ALERTS_SCHEMA",
    "APIError",
    "AuthError",
    "AuthorizationRevoked",
    "CALLS_SCHEMA",
    "ConfigError",
    "ConnectApp",
    "ConnectNotebookError",
    "MESSAGES_SCHEMA",
    "NotFoundError",
    "RateLimitError",
    "RetryPolicy",
    "Sandbox",
    "SchemaError",
    "ServerError",
    "TransportError",
    "USAGE_SCHEMA",
    "__version__",
    "active_app",
    "load_alerts",
    "load_calls",
    "load_messages",
    "load_usage",
    "scan_calls",
    "scan_messages",
    "use_app",
    "use_sandbox",
]

_LAZY = {
    "Sandbox": "connect_notebook.sandbox",
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
        for name in ("ALERTS_SCHEMA", "CALLS_SCHEMA", "MESSAGES_SCHEMA", "USAGE_SCHEMA")
    },
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'connect_notebook' has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(module), name)
