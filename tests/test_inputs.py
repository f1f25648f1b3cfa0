"""Careless input to the public loaders: a clear ValueError / TypeError (or ConfigError) before any request.

The table ``BAD`` lists, for every parameter of every public loader (found with
``inspect.signature``, so a new parameter without a row fails ``test_every_parameter_has_bad_values``),
values a hurried analyst could pass: wrong types, booleans where numbers are expected,
empties, out of range, NaN, huge. Each must raise the exception its row names, with a
message that names the parameter, and the sandbox's request log must stay empty.
``RetryPolicy`` and ``ConnectApp`` get the same treatment for their fields.

Then the edges the tables cannot express: a secret pasted into a parameter is never
echoed; the extreme datetimes mean "unbounded"; a range wholly in the future costs no
request; and a hypothesis property over every loader's arguments: a project error
before any request, or the right frame (checked against the sandbox's ground truth).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import random
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from loader_support import (
    NOBODY,
    _utc,
    authorized,
    clear_log,
    expected_calls,
    expected_messages,
    family_truth,
    fetched_days,
    logged,
    total_requests,
)
from polars.testing import assert_frame_equal

import connect_notebook as cn
from connect_notebook import (
    ACCOUNTS_SCHEMA,
    ALERTS_SCHEMA,
    CALLS_SCHEMA,
    MESSAGES_SCHEMA,
    USAGE_SCHEMA,
    ConfigError,
    ConnectApp,
    RetryPolicy,
)
from connect_notebook._kernel import app_for_sandbox
from connect_notebook.sandbox import Profile, Sandbox

TOKEN = "5f3a9c0e7b2d4f6a8c1e3b5d7f9a0c2e"  # shaped like an Auth Token, easy to spot in a message
NAN = float("nan")
TODAY = datetime.now(UTC).date()
# A past range near today (no data in the pinned session sandbox, and inside Twilio's 400 days of messages).
RANGE = {"start": (TODAY - timedelta(days=3)).isoformat(), "end": (TODAY - timedelta(days=2)).isoformat()}
FUTURE = {"start": (TODAY + timedelta(days=30)).isoformat(), "end": (TODAY + timedelta(days=40)).isoformat()}
PROJECT_ERRORS = (ValueError, TypeError, ConfigError)


def _a_file(tmp: Path, name: str = "a-file") -> Path:
    path = tmp / name
    path.write_text("not a folder")
    return path


@dataclass(frozen=True)
class Made:
    """A bad value that needs the test's temporary folder to exist (a file, a path under a file)."""

    make: Callable[[Path], Any]
    label: str

    def __repr__(self) -> str:
        return self.label


A_FILE = Made(_a_file, "an-existing-file")
UNDER_A_FILE = Made(lambda tmp: _a_file(tmp) / "cache", "a-folder-under-a-file")


def bad(value: Any, error: type[BaseException], label: str) -> Any:
    return pytest.param(value, error, id=label)


# --- the table: every parameter, values that must be refused before any request ---------------

BAD: dict[str, list[Any]] = {
    "account": [
        bad(12345, TypeError, "int"),
        bad(b"AC" + b"0" * 32, TypeError, "bytes"),
        bad({"sid": "AC" + "0" * 32}, TypeError, "dict"),
        bad(["AC" + "0" * 32], TypeError, "list"),
        bad(None, ConfigError, "none"),
        bad("", ConfigError, "empty"),
        bad("AC123", ConfigError, "too-short"),
        bad("CA" + "0" * 32, ConfigError, "call-sid"),
    ],
    "accounts": [
        bad([], ValueError, "empty-list"),
        bad((), ValueError, "empty-tuple"),
        bad("", ConfigError, "empty-string"),
        bad(5, TypeError, "int"),
        bad(b"AC" + b"0" * 32, TypeError, "bytes"),
        bad([5], TypeError, "list-of-int"),
        bad([None], TypeError, "list-of-none"),
        bad("AC123", ConfigError, "malformed-sid"),
        bad(["AC123"], ConfigError, "list-of-malformed-sid"),
    ],
    "app": [
        bad({}, TypeError, "empty-dict"),
        bad(0, TypeError, "zero"),
        bad("https://api.twilio.com", TypeError, "url-string"),
        bad(False, TypeError, "false"),
    ],
    "start": [
        bad(20261001, TypeError, "int"),
        bad(1.5, TypeError, "float"),
        bad(NAN, TypeError, "nan"),
        bad(True, TypeError, "bool"),
        bad(b"2026-10-01", TypeError, "bytes"),
        bad(["2026-10-01"], TypeError, "list"),
        bad("", ValueError, "empty-string"),
        bad("last tuesday", ValueError, "words"),
        bad("2026-13-01", ValueError, "month-13"),
    ],
    "status": [
        bad([], ValueError, "empty-list"),
        bad((), ValueError, "empty-tuple"),
        bad("", ValueError, "empty-string"),
        bad(5, TypeError, "int"),
        bad(b"completed", TypeError, "bytes"),
        bad(["completed", 5], TypeError, "list-with-an-int"),
        bad("complete", ValueError, "typo"),
        bad(True, TypeError, "bool"),
    ],
    "to": [
        bad(12345, TypeError, "int"),
        bad(15551234567.0, TypeError, "float"),
        bad(["+1"], TypeError, "list"),
        bad(b"+15551234567", TypeError, "bytes"),
        bad("", ValueError, "empty-string"),
        bad(True, TypeError, "bool"),
    ],
    "progress": [
        bad("no", TypeError, "string"),
        bad(1, TypeError, "int"),
        bad(None, TypeError, "none"),
    ],
    "cache_dir": [
        bad(5, TypeError, "int"),
        bad(b"/tmp/cache", TypeError, "bytes"),
        bad(["cache"], TypeError, "list"),
        bad(True, TypeError, "bool"),
        bad("", ValueError, "empty-string"),
        bad(A_FILE, ValueError, "an-existing-file"),
        bad(UNDER_A_FILE, ValueError, "not-creatable"),
    ],
    "concurrency": [
        bad("8", TypeError, "string"),
        bad(True, TypeError, "bool"),
        bad(2.5, TypeError, "float"),
        bad(8.0, TypeError, "whole-float"),
        bad(NAN, TypeError, "nan"),
        bad(0, ValueError, "zero"),
        bad(-1, ValueError, "negative"),
        bad(65, ValueError, "over-64"),
        bad(10**9, ValueError, "huge"),
    ],
    "lookback_days": [
        bad(10**9, ValueError, "huge"),
        bad(-1, ValueError, "negative"),
        bad(True, TypeError, "bool"),
        bad(2.5, TypeError, "float"),
        bad(NAN, TypeError, "nan"),
        bad("3", TypeError, "string"),
        bad(None, TypeError, "none"),
    ],
    "retry": [
        bad(5, TypeError, "int"),
        bad({"attempts": 3}, TypeError, "dict"),
        bad(True, TypeError, "bool"),
    ],
    "category": [
        bad(5, TypeError, "int"),
        bad(["calls"], TypeError, "list"),
        bad(b"calls", TypeError, "bytes"),
        bad("", ValueError, "empty-string"),
        bad("calls inbound", ValueError, "with-a-space"),
    ],
    "log_level": [
        bad(5, TypeError, "int"),
        bad(["error"], TypeError, "list"),
        bad("", ValueError, "empty-string"),
        bad("err", ValueError, "typo"),
        bad("ERROR", ValueError, "upper-case"),
    ],
}
BAD["end"] = BAD["start"]
BAD["direction"] = [*BAD["status"][:-2], bad("outbound", ValueError, "typo")]
BAD["from_"] = BAD["to"]
BAD["refresh"] = BAD["progress"]
# A scan reads the cache folder, it never creates one: a path under a file is just an empty cache.
SCAN_BAD = {
    "account": [p for p in BAD["account"] if p.id != "none"],  # None: every account in the cache
    "cache_dir": [p for p in BAD["cache_dir"] if p.id != "not-creatable"],
}


@dataclass(frozen=True)
class Public:
    """A public loader and the arguments that make a call valid but for the one under test."""

    fn: Callable[..., Any]
    valid: dict[str, Any]
    overrides: dict[str, list[Any]] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.fn.__name__

    def bad_values(self, parameter: str) -> list[Any]:
        return self.overrides.get(parameter, BAD.get(parameter, []))


PUBLIC = [
    Public(cn.load_calls, {**RANGE, "progress": False}),
    Public(cn.load_messages, {**RANGE, "progress": False}),
    Public(cn.load_usage, dict(RANGE)),
    Public(cn.load_alerts, dict(RANGE)),
    Public(cn.scan_calls, {"cache_dir": Made(lambda tmp: tmp, "tmp")}, SCAN_BAD),
    Public(cn.scan_messages, {"cache_dir": Made(lambda tmp: tmp, "tmp")}, SCAN_BAD),
    Public(cn.accounts, {}),
    Public(cn.customer, {}),
]


def call(public: Public, connected: str, app: ConnectApp, tmp: Path, /, **given: Any) -> Any:
    """Call a public loader with valid arguments, except those ``given``."""
    kwargs: dict[str, Any] = {"app": app, **public.valid, **given}
    kwargs = {k: v.make(tmp) if isinstance(v, Made) else v for k, v in kwargs.items()}
    account = kwargs.pop("account", connected)
    return public.fn(account, **kwargs)


def _rows() -> Iterator[Any]:
    for public in PUBLIC:
        for parameter in inspect.signature(public.fn).parameters:
            for row in public.bad_values(parameter):
                value, error = row.values
                yield pytest.param(public, parameter, value, error, id=f"{public.name}-{parameter}-{row.id}")


def test_every_public_loader_is_in_the_table() -> None:
    exported = {
        name
        for name in cn.__all__
        if getattr(getattr(cn, name), "__module__", "") in ("connect_notebook._loaders", "connect_notebook._family")
    }
    assert exported == {p.name for p in PUBLIC}


@pytest.mark.parametrize("public", PUBLIC, ids=lambda p: p.name)
def test_every_parameter_has_bad_values(public: Public) -> None:
    # A parameter added to a loader must come with the values it refuses.
    missing = [name for name in inspect.signature(public.fn).parameters if not public.bad_values(name)]
    assert missing == []


@pytest.mark.parametrize(("public", "parameter", "value", "error"), list(_rows()))
def test_a_bad_value_is_refused_before_any_request(
    sandbox: Sandbox,
    connected: str,
    app: ConnectApp,
    tmp_path: Path,
    public: Public,
    parameter: str,
    value: Any,
    error: type[BaseException],
) -> None:
    with pytest.raises(error) as info:
        call(public, connected, app, tmp_path, **{parameter: value})
    message = str(info.value)
    assert parameter in message
    assert "must" in message or "pass None" in message  # what is allowed, not only what went wrong
    assert sandbox.requests == {}


@pytest.mark.parametrize(
    ("public", "given"),
    [
        pytest.param(PUBLIC[0], {"to": 12345}, id="calls-to-int"),
        pytest.param(PUBLIC[0], {"status": []}, id="calls-status-empty"),
        pytest.param(PUBLIC[0], {"lookback_days": -1}, id="calls-lookback-negative"),
        pytest.param(PUBLIC[1], {"from_": ["+1"]}, id="messages-from-list"),
        pytest.param(PUBLIC[1], {"cache_dir": A_FILE}, id="messages-cache-dir-a-file"),
        pytest.param(PUBLIC[2], {"category": 5}, id="usage-category-int"),
        pytest.param(PUBLIC[3], {"log_level": "err"}, id="alerts-log-level-typo"),
    ],
)
def test_a_range_in_the_future_still_refuses_bad_values(
    sandbox: Sandbox, connected: str, app: ConnectApp, tmp_path: Path, public: Public, given: dict[str, Any]
) -> None:
    # The early return for a future range comes after every check, not before.
    with pytest.raises((ValueError, TypeError)):
        call(public, connected, app, tmp_path, **FUTURE, **given)
    assert sandbox.requests == {}


# --- messages that say what was expected -------------------------------------------------------


@pytest.mark.parametrize(
    "account", [pytest.param(12345, id="int"), pytest.param(b"AC", id="bytes"), pytest.param({}, id="dict")]
)
def test_an_account_of_the_wrong_type_is_named_by_its_type_not_none(
    sandbox: Sandbox, app: ConnectApp, account: Any
) -> None:
    with pytest.raises(TypeError) as info:
        cn.load_calls(account, app=app, progress=False)
    message = str(info.value)
    assert message.startswith("account must be an AccountSid string such as 'AC…'")
    assert f"got {type(account).__name__}" in message
    assert "None" not in message
    assert sandbox.requests == {}


@pytest.mark.parametrize("parameter", ["status", "direction", "accounts"])
def test_an_empty_list_says_it_selects_nothing_and_to_pass_none(
    sandbox: Sandbox, connected: str, app: ConnectApp, parameter: str
) -> None:
    with pytest.raises(ValueError) as info:
        cn.load_calls(connected, app=app, progress=False, **RANGE, **{parameter: []})
    message = str(info.value)
    assert message.startswith(f"{parameter} is empty")
    assert "selects nothing" in message
    assert "None" in message
    assert sandbox.requests == {}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param({"to": 12345}, "to must be a phone number", id="to-int"),
        pytest.param({"from_": ["+1"]}, "from_ must be a phone number", id="from-list"),
        pytest.param({"app": {}}, "app must be a ConnectApp", id="app-dict"),
        pytest.param({"concurrency": "8"}, "concurrency must be a whole number from 1 to 64", id="concurrency-str"),
        pytest.param({"concurrency": True}, "concurrency must be a whole number from 1 to 64", id="concurrency-bool"),
        pytest.param({"lookback_days": 10**9}, "lookback_days must be a whole number from 0 to", id="lookback-huge"),
        pytest.param({"cache_dir": 5}, "cache_dir must be a folder", id="cache-dir-int"),
    ],
)
def test_the_message_says_what_is_allowed(
    sandbox: Sandbox, connected: str, app: ConnectApp, given: dict[str, Any], expected: str
) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        cn.load_calls(connected, **{"app": app, "progress": False, **RANGE, **given})
    assert str(info.value).startswith(expected)
    assert sandbox.requests == {}


def test_a_cache_dir_that_is_a_file_is_refused_before_any_request_naming_the_file(
    sandbox: Sandbox, connected: str, app: ConnectApp, tmp_path: Path
) -> None:
    path = _a_file(tmp_path)
    with pytest.raises(ValueError, match="cache_dir must be a folder") as info:
        cn.load_calls(connected, app=app, cache_dir=path, progress=False, **RANGE)
    assert "a-file" in str(info.value)
    assert sandbox.requests == {}
    assert path.read_text() == "not a folder"


def test_the_apps_cache_dir_is_checked_too(sandbox: Sandbox, connected: str, app: ConnectApp, tmp_path: Path) -> None:
    app = dataclasses.replace(app, cache_dir=_a_file(tmp_path) / "cache")
    with pytest.raises(ValueError, match="cache_dir"):
        cn.load_calls(connected, app=app, progress=False, **RANGE)
    assert sandbox.requests == {}


# --- a secret pasted into a parameter is never echoed ------------------------------------------


def _texts(exc: BaseException | None) -> Iterator[str]:
    """Every string an exception shows, its causes and contexts included."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield str(exc)
        yield repr(exc)
        yield from (str(arg) for arg in exc.args)
        exc = exc.__cause__ or exc.__context__


PASTED = [
    pytest.param(PUBLIC[0], {"start": TOKEN}, id="start"),
    pytest.param(PUBLIC[0], {"end": TOKEN}, id="end"),
    pytest.param(PUBLIC[0], {"start": f"2026-10-01T{TOKEN}"}, id="start-after-a-date"),
    pytest.param(PUBLIC[0], {"status": TOKEN}, id="status"),
    pytest.param(PUBLIC[0], {"status": ["completed", TOKEN]}, id="status-in-a-list"),
    pytest.param(PUBLIC[0], {"direction": TOKEN}, id="direction"),
    pytest.param(PUBLIC[0], {"to": TOKEN.encode()}, id="to-bytes"),
    pytest.param(PUBLIC[0], {"to": [TOKEN]}, id="to-list"),
    pytest.param(PUBLIC[1], {"from_": [TOKEN]}, id="from-list"),
    pytest.param(PUBLIC[0], {"cache_dir": TOKEN.encode()}, id="cache-dir-bytes"),
    pytest.param(PUBLIC[0], {"cache_dir": Made(lambda tmp: _a_file(tmp, TOKEN), "token-file")}, id="cache-dir-a-file"),
    pytest.param(PUBLIC[0], {"cache_dir": Made(lambda tmp: _a_file(tmp) / TOKEN, "token")}, id="cache-dir-uncreatable"),
    pytest.param(PUBLIC[4], {"cache_dir": Made(lambda tmp: _a_file(tmp, TOKEN), "token-file")}, id="scan-cache-dir"),
    pytest.param(PUBLIC[0], {"accounts": TOKEN}, id="accounts"),
    pytest.param(PUBLIC[0], {"accounts": [TOKEN]}, id="accounts-list"),
    pytest.param(PUBLIC[0], {"accounts": ["AC" + TOKEN]}, id="accounts-sid-shaped"),
    pytest.param(PUBLIC[2], {"accounts": "AC" + TOKEN}, id="usage-accounts-sid-shaped"),
    pytest.param(PUBLIC[3], {"log_level": TOKEN}, id="log-level"),
    pytest.param(PUBLIC[2], {"category": f"{TOKEN} calls"}, id="category"),
    pytest.param(PUBLIC[2], {"category": [TOKEN]}, id="category-list"),
    pytest.param(PUBLIC[0], {"account": TOKEN}, id="account"),
    pytest.param(PUBLIC[6], {"account": TOKEN.encode()}, id="accounts-fn-account-bytes"),
]


@pytest.mark.parametrize(("public", "given"), PASTED)
def test_a_token_pasted_into_a_parameter_is_never_echoed(
    sandbox: Sandbox, connected: str, app: ConnectApp, tmp_path: Path, public: Public, given: dict[str, Any]
) -> None:
    with pytest.raises(PROJECT_ERRORS) as info:
        call(public, connected, app, tmp_path, **given)
    texts = list(_texts(info.value))
    assert [t for t in texts if TOKEN in t or TOKEN[4:28] in t] == []
    assert next(iter(given)) in str(info.value)  # still says which parameter


# --- RetryPolicy and ConnectApp: the same table for their fields -------------------------------

RETRY_BAD: dict[str, list[Any]] = {
    "attempts": [
        bad(0, ValueError, "zero"),
        bad(-1, ValueError, "negative"),
        bad(10**6, ValueError, "huge"),
        bad(True, TypeError, "bool"),
        bad(2.5, TypeError, "float"),
        bad("3", TypeError, "string"),
        bad(None, TypeError, "none"),
    ],
    "base_delay": [
        bad(-1, ValueError, "negative"),
        bad(NAN, ValueError, "nan"),
        bad(math.inf, ValueError, "infinite"),
        bad(1e12, ValueError, "huge"),
        bad(True, TypeError, "bool"),
        bad("0.2", TypeError, "string"),
        bad(None, TypeError, "none"),
    ],
    "sleep": [bad(5, TypeError, "int"), bad(None, TypeError, "none")],
    "rng": [bad(5, TypeError, "int"), bad(random, TypeError, "the-random-module"), bad(None, TypeError, "none")],
}
RETRY_BAD["max_delay"] = RETRY_BAD["base_delay"]


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        pytest.param(field, *row.values, id=f"{field}-{row.id}")
        for field in inspect.signature(RetryPolicy).parameters
        for row in RETRY_BAD.get(field, [])
    ],
)
def test_a_bad_retry_policy_field_is_refused(field: str, value: Any, error: type[BaseException]) -> None:
    with pytest.raises(error) as info:
        RetryPolicy(**{field: value})
    assert str(info.value).startswith(f"{field} must be")


def test_every_retry_policy_field_has_bad_values() -> None:
    assert [f for f in inspect.signature(RetryPolicy).parameters if f not in RETRY_BAD] == []


def test_a_valid_retry_policy_still_works() -> None:
    policy = RetryPolicy(attempts=1, base_delay=0, max_delay=0.0, sleep=lambda _: None, rng=random.Random(1))
    assert policy.delay(1, None) == 0.0
    assert RetryPolicy(base_delay=1, max_delay=5).delay(3, 10.0) == 5


OWNER = "AC" + "1" * 32
APP_SID = "CN" + "2" * 32
APP_BAD: dict[str, list[Any]] = {
    "account_sid": [bad(5, ConfigError, "int"), bad("AC123", ConfigError, "malformed")],
    "auth_token": [bad(5, ConfigError, "int"), bad("", ConfigError, "empty")],
    "connect_app_sid": [bad(5, ConfigError, "int"), bad(OWNER, ConfigError, "an-account-sid")],
    "api_url": [bad(5, ConfigError, "int"), bad(b"https://api.twilio.com", ConfigError, "bytes")],
    "cache_dir": [
        bad(5, ConfigError, "int"),
        bad(b"/tmp", ConfigError, "bytes"),
        bad("", ConfigError, "empty-string"),
        bad(True, ConfigError, "bool"),
    ],
    "concurrency": [
        bad(True, ConfigError, "bool"),
        bad(False, ConfigError, "false"),
        bad("8", ConfigError, "string"),
        bad(2.5, ConfigError, "float"),
        bad(None, ConfigError, "none"),
        bad(0, ConfigError, "zero"),
        bad(65, ConfigError, "over-64"),
    ],
    "call_retention_days": [
        bad(True, ConfigError, "bool"),
        bad("395", ConfigError, "string"),
        bad(395.0, ConfigError, "float"),
        bad(None, ConfigError, "none"),
        bad(6, ConfigError, "under-a-week"),
        bad(20 * 366 + 1, ConfigError, "over-20-years"),
    ],
}
APP_BAD["monitor_url"] = APP_BAD["insights_url"] = APP_BAD["bulkexports_url"] = APP_BAD["authorize_base_url"] = APP_BAD[
    "api_url"
]


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        pytest.param(field, *row.values, id=f"{field}-{row.id}")
        for field in inspect.signature(ConnectApp).parameters
        for row in APP_BAD.get(field, [])
    ],
)
def test_a_bad_connect_app_field_is_a_config_error_naming_it(
    field: str, value: Any, error: type[BaseException]
) -> None:
    fields: dict[str, Any] = {"account_sid": OWNER, "auth_token": TOKEN, "connect_app_sid": APP_SID, field: value}
    with pytest.raises(error) as info:
        ConnectApp(**fields)
    assert type(info.value) is ConfigError
    assert str(info.value).startswith(field)
    assert TOKEN not in str(info.value)


def test_every_connect_app_field_has_bad_values() -> None:
    assert [f for f in inspect.signature(ConnectApp).parameters if f not in APP_BAD] == []


# --- the edges of time: unbounded, empty, in the future ----------------------------------------

LATEST = datetime.max.replace(tzinfo=UTC)
EARLIEST = datetime.min.replace(tzinfo=UTC)
EAST, WEST = timezone(timedelta(hours=5)), timezone(timedelta(hours=-5))
ENDLESS = [
    pytest.param(LATEST, id="aware-max"),
    pytest.param(datetime.max.replace(tzinfo=WEST), id="aware-max-west-of-utc"),
    pytest.param(datetime.max.replace(tzinfo=EAST), id="aware-max-east-of-utc"),
    pytest.param(LATEST.isoformat(), id="aware-max-iso"),
    pytest.param(datetime.max.replace(tzinfo=WEST).isoformat(), id="aware-max-west-iso"),
    pytest.param(datetime.max, id="naive-max"),
    pytest.param(date.max, id="date-max"),
]
BEGINNING = [
    pytest.param(EARLIEST, id="aware-min"),
    pytest.param(datetime.min.replace(tzinfo=EAST), id="aware-min-east-of-utc"),
    pytest.param(datetime.min.replace(tzinfo=WEST), id="aware-min-west-of-utc"),
    pytest.param(EARLIEST.isoformat(), id="aware-min-iso"),
    pytest.param(datetime.min.replace(tzinfo=EAST).isoformat(), id="aware-min-east-iso"),
    pytest.param(datetime.min, id="naive-min"),
    pytest.param(date.min, id="date-min"),
]


def _loads(sandbox: Sandbox, connected: str, app: ConnectApp) -> dict[str, Callable[..., pl.DataFrame]]:
    """Each loader on an account that has data for it (Monitor answers the owner's own alerts)."""
    return {
        "calls": lambda **kw: cn.load_calls(connected, app=app, progress=False, **kw),
        "messages": lambda **kw: cn.load_messages(connected, app=app, progress=False, **kw),
        "usage": lambda **kw: cn.load_usage(connected, app=app, **kw),
        "alerts": lambda **kw: cn.load_alerts(sandbox.owner_account_sid, app=app, **kw),
    }


KINDS = ["calls", "messages", "usage", "alerts"]
SCHEMAS = {"calls": CALLS_SCHEMA, "messages": MESSAGES_SCHEMA, "usage": USAGE_SCHEMA, "alerts": ALERTS_SCHEMA}
RECENT = datetime(2026, 10, 2, tzinfo=UTC)  # a month before the session sandbox's clock; the owner's alerts follow
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)  # before any account of the session sandbox


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("end", ENDLESS)
def test_the_latest_datetime_as_end_means_up_to_now(
    sandbox: Sandbox, connected: str, app: ConnectApp, kind: str, end: Any
) -> None:
    load = _loads(sandbox, connected, app)[kind]
    expected = load(start=RECENT)
    assert expected.height > 0
    clear_log(sandbox)
    assert_frame_equal(load(start=RECENT, end=end), expected)
    if kind in ("calls", "messages"):
        # Clamped to now: not one request for a day after today.
        assert max(max(days) for days in fetched_days(sandbox, kind).values()) <= datetime.now(UTC).date()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("start", BEGINNING)
def test_the_earliest_datetime_as_start_means_from_the_beginning(
    sandbox: Sandbox, connected: str, app: ConnectApp, kind: str, start: Any
) -> None:
    load = _loads(sandbox, connected, app)[kind]
    with warnings.catch_warnings():
        # Messages warn that Twilio keeps 400 days and load from there: that is the point of the warning.
        warnings.filterwarnings("ignore", "Twilio keeps messages", UserWarning)
        # Usage and alerts send the start: compare with one before any account, not with Twilio's default.
        expected = load(start=datetime.now(UTC) - timedelta(400) if kind == "messages" else LONG_AGO, end=RECENT)
        got = load(start=start, end=RECENT)
    assert_frame_equal(got, expected)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("end", BEGINNING)
def test_the_earliest_datetime_as_end_is_an_empty_frame(
    sandbox: Sandbox, connected: str, app: ConnectApp, kind: str, end: Any
) -> None:
    load = _loads(sandbox, connected, app)[kind]
    # No account existed then, so nothing is missed: the frame is empty, whatever the lists' retention.
    assert_frame_equal(load(end=end), pl.DataFrame(schema=SCHEMAS[kind]))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "start",
    [
        *ENDLESS,
        pytest.param(FUTURE["start"], id="next-month"),
        # Made when the test runs, not when it is collected (a long session would catch up with it).
        pytest.param(Made(lambda _: datetime.now(UTC) + timedelta(minutes=5), "soon"), id="in-five-minutes"),
    ],
)
def test_a_range_wholly_in_the_future_is_an_empty_frame_without_a_request(
    sandbox: Sandbox, connected: str, app: ConnectApp, tmp_path: Path, kind: str, start: Any
) -> None:
    load = _loads(sandbox, connected, app)[kind]
    start = start.make(tmp_path) if isinstance(start, Made) else start
    assert_frame_equal(load(start=start), pl.DataFrame(schema=SCHEMAS[kind]))
    assert sandbox.requests == {}


@pytest.mark.parametrize("kind", KINDS)
def test_a_future_start_and_end_cost_no_request_even_with_a_cache(
    sandbox: Sandbox, connected: str, app: ConnectApp, tmp_path: Path, kind: str
) -> None:
    load = _loads(sandbox, connected, app)[kind]
    given = {**FUTURE, "cache_dir": tmp_path} if kind in ("calls", "messages") else FUTURE
    assert_frame_equal(load(**given), pl.DataFrame(schema=SCHEMAS[kind]))
    assert sandbox.requests == {}


def test_a_far_future_end_from_a_recent_start_is_bounded_by_today(
    sandbox: Sandbox, connected: str, app: ConnectApp
) -> None:
    start = datetime.now(UTC) - timedelta(days=2)
    frame = cn.load_calls(connected, app=app, start=start, end=LATEST, progress=False)
    assert_frame_equal(frame, pl.DataFrame(schema=CALLS_SCHEMA))  # the pinned sandbox has nothing that recent
    days = set().union(*fetched_days(sandbox).values())
    assert days and max(days) <= datetime.now(UTC).date()
    assert total_requests(sandbox) < 20


def test_an_end_in_the_past_without_a_start_is_an_empty_frame_not_end_before_start(
    sandbox: Sandbox, connected: str, app: ConnectApp
) -> None:
    # No start was given, so no "end is before start (…)": each account simply has nothing before 2001.
    frame = cn.load_calls(connected, app=app, end="2001-01-01", progress=False)
    assert_frame_equal(frame, pl.DataFrame(schema=CALLS_SCHEMA))
    assert [(r.resource, r.times) for r in logged(sandbox)] == [("Accounts.json", 1)]


@pytest.mark.parametrize("kind", ["usage", "calls"])
def test_an_empty_range_is_an_empty_frame(sandbox: Sandbox, connected: str, app: ConnectApp, kind: str) -> None:
    # start == end: [start, end) holds nothing (Twilio would refuse EndDate before StartDate for usage).
    load = _loads(sandbox, connected, app)[kind]
    assert_frame_equal(load(start="2026-10-20", end="2026-10-20"), pl.DataFrame(schema=SCHEMAS[kind]))
    if kind == "usage":
        assert sandbox.requests == {}


def test_alerts_from_the_earliest_datetime_send_a_four_digit_year(sandbox: Sandbox, app: ConnectApp) -> None:
    cn.load_alerts(sandbox.owner_account_sid, app=app, start=EARLIEST, end=RECENT)
    [request] = logged(sandbox, "Alerts")
    assert request.query["StartDate"] == "0001-01-01T00:00:00Z"


# --- the property: a project error before any request, or the right frame ----------------------
#
# Each argument is drawn from good values and bad ones. An example is all good, has one bad
# argument, or mixes freely, so that most examples load a frame and the others each refuse
# something; which exception is not predicted, only that it is ours and came before any request.


@pytest.fixture(scope="module")
def solo_sandbox() -> Iterator[tuple[Sandbox, str, str]]:
    """One plain account with five days of calls up to now (the real clock), authorized."""
    with Sandbox(seed=5, customers=[Profile(name="Solo", days=5, calls=200)], calls_per_customer=200, days=5) as sb:
        main, connected = authorized(sb)
        yield sb, main, connected


@pytest.fixture(scope="module")
def folders() -> Iterator[tuple[Path, Path]]:
    """A cache folder the examples share (what one caches, the next reads), and a file."""
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder) / "cache", _a_file(Path(folder))


def _bound(value: Any) -> datetime | None:
    """What a start / end argument means, from its definition (aware datetimes compare without conversion)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


Choices = dict[str, tuple[list[Any], list[Any]]]  # argument: (good values, bad values)


def _draw(draw: Any, choices: Choices) -> dict[str, Any]:
    mode = draw(st.sampled_from(["good", "good", "one-bad", "one-bad", "mixed"]))
    spoiled = draw(st.sampled_from(sorted(choices))) if mode == "one-bad" else None
    drawn = {}
    for name, (good, bad) in choices.items():
        pool = good if mode == "good" or (spoiled is not None and name != spoiled) else bad if spoiled else good + bad
        drawn[name] = draw(st.sampled_from(pool))
    return drawn


def _common(sb: Sandbox, connected: str) -> Choices:
    now = sb.now
    moments = [
        None,
        now - timedelta(days=2, hours=5),
        (now - timedelta(days=1, hours=3)).replace(tzinfo=None),  # naive: UTC
        (now - timedelta(days=3)).astimezone(WEST),
        (now - timedelta(days=4)).date(),
        (now - timedelta(hours=20)).isoformat(),
        (now - timedelta(days=1)).date().isoformat(),
        EARLIEST,
        LATEST,
        datetime.max.replace(tzinfo=WEST),
        datetime.min.replace(tzinfo=EAST).isoformat(),
        now + timedelta(days=3),
        "2001-01-01",
    ]
    return {
        "account": ([connected], [12345, b"AC", {}, "AC123", None]),
        # Drawn by name: hypothesis prints a dataclass field by field, the Auth Token too.
        "app": (["the-app"], ["a-dict", "a-string"]),
        "start": (moments, [20261001, "soon", True, NAN]),
        "end": (moments, [20261001, "soon", True, NAN]),
        "retry": ([None, RetryPolicy(attempts=2, sleep=lambda _: None)], [5]),
    }


def _windowed(sb: Sandbox, main: str, connected: str, folders: tuple[Path, Path]) -> Choices:
    cache, a_file = folders
    calls = sb.calls(main)[:3]
    return {
        "accounts": ([None, None, main, [main, connected], [connected]], [[], [5], "AC123"]),
        "to": ([None, None, calls[0]["to"], NOBODY], [12345, ["+1"], ""]),
        "from_": ([None, None, calls[-1]["from"]], [12345, b"+1"]),
        "cache_dir": ([None, cache, str(cache)], [5, "", a_file]),
        "refresh": ([False, True], [1, None]),
        "concurrency": ([None, 1, 4], [0, True, "8", 2.5, 65]),
        "lookback_days": ([3, 0, 30], [-1, True, 10**9, 2.5]),
        "progress": ([False], ["no"]),
    }


def _args(drawn: dict[str, Any], app: ConnectApp) -> tuple[Any, dict[str, Any]]:
    kwargs = dict(drawn)
    kwargs["app"] = {"the-app": app, "a-dict": {}, "a-string": "app"}[kwargs["app"]]
    return kwargs.pop("account"), kwargs


def _outcome(load: Callable[[], Any], sb: Sandbox) -> tuple[Any, BaseException | None]:
    clear_log(sb)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result, error = load(), None
        except Exception as exc:  # the property is about which exceptions appear
            result, error = None, exc
    assert [str(w.message) for w in caught if "Twilio keeps messages for 400 days" not in str(w.message)] == []
    event("a frame" if error is None else type(error).__name__)  # --hypothesis-show-statistics
    if error is not None:
        assert isinstance(error, PROJECT_ERRORS), f"{type(error).__name__}: {error}"
        assert sb.requests == {}, f"{type(error).__name__} after requests: {error}"
    return result, error


def _expected(sb: Sandbox, main: str, kind: str, kwargs: dict[str, Any]) -> pl.DataFrame:
    """The ground truth of the family, filtered as the arguments say, one record at a time."""
    column = "start_time" if kind == "calls" else "date_sent"
    start, end = _bound(kwargs.get("start")), _bound(kwargs.get("end"))

    def one_or_many(value: Any) -> list[Any] | None:
        return [value] if isinstance(value, str) else None if value is None else list(value)

    accounts, statuses = one_or_many(kwargs.get("accounts")), one_or_many(kwargs.get("status"))
    directions = one_or_many(kwargs.get("direction"))
    records = []
    for r in family_truth(sb, main, kind):
        moment = _utc(r[column])
        assert moment is not None
        if (start is not None and moment < start) or (end is not None and moment >= end):
            continue
        if accounts is not None and r["account_sid"] not in accounts:
            continue
        if (statuses is not None and r["status"] not in statuses) or (
            directions is not None and r["direction"] not in directions
        ):
            continue
        if kwargs.get("to") not in (None, r["to"]) or kwargs.get("from_") not in (None, r["from"]):
            continue
        records.append(r)
    return expected_calls(records) if kind == "calls" else expected_messages(records)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_load_calls_is_a_project_error_before_any_request_or_the_ground_truth(
    solo_sandbox: tuple[Sandbox, str, str], folders: tuple[Path, Path], data: st.DataObject
) -> None:
    sb, main, connected = solo_sandbox
    choices = {
        **_common(sb, connected),
        **_windowed(sb, main, connected, folders),
        "status": ([None, None, "completed", ["completed", "busy"]], [[], "complete", 5]),
        "direction": ([None, None, "inbound", ("outbound-api",)], [[], "outbound"]),
    }
    account, kwargs = _args(_draw(data.draw, choices), app_for_sandbox(sb))
    frame, error = _outcome(lambda: cn.load_calls(account, **kwargs), sb)
    if error is None:
        assert_frame_equal(frame, _expected(sb, main, "calls", kwargs))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_load_messages_is_a_project_error_before_any_request_or_the_ground_truth(
    solo_sandbox: tuple[Sandbox, str, str], folders: tuple[Path, Path], data: st.DataObject
) -> None:
    sb, main, connected = solo_sandbox
    choices = {**_common(sb, connected), **_windowed(sb, main, connected, folders)}
    account, kwargs = _args(_draw(data.draw, choices), app_for_sandbox(sb))
    frame, error = _outcome(lambda: cn.load_messages(account, **kwargs), sb)
    if error is None:
        # A start before Twilio's 400 days moves up to them; the sandbox has nothing that old anyway.
        assert_frame_equal(frame, _expected(sb, main, "messages", kwargs))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_other_loaders_are_a_project_error_before_any_request_or_a_well_formed_frame(
    solo_sandbox: tuple[Sandbox, str, str], folders: tuple[Path, Path], data: st.DataObject
) -> None:
    sb, main, connected = solo_sandbox
    common = _common(sb, connected)
    which = data.draw(st.sampled_from(["usage", "alerts", "scan_calls", "scan_messages", "accounts", "customer"]))
    if which == "usage":
        choices = {
            **common,
            "accounts": ([None, main, [connected]], [[], [5]]),
            "category": ([None, "calls", "sms"], ["", 5, "calls inbound"]),
        }
        account, kwargs = _args(_draw(data.draw, choices), app_for_sandbox(sb))
        frame, error = _outcome(lambda: cn.load_usage(account, **kwargs), sb)
        if error is None:
            start, end = _bound(kwargs["start"]), _bound(kwargs["end"])
            assert frame.schema == USAGE_SCHEMA
            assert all(start is None or d >= start.date() for d in frame["start_date"])
            assert all(end is None or datetime(d.year, d.month, d.day, tzinfo=UTC) < end for d in frame["start_date"])
            assert set(frame["account_sid"]) <= set(sb.family(main))
            assert kwargs["category"] is None or set(frame["category"]) <= {kwargs["category"]}
    elif which == "alerts":
        choices = {**common, "log_level": ([None, "error", "warning"], ["", "err", 5])}
        account, kwargs = _args(_draw(data.draw, choices), app_for_sandbox(sb))
        frame, error = _outcome(lambda: cn.load_alerts(account, **kwargs), sb)
        if error is None:
            start, end = _bound(kwargs["start"]), _bound(kwargs["end"])
            assert frame.schema == ALERTS_SCHEMA
            assert all((start is None or t >= start) and (end is None or t <= end) for t in frame["date_created"])
    elif which in ("scan_calls", "scan_messages"):
        cache, a_file = folders
        choices = {
            "account": ([connected, None], common["account"][1][:-1]),  # None: every account in the cache
            "app": common["app"],
            "cache_dir": ([cache, str(cache)], [5, "", a_file]),
        }
        account, kwargs = _args(_draw(data.draw, choices), app_for_sandbox(sb))
        scan = cn.scan_calls if which == "scan_calls" else cn.scan_messages
        lazy, error = _outcome(lambda: scan(account, **kwargs), sb)
        if error is None:
            frame = lazy.collect()
            assert frame.schema == (CALLS_SCHEMA if which == "scan_calls" else MESSAGES_SCHEMA)
            assert frame["sid"].is_unique().all()
            assert set(frame["account_sid"]) <= set(sb.family(main))
    else:
        account, kwargs = _args(
            _draw(data.draw, {"account": common["account"], "app": common["app"]}), app_for_sandbox(sb)
        )
        fn = cn.accounts if which == "accounts" else cn.customer
        result, error = _outcome(lambda: fn(account, **kwargs), sb)
        if error is None and which == "accounts":
            assert result.schema == ACCOUNTS_SCHEMA
            assert sorted(result["sid"]) == sorted(sb.family(main))
        elif error is None:
            assert result.customer_sid == main
