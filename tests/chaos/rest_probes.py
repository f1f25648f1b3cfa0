"""Hostile requests at the sandbox's REST API: what to send, who sends it, and how to judge the answer.

Support for ``tests/chaos/test_rest_fuzz.py``. ``rest_probes(world, ...)`` is a
hypothesis strategy for one request on one resource: PageSize, Page, PageToken, the
date filters, SIDs in the path, the method, a form body and the credentials are all
drawn (or one of them fixed), from strategies that shrink towards a plain, well-formed
GET. ``World`` holds
what the strategies start from (who may call, real SIDs and page tokens), read from a
running sandbox by ``build_world``. ``judge_rest`` says why an answer is wrong, or None.
"""

from __future__ import annotations

import base64
import email.utils
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, quote_from_bytes, urlsplit

import httpx
from hypothesis import strategies as st

from connect_notebook.sandbox import Sandbox

__all__ = [
    "ACCOUNT_ENDPOINTS",
    "BAD_CREDENTIALS",
    "DATE_FILTERS",
    "METHODS",
    "REST_ENDPOINTS",
    "TIMEOUT",
    "RestProbe",
    "World",
    "build_world",
    "credentials",
    "judge_rest",
    "rest_probes",
    "send",
]

TIMEOUT = 60.0  # a hang guard: no answer within this is a failure, never a speed figure
ERROR_KEYS = {"code", "message", "more_info", "status"}
REST_ENDPOINTS = (
    "Calls",
    "Calls/{CA}",
    "Messages",
    "Messages/{SM}",
    "Usage/Records",
    "Alerts",
    "Alerts/{NO}",
    "ConnectApps",
    "ConnectApps/{CN}",
    "Accounts",
    "Accounts/{AC}",
    "AuthorizedConnectApps",
)
# The resources whose path names an account (/2010-04-01/Accounts/{AC}/…).
ACCOUNT_ENDPOINTS = tuple(e for e in REST_ENDPOINTS if e not in ("Accounts", "Alerts", "Alerts/{NO}"))
METHODS = ("HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")  # the methods besides GET
BAD_CREDENTIALS = (
    "no-auth",
    "wrong-token",
    "bearer",
    "not-base64",
    "no-colon",
    "not-utf8",
    "not-authorized",
    "main-account",  # an authorized customer's main account SID with the owner's token: Connect refuses it
)


@dataclass(frozen=True)
class RestProbe:
    """One request to the sandbox's REST API; ``path`` and ``query`` are sent byte for byte.

    ``who`` names the credentials (``get-all``, ``post-all`` or one of ``BAD_CREDENTIALS``),
    never the token itself, so a probe is safe to print.
    """

    endpoint: str
    method: str
    path: str
    query: str
    body: bytes | None
    who: str
    names: tuple[str, ...] = ()  # the query parameter names it carries, in order
    other_account: bool = False  # the path names an account other than the caller's customer's main account

    def describe(self) -> str:
        """The request as one line (method, target, credentials, start of the body)."""
        body = f" -d {self.body[:80]!r}" if self.body else ""
        return f"{self.method} {self.path}{'?' + self.query if self.query else ''} as {self.who}{body}"


@dataclass(frozen=True)
class World:
    """What the REST probes know: who may call, and real SIDs and page tokens to start from."""

    reader: str  # Connect subaccount of a customer authorized with get-all (what requests authenticate as)
    writer: str  # Connect subaccount of a customer authorized with get-all and post-all
    stranger: str  # main account of a customer that has not authorized the app
    reader_main: str  # the reader's customer's main account: where its calls live
    writer_main: str
    owner: str
    connect_app_sid: str
    call_sids: tuple[str, ...]
    foreign_call_sids: tuple[str, ...]
    message_sids: tuple[str, ...]
    alert_sids: tuple[str, ...]
    page_tokens: tuple[str, ...]


_PAGING = ("PageSize", "Page", "PageToken")
_FILTERS = {
    "Calls": tuple("To From ParentCallSid Status StartTime StartTime< StartTime> EndTime EndTime< EndTime>".split()),
    "Messages": ("To", "From", "DateSent", "DateSent<", "DateSent>"),
    "Usage/Records": ("Category", "StartDate", "EndDate", "IncludeSubaccounts"),
    "Alerts": ("LogLevel", "StartDate", "EndDate"),
    "Accounts": ("FriendlyName", "Status"),
    "ConnectApps": (),
    "AuthorizedConnectApps": (),
}
DATE_FILTERS = frozenset(
    name for names in _FILTERS.values() for name in names if name.startswith(("Start", "End", "Date"))
)
_USAGE_KINDS = ("", "AllTime", "Daily", "LastMonth", "Monthly", "ThisMonth", "Today", "Yearly", "Yesterday")
_ZONES = ("UTC", "GMT", "Z", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT", "XYZ", "CET")
_FORM_NAMES = tuple(
    "To From Url Twiml Body MediaUrl MessagingServiceSid FriendlyName Permissions DeauthorizeCallbackUrl x".split()
)
_CHOICES = {
    "Status": [*"queued completed busy failed no-answer canceled in-progress ringing active COMPLETED".split(), ""],
    "Category": ["calls", "sms", "totalprice", "calls-inbound", "phonenumbers", "nope", ""],
    "LogLevel": ["error", "warning", "notice", "debug", "ERROR", ""],
    "IncludeSubaccounts": ["true", "false", "1", ""],
    "To": ["+14155550100", "+4915112345678", "client:alice", ""],
    "From": ["+14155550100", "+4915112345678", ""],
}

# Bytes that are never UTF-8: a known bad sequence, or any bytes around one of 0xF8-0xFF
# (no UTF-8 text contains those), built rather than filtered so that it shrinks.
_BAD_UTF8 = st.one_of(
    st.sampled_from(
        [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xe2\x82", b"\x80", b"\xf8\x88\x80\x80\x80"]
    ),
    st.builds(
        lambda head, bad, tail: head + bytes([bad]) + tail,
        st.binary(max_size=6),
        st.integers(0xF8, 0xFF),
        st.binary(max_size=5),
    ),
)


def _enc(value: str | bytes) -> str:
    return quote_from_bytes(value if isinstance(value, bytes) else value.encode(), safe="")


def _query(pairs: Sequence[tuple[str | bytes, str | bytes]]) -> bytes:
    return "&".join(f"{_enc(k)}={_enc(v)}" for k, v in pairs).encode()


# --- values ---------------------------------------------------------------------------


def _numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-5, 1_005).map(str),
        st.integers(-(10**12), 10**12).map(str),
        st.sampled_from(
            [
                "",
                " ",
                "0",
                "1",
                "1000",
                "1001",
                "+5",
                "-0",
                "05",
                "5.0",
                "1e3",
                "0x10",
                "５",
                "٥",
                " 7 ",
                "999999999",
                "9999999999",
                "NaN",
                "null",
                "[]",
                "1_000",
            ]
        ),
        st.text(max_size=8),
    )


def _offsets() -> st.SearchStrategy[str]:
    return st.builds(lambda sign, n: f"{sign}{n}days", st.sampled_from(["+", "-", ""]), st.integers(0, 10**12))


def _fixed_zone() -> st.SearchStrategy[timezone]:
    return st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-23 * 60 - 59, 23 * 60 + 59))


# The first and last days of the calendar, where a UTC offset pushes a moment out of range.
_EDGE_MOMENTS = st.builds(
    lambda d, zone: d.replace(tzinfo=zone),
    st.sampled_from(
        [datetime(1, 1, 1), datetime(1, 1, 1, 12), datetime(9999, 12, 31, 12), datetime(9999, 12, 31, 23, 59, 59)]
    ),
    _fixed_zone(),
)


def _twilio_dates() -> st.SearchStrategy[str]:
    """Every date form the 2010 list filters accept, over the whole calendar, and junk."""
    moments = st.one_of(st.datetimes(timezones=_fixed_zone()), _EDGE_MOMENTS)
    return st.one_of(
        st.dates().map(date.isoformat),
        st.builds(lambda m, sep: m.isoformat(sep=sep), moments, st.sampled_from(["T", " "])),
        moments.map(lambda m: m.isoformat().replace("+00:00", "Z")),
        moments.map(email.utils.format_datetime),
        st.builds(
            lambda m, z: m.strftime("%m/%d/%Y %H:%M:%S") + (f" {z}" if z else ""),
            st.datetimes(min_value=datetime(1, 1, 1)),
            st.sampled_from(["", *_ZONES]),
        ),
        st.sampled_from(
            [
                "",
                " ",
                "2024-02-30",
                "2024-13-01",
                "0000-01-01",
                "0001-01-01",
                "9999-12-31",
                "10000-01-01",
                "2024-1-1",
                "-30days",
                "now",
                "2024-01-01T25:00:00Z",
                "2024-01-01T00:00:00+24:00",
                "1e9",
                "2026-10-31T00:00:00.000Z",
            ]
        ),
        st.text(max_size=30),
    )


def _usage_dates(kind: str) -> st.SearchStrategy[str]:
    """StartDate / EndDate for a usage kind.

    The sandbox builds every Daily and Monthly period of the range (eight records each)
    before it cuts a page from them, so a 0001–9999 daily range takes minutes and
    gigabytes, not a 4xx: for those two kinds the dates stay within a few decades, which
    keeps a request bounded. Offsets that overflow are kept (they fail before any period is
    built); the other kinds get the whole calendar.
    """
    if kind == "Daily":
        window = st.dates(date(2018, 1, 1), date(2035, 12, 31))
        offsets = st.builds(
            lambda n: f"{n:+d}days",
            st.one_of(st.integers(-3_000, 3_000), st.integers(10**7, 10**12), st.integers(-(10**12), -(10**7))),
        )
    elif kind == "Monthly":
        window = st.dates(date(1900, 1, 1), date(2100, 12, 31))
        offsets = st.builds(
            lambda n: f"{n:+d}days", st.one_of(st.integers(-50_000, 27_000), st.integers(10**7, 10**12))
        )
    else:
        window = st.dates()
        offsets = _offsets()
    return st.one_of(
        window.map(date.isoformat),
        offsets,
        st.sampled_from(["", "today", "2024-02-30", "20240101", "2024-W01-1", "-days"]),
        st.text(max_size=12),
    )


def _alert_dates() -> st.SearchStrategy[str]:
    moments = st.one_of(st.datetimes(timezones=st.one_of(st.none(), _fixed_zone())), _EDGE_MOMENTS)
    return st.one_of(
        st.dates().map(date.isoformat),
        moments.map(lambda m: m.isoformat().replace("+00:00", "Z")),
        st.sampled_from(["", "2026-10-31T00:00:00Z", "2026-13-01", "yesterday", "2026-10-31T24:00:00Z"]),
        st.text(max_size=24),
    )


def _tokens(world: World) -> st.SearchStrategy[str]:
    sids = [*world.call_sids, *world.message_sids]
    return st.one_of(
        st.sampled_from(world.page_tokens),
        st.builds(
            lambda p, s: p + s,
            st.sampled_from(["PA", "PB", "pa", "PC", ""]),
            st.sampled_from([*sids, *world.foreign_call_sids]),
        ),
        st.builds(lambda p, s: p + s.upper(), st.sampled_from(["PA", "PB"]), st.sampled_from(sids)),
        st.from_regex(r"P[AB](CA|SM)[0-9a-f]{32}", fullmatch=True),
        st.integers(-(10**12), 10**12).map(lambda n: base64.b64encode(f"PT{n}".encode()).decode()),
        st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode()),
        st.builds(lambda t, junk: t + junk, st.sampled_from(world.page_tokens), st.text(max_size=6)),
        st.sampled_from(["", "PA", "PB", "PT", "null", "None"]),
        st.text(max_size=40),
    )


def _value(name: str, endpoint: str, kind: str, world: World) -> st.SearchStrategy[str]:
    if name in ("PageSize", "Page"):
        return _numbers()
    if name == "PageToken":
        return _tokens(world)
    if endpoint == "Usage/Records" and name in ("StartDate", "EndDate"):
        return _usage_dates(kind)
    if endpoint == "Alerts" and name in ("StartDate", "EndDate"):
        return _alert_dates()
    if name.startswith(("StartTime", "EndTime", "DateSent")):
        return _twilio_dates()
    choices = {**_CHOICES, "ParentCallSid": ["CA" + "0" * 32, *world.call_sids[:3], ""]}
    return st.one_of(st.sampled_from(choices.get(name, [""])), st.text(max_size=30))


# --- SIDs in the path -------------------------------------------------------------------


def _account_in_path(who_sid: str, world: World) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                "AC" + who_sid[2:].upper(),
                world.reader if who_sid != world.reader else world.writer,
                world.reader_main if who_sid != world.reader else world.writer_main,  # another customer's data
                who_sid,  # the Connect subaccount itself: no calls, the only account it may write into
                world.owner,
                world.stranger,
                "ac" + who_sid[2:],
                who_sid[:-1],
                who_sid + "0",
                "AC" + "0" * 32,
            ]
        ),
        st.from_regex(r"AC[0-9a-fA-F]{32}", fullmatch=True),
    )


def _mangled(sid: str, how: str) -> str:
    return {
        "short": sid[:-1],
        "long": sid + "0",
        "lower": sid[:2].lower() + sid[2:],
        "other": "XX" + sid[2:],
        "nothex": sid[:2] + "g" * 32,
    }[how]


def _record_sid(prefix: str, real: Sequence[str], world: World) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(real) if real else st.nothing(),
        st.sampled_from(real).map(lambda s: s[:2] + s[2:].upper()) if real else st.nothing(),
        st.sampled_from(world.foreign_call_sids if prefix == "CA" else [prefix + "0" * 32]),
        st.from_regex(rf"{prefix}[0-9a-f]{{32}}", fullmatch=True),
        st.builds(
            _mangled,
            st.sampled_from(real or [prefix + "0" * 32]),
            st.sampled_from(["short", "long", "lower", "other", "nothex"]),
        ),
        st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="/?#%"), min_size=1, max_size=40),
    )


def _path(draw: st.DrawFn, endpoint: str, base: str, world: World) -> tuple[str, str]:
    """The path of a request on ``endpoint`` under the account path ``base``, and the usage kind (or "")."""

    def sid(prefix: str, real: Sequence[str]) -> str:
        return quote(draw(_record_sid(prefix, real, world)), safe="")

    if endpoint == "Calls/{CA}":
        return f"{base}/Calls/{sid('CA', world.call_sids)}.json", ""
    if endpoint == "Messages/{SM}":
        return f"{base}/Messages/{sid('SM', world.message_sids)}.json", ""
    if endpoint == "Alerts/{NO}":
        return f"/v1/Alerts/{sid('NO', world.alert_sids)}", ""
    if endpoint == "ConnectApps/{CN}":
        return f"{base}/ConnectApps/{sid('CN', [world.connect_app_sid])}.json", ""
    if endpoint == "Accounts/{AC}":
        return f"{base}.json", ""
    if endpoint == "Accounts":
        return "/2010-04-01/Accounts.json", ""
    if endpoint == "Alerts":
        return "/v1/Alerts", ""
    if endpoint == "Usage/Records":
        kind = draw(st.sampled_from([*_USAGE_KINDS, "Hourly", "daily"]))
        return f"{base}/Usage/Records{'/' + kind if kind else ''}.json", kind
    return f"{base}/{endpoint}.json", ""


# --- the probe ----------------------------------------------------------------------------


@st.composite
def rest_probes(
    draw: st.DrawFn,
    world: World,
    endpoint: str | None = None,
    who: str | None = None,
    method: str | None = None,
    other_account: bool | None = None,
) -> RestProbe:
    """One request, with fuzzed parameters, path SIDs, method, body and credentials.

    Mostly a connected customer's GET on its main account (as its Connect subaccount), so
    that most requests reach the parameter parsing; the rest try other methods,
    credentials and accounts. Every choice shrinks towards that plain GET. ``endpoint``,
    ``who``, ``method`` and ``other_account`` fix one dimension (for a test parametrized
    over it), else it is drawn; ``other_account=True`` draws among resources under an account.
    """
    endpoint = endpoint or draw(st.sampled_from(ACCOUNT_ENDPOINTS if other_account else REST_ENDPOINTS))
    if who is None:
        who = draw(st.sampled_from(["get-all"] * 9 + ["post-all"] * 2 + [""]))
        who = who or draw(st.sampled_from(BAD_CREDENTIALS))
    who_sid = world.writer if who == "post-all" else world.reader
    # The customer's data lives in its main account (read with the Connect subaccount's credentials).
    home = world.writer_main if who == "post-all" else world.reader_main
    method = method or draw(
        st.sampled_from(["GET"] * 28 + ["HEAD", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
    )
    if other_account is None:
        other_account = draw(st.sampled_from([False] * 11 + [True]))
    account = quote(draw(_account_in_path(who_sid, world)) if other_account else home, safe="")
    base = f"/2010-04-01/Accounts/{account}"
    path, kind = _path(draw, endpoint, base, world)
    other_account = other_account and path.startswith(base)  # /v1/Alerts and Accounts.json name no account
    list_name = endpoint.split("/{")[0]
    pairs: list[tuple[str, str | bytes]] = []
    if list_name in _FILTERS and "{" not in endpoint:
        known = [*_FILTERS[list_name], *_PAGING]
        # Each known parameter at most once, so that most values reach their parser (a
        # repeated name is refused before any value is read); one request in eight repeats one.
        names = draw(st.lists(st.sampled_from(known), unique=True, max_size=4))
        junk = st.one_of(st.sampled_from(["pagesize", "PageSize ", "Foo"]), st.text(max_size=8))
        names += draw(st.lists(junk, max_size=1))
        if names and draw(st.sampled_from([False] * 7 + [True])):
            names.append(draw(st.sampled_from(names)))
        for name in draw(st.permutations(names)):
            # one value in 16 is not UTF-8 at all (percent-encoded bytes)
            bad = draw(st.sampled_from([False] * 15 + [True]))
            value: str | bytes = draw(_BAD_UTF8) if bad else draw(_value(name, list_name, kind, world))
            pairs.append((name, value))
    else:
        pairs.extend(
            draw(st.lists(st.tuples(st.sampled_from(["PageSize", "x", "Page"]), st.text(max_size=6)), max_size=2))
        )
    body = None
    if method in ("POST", "PUT", "PATCH"):
        form = draw(
            st.lists(st.tuples(st.sampled_from(_FORM_NAMES), st.one_of(st.text(max_size=40), _BAD_UTF8)), max_size=5)
        )
        if draw(st.booleans()):
            body = _query(form)  # well-formed form encoding
        else:  # values sent raw: unescaped '&', '=', '%' and bytes that are not UTF-8
            body = b"&".join(_enc(k).encode() + b"=" + (v if isinstance(v, bytes) else v.encode()) for k, v in form)
    names_sent = tuple(name for name, _ in pairs)
    return RestProbe(endpoint, method, path, _query(pairs).decode(), body, who, names_sent, other_account)


# --- sending and judging ----------------------------------------------------------------


def credentials(world: World, token: str) -> dict[str, str | None]:
    """The ``Authorization`` header for each kind of caller a probe names (None: no header)."""

    def basic(text: bytes) -> str:
        return "Basic " + base64.b64encode(text).decode()

    return {
        "get-all": basic(f"{world.reader}:{token}".encode()),
        "post-all": basic(f"{world.writer}:{token}".encode()),
        "no-auth": None,
        "wrong-token": basic(f"{world.reader}:{token[::-1]}".encode()),
        "bearer": f"Bearer {token}",
        "not-base64": "Basic !!!not base64!!!",
        "no-colon": basic(world.reader.encode()),
        "not-utf8": basic(b"\xff\xfe:" + token.encode()),
        "not-authorized": basic(f"{world.stranger}:{token}".encode()),
        "main-account": basic(f"{world.reader_main}:{token}".encode()),
    }


def send(client: httpx.Client, base: httpx.URL, probe: RestProbe, authorization: str | None) -> httpx.Response:
    """Send ``probe`` with real httpx, its path and query byte for byte (raises ``httpx.HTTPError``)."""
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    if probe.body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    raw = (probe.path + ("?" + probe.query if probe.query else "")).encode("ascii")
    return client.request(probe.method, base.copy_with(raw_path=raw), content=probe.body, headers=headers)


def judge_rest(probe: RestProbe, response: httpx.Response) -> str | None:
    """Why a sandbox answer is wrong, or None: a 2xx JSON body or Twilio's JSON error, never a 5xx."""
    status = response.status_code
    if status >= 500:
        return "5xx"
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"{status} that is not JSON"
    if probe.method == "HEAD":
        return None if 200 <= status < 300 or 400 <= status < 500 else f"unexpected {status}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"{status} with a body that is not JSON"
    if 200 <= status < 300:
        return None if isinstance(body, dict) else "a 2xx body that is not a JSON object"
    if not 400 <= status < 500:
        return f"unexpected {status}"
    if not isinstance(body, dict) or set(body) != ERROR_KEYS:
        return "a 4xx that is not Twilio's error body"
    if body["status"] != status or not isinstance(body["code"], int) or not body["message"]:
        return "a 4xx error body whose fields do not match"
    if body["more_info"] != f"https://www.twilio.com/docs/errors/{body['code']}":
        return "a 4xx error body with a wrong more_info"
    return None


# --- the world ----------------------------------------------------------------------------


def _token(link: str) -> str:
    return dict(parse_qsl(urlsplit(link).query))["PageToken"]


def build_world(sandbox: Sandbox) -> World:
    """Authorize a reader (get-all) and a writer (post-all too), and read real SIDs and page tokens.

    The sandbox is seeded, so the same sandbox options give the same world on every run:
    examples replayed from hypothesis's database then send the same requests.
    """
    reader_main, writer_main, stranger = sandbox.customer_account_sids[:3]
    sandbox.reset()
    reader = sandbox.authorize(reader_main)
    writer = sandbox.authorize(writer_main, ("get-all", "post-all"))
    token = sandbox.owner_auth_token
    tokens: list[str] = []
    sids: dict[str, tuple[str, ...]] = {}
    with httpx.Client(base_url=sandbox.api_url, auth=(reader, token), timeout=TIMEOUT) as client:
        for name, key in (("Calls", "calls"), ("Messages", "messages")):
            url = f"/2010-04-01/Accounts/{reader_main}/{name}.json"
            page = client.get(url, params={"PageSize": 20}).raise_for_status().json()
            sids[name] = tuple(r["sid"] for r in page[key])
            if page["next_page_uri"]:
                tokens.append(_token(page["next_page_uri"]))
                after = client.get(page["next_page_uri"]).raise_for_status().json()
                if after["previous_page_uri"]:
                    tokens.append(_token(after["previous_page_uri"]))
        url = f"/2010-04-01/Accounts/{reader_main}/Usage/Records/Daily.json"
        usage = client.get(url, params={"PageSize": 5}).raise_for_status().json()
        if usage["next_page_uri"]:
            tokens.append(_token(usage["next_page_uri"]))
        alerts = client.get("/v1/Alerts", params={"PageSize": 5}).raise_for_status().json()
        if alerts["meta"]["next_page_url"]:
            tokens.append(_token(alerts["meta"]["next_page_url"]))
    with httpx.Client(base_url=sandbox.api_url, auth=(writer, token), timeout=TIMEOUT) as client:
        url = f"/2010-04-01/Accounts/{writer_main}/Calls.json"
        foreign = client.get(url, params={"PageSize": 5}).raise_for_status().json()
    return World(
        reader=reader,
        writer=writer,
        stranger=stranger,
        reader_main=reader_main,
        writer_main=writer_main,
        owner=sandbox.owner_account_sid,
        connect_app_sid=sandbox.connect_app_sid,
        call_sids=sids["Calls"],
        foreign_call_sids=tuple(r["sid"] for r in foreign["calls"]),
        message_sids=sids["Messages"],
        alert_sids=tuple(a["sid"] for a in alerts["alerts"]) or ("NO" + "0" * 32,),
        page_tokens=tuple(tokens) or ("PT0",),
    )
