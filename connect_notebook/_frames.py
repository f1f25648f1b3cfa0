"""`_frames`: Twilio's JSON pages to typed polars frames, columnar, with one schema per resource.

A page's bytes go straight to ``pl.read_json`` with an explicit string schema
(no Python object per record), then whole columns are typed at once: RFC 2822
and ISO dates parsed vectorised to UTC datetimes, numeric strings cast, statuses
and directions made Enums. The schemas are fixed, so an empty result has the
same columns and types as a full one.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Sequence
from typing import Any

import polars as pl

from ._exceptions import SchemaError

__all__ = [
    "ACCOUNTS_SCHEMA",
    "ALERTS_SCHEMA",
    "CALLS_SCHEMA",
    "CALL_DIRECTIONS",
    "CALL_STATUSES",
    "MESSAGES_SCHEMA",
    "USAGE_SCHEMA",
    "decode_accounts_page",
    "decode_alerts_page",
    "decode_calls_page",
    "decode_messages_page",
    "decode_usage_page",
    "empty",
    "read_export_file",
    "type_accounts",
    "type_alerts",
    "type_calls",
    "type_messages",
    "type_usage",
]

UTC_TIME = pl.Datetime("us", "UTC")
CALL_STATUSES = ("queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled")
CALL_DIRECTIONS = ("inbound", "outbound-api", "outbound-dial", "trunking-terminating", "trunking-originating")
MESSAGE_STATUSES = (
    "queued",
    "sending",
    "sent",
    "failed",
    "delivered",
    "undelivered",
    "receiving",
    "received",
    "accepted",
    "scheduled",
    "read",
    "partially_delivered",
    "canceled",
)
MESSAGE_DIRECTIONS = ("inbound", "outbound-api", "outbound-call", "outbound-reply")
LOG_LEVELS = ("error", "warning", "notice", "debug")
ACCOUNT_STATUSES = ("active", "suspended", "closed")
ACCOUNT_TYPES = ("Trial", "Full")
_RFC2822 = "%a, %d %b %Y %H:%M:%S %z"
_ISO8601 = "%Y-%m-%dT%H:%M:%S%.f%#z"  # BulkExport's times: ``2025-01-02T03:04:05Z``, fractions and offsets allowed


def _schema(fields: dict[str, Any]) -> pl.Schema:
    return pl.Schema(fields)


CALLS_SCHEMA = _schema(
    {
        "sid": pl.String,
        "parent_call_sid": pl.String,
        "account_sid": pl.String,
        "from": pl.String,
        "to": pl.String,
        "from_formatted": pl.String,
        "to_formatted": pl.String,
        "direction": pl.Enum(CALL_DIRECTIONS),
        "status": pl.Enum(CALL_STATUSES),
        "start_time": UTC_TIME,
        "end_time": UTC_TIME,
        "date_created": UTC_TIME,
        "date_updated": UTC_TIME,
        "duration": pl.Int64,
        "queue_time": pl.Int64,
        "price": pl.Float64,
        "cost": pl.Float64,
        "price_unit": pl.String,
        "answered_by": pl.String,
        "forwarded_from": pl.String,
        "caller_name": pl.String,
        "phone_number_sid": pl.String,
        "trunk_sid": pl.String,
        "group_sid": pl.String,
        "our_number": pl.String,
        "counterpart": pl.String,
    }
)

MESSAGES_SCHEMA = _schema(
    {
        "sid": pl.String,
        "account_sid": pl.String,
        "messaging_service_sid": pl.String,
        "from": pl.String,
        "to": pl.String,
        "direction": pl.Enum(MESSAGE_DIRECTIONS),
        "status": pl.Enum(MESSAGE_STATUSES),
        "body": pl.String,
        "num_segments": pl.Int64,
        "num_media": pl.Int64,
        "price": pl.Float64,
        "cost": pl.Float64,
        "price_unit": pl.String,
        "error_code": pl.Int64,
        "error_message": pl.String,
        "date_created": UTC_TIME,
        "date_sent": UTC_TIME,
        "date_updated": UTC_TIME,
        "our_number": pl.String,
        "counterpart": pl.String,
    }
)

USAGE_SCHEMA = _schema(
    {
        "account_sid": pl.String,
        "category": pl.String,
        "description": pl.String,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "count": pl.Int64,
        "count_unit": pl.String,
        "usage": pl.Float64,
        "usage_unit": pl.String,
        "price": pl.Float64,
        "price_unit": pl.String,
        "as_of": UTC_TIME,
    }
)

ALERTS_SCHEMA = _schema(
    {
        "sid": pl.String,
        "account_sid": pl.String,
        "error_code": pl.String,
        "log_level": pl.Enum(LOG_LEVELS),
        "alert_text": pl.String,
        "more_info": pl.String,
        "request_method": pl.String,
        "request_url": pl.String,
        "resource_sid": pl.String,
        "service_sid": pl.String,
        "date_created": UTC_TIME,
        "date_generated": UTC_TIME,
        "date_updated": UTC_TIME,
    }
)


ACCOUNTS_SCHEMA = _schema(
    {
        "sid": pl.String,
        "friendly_name": pl.String,
        "status": pl.Enum(ACCOUNT_STATUSES),
        "type": pl.Enum(ACCOUNT_TYPES),
        "owner_account_sid": pl.String,
        "date_created": UTC_TIME,
        "date_updated": UTC_TIME,
        "is_connect_subaccount": pl.Boolean,
    }
)


def empty(schema: pl.Schema) -> pl.DataFrame:
    """A frame with no rows and exactly this schema."""
    return pl.DataFrame(schema=schema)


def _wire(fields: Sequence[str], integers: Sequence[str] = ()) -> pl.Struct:
    """The record as it comes over the wire: strings, except the JSON integers named."""
    return pl.Struct({name: pl.Int64 if name in integers else pl.String for name in fields})


_CALL_WIRE = _wire([c for c in CALLS_SCHEMA if c not in ("cost", "our_number", "counterpart")])
_MESSAGE_WIRE = _wire(
    [c for c in MESSAGES_SCHEMA if c not in ("cost", "our_number", "counterpart")], integers=("error_code",)
)
_USAGE_WIRE = _wire(list(USAGE_SCHEMA))
_ALERT_WIRE = _wire(list(ALERTS_SCHEMA))
_ACCOUNT_WIRE = _wire([c for c in ACCOUNTS_SCHEMA if c != "is_connect_subaccount"])


def _read_page(body: bytes, key: str, record: pl.Struct, link: str) -> tuple[pl.DataFrame, str | None]:
    """Parse a list page: the records as string columns, and the next-page link.

    ``link`` is ``next_page_uri`` (2010 API) or ``meta.next_page_url`` (v1 APIs).
    Raises ``ValueError`` for a body that is not a whole JSON page, so the caller retries it.
    """
    schema: dict[str, Any] = {key: pl.List(record)}
    if link == "meta":
        schema["meta"] = pl.Struct({"next_page_url": pl.String})
    else:
        schema["next_page_uri"] = pl.String
    try:
        page = pl.read_json(io.BytesIO(body), schema=schema)
    except Exception as exc:
        msg = f"not a JSON {key} page: {exc}"
        raise ValueError(msg) from exc
    if page.height != 1:
        msg = f"expected one JSON object, got {page.height}"
        raise ValueError(msg)
    next_link = page["meta"].struct.field("next_page_url")[0] if link == "meta" else page["next_page_uri"][0]
    records = page.select(pl.col(key).explode()).drop_nulls().unnest(key)
    return records, next_link


def decode_calls_page(body: bytes) -> tuple[pl.DataFrame, str | None]:
    """One ``Calls.json`` page: its calls as string columns, and ``next_page_uri``."""
    return _read_page(body, "calls", _CALL_WIRE, "next_page_uri")


def decode_messages_page(body: bytes) -> tuple[pl.DataFrame, str | None]:
    """One ``Messages.json`` page: its messages as string columns, and ``next_page_uri``."""
    return _read_page(body, "messages", _MESSAGE_WIRE, "next_page_uri")


def decode_usage_page(body: bytes) -> tuple[pl.DataFrame, str | None]:
    """One ``Usage/Records`` page, and ``next_page_uri``."""
    return _read_page(body, "usage_records", _USAGE_WIRE, "next_page_uri")


def decode_accounts_page(body: bytes) -> tuple[pl.DataFrame, str | None]:
    """One ``Accounts.json`` page, and ``next_page_uri``."""
    return _read_page(body, "accounts", _ACCOUNT_WIRE, "next_page_uri")


def decode_alerts_page(body: bytes) -> tuple[pl.DataFrame, str | None]:
    """One Monitor ``Alerts`` page, and ``meta.next_page_url``."""
    return _read_page(body, "alerts", _ALERT_WIRE, "meta")


def read_export_file(body: bytes, kind: str) -> pl.DataFrame:
    """A BulkExport day file (gzip JSON lines) of ``"calls"`` or ``"messages"``, typed as the list API's frames.

    BulkExport writes the list API's records with ISO 8601 times and without some
    fields (``uri``; for messages ``price_unit`` and ``error_message``; a call's
    unknown ``price``): a field a file lacks is null, and JSON numbers are read as
    the list API's strings, so the typing is the same.
    """
    wire = _CALL_WIRE if kind == "calls" else _MESSAGE_WIRE
    schema = {name: pl.String for name in wire.to_schema()}
    try:
        lines = gzip.decompress(body)
        raw = pl.read_ndjson(io.BytesIO(lines), schema=schema) if lines.strip() else pl.DataFrame(schema=schema)
    except Exception as exc:
        msg = f"not a gzip JSON-lines file of {kind}: {exc}"
        raise ValueError(msg) from exc
    return type_calls(raw, iso_times=True) if kind == "calls" else type_messages(raw, iso_times=True)


def _typed(frame: pl.DataFrame, schema: pl.Schema, exprs: dict[str, pl.Expr], what: str) -> pl.DataFrame:
    """Apply one typing expression per column; a column that does not fit is named in a SchemaError."""
    columns = {
        name: exprs.get(name, pl.col(name)).cast(dtype, strict=True).alias(name) for name, dtype in schema.items()
    }
    try:
        return frame.select(list(columns.values()))
    except (pl.exceptions.PolarsError, ValueError):
        pass
    for name, column in columns.items():  # find the culprit, for the message
        try:
            frame.select(column)
        except (pl.exceptions.PolarsError, ValueError) as exc:
            values = frame[name].drop_nulls().head(3).to_list() if name in frame.columns else "missing"
            msg = f"{what} field {name!r} does not fit {schema[name]} (values such as {values}): {exc}"
            raise SchemaError(msg) from exc
    msg = f"{what} records do not fit their schema"
    raise SchemaError(msg)


def _time(name: str, form: str = _RFC2822) -> pl.Expr:
    # Twilio leaves a never-set time empty ("") or null; both become null.
    return pl.when(pl.col(name) == "").then(None).otherwise(pl.col(name)).str.strptime(UTC_TIME, form, strict=True)


def _number(name: str, dtype: Any) -> pl.Expr:
    return pl.when(pl.col(name) == "").then(None).otherwise(pl.col(name)).cast(dtype, strict=True)


def _inbound(direction: pl.Expr) -> pl.Expr:
    return direction.is_in(["inbound", "trunking-originating"])


def _money_and_parties() -> dict[str, pl.Expr]:
    """``price`` as Twilio signs it, a positive ``cost``, and which side is ours (calls and messages)."""
    inbound = _inbound(pl.col("direction"))
    return {
        "price": _number("price", pl.Float64),
        "cost": -_number("price", pl.Float64),
        "our_number": pl.when(inbound).then(pl.col("to")).otherwise(pl.col("from")),
        "counterpart": pl.when(inbound).then(pl.col("from")).otherwise(pl.col("to")),
    }


def type_calls(raw: pl.DataFrame, *, iso_times: bool = False) -> pl.DataFrame:
    """Type a frame of calls as they came from ``decode_calls_page`` (CALLS_SCHEMA).

    ``iso_times``: the times are ISO 8601, as in BulkExport's files, not RFC 2822.
    """
    if raw.height == 0:
        return empty(CALLS_SCHEMA)
    form = _ISO8601 if iso_times else _RFC2822
    return _typed(
        raw,
        CALLS_SCHEMA,
        {
            **{t: _time(t, form) for t in ("start_time", "end_time", "date_created", "date_updated")},
            "duration": _number("duration", pl.Int64),
            "queue_time": _number("queue_time", pl.Int64),
            **_money_and_parties(),
        },
        "call",
    )


def type_messages(raw: pl.DataFrame, *, iso_times: bool = False) -> pl.DataFrame:
    """Type a frame of messages (MESSAGES_SCHEMA); ``iso_times`` as for ``type_calls``."""
    if raw.height == 0:
        return empty(MESSAGES_SCHEMA)
    form = _ISO8601 if iso_times else _RFC2822
    return _typed(
        raw,
        MESSAGES_SCHEMA,
        {
            **{t: _time(t, form) for t in ("date_created", "date_sent", "date_updated")},
            "num_segments": _number("num_segments", pl.Int64),
            "num_media": _number("num_media", pl.Int64),
            **_money_and_parties(),
        },
        "message",
    )


def type_usage(raw: pl.DataFrame) -> pl.DataFrame:
    """Type a frame of usage records (USAGE_SCHEMA)."""
    if raw.height == 0:
        return empty(USAGE_SCHEMA)
    return _typed(
        raw,
        USAGE_SCHEMA,
        {
            "start_date": pl.col("start_date").str.to_date("%Y-%m-%d", strict=True),
            "end_date": pl.col("end_date").str.to_date("%Y-%m-%d", strict=True),
            "count": _number("count", pl.Int64),
            "usage": _number("usage", pl.Float64),
            "price": _number("price", pl.Float64),
            "as_of": pl.col("as_of").str.strptime(UTC_TIME, "%Y-%m-%dT%H:%M:%S%z", strict=True),
        },
        "usage record",
    )


def type_alerts(raw: pl.DataFrame) -> pl.DataFrame:
    """Type a frame of Monitor alerts (ALERTS_SCHEMA)."""
    if raw.height == 0:
        return empty(ALERTS_SCHEMA)
    return _typed(
        raw,
        ALERTS_SCHEMA,
        {
            t: pl.col(t).str.strptime(UTC_TIME, "%Y-%m-%dT%H:%M:%SZ", strict=True)
            for t in ("date_created", "date_generated", "date_updated")
        },
        "alert",
    )


def type_accounts(raw: pl.DataFrame, connected_sid: str) -> pl.DataFrame:
    """Type a frame of accounts (ACCOUNTS_SCHEMA); ``connected_sid`` marks the Connect subaccount."""
    if raw.height == 0:
        return empty(ACCOUNTS_SCHEMA)
    return _typed(
        raw.with_columns(is_connect_subaccount=pl.lit(None)),
        ACCOUNTS_SCHEMA,
        {
            "date_created": _time("date_created"),
            "date_updated": _time("date_updated"),
            # The SID the app was given, when it is a subaccount: a main account connected directly is not one.
            "is_connect_subaccount": (pl.col("sid") == connected_sid) & (pl.col("owner_account_sid") != pl.col("sid")),
        },
        "account",
    )
