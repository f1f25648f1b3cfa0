"""`_events`: Monitor Events (the account's audit log) as a typed polars frame.

``GET {monitor_url}/v1/Events`` answers for the credentials (no account in its
path): with Connect credentials, for the customer's family, each event under its
own ``account_sid`` (``twilio-api-notes.md`` §8.1, §8.4). ``load_events`` reads
the family through ``/Accounts.json`` like the other loaders, so ``accounts=`` is
checked against it, then pages the log once and keeps the accounts asked for.
Twilio keeps 30 days of events, 13 months on its paid Editions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import polars as pl

from ._arguments import checked_range, retry_policy, up_to_now
from ._client import APIClient
from ._config import ConnectApp
from ._exceptions import AuthorizationRevoked, SchemaError
from ._family import account_sid_of, check_accounts, read_family, select_accounts
from ._kernel import current
from ._redact import shown
from ._retry import RetryPolicy

__all__ = ["EVENTS_SCHEMA", "EVENT_SOURCES", "decode_events_page", "load_events", "type_events"]

UTC_TIME = pl.Datetime("us", "UTC")
# The values the spec documents for ``source`` ("web", "api" or "twilio"); ``actor_type``
# ends its list with "and so on", so it stays a string.
EVENT_SOURCES = ("web", "api", "twilio")
PAGE_SIZE = 1000

_COLUMNS: dict[str, Any] = {
    "sid": pl.String,  # AE…
    "account_sid": pl.String,  # the account of the family whose log holds the event
    "event_date": UTC_TIME,
    "event_type": pl.String,  # RESOURCE_TYPE.ACTION, e.g. phone-number.created
    "resource_type": pl.String,
    "resource_sid": pl.String,
    "actor_type": pl.String,  # user, account, twilio-admin, …
    "actor_sid": pl.String,  # US… or null
    "source": pl.Enum(EVENT_SOURCES),
    "source_ip_address": pl.String,  # null for source "twilio"
    "description": pl.String,
    "event_data": pl.String,  # the event's data object as JSON text (keys sorted), or null
}
EVENTS_SCHEMA = pl.Schema(_COLUMNS)
"""The columns of ``load_events``: one row per event, times in UTC.

``event_data`` holds what changed (for ``….updated`` events, ``{"setting": {"previous": …,
"updated": …}}``); its shape depends on ``event_type``, so it is kept as JSON text:
``pl.col("event_data").str.json_path_match("$.permissions")`` reads a field of it.
"""

_TEXT_FIELDS = [c for c in EVENTS_SCHEMA if c != "event_data"]
_SID_FILTERS = {
    "actor_sid": ("US[0-9a-fA-F]{32}", "a user SID such as 'US…' (32 hex digits after US)"),
    "resource_sid": ("[A-Za-z]{2}[0-9a-fA-F]{32}", "a resource SID such as 'PN…' (two letters, 32 hex digits)"),
}


def decode_events_page(body: bytes) -> tuple[pl.DataFrame, str | None]:
    """One Monitor ``Events`` page: its events as string columns, and ``meta.next_page_url``.

    A body that is not a whole page is a ``ValueError``, so the client fetches it again.
    """
    try:
        page = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"not a JSON events page: {exc}"
        raise ValueError(msg) from exc
    if not isinstance(page, dict) or not isinstance(page.get("events"), list):
        msg = "not a JSON events page: no 'events' list"
        raise ValueError(msg)
    meta = page.get("meta")
    link = meta.get("next_page_url") if isinstance(meta, dict) else None
    columns: dict[str, list[str | None]] = {name: [] for name in EVENTS_SCHEMA}
    for record in page["events"]:
        if not isinstance(record, dict):
            msg = f"not a JSON events page: an event is a {type(record).__name__}, not an object"
            raise ValueError(msg)
        for name in _TEXT_FIELDS:
            value = record.get(name)
            columns[name].append(None if value is None else str(value))
        data = record.get("event_data")
        columns["event_data"].append(None if data is None else json.dumps(data, sort_keys=True, ensure_ascii=False))
    frame = pl.DataFrame(columns, schema=dict.fromkeys(EVENTS_SCHEMA, pl.String))
    return frame, link if isinstance(link, str) else None


def type_events(raw: pl.DataFrame) -> pl.DataFrame:
    """Type a frame of events as ``decode_events_page`` gives them (EVENTS_SCHEMA); a misfit is a SchemaError."""
    if raw.height == 0:
        return pl.DataFrame(schema=EVENTS_SCHEMA)
    exprs = {
        name: (
            pl.col(name).str.strptime(UTC_TIME, "%Y-%m-%dT%H:%M:%SZ", strict=True)
            if name == "event_date"
            else pl.col(name).cast(dtype, strict=True)
        ).alias(name)
        for name, dtype in EVENTS_SCHEMA.items()
    }
    for name, expr in exprs.items():
        try:
            raw.select(expr)
        except (pl.exceptions.PolarsError, ValueError) as exc:
            values = raw[name].drop_nulls().head(3).to_list()
            msg = f"event field {name!r} does not fit {EVENTS_SCHEMA[name]} (values such as {values}): {exc}"
            raise SchemaError(msg) from exc
    return raw.select(list(exprs.values()))


def _text_filter(value: object, name: str, example: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        msg = f"{name} must be a string such as {example!r} (or None for any), got {type(value).__name__}"
        raise TypeError(msg)
    if not value or value != value.strip():
        msg = f"{name} must be a value such as {example!r} without surrounding spaces, got {shown(value)}"
        raise ValueError(msg)
    return value


def _sid_filter(value: object, name: str) -> str | None:
    pattern, what = _SID_FILTERS[name]
    checked = _text_filter(value, name, what.split("'")[1])
    if checked is not None and re.fullmatch(pattern, checked) is None:
        msg = f"{name} must be {what}, got {shown(checked)}; pass None for any"
        raise ValueError(msg)
    return checked


def _stamp(moment: datetime) -> str:
    # isoformat, not strftime: "%Y" writes year 1 as "1", and Monitor wants four digits.
    return moment.replace(tzinfo=None, microsecond=0).isoformat(timespec="seconds") + "Z"


def load_events(
    account: object,
    *,
    accounts: str | Iterable[str] | None = None,
    app: ConnectApp | None = None,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    event_type: str | None = None,
    actor_sid: str | None = None,
    resource_sid: str | None = None,
    source_ip_address: str | None = None,
    retry: RetryPolicy | None = None,
) -> pl.DataFrame:
    """Load the audit log (Monitor Events) of a connected customer's family (schema ``EVENTS_SCHEMA``).

    Parameters
    ----------
    account
        The AccountSid the Connect App received (``AC…``), or a connected account object.
    accounts
        Only these accounts of the family (SIDs from ``cn.accounts(account)``).
    app
        The Connect App; defaults to the active one.
    start, end
        Events recorded in ``[start, end)``; datetimes (naive means UTC), dates or ISO
        strings. Twilio keeps the last 30 days (13 months on a paid Edition): older
        events are simply not there.
    event_type, actor_sid, resource_sid, source_ip_address
        Twilio's filters: ``"phone-number.created"``, a user ``US…``, any resource SID,
        an IP address (exact matches).

    Returns
    -------
    polars.DataFrame
        Newest first, one row per event SID; ``account_sid`` says whose log it is in.

    Raises
    ------
    TypeError, ValueError
        An argument is not one of the kinds or values above, before any request;
        ``ConfigError`` for a malformed AccountSid.
    AuthorizationRevoked
        The account has not authorized the Connect App, or has revoked it.
    APIError, TransportError
        Twilio kept failing after every retry.
    """
    sid = account_sid_of(account)
    check_accounts(accounts)
    start_at, end_at = checked_range(start, end)
    filters = [
        ("EventType", _text_filter(event_type, "event_type", "phone-number.created")),
        ("ActorSid", _sid_filter(actor_sid, "actor_sid")),
        ("ResourceSid", _sid_filter(resource_sid, "resource_sid")),
        ("SourceIpAddress", _text_filter(source_ip_address, "source_ip_address", "203.0.113.7")),
    ]
    retry = retry_policy(retry)
    app = current().resolve_app(app)
    bounded = up_to_now(start_at, end_at, datetime.now(UTC))  # no event is from after now
    if bounded is None:
        return pl.DataFrame(schema=EVENTS_SCHEMA)
    start_at, end_at = bounded
    query = [("PageSize", str(PAGE_SIZE))]
    if start_at is not None:
        query.append(("StartDate", _stamp(start_at)))
    if end_at is not None:
        query.append(("EndDate", _stamp(end_at)))  # inclusive on Twilio's side: the exact end is cut below
    query += [(name, value) for name, value in filters if value is not None]
    try:
        with APIClient(app, sid, retry=retry) as client:
            chosen = select_accounts(read_family(client), sid, accounts)
            url = f"{app.monitor_url}/v1/Events?{urlencode(query)}"
            pages = list(client.iter_pages(url, decode_events_page, what="events page"))
    except AuthorizationRevoked as exc:
        current().notify_revoked(exc.account_sid)
        raise
    frame = type_events(pl.concat(pages) if pages else pl.DataFrame())
    keep = pl.col("account_sid").is_in(chosen)
    if start_at is not None:
        keep &= pl.col("event_date") >= start_at
    if end_at is not None:
        keep &= pl.col("event_date") < end_at
    # Busy logs can repeat an event across pages (§8.2): one row per SID, newest first.
    return (
        frame.filter(keep)
        .unique(subset="sid", keep="first", maintain_order=True)
        .sort(["event_date", "sid"], descending=[True, False], maintain_order=True)
    )
