"""`sandbox._query`: list parameters, date filters and paging, as the 2010 API does them.

Two kinds of list exist. Calls and messages live in UTC days and are paged with
``PA<sid>`` / ``PB<sid>`` cursors (the SID of the last / first record of the
current page, as in Twilio's examples). Small lists (usage records, alerts) are
paged with an opaque offset token.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from ._errors import bad_request

__all__ = ["ListParams", "Page", "day_page", "list_page", "parse_date", "parse_params"]

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_PAGING = ("PageSize", "Page", "PageToken")
# A few North American zone abbreviations appear in Twilio's own spec examples.
_ZONES = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
}


@dataclass(frozen=True)
class ListParams:
    """The query of a list request, split into filters (echoed in URIs) and paging."""

    filters: tuple[tuple[str, str], ...]
    page_size: int
    page: int
    token: str | None

    def get(self, name: str) -> str | None:
        """Return the value of filter ``name``, or None when not given."""
        for key, value in self.filters:
            if key == name:
                return value
        return None

    def uri(self, path: str, page: int, token: str | None) -> str:
        """Return ``path`` with the filters and the given page, as Twilio echoes it."""
        pairs = [*self.filters, ("PageSize", str(self.page_size)), ("Page", str(page))]
        if token is not None:
            pairs.append(("PageToken", token))
        return f"{path}?{urlencode(pairs)}"


def parse_params(pairs: Sequence[tuple[str, str]], allowed: Sequence[str]) -> ListParams:
    """Validate a list query: known filters once each, PageSize 1…1000, Page ≥ 0."""
    seen: dict[str, str] = {}
    filters = []
    for key, value in pairs:
        if key in seen:
            msg = f"Parameter '{key}' was given more than once; give it once"
            raise bad_request(msg)
        seen[key] = value
        if key in allowed:
            filters.append((key, value))
    page_size = _integer(seen, "PageSize", DEFAULT_PAGE_SIZE)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        msg = f"PageSize must be between 1 and {MAX_PAGE_SIZE}, got {page_size}"
        raise bad_request(msg)
    page = _integer(seen, "Page", 0)
    if page < 0:
        msg = f"Page must be 0 or more, got {page}"
        raise bad_request(msg)
    token = seen.get("PageToken") or None
    if page > 0 and token is None:
        # Absolute paging was retired in 2015; Twilio answers exactly this (twilio-api-notes.md §8.2).
        msg = "PageToken is required for paging."
        raise bad_request(msg)
    return ListParams(tuple(filters), page_size, page, token)


def _integer(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"[+-]?\d{1,9}", raw.strip()):
        msg = f"{name} must be a whole number, got {raw[:40]!r}"
        raise bad_request(msg)
    return int(raw)


def parse_date(name: str, value: str) -> date:
    """Parse a date filter to the UTC day it names.

    Accepts ``YYYY-MM-DD``, ISO 8601 with a time (``…T03:04:05Z``, as twilio-python
    sends), RFC 2822, and the two odd forms in Twilio's spec examples
    (``2019-06-11 22:05:25.000``, ``06/11/2019 22:05:25 MST``). The filters work on
    whole UTC days, so a time of day only selects the day it falls on.
    """
    text = value.strip()
    moment: datetime | None = None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?", text):
            moment = datetime.fromisoformat(text)
        elif m := re.fullmatch(r"(\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2}):(\d{2})(?: ([A-Z]{1,4}))?", text):
            month, day, year, hh, mm, ss, zone = m.groups()
            if zone is not None and zone not in _ZONES:
                raise ValueError(zone)
            tz = timedelta(hours=_ZONES.get(zone or "UTC", 0))
            moment = datetime(int(year), int(month), int(day), int(hh), int(mm), int(ss)) - tz
            moment = moment.replace(tzinfo=UTC)
        elif re.match(r"[A-Za-z]{3}, ", text):
            moment = email.utils.parsedate_to_datetime(text)
            # email.utils reads years below 100 as 19xx/20xx ("0001" becomes 2001): refuse, don't guess.
            year = re.search(r"\b(\d{4})\b", text)
            if moment is not None and (year is None or int(year.group(1)) != moment.year):
                moment = None
    except (ValueError, TypeError, OverflowError):
        moment = None
    if moment is not None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        try:
            return moment.astimezone(UTC).date()
        except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past the last representable day
            pass
    msg = f"{name} must be a date such as 2024-01-31 (UTC), an ISO 8601 time or an RFC 2822 date, got {value[:40]!r}"
    raise bad_request(msg)


@dataclass(frozen=True)
class Page:
    """One page of a list: its records and the tokens of its neighbours."""

    items: list[Any]
    next_token: str | None
    previous_token: str | None


def day_page(
    params: ListParams,
    days_desc: Sequence[int],
    records_on: Callable[[int], Sequence[T]],
    keep: Callable[[T], bool],
    sid_of: Callable[[T], str],
    locate: Callable[[str], tuple[int, int] | None],
) -> Page:
    """Return one page of a day-partitioned, newest-first list.

    ``days_desc`` are the candidate UTC days, newest first; ``keep`` is the filter;
    ``locate`` turns a record SID back into ``(day, index)`` for cursors.
    """
    size = params.page_size
    rank = {d: i for i, d in enumerate(days_desc)}

    def forward(after: tuple[int, int] | None, limit: int) -> list[T]:
        found: list[T] = []
        start_rank, start_index = (0, 0) if after is None else (rank.get(after[0], -1), after[1] + 1)
        if after is not None and start_rank < 0:
            # The cursor's day is outside the candidates: continue with older days.
            start_rank = next((i for i, d in enumerate(days_desc) if d < after[0]), len(days_desc))
            start_index = 0
        for r in range(start_rank, len(days_desc)):
            records = records_on(days_desc[r])
            for record in records[start_index if r == start_rank else 0 :]:
                if keep(record):
                    found.append(record)
                    if len(found) == limit:
                        return found
        return found

    def backward(before: tuple[int, int], limit: int) -> list[T]:
        found: list[T] = []
        start_rank = rank.get(before[0])
        if start_rank is None:
            start_rank = next((i for i in range(len(days_desc) - 1, -1, -1) if days_desc[i] > before[0]), -1)
            start_index = None
        else:
            start_index = before[1] - 1
        for r in range(start_rank, -1, -1):
            records = records_on(days_desc[r])
            top = start_index if (r == start_rank and start_index is not None) else len(records) - 1
            for i in range(min(top, len(records) - 1), -1, -1):
                if keep(records[i]):
                    found.append(records[i])
                    if len(found) == limit:
                        return found[::-1]
        return found[::-1]

    token = params.token
    if token is None:
        items = forward(None, size + 1)  # the first page: parse_params refuses Page > 0 without a token
        has_next, has_previous, items = len(items) > size, False, items[:size]
    elif token[:2] in ("PA", "PB") and (where := locate(token[2:])) is not None:
        if token.startswith("PA"):
            items = forward(where, size + 1)
            has_next, has_previous, items = len(items) > size, True, items[:size]
        else:
            items = backward(where, size + 1)
            has_next, has_previous, items = True, len(items) > size, items[-size:]
    else:
        msg = f"Invalid PageToken {token[:40]!r}; use the next_page_uri of a previous page"
        raise bad_request(msg)
    if not items:
        return Page([], None, None)
    return Page(
        items,
        "PA" + sid_of(items[-1]) if has_next else None,
        "PB" + sid_of(items[0]) if has_previous else None,
    )


def list_page(params: ListParams, items: Sequence[T]) -> Page:
    """Return one page of a small in-memory list, with opaque offset tokens."""
    size = params.page_size
    offset = 0 if params.token is None else _decode_offset(params.token)
    chunk = list(items[offset : offset + size])
    following = offset + size < len(items)
    return Page(
        chunk,
        _encode_offset(offset + size) if following and chunk else None,
        _encode_offset(max(offset - size, 0)) if offset > 0 and chunk else None,
    )


def _encode_offset(offset: int) -> str:
    return base64.b64encode(f"PT{offset}".encode()).decode()


def _decode_offset(token: str) -> int:
    try:
        text = base64.b64decode(token, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not re.fullmatch(r"PT\d{1,9}", text):
        msg = f"Invalid PageToken {token[:40]!r}; use the next_page_uri of a previous page"
        raise bad_request(msg)
    return int(text[2:])
