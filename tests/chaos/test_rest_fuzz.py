"""Hostile REST requests at the sandbox: every answer is a 2xx JSON body or Twilio's JSON error, never a 5xx.

Two hypothesis properties share one check: each example sends one request drawn by
``chaos.rest_probes`` (PageSize, Page, PageToken, the date filters, SIDs in the path,
methods, form bodies and credentials, including a main account's SID with the owner's
token) with real httpx to a sandbox of this module's own, faults off, and asserts the
answer there: a JSON object or Twilio's ``{code, message, more_info, status}`` error, no
2xx to bad credentials, no ERROR logged, no authorization or Connect App changed. The
first property runs once per resource with everything else drawn; the second once per
kind of bad credentials, method besides GET, and for another account's path, so that
each is sent. The audits after them check that the fuzz reached every status and kind
of request the README counts, and the controls show that the judge, the error log and
the state check do see a positive. Last, the regressions the full fuzz found: dates
beyond the calendar are a 400.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.figures import Figures, Table, budget
from chaos.needles import Needles
from chaos.rest_probes import (
    BAD_CREDENTIALS,
    DATE_FILTERS,
    METHODS,
    REST_ENDPOINTS,
    TIMEOUT,
    RestProbe,
    build_world,
    credentials,
    judge_rest,
    rest_probes,
    send,
)
from connect_notebook.sandbox import Profile, Sandbox

TITLE = "hostile REST requests at the sandbox"
PROPERTIES = (
    "test_every_hostile_rest_request_gets_json_or_twilios_error",
    "test_every_bad_caller_odd_method_and_foreign_path_gets_json_or_twilios_error",
)
NOW = "2026-11-01T12:00:00+00:00"
ERROR_KEYS = {"code", "message", "more_info", "status"}
# The statuses the README reports, in its order; any other status gets a row when it is first seen.
STATUSES = (200, 400, 401, 403, 404, 405)
# What the README says the requests carry: each label, and whether a probe counts under it.
KINDS: tuple[tuple[str, Callable[[RestProbe], bool]], ...] = (
    ("requests carrying PageSize", lambda p: "PageSize" in p.names),
    ("requests carrying Page", lambda p: "Page" in p.names),
    ("requests carrying PageToken", lambda p: "PageToken" in p.names),
    ("requests carrying a date filter", lambda p: any(n in DATE_FILTERS for n in p.names)),
    ("requests carrying a parameter twice", lambda p: len(set(p.names)) < len(p.names)),
    ("requests naming a record SID in the path", lambda p: "{" in p.endpoint),
    ("requests on another account's path", lambda p: p.other_account),
    ("requests with a method other than GET", lambda p: p.method != "GET"),
    ("requests with a form body", lambda p: p.body is not None),
    ("requests with bad credentials", lambda p: p.who in BAD_CREDENTIALS),
    ("requests as a main account's SID with the owner's token", lambda p: p.who == "main-account"),
)


class _ErrorRecords(logging.Handler):
    """Keeps the ERROR records (uncaught exceptions in handlers) of the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _error_records() -> tuple[_ErrorRecords, Callable[[], None]]:
    """Attach an ``_ErrorRecords`` to tornado's and our loggers; return it and the function that detaches it."""
    handler = _ErrorRecords()
    loggers = [logging.getLogger(name) for name in ("tornado", "connect_notebook")]
    for logger in loggers:
        logger.addHandler(handler)

    def detach() -> None:
        for logger in loggers:
            logger.removeHandler(handler)

    return handler, detach


def _snapshot(sandbox: Sandbox) -> tuple[Any, dict[str, tuple[str, ...]]]:
    """What no hostile request may change: the Connect App and who authorized it with what."""
    return sandbox.connect_app, dict(sandbox.state.authorizations)


def _restore(sandbox: Sandbox, snapshot: tuple[Any, dict[str, tuple[str, ...]]]) -> None:
    """Put the Connect App and the authorizations back as ``_snapshot`` saw them."""
    app, authorizations = snapshot
    with sandbox.state.lock:
        sandbox.state.connect_app = app
        sandbox.state.authorizations.clear()
        sandbox.state.authorizations.update(authorizations)


class _Target:
    """The fuzzed sandbox, the world the probes draw from, and what sending and checking need.

    A plain class with a short repr, not a dataclass: hypothesis prints a dataclass's fields
    with every failing example, and ``authorization`` holds the owner's token.
    """

    def __init__(self, sandbox: Sandbox, client: httpx.Client, errors: _ErrorRecords) -> None:
        self.sandbox = sandbox
        self.world = build_world(sandbox)
        self.client = client
        self.base = httpx.URL(sandbox.api_url)
        token = sandbox.owner_auth_token
        self.authorization = credentials(self.world, token)
        usernames = (self.world.reader, self.world.writer, self.world.stranger, self.world.reader_main)
        self.needles = Needles(token, usernames)
        self.errors = errors
        self.before = _snapshot(sandbox)

    def __repr__(self) -> str:
        return f"<the fuzzed sandbox at {self.sandbox.api_url}>"

    def shown(self, probe: RestProbe, response: httpx.Response | None, why: str) -> str:
        """What went wrong, with the request and the start of the answer, masked of the owner's token."""
        answer = "" if response is None else f" → {response.status_code} {response.text[:300]!r}"
        return self.needles.mask(f"{why}: {probe.describe()}{answer}")


@pytest.fixture(scope="module")
def target() -> Iterator[_Target]:
    """A sandbox of this module's own (three customers of 500 calls, faults off) and its world.

    Module-scoped, as a @given test needs; the same seeded sandbox under both profiles, so
    that an example from the database sends the same request again.
    """
    errors, detach = _error_records()
    try:
        with (
            Sandbox(seed=5, calls_per_customer=500, customers=3, now=NOW) as sb,
            httpx.Client(timeout=TIMEOUT) as client,
        ):
            yield _Target(sb, client, errors)
    finally:
        detach()


_INVARIANTS = (
    "5xx answers",
    "answers that are neither a 2xx JSON object nor Twilio's error body",
    "2xx answers to bad credentials",
    "ERROR log records",
    "requests that changed an authorization or the Connect App",
)


def _count(table: Table, probe: RestProbe) -> None:
    """Count one request under every label it fits (every label appears, in a fixed order)."""
    table.add("requests")
    for status in STATUSES:
        table.add(f"answered {status}", 0)
    for label in _INVARIANTS:
        table.add(label, 0)
    for label, fits in KINDS:
        table.add(label, 1 if fits(probe) else 0)
    table.add(f"requests to {probe.endpoint}")


def _check(target: _Target, table: Table, probe: RestProbe) -> None:
    """Send ``probe`` and assert what every answer must be, counting it first (a failure is counted too)."""
    _count(table, probe)
    seen = len(target.errors.records)
    try:
        response = send(target.client, target.base, probe, target.authorization[probe.who])
    except httpx.HTTPError as exc:
        table.add("requests without an answer")
        raise AssertionError(target.shown(probe, None, f"no answer ({exc.__class__.__name__}: {exc})")) from exc
    table.add(f"answered {response.status_code}")
    why = judge_rest(probe, response)
    if why == "5xx":
        table.add("5xx answers")
    elif why is not None:
        table.add("answers that are neither a 2xx JSON object nor Twilio's error body")
    assert why is None, target.shown(probe, response, why)
    if probe.who in BAD_CREDENTIALS and response.is_success:
        table.add("2xx answers to bad credentials")
        raise AssertionError(target.shown(probe, response, f"bad credentials ({probe.who}) were accepted"))
    logged = [r.getMessage().splitlines()[0] for r in target.errors.records[seen:]]
    table.add("ERROR log records", len(logged))
    assert not logged, target.shown(probe, response, f"the sandbox logged ERROR {logged}")
    if _snapshot(target.sandbox) != target.before:
        table.add("requests that changed an authorization or the Connect App")
        _restore(target.sandbox, target.before)  # so that the next examples (and the shrinking) start alike
        raise AssertionError(target.shown(probe, response, "the request changed an authorization or the Connect App"))


@pytest.mark.parametrize("endpoint", REST_ENDPOINTS)
@settings(max_examples=budget(quick=18, full=142))
@given(data=st.data())
def test_every_hostile_rest_request_gets_json_or_twilios_error(
    endpoint: str, data: st.DataObject, target: _Target, figures: Figures
) -> None:
    """One drawn request on ``endpoint``: a JSON answer of the right shape, no 5xx, no ERROR, no state change.

    Parametrized by resource so that each gets its share (216 requests quick, 1,704 full);
    hypothesis draws everything else, and shrinks a failure to the plainest request.
    """
    _check(target, figures.table(TITLE), data.draw(rest_probes(target.world, endpoint), label="probe"))


_ONE_THING = [
    *(pytest.param({"who": who}, id=f"who={who}") for who in BAD_CREDENTIALS),
    *(pytest.param({"method": method}, id=f"method={method}") for method in METHODS),
    pytest.param({"other_account": True}, id="another-account"),
]


@pytest.mark.parametrize("fixed", _ONE_THING)
@settings(max_examples=budget(quick=6, full=20))
@given(data=st.data())
def test_every_bad_caller_odd_method_and_foreign_path_gets_json_or_twilios_error(
    fixed: dict[str, Any], data: st.DataObject, target: _Target, figures: Figures
) -> None:
    """The same check with one thing fixed: a kind of bad credentials, a method besides GET, or another account.

    The mix above sends each of those rarely and unevenly; here each gets its own share
    (90 requests quick, 300 full), so that every one is sent and the audit's 401s and 405s occur.
    """
    probe = data.draw(rest_probes(target.world, **fixed), label="probe")
    _check(target, figures.table(TITLE), probe)


# -- audits: what the property reached --


def test_the_fuzz_reached_every_status_and_kind_of_request(recorded: Callable[[str, str], Table]) -> None:
    """The README's statuses and kinds of request each occurred: a property that never sent them proves nothing."""
    for name in PROPERTIES:
        table = recorded(TITLE, name)  # the same table: both properties count into it
    missing = [f"answered {s}" for s in STATUSES if table.get(f"answered {s}") == 0]
    missing += [label for label, _ in KINDS if table.get(label) == 0]
    missing += [f"requests to {e}" for e in REST_ENDPOINTS if table.get(f"requests to {e}") == 0]
    assert not missing, f"the fuzz never produced: {missing}"


def test_the_sandbox_logged_no_error_while_fuzzed(recorded: Callable[[str, str], Table], target: _Target) -> None:
    """No ERROR record at all during the property, also none that arrived after its example ended."""
    for name in PROPERTIES:
        recorded(TITLE, name)
    assert [r.getMessage().splitlines()[0] for r in target.errors.records] == []


# -- controls: the instruments see a positive --


@pytest.fixture(scope="module")
def small() -> Iterator[Sandbox]:
    """A throwaway one-customer sandbox the controls may break and change."""
    profile = Profile(name="Solo", pattern="dense", days=5, calls=200)
    with Sandbox(seed=11, customers=[profile], now=NOW) as sb:
        yield sb


def test_the_judge_and_the_error_log_see_an_uncaught_exception(small: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler that raises gives a 500 the judge calls a 5xx, and an ERROR record the capture keeps."""
    customer = small.customer_account_sids[0]
    reader = small.authorize(customer)
    probe = RestProbe("Calls", "GET", f"/2010-04-01/Accounts/{customer}/Calls.json", "", None, "get-all")

    def broken(sid: str) -> Any:
        msg = f"the control broke the sandbox's data for {sid}"
        raise RuntimeError(msg)

    monkeypatch.setattr(small.state, "data", broken)
    errors, detach = _error_records()
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            auth = "Basic " + base64.b64encode(f"{reader}:{small.owner_auth_token}".encode()).decode()
            response = send(client, httpx.URL(small.api_url), probe, auth)
    finally:
        detach()
    assert response.status_code == 500, response.text
    assert judge_rest(probe, response) == "5xx"
    assert any("control broke" in str(r.exc_info[1]) for r in errors.records if r.exc_info), errors.records


@pytest.mark.parametrize(
    ("path", "why"),
    [
        pytest.param("/", "200 that is not JSON", id="index-page"),
        pytest.param("/authorize/CN" + "0" * 32, "404 that is not JSON", id="authorize-page-of-no-app"),
    ],
)
def test_the_judge_refuses_an_html_answer(path: str, why: str, target: _Target) -> None:
    """The sandbox's HTML pages are real answers the judge must refuse, had the API sent one."""
    probe = RestProbe("Calls", "GET", path, "", None, "no-auth")
    assert judge_rest(probe, send(target.client, target.base, probe, None)) == why


def test_the_state_check_sees_an_owner_changing_the_connect_app(small: Sandbox) -> None:
    """The owner renaming the Connect App (allowed) changes the snapshot the property compares; restoring undoes it."""
    before = _snapshot(small)
    url = f"{small.api_url}/2010-04-01/Accounts/{small.owner_account_sid}/ConnectApps/{small.connect_app_sid}.json"
    auth = (small.owner_account_sid, small.owner_auth_token)
    response = httpx.post(url, data={"FriendlyName": "renamed by the control"}, auth=auth, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert _snapshot(small) != before
    _restore(small, before)
    assert _snapshot(small) == before


# -- what the full fuzz found: dates beyond the calendar --


def _assert_twilio_400(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["status"] == 400
    assert body["code"] == 20001
    assert body["more_info"] == "https://www.twilio.com/docs/errors/20001"


@pytest.mark.parametrize(
    ("resource", "params"),
    [
        pytest.param("Calls.json", {"StartTime": "9999-12-31T23:59:59-01:00"}, id="calls-StartTime-after-9999"),
        pytest.param("Calls.json", {"StartTime>": "0001-01-01T00:00:00+01:00"}, id="calls-StartTime-before-0001"),
        pytest.param("Calls.json", {"EndTime<": "Fri, 31 Dec 9999 23:59:59 -0100"}, id="calls-EndTime-rfc2822"),
        pytest.param("Messages.json", {"DateSent": "9999-12-31 23:59:59-01:00"}, id="messages-DateSent"),
        pytest.param("Messages.json", {"DateSent>": "Mon, 01 Jan 0001 00:00:00 +0100"}, id="messages-DateSent-rfc2822"),
    ],
)
def test_a_date_filter_whose_utc_day_is_outside_the_calendar_is_a_400(
    resource: str, params: dict[str, str], api: httpx.Client, customer: str
) -> None:
    """A moment whose UTC day falls before year 1 or after 9999 is Twilio's 400, not an overflow."""
    _assert_twilio_400(api.get(f"/2010-04-01/Accounts/{customer}/{resource}", params=params))


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param("+9999999days", id="past-year-9999"),
        pytest.param("-10000000days", id="before-year-1"),
        pytest.param("+99999999999days", id="too-large-for-a-timedelta"),
    ],
)
@pytest.mark.parametrize("name", ["StartDate", "EndDate"])
def test_a_usage_date_offset_outside_the_calendar_is_a_400(
    name: str, offset: str, api: httpx.Client, customer: str
) -> None:
    """A usage date offset that leaves the calendar is Twilio's 400."""
    _assert_twilio_400(api.get(f"/2010-04-01/Accounts/{customer}/Usage/Records.json", params={name: offset}))


@pytest.mark.parametrize("kind", ["Monthly", "Yearly"])
def test_usage_periods_up_to_the_last_day_of_year_9999_are_not_a_5xx(
    kind: str, api: httpx.Client, customer: str
) -> None:
    """One or two periods only: the period after December 9999 used to be built, and fail."""
    params = {"StartDate": "9999-11-01", "EndDate": "9999-12-31"}
    response = api.get(f"/2010-04-01/Accounts/{customer}/Usage/Records/{kind}.json", params=params)
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code != 200:
        assert set(body) == ERROR_KEYS
        assert body["status"] == response.status_code
