"""`_client`: one connected account's view of Twilio's REST API, over httpx.

``APIClient`` authenticates as (customer AccountSid, owner's Auth Token), maps
Twilio's JSON errors to ``APIError`` and its subclasses, and retries what is
worth retrying: 429, 500/502/503/504, connection errors, and bodies that arrive
cut or undecodable. Retrying lives here rather than in an ``httpx`` transport
because "undecodable" is only known once the caller has tried to decode the
page, and a page must be retried, never skipped or duplicated.

Paging trusts the server's next-page links only so far (issue 10): a link is
followed only on the origin its listing started from, never twice in one
listing, and never past ``MAX_PAGES``. Whatever the server writes into an error
reaches an exception only through ``redact``, and no exception raised here
chains an httpx error, whose ``.request`` holds the Authorization header.
"""

from __future__ import annotations

import email.utils
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

import httpx

from ._config import ConnectApp, check_sid
from ._exceptions import (
    APIError,
    AuthorizationRevoked,
    NotFoundError,
    PagingError,
    RateLimitError,
    ServerError,
    TransportError,
)
from ._redact import redact
from ._retry import RetryPolicy, Throttle
from ._version import __version__

__all__ = ["LoadStats", "API_URL_FIELDS", "MAX_PAGES", "NO_CREDENTIALS_URL_FIELDS", "APIClient"]

log = logging.getLogger("connect_notebook")
T = TypeVar("T")
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

MAX_PAGES = 20_000
"""Hard cap on the pages of one listing: 20 million records at 1,000 a page.

A load's windows are planned at a few hundred pages at most, and no day of any
account comes near this; a listing that gets here has links that never end.
"""

# The ConnectApp URLs that are APIs, and so get the owner's credentials; a listing must start on one
# of them and stay on its origin. Every ``*_url`` field of ConnectApp is in exactly one of these two
# lists (a test checks), so a URL the app gains later (Insights, BulkExport) is trusted only on purpose.
API_URL_FIELDS = ("api_url", "monitor_url", "insights_url", "bulkexports_url")
NO_CREDENTIALS_URL_FIELDS = ("authorize_base_url",)  # the authorize page a browser opens, never fetched here
# BulkExport (issue 13, not built yet) answers a day's file with a redirect to a signed download URL on
# another host. That URL must be fetched *without* credentials (a plain request, not through this client):
# httpx drops auth on cross-origin redirects, but a URL read from a body and fetched here would not be.

_DEFAULT_PORTS = {"http": 80, "https": 443}
_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # RFC 9110's 1*DIGIT, and a fraction tolerated
Origin = tuple[str, str, int]


def _parse_retry_after(value: str | None, now: datetime) -> float | None:
    """The seconds a ``Retry-After`` value asks to wait, or None to ignore it (RFC 9110 §10.2.3).

    ``delay-seconds`` (a fraction is tolerated), or an HTTP-date in any of its three
    forms (IMF-fixdate, obsolete RFC 850, asctime) with whatever zone text; a date in
    the past means 0. Anything else (negative, ``nan``, ``inf``, garbage, a date that
    does not exist) is ignored, never raised: the retry then backs off as if the
    header were absent. The result is finite and not negative; ``RetryPolicy`` caps it.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):  # ASCII digits only: float() would also take "nan", "1e9", "１２"
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    when = _http_date(text)
    return None if when is None else max(0.0, (when - now).total_seconds())


def _http_date(text: str) -> datetime | None:
    """An HTTP-date (``Retry-After``, ``Date``) in UTC, in any of its three forms; None if it is none."""
    try:
        when = email.utils.parsedate_to_datetime(text)
    except Exception:  # noqa: BLE001 - a stdlib parser fed the server's text: any failure means "not a date"
        return None
    if when.tzinfo is None:
        # "-0000", no zone, or one the parser does not know: HTTP dates are GMT (RFC 9110 §5.6.7).
        return when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _retry_after(response: httpx.Response) -> float | None:
    return _parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))


def _origin(url: httpx.URL) -> Origin | None:
    """(scheme, host, port) of an absolute http(s) URL, default ports made explicit."""
    if url.scheme not in _DEFAULT_PORTS or not url.host:
        return None
    return url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme]


def _host(origin: Origin) -> str:
    """How a message names an origin: its host, and its port unless the scheme's default."""
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return host if port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass
class LoadStats:
    """What one load asked for and got, counted from every thread (``sync``'s summary reads it)."""

    requests: int = 0  # every try, retries included
    retries: int = 0
    days_fetched: int = 0  # account-days asked of Twilio
    days_cached: int = 0  # account-days read from the cache
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        """Add to the named counters."""
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)


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
    stats
        Counts every request and retry, when given.
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
        stats: LoadStats | None = None,
    ) -> None:
        self.app = app
        self.stats = stats
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
            "verify": any(getattr(app, name).startswith("https:") for name in API_URL_FIELDS),
        }
        self._server_date: str | None = None  # the Date of the API's latest answer: its clock
        self._client: httpx.Client | None = None
        self._bare: httpx.Client | None = None  # no credentials: for signed links (BulkExport's files)
        self._client_lock = threading.Lock()
        configured = (getattr(app, name, None) for name in API_URL_FIELDS)
        self._api_origins = {_origin(httpx.URL(u)) for u in configured if u} - {None}

    @property
    def _http(self) -> httpx.Client:
        """The connection pool, made on first use: a load served from its cache never needs one."""
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(**self._options)
            return self._client

    @property
    def _anonymous(self) -> httpx.Client:
        """A second pool that sends no credentials, for links that are their own credential."""
        with self._client_lock:
            if self._bare is None:
                options = {k: v for k, v in self._options.items() if k != "auth"}
                self._bare = httpx.Client(**{**options, "verify": True})
            return self._bare

    def close(self) -> None:
        """Close the connection pools."""
        with self._client_lock:
            for pool in (self._client, self._bare):
                if pool is not None:
                    pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def now(self) -> datetime:
        """The API's clock: the ``Date`` of its latest answer, or ours before any (or without one).

        A list's retention counts back from the server's today. On Twilio the two clocks
        agree to seconds; a sandbox pinned to another day (``--now``) says so in ``Date``,
        and a cut-off from our own clock would then skip days that the list still serves.
        """
        date = self._server_date
        when = None if date is None else _http_date(date)
        return datetime.now(UTC) if when is None else when

    def api(self, path: str, *, account_sid: str | None = None) -> str:
        """Absolute URL of a 2010 API path under an account (``Calls.json``): this one, or one of its family."""
        return f"{self.app.api_url}/2010-04-01/Accounts/{account_sid or self.account_sid}/{path}"

    def absolute(self, uri: str) -> str:
        """Absolute URL of a ``*_page_uri`` (relative to the API's host) or an absolute URL."""
        return uri if uri[:8].lower().startswith(("http://", "https://")) else f"{self.app.api_url}{uri}"

    def fetch(
        self,
        url: str,
        decode: Callable[[bytes], T],
        *,
        what: str = "page",
        form: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        credentials: bool = True,
        once: bool = False,
    ) -> T:
        """GET ``url`` (POST ``form`` if given) and return ``decode(body)``, retrying until it works.

        ``decode`` raising ``ValueError`` (or any exception) counts as an
        undecodable body and is retried like a dropped connection. ``ok`` are the
        statuses that carry the answer (201 for a creation, 307 for BulkExport's
        redirect). ``credentials=False`` sends none: for a signed link on another
        host, such as a BulkExport file's, which must not see the Auth Token.
        ``once``: one try, no retry, for a request that is not safe to repeat (the
        caller checks what became of it first).
        """
        # The last failure: our APIError, or a description of an httpx error or undecodable body. The
        # exceptions themselves are not kept: an httpx error's .request holds the Authorization header.
        last: APIError | AuthorizationRevoked | str = "no error recorded"
        attempts = 1 if once else self.retry.attempts
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            if self.stats is not None:
                self.stats.add(requests=1, retries=int(attempt > 1))
            try:
                with self.throttle or _NO_THROTTLE:
                    http = self._http if credentials else self._anonymous
                    if form is None:
                        response = http.get(url)
                    else:  # retried too: see each caller for why posting twice does no harm
                        response = http.post(url, data=form)
                    body = response.read()
            except httpx.TransportError as exc:
                last = self._describe(exc)
            else:
                if credentials:
                    self._server_date = response.headers.get("Date", self._server_date)
                if response.status_code in ok:
                    try:
                        result = decode(body)
                    except Exception as exc:  # noqa: BLE001 - any decode failure means a bad body, worth a retry
                        last = f"undecodable body ({len(body)} bytes): {self._describe(exc)}"
                    else:
                        if self.throttle:
                            self.throttle.succeeded()
                        return result
                elif response.status_code not in _RETRY_STATUSES:
                    raise self._error(response, url)
                else:
                    retry_after = _retry_after(response)
                    if response.status_code == 429 and self.throttle:
                        self.throttle.rate_limited()
                    last = self._error(response, url)
            if attempt < attempts:
                delay = self.retry.delay(attempt, retry_after)
                log.info(
                    "retrying %s %s after %s (attempt %d, waiting %.2fs)",
                    what,
                    self._shown(url),
                    last,
                    attempt,
                    delay,
                )
                self.retry.sleep(delay)
        raise self._exhausted(url, what, last, attempts)

    def get_json(self, url: str) -> Any:
        """GET a JSON document (an Account, one record) with the same retries."""
        import json

        return self.fetch(url, json.loads, what="resource")

    def iter_pages(
        self,
        url: str,
        decode: Callable[[bytes], tuple[T, str | None]],
        *,
        what: str = "page",
        max_pages: int = MAX_PAGES,
    ) -> Iterator[T]:
        """Follow a list's next-page links; ``decode`` returns (records, next link or None).

        ``url`` must be on one of the app's API URLs (``ValueError`` otherwise, before
        any request). Each link is checked before it is fetched, and ``PagingError`` is
        raised instead of a request when it points at another origin than ``url``'s
        (the credentials would go there), when it repeats a page of this listing (a
        self-link or a cycle), or when the listing would pass ``max_pages`` pages.
        """
        start = httpx.URL(url)
        origin = _origin(start)
        if origin is None or origin not in self._api_origins:
            msg = (
                f"iter_pages must start on one of the app's API URLs ({', '.join(API_URL_FIELDS)}), "
                f"not on {redact(_host(origin)) if origin else 'a URL without an http(s) host'}: "
                "build the URL with APIClient.api() or from the app's URLs"
            )
            raise ValueError(msg)
        followed = {str(start)}
        next_url, pages = url, 0
        while True:
            records, link = self.fetch(next_url, decode, what=what)
            pages += 1
            yield records
            if not link:
                return
            next_url = self._next_page(link, origin, followed, pages, max_pages, what)

    def _next_page(self, link: str, origin: Origin, followed: set[str], pages: int, max_pages: int, what: str) -> str:
        """The absolute URL of ``link`` if it may be fetched for this listing, else ``PagingError``."""
        where = f"page {pages:,} of a listing ({what})"
        absolute = self.absolute(link)
        try:
            target = httpx.URL(absolute)
        except (httpx.InvalidURL, ValueError, TypeError):
            target = None
        target_origin = _origin(target) if target is not None else None
        if target is None or target_origin is None:
            msg = (
                f"{where} links to something that is not a valid URL, so the listing stops there; "
                f"the server at {_host(origin)} is misbehaving: check the app's {' and '.join(API_URL_FIELDS)}"
            )
            raise PagingError(msg)
        if target_origin != origin or target.userinfo:
            # Named by host only: the rest of the link may carry anything, secrets included.
            msg = (
                f"{where} links to {redact(_host(target_origin))}"
                + (" with a user name" if target.userinfo and target_origin == origin else "")
                + f", not to {_host(origin)} where the listing started; it was not followed, because "
                "that would send the owner's credentials there. The server is misbehaving: check that the "
                f"app's {' and '.join(API_URL_FIELDS)} point at Twilio (or the sandbox)"
            )
            raise PagingError(msg)
        key = str(target)
        if key in followed:
            msg = (
                f"{where} links back to a page already fetched in this listing, so the server's paging "
                "loops; the listing stops here instead of fetching the same pages forever. Try again later"
            )
            raise PagingError(msg)
        if pages >= max_pages:
            msg = (
                f"{where} links to another page, but a listing of more than {max_pages:,} pages is more than "
                "any day of any account holds, so its links never end; the listing stops here. "
                "Load a shorter range, and report the server if it happens again"
            )
            raise PagingError(msg)
        followed.add(key)
        return absolute

    # -- errors --

    def _error(self, response: httpx.Response, url: str) -> APIError | AuthorizationRevoked:
        body = _error_body(response)
        status = response.status_code
        code = body.get("code") if isinstance(body.get("code"), int) else None
        # The server's words, masked: a server that echoes the request would otherwise put the token here.
        api_message = redact(body["message"], self.app.auth_token) if isinstance(body.get("message"), str) else None
        more_info = redact(body["more_info"], self.app.auth_token) if isinstance(body.get("more_info"), str) else None
        url = self._shown(url)
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

    def _exhausted(self, url: str, what: str, last: APIError | AuthorizationRevoked | str, tries: int) -> Exception:
        if isinstance(last, str):
            msg = f"no usable answer for {what} {self._shown(url)} after {tries} tries: {last}"
            return TransportError(msg)  # the httpx error only described (in ``last``), never chained
        last.args = (f"{last.args[0]} (still failing after {tries} tries of this {what})",)
        return last

    def _describe(self, exc: BaseException) -> str:
        """An exception as a message names it: its type and its text, masked."""
        text = redact(str(exc), self.app.auth_token)
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

    def _shown(self, url: str) -> str:
        """``url`` as a message shows it: whole (its AccountSid included), unless the token is in it.

        The URLs fetched are the app's own, or links on their origin; only a misbehaving
        server puts the token into one, and then the URL is masked like any server text.
        """
        masked = redact(url, self.app.auth_token)
        return url if masked == redact(url) else masked


class _NoThrottle:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


_NO_THROTTLE = _NoThrottle()
