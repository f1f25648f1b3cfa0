"""`sandbox._rest.events`: Monitor v1 ``/v1/Events`` and ``/v1/Events/{AE}``, the audit log.

Like the alerts, Monitor Events has no account in its path and answers for the
credentials. The owner sees its own log. A Connect subaccount whose customer
granted ``get-all`` sees the log of every account of the customer's family (the
Connect guide's "any subresource owned by those accounts", ``twilio-api-notes.md``
§8.1), each event under its own ``account_sid``: how real Twilio scopes this for
Connect credentials is not documented. Each account's log reaches back 30 days,
or 13 months for a customer on a paid Edition (§8.4).
"""

from __future__ import annotations

import re

from .._errors import bad_request, not_found
from .._events import Event, account_events, event_json, oldest_event
from .._families import Account
from .._query import list_page
from .base import APIHandler
from .monitor import _instant  # one reading of the v1 date filters for Alerts and Events

__all__ = ["EventHandler", "EventsHandler"]

_FILTERS = ("ActorSid", "EventType", "ResourceSid", "SourceIpAddress", "StartDate", "EndDate")
_PATTERNS = {"ActorSid": r"US[0-9a-fA-F]{32}", "ResourceSid": r"[a-zA-Z]{2}[0-9a-fA-F]{32}"}


class _MonitorEvents(APIHandler):
    """What the list and the fetch share: whose logs the credentials see, and how far back."""

    def _accounts(self) -> list[Account]:
        found = (self.state.account(sid) for sid in sorted(self.principal.family))
        return [a for a in found if a is not None]

    def _events(self, lo: int | None = None, hi: int | None = None) -> list[Event]:
        now = self.state.now
        out: list[Event] = []
        for account in self._accounts():
            first = oldest_event(account, now) if lo is None else max(lo, oldest_event(account, now))
            last = now if hi is None else min(hi, now)
            if first <= last:
                out.extend(account_events(self.state, account, first, last))
        out.sort(key=lambda e: (-e.date, e.sid))
        return out

    def _origin(self) -> str:
        return f"{self.request.protocol}://{self.request.host}"


class EventsHandler(_MonitorEvents):
    """Monitor ``/v1/Events``: the audit log, newest first, filtered, in the v1 envelope."""

    def get(self) -> None:
        params = self.list_params(_FILTERS)
        for name, pattern in _PATTERNS.items():
            value = params.get(name)
            if value is not None and re.fullmatch(pattern, value) is None:
                msg = f"{name} must match {pattern}, got {value[:40]!r}"
                raise bad_request(msg)
        lo = hi = None
        if params.get("StartDate"):
            lo = _instant("StartDate", params.get("StartDate") or "")
        if params.get("EndDate"):
            hi = _instant("EndDate", params.get("EndDate") or "", end_of_day=True)
        wanted = {
            "actor_sid": params.get("ActorSid"),
            "event_type": params.get("EventType"),
            "resource_sid": params.get("ResourceSid"),
            "source_ip_address": params.get("SourceIpAddress"),
        }
        events = [
            e
            for e in self._events(lo, hi)
            if all(value is None or getattr(e, field) == value for field, value in wanted.items())
        ]
        page = list_page(params, events)
        base = f"{self._origin()}/v1/Events"
        self.write_json(
            {
                "events": [event_json(e, self._origin()) for e in page.items],
                "meta": self.v1_meta("events", base, params, page),
            }
        )


class EventHandler(_MonitorEvents):
    """Monitor ``/v1/Events/{AE}``: one event still inside its account's window."""

    def get(self, sid: str) -> None:
        for event in self._events():
            if event.sid == sid:
                self.write_json(event_json(event, self._origin()))
                return
        raise not_found(self.request.path)
