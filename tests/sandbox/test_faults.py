"""Fault injection in the sandbox's REST API, observed over real HTTP on loopback.

Every test talks to a real ``Sandbox`` with httpx (or a raw socket where httpx would
hide the detail). Delays are never timed: latency shows up through the per-account
concurrency limit instead.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import re
import socket
from collections import Counter

import httpx
import pytest
from twilio_support import assert_twilio_error

from connect_notebook.sandbox import Faults, Profile, Sandbox

NOW = "2026-11-01T12:00:00Z"

# Requests every API resource answers with 2xx when no fault applies. "{sid}" is the
# customer's main account (where its data is), "{own}" the Connect subaccount (the
# only account the app may write into).
API_REQUESTS = [
    pytest.param("GET", "/2010-04-01/Accounts.json", id="accounts-list"),
    pytest.param("GET", "/2010-04-01/Accounts/{sid}.json", id="account"),
    pytest.param("GET", "/2010-04-01/Accounts/{sid}/Calls.json?PageSize=5", id="calls"),
    pytest.param("GET", "/2010-04-01/Accounts/{sid}/Messages.json?PageSize=5", id="messages"),
    pytest.param("GET", "/v1/Alerts?PageSize=5", id="monitor-alerts"),
    pytest.param("POST", "/2010-04-01/Accounts/{own}/Messages.json", id="send-message"),
]
MESSAGE_FORM = {"To": "+15005550006", "From": "+15005550001", "Body": "hello"}

CALLS = "/2010-04-01/Accounts/{sid}/Calls.json?PageSize=5"


def send(client: httpx.Client, method: str, path: str, sid: str, own: str) -> httpx.Response:
    """Send one API request as in API_REQUESTS."""
    data = MESSAGE_FORM if method == "POST" else None
    return client.request(method, path.format(sid=sid, own=own), data=data)


@pytest.fixture
def writer(sandbox: Sandbox, customer: str, connected: str) -> str:
    """The connected customer's Connect subaccount, re-authorized with post-all so POSTs reach the faults."""
    assert sandbox.authorize(customer, ("get-all", "post-all")) == connected
    return connected


def client_for(sb: Sandbox, sid: str) -> httpx.Client:
    return httpx.Client(base_url=sb.api_url, auth=(sid, sb.owner_auth_token))


# --- rate limit -----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), API_REQUESTS)
def test_rate_limit_one_makes_every_api_request_a_429_20429(
    sandbox: Sandbox, customer: str, writer: str, api: httpx.Client, method: str, path: str
) -> None:
    sandbox.faults = Faults(rate_limit=1.0)
    for _ in range(3):
        response = send(api, method, path, customer, writer)
        assert_twilio_error(response, 429, 20429)
        assert response.headers["Twilio-Concurrent-Requests"] == "1"
    assert sandbox.injected == {"rate_limit": 3}


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [
        pytest.param(2, "2", id="2s"),
        pytest.param(0.5, "0.5", id="half-second"),
        pytest.param(None, None, id="none"),
    ],
)
def test_rate_limit_sends_retry_after_only_when_configured(
    sandbox: Sandbox, customer: str, api: httpx.Client, retry_after: float | None, header: str | None
) -> None:
    sandbox.faults = Faults(rate_limit=1.0, retry_after=retry_after)
    response = api.get(CALLS.format(sid=customer))
    assert_twilio_error(response, 429, 20429)
    assert response.headers.get("Retry-After") == header
    assert "Twilio-Concurrent-Requests" in response.headers


# --- server errors --------------------------------------------------------------------


def test_server_error_one_gives_500s_and_503s_with_twilio_bodies(
    sandbox: Sandbox, customer: str, api: httpx.Client
) -> None:
    sandbox.faults = Faults(seed=3, server_error=1.0)
    seen: Counter[int] = Counter()
    for page in range(40):  # distinct request lines, so each draws 500 or 503 afresh
        response = api.get(f"/2010-04-01/Accounts/{customer}/Calls.json", params={"PageSize": page + 1})
        assert response.status_code in (500, 503)
        assert_twilio_error(response, response.status_code, {500: 20500, 503: 20503}[response.status_code])
        assert "Retry-After" not in response.headers
        seen[response.status_code] += 1
    assert seen[500] > 0
    assert seen[503] > 0
    assert sandbox.injected == {"server_error": 40}


# --- truncated bodies -----------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [p for p in API_REQUESTS if p.values[0] == "GET"])
def test_truncate_one_sends_200_with_a_strict_prefix_of_the_real_body(
    sandbox: Sandbox, customer: str, connected: str, api: httpx.Client, method: str, path: str
) -> None:
    sandbox.faults = Faults(truncate=1.0)
    cut = send(api, method, path, customer, connected)
    sandbox.faults = Faults()
    full = send(api, method, path, customer, connected)

    assert cut.status_code == 200
    assert full.status_code == 200
    assert int(cut.headers["Content-Length"]) == len(cut.content)  # the framing is honest
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    full.json()
    assert 0 < len(cut.content) < len(full.content)
    assert full.content.startswith(cut.content)
    assert sandbox.injected == {"truncate": 1}


# --- connection resets ----------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), API_REQUESTS)
def test_reset_one_breaks_the_body_and_the_server_keeps_serving(
    sandbox: Sandbox, customer: str, writer: str, api: httpx.Client, method: str, path: str
) -> None:
    sandbox.faults = Faults(reset=1.0)
    data = MESSAGE_FORM if method == "POST" else None
    with api.stream(method, path.format(sid=customer, own=writer), data=data) as response:
        assert response.status_code in (200, 201)
        announced = int(response.headers["Content-Length"])
        assert announced > 0
        with pytest.raises(httpx.TransportError):
            response.read()

    sandbox.faults = Faults()
    after = send(api, method, path, customer, writer)
    assert after.status_code in (200, 201)
    after.json()
    assert sandbox.injected == {"reset": 1}


def raw_get(port: int, path: str, sid: str, token: str) -> tuple[bytes, bytes, bool]:
    """GET over a bare socket; return (head, body bytes that arrived, whether it was reset)."""
    credentials = base64.b64encode(f"{sid}:{token}".encode()).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Basic {credentials}\r\nConnection: close\r\n\r\n"
    ).encode()
    chunks = []
    was_reset = False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            was_reset = True
    head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    assert sep, f"no complete response head arrived: {head[:200]!r}"
    return head, body, was_reset


def test_reset_sends_part_of_the_body_before_the_connection_dies(
    sandbox: Sandbox, customer: str, connected: str
) -> None:
    path = CALLS.format(sid=customer)
    sandbox.faults = Faults(reset=1.0)
    head, partial, _ = raw_get(sandbox.port, path, connected, sandbox.owner_auth_token)
    sandbox.faults = Faults()
    full_head, full, was_reset = raw_get(sandbox.port, path, connected, sandbox.owner_auth_token)

    assert head.startswith(b"HTTP/1.1 200 ")
    announced = int(re.search(rb"(?im)^content-length:\s*(\d+)", head)[1])  # type: ignore[index]
    assert announced == len(full)
    assert 0 < len(partial) < announced
    assert full.startswith(partial)
    assert full_head.startswith(b"HTTP/1.1 200 ")
    assert not was_reset


# --- latency, seen through the concurrency limit --------------------------------------


async def burst(sb: Sandbox, requests: list[str]) -> list[httpx.Response]:
    """Send one GET per Connect SID in ``requests``, all at once, each with those credentials."""
    clients = {sid: httpx.AsyncClient(base_url=sb.api_url, auth=(sid, sb.owner_auth_token)) for sid in set(requests)}
    try:
        return await asyncio.gather(*(clients[sid].get(f"/2010-04-01/Accounts/{sid}.json") for sid in requests))
    finally:
        for client in clients.values():
            await client.aclose()


def in_flight(response: httpx.Response) -> int:
    return int(response.headers["Twilio-Concurrent-Requests"])


def test_latency_holds_requests_so_the_concurrency_limit_rejects_the_excess(
    sandbox: Sandbox, customer: str, connected: str, api: httpx.Client
) -> None:
    sandbox.faults = Faults(latency=0.3, concurrency_limit=2)
    responses = asyncio.run(burst(sandbox, [connected] * 6))

    ok = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert len(ok) + len(limited) == 6
    assert ok
    assert limited
    for response in limited:
        assert_twilio_error(response, 429, 20429)
        assert in_flight(response) > 2
        assert "Retry-After" not in response.headers
    assert all(in_flight(r) <= 2 for r in ok)
    assert sandbox.injected == {"concurrency_limit": len(limited)}

    sandbox.faults = Faults(concurrency_limit=1)
    after = api.get(f"/2010-04-01/Accounts/{customer}.json")
    assert after.status_code == 200
    assert in_flight(after) == 1


def test_concurrency_limit_counts_each_account_separately(sandbox: Sandbox) -> None:
    first = sandbox.authorize(sandbox.customer_account_sids[0])
    second = sandbox.authorize(sandbox.customer_account_sids[1])
    sandbox.faults = Faults(latency=0.3, concurrency_limit=2)
    responses = asyncio.run(burst(sandbox, [first, second, first, second, first]))

    mine = [r for r, sid in zip(responses, [first, second, first, second, first], strict=True) if sid == first]
    theirs = [r for r, sid in zip(responses, [first, second, first, second, first], strict=True) if sid == second]
    # Five requests are in flight at once, but never more than three for one account.
    assert [r.status_code for r in theirs] == [200, 200]
    assert all(in_flight(r) <= 2 for r in theirs)
    assert sorted(r.status_code for r in mine) in ([200, 200, 429], [200, 200, 200])
    assert max(in_flight(r) for r in mine) <= 3
    assert sandbox.injected.get("concurrency_limit", 0) == sum(r.status_code == 429 for r in mine)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        pytest.param("reset", 200, id="reset"),
        pytest.param("truncate", 200, id="truncate"),
        pytest.param("rate_limit", 429, id="rate-limit"),
        pytest.param("server_error", 503, id="server-error"),
    ],
)
def test_failed_requests_give_back_their_concurrency_slot(
    sandbox: Sandbox, customer: str, api: httpx.Client, kind: str, status: int
) -> None:
    sandbox.faults = Faults(concurrency_limit=1)
    sandbox.fail_next(3, status=status, kind=kind)
    broken = 0
    for _ in range(3):
        try:
            response = api.get(CALLS.format(sid=customer))
        except httpx.TransportError:
            broken += 1
        else:
            assert response.status_code == status
    assert broken == (3 if kind == "reset" else 0)
    assert sandbox.injected == {kind: 3}

    for _ in range(3):
        response = api.get(CALLS.format(sid=customer))
        assert response.status_code == 200
        assert in_flight(response) == 1
        response.json()


# --- seeded probabilities -------------------------------------------------------------


@functools.lru_cache
def run_sequence(
    faults: Faults, *, reverse: bool = False, run: int = 0
) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """200 GETs (20 request lines, 10 times each) against a fresh small sandbox.

    Cached, since several tests read the same run; ``run`` asks for a separate one.
    """
    with Sandbox(seed=11, customers=[Profile(name="Solo", pattern="dense", days=5, calls=200)], now=NOW) as sb:
        sid = sb.customer_account_sids[0]
        connected = sb.authorize(sid)
        sb.faults = faults
        paths = [f"/2010-04-01/Accounts/{sid}/Calls.json?PageSize={1 + i % 20}" for i in range(200)]
        with client_for(sb, connected) as client:
            statuses = [(path, client.get(path).status_code) for path in paths[:: -1 if reverse else 1]]
        return statuses, sb.injected


SEEDED = Faults(seed=42, rate_limit=0.3, server_error=0.2)


def test_same_seed_gives_the_same_fault_sequence() -> None:
    first, _ = run_sequence(SEEDED)
    second, _ = run_sequence(SEEDED, run=1)
    assert first == second


def test_different_seed_gives_a_different_fault_sequence() -> None:
    first, _ = run_sequence(SEEDED)
    other, _ = run_sequence(Faults(seed=43, rate_limit=0.3, server_error=0.2))
    assert [s for _, s in first] != [s for _, s in other]


def test_fault_for_a_request_does_not_depend_on_the_order_of_others() -> None:
    forward, _ = run_sequence(SEEDED)
    backward, _ = run_sequence(SEEDED, reverse=True)

    def by_occurrence(statuses: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        seen: Counter[str] = Counter()
        out = {}
        for path, status in statuses:
            out[path, seen[path]] = status
            seen[path] += 1
        return out

    assert by_occurrence(forward) == by_occurrence(backward)


def test_fault_rates_follow_the_probabilities_and_injected_counts_them() -> None:
    statuses, injected = run_sequence(SEEDED)
    counts = Counter(status for _, status in statuses)
    assert set(counts) <= {200, 429, 500, 503}
    assert 0.15 <= counts[429] / 200 <= 0.45
    assert 0.08 <= (counts[500] + counts[503]) / 200 <= 0.32
    assert 0.3 <= counts[200] / 200 <= 0.7
    assert injected == {"rate_limit": counts[429], "server_error": counts[500] + counts[503]}


# --- fail_next ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        pytest.param(503, 20503, "server_error", id="503"),
        pytest.param(500, 20500, "server_error", id="500"),
        pytest.param(429, 20429, "rate_limit", id="429"),
    ],
)
def test_fail_next_fails_exactly_the_next_n_requests(
    sandbox: Sandbox, customer: str, api: httpx.Client, status: int, code: int, kind: str
) -> None:
    sandbox.fail_next(3, status=status)
    responses = [api.get(CALLS.format(sid=customer)) for _ in range(5)]
    assert [r.status_code for r in responses] == [status] * 3 + [200, 200]
    for response in responses[:3]:
        assert_twilio_error(response, status, code)
    responses[3].json()
    assert sandbox.injected == {kind: 3}


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [
        pytest.param(1, "1", id="retry-after-1"),
        pytest.param(None, None, id="no-retry-after"),
    ],
)
def test_fail_next_429_sends_the_requested_retry_after(
    sandbox: Sandbox, customer: str, api: httpx.Client, retry_after: float | None, header: str | None
) -> None:
    sandbox.fail_next(1, status=429, retry_after=retry_after)
    response = api.get(CALLS.format(sid=customer))
    assert_twilio_error(response, 429, 20429)
    assert response.headers.get("Retry-After") == header
    assert response.headers["Twilio-Concurrent-Requests"] == "1"
    assert api.get(CALLS.format(sid=customer)).status_code == 200


def test_fail_next_truncate_cuts_one_body_short(sandbox: Sandbox, customer: str, api: httpx.Client) -> None:
    sandbox.fail_next(1, kind="truncate")
    cut = api.get(CALLS.format(sid=customer))
    full = api.get(CALLS.format(sid=customer))
    assert (cut.status_code, full.status_code) == (200, 200)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    assert full.content.startswith(cut.content)
    assert len(cut.content) < len(full.content)
    assert sandbox.injected == {"truncate": 1}


def test_fail_next_reset_breaks_one_response(sandbox: Sandbox, customer: str, api: httpx.Client) -> None:
    sandbox.fail_next(1, kind="reset")
    with pytest.raises(httpx.TransportError):
        api.get(CALLS.format(sid=customer))
    after = api.get(CALLS.format(sid=customer))
    assert after.status_code == 200
    after.json()
    assert sandbox.injected == {"reset": 1}


def test_fail_next_rejects_an_unknown_kind(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="unknown fault kind 'timeout'"):
        sandbox.fail_next(1, kind="timeout")


# --- what faults do not touch ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["rate_limit", "server_error", "reset", "truncate"])
def test_faults_do_not_apply_to_the_authorize_page(sandbox: Sandbox, kind: str) -> None:
    sandbox.faults = Faults(**{kind: 1.0})
    with httpx.Client(base_url=sandbox.url) as browser:
        page = browser.get(f"/authorize/{sandbox.connect_app_sid}")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.text.rstrip().endswith("</html>")
    assert "Authorize" in page.text
    assert sandbox.injected == {}


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/", id="index"),
        pytest.param("/console/authorized-apps", id="authorized-apps"),
        pytest.param("/authorize/{cn}", id="authorize"),
    ],
)
def test_html_pages_do_not_use_up_forced_failures(
    sandbox: Sandbox, customer: str, api: httpx.Client, path: str
) -> None:
    sandbox.fail_next(1, status=503)
    with httpx.Client(base_url=sandbox.url) as browser:
        page = browser.get(path.format(cn=sandbox.connect_app_sid))
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert_twilio_error(api.get(CALLS.format(sid=customer)), 503, 20503)


@pytest.mark.parametrize("kind", ["rate_limit", "server_error", "reset", "truncate"])
@pytest.mark.parametrize("who", ["wrong-token", "not-authorized", "main-account-sid", "revoked"])
def test_bad_credentials_get_401_before_any_fault(sandbox: Sandbox, kind: str, who: str) -> None:
    first, second = sandbox.customer_account_sids[:2]
    connected = sandbox.authorize(first)
    revoked = sandbox.authorize(second)
    sandbox.deauthorize(second)
    sid, token = {
        "wrong-token": (connected, "0" * 32),
        "not-authorized": (sandbox.customer_account_sids[2], sandbox.owner_auth_token),
        "main-account-sid": (first, sandbox.owner_auth_token),
        "revoked": (revoked, sandbox.owner_auth_token),
    }[who]
    sandbox.faults = Faults(**{kind: 1.0}, concurrency_limit=1)
    with httpx.Client(base_url=sandbox.api_url, auth=(sid, token)) as client:
        response = client.get(CALLS.format(sid=sandbox.family(sid)[0]))
    assert_twilio_error(response, 401, 20003)
    assert sandbox.injected == {}


def test_bad_credentials_do_not_use_up_forced_failures(
    sandbox: Sandbox, customer: str, connected: str, api: httpx.Client
) -> None:
    sandbox.fail_next(1, status=503)
    with httpx.Client(base_url=sandbox.api_url, auth=(connected, "0" * 32)) as stranger:
        assert_twilio_error(stranger.get(CALLS.format(sid=customer)), 401, 20003)
    assert_twilio_error(api.get(CALLS.format(sid=customer)), 503, 20503)


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        pytest.param({"rate_limit": -0.1}, "rate_limit", id="rate-limit-negative"),
        pytest.param({"rate_limit": 1.5}, "rate_limit", id="rate-limit-above-1"),
        pytest.param({"server_error": 1.01}, "server_error", id="server-error-above-1"),
        pytest.param({"reset": -1.0}, "reset", id="reset-negative"),
        pytest.param({"truncate": 2.0}, "truncate", id="truncate-above-1"),
        pytest.param({"spike_rate": 1.2}, "spike_rate", id="spike-rate-above-1"),
        pytest.param({"rate_limit": float("nan")}, "rate_limit", id="rate-limit-nan"),
        pytest.param({"rate_limit": 0.6, "server_error": 0.5}, "rate_limit + server_error", id="sum-above-1"),
        pytest.param({"reset": 0.5, "truncate": 0.6}, "reset + truncate", id="sum-above-1-reset-truncate"),
        pytest.param({"latency": -0.1}, "latency", id="latency-negative"),
        pytest.param({"latency": float("nan")}, "latency", id="latency-nan"),
        pytest.param({"spike_latency": -1.0}, "spike_latency", id="spike-latency-negative"),
        pytest.param({"retry_after": -1.0}, "retry_after", id="retry-after-negative"),
        pytest.param({"retry_after": float("nan")}, "retry_after", id="retry-after-nan"),
        pytest.param({"concurrency_limit": 0}, "concurrency_limit", id="concurrency-limit-0"),
        pytest.param({"concurrency_limit": -2}, "concurrency_limit", id="concurrency-limit-negative"),
    ],
)
def test_faults_rejects_bad_settings_naming_the_field(fields: dict[str, float], named: str) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        Faults(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="defaults"),
        pytest.param({"rate_limit": 1.0, "retry_after": 0.0}, id="rate-limit-1"),
        pytest.param({"latency": 0.0, "spike_rate": 1.0, "spike_latency": 0.0}, id="zero-delays"),
        pytest.param({"concurrency_limit": 1}, id="concurrency-limit-1"),
        pytest.param({"rate_limit": 0.25, "server_error": 0.25, "reset": 0.25, "truncate": 0.25}, id="sum-1"),
        pytest.param({"rate_limit": 0.2, "server_error": 0.4, "reset": 0.3, "truncate": 0.1}, id="sum-1-with-rounding"),
    ],
)
def test_faults_accepts_settings_at_the_limits(fields: dict[str, float]) -> None:
    faults = Faults(**fields)  # type: ignore[arg-type]
    for name, value in fields.items():
        assert getattr(faults, name) == value
