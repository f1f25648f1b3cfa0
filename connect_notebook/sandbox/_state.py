"""`sandbox._state`: the sandbox's world: accounts, the Connect App and who authorized it.

Handlers and the ``Sandbox`` object share one ``SandboxState``; mutations take
its lock, because ``Sandbox.authorize()`` runs on the caller's thread while
handlers run on the server's.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import tornado.httpclient

from .._signature import compute_signature
from ._data import Account, AccountData, Timeline, day_start, make_accounts
from ._faults import FaultInjector, Faults
from ._sids import plain_sid

__all__ = ["PERMISSIONS", "ConnectApp", "DeauthorizeResult", "SandboxState"]

log = logging.getLogger("connect_notebook.sandbox")
PERMISSIONS = ("get-all", "post-all")


@dataclass(frozen=True)
class ConnectApp:
    """The owner's Connect App, with the fields of Twilio's ConnectApp resource."""

    sid: str
    account_sid: str
    friendly_name: str = "Connect Notebook"
    company_name: str = "Connect Notebook Analytics"
    description: str = "Reads your call and message logs to build reports in Jupyter."
    homepage_url: str = "https://connect-notebook.example.com/"
    authorize_redirect_url: str | None = None
    deauthorize_callback_url: str | None = None
    deauthorize_callback_method: str = "POST"
    permissions: tuple[str, ...] = ("get-all",)

    def to_json(self) -> dict[str, Any]:
        """Render in the field order of Twilio's connect_app schema."""
        return {
            "account_sid": self.account_sid,
            "authorize_redirect_url": self.authorize_redirect_url,
            "company_name": self.company_name,
            "deauthorize_callback_method": self.deauthorize_callback_method,
            "deauthorize_callback_url": self.deauthorize_callback_url,
            "description": self.description,
            "friendly_name": self.friendly_name,
            "homepage_url": self.homepage_url,
            "permissions": list(self.permissions),
            "sid": self.sid,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/ConnectApps/{self.sid}.json",
        }


@dataclass(frozen=True)
class DeauthorizeResult:
    """What happened when the sandbox told the app that a customer revoked it."""

    account_sid: str
    callback_url: str | None
    status: int | None = None
    error: str | None = None

    @property
    def delivered(self) -> bool:
        """Whether the callback answered with a 2xx status."""
        return self.status is not None and 200 <= self.status < 300


@dataclass
class SandboxState:
    """Everything the sandbox's handlers read and change."""

    seed: int
    timeline: Timeline
    accounts: list[Account]
    connect_app: ConnectApp
    initial_app: ConnectApp
    faults: FaultInjector = field(default_factory=FaultInjector)
    authorizations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)  # API requests per account, now
    lock: threading.RLock = field(default_factory=threading.RLock)
    _data: dict[str, AccountData] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        *,
        seed: int,
        customers: int,
        calls: int,
        messages: int,
        days: int,
        now: datetime,
        faults: Faults | None,
        app_fields: dict[str, Any],
    ) -> SandboxState:
        """Build the deterministic world for one seed and set of options."""
        now_epoch = int(now.astimezone(UTC).timestamp())
        timeline = Timeline(now=now_epoch, days=days)
        accounts = make_accounts(seed, customers, calls, messages, day_start(timeline.first_day))
        app = ConnectApp(sid=plain_sid("CN", seed, "connect-app"), account_sid=accounts[0].sid)
        app = replace(app, **app_fields)
        return cls(
            seed=seed,
            timeline=timeline,
            accounts=accounts,
            connect_app=app,
            initial_app=app,
            faults=FaultInjector(faults or Faults()),
        )

    @property
    def owner(self) -> Account:
        """The account that owns the Connect App (the analyst's company)."""
        return self.accounts[0]

    @property
    def customers(self) -> list[Account]:
        """The accounts that can authorize the Connect App."""
        return self.accounts[1:]

    @property
    def owner_auth_token(self) -> str:
        """The owner's Auth Token, derived from the seed."""
        return hashlib.blake2b(f"auth-token:{self.seed}".encode(), digest_size=16).hexdigest()

    def account(self, sid: str) -> Account | None:
        """Return the account with this SID, if the sandbox has it."""
        return next((a for a in self.accounts if a.sid == sid), None)

    def data(self, sid: str) -> AccountData:
        """Return the (lazily generated) history of an account."""
        with self.lock:
            if sid not in self._data:
                account = self.account(sid)
                if account is None:
                    msg = f"the sandbox has no account {sid}"
                    raise KeyError(msg)
                self._data[sid] = AccountData(self.seed, account, self.timeline)
            return self._data[sid]

    def customer(self, sid: str) -> Account:
        """Return a customer account, or raise ``ValueError`` naming the choices."""
        account = self.account(sid)
        if account is None or account.is_owner:
            choices = ", ".join(a.sid for a in self.customers)
            msg = f"{sid!r} is not a sandbox customer account; choose one of {choices}"
            raise ValueError(msg)
        return account

    # -- the Connect App --

    def update_app(self, **fields: Any) -> ConnectApp:
        """Change Connect App fields (the effect of ``POST ConnectApps/{CN}.json``)."""
        with self.lock:
            self.connect_app = replace(self.connect_app, **fields)
            return self.connect_app

    def authorize(self, sid: str, permissions: tuple[str, ...]) -> None:
        """Record that a customer authorized the Connect App with these permissions."""
        self.customer(sid)
        unknown = [p for p in permissions if p not in PERMISSIONS]
        if unknown or not permissions:
            msg = f"permissions must be a non-empty subset of {PERMISSIONS}, got {permissions!r}"
            raise ValueError(msg)
        with self.lock:
            self.authorizations[sid] = tuple(p for p in PERMISSIONS if p in permissions)

    def revoke(self, sid: str) -> bool:
        """Forget a customer's authorization; return whether there was one."""
        self.customer(sid)
        with self.lock:
            return self.authorizations.pop(sid, None) is not None

    async def notify_deauthorized(self, sid: str, timeout: float = 10.0) -> DeauthorizeResult:
        """Call the app's Deauthorize Callback URL, signed with the owner's Auth Token."""
        app = self.connect_app
        url = app.deauthorize_callback_url
        if not url:
            return DeauthorizeResult(sid, None)
        params = [("AccountSid", sid), ("ConnectAppSid", app.sid)]
        if app.deauthorize_callback_method == "GET":
            url = url + ("&" if urlsplit(url).query else "?") + urlencode(params)
            body, signed = None, []
        else:
            body, signed = urlencode(params), params
        headers = {
            "X-Twilio-Signature": compute_signature(url, signed, self.owner_auth_token),
            "User-Agent": "TwilioProxy/1.1 (connect_notebook sandbox)",
        }
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = tornado.httpclient.HTTPRequest(
            url,
            method=app.deauthorize_callback_method,
            body=body,
            headers=headers,
            connect_timeout=timeout,
            request_timeout=timeout,
            follow_redirects=False,
        )
        client = tornado.httpclient.AsyncHTTPClient()
        try:
            response = await client.fetch(request, raise_error=False)
        except (OSError, tornado.httpclient.HTTPClientError) as exc:  # refused, reset, timed out
            log.warning("deauthorize callback to %s failed: %s", url, exc)
            return DeauthorizeResult(sid, url, None, str(exc))
        if response.code == 599:  # tornado's code for "no HTTP response at all"
            return DeauthorizeResult(sid, url, None, str(response.error))
        return DeauthorizeResult(sid, url, response.code)

    def reset(self) -> None:
        """Back to the state right after start: no authorizations, no faults, first app."""
        with self.lock:
            self.authorizations.clear()
            self.connect_app = self.initial_app
            self.faults.reset()
