"""A Twilio-compatible sandbox: the REST API, Monitor and Connect pages, served locally.

``Sandbox`` serves deterministic synthetic customers on 127.0.0.1 from its own
thread. A customer is a family of accounts (a main account and its subaccounts);
authorizing the Connect App adds the app's Connect subaccount to the family, and
its SID is what the app receives, as on Twilio. Any client that speaks Twilio's
API (ours, twilio-python, curl) can use it: point the client at
``sandbox.api_url`` and authenticate as (that SID, the owner's Auth Token).

This subpackage never imports the client side of connect_notebook.

Examples
--------
>>> from connect_notebook.sandbox import Sandbox
>>> with Sandbox(seed=7, calls_per_customer=2_000) as sb:  # doctest: +SKIP
...     customer = sb.customer_account_sids[0]
...     connected = sb.authorize(customer)      # the Connect subaccount's SID
...     sum(len(sb.calls(sid)) for sid in sb.family(customer))
2000
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import parse_qsl

from .._serving import ServerThread
from ._app import make_app
from ._families import Profile, default_profiles
from ._faults import Faults
from ._formats import day_of
from ._holds import Hold
from ._insights import INSIGHTS_RETENTION_DAYS, rendered, summaries_on
from ._render import call_json, message_json
from ._state import CALL_RETENTION_DAYS, ConnectApp, DeauthorizeResult, SandboxState

__all__ = ["ConnectApp", "DeauthorizeResult", "Faults", "Hold", "Profile", "Sandbox"]

DEFAULT_SEED = 7
DEFAULT_CALLS = 20_000
DEFAULT_DAYS = 90
DEFAULT_CUSTOMERS = 3
MAX_RETENTION_DAYS = 20 * 366  # as old as a customer can be
_MORE_NAMES = ("Bluebell Clinics", "Summit Roofing", "Juniper Legal", "Orbit Pet Care", "Larkspur Realty")


class Sandbox:
    """A local Twilio: REST API, Monitor alerts and the Connect authorize pages.

    Parameters
    ----------
    seed
        Everything (SIDs, tokens, history) derives from it: same seed and options,
        byte-identical responses.
    customers
        How many of the default customers to serve (they differ the way real ones
        do: see ``default_profiles``; past three they repeat under other names), or
        the ``Profile`` of each customer.
    calls_per_customer, messages_per_customer, days
        For the default customers: calls and messages of each family (messages a
        quarter of the calls by default), and the age in days of the young, dense
        one. The owner has a tenth of the calls over ``days``.
    now
        The sandbox's clock: history ends here and calls still running at this
        instant are ``in-progress``. Defaults to the current minute; pin it for
        reproducible reports.
    faults
        Fault injection for the REST API (see ``Faults``).
    call_retention_days
        How many days back from the sandbox's UTC day the calls list still serves
        (395, about 13 months, by default: Twilio's figure is unconfirmed); older
        calls are only in BulkExport. Messages are listed for 400 days, as on Twilio.
    bulkexport_for_connect
        Whether BulkExport serves Connect credentials (True by default; unconfirmed
        for Twilio). False answers them 403 / 20403, as an account-only API would.
    port, host
        Where to listen; port 0 picks a free port.
    **connect_app
        Initial Connect App fields, e.g. ``authorize_redirect_url=``,
        ``deauthorize_callback_url=``, ``permissions=("get-all", "post-all")``.
    """

    def __init__(
        self,
        *,
        seed: int = DEFAULT_SEED,
        customers: int | Sequence[Profile] = DEFAULT_CUSTOMERS,
        calls_per_customer: int = DEFAULT_CALLS,
        messages_per_customer: int | None = None,
        days: int = DEFAULT_DAYS,
        now: datetime | str | None = None,
        faults: Faults | None = None,
        call_retention_days: int = CALL_RETENTION_DAYS,
        bulkexport_for_connect: bool = True,
        export_job_polls: int = 0,
        port: int = 0,
        host: str = "127.0.0.1",
        **connect_app: Any,
    ) -> None:
        if calls_per_customer < 0 or (messages_per_customer or 0) < 0:
            msg = "calls_per_customer and messages_per_customer must be 0 or more"
            raise ValueError(msg)
        if not 1 <= days <= 3660:
            msg = f"days must be between 1 and 3660, got {days}"
            raise ValueError(msg)
        if isinstance(call_retention_days, bool) or not isinstance(call_retention_days, int):
            msg = f"call_retention_days must be a whole number of days, got {call_retention_days!r}"
            raise TypeError(msg)
        if not 7 <= call_retention_days <= MAX_RETENTION_DAYS:
            msg = f"call_retention_days must be between 7 and {MAX_RETENTION_DAYS}, got {call_retention_days}"
            raise ValueError(msg)
        if isinstance(export_job_polls, bool) or not isinstance(export_job_polls, int) or export_job_polls < 0:
            msg = f"export_job_polls must be a whole number, 0 or more, got {export_job_polls!r}"
            raise ValueError(msg)
        profiles = _profiles(customers, calls_per_customer, messages_per_customer, days)
        fixed = {"sid", "account_sid"}  # derived from the seed, not settable
        unknown = (set(connect_app) - set(ConnectApp.__dataclass_fields__)) | (fixed & set(connect_app))
        if unknown:
            msg = f"unknown or fixed Connect App fields: {', '.join(sorted(unknown))}"
            raise TypeError(msg)
        if "permissions" in connect_app:
            connect_app["permissions"] = tuple(connect_app["permissions"])
        self.now = _parse_now(now)
        self.profiles = profiles
        self.state = SandboxState.create(
            seed=seed,
            profiles=profiles,
            owner_calls=max(calls_per_customer // 10, 1) if calls_per_customer else 0,
            owner_days=days,
            now=self.now,
            faults=faults,
            app_fields=connect_app,
            call_retention_days=call_retention_days,
            bulkexport_for_connect=bool(bulkexport_for_connect),
        )
        self.state.export_jobs.polls = export_job_polls
        self._server = ServerThread(make_app(self.state), host=host, port=port, name="connect_notebook-sandbox")

    # -- life cycle --

    def start(self) -> Self:
        """Start serving (binds the port now; ``OSError`` if it is taken)."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port; idempotent."""
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget authorizations, Connect App changes and faults (the data stays)."""
        self.state.reset()

    # -- where it is --

    @property
    def port(self) -> int:
        """The TCP port the sandbox listens on."""
        return self._server.port

    @property
    def url(self) -> str:
        """Base URL of the sandbox's web pages."""
        return f"http://{self._server.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Base URL for the REST API (stands in for ``https://api.twilio.com``)."""
        return self.url

    @property
    def monitor_url(self) -> str:
        """Base URL for Monitor (stands in for ``https://monitor.twilio.com``)."""
        return self.url

    @property
    def call_retention_days(self) -> int:
        """How many days back from the sandbox's UTC day the calls list serves (older calls: BulkExport)."""
        return self.state.call_retention_days

    @property
    def insights_url(self) -> str:
        """Base URL for Voice Insights (stands in for ``https://insights.twilio.com``)."""
        return self.url

    @property
    def bulkexports_url(self) -> str:
        """Base URL for BulkExport (stands in for ``https://bulkexports.twilio.com``)."""
        return self.url

    @property
    def authorize_url(self) -> str:
        """The Connect App's ``…/authorize/CN…`` URL (stands in for www.twilio.com's)."""
        return f"{self.url}/authorize/{self.connect_app_sid}"

    @property
    def deauthorize_page_url(self) -> str:
        """The page where a customer revokes the Connect App."""
        return f"{self.url}/console/authorized-apps"

    # -- who is who --

    @property
    def owner_account_sid(self) -> str:
        """The Connect App owner's AccountSid."""
        return self.state.owner.sid

    @property
    def owner_auth_token(self) -> str:
        """The owner's Auth Token: a sandbox secret, derived from the seed."""
        return self.state.owner_auth_token

    @property
    def connect_app_sid(self) -> str:
        """The SID (``CN…``) of the owner's Connect App."""
        return self.state.connect_app.sid

    @property
    def connect_app(self) -> ConnectApp:
        """The Connect App as it is now."""
        return self.state.connect_app

    @property
    def customer_account_sids(self) -> list[str]:
        """The customers' main accounts: who can authorize the Connect App."""
        return [a.sid for a in self.state.customers]

    @property
    def connected_account_sids(self) -> list[str]:
        """The AccountSids the Connect App holds now: the Connect subaccounts of authorized customers."""
        return [
            sid for c in self.customer_account_sids if c in self.state.authorizations and (sid := self.connected_sid(c))
        ]

    def family(self, customer_sid: str) -> list[str]:
        """A customer's accounts, as ``/Accounts.json`` lists them to the Connect App.

        The main account, its subaccounts (oldest first, closed ones included), then
        the Connect subaccount once the customer has authorized the app. ``customer_sid``
        may be the main account's SID or the Connect subaccount's.
        """
        return [a.sid for a in self.state.family(self.state.customer(customer_sid).sid)]

    def connected_sid(self, customer_sid: str) -> str | None:
        """The Connect subaccount's SID (what the app receives as ``AccountSid``), once one was made."""
        account = self.state.connect_accounts.get(self.state.customer(customer_sid).sid)
        return account.sid if account is not None else None

    @property
    def faults(self) -> Faults:
        """The fault settings in force."""
        return self.state.faults.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self.state.faults.faults = faults

    @property
    def injected(self) -> dict[str, int]:
        """How many faults of each kind were injected so far."""
        return dict(self.state.faults.injected)

    @property
    def requests(self) -> dict[str, int]:
        """How many times each API request (``"GET /2010-04-01/…?…"``) arrived since the last reset."""
        return self.state.faults.seen()

    def fail_next(
        self, n: int = 1, *, status: int = 503, retry_after: float | None = None, kind: str | None = None
    ) -> None:
        """Make the next ``n`` API requests fail (429 / 5xx, or ``kind="reset"`` / ``"truncate"``)."""
        self.state.faults.fail_next(n, status=status, retry_after=retry_after, kind=kind)  # type: ignore[arg-type]

    def hold(self, match: str, *, after: int = 0) -> Hold:
        """Hold the API requests whose request line contains ``match`` (once ``after`` of them passed).

        For tests that act while a client is mid-load: ``with sb.hold(f"{sid}/Calls.json") as h:
        h.arrived(); …`` then leave the block (or ``h.release()``) to let them go on. ``reset()``
        releases every hold.
        """
        return self.state.faults.holds.add(match, after)

    # -- Connect --

    def authorize(self, customer_sid: str, permissions: Sequence[str] = ("get-all",)) -> str:
        """Authorize the Connect App for a customer, as the authorize page would.

        Returns the AccountSid Twilio sends to the app: the app's Connect subaccount
        under the customer's main account (made on the first authorization, then kept).
        """
        return self.state.authorize(customer_sid, tuple(permissions)).sid

    def click_through(self, authorize_url: str, customer_sid: str | None = None, *, timeout: float = 30.0) -> None:
        """Do what a customer's browser does on this sandbox's authorize page: approve, then follow the redirects.

        ``authorize_url`` is a Connect button's link (``…/authorize/CN…?state=…``);
        ``customer_sid`` defaults to the first customer. For headless runs (CI) of
        notebooks, where no person clicks: the redirect reaches the kernel's callback.
        """
        import httpx  # only here: the sandbox serves without it

        page, _, query = authorize_url.partition("?")
        state = dict(parse_qsl(query)).get("state", "")
        customer = customer_sid or self.customer_account_sids[0]
        with httpx.Client(follow_redirects=True, timeout=timeout) as browser:
            browser.post(page, data={"decision": "authorize", "AccountSid": customer, "state": state})

    def deauthorize(self, customer_sid: str, timeout: float = 10.0) -> DeauthorizeResult:
        """Revoke a customer's authorization and call the app's Deauthorize Callback URL.

        ``customer_sid`` is the main account's SID or the Connect subaccount's. Returns
        what the callback answered; a callback that fails or does not answer within
        ``timeout`` seconds gives a result with ``error`` set, not an exception.
        """
        if not self.state.revoke(customer_sid):
            msg = f"{customer_sid} has not authorized Connect App {self.connect_app_sid}"
            raise ValueError(msg)
        if not self._server.running:
            return DeauthorizeResult(
                self.connected_sid(customer_sid) or customer_sid,
                self.state.connect_app.deauthorize_callback_url,
                error="the sandbox is not running, so no callback was sent",
            )
        # The callback's own timeout ends the request; the margin only guards against a stuck loop.
        return self._server.call(self.state.notify_deauthorized(customer_sid, timeout), timeout + 5)

    def update_connect_app(self, **fields: Any) -> ConnectApp:
        """Change Connect App fields directly (as the Console would)."""
        if "permissions" in fields:
            fields["permissions"] = tuple(fields["permissions"])
        return self.state.update_app(**fields)

    # -- ground truth --

    def calls(self, account_sid: str) -> list[dict[str, Any]]:
        """Every call of one account (not its family), newest first, exactly as the API renders it."""
        data = self.state.data(account_sid)
        return [call_json(account_sid, c) for d in data.days_desc for c in data.calls_on(d)]

    def call_summaries(self, account_sid: str) -> list[dict[str, Any]]:
        """Every Voice Insights summary of one account that Insights still keeps, in its calls' order, as rendered."""
        data = self.state.data(account_sid)
        oldest = self.state.now - INSIGHTS_RETENTION_DAYS * 86_400
        return [
            rendered(s, self.url)
            for d in data.days_desc
            if d >= day_of(oldest)
            for s in summaries_on(data, d)
            if s["start_time"] >= oldest
        ]

    def messages(self, account_sid: str) -> list[dict[str, Any]]:
        """Every message of one account (not its family), newest first, exactly as the API renders it."""
        data = self.state.data(account_sid)
        return [message_json(account_sid, m) for d in data.days_desc for m in data.messages_on(d)]

    def __repr__(self) -> str:
        where = self.url if self._server.running else "not running"
        return (
            f"<Sandbox {where} owner={self.owner_account_sid} app={self.connect_app_sid} "
            f"customers={len(self.customer_account_sids)}>"
        )


def _profiles(customers: int | Sequence[Profile], calls: int, messages: int | None, days: int) -> tuple[Profile, ...]:
    """The customers' profiles: given, or the first ``customers`` defaults (repeated past three)."""
    if not isinstance(customers, int):
        profiles = tuple(customers)
        if not profiles or not all(isinstance(p, Profile) for p in profiles):
            msg = "customers must be a number or a non-empty sequence of Profile"
            raise TypeError(msg)
        return profiles
    if not 1 <= customers <= 64:
        msg = f"customers must be between 1 and 64, got {customers}"
        raise ValueError(msg)
    base = tuple(replace(p, messages=messages) for p in default_profiles(calls, days))
    more = (
        replace(
            base[i % len(base)],
            name=_MORE_NAMES[(i - len(base)) % len(_MORE_NAMES)]
            + (f" {(i - len(base)) // len(_MORE_NAMES) + 2}" if i - len(base) >= len(_MORE_NAMES) else ""),
        )
        for i in range(len(base), customers)
    )
    return (*base[:customers], *more)


def _parse_now(now: datetime | str | None) -> datetime:
    if now is None:
        return datetime.now(UTC).replace(second=0, microsecond=0)
    if isinstance(now, str):
        try:
            now = datetime.fromisoformat(now)
        except ValueError:
            msg = f"now must be an ISO 8601 time such as 2026-11-01T00:00:00Z, got {now!r}"
            raise ValueError(msg) from None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC)
