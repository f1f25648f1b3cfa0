"""`sandbox._events`: Monitor Events, the audit log that follows from each account's own history.

Every event is derived from ``(seed, account, UTC day)`` like the rest of the data,
plus the Connect authorizations and revocations the sandbox itself records
(``SandboxState.connect_log``). Event types are Twilio's ``RESOURCE_TYPE.ACTION``:

- ``account.created`` when a subaccount (a Connect subaccount too) is made, and
  ``account.updated`` for settings changes, closing a subaccount, and the rare
  change made by Twilio staff (``actor_type`` ``twilio-admin``, ``source`` ``twilio``);
- ``phone-number.created`` for each of the account's numbers, bought in the Console
  when the account was made, and ``phone-number.created`` / ``phone-number.deleted``
  for short-lived numbers bought and released through the API;
- ``api-key.created``, and ``user-session.created`` (a Console login) on main accounts;
- ``authorized-connect-app.created`` / ``.deleted`` on the main account, at the
  sandbox's clock, for each authorization and revocation of the Connect App.

Users (``US…``) belong to the customer, so the accounts of a family share them. The
spec admits only ``US…`` in ``actor_sid``, so events an API request caused
(``actor_type`` ``account``) carry a null ``actor_sid``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any, NamedTuple

from ._data import AccountData
from ._families import Account
from ._formats import DAY, day_of, day_start, iso8601
from ._sids import plain_sid
from ._state import SandboxState

__all__ = [
    "EVENT_RETENTION_DAYS",
    "PAID_RETENTION_MONTHS",
    "Event",
    "User",
    "account_events",
    "event_json",
    "family_users",
    "oldest_event",
]

EVENT_RETENTION_DAYS = 30
PAID_RETENTION_MONTHS = 13
_CHURN_DAYS = 21  # a number bought through the API is released within this many days
_SETTINGS = (
    ("voice_geographic_permissions.MX", "disabled", "enabled"),
    ("sms_geographic_permissions.IN", "enabled", "disabled"),
    ("two_factor_authentication", "optional", "required"),
    ("voice_url", "https://hooks.example.com/voice/v1", "https://hooks.example.com/voice/v2"),
    ("status_callback", None, "https://hooks.example.com/status"),
)
_USER_NAMES = ("admin", "ops", "developer", "finance")
_KEY_NAMES = ("reporting", "crm sync", "ci deploy", "backup")


class User(NamedTuple):
    """A Console user of a customer (or of the owner)."""

    sid: str
    name: str
    ip: str


class Event(NamedTuple):
    """One Monitor event (audit log entry)."""

    sid: str
    account_sid: str
    date: int  # epoch seconds
    event_type: str
    resource_type: str
    resource_sid: str
    actor_type: str
    actor_sid: str | None
    source: str
    source_ip_address: str | None
    description: str | None
    data: dict[str, Any] | None


def family_users(seed: int, main_sid: str) -> list[User]:
    """The Console users of a customer (the first is its admin), fixed by the seed."""
    rng = random.Random(f"users:{seed}:{main_sid}")
    return [
        User(plain_sid("US", seed, main_sid, n), _USER_NAMES[n], f"203.0.113.{rng.randint(1, 254)}")
        for n in range(rng.randint(2, len(_USER_NAMES)))
    ]


def _api_address(seed: int, main_sid: str) -> str:
    """The address of the customer's own servers, where its API requests come from."""
    return f"198.51.100.{random.Random(f'api-ip:{seed}:{main_sid}').randint(1, 254)}"


def oldest_event(account: Account, now: int) -> int:
    """The first instant of ``account``'s log Monitor still serves: 30 days, or 13 months on a paid Edition."""
    if account.edition is None:
        return now - EVENT_RETENTION_DAYS * DAY
    moment = datetime.fromtimestamp(now, UTC)
    months = moment.year * 12 + moment.month - 1 - PAID_RETENTION_MONTHS
    year, month = divmod(months, 12)
    day = min(moment.day, 28)  # every month has a 28th: no 30 February
    return int(moment.replace(year=year, month=month + 1, day=day).timestamp())


def account_events(state: SandboxState, account: Account, lo: int, hi: int) -> list[Event]:
    """``account``'s events with ``lo <= event_date <= hi``, newest first."""
    data = state.data(account.sid)
    out = [e for d in range(day_of(hi), day_of(lo) - 1, -1) for e in _day(data, d) if lo <= e.date <= hi]
    if account.role == "main":
        out.extend(e for e in _connect_events(state, account) if lo <= e.date <= hi)
    out.sort(key=lambda e: (-e.date, e.sid))
    return out


def _connect_events(state: SandboxState, main: Account) -> list[Event]:
    """The Connect App's authorizations and revocations by this customer, at the sandbox's clock."""
    with state.lock:
        log = [
            (n, action, permissions)  # numbered per customer, so a SID does not depend on the others
            for n, (action, permissions) in enumerate((a, p) for sid, a, p in state.connect_log if sid == main.sid)
        ]
        connect = state.connect_accounts.get(main.sid)
    admin = family_users(state.seed, main.sid)[0]
    app = state.connect_app
    events = []
    for n, action, permissions in log:
        verb = "authorized" if action == "authorized" else "revoked"
        events.append(
            Event(
                sid=plain_sid("AE", state.seed, main.sid, "connect", n),
                account_sid=main.sid,
                date=state.now,
                event_type="authorized-connect-app." + ("created" if action == "authorized" else "deleted"),
                resource_type="authorized-connect-app",
                resource_sid=app.sid,
                actor_type="user",
                actor_sid=admin.sid,
                source="web",
                source_ip_address=admin.ip,
                description=f"Connect App {app.friendly_name} {verb} by {admin.name}",
                data={
                    "connect_app_friendly_name": app.friendly_name,
                    "connect_subaccount_sid": connect.sid if connect is not None else None,
                    "permissions": list(permissions),
                },
            )
        )
    return events


def _day(data: AccountData, ordinal: int) -> list[Any]:
    return data.cached("events", ordinal, lambda d: _build_day(data, d))  # type: ignore[no-any-return]


class _Draft(NamedTuple):
    date: int
    event_type: str
    resource_type: str
    resource_sid: str
    actor: User | None  # None: the account's own API credentials, or Twilio staff
    source: str
    description: str
    data: dict[str, Any] | None


def _churn(data: AccountData, ordinal: int) -> tuple[str, str, int, int] | None:
    """A number bought through the API on this day, if any: (PN sid, number, bought, released)."""
    account = data.account
    if account.role == "connect" or not account.numbers:
        return None
    start = day_start(ordinal)
    first, last = max(start, account.created), min(start + DAY - 1, account.end(data.now))
    rng = random.Random(f"churn:{data.seed}:{account.sid}:{ordinal}")
    if first > last or rng.random() >= 0.04:
        return None
    bought = rng.randint(first, last)
    number = account.numbers[0].e164[:-4] + f"{rng.randint(0, 9999):04d}"
    return (
        plain_sid("PN", data.seed, account.sid, "churn", ordinal),
        number,
        bought,
        bought + rng.randint(1, _CHURN_DAYS) * DAY,
    )


def _build_day(data: AccountData, ordinal: int) -> list[Event]:
    account, seed = data.account, data.seed
    start = day_start(ordinal)
    first, last = max(start, account.created), min(start + DAY - 1, account.end(data.now))
    if first > last:
        return []
    users = family_users(seed, account.parent_sid)
    admin = users[0]
    rng = random.Random(f"events:{seed}:{account.sid}:{ordinal}")
    weekday = datetime.fromtimestamp(start, UTC).weekday() < 5

    def working_time() -> int:
        local = rng.randint(8 * 3600, 18 * 3600)
        moment = start + local - account.utc_offset * 3600
        return moment if first <= moment <= last else rng.randint(first, last)

    drafts: list[_Draft] = []
    if ordinal == day_of(account.created):
        if account.role in ("subaccount", "connect"):
            drafts.append(
                _Draft(
                    account.created,
                    "account.created",
                    "account",
                    account.sid,
                    admin,
                    "web",
                    f"Subaccount {account.friendly_name} created",
                    {"friendly_name": account.friendly_name},
                )
            )
        for i, number in enumerate(account.numbers):
            drafts.append(
                _Draft(
                    min(account.created + 60 * (i + 1), last),
                    "phone-number.created",
                    "phone-number",
                    number.sid,
                    admin,
                    "web",
                    f"Phone number {number.e164} purchased",
                    {"phone_number": number.e164},
                )
            )
    if account.closed is not None and ordinal == day_of(account.closed) and account.closed <= data.now:
        drafts.append(
            _Draft(
                account.closed,
                "account.updated",
                "account",
                account.sid,
                admin,
                "web",
                f"Subaccount {account.friendly_name} closed",
                {"status": {"previous": "active", "updated": "closed"}},
            )
        )
    bought = _churn(data, ordinal)
    if bought is not None:
        sid, e164, at, _ = bought
        drafts.append(
            _Draft(
                at,
                "phone-number.created",
                "phone-number",
                sid,
                None,
                "api",
                f"Phone number {e164} purchased",
                {"phone_number": e164},
            )
        )
    for back in range(1, _CHURN_DAYS + 1):
        earlier = _churn(data, ordinal - back)
        if earlier is not None and first <= earlier[3] <= last:
            sid, e164, _, at = earlier
            drafts.append(
                _Draft(
                    at,
                    "phone-number.deleted",
                    "phone-number",
                    sid,
                    None,
                    "api",
                    f"Phone number {e164} released",
                    {"phone_number": e164},
                )
            )
    if account.role in ("main", "owner"):
        for _ in range(rng.randint(0, 3) if weekday else rng.randint(0, 1)):
            user = rng.choice(users)
            drafts.append(
                _Draft(
                    working_time(),
                    "user-session.created",
                    "user-session",
                    user.sid,
                    user,
                    "web",
                    f"{user.name} logged in to the Console",
                    None,
                )
            )
    if account.role != "connect":
        if weekday and rng.random() < 0.05:
            setting, previous, updated = rng.choice(_SETTINGS)
            user = rng.choice(users)
            drafts.append(
                _Draft(
                    working_time(),
                    "account.updated",
                    "account",
                    account.sid,
                    user,
                    "web",
                    f"{user.name} changed {setting}",
                    {setting: {"previous": previous, "updated": updated}},
                )
            )
        if rng.random() < 0.02:
            name = rng.choice(_KEY_NAMES)
            drafts.append(
                _Draft(
                    working_time(),
                    "api-key.created",
                    "api-key",
                    plain_sid("SK", seed, account.sid, ordinal),
                    admin,
                    "web",
                    f"API key {name} created",
                    {"friendly_name": name},
                )
            )
        if account.role == "main" and rng.random() < 0.005:
            drafts.append(
                _Draft(
                    rng.randint(first, last),
                    "account.updated",
                    "account",
                    account.sid,
                    None,
                    "twilio",
                    "Twilio Support raised the messaging rate limit",
                    {"sms_rate_limit": {"previous": "1", "updated": "10"}},
                )
            )
    drafts.sort(key=lambda e: -e.date)  # stable: ties keep the order they were made in
    api_ip = _api_address(seed, account.parent_sid)
    return [
        Event(
            sid=plain_sid("AE", seed, account.sid, ordinal, i),
            account_sid=account.sid,
            date=e.date,
            event_type=e.event_type,
            resource_type=e.resource_type,
            resource_sid=e.resource_sid,
            actor_type="user" if e.actor is not None else ("twilio-admin" if e.source == "twilio" else "account"),
            actor_sid=e.actor.sid if e.actor is not None else None,
            source=e.source,
            source_ip_address=(e.actor.ip if e.actor is not None else None if e.source == "twilio" else api_ip),
            description=e.description,
            data=e.data,
        )
        for i, e in enumerate(drafts)
    ]


_RESOURCE_PATHS = {
    "account": "",
    "phone-number": "/IncomingPhoneNumbers/{sid}",
    "api-key": "/Keys/{sid}",
    "authorized-connect-app": "/AuthorizedConnectApps/{sid}",
}


def event_json(e: Event, origin: str) -> dict[str, Any]:
    """Render a Monitor v1 Event, with its absolute ``url`` and ``links`` (``origin``: the sandbox's URL)."""
    links: dict[str, str] = {}
    account = f"{origin}/2010-04-01/Accounts/{e.account_sid}"
    if e.actor_type == "account":
        links["actor"] = f"{account}.json"
    path = _RESOURCE_PATHS.get(e.resource_type)
    if path is not None:
        links["resource"] = f"{account}{path.format(sid=e.resource_sid)}.json"
    return {
        "account_sid": e.account_sid,
        "actor_sid": e.actor_sid,
        "actor_type": e.actor_type,
        "description": e.description,
        "event_data": e.data,
        "event_date": iso8601(e.date),
        "event_type": e.event_type,
        "links": links,
        "resource_sid": e.resource_sid,
        "resource_type": e.resource_type,
        "sid": e.sid,
        "source": e.source,
        "source_ip_address": e.source_ip_address,
        "url": f"{origin}/v1/Events/{e.sid}",
    }
