"""The sandbox's hostile-server faults, observed over real HTTP on loopback.

``foreign_link``, ``self_link``, ``echo_auth`` and ``odd_retry_after`` make the sandbox
answer the way a broken or malicious server would. Each test talks to a real
``Sandbox`` on port 0 with httpx and checks that a fault does exactly what the
``Faults`` docstring says, no more: where it applies, what it sends, what it leaves
alone, and that it is seeded. The "other host" is a real listener on another
loopback address (127.0.0.2 where the system routes it, else another port).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
import threading
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
import tornado.web

from connect_notebook._serving import ServerThread
from connect_notebook.sandbox import Faults, Profile, Sandbox
from connect_notebook.sandbox._cli import add_arguments, sandbox_from_args
from connect_notebook.sandbox._faults import FOREIGN_FORMS, ODD_RETRY_AFTERS

NOW = "2026-11-01T12:00:00Z"
CALLS = "/2010-04-01/Accounts/{sid}/Calls.json"
# 2010 lists (relative next_page_uri) that every connected customer can read, paged small.
LISTS_2010 = [
    pytest.param("/2010-04-01/Accounts/{sid}/Calls.json?PageSize=5", "calls", id="calls"),
    pytest.param("/2010-04-01/Accounts/{sid}/Messages.json?PageSize=5", "messages", id="messages"),
    pytest.param("/2010-04-01/Accounts.json?PageSize=1", "accounts", id="accounts"),
    pytest.param(
        "/2010-04-01/Accounts/{sid}/Usage/Records/Daily.json?PageSize=2&Category=calls",
        "usage_records",
        id="usage",
    ),
]


# --- a listener on "another host" -----------------------------------------------------


class _Recorder(tornado.web.RequestHandler):
    """Answers anything with an empty JSON object and remembers what arrived."""

    def initialize(self, seen: list[tuple[str, str, str | None]], lock: threading.Lock) -> None:
        self.seen = seen
        self.lock = lock

    def get(self) -> None:
        with self.lock:
            self.seen.append((self.request.host, self.request.uri or "", self.request.headers.get("Authorization")))
        self.finish({})


class Listener:
    """A real server on another loopback address; ``seen`` is (Host, URI, Authorization) per request."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        lock = threading.Lock()
        app = tornado.web.Application([(r"/.*", _Recorder, {"seen": self.seen, "lock": lock})])
        try:
            self.server = ServerThread(app, host="127.0.0.2", name="connect_notebook-listener").start()
        except OSError:  # pragma: no cover - only where 127.0.0.2 is not routed to loopback (macOS)
            self.server = ServerThread(app, host="127.0.0.1", name="connect_notebook-listener").start()
        self.origin = f"http://{self.server.host}:{self.server.port}"


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    other = Listener()
    try:
        yield other
    finally:
        other.server.stop()


@pytest.fixture(scope="module")
def hostile() -> Iterator[Sandbox]:
    """A small sandbox of its own, so the module's faults and listeners never meet other tests."""
    customer = Profile(name="Hostile", pattern="dense", days=3, calls=600, subaccounts=1)
    with Sandbox(seed=23, customers=[customer], now=NOW) as sb:
        yield sb


@pytest.fixture
def sb(hostile: Sandbox) -> Sandbox:
    hostile.reset()
    return hostile


@pytest.fixture
def main_sid(sb: Sandbox) -> str:
    return sb.customer_account_sids[0]


@pytest.fixture
def api(sb: Sandbox, main_sid: str) -> Iterator[httpx.Client]:
    """httpx as the Connect App for the customer (its Connect subaccount, the owner's token)."""
    connected = sb.authorize(main_sid)
    with httpx.Client(base_url=sb.api_url, auth=(connected, sb.owner_auth_token)) as client:
        yield client


@pytest.fixture
def owner(sb: Sandbox) -> Iterator[httpx.Client]:
    """httpx as the owner: Monitor answers for the account that authenticates, and the owner has alerts."""
    with httpx.Client(base_url=sb.api_url, auth=(sb.owner_account_sid, sb.owner_auth_token)) as client:
        yield client


def host_of(link: str, api_url: str) -> tuple[str, int | None]:
    """The (host, port) a client that resolves ``link`` against the API the standard way would contact."""
    parts = urlsplit(urljoin(api_url + "/", link))
    return parts.hostname or "", parts.port


def path_and_query(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def pages_of(client: httpx.Client, first: str, key: str, limit: int = 20) -> list[dict]:
    """Follow a clean list's next links (no faults on), at most ``limit`` pages."""
    pages, uri = [], first
    while uri and len(pages) < limit:
        page = client.get(uri).json()
        assert key in page
        pages.append(page)
        uri = page["next_page_uri"]
    return pages


# --- foreign_link ----------------------------------------------------------------------


@pytest.mark.parametrize(("first", "key"), LISTS_2010)
def test_foreign_link_one_points_every_2010_next_page_uri_at_the_foreign_origin(
    sb: Sandbox, main_sid: str, api: httpx.Client, listener: Listener, first: str, key: str
) -> None:
    clean = pages_of(api, first.format(sid=main_sid), key)
    assert len(clean) >= 2  # a middle page and a last page
    sb.faults = Faults(seed=1, foreign_link=1.0, foreign_origin=listener.origin)
    foreign = urlsplit(listener.origin)
    for page in clean:
        hostile = api.get(page["uri"]).json()
        link = hostile["next_page_uri"]
        # The page is the same page; only its next link changed.
        assert {k: v for k, v in hostile.items() if k != "next_page_uri"} == {
            k: v for k, v in page.items() if k != "next_page_uri"
        }
        assert host_of(link, sb.api_url) == (foreign.hostname, foreign.port)
        # It names the real next page, or the page itself on the last page (where the real link is null).
        assert path_and_query(link) == (page["next_page_uri"] or page["uri"])
    assert sb.injected == {"foreign_link": len(clean)}


def test_foreign_link_uses_all_three_spellings_each_naming_the_foreign_host(
    sb: Sandbox, main_sid: str, api: httpx.Client, listener: Listener
) -> None:
    sb.faults = Faults(seed=4, foreign_link=1.0, foreign_origin=listener.origin)
    api_origin = sb.api_url
    forms: Counter[str] = Counter()
    for size in range(1, 41):  # 40 distinct pages, each draws its spelling
        link = api.get(CALLS.format(sid=main_sid), params={"PageSize": size}).json()["next_page_uri"]
        if link.startswith("//"):
            forms["scheme-relative"] += 1
            assert link.startswith(f"//{urlsplit(listener.origin).netloc}/2010-04-01/")
        elif link.startswith(api_origin + "@"):
            forms["userinfo"] += 1  # starts with the API's origin, but the host follows the "@"
            assert link.startswith(f"{api_origin}@{urlsplit(listener.origin).netloc}/2010-04-01/")
        else:
            forms["absolute"] += 1
            assert link.startswith(f"{listener.origin}/2010-04-01/")
        assert httpx.URL(urljoin(api_origin + "/", link)).host == urlsplit(listener.origin).hostname
    assert set(forms) == set(FOREIGN_FORMS)


def test_a_client_following_a_foreign_link_reaches_the_foreign_listener_with_the_page_path(
    sb: Sandbox, main_sid: str, api: httpx.Client, listener: Listener
) -> None:
    # This is the hole the fault exists to show: httpx.Client(auth=...) sends the owner's
    # credentials to whatever URL it is given, so a client must refuse the link itself.
    sb.faults = Faults(seed=4, foreign_link=1.0, foreign_origin=listener.origin)
    before = len(listener.seen)
    for size in range(1, 13):
        link = api.get(CALLS.format(sid=main_sid), params={"PageSize": size}).json()["next_page_uri"]
        target = urljoin(sb.api_url + "/", link)
        assert api.get(target).status_code == 200
    arrived = listener.seen[before:]
    assert len(arrived) == 12
    assert {host for host, _, _ in arrived} == {urlsplit(listener.origin).netloc}
    assert all(uri.startswith(f"/2010-04-01/Accounts/{main_sid}/Calls.json?") for _, uri, _ in arrived)
    assert all(auth is not None and auth.startswith("Basic ") for _, _, auth in arrived)
    decoded = {base64.b64decode(auth.split()[1]).decode().split(":")[1] for _, _, auth in arrived if auth}
    assert decoded == {sb.owner_auth_token}


def test_foreign_link_points_monitor_meta_next_page_url_at_the_foreign_origin(
    sb: Sandbox, owner: httpx.Client, listener: Listener
) -> None:
    clean = owner.get("/v1/Alerts", params={"PageSize": 2}).json()["meta"]
    assert clean["next_page_url"]  # the owner has more than two alerts
    sb.faults = Faults(seed=2, foreign_link=1.0, foreign_origin=listener.origin)
    foreign = urlsplit(listener.origin)
    for size in (2, 3, 4, 1000):
        meta = owner.get("/v1/Alerts", params={"PageSize": size}).json()["meta"]
        assert host_of(meta["next_page_url"], sb.api_url) == (foreign.hostname, foreign.port)
        assert path_and_query(meta["next_page_url"]).startswith("/v1/Alerts?")
        assert meta["url"].startswith(sb.api_url + "/v1/Alerts?")  # its own URL is untouched
    last = owner.get("/v1/Alerts", params={"PageSize": 1000}).json()["meta"]
    assert path_and_query(last["next_page_url"]) == path_and_query(last["url"])  # a last page names itself
    assert sb.injected == {"foreign_link": 5}


def test_foreign_origin_defaults_to_a_host_that_never_resolves(sb: Sandbox, main_sid: str, api: httpx.Client) -> None:
    sb.faults = Faults(seed=4, foreign_link=1.0)
    for size in range(1, 10):
        link = api.get(CALLS.format(sid=main_sid), params={"PageSize": size}).json()["next_page_uri"]
        assert host_of(link, sb.api_url) == ("evil.invalid", None)


# --- self_link -------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "key"), LISTS_2010)
def test_self_link_one_makes_every_2010_page_link_to_itself_however_often_it_is_fetched(
    sb: Sandbox, main_sid: str, api: httpx.Client, first: str, key: str
) -> None:
    clean = pages_of(api, first.format(sid=main_sid), key)
    sb.faults = Faults(seed=1, self_link=1.0)
    for page in clean:  # middle pages and the last one
        body = None
        uri = page["uri"]
        for _ in range(5):  # a client following the link comes back to the same page, every time
            response = api.get(uri)
            assert response.status_code == 200
            assert body is None or response.content == body
            body = response.content
            hostile = response.json()
            assert hostile["next_page_uri"] == hostile["uri"] == page["uri"]
            assert hostile[key] == page[key]
            uri = hostile["next_page_uri"]
    assert sb.injected == {"self_link": 5 * len(clean)}


def test_self_link_points_monitor_meta_next_page_url_at_its_own_url(sb: Sandbox, owner: httpx.Client) -> None:
    sb.faults = Faults(seed=1, self_link=1.0)
    url = f"{sb.api_url}/v1/Alerts?PageSize=2"
    own = None
    for _ in range(4):
        meta = owner.get(url).json()["meta"]
        assert meta["next_page_url"] == meta["url"]
        assert own is None or meta["url"] == own
        own = url = meta["next_page_url"]
    assert sb.injected == {"self_link": 4}


def test_link_faults_are_drawn_once_per_page_and_seeded(sb: Sandbox, main_sid: str, api: httpx.Client) -> None:
    def links(faults: Faults) -> list[str | None]:
        sb.reset()
        sb.authorize(main_sid)
        sb.faults = faults
        return [
            api.get(CALLS.format(sid=main_sid), params={"PageSize": 1 + i % 30}).json()["next_page_uri"]
            for i in range(60)  # 30 pages, each fetched twice
        ]

    half = Faults(seed=8, self_link=0.5)
    first = links(half)
    assert first[:30] == first[30:]  # the same page answers the same way on every fetch
    selfish = sum(link is not None and "Page=0" in link for link in first[:30])
    assert 5 <= selfish <= 25  # about half of the 30 pages link to themselves
    assert links(half) == first
    assert links(Faults(seed=9, self_link=0.5)) != first


def test_link_faults_off_leave_every_page_byte_for_byte_as_it_was(
    sb: Sandbox, main_sid: str, api: httpx.Client, listener: Listener
) -> None:
    uri = CALLS.format(sid=main_sid) + "?PageSize=7"
    clean = api.get(uri).content
    # Every other hostile fault on, and no link fault: lists are untouched.
    sb.faults = Faults(seed=3, echo_auth=1.0, odd_retry_after=1.0, foreign_origin=listener.origin)
    assert api.get(uri).content == clean
    assert sb.injected == {}


# --- echo_auth -------------------------------------------------------------------------


def echoed(message: str, client: httpx.Client, token: str) -> bool:
    """Whether an error message quotes the request's Authorization header and its decoded password."""
    request = client.build_request("GET", "/")
    header = next(client.auth.auth_flow(request)).headers["Authorization"]  # type: ignore[union-attr]
    return header in message and token in message


@pytest.mark.parametrize(
    ("faults", "status", "code"),
    [
        pytest.param({"server_error": 1.0, "seed": 5}, None, None, id="500-or-503"),
        pytest.param({"rate_limit": 1.0}, 429, 20429, id="429"),
    ],
)
def test_echo_auth_one_quotes_the_authorization_header_and_password_in_injected_errors(
    sb: Sandbox, main_sid: str, api: httpx.Client, faults: dict, status: int | None, code: int | None
) -> None:
    sb.faults = Faults(echo_auth=1.0, **faults)
    for size in range(1, 6):
        response = api.get(CALLS.format(sid=main_sid), params={"PageSize": size})
        body = response.json()
        assert response.status_code == (status or response.status_code) and response.status_code >= 429
        assert body["code"] == (code or {500: 20500, 503: 20503}[response.status_code])
        assert body["status"] == response.status_code
        assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
        assert echoed(body["message"], api, sb.owner_auth_token)
    assert sb.injected["echo_auth"] == 5


async def _burst(sb: Sandbox, sid: str, n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=sb.api_url, auth=(sid, sb.owner_auth_token)) as client:
        return await asyncio.gather(*(client.get(f"/2010-04-01/Accounts/{sid}.json") for _ in range(n)))


def test_echo_auth_applies_to_the_concurrency_limit_and_to_a_resource_404(
    sb: Sandbox, main_sid: str, api: httpx.Client
) -> None:
    connected = sb.connected_sid(main_sid)
    assert connected is not None
    # Latency holds the first request in flight, so the others meet the limit of one.
    sb.faults = Faults(echo_auth=1.0, latency=0.3, concurrency_limit=1)
    responses = asyncio.run(_burst(sb, connected, 4))
    limited = [r for r in responses if r.status_code == 429]
    assert limited
    for response in limited:
        assert response.json()["message"].startswith("Too Many Requests (request GET ")
        assert echoed(response.json()["message"], api, sb.owner_auth_token)
    assert all("Authorization" not in r.text for r in responses if r.status_code == 200)
    sb.faults = Faults(echo_auth=1.0)
    missing = api.get(f"/2010-04-01/Accounts/{main_sid}/Calls/CA{'0' * 32}.json")
    assert missing.status_code == 404
    assert echoed(missing.json()["message"], api, sb.owner_auth_token)
    assert missing.json()["message"].startswith("The requested resource")


def test_echo_auth_zero_and_unauthenticated_errors_quote_nothing(sb: Sandbox, main_sid: str, api: httpx.Client) -> None:
    sb.faults = Faults(server_error=1.0, seed=5)
    plain = api.get(CALLS.format(sid=main_sid)).json()["message"]
    assert plain in ("Internal Server Error", "Service is unavailable. Please try again")
    # Credentials the sandbox refused are not echoed: the fault quotes only requests it accepted.
    sb.faults = Faults(echo_auth=1.0, server_error=1.0)
    with httpx.Client(base_url=sb.api_url, auth=(sb.owner_account_sid, "0" * 32)) as stranger:
        refused = stranger.get(CALLS.format(sid=main_sid))
    assert refused.status_code == 401
    assert refused.json()["message"] == "Authenticate"
    assert "echo_auth" not in sb.injected


def test_echo_auth_half_is_seeded_per_request(sb: Sandbox, main_sid: str, api: httpx.Client) -> None:
    def messages(seed: int) -> list[bool]:
        sb.reset()
        sb.authorize(main_sid)
        sb.faults = Faults(seed=seed, echo_auth=0.5, rate_limit=1.0)
        return [
            "Authorization" in api.get(CALLS.format(sid=main_sid), params={"PageSize": 1 + i}).json()["message"]
            for i in range(40)
        ]

    first = messages(1)
    assert 8 <= sum(first) <= 32
    assert messages(1) == first
    assert messages(2) != first


# --- odd_retry_after -------------------------------------------------------------------


def test_odd_retry_after_one_sends_every_odd_form_on_429s_and_nothing_else_changes(
    sb: Sandbox, main_sid: str, api: httpx.Client
) -> None:
    sb.faults = Faults(seed=1, rate_limit=1.0, retry_after=3.0, odd_retry_after=1.0)
    seen: Counter[str | None] = Counter()
    for size in range(1, 121):
        response = api.get(CALLS.format(sid=main_sid), params={"PageSize": size})
        assert response.status_code == 429
        assert response.json()["code"] == 20429
        seen[response.headers.get("Retry-After")] += 1
    assert set(seen) == set(ODD_RETRY_AFTERS)  # every form, the empty one included; never the 3 configured
    assert sb.injected == {"rate_limit": 120, "odd_retry_after": 120}


def test_odd_retry_after_forms_are_the_rfc_9110_dates_and_garbage_named_in_the_issue() -> None:
    for value in (
        "Wed, 21 Oct 2015 07:28:00 -0000",
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "nan",
        "-5",
        "1e9",
        "soon",
        "",
    ):
        assert value in ODD_RETRY_AFTERS


def test_odd_retry_after_applies_to_forced_and_concurrency_limit_429s(
    sb: Sandbox, main_sid: str, api: httpx.Client
) -> None:
    sb.faults = Faults(seed=1, odd_retry_after=1.0)
    sb.fail_next(1, status=429, retry_after=2)
    forced = api.get(CALLS.format(sid=main_sid))
    assert forced.status_code == 429
    assert forced.headers["Retry-After"] in ODD_RETRY_AFTERS
    assert api.get(CALLS.format(sid=main_sid)).status_code == 200  # only 429s carry it
    assert "Retry-After" not in api.get(CALLS.format(sid=main_sid)).headers
    assert sb.injected == {"rate_limit": 1, "odd_retry_after": 1}


def test_odd_retry_after_zero_keeps_the_configured_retry_after(sb: Sandbox, main_sid: str, api: httpx.Client) -> None:
    sb.faults = Faults(seed=1, rate_limit=1.0, retry_after=2.0, odd_retry_after=0.0)
    assert api.get(CALLS.format(sid=main_sid)).headers["Retry-After"] == "2"
    sb.faults = Faults(seed=1, rate_limit=1.0, retry_after=2.0, odd_retry_after=0.5)
    values = Counter(
        api.get(CALLS.format(sid=main_sid), params={"PageSize": i}).headers["Retry-After"] for i in range(1, 61)
    )
    assert 10 <= values["2"] <= 50
    assert set(values) - {"2"} <= set(ODD_RETRY_AFTERS)


def test_hostile_faults_leave_the_other_faults_decisions_unchanged(
    sb: Sandbox, main_sid: str, api: httpx.Client
) -> None:
    def statuses(**hostile: float) -> list[int]:
        sb.reset()
        sb.authorize(main_sid)
        sb.faults = Faults(seed=42, rate_limit=0.3, server_error=0.2, **hostile)
        return [api.get(CALLS.format(sid=main_sid), params={"PageSize": 1 + i % 20}).status_code for i in range(80)]

    plain = statuses()
    assert statuses(echo_auth=1.0, odd_retry_after=1.0, self_link=0.5, foreign_link=0.5) == plain


# --- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error", "named"),
    [
        pytest.param({"foreign_link": -0.1}, ValueError, "foreign_link", id="foreign-link-negative"),
        pytest.param({"self_link": 1.5}, ValueError, "self_link", id="self-link-above-1"),
        pytest.param({"echo_auth": float("nan")}, ValueError, "echo_auth", id="echo-auth-nan"),
        pytest.param({"odd_retry_after": float("inf")}, ValueError, "odd_retry_after", id="odd-retry-after-inf"),
        pytest.param({"echo_auth": True}, TypeError, "echo_auth", id="echo-auth-bool"),
        pytest.param({"self_link": "0.5"}, TypeError, "self_link", id="self-link-string"),
        pytest.param({"rate_limit": None}, TypeError, "rate_limit", id="rate-limit-none"),
        pytest.param({"foreign_link": 0.6, "self_link": 0.5}, ValueError, "foreign_link + self_link", id="links-sum"),
        pytest.param({"foreign_origin": "evil.invalid"}, ValueError, "foreign_origin", id="origin-no-scheme"),
        pytest.param({"foreign_origin": "ftp://evil.invalid"}, ValueError, "foreign_origin", id="origin-ftp"),
        pytest.param({"foreign_origin": "http://evil.invalid/"}, ValueError, "foreign_origin", id="origin-path"),
        pytest.param({"foreign_origin": "http://evil.invalid?x=1"}, ValueError, "foreign_origin", id="origin-query"),
        pytest.param({"foreign_origin": "http://a:b@evil.invalid"}, ValueError, "foreign_origin", id="origin-user"),
        pytest.param({"foreign_origin": "http://evil.invalid:99999"}, ValueError, "foreign_origin", id="origin-port"),
        pytest.param({"foreign_origin": "http://:80"}, ValueError, "foreign_origin", id="origin-no-host"),
        pytest.param({"foreign_origin": "HTTP://evil.invalid"}, ValueError, "foreign_origin", id="origin-upper"),
        pytest.param({"foreign_origin": None}, TypeError, "foreign_origin", id="origin-none"),
    ],
)
def test_faults_rejects_bad_hostile_settings_naming_the_field(fields: dict, error: type[Exception], named: str) -> None:
    with pytest.raises(error, match=re.escape(named)):
        Faults(**fields)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"foreign_link": 1.0}, id="foreign-link-1"),
        pytest.param({"self_link": 1}, id="self-link-int-1"),
        pytest.param({"foreign_link": 0.3, "self_link": 0.7}, id="links-sum-1"),
        pytest.param({"echo_auth": 0.0, "odd_retry_after": 1.0}, id="echo-0-odd-1"),
        pytest.param({"foreign_origin": "https://127.0.0.2:8443"}, id="origin-https-port"),
        pytest.param({"foreign_origin": "http://[::1]:8080"}, id="origin-ipv6"),
    ],
)
def test_faults_accepts_hostile_settings_at_the_limits(fields: dict) -> None:
    faults = Faults(**fields)
    for name, value in fields.items():
        assert getattr(faults, name) == value


# --- command line ----------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--port", "0", "--calls", "200", "--customers", "1", "--now", NOW, *argv])


def test_sandbox_command_line_passes_the_hostile_fault_flags() -> None:
    args = parse(
        "--foreign-link",
        "0.25",
        "--foreign-origin",
        "http://127.0.0.2:9",
        "--self-link",
        "0.5",
        "--echo-auth",
        "1",
        "--odd-retry-after",
        "0.75",
    )
    faults = sandbox_from_args(args).faults
    assert (faults.foreign_link, faults.foreign_origin, faults.self_link) == (0.25, "http://127.0.0.2:9", 0.5)
    assert (faults.echo_auth, faults.odd_retry_after) == (1.0, 0.75)
    assert sandbox_from_args(parse()).faults == Faults()


def test_sandbox_command_line_flags_reach_the_http_answers() -> None:
    args = parse("--self-link", "1", "--echo-auth", "1", "--rate-limit", "1", "--odd-retry-after", "1")
    with sandbox_from_args(args) as sb:
        connected = sb.authorize(sb.customer_account_sids[0])
        with httpx.Client(base_url=sb.api_url, auth=(connected, sb.owner_auth_token)) as client:
            limited = client.get("/2010-04-01/Accounts.json")
            assert limited.status_code == 429
            assert limited.headers["Retry-After"] in ODD_RETRY_AFTERS
            assert sb.owner_auth_token in limited.json()["message"]
            sb.faults = Faults(self_link=1.0)
            page = client.get("/2010-04-01/Accounts.json").json()
            assert page["next_page_uri"] == page["uri"]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("--foreign-link", "2"), id="foreign-link-2"),
        pytest.param(("--self-link", "nan"), id="self-link-nan"),
        pytest.param(("--foreign-origin", "evil.invalid"), id="origin-bare-host"),
        pytest.param(("--foreign-link", "0.7", "--self-link", "0.7"), id="links-sum"),
    ],
)
def test_sandbox_command_line_rejects_bad_hostile_flags(argv: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="foreign_link|self_link|foreign_origin"):
        sandbox_from_args(parse(*argv))
