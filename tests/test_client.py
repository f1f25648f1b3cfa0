"""``APIClient.fetch`` and ``iter_pages`` against the sandbox over loopback, with its fault injection.

Retries record the delays they would have waited (``RetryPolicy(sleep=...)``), so no
test sleeps. ``httpx.MockTransport`` is used once, for a ``Retry-After`` given as an
HTTP date, which the sandbox never sends.
"""

from __future__ import annotations

import dataclasses
import json
import random
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import polars as pl
import pytest

from connect_notebook import (
    APIError,
    AuthorizationRevoked,
    ConnectApp,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from connect_notebook._active import app_for_sandbox
from connect_notebook._client import APIClient
from connect_notebook._frames import decode_calls_page
from connect_notebook._retry import Throttle
from connect_notebook.sandbox import Faults, Sandbox


class Delays(list[float]):
    """Records the delays a RetryPolicy asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class MaxRandom(random.Random):
    """Full jitter at its upper bound, so each backoff delay is exactly base * 2**(attempt-1)."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture
def delays() -> Delays:
    return Delays()


@pytest.fixture
def app(sandbox: Sandbox) -> ConnectApp:
    return app_for_sandbox(sandbox)


@pytest.fixture
def client(app: ConnectApp, connected: str, delays: Delays) -> Iterator[APIClient]:
    """The Connect App's client for the customer (its Connect subaccount), retrying up to 5 times without sleeping.

    The customer's calls live in its main account and other subaccounts, read under their own
    paths with these credentials (``twilio-api-notes.md`` §8.1): tests pass ``account_sid=customer``.
    """
    with APIClient(app, connected, retry=RetryPolicy(attempts=5, sleep=delays, rng=MaxRandom())) as c:
        yield c


def calls_path(customer: str, query: str = "PageSize=5") -> str:
    """The path of a main account's call list, as the sandbox counts it."""
    return f"/2010-04-01/Accounts/{customer}/Calls.json?{query}"


def sent(sandbox: Sandbox, path: str) -> int:
    """How many times the sandbox received ``GET path`` since the last reset."""
    return sandbox.requests.get(f"GET {path}", 0)


# --- success and error mapping ------------------------------------------------------


def test_fetch_returns_the_decoded_page(sandbox: Sandbox, customer: str, client: APIClient, delays: Delays) -> None:
    body = client.fetch(client.api("Calls.json?PageSize=5", account_sid=customer), json.loads)
    assert [c["sid"] for c in body["calls"]] == [c["sid"] for c in sandbox.calls(customer)[:5]]
    assert body["next_page_uri"] is not None
    assert delays == []
    assert sent(sandbox, calls_path(customer)) == 1


def test_fetch_with_the_columnar_decoder_returns_records_and_the_next_link(
    sandbox: Sandbox, customer: str, client: APIClient
) -> None:
    frame, link = client.fetch(client.api("Calls.json?PageSize=7", account_sid=customer), decode_calls_page)
    assert isinstance(frame, pl.DataFrame)
    assert frame["sid"].to_list() == [c["sid"] for c in sandbox.calls(customer)[:7]]
    assert link is not None
    assert link.startswith(f"/2010-04-01/Accounts/{customer}/Calls.json?")


def test_404_is_not_found_with_twilio_code_and_more_info_and_is_not_retried(
    sandbox: Sandbox, customer: str, client: APIClient, delays: Delays
) -> None:
    path = f"/2010-04-01/Accounts/{customer}/Calls/CA{'0' * 32}.json"
    with pytest.raises(NotFoundError) as info:
        client.fetch(client.absolute(path), json.loads)
    exc = info.value
    assert exc.status_code == 404
    assert exc.code == 20404
    assert exc.more_info == "https://www.twilio.com/docs/errors/20404"
    assert "was not found" in exc.message
    assert path in str(exc)
    assert exc.url == client.absolute(path)
    assert delays == []
    assert sent(sandbox, path) == 1


def test_400_is_a_plain_api_error_with_the_message_and_is_not_retried(
    sandbox: Sandbox, customer: str, client: APIClient, delays: Delays
) -> None:
    query = "Status=bogus&PageSize=5"
    with pytest.raises(APIError) as info:
        client.fetch(client.api(f"Calls.json?{query}", account_sid=customer), json.loads)
    exc = info.value
    assert type(exc) is APIError
    assert exc.status_code == 400
    assert exc.code == 20001
    assert exc.more_info == "https://www.twilio.com/docs/errors/20001"
    assert "Status must be one of" in exc.message
    assert "Status must be one of" in str(exc)
    assert "400" in str(exc)
    assert delays == []
    assert sent(sandbox, calls_path(customer, query)) == 1


def test_401_for_a_customer_that_has_not_authorized_is_authorization_revoked(
    sandbox: Sandbox, app: ConnectApp, delays: Delays
) -> None:
    stranger = sandbox.customer_account_sids[1]
    with APIClient(app, stranger, retry=RetryPolicy(attempts=3, sleep=delays)) as client:
        with pytest.raises(AuthorizationRevoked) as info:
            client.fetch(client.api("Calls.json"), json.loads)
    assert stranger in str(info.value)
    assert app.connect_app_sid in str(info.value)
    assert app.auth_token not in str(info.value)
    assert delays == []


def test_401_for_the_owner_with_a_wrong_token_says_to_check_the_owner_credentials(
    sandbox: Sandbox, app: ConnectApp, delays: Delays
) -> None:
    wrong = dataclasses.replace(app, auth_token="f" * 32)
    with APIClient(wrong, wrong.account_sid, retry=RetryPolicy(attempts=3, sleep=delays)) as client:
        with pytest.raises(APIError) as info:
            client.fetch(client.api("Calls.json"), json.loads)
    exc = info.value
    assert exc.status_code == 401
    assert exc.code == 20003
    assert "Auth Token" in str(exc)
    assert wrong.auth_token not in str(exc)
    assert app.auth_token not in str(exc)
    assert delays == []


# --- retries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(429, id="429"),
        pytest.param(500, id="500"),
        pytest.param(502, id="502"),
        pytest.param(503, id="503"),
        pytest.param(504, id="504"),
    ],
)
def test_retryable_statuses_are_retried_with_exponential_backoff_then_succeed(
    sandbox: Sandbox, customer: str, client: APIClient, delays: Delays, status: int
) -> None:
    sandbox.fail_next(3, status=status)
    body = client.fetch(client.api("Calls.json?PageSize=5", account_sid=customer), json.loads)
    assert len(body["calls"]) == 5
    assert delays == [0.2, 0.4, 0.8]
    assert sent(sandbox, calls_path(customer)) == 4


def test_backoff_is_capped_at_max_delay(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, delays: Delays
) -> None:
    sandbox.fail_next(6, status=503)
    retry = RetryPolicy(attempts=7, base_delay=1.0, max_delay=5.0, sleep=delays, rng=MaxRandom())
    with APIClient(app, connected, retry=retry) as client:
        client.fetch(client.api("Calls.json?PageSize=5", account_sid=customer), json.loads)
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_jittered_backoff_stays_within_the_exponential_bound(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, delays: Delays
) -> None:
    sandbox.fail_next(6, status=500)
    retry = RetryPolicy(attempts=7, base_delay=0.5, max_delay=8.0, sleep=delays, rng=random.Random(4))
    with APIClient(app, connected, retry=retry) as client:
        client.fetch(client.api("Calls.json?PageSize=5", account_sid=customer), json.loads)
    assert len(delays) == 6
    for attempt, delay in enumerate(delays, start=1):
        assert 0.0 <= delay <= min(8.0, 0.5 * 2 ** (attempt - 1))
    assert len(set(delays)) > 1  # jittered, not constant


def test_retry_after_from_the_server_is_honoured(
    sandbox: Sandbox, customer: str, client: APIClient, delays: Delays
) -> None:
    sandbox.fail_next(2, status=429, retry_after=2)
    client.fetch(client.api("Calls.json?PageSize=5", account_sid=customer), json.loads)
    assert delays == [2.0, 2.0]


def test_retry_after_longer_than_max_delay_is_capped(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, delays: Delays
) -> None:
    sandbox.fail_next(1, status=429, retry_after=90)
    with APIClient(app, connected, retry=RetryPolicy(max_delay=20.0, sleep=delays)) as client:
        client.fetch(client.api("Calls.json?PageSize=5", account_sid=customer), json.loads)
    assert delays == [20.0]


@pytest.mark.parametrize("kind", [pytest.param("truncate", id="truncated-body"), pytest.param("reset", id="reset")])
@pytest.mark.parametrize(
    "decode",
    [pytest.param(json.loads, id="json"), pytest.param(decode_calls_page, id="columnar")],
)
def test_a_cut_body_is_retried_and_the_page_comes_back_whole(
    sandbox: Sandbox, customer: str, client: APIClient, delays: Delays, kind: str, decode: Any
) -> None:
    expected = client.fetch(client.api("Calls.json?PageSize=50", account_sid=customer), decode)
    sandbox.fail_next(1, kind=kind)
    again = client.fetch(client.api("Calls.json?PageSize=50", account_sid=customer), decode)
    assert delays == [0.2]
    if isinstance(expected, dict):
        assert again == expected
    else:
        assert again[1] == expected[1]
        assert again[0].equals(expected[0])
    assert sent(sandbox, calls_path(customer, "PageSize=50")) == 3


def test_rate_limited_after_every_attempt_is_rate_limit_error_with_the_last_retry_after(
    sandbox: Sandbox, customer: str, client: APIClient, delays: Delays
) -> None:
    sandbox.fail_next(5, status=429, retry_after=3)
    url = client.api("Calls.json?PageSize=5", account_sid=customer)
    with pytest.raises(RateLimitError) as info:
        client.fetch(url, json.loads)
    exc = info.value
    assert exc.status_code == 429
    assert exc.code == 20429
    assert exc.retry_after == 3.0
    assert url in str(exc)
    assert "5 tries" in str(exc)
    assert delays == [3.0] * 4


def test_server_error_after_every_attempt_is_server_error_naming_the_url(
    sandbox: Sandbox, customer: str, client: APIClient, delays: Delays
) -> None:
    sandbox.fail_next(5, status=503)
    url = client.api("Calls.json?PageSize=5", account_sid=customer)
    with pytest.raises(ServerError) as info:
        client.fetch(url, json.loads)
    assert info.value.status_code == 503
    assert info.value.code == 20503
    assert url in str(info.value)
    assert sent(sandbox, calls_path(customer)) == 5


@pytest.mark.parametrize(
    ("kind", "cause"),
    [
        pytest.param("truncate", None, id="truncated-body"),
        pytest.param("reset", httpx.TransportError, id="reset"),
    ],
)
def test_cut_bodies_after_every_attempt_are_transport_error_naming_the_url(
    sandbox: Sandbox, customer: str, client: APIClient, kind: str, cause: type[BaseException] | None
) -> None:
    sandbox.fail_next(5, kind=kind)
    url = client.api("Calls.json?PageSize=5", account_sid=customer)
    with pytest.raises(TransportError) as info:
        client.fetch(url, json.loads)
    assert url in str(info.value)
    assert info.value.__cause__ is not None
    if cause is not None:
        assert isinstance(info.value.__cause__, cause)
    else:
        assert "undecodable" in str(info.value)


def test_connection_refused_is_transport_error_after_every_attempt_with_the_httpx_cause(
    app: ConnectApp, customer: str, connected: str, delays: Delays
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens on the port now: every connection is refused.
    closed = dataclasses.replace(app, api_url=f"http://127.0.0.1:{port}")
    with APIClient(closed, customer, retry=RetryPolicy(attempts=4, sleep=delays, rng=MaxRandom())) as client:
        url = client.api("Calls.json", account_sid=customer)
        with pytest.raises(TransportError) as info:
            client.fetch(url, json.loads)
    exc = info.value
    assert isinstance(exc.__cause__, httpx.ConnectError)
    assert url in str(exc)
    assert "4 tries" in str(exc)
    assert delays == [0.2, 0.4, 0.8]
    assert closed.auth_token not in str(exc)


def test_get_json_retries_like_fetch(sandbox: Sandbox, customer: str, client: APIClient, delays: Delays) -> None:
    sandbox.fail_next(1, status=500)
    account = client.get_json(f"{client.app.api_url}/2010-04-01/Accounts/{customer}.json")
    assert account["sid"] == customer
    assert account["auth_token"] is None  # a customer never sees the owner's token
    assert delays == [0.2]


# --- paging -----------------------------------------------------------------------


def test_iter_pages_follows_next_page_uri_to_the_end(sandbox: Sandbox, customer: str, client: APIClient) -> None:
    truth = [c["sid"] for c in sandbox.calls(customer)]
    assert len(truth) > 600  # three pages at least, the last one short
    pages = list(client.iter_pages(client.api("Calls.json?PageSize=300", account_sid=customer), decode_calls_page))
    assert [p.height for p in pages] == [300] * (len(truth) // 300) + [len(truth) % 300]
    assert pl.concat(pages)["sid"].to_list() == truth


def test_the_connected_sid_pages_through_every_account_of_the_family_under_its_own_path(
    sandbox: Sandbox, customer: str, connected: str, client: APIClient
) -> None:
    family = sandbox.family(customer)
    assert family[0] == customer and family[-1] == connected and len(family) == 4
    for sid in family:
        pages = list(client.iter_pages(client.api("Calls.json?PageSize=250", account_sid=sid), decode_calls_page))
        got = pl.concat(pages)["sid"].to_list() if pages else []
        assert got == [c["sid"] for c in sandbox.calls(sid)], sid
    assert sandbox.calls(connected) == []  # the Connect subaccount holds none of the customer's calls
    assert sum(len(sandbox.calls(sid)) for sid in family) == 2_000


def test_a_main_account_sid_with_the_owners_token_is_refused_even_once_its_customer_authorized(
    sandbox: Sandbox, app: ConnectApp, customer: str, connected: str, delays: Delays
) -> None:
    # Only the Connect subaccount's SID carries the authorization (twilio-api-notes.md §8.1).
    with APIClient(app, customer, retry=RetryPolicy(attempts=3, sleep=delays)) as client:
        with pytest.raises(AuthorizationRevoked) as info:
            client.fetch(client.api("Calls.json"), json.loads)
    assert customer in str(info.value)
    assert app.auth_token not in str(info.value)
    assert delays == []


def test_the_connected_sid_is_refused_once_the_customer_revokes_the_app(
    sandbox: Sandbox, app: ConnectApp, customer: str, connected: str, client: APIClient, delays: Delays
) -> None:
    url = client.api("Calls.json?PageSize=5", account_sid=customer)
    client.fetch(url, json.loads)
    sandbox.deauthorize(customer)
    with pytest.raises(AuthorizationRevoked) as info:
        client.fetch(url, json.loads)
    assert connected in str(info.value)
    assert delays == []


def test_iter_pages_under_faults_retries_pages_never_skips_or_repeats_one(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, delays: Delays
) -> None:
    sandbox.faults = Faults(seed=9, rate_limit=0.15, retry_after=0, server_error=0.15, reset=0.1, truncate=0.1)
    with APIClient(app, connected, retry=RetryPolicy(attempts=20, sleep=delays)) as client:
        pages = list(client.iter_pages(client.api("Calls.json?PageSize=100", account_sid=customer), decode_calls_page))
    assert pl.concat(pages)["sid"].to_list() == [c["sid"] for c in sandbox.calls(customer)]
    assert len(delays) == sum(sandbox.injected.values()) > 0


# --- throttle ---------------------------------------------------------------------


def test_throttle_halves_on_each_429_down_to_one() -> None:
    throttle = Throttle(8)
    limits = []
    for _ in range(5):
        throttle.rate_limited()
        limits.append(throttle.limit)
    assert limits == [4, 2, 1, 1, 1]


def test_throttle_recovers_one_step_per_run_of_successes_up_to_its_maximum() -> None:
    throttle = Throttle(4)
    throttle.rate_limited()
    throttle.rate_limited()
    assert throttle.limit == 1
    steps = []
    for _ in range(200):
        throttle.succeeded()
        if not steps or steps[-1] != throttle.limit:
            steps.append(throttle.limit)
    assert steps == [1, 2, 3, 4]
    assert throttle.limit == throttle.max_limit == 4


def test_a_429_during_recovery_resets_the_run_of_successes() -> None:
    throttle = Throttle(8)
    throttle.rate_limited()  # 4: four times four successes to grow
    for _ in range(15):
        throttle.succeeded()
    throttle.rate_limited()  # 2
    for _ in range(7):
        throttle.succeeded()
    assert throttle.limit == 2
    throttle.succeeded()
    assert throttle.limit == 3


def test_client_halves_its_throttle_on_a_429_and_grows_it_back_on_successes(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, delays: Delays
) -> None:
    throttle = Throttle(4)
    sandbox.fail_next(1, status=429)
    with APIClient(app, connected, retry=RetryPolicy(sleep=delays), throttle=throttle) as client:
        url = client.api("Calls.json?PageSize=1", account_sid=customer)
        client.fetch(url, json.loads)
        assert throttle.limit == 2
        for _ in range(4 * 2 + 4 * 3):
            client.fetch(url, json.loads)
    assert throttle.limit == 4


def test_throttle_keeps_requests_in_flight_within_the_accounts_concurrency_limit(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, delays: Delays
) -> None:
    # With latency, eight unthrottled threads would overlap and meet the sandbox's 429s.
    sandbox.faults = Faults(latency=0.02, concurrency_limit=2)
    throttle = Throttle(2)
    errors: list[BaseException] = []
    with APIClient(app, connected, retry=RetryPolicy(attempts=1, sleep=delays), throttle=throttle) as client:

        def fetch_one(n: int) -> None:
            try:
                client.fetch(client.api(f"Calls.json?PageSize={n + 1}", account_sid=customer), json.loads)
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                errors.append(exc)

        threads = [threading.Thread(target=fetch_one, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert sandbox.injected.get("concurrency_limit", 0) == 0
    assert sum(sandbox.requests.values()) == 8


# --- Retry-After as an HTTP date (MockTransport) -------------------------------------
#
# The sandbox sends Retry-After only as seconds; Twilio may send an HTTP date, which the
# sandbox cannot produce, so these two tests use httpx's own test transport.


def _date_then_ok(retry_after: str) -> httpx.MockTransport:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": retry_after}, json={"code": 20429, "message": "Too Many"}),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    return httpx.MockTransport(lambda request: next(answers))


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="date-in-the-past-means-now"),
        pytest.param("Fri, 01 Jan 2100 00:00:00 GMT", 20.0, id="far-future-date-is-capped"),
    ],
)
def test_retry_after_as_an_http_date_is_honoured(
    app: ConnectApp, customer: str, connected: str, delays: Delays, retry_after: str, expected: float
) -> None:
    retry = RetryPolicy(max_delay=20.0, sleep=delays)
    with APIClient(app, connected, retry=retry, transport=_date_then_ok(retry_after)) as client:
        assert client.fetch(client.api("Calls.json", account_sid=customer), json.loads) == {"ok": True}
    assert delays == [expected]
