"""`sandbox._bulkexports`: BulkExport's data: which days exist, their gzip JSON-lines files, signed links.

How days come to exist (the sandbox's rule, deterministic from its clock): a UTC
day is exported once it has passed, its file created at midnight of the next day,
and kept for 7 days after creation (``twilio-api-notes.md`` §8.3). So ``Days``
lists the 7 days before the sandbox's ``now`` (today excluded), newest first.

A file holds the day's records of every account the credentials may read, the
Connect guide's ``get-all`` reading also used by Voice Insights (§8.1; whether
Connect credentials may use BulkExport at all is UNCONFIRMED): the owner's own
records for the owner, the customer's whole family for a Connect subaccount.
Records are the list API's own (same SIDs and values), in BulkExport's shape:
ISO 8601 UTC times, no ``uri`` / ``subresource_uris``; messages also lack
``price_unit``, ``api_version`` and ``error_message``; a call's ``price`` is
absent, not null, while it is unknown.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from ._data import AccountData
from ._formats import DAY, day_of, day_start, iso8601
from ._render import call_json, message_json

__all__ = [
    "FILE_LIFETIME_DAYS",
    "LINK_LIFETIME",
    "RESOURCE_TYPES",
    "DayFiles",
    "ResourceType",
    "available_days",
    "created_of",
    "day_file",
    "day_records",
    "link_signature",
]

ResourceType = Literal["Calls", "Messages"]
RESOURCE_TYPES: tuple[ResourceType, ...] = ("Calls", "Messages")
FILE_LIFETIME_DAYS = 7
LINK_LIFETIME = 900  # seconds a redirect's signed link stays valid (sandbox clock); S3 uses minutes too
_CALL_TIMES = (("date_created", "created"), ("date_updated", "updated"), ("start_time", "start"), ("end_time", "end"))
_MESSAGE_TIMES = (("date_created", "created"), ("date_updated", "updated"), ("date_sent", "sent"))
_MESSAGE_DROPPED = ("uri", "subresource_uris", "price_unit", "api_version", "error_message")


def available_days(now: int) -> list[int]:
    """Ordinals of the days whose automatic file exists at ``now``, newest first."""
    today = day_of(now)
    return [
        d for d in range(today - 1, today - 1 - FILE_LIFETIME_DAYS, -1) if _created(d) + FILE_LIFETIME_DAYS * DAY > now
    ]


def _created(ordinal: int) -> int:
    """When a day's automatic file is created: midnight UTC after the day ends."""
    return day_start(ordinal + 1)


def created_of(ordinal: int) -> str:
    """A day file's ``create_date`` as the API writes it (``YYYY-MM-DD``, like the spec's example)."""
    return iso8601(_created(ordinal))[:10]


def _call_record(account_sid: str, data: AccountData, ordinal: int) -> Iterable[dict[str, Any]]:
    for call in data.calls_on(ordinal):
        record = call_json(account_sid, call)
        del record["uri"], record["subresource_uris"]
        for key, attr in _CALL_TIMES:
            value = getattr(call, attr)
            record[key] = None if value is None else iso8601(value)
        if record["price"] is None:
            del record["price"]  # "may not be present" (§8.3)
        yield record


def _message_record(account_sid: str, data: AccountData, ordinal: int) -> Iterable[dict[str, Any]]:
    for message in data.messages_on(ordinal):
        record = message_json(account_sid, message)
        for key in _MESSAGE_DROPPED:
            del record[key]
        for key, attr in _MESSAGE_TIMES:
            record[key] = iso8601(getattr(message, attr))
        yield record


def day_records(resource: ResourceType, ordinal: int, accounts: Iterable[AccountData]) -> list[dict[str, Any]]:
    """The day's records of these accounts in BulkExport's shape, accounts in order, each newest first."""
    build = _call_record if resource == "Calls" else _message_record
    out: list[dict[str, Any]] = []
    for data in accounts:
        out.extend(build(data.account.sid, data, ordinal))
    return out


def day_file(resource: ResourceType, ordinal: int, accounts: Iterable[AccountData]) -> bytes:
    """The day's gzip JSON-lines file; byte-for-byte the same for the same seed (gzip mtime 0)."""
    lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in day_records(resource, ordinal, accounts))
    return gzip.compress(lines.encode(), compresslevel=6, mtime=0)  # zlib's default: level 9 costs twice the time


class DayFiles:
    """Day files made once and kept (the newest ``size`` of them): ``Days`` lists each file's size, and a
    load fetches the same files again, so a year of a busy family is compressed once, not three times."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._files: OrderedDict[tuple[str, int, tuple[str, ...]], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, resource: ResourceType, ordinal: int, accounts: Sequence[AccountData]) -> bytes:
        """``day_file(resource, ordinal, accounts)``, from the cache when it was made before."""
        key = (resource, ordinal, tuple(a.account.sid for a in accounts))
        with self._lock:
            if key in self._files:
                self._files.move_to_end(key)
                return self._files[key]
        body = day_file(resource, ordinal, accounts)
        with self._lock:
            self._files[key] = body
            while len(self._files) > self.size:
                self._files.popitem(last=False)
        return body


def link_signature(secret: str, resource: str, day: str, account_sid: str, expires: int) -> str:
    """The signature of a file link: HMAC-SHA256 over what the link names, keyed by the sandbox's secret."""
    message = f"{resource}\n{day}\n{account_sid}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
