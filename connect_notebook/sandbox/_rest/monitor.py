"""`sandbox._rest.monitor`: Monitor v1 ``/v1/Alerts`` and ``/v1/Alerts/{NO}``, the debugger log.

Monitor has no account in its path: it answers for the account that
authenticated. Twilio serves resources on subdomains only to that account's own
credentials (not to a parent's or a Connect App's for other accounts), so with
Connect credentials these are the Connect subaccount's own alerts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from .._errors import bad_request, not_found
from .._formats import DAY, day_of, day_start
from .._query import ListParams, list_page
from .._render import alert_json
from .base import APIHandler

__all__ = ["ALERT_RETENTION_DAYS", "AlertHandler", "AlertsHandler"]


ALERT_RETENTION_DAYS = 30


class AlertsHandler(APIHandler):
    """Monitor ``/v1/Alerts``: the last 30 days of the debugger log, v1 envelope."""

    def get(self) -> None:
        params = self.list_params(("LogLevel", "StartDate", "EndDate"))
        alerts = self._alerts(params)
        page = list_page(params, alerts)
        base = f"{self.request.protocol}://{self.request.host}/v1/Alerts"
        sid = self.principal.account_sid
        self.write_json(
            {
                "alerts": [alert_json(sid, a, self._origin()) for a in page.items],
                "meta": self.v1_meta("alerts", base, params, page),
            }
        )

    def _origin(self) -> str:
        return f"{self.request.protocol}://{self.request.host}"

    def _alerts(self, params: ListParams) -> list[Any]:
        data = self.state.data(self.principal.account_sid)
        now = data.now
        lo, hi = now - ALERT_RETENTION_DAYS * DAY, now
        for name in ("StartDate", "EndDate"):
            value = params.get(name)
            if value:
                moment = _instant(name, value, end_of_day=name == "EndDate")
                lo, hi = (max(lo, moment), hi) if name == "StartDate" else (lo, min(hi, moment))
        level = params.get("LogLevel")
        out: list[Any] = []
        # Alerts are generated with the record that raised them, which may be the
        # day before the alert itself: look one day further back, then sort.
        for d in range(day_of(hi), day_of(lo) - 2, -1):
            out.extend(a for a in data.alerts_on(d) if lo <= a.created <= hi and level in (None, a.log_level))
        out.sort(key=lambda a: (-a.created, a.sid))
        return out


def _instant(name: str, value: str, *, end_of_day: bool = False) -> int:
    """Parse a v1 date filter: ``YYYY-MM-DDThh:mm:ssZ``, or ``YYYY-MM-DD`` for that whole day.

    A bare date as ``EndDate`` means "on or before this date", so it ends at the
    day's last second; as ``StartDate`` it starts at midnight.
    """
    try:
        if len(value) == 10:
            start = day_start(date.fromisoformat(value).toordinal())
            return start + DAY - 1 if end_of_day else start
        moment = datetime.fromisoformat(value)
    except ValueError:
        msg = f"{name} must be YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ, got {value[:40]!r}"
        raise bad_request(msg) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


class AlertHandler(APIHandler):
    """Monitor ``/v1/Alerts/{NO}``: one alert, with the request details."""

    def get(self, sid: str) -> None:
        data = self.state.data(self.principal.account_sid)
        now = data.now
        for d in range(day_of(now), day_of(now - ALERT_RETENTION_DAYS * DAY) - 2, -1):
            for alert in data.alerts_on(d):
                if alert.sid == sid and alert.created >= now - ALERT_RETENTION_DAYS * DAY:
                    record = alert_json(
                        self.principal.account_sid, alert, f"{self.request.protocol}://{self.request.host}"
                    )
                    record.update(
                        {
                            "request_variables": None if alert.request_url is None else "CallStatus=ringing",
                            "request_headers": None,
                            "response_body": "Bad Gateway" if alert.error_code == "11200" else None,
                            "response_headers": None,
                        }
                    )
                    self.write_json(record)
                    return
        raise not_found(self.request.path)
