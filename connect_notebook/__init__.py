"""connect_notebook: Twilio Connect inside JupyterLab, with call logs as polars frames.

The public API is re-exported here. Heavy parts (the sandbox, and later the
loaders and charts) are imported lazily, so ``import connect_notebook`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._exceptions import ConfigError, ConnectNotebookError
from ._version import __version__

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = ["ConfigError", "ConnectNotebookError", "Sandbox", "__version__"]

_LAZY = {"Sandbox": "connect_notebook.sandbox"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'connect_notebook' has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(module), name)
