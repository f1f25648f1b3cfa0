"""`sandbox._formats`: UTC days, and the text forms of times, money and numbers the API sends.

Times are UTC epoch seconds and days are ``date`` ordinals throughout the sandbox;
this module turns them into the API's strings (RFC 2822 ``+0000`` in the 2010 API,
ISO 8601 ``Z`` in the v1 APIs). Money is kept in integer units of 0.00001 USD so
that usage records add up to the calls and messages exactly.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime

__all__ = [
    "API_VERSION",
    "DAY",
    "day_of",
    "day_start",
    "formatted_number",
    "iso8601",
    "money",
    "rfc2822",
]

DAY = 86_400
API_VERSION = "2010-04-01"
_ENGLISH_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ENGLISH_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@functools.lru_cache(maxsize=8192)
def _day_prefix(day_number: int) -> str:
    d = date.fromordinal(day_number + _EPOCH_ORDINAL)
    return f"{_ENGLISH_DAYS[d.weekday()]}, {d.day:02d} {_ENGLISH_MONTHS[d.month - 1]} {d.year} "


def rfc2822(epoch: int) -> str:
    """Format a UTC epoch second the way the 2010 API does (``+0000``, English names)."""
    day_number, second = divmod(epoch, DAY)
    hours, second = divmod(second, 3600)
    minutes, second = divmod(second, 60)
    return f"{_day_prefix(day_number)}{hours:02d}:{minutes:02d}:{second:02d} +0000"


def iso8601(epoch: int) -> str:
    """Format a UTC epoch second the way the v1 APIs do (``2015-07-30T20:00:00Z``)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(units: int) -> str:
    """Format an amount in 0.00001 USD units as a 5-decimal string (``-0.01400``)."""
    sign = "-" if units < 0 else ""
    units = abs(units)
    return f"{sign}{units // 100_000}.{units % 100_000:05d}"


def day_start(ordinal: int) -> int:
    """Return the epoch second at which the UTC day with this ordinal starts."""
    return (ordinal - _EPOCH_ORDINAL) * DAY


def day_of(epoch: int) -> int:
    """Return the ordinal of the UTC day that contains this epoch second."""
    return epoch // DAY + _EPOCH_ORDINAL


def formatted_number(e164: str) -> str:
    """Display form Twilio uses: ``(415) 555-0134`` for North America, E.164 otherwise."""
    if e164.startswith("+1") and len(e164) == 12:
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    return e164
