"""`_insights`: Voice Insights call summaries (call quality) of a connected customer's family.

``/v1/Voice/Summaries`` on ``insights.twilio.com`` has no account in its path;
each account of the family is asked for with the spec's ``Subaccount`` filter
(``twilio-api-notes.md`` §8.5; how Twilio answers Connect credentials for it is
UNCONFIRMED). An account whose customer has not turned on Voice Insights
Advanced Features is refused (403): it is left out with one
``InsightsNotEnabledWarning`` per load, so a report's other sections still run.

The frame is joinable with ``load_calls``' on ``sid`` (the call's SID; add
``account_sid`` to the keys to keep one copy of it).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import polars as pl

from ._arguments import checked_range, retry_policy, up_to_now
from ._client import APIClient
from ._config import ConnectApp
from ._exceptions import APIError, AuthorizationRevoked, InsightsNotEnabledWarning, SchemaError
from ._family import account_sid_of, check_accounts, read_family, select_accounts
from ._kernel import current
from ._redact import shown
from ._retry import RetryPolicy

__all__ = [
    "ANSWERED_BY",
    "CALL_STATES",
    "CALL_SUMMARIES_SCHEMA",
    "CALL_TYPES",
    "EDGES",
    "INSIGHTS_LOOKBACK",
    "PROCESSING_STATES",
    "SUMMARY_DIRECTIONS",
    "decode_call_summaries_page",
    "load_call_summaries",
    "type_call_summaries",
]

UTC_TIME = pl.Datetime("us", "UTC")
# The enums of twilio_insights_v1.json (call_summaries_enum_*).
CALL_TYPES = ("carrier", "sip", "trunking", "client", "whatsapp")
CALL_STATES = ("ringing", "completed", "busy", "fail", "noanswer", "canceled", "answered", "undialed")
PROCESSING_STATES = ("complete", "partial")
ANSWERED_BY = (
    "unknown",
    "machine_start",
    "machine_end_beep",
    "machine_end_silence",
    "machine_end_other",
    "human",
    "fax",
)
SUMMARY_DIRECTIONS = ("outbound_api", "outbound_dial", "inbound", "trunking_originating", "trunking_terminating")
EDGES = ("carrier_edge", "sip_edge", "sdk_edge", "client_edge")
# What ``start=None`` asks for: Insights' own relative form, so the server's clock decides (30 days, UNCONFIRMED).
INSIGHTS_LOOKBACK = "30d"
_PAGE_SIZE = 1000
_INBOUND = ("inbound", "trunking_originating")

_COLUMNS: dict[str, Any] = {
    "sid": pl.String,  # the call's SID: join with load_calls on it
    "account_sid": pl.String,
    "call_type": pl.Enum(CALL_TYPES),
    "call_state": pl.Enum(CALL_STATES),
    "direction": pl.Enum(SUMMARY_DIRECTIONS),
    "processing_state": pl.Enum(PROCESSING_STATES),
    "answered_by": pl.Enum(ANSWERED_BY),
    "created_time": UTC_TIME,
    "start_time": UTC_TIME,
    "end_time": UTC_TIME,
    "duration": pl.Int64,
    "connect_duration": pl.Int64,
    "disconnected_by": pl.String,
    "pdd_ms": pl.Int64,
    "last_sip_response_num": pl.Int64,
    "caller": pl.String,
    "from_carrier": pl.String,
    "from_connection": pl.String,
    "from_country_code": pl.String,
    "callee": pl.String,
    "to_carrier": pl.String,
    "to_connection": pl.String,
    "to_country_code": pl.String,
    "counterpart_carrier": pl.String,
    "counterpart_country_code": pl.String,
    "edge": pl.Enum(EDGES),
    "edge_location": pl.String,
    "media_region": pl.String,
    "inbound_packet_loss_percentage": pl.Float64,
    "outbound_packet_loss_percentage": pl.Float64,
    "inbound_jitter_avg": pl.Float64,
    "outbound_jitter_avg": pl.Float64,
    "tags": pl.List(pl.String),
    "verified_caller": pl.Boolean,
}
CALL_SUMMARIES_SCHEMA = pl.Schema(_COLUMNS)
"""The columns of ``load_call_summaries``.

``sid`` is the call's SID (Twilio's ``call_sid``). ``duration`` is the whole call
(start to end) and ``connect_duration`` the talk time, which is ``load_calls``'
``duration``. ``disconnected_by`` is ``caller`` or ``callee``; ``pdd_ms`` the
post-dial delay. ``caller`` / ``callee`` and the ``from_*`` / ``to_*`` columns
describe the two parties; ``counterpart_*`` is the side that is not the account's
own number (the caller of an inbound call, the callee otherwise). ``edge`` is the
Twilio edge that carried the call (``carrier_edge`` for the PSTN), with its
``edge_location``, ``media_region`` and RTP figures. ``tags`` are Voice Insights'
quality issues (``high_pdd``, ``high_packet_loss``, ``high_jitter``, …), an empty
list when there are none. ``processing_state`` is ``partial`` until about 30
minutes after the call ended, then ``complete``.
"""

_STRINGS = [c for c, t in CALL_SUMMARIES_SCHEMA.items() if t != pl.List(pl.String)]
_WIRE: dict[str, Any] = {
    **{c: pl.String for c in _STRINGS},
    **{c: pl.Int64 for c in ("duration", "connect_duration", "pdd_ms", "last_sip_response_num")},
    **{c: pl.Float64 for c in _STRINGS if c.endswith(("_percentage", "_avg"))},
    "verified_caller": pl.Boolean,
    "tags": pl.List(pl.String),
}
_DERIVED = ("counterpart_carrier", "counterpart_country_code")


def _dict(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        msg = f"expected an object, got {type(value).__name__}"
        raise ValueError(msg)
    return value


def _row(record: dict[str, Any]) -> dict[str, Any]:
    """One summary flattened to the wire columns (before typing)."""
    caller, callee = _dict(record.get("from")), _dict(record.get("to"))
    properties = _dict(record.get("properties"))
    edge = next((name for name in EDGES if record.get(name)), None)
    edge_record = _dict(record.get(edge)) if edge else {}
    edge_properties = _dict(edge_record.get("properties"))
    metrics = _dict(edge_record.get("metrics"))
    inbound, outbound = _dict(metrics.get("inbound")), _dict(metrics.get("outbound"))
    trust = _dict(record.get("trust"))
    verified = _dict(trust.get("verified_caller")).get("verified")
    tags = record.get("tags")
    if tags is not None and not isinstance(tags, list):
        msg = f"tags must be a list, got {type(tags).__name__}"
        raise ValueError(msg)
    return {
        "sid": record.get("call_sid"),
        "account_sid": record.get("account_sid"),
        "call_type": record.get("call_type"),
        "call_state": record.get("call_state"),
        "direction": properties.get("direction"),
        "processing_state": record.get("processing_state"),
        "answered_by": record.get("answered_by"),
        "created_time": record.get("created_time"),
        "start_time": record.get("start_time"),
        "end_time": record.get("end_time"),
        "duration": record.get("duration"),
        "connect_duration": record.get("connect_duration"),
        "disconnected_by": properties.get("disconnected_by"),
        "pdd_ms": properties.get("pdd_ms"),
        "last_sip_response_num": properties.get("last_sip_response_num"),
        "caller": caller.get("caller"),
        "from_carrier": caller.get("carrier"),
        "from_connection": caller.get("connection"),
        "from_country_code": caller.get("country_code"),
        "callee": callee.get("callee"),
        "to_carrier": callee.get("carrier"),
        "to_connection": callee.get("connection"),
        "to_country_code": callee.get("country_code"),
        "edge": edge,
        "edge_location": edge_properties.get("edge_location"),
        "media_region": edge_properties.get("media_region"),
        "inbound_packet_loss_percentage": inbound.get("packets_loss_percentage"),
        "outbound_packet_loss_percentage": outbound.get("packets_loss_percentage"),
        "inbound_jitter_avg": _dict(inbound.get("jitter")).get("avg"),
        "outbound_jitter_avg": _dict(outbound.get("jitter")).get("avg"),
        "tags": tags or [],
        "verified_caller": verified,
    }


def decode_call_summaries_page(body: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """One ``/v1/Voice/Summaries`` page: its summaries flattened to rows, and ``meta.next_page_url``.

    Raises ``ValueError`` for a body that is not a whole page, so the client retries it.
    """
    page = json.loads(body)
    if not isinstance(page, dict) or not isinstance(page.get("call_summaries"), list):
        msg = "not a JSON call_summaries page"
        raise ValueError(msg)
    link = _dict(page.get("meta")).get("next_page_url")
    if link is not None and not isinstance(link, str):
        msg = "meta.next_page_url is not a string"
        raise ValueError(msg)
    return [_row(_dict(r)) for r in page["call_summaries"]], link


def _iso(name: str) -> pl.Expr:
    return pl.col(name).str.strptime(UTC_TIME, "%Y-%m-%dT%H:%M:%SZ", strict=True)


def type_call_summaries(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Type flattened summaries (``CALL_SUMMARIES_SCHEMA``); a value that does not fit is a ``SchemaError``."""
    if not rows:
        return pl.DataFrame(schema=CALL_SUMMARIES_SCHEMA)
    try:
        raw = pl.DataFrame(rows, schema={c: t for c, t in _WIRE.items() if c not in _DERIVED}, strict=False)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        msg = f"call summaries do not fit their schema: {exc}"
        raise SchemaError(msg) from exc
    inbound = pl.col("direction").is_in(_INBOUND)
    exprs = {
        **{t: _iso(t) for t in ("created_time", "start_time", "end_time")},
        "counterpart_carrier": pl.when(inbound).then(pl.col("from_carrier")).otherwise(pl.col("to_carrier")),
        "counterpart_country_code": pl.when(inbound)
        .then(pl.col("from_country_code"))
        .otherwise(pl.col("to_country_code")),
    }
    for name, dtype in CALL_SUMMARIES_SCHEMA.items():  # one column at a time, so a misfit is named
        expr = exprs.get(name, pl.col(name)).cast(dtype, strict=True).alias(name)
        try:
            raw.select(expr)
        except (pl.exceptions.PolarsError, ValueError) as exc:
            values = raw[name].drop_nulls().head(3).to_list() if name in raw.columns else "missing"
            msg = f"call summary field {name!r} does not fit {dtype} (values such as {values}): {exc}"
            raise SchemaError(msg) from exc
    return raw.select([exprs.get(n, pl.col(n)).cast(t, strict=True).alias(n) for n, t in CALL_SUMMARIES_SCHEMA.items()])


def _moment(moment: datetime) -> str:
    # isoformat, not strftime: "%Y" writes year 1 as "1".
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def load_call_summaries(
    account: object,
    *,
    accounts: str | Iterable[str] | None = None,
    app: ConnectApp | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    retry: RetryPolicy | None = None,
) -> pl.DataFrame:
    """Load Voice Insights call summaries (call quality) of the family, schema ``CALL_SUMMARIES_SCHEMA``.

    One row per call: who hung up, post-dial delay, the parties' carriers and
    countries, the edge, packet loss, jitter and quality tags. Join it with
    ``load_calls`` on ``sid`` (and ``account_sid``).

    Parameters
    ----------
    account, accounts, app, retry
        As for ``load_calls``.
    start, end
        Calls that started in ``[start, end)`` (datetimes, naive means UTC; dates or
        ISO strings). ``start`` defaults to as far back as Insights keeps summaries
        (30 days on the sandbox; Twilio's figure is not confirmed), ``end`` to now.

    Returns
    -------
    polars.DataFrame
        Newest first. Summaries of calls from the last 30 minutes are ``partial``.
        An account without Voice Insights Advanced Features has no rows, with one
        ``InsightsNotEnabledWarning`` that names it; with none of them enabled the
        frame is empty, with the same columns and types.

    Raises
    ------
    TypeError, ValueError
        An argument is wrong (before any request); ``ConfigError`` for a malformed AccountSid.
    AuthorizationRevoked, APIError, TransportError
        As for ``load_calls``.
    """
    sid = account_sid_of(account)
    check_accounts(accounts)
    start_at, end_at = checked_range(start, end)
    retry = retry_policy(retry)
    app = current().resolve_app(app)
    bounded = up_to_now(start_at, end_at, datetime.now(UTC))
    if bounded is None:
        return type_call_summaries([])  # nothing to ask for
    start_at, end_at = bounded
    rows: list[dict[str, Any]] = []
    refused: list[str] = []
    try:
        with APIClient(app, sid, retry=retry) as client:
            family = read_family(client)
            for member in select_accounts(family, sid, accounts):
                query = [
                    ("PageSize", str(_PAGE_SIZE)),
                    ("ProcessingState", "all"),  # partial summaries too: a report shows the last half hour
                    ("Subaccount", member),
                    ("StartTime", _moment(start_at) if start_at is not None else INSIGHTS_LOOKBACK),
                ]
                if end_at is not None:
                    query.append(("EndTime", _moment(end_at)))
                url = f"{app.insights_url}/v1/Voice/Summaries?{urlencode(query)}"
                try:
                    pages = list(client.iter_pages(url, decode_call_summaries_page, what="call summaries page"))
                except APIError as exc:
                    if exc.status_code != 403:
                        raise
                    refused.append(member)
                    continue
                for page in pages:
                    rows.extend(page)
    except AuthorizationRevoked as exc:
        current().notify_revoked(exc.account_sid)
        raise
    if refused:
        names = ", ".join(map(shown, refused))
        msg = (
            f"Twilio refused the call summaries of {names} (403): Voice Insights Advanced Features are not "
            f"enabled there, so {'it is' if len(refused) == 1 else 'they are'} left out of the frame. "
            "The customer can turn them on in the Twilio Console (Voice > Settings)."
        )
        warnings.warn(msg, InsightsNotEnabledWarning, stacklevel=2)
    frame = type_call_summaries(rows)
    if end_at is not None:
        frame = frame.filter(pl.col("start_time") < end_at)  # Insights' EndTime includes its instant
    frame = frame.unique(subset="sid", keep="first", maintain_order=True)  # busy lists repeat records (§8.2)
    return frame.sort(["start_time", "sid"], descending=[True, False], maintain_order=True)
