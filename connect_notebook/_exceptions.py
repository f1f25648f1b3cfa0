"""`_exceptions`: everything connect_notebook raises on purpose.

::

    ConnectNotebookError          base class: the outside world (Twilio, the network, config) failed
    ├── ConfigError               settings or credentials missing or malformed; raised before any I/O
    ├── AuthError                 the Connect flow did not give a usable account
    │   ├── CallbackTimeout       no customer connected within the wait
    │   ├── ConnectDeclined       the customer declined on the authorize page
    │   └── AuthorizationRevoked  401 / 20003 for a customer: it has not authorized, or has revoked, the app
    ├── APIError                  Twilio answered with an error (.status_code .code .message .more_info .url)
    │   ├── NotFoundError         404
    │   ├── RateLimitError        429 still answered after every retry (.retry_after)
    │   └── ServerError           5xx still answered after every retry
    ├── TransportError            no usable answer (connection failures, cut or undecodable bodies)
    │                             after every retry; the httpx error is described, not chained
    ├── PagingError               a listing's next-page links leave its origin, repeat, or never end
    ├── BulkExportError           older history cannot come from BulkExport (region, Connect, quota, files)
    └── SchemaError               a payload does not fit the schema a loader expects

No exception here chains an httpx error (``__cause__`` / ``__context__``): its
``.request`` holds the Authorization header. Server text in a message is masked
with ``_redact.redact``.

One warning, not an error: ``InsightsNotEnabledWarning`` (a ``UserWarning``), when
an account has not turned on Voice Insights Advanced Features and its call
summaries are left out of a load.

Misuse of the API (starting a server twice, bad argument types or values)
raises ``RuntimeError`` / ``ValueError`` / ``TypeError`` instead, so that catching
``ConnectNotebookError`` never hides a bug.
"""

from __future__ import annotations

import traceback
from datetime import date

__all__ = [
    "APIError",
    "AuthError",
    "AuthorizationRevoked",
    "BulkExportError",
    "CallbackTimeout",
    "ConfigError",
    "ConnectDeclined",
    "ConnectNotebookError",
    "InsightsNotEnabledWarning",
    "NotFoundError",
    "PagingError",
    "RateLimitError",
    "SchemaError",
    "ServerError",
    "TransportError",
]


class ConnectNotebookError(Exception):
    """Base class for every error connect_notebook raises on purpose.

    In IPython it prints as its message alone: the message says what happened and
    what to do, and the frames inside the package would only bury it. ``%tb``
    right after shows the full traceback (IPython's ``_render_traceback_`` hook).
    """

    _shown_short = False

    def _render_traceback_(self) -> list[str]:
        """IPython's hook: the message first time, the whole traceback when shown again (``%tb``)."""
        if not self._shown_short:
            self._shown_short = True
            return [f"{type(self).__name__}: {self}", "(connect_notebook: run %tb for the full traceback)"]
        lines = traceback.format_exception(type(self), self, self.__traceback__)
        return "".join(lines).rstrip("\n").split("\n")


class ConfigError(ConnectNotebookError):
    """Raised when settings or credentials are missing or malformed, before any I/O."""


class AuthError(ConnectNotebookError):
    """Raised when the Connect flow did not give a usable connected account."""


class CallbackTimeout(AuthError):
    """Raised by ``ConnectButton.wait()`` when no customer connected in time."""


class ConnectDeclined(AuthError):
    """Raised by ``ConnectButton.wait()`` when the customer declined on Twilio's authorize page."""


class AuthorizationRevoked(AuthError):
    """Raised when Twilio refuses the owner's token for a customer (401 / 20003).

    The customer has not authorized the Connect App, or has revoked it; the
    message says so and names both, and the next step is to connect again.
    """

    def __init__(self, message: str, *, account_sid: str, connect_app_sid: str | None) -> None:
        super().__init__(message)
        self.account_sid = account_sid
        self.connect_app_sid = connect_app_sid


class APIError(ConnectNotebookError):
    """Raised when Twilio answers a request with an error status.

    Carries the HTTP ``status_code`` and Twilio's ``code``, ``message`` and
    ``more_info``, and the ``url`` that was requested (never the credentials).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: int | None = None,
        api_message: str | None = None,
        more_info: str | None = None,
        url: str = "",
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = api_message if api_message is not None else message
        self.more_info = more_info
        self.url = url


class NotFoundError(APIError):
    """Raised on 404: the account or resource does not exist (or is not visible to these credentials)."""


class RateLimitError(APIError):
    """Raised when Twilio still answers 429 / 20429 after every retry; ``retry_after`` is its last hint."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(APIError):
    """Raised when Twilio still answers 5xx after every retry."""


class TransportError(ConnectNotebookError):
    """Raised when no usable answer arrived after every retry: connection errors, cut or undecodable bodies.

    The httpx error is named in the message (type and masked text), never chained:
    its ``.request`` carries the Authorization header.
    """


class PagingError(ConnectNotebookError):
    """Raised when a listing's next-page link cannot be followed safely.

    The link points at another origin than the listing's (the credentials would go
    there), repeats a page already fetched (a loop), or the listing passes the hard
    cap on pages. No request is sent for the link; the message names its host only.
    """


class BulkExportError(ConnectNotebookError):
    """Raised when history older than the list APIs serve cannot be read from BulkExport.

    The message says why and what to do: the account is not in Twilio's US1 region
    (BulkExport is US1 only), Twilio refused the Connect App's credentials, the
    family's 366 days a UTC day are spent (run again after midnight UTC: the days
    exported so far are cached, and kept by Twilio for 7 days), a job failed, or a
    file was removed. ``listed_from`` is the oldest day the list API still serves,
    so a load from there needs no BulkExport.
    """

    def __init__(self, message: str, *, listed_from: date | None = None) -> None:
        super().__init__(message)
        self.listed_from = listed_from


class SchemaError(ConnectNotebookError):
    """Raised when a payload does not fit the schema a loader expects; the message names the field."""


class InsightsNotEnabledWarning(UserWarning):
    """Warned when Twilio refuses an account's call summaries: Voice Insights Advanced Features are off.

    ``load_call_summaries`` leaves that account out (its frame has no rows for it)
    instead of failing, so a report with other sections still runs. Silence it with
    ``warnings.filterwarnings("ignore", category=cn.InsightsNotEnabledWarning)``.
    """
