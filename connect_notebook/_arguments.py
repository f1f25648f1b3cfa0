"""`_arguments`: the checks of the public functions' arguments, done before any request.

Every mistake is a ``TypeError`` (a value of the wrong kind) or ``ValueError`` (the
right kind, out of range) whose message names the parameter and what it allows, so
a careless call fails at once, not after a range was fetched (issue 10). Values are
echoed only through ``shown()``: a token pasted into the wrong field stays masked.
No check raises inside an ``except`` block, so no exception carries the raw value
as its context.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ._redact import shown
from ._retry import RetryPolicy

__all__ = [
    "EARLIEST",
    "LATEST",
    "address",
    "checked_folder",
    "checked_range",
    "choices",
    "flag",
    "folder",
    "instant",
    "one_of",
    "retry_policy",
    "strings",
    "up_to_now",
    "usage_category",
    "whole",
]

EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


def _parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _as_utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; one past the last (or before the first) instant a datetime holds becomes that bound."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # datetime.max at -05:00 is after 9999-12-31 in UTC: as a range bound, the last instant means the same.
        offset = moment.utcoffset()
        return LATEST if offset is not None and offset < timedelta(0) else EARLIEST


def instant(value: object, name: str) -> datetime:
    """A UTC datetime from a datetime (naive means UTC), a date (its midnight) or an ISO string."""
    if isinstance(value, str):
        parsed = _parse_iso(value)
        if parsed is None:
            msg = f"{name} must be a date or time such as '2026-10-01' or '2026-10-01T12:00:00Z', got {shown(value)}"
            raise ValueError(msg)
        value = parsed
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else _as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    msg = (
        f"{name} must be a datetime, a date or an ISO 8601 string such as '2026-10-01' (or None), "
        f"got {type(value).__name__}"
    )
    raise TypeError(msg)


def checked_range(start: object, end: object) -> tuple[datetime | None, datetime | None]:
    """Parse an optional ``[start, end)``; an end before its start is a ValueError, before any request."""
    start_at = instant(start, "start") if start is not None else None
    end_at = instant(end, "end") if end is not None else None
    if start_at is not None and end_at is not None and end_at < start_at:
        msg = f"end ({end_at.isoformat()}) is before start ({start_at.isoformat()}); pass an end after the start"
        raise ValueError(msg)
    return start_at, end_at


def strings(values: object, name: str, *, expected: str, every: str, each: str) -> list[str] | None:
    """One string or several as a list (None stays None): a wrong type is a TypeError, an empty list a ValueError.

    ``expected`` says what the argument may be, ``every`` what None selects, ``each`` what an item must be.
    """
    if values is None:
        return None
    if isinstance(values, str):
        return [values]
    if isinstance(values, bytes | bytearray | Mapping) or not isinstance(values, Iterable):
        msg = f"{name} must be {expected}, got {type(values).__name__}"
        raise TypeError(msg)
    chosen = list(values)
    if not chosen:
        msg = f"{name} is empty, and an empty list selects nothing; pass None for {every}"
        raise ValueError(msg)
    for value in chosen:
        if not isinstance(value, str):
            msg = f"{name} must hold {each}, got {shown(value)} ({type(value).__name__})"
            raise TypeError(msg)
    return chosen


def up_to_now(
    start_at: datetime | None, end_at: datetime | None, now: datetime
) -> tuple[datetime | None, datetime | None] | None:
    """``[start_at, end_at)`` with its end clamped to ``now``; None when nothing in it can have happened yet.

    That is a range wholly in the future, an empty one, or one that ends at the first instant.
    """
    if end_at is not None:
        end_at = min(end_at, now)
    if end_at == EARLIEST or (
        start_at is not None and (start_at >= now or (end_at is not None and start_at >= end_at))
    ):
        return None
    return start_at, end_at


def choices(values: object, allowed: Sequence[str], name: str) -> list[str] | None:
    """One value or several, each from the schema's Enum, so a typo is an error, not an empty frame."""
    names = ", ".join(allowed)
    chosen = strings(
        values, name, expected=f"one of {names}, or a list of them", every=f"every {name}", each=f"strings from {names}"
    )
    unknown = [v for v in chosen or () if v not in allowed]
    if unknown:
        msg = f"{name} must be one or more of {names}; got {', '.join(map(shown, unknown))}"
        raise ValueError(msg)
    return chosen


def one_of(value: object, allowed: Sequence[str], name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        msg = f"{name} must be one of {', '.join(allowed)} (or None for all), got {type(value).__name__}"
        raise TypeError(msg)
    if value not in allowed:
        msg = f"{name} must be one of {', '.join(allowed)} (or None for all), got {shown(value)}"
        raise ValueError(msg)
    return value


def address(value: object, name: str) -> str | None:
    """A ``to`` / ``from_`` filter: a phone number, ``client:…`` or ``sip:…`` address, as Twilio shows it."""
    if value is None:
        return None
    if not isinstance(value, str):
        msg = (
            f"{name} must be a phone number or address string such as '+15551234567' (or None for any), "
            f"got {type(value).__name__}"
        )
        raise TypeError(msg)
    if not value.strip():
        msg = f"{name} must be a phone number or address such as '+15551234567', got {shown(value)}; pass None for any"
        raise ValueError(msg)
    return value


def usage_category(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        msg = f"category must be a usage category string such as 'calls' or 'sms-outbound', got {type(value).__name__}"
        raise TypeError(msg)
    if not value or any(c.isspace() for c in value):
        msg = f"category must be a usage category such as 'calls' or 'sms-outbound' (no spaces), got {shown(value)}"
        raise ValueError(msg)
    return value


def flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        msg = f"{name} must be True or False, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def whole(value: object, name: str, lo: int, hi: int, hint: str = "") -> int:
    """A whole number in ``lo … hi``; bool is an int to Python, but ``True`` here is a mistake."""
    allowed = f"{name} must be a whole number from {lo} to {hi}"
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{allowed}{hint}, got {type(value).__name__}"
        raise TypeError(msg)
    if not lo <= value <= hi:
        msg = f"{allowed}{hint}, got {shown(value)}"
        raise ValueError(msg)
    return value


def retry_policy(value: object) -> RetryPolicy | None:
    if value is not None and not isinstance(value, RetryPolicy):
        msg = f"retry must be a RetryPolicy such as cn.RetryPolicy(attempts=3) (or None), got {type(value).__name__}"
        raise TypeError(msg)
    return value


def folder(value: object, name: str = "cache_dir", *, none_means: str = "the app's cache_dir") -> Path | None:
    """A folder argument as a path, ``~`` expanded (None stays None: ``none_means``); checked for type, no I/O."""
    if value is None:
        return None
    try:
        path = Path(value) if isinstance(value, str | os.PathLike) else None
    except TypeError:  # a path-like whose path is bytes
        path = None
    if path is None:
        kind = type(value).__name__
        msg = f"{name} must be a folder path (a str or pathlib.Path), or None for {none_means}, got {kind}"
        raise TypeError(msg)
    if isinstance(value, str) and not value.strip():
        msg = f"{name} must be a folder path, got an empty string; pass None for {none_means}"
        raise ValueError(msg)
    try:
        return path.expanduser()
    except RuntimeError:  # ``~user`` of an unknown user
        msg = f"{name} must be a folder path whose ~ can be expanded, got {shown(value)}; pass an absolute path"
    raise ValueError(msg)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def checked_folder(root: Path, *, from_app: bool, create: bool, name: str = "cache_dir") -> Path:
    """``root`` if it is (or, with ``create``, can be made) a folder: a file in the way is a ValueError now.

    ``name`` is the argument the errors name; a ``cache_dir`` may also be None (no cache).
    """
    hint = ", or None for no cache" if name == "cache_dir" else ""
    name = f"{name} (the app's, or CONNECT_NOTEBOOK_CACHE_DIR)" if from_app else name
    blocker = next((p for p in (root, *root.parents) if _exists(p)), None)
    if blocker is not None and not blocker.is_dir():
        msg = (
            f"{name} must be a folder, but {shown(blocker.name)} in {shown(str(blocker.parent))} is a file; "
            f"pass a folder path (it is created if missing){hint}"
        )
        raise ValueError(msg)
    if not create:
        return root
    try:
        root.mkdir(parents=True, exist_ok=True)
        return root
    except OSError as exc:
        problem = exc.strerror or type(exc).__name__  # not str(exc): it repeats the path in full
    msg = (
        f"{name} must be a folder that can be created, but creating {shown(str(root))} failed ({problem}); "
        f"pass a folder you can write to{hint}"
    )
    raise ValueError(msg)
