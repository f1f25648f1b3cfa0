"""`_client`: one connected account's view of Twilio's REST API, over httpx.

``APIClient`` authenticates as (customer AccountSid, owner's Auth Token), maps
Twilio's JSON errors to ``APIError`` and its subclasses, and retries what is
worth retrying: 429, 500/502/503/504, connection errors, and bodies that arrive
cut or undecodable. Retrying lives here rather than in an ``httpx`` transport
because "undecodable" is only known once the caller has tried to decode the
page, and a page must be retried, never skipped or duplicated.
"""

from __future__ import annotations

import email.utils
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

import httpx

from ._config import ConnectApp, check_sid
from ._exceptions import (
    APIError,
    AuthorizationRevoked,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
)
from ._retry import RetryPolicy, Throttle
from ._version import __version__

__all__ = ["APIClient"]

log = logging.getLogger("connect_notebook")
T = TypeVar("T")
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class _Undecodable(Exception):
    """A 200 whose body could not be decoded (cut short, not JSON): worth another try."""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if "," in value else None
        return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when else None


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class APIClient:
    """Twilio's REST and Monitor APIs as one connected account, with retries.

    Parameters
    ----------
    app
        The Connect App whose owner token authenticates the requests.
    account_sid
        The connected customer's AccountSid (or the owner's own).
    retry
        The retry policy; the default retries 7 times over about a minute at most.
    throttle
        Shared limit on requests in flight (one per load); None for no limit.
    transport
        An httpx transport, for the rare failure the sandbox cannot produce.
    """

    def __init__(
        self,
        app: ConnectApp,
        account_sid: str,
        *,
        retry: RetryPolicy | None = None,
        throttle: Throttle | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.app = app
        self.account_sid = check_sid(account_sid, "AC", "account_sid")
        self.retry = retry or RetryPolicy()
        self.throttle = throttle
        self._options: dict[str, Any] = {
            "auth": (account_sid, app.auth_token),
            "timeout": timeout,
            "headers": {"Accept": "application/json", "User-Agent": f"connect_notebook/{__version__}"},
            "limits": httpx.Limits(max_connections=64, max_keepalive_connections=64),
            "transport": transport,
            # Loading CA certificates costs tens of milliseconds: only when a URL is https.
            "verify": any(u.startswith("https:") for u in (app.api_url, app.monitor_url)),
        }
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    @property
    def _http(self) -> httpx.Client:
        """The connection pool, made on first use: a load served from its cache never needs one."""
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(**self._options)
            return self._client

    def close(self) -> None:
        """Close the connection pool."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def api(self, path: str, *, account_sid: str | None = None) -> str:
        """Absolute URL of a 2010 API path under an account (``Calls.json``): this one, or one of its family."""
        return f"{self.app.api_url}/2010-04-01/Accounts/{account_sid or self.account_sid}/{path}"

    def absolute(self, uri: str) -> str:
        """Absolute URL of a ``*_page_uri`` (relative to the API's host) or an absolute URL."""
        return uri if uri.startswith(("http://", "https://")) else f"{self.app.api_url}{uri}"

    def fetch(
        self, url: str, decode: Callable[[bytes], T], *, what: str = "page", form: dict[str, str] | None = None
    ) -> T:
        """GET ``url`` (POST ``form`` if given) and return ``decode(body)``, retrying until it works.

        ``decode`` raising ``ValueError`` (or any exception) counts as an
        undecodable body and is retried like a dropped connection.
        """
        last: Exception | None = None
        for attempt in range(1, self.retry.attempts + 1):
            retry_after: float | None = None
            try:
                with self.throttle or _NO_THROTTLE:
                    if form is None:
                        response = self._http.get(url)
                    else:  # only idempotent updates are posted, so they may be retried too
                        response = self._http.post(url, data=form)
                    body = response.read()
                if response.status_code == 200:
                    try:
                        result = decode(body)
                    except Exception as exc:  # noqa: BLE001 - any decode failure means a bad body
                        msg = f"undecodable body ({len(body)} bytes): {exc}"
                        raise _Undecodable(msg) from exc
                    if self.throttle:
                        self.throttle.succeeded()
                    return result
                if response.status_code not in _RETRY_STATUSES:
                    raise self._error(response, url)
                retry_after = _retry_after(response)
                if response.status_code == 429 and self.throttle:
                    self.throttle.rate_limited()
                last = self._error(response, url)
            except httpx.TransportError as exc:
                last = exc
            except _Undecodable as exc:
                last = exc
            if attempt < self.retry.attempts:
                delay = self.retry.delay(attempt, retry_after)
                log.info(
                    "retrying %s %s after %s (attempt %d, waiting %.2fs)",
                    what,
                    url,
                    _describe(last),
                    attempt,
                    delay,
                )
                self.retry.sleep(delay)
        raise self._exhausted(url, what, last)

    def get_json(self, url: str) -> Any:
        """GET a JSON document (an Account, one record) with the same retries."""
        import json

        return self.fetch(url, json.loads, what="resource")

    def iter_pages(
        self, url: str, decode: Callable[[bytes], tuple[T, str | None]], *, what: str = "page"
    ) -> Iterator[T]:
        """Follow a list's next-page links; ``decode`` returns (records, next link or None)."""
        next_url: str | None = url
        while next_url:
            records, link = self.fetch(next_url, decode, what=what)
            yield records
            next_url = self.absolute(link) if link else None

    # -- errors --

    def _error(self, response: httpx.Response, url: str) -> APIError | AuthorizationRevoked:
        body = _error_body(response)
        status = response.status_code
        code = body.get("code") if isinstance(body.get("code"), int) else None
        api_message = body.get("message") if isinstance(body.get("message"), str) else None
        more_info = body.get("more_info") if isinstance(body.get("more_info"), str) else None
        if status == 401 and self.account_sid != self.app.account_sid:
            msg = (
                f"Twilio refused the owner's Auth Token for account {self.account_sid} "
                f"({status} / {code or 20003}): that account has not authorized Connect App "
                f"{self.app.connect_app_sid}, or has revoked it, or it is not the AccountSid the app received "
                "(on Twilio that is the app's own subaccount, not the customer's main account). "
                "Connect it again and re-run."
            )
            return AuthorizationRevoked(msg, account_sid=self.account_sid, connect_app_sid=self.app.connect_app_sid)
        if status == 401:
            msg = (
                f"Twilio refused the owner's credentials for {self.account_sid} ({status} / {code}): "
                "check the AccountSid and Auth Token of the Connect App's owner"
            )
        else:
            msg = f"Twilio answered {status}" + (f" / {code}" if code else "") + f" for {url}"
            if api_message:
                msg += f": {api_message}"
        kwargs: dict[str, Any] = {
            "status_code": status,
            "code": code,
            "api_message": api_message,
            "more_info": more_info,
            "url": url,
        }
        if status == 404:
            return NotFoundError(msg, **kwargs)
        if status == 429:
            return RateLimitError(msg, retry_after=_retry_after(response), **kwargs)
        if status >= 500:
            return ServerError(msg, **kwargs)
        return APIError(msg, **kwargs)

    def _exhausted(self, url: str, what: str, last: Exception | None) -> Exception:
        tries = self.retry.attempts
        if isinstance(last, APIError):
            last.args = (f"{last.args[0]} (still failing after {tries} tries of this {what})",)
            return last
        msg = f"no usable answer for {what} {url} after {tries} tries: {_describe(last)}"
        error = TransportError(msg)
        error.__cause__ = last
        return error


class _NoThrottle:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


_NO_THROTTLE = _NoThrottle()


def _describe(exc: Exception | None) -> str:
    if exc is None:
        return "no error recorded"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
