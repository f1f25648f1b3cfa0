"""`_exceptions`: everything connect_notebook raises on purpose.

::

    ConnectNotebookError      base class: the outside world (Twilio, the network, config) failed
    └── ConfigError           settings or credentials missing or malformed; raised before any I/O

Misuse of the API (starting a server twice, bad argument types) raises
``RuntimeError`` / ``ValueError`` / ``TypeError`` instead, so that catching
``ConnectNotebookError`` never hides a bug.
"""

from __future__ import annotations

__all__ = ["ConfigError", "ConnectNotebookError"]


class ConnectNotebookError(Exception):
    """Base class for every error connect_notebook raises on purpose."""


class ConfigError(ConnectNotebookError):
    """Raised when settings or credentials are missing or malformed, before any I/O."""
