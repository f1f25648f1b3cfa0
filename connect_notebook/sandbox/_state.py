"""`sandbox._state`: the sandbox's world: account families, the Connect App and who authorized it.

Handlers and the ``Sandbox`` object share one ``SandboxState``; mutations take
its lock, because ``Sandbox.authorize()`` runs on the caller's thread while
handlers run on the server's.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import tornado.httpclient

from .._signature import compute_signature
from ._activity import expected_volume
from ._bulkexports import DayFiles
from ._data import AccountData
from ._export_jobs import ExportJobs
from ._families import Account, Profile, connect_subaccount, make_world
from ._faults import FaultInjector, Faults
from ._formats import day_of
from ._sids import plain_sid

__all__ = [
    "CALL_RETENTION_DAYS",
    "MESSAGE_RETENTION_DAYS",
    "PERMISSIONS",
    "ConnectApp",
    "DeauthorizeResult",
    "SandboxState",
]

log = logging.getLogger("connect_notebook.sandbox")
PERMISSIONS = ("get-all", "post-all")
# How far back the list APIs serve, in days before the sandbox's UTC day (twilio-api-notes.md §8.3):
# messages 400 days (documented); calls "13 months", an UNCONFIRMED figure, settable per sandbox.
MESSAGE_RETENTION_DAYS = 400
CALL_RETENTION_DAYS = 395


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
    now: int  # the sandbox's clock, epoch seconds
    accounts: list[Account]  # the owner, then each customer's main account and subaccounts
    connect_app: ConnectApp
    initial_app: ConnectApp
    faults: FaultInjector = field(default_factory=FaultInjector)
    authorizations: dict[str, tuple[str, ...]] = field(default_factory=dict)  # main account SID -> permissions
    connect_accounts: dict[str, Account] = field(default_factory=dict)  # main account SID -> Connect subaccount
    in_flight: dict[str, int] = field(default_factory=dict)  # API requests per account, now
    # Every authorization and revocation, in order: (main account SID, "authorized"/"revoked", permissions).
    connect_log: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    export_jobs: ExportJobs = field(default_factory=ExportJobs)  # BulkExport custom jobs
    day_files: DayFiles = field(default_factory=DayFiles)  # BulkExport's files, made once each
    # Days of calls the list API serves, counted back from today (§8.3: the real figure is UNCONFIRMED).
    call_retention_days: int = CALL_RETENTION_DAYS
    bulkexport_for_connect: bool = True  # whether BulkExport serves Connect credentials (§8.3: UNCONFIRMED)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _data: dict[str, AccountData] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        *,
        seed: int,
        profiles: Sequence[Profile],
        owner_calls: int,
        owner_days: int,
        now: datetime,
        faults: Faults | None,
        app_fields: dict[str, Any],
        call_retention_days: int = CALL_RETENTION_DAYS,
        bulkexport_for_connect: bool = True,
    ) -> SandboxState:
        """Build the deterministic world for one seed and set of options."""
        now_epoch = int(now.astimezone(UTC).timestamp())
        accounts = make_world(
            seed,
            profiles,
            now=now_epoch,
            owner_calls=owner_calls,
            owner_days=owner_days,
            volume=lambda account: expected_volume(seed, account, now_epoch),
        )
        app = ConnectApp(sid=plain_sid("CN", seed, "connect-app"), account_sid=accounts[0].sid)
        app = replace(app, **app_fields)
        return cls(
            seed=seed,
            now=now_epoch,
            accounts=accounts,
            connect_app=app,
            initial_app=app,
            faults=FaultInjector(faults or Faults()),
            call_retention_days=call_retention_days,
            bulkexport_for_connect=bulkexport_for_connect,
        )

    # -- who is who --

    @property
    def owner(self) -> Account:
        """The account that owns the Connect App (the analyst's company)."""
        return self.accounts[0]

    @property
    def customers(self) -> list[Account]:
        """The customers' main accounts: the accounts that can authorize the Connect App."""
        return [a for a in self.accounts if a.role == "main"]

    @property
    def owner_auth_token(self) -> str:
        """The owner's Auth Token, derived from the seed."""
        return hashlib.blake2b(f"auth-token:{self.seed}".encode(), digest_size=16).hexdigest()

    def account(self, sid: str) -> Account | None:
        """Return the account with this SID (Connect subaccounts included), if the sandbox has it."""
        with self.lock:
            found = next((a for a in self.connect_accounts.values() if a.sid == sid), None)
        return found or next((a for a in self.accounts if a.sid == sid), None)

    def family(self, main_sid: str) -> list[Account]:
        """A customer's accounts: the main account, its subaccounts, then the Connect subaccount if made."""
        members = [a for a in self.accounts if a.parent_sid == main_sid and a.role in ("main", "subaccount")]
        members.sort(key=lambda a: (a.role != "main", a.created, a.sid))  # main first, then oldest first
        with self.lock:
            connect = self.connect_accounts.get(main_sid)
        return members + ([connect] if connect is not None else [])

    def listed_from(self, kind: str) -> int:
        """The oldest day ordinal the list API still serves for ``"calls"`` or ``"messages"``."""
        days = self.call_retention_days if kind == "calls" else MESSAGE_RETENTION_DAYS
        return day_of(self.now) - days

    def data(self, sid: str) -> AccountData:
        """Return the (lazily generated) history of an account."""
        with self.lock:
            if sid not in self._data:
                account = self.account(sid)
                if account is None:
                    msg = f"the sandbox has no account {sid}"
                    raise KeyError(msg)
                self._data[sid] = AccountData(self.seed, account, self.now)
            return self._data[sid]

    def customer(self, sid: str) -> Account:
        """The main account of a customer, given its SID or its Connect subaccount's; ``ValueError`` otherwise."""
        account = self.account(sid)
        if account is not None and account.role == "connect":
            account = self.account(account.parent_sid)
        if account is None or account.role != "main":
            choices = ", ".join(a.sid for a in self.customers)
            msg = f"{sid!r} is not a sandbox customer account; choose one of {choices}"
            raise ValueError(msg)
        return account

    def connected_family(self, sid: str) -> tuple[Account, tuple[str, ...], list[Account]] | None:
        """For a Connect subaccount SID whose customer has authorized the app: (main account, permissions, family)."""
        account = self.account(sid)
        if account is None or account.role != "connect":
            return None
        with self.lock:
            permissions = self.authorizations.get(account.parent_sid)
        if permissions is None:
            return None
        return self.customer(account.parent_sid), permissions, self.family(account.parent_sid)

    # -- the Connect App --

    def update_app(self, **fields: Any) -> ConnectApp:
        """Change Connect App fields (the effect of ``POST ConnectApps/{CN}.json``)."""
        with self.lock:
            self.connect_app = replace(self.connect_app, **fields)
            return self.connect_app

    def authorize(self, sid: str, permissions: tuple[str, ...]) -> Account:
        """Record that a customer authorized the Connect App; return the app's Connect subaccount.

        The subaccount is made on the first authorization and kept, so authorizing
        again (after a revocation, or with other permissions) gives the same SID.
        """
        main = self.customer(sid)
        unknown = [p for p in permissions if p not in PERMISSIONS]
        if unknown or not permissions:
            msg = f"permissions must be a non-empty subset of {PERMISSIONS}, got {permissions!r}"
            raise ValueError(msg)
        with self.lock:
            connect = self.connect_accounts.get(main.sid)
            if connect is None:
                app = self.connect_app
                connect = connect_subaccount(self.seed, main, app.sid, app.friendly_name, self.now)
                self.connect_accounts[main.sid] = connect
            self.authorizations[main.sid] = tuple(p for p in PERMISSIONS if p in permissions)
            self.connect_log.append((main.sid, "authorized", self.authorizations[main.sid]))
        return connect

    def revoke(self, sid: str) -> bool:
        """Forget a customer's authorization (given its main or Connect SID); return whether there was one."""
        main = self.customer(sid)
        with self.lock:
            permissions = self.authorizations.pop(main.sid, None)
            if permissions is not None:
                self.connect_log.append((main.sid, "revoked", permissions))
            return permissions is not None

    async def notify_deauthorized(self, sid: str, timeout: float = 10.0) -> DeauthorizeResult:
        """Call the app's Deauthorize Callback URL, signed with the owner's Auth Token.

        ``AccountSid`` is the Connect subaccount's SID: the one the app received
        when the customer authorized it.
        """
        main = self.customer(sid)
        with self.lock:
            connect = self.connect_accounts.get(main.sid)
        sid = connect.sid if connect is not None else main.sid
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
        """Back to the state right after start: no authorizations, no faults, first app, no export jobs."""
        with self.lock:
            self.authorizations.clear()
            self.connect_log.clear()
            for connect in self.connect_accounts.values():
                self._data.pop(connect.sid, None)
            self.connect_accounts.clear()
            self.connect_app = self.initial_app
            self.faults.reset()
            self.export_jobs.clear()
