"""`_session`: which customer accounts this kernel has connected; no HTTP, no secrets.

``Session`` is safe to use from the kernel's thread and the callback server's
thread. It may remember its accounts in a file readable only by the user, so a
restarted kernel or a report notebook can reuse an AccountSid; it never stores a
token (Connect never gives us the customer's, and the owner's stays in config).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ._atomic import atomic_write

__all__ = ["ConnectedAccount", "Session"]

log = logging.getLogger("connect_notebook")
Event = Literal["connected", "declined", "revoked", "removed"]
Listener = Callable[[Event, "ConnectedAccount | None"], None]


@dataclass(frozen=True)
class ConnectedAccount:
    """A customer that authorized the Connect App, and the AccountSid the app received for it.

    ``sid`` is what requests authenticate as (on Twilio, the app's Connect
    subaccount); ``friendly_name`` and ``customer_sid`` name the customer's main
    account, which is what a person recognises.
    """

    sid: str
    friendly_name: str
    permissions: tuple[str, ...] = ("get-all",)
    connected_at: datetime | None = None
    revoked: bool = False
    customer_sid: str | None = None  # the customer's main account; None when unknown (then ``sid``)

    @property
    def label(self) -> str:
        """``<customer name> (AC…last4 of its main account)``, for status lines: enough to recognise, short to read."""
        return f"{self.friendly_name} (AC…{(self.customer_sid or self.sid)[-4:]})"

    def _to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["permissions"] = list(self.permissions)
        data["connected_at"] = self.connected_at.isoformat() if self.connected_at else None
        return data

    @classmethod
    def _from_json(cls, data: dict[str, object]) -> ConnectedAccount:
        when = data.get("connected_at")
        customer = data.get("customer_sid")
        return cls(
            sid=str(data["sid"]),
            friendly_name=str(data.get("friendly_name") or data["sid"]),
            permissions=tuple(str(p) for p in data.get("permissions") or ()),  # type: ignore[attr-defined]
            connected_at=datetime.fromisoformat(when) if isinstance(when, str) else None,
            revoked=bool(data.get("revoked", False)),
            customer_sid=customer if isinstance(customer, str) else None,
        )


class Session:
    """The accounts connected in this kernel, most recent last; several at once."""

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._accounts: dict[str, ConnectedAccount] = {}
        self._listeners: list[Listener] = []
        self.path = path
        if path is not None and path.exists():
            self._load(path)

    # -- reading --

    @property
    def accounts(self) -> list[ConnectedAccount]:
        """Every account connected and not revoked, in the order they connected."""
        with self._lock:
            return [a for a in self._accounts.values() if not a.revoked]

    @property
    def current(self) -> ConnectedAccount | None:
        """The account connected most recently (and not revoked since), if any."""
        accounts = self.accounts
        return accounts[-1] if accounts else None

    def get(self, sid: str) -> ConnectedAccount | None:
        """The account with this SID, revoked or not."""
        with self._lock:
            return self._accounts.get(sid)

    def __contains__(self, sid: object) -> bool:
        account = self.get(sid) if isinstance(sid, str) else None
        return account is not None and not account.revoked

    def __len__(self) -> int:
        return len(self.accounts)

    def __repr__(self) -> str:
        return f"<Session {[a.label for a in self.accounts]}>"

    # -- changing --

    def add(self, account: ConnectedAccount) -> ConnectedAccount:
        """Store a connected account; connecting it again replaces it (and makes it current)."""
        if account.connected_at is None:
            account = replace(account, connected_at=datetime.now(UTC))
        with self._lock:
            self._accounts.pop(account.sid, None)
            self._accounts[account.sid] = replace(account, revoked=False)
            self._save()
        self._emit("connected", account)
        return account

    def revoke(self, sid: str) -> ConnectedAccount | None:
        """Mark an account revoked (Twilio told us, or refused our token); return it if known."""
        with self._lock:
            account = self._accounts.get(sid)
            if account is None or account.revoked:
                return None
            account = self._accounts[sid] = replace(account, revoked=True)
            self._save()
        self._emit("revoked", account)
        return account

    def declined(self) -> None:
        """Tell listeners that a customer declined on the authorize page."""
        self._emit("declined", None)

    def remove(self, sid: str) -> None:
        """Forget an account entirely."""
        with self._lock:
            account = self._accounts.pop(sid, None)
            self._save()
        if account is not None:
            self._emit("removed", account)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event, account)`` on every change; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, event: Event, account: ConnectedAccount | None) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event, account)
            except Exception:  # a broken listener must not stop the others or the server
                log.exception("session listener failed on %s", event)

    # -- remembering --

    def remember(self, path: Path) -> None:
        """Keep this session in ``path`` (mode 0600) from now on, and write it now."""
        with self._lock:
            self.path = path
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        data = json.dumps({"accounts": [a._to_json() for a in self._accounts.values()]}, indent=1)
        # Created 0600 from the start, in a 0700 folder: never readable by others, not even briefly.
        atomic_write(self.path, data.encode(), mode=0o600, folder_mode=0o700)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
            accounts = [ConnectedAccount._from_json(a) for a in data.get("accounts", [])]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the unreadable session file %s: %s", path, exc)
            return
        self._accounts = {a.sid: a for a in accounts}
