"""`sandbox._rest.insights`: Voice Insights ``/v1/Voice/Summaries`` and ``/v1/Voice/{CA}/Summary``.

Insights has no account in its path. Which accounts a request sees is not in the
notes (UNCONFIRMED); the sandbox follows the Connect guide's ``get-all`` (§8.1):
the credentials' whole family, narrowed to one account with the spec's
``Subaccount`` filter (the owner's credentials see the owner's calls). A family
whose customer has not turned on Voice Insights Advanced Features is refused
with 403 / 20403, the sandbox's reading of "Twilio refuses" (§8.5; the exact
status and code are UNCONFIRMED).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from .._errors import SandboxError, bad_request, not_found, unauthorized
from .._formats import DAY, day_of
from .._insights import INSIGHTS_RETENTION_DAYS, rendered, summaries_on
from .._query import ListParams, list_page
from .base import APIHandler

__all__ = ["CallSummariesHandler", "CallSummaryHandler", "insights_refusal"]

_FILTERS = (
    "From",
    "To",
    "FromCarrier",
    "ToCarrier",
    "FromCountryCode",
    "ToCountryCode",
    "StartTime",
    "EndTime",
    "CallType",
    "CallState",
    "Direction",
    "ProcessingState",
    "SortBy",
    "Subaccount",
)
_RELATIVE = re.compile(r"(\d{1,6})([mhdw])")
_UNIT = {"m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}
# ProcessingState on the list: which summaries each value keeps (the spec's request enum).
_PROCESSING = {"all": ("partial", "complete"), "completed": ("complete",), "partial": ("partial",), "started": ()}


def insights_refusal(account_sid: str) -> SandboxError:
    """What an account without Voice Insights Advanced Features is answered (403 / 20403, UNCONFIRMED)."""
    msg = (
        f"Voice Insights Advanced Features are not enabled for account {account_sid}; "
        "turn them on in the Console (Voice > Settings) to read call summaries"
    )
    return SandboxError(403, 20403, msg)


def _moment(name: str, value: str, now: int) -> int:
    """``StartTime`` / ``EndTime``: ``30m``, ``4h``, ``3d``, ``1w`` before now, or an ISO 8601 time."""
    if match := _RELATIVE.fullmatch(value.strip()):
        return now - int(match[1]) * _UNIT[match[2]]
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        msg = f"{name} must be like 30m, 4h, 3d, 1w or an ISO 8601 time, got {value[:40]!r}"
        raise bad_request(msg) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _field(summary: dict[str, Any], key: str, inner: str | None) -> Any:
    value = summary[key]
    return value if inner is None else (value or {}).get(inner)


class _InsightsHandler(APIHandler):
    def _origin(self) -> str:
        return f"{self.request.protocol}://{self.request.host}"

    def _enabled(self, account_sid: str) -> None:
        account = self.state.account(account_sid)
        if account is None or not account.voice_insights:
            raise insights_refusal(account_sid)


class CallSummariesHandler(_InsightsHandler):
    """``/v1/Voice/Summaries``: the family's call summaries, newest first, v1 envelope."""

    def get(self) -> None:
        params = self.list_params(_FILTERS)
        accounts = sorted(self.principal.family)
        wanted = params.get("Subaccount")
        if wanted is not None:
            if wanted not in self.principal.family:
                raise unauthorized()
            accounts = [wanted]
        self._enabled(wanted or self.principal.account_sid)
        summaries = self._summaries(params, accounts)
        page = list_page(params, summaries)
        base = f"{self._origin()}/v1/Voice/Summaries"
        self.write_json(
            {
                "call_summaries": [rendered(s, self._origin()) for s in page.items],
                "meta": self.v1_meta("call_summaries", base, params, page),
            }
        )

    def _summaries(self, params: ListParams, accounts: list[str]) -> list[dict[str, Any]]:
        now = self.state.now
        lo = _moment("StartTime", params.get("StartTime") or "4h", now)
        hi = _moment("EndTime", params.get("EndTime") or "0m", now)
        lo = max(lo, now - INSIGHTS_RETENTION_DAYS * DAY)
        processing = params.get("ProcessingState") or "all"
        if processing not in _PROCESSING:
            msg = f"ProcessingState must be one of {', '.join(_PROCESSING)}, got {processing[:40]!r}"
            raise bad_request(msg)
        sort_by = params.get("SortBy") or "start_time"
        if sort_by not in ("start_time", "end_time"):
            msg = f"SortBy must be start_time or end_time, got {sort_by[:40]!r}"
            raise bad_request(msg)
        states = _PROCESSING[processing]
        # (record key, key inside it or None, wanted value) for every filter given.
        wanted = [
            (key, inner, value)
            for key, inner, name in (
                ("from", "caller", "From"),
                ("to", "callee", "To"),
                ("from", "carrier", "FromCarrier"),
                ("to", "carrier", "ToCarrier"),
                ("from", "country_code", "FromCountryCode"),
                ("to", "country_code", "ToCountryCode"),
                ("properties", "direction", "Direction"),
                ("call_type", None, "CallType"),
                ("call_state", None, "CallState"),
            )
            if (value := params.get(name)) is not None
        ]
        out: list[dict[str, Any]] = []
        if hi < lo:
            return out
        for sid in accounts:
            data = self.state.data(sid)
            for d in range(day_of(hi), day_of(lo) - 1, -1):
                for s in summaries_on(data, d):
                    if (
                        lo <= s["start_time"] <= hi
                        and s["processing_state"] in states
                        and all(_field(s, key, inner) == value for key, inner, value in wanted)
                    ):
                        out.append(s)
        key = "start_time" if sort_by == "start_time" else "end_time"
        out.sort(key=lambda s: (-(s[key] if s[key] is not None else now + 1), s["call_sid"]))
        return out


class CallSummaryHandler(_InsightsHandler):
    """``/v1/Voice/{CA}/Summary``: one call's summary, from any account of the family."""

    def get(self, sid: str) -> None:
        processing = self.get_query_argument("ProcessingState", "all")
        if processing not in ("all", "complete", "partial"):
            msg = f"ProcessingState must be one of complete, partial, all, got {processing[:40]!r}"
            raise bad_request(msg)
        now = self.state.now
        for account_sid in sorted(self.principal.family):
            data = self.state.data(account_sid)
            call = data.find_call(sid)
            if call is None or call.sid != sid:
                continue
            self._enabled(account_sid)
            if call.start < now - INSIGHTS_RETENTION_DAYS * DAY:
                break  # past Insights' retention: gone, as if it never was
            summary = next(s for s in summaries_on(data, day_of(call.start)) if s["call_sid"] == sid)
            if processing != "all" and summary["processing_state"] != processing:
                break
            self.write_json(rendered(summary, self._origin()))
            return
        self._enabled(self.principal.account_sid)
        raise not_found(self.request.path)
