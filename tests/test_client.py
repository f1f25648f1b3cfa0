"""``APIClient.fetch`` and ``iter_pages`` against the sandbox over loopback, with its fault injection.

Retries record the delays they would have waited (``RetryPolicy(sleep=...)``), so no
test sleeps. ``httpx.MockTransport`` is used once, for a ``Retry-After`` given as an
HTTP date. What the sandbox cannot send (a server echoing the credentials, odd
``Retry-After`` values) comes from throwaway Tornado apps on ``ServerThread``.
"""

from __future__ import annotations

import base64
import dataclasses
import email.utils
import json
import logging
import math
import random
import socket
import threading
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import polars as pl
import pytest
import tornado.web
from hypothesis import given, settings
from hypothesis import strategies as st

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
from connect_notebook._client import APIClient, _parse_retry_after
from connect_notebook._frames import decode_calls_page
from connect_notebook._kernel import app_for_sandbox
from connect_notebook._retry import Throttle
from connect_notebook._serving import ServerThread
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


def closed_port() -> int:
    """A loopback port nothing listens on: every connection to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        pytest.param("truncate", ("undecodable",), id="truncated-body"),
        pytest.param("reset", ("ReadError", "RemoteProtocolError"), id="reset"),  # which one is the platform's
    ],
)
def test_cut_bodies_after_every_attempt_are_transport_error_naming_the_url(
    sandbox: Sandbox, customer: str, client: APIClient, kind: str, cause: tuple[str, ...]
) -> None:
    sandbox.fail_next(5, kind=kind)
    url = client.api("Calls.json?PageSize=5", account_sid=customer)
    with pytest.raises(TransportError) as info:
        client.fetch(url, json.loads)
    assert url in str(info.value)
    # The httpx error is described, not chained: its .request holds the Authorization header.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    assert any(name in str(info.value) for name in cause)


def test_connection_refused_is_transport_error_after_every_attempt_naming_the_httpx_error(
    app: ConnectApp, customer: str, connected: str, delays: Delays
) -> None:
    closed = dataclasses.replace(app, api_url=f"http://127.0.0.1:{closed_port()}")
    with APIClient(closed, customer, retry=RetryPolicy(attempts=4, sleep=delays, rng=MaxRandom())) as client:
        url = client.api("Calls.json", account_sid=customer)
        with pytest.raises(TransportError) as info:
            client.fetch(url, json.loads)
    exc = info.value
    assert "ConnectError" in str(exc)
    assert exc.__cause__ is None
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


# --- no secret in exception text or chained causes (issue 10, items 2 and 3) ------------------
#
# A throwaway Tornado server (ServerThread, port 0) echoes the request's credentials in its
# error body: the Basic header as sent, and the decoded "sid:token". Nothing the client
# raises may carry either, in any attribute, message, chained exception or traceback text.

OWNER = "AC" + "1" * 32
CUSTOMER = "AC" + "2" * 32
CONNECT_APP = "CN" + "3" * 32
TOKEN = "5e0f3d2c1b0a99887766554433221100"


def basic(sid: str, token: str) -> str:
    return base64.b64encode(f"{sid}:{token}".encode()).decode()


def reachable(exc: BaseException) -> list[str]:
    """Every text an exception leads to: message, repr, args, attributes, chained causes, traceback.

    httpx requests and responses are opened up (their headers are where a Basic header lives),
    and listed in ``found`` so a test can also say none is reachable at all.
    """
    texts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        obj = todo.pop()
        if obj is None or isinstance(obj, bool | int | float) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            texts.append(obj)
            continue
        if isinstance(obj, bytes):
            texts.append(obj.decode("latin-1"))
            continue
        texts.append(repr(obj))
        if isinstance(obj, BaseException):
            todo += [obj.__cause__, obj.__context__, *obj.args, *vars(obj).values(), *getattr(obj, "__notes__", [])]
        elif isinstance(obj, httpx.Request | httpx.Response):
            texts.append(f"HTTPX OBJECT {type(obj).__name__}")
            todo += [str(obj.url) if isinstance(obj, httpx.Request) else obj.request, *obj.headers.raw]
        elif isinstance(obj, dict):
            todo += [*obj.keys(), *obj.values()]
        elif isinstance(obj, list | tuple | set | frozenset):
            todo += list(obj)
    return texts


def assert_no_secret(exc: BaseException, token: str, header: str) -> None:
    for text in reachable(exc):
        assert token not in text
        assert header not in text
        assert "HTTPX OBJECT" not in text, "an httpx request or response is reachable from the exception"
    assert not isinstance(exc.__cause__, httpx.HTTPError)
    assert not isinstance(exc.__context__, httpx.HTTPError)


class _Echo(tornado.web.RequestHandler):
    """Answers ``/<status>/…`` with that status and a Twilio-shaped error body repeating the credentials."""

    def get(self, status: str) -> None:
        header = self.request.headers.get("Authorization", "")
        decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
        self.set_status(int(status))
        self.set_header("Retry-After", "0")
        if status == "200":  # not JSON, so undecodable: the decoder's error text repeats the body
            self.finish(f"Authorization: {header} ({decoded})")
            return
        self.finish(
            {
                "code": 20001,
                "message": f"you sent Authorization: {header}, that is {decoded}",
                "more_info": f"https://www.twilio.com/docs/errors/20001?{decoded}",
                "status": int(status),
            }
        )


@pytest.fixture(scope="module")
def echo() -> Iterator[ServerThread]:
    app = tornado.web.Application([(r"/(\d+)/.*", _Echo)], log_function=lambda h: None)
    with ServerThread(app, name="connect_notebook-test-echo") as server:
        yield server


def echo_app(port: int) -> ConnectApp:
    return ConnectApp(
        account_sid=OWNER, auth_token=TOKEN, connect_app_sid=CONNECT_APP, api_url=f"http://127.0.0.1:{port}"
    )


@pytest.mark.parametrize(
    ("status", "sid", "error"),
    [
        pytest.param(400, CUSTOMER, APIError, id="400"),
        pytest.param(401, CUSTOMER, AuthorizationRevoked, id="401-customer"),
        pytest.param(401, OWNER, APIError, id="401-owner"),
        pytest.param(404, CUSTOMER, NotFoundError, id="404"),
        pytest.param(429, CUSTOMER, RateLimitError, id="429-after-retries"),
        pytest.param(503, CUSTOMER, ServerError, id="503-after-retries"),
        pytest.param(200, CUSTOMER, TransportError, id="undecodable-200-after-retries"),
    ],
)
@pytest.mark.parametrize(
    "decode", [pytest.param(json.loads, id="json"), pytest.param(decode_calls_page, id="columnar")]
)
def test_a_server_echoing_the_credentials_puts_them_in_no_exception(
    echo: ServerThread,
    delays: Delays,
    caplog: pytest.LogCaptureFixture,
    status: int,
    sid: str,
    error: type[Exception],
    decode: Any,
) -> None:
    caplog.set_level(logging.DEBUG, logger="connect_notebook")
    retry = RetryPolicy(attempts=3, sleep=delays)
    with APIClient(echo_app(echo.port), sid, retry=retry) as client:
        with pytest.raises(error) as info:
            client.fetch(f"{client.app.api_url}/{status}/Calls.json", decode)
    assert_no_secret(info.value, TOKEN, basic(sid, TOKEN))
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert basic(sid, TOKEN) not in record.getMessage()
    if isinstance(info.value, APIError):
        assert info.value.status_code == status
        if status != 401:
            assert "you sent Authorization" in info.value.message  # the server's words, masked
            assert info.value.message in str(info.value)


def test_a_refused_connection_puts_no_credentials_in_the_exception(app: ConnectApp, delays: Delays) -> None:
    closed = dataclasses.replace(app, api_url=f"http://127.0.0.1:{closed_port()}")
    with APIClient(closed, CUSTOMER, retry=RetryPolicy(attempts=2, sleep=delays)) as client:
        with pytest.raises(TransportError) as info:
            client.fetch(client.api("Calls.json"), json.loads)
    assert "ConnectError" in str(info.value)
    assert_no_secret(info.value, closed.auth_token, basic(CUSTOMER, closed.auth_token))


def test_a_reset_connection_puts_no_credentials_in_the_exception(
    sandbox: Sandbox, customer: str, connected: str, app: ConnectApp, delays: Delays
) -> None:
    sandbox.fail_next(2, kind="reset")
    with APIClient(app, connected, retry=RetryPolicy(attempts=2, sleep=delays)) as client:
        with pytest.raises(TransportError) as info:
            client.fetch(client.api("Calls.json", account_sid=customer), json.loads)
    assert_no_secret(info.value, app.auth_token, basic(connected, app.auth_token))


def test_a_timeout_puts_no_credentials_in_the_exception(delays: Delays) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)  # connections complete in the backlog; nothing ever answers
        app = echo_app(silent.getsockname()[1])
        with APIClient(app, CUSTOMER, retry=RetryPolicy(attempts=2, sleep=delays), timeout=0.05) as client:
            with pytest.raises(TransportError) as info:
                client.fetch(client.api("Calls.json"), json.loads)
    assert "ReadTimeout" in str(info.value)
    assert_no_secret(info.value, TOKEN, basic(CUSTOMER, TOKEN))


# --- Retry-After in every form RFC 9110 allows (item 8) -----------------------------------

NOW = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)
RETRY_AFTER = [
    # (header value, seconds it means at NOW; None: ignored)
    pytest.param("120", 120.0, id="seconds"),
    pytest.param("0", 0.0, id="zero"),
    pytest.param(" 7 ", 7.0, id="seconds-with-spaces"),
    pytest.param("1.5", 1.5, id="float-tolerated"),
    pytest.param("99999999999999999999999999", 1e26, id="huge-seconds"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 60.0, id="imf-fixdate"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 -0000", 60.0, id="imf-fixdate-minus-0000"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 +0000", 60.0, id="imf-fixdate-plus-0000"),
    pytest.param("Wed, 21 Oct 2015 09:28:00 +0200", 60.0, id="date-with-an-offset"),
    pytest.param("Wednesday, 21-Oct-15 07:28:00 GMT", 60.0, id="rfc-850"),
    pytest.param("Wed Oct 21 07:28:00 2015", 60.0, id="asctime"),
    pytest.param("Wed, 21 Oct 2015 07:26:00 GMT", 0.0, id="date-in-the-past"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 UTC", 60.0, id="imf-fixdate-utc"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 XYZ", 60.0, id="unknown-zone-read-as-gmt"),
    pytest.param("Fri, 01 Jan 2100 00:00:00 GMT", 2_657_032_380.0, id="far-future-date"),
    pytest.param("-1", None, id="negative"),
    pytest.param("-0.5", None, id="negative-float"),
    pytest.param("nan", None, id="nan"),
    pytest.param("NaN", None, id="NaN"),
    pytest.param("inf", None, id="inf"),
    pytest.param("-inf", None, id="minus-inf"),
    pytest.param("1e3", None, id="exponent"),
    pytest.param("0x10", None, id="hex"),
    pytest.param("１２", None, id="non-ascii-digits"),
    pytest.param("9" * 400, None, id="beyond-a-float"),
    pytest.param("", None, id="empty"),
    pytest.param("soon", None, id="garbage"),
    pytest.param("Wed, 31 Feb 2015 07:28:00 GMT", None, id="no-such-day"),
    pytest.param("Wed, 21 Oct 99999 07:28:00 GMT", None, id="year-out-of-range"),
    pytest.param("Wed, 21 Oct 2015 25:28:00 GMT", None, id="no-such-hour"),
    pytest.param("Wed, 21 Oct 2015 07:28:00 +2400", None, id="no-such-offset"),
]


@pytest.mark.parametrize(("value", "seconds"), RETRY_AFTER)
def test_retry_after_is_read_in_every_form_or_ignored(value: str, seconds: float | None) -> None:
    assert _parse_retry_after(value, NOW) == seconds


class _RetryAfterThenOK(tornado.web.RequestHandler):
    """``?value=…``: the first request for a URL is a 429 with that Retry-After, the next a 200."""

    def initialize(self, seen: set[str]) -> None:
        self.seen = seen

    def get(self) -> None:
        uri = self.request.uri or ""
        if uri in self.seen:
            self.finish({"ok": True})
            return
        self.seen.add(uri)
        self.set_status(429)
        self.set_header("Retry-After", self.get_query_argument("value"))
        self.finish({"code": 20429, "message": "Too Many Requests", "status": 429})


@pytest.fixture
def odd_retry_after() -> Iterator[ServerThread]:
    app = tornado.web.Application([(r"/.*", _RetryAfterThenOK, {"seen": set()})], log_function=lambda h: None)
    with ServerThread(app, name="connect_notebook-test-retry-after") as server:
        yield server


@pytest.mark.parametrize(
    ("value", "delay"),
    [
        pytest.param("3", 3.0, id="seconds"),
        pytest.param("2.5", 2.5, id="float"),
        pytest.param("90", 20.0, id="capped-at-max-delay"),
        pytest.param("99999999999999999999999999", 20.0, id="huge-capped"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 -0000", 0.0, id="past-date-minus-0000"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="past-date-gmt"),
        pytest.param("Sunday, 06-Nov-94 08:49:37 GMT", 0.0, id="past-date-rfc-850"),
        pytest.param("Sun Nov  6 08:49:37 1994", 0.0, id="past-date-asctime"),
        pytest.param("Fri, 01 Jan 2100 00:00:00 -0000", 20.0, id="far-future-date-minus-0000-capped"),
        pytest.param("nan", 0.2, id="nan-ignored"),
        pytest.param("inf", 0.2, id="inf-ignored"),
        pytest.param("-5", 0.2, id="negative-ignored"),
        pytest.param("Wed, 99 Oct 2015 07:28:00 GMT", 0.2, id="bad-date-ignored"),
        pytest.param("soon", 0.2, id="garbage-ignored"),
    ],
)
def test_an_odd_retry_after_from_a_real_server_is_honoured_or_ignored_never_raised(
    odd_retry_after: ServerThread, delays: Delays, value: str, delay: float
) -> None:
    app = echo_app(odd_retry_after.port)
    retry = RetryPolicy(max_delay=20.0, sleep=delays, rng=MaxRandom())
    with APIClient(app, CUSTOMER, retry=retry) as client:
        url = f"{app.api_url}/Calls.json?{urlencode({'value': value})}"
        assert client.fetch(url, json.loads) == {"ok": True}
    assert delays == [delay]  # ignored: the backoff of a first retry (0.2 s at full jitter)


def test_a_rate_limit_error_with_a_garbage_retry_after_has_no_retry_after(
    odd_retry_after: ServerThread, delays: Delays
) -> None:
    app = echo_app(odd_retry_after.port)
    with APIClient(app, CUSTOMER, retry=RetryPolicy(attempts=1, sleep=delays)) as client:
        with pytest.raises(RateLimitError) as info:
            client.fetch(f"{app.api_url}/Calls.json?value=nan", json.loads)
    assert info.value.retry_after is None


_HTTP_DATES = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()).map(
    lambda d: email.utils.format_datetime(d)
)


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.text(), _HTTP_DATES, st.floats().map(str), st.integers().map(str)))
def test_any_retry_after_gives_a_finite_delay_within_max_delay(value: str) -> None:
    policy = RetryPolicy(max_delay=20.0)
    seconds = _parse_retry_after(value, NOW)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)
    delay = policy.delay(1, seconds)
    assert math.isfinite(delay)
    assert 0.0 <= delay <= 20.0


# --- the API's clock ------------------------------------------------------------------
#
# A list's retention counts back from the server's day, so the client reads the server's
# clock from the Date of its answers (the sandbox's is pinned), and falls back to its own.


def test_now_is_our_clock_until_an_answer_then_the_servers_date(
    sandbox: Sandbox, customer: str, client: APIClient
) -> None:
    before = datetime.now(UTC)
    assert before <= client.now() <= datetime.now(UTC)  # no answer yet: ours
    client.fetch(f"{client.api('Calls.json', account_sid=customer)}?PageSize=5", json.loads)
    assert client.now() == sandbox.now  # the session's sandbox, pinned to 2026-11-01
    assert client.now() < before


class _Dated(tornado.web.RequestHandler):
    """``?date=…`` as the answer's Date header; ``?date=`` sends none at all."""

    def get(self) -> None:
        date = self.get_query_argument("date")
        if date:
            self.set_header("Date", date)
        else:
            self.clear_header("Date")
        self.finish({"ok": True})


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        pytest.param("Sun, 01 Nov 2026 12:00:00 GMT", datetime(2026, 11, 1, 12, tzinfo=UTC), id="gmt"),
        pytest.param("Sun, 01 Nov 2026 14:00:00 +0200", datetime(2026, 11, 1, 12, tzinfo=UTC), id="offset"),
        pytest.param("Sun, 01 Nov 2026 12:00:00 -0000", datetime(2026, 11, 1, 12, tzinfo=UTC), id="minus-0000"),
        pytest.param("", None, id="no-date-ours"),
        pytest.param("yesterday", None, id="garbage-ours"),
        pytest.param("Sun, 99 Nov 2026 12:00:00 GMT", None, id="no-such-day-ours"),
    ],
)
def test_now_reads_the_date_in_its_forms_and_is_ours_for_none_or_garbage(date: str, expected: datetime | None) -> None:
    app = tornado.web.Application([(r"/.*", _Dated)], log_function=lambda h: None)
    with ServerThread(app, name="connect_notebook-test-date") as server:
        connect_app = echo_app(server.port)
        with APIClient(connect_app, CUSTOMER, retry=RetryPolicy(attempts=1)) as client:
            before = datetime.now(UTC)
            assert client.fetch(f"{connect_app.api_url}/Calls.json?{urlencode({'date': date})}", json.loads)
            now = client.now()
    if expected is None:
        assert before <= now <= datetime.now(UTC)
    else:
        assert now == expected and now.tzinfo is UTC
