"""Hostile servers: loads against sandboxes that link elsewhere, link to themselves, echo secrets, send odd Retry-After.

Each example draws one load: a loader (``load_calls``, ``load_messages``,
``load_alerts`` as the owner, whose own AccountSid Monitor answers for, or
``accounts``), a sandbox (``paged`` or ``family``), a retry budget, a concurrency,
fault rates and a fault seed, and where foreign links point. It runs against a real
sandbox on 127.0.0.1 with the sandbox's hostile faults on (``Faults`` documents each),
one scenario per parametrized case, every loader the scenario allows in turn:

* ``foreign-link``: next links (``next_page_uri``, Monitor's ``meta.next_page_url``)
  point at another origin, spelled absolute, ``http://api@other/…`` or ``//other/…``;
* ``self-link``: a page's next link is the page itself;
* ``echo-auth``: 429 / 5xx bodies whose ``message`` quotes the request's
  ``Authorization`` header and the password it decodes to;
* ``odd-retry-after``: 429s whose ``Retry-After`` is an RFC 9110 HTTP-date in one of
  its three forms, or ``nan``, ``-5``, ``1e9``, ``soon``, empty, …;
* ``mix``: all of them at lower rates, with 429s, 5xx and connection resets.

``accounts()`` takes no ``RetryPolicy``, so a 429 or 5xx there would really sleep:
it meets only the link faults (``foreign-link``, ``self-link`` and ``mix``).

Every example asserts: no request reached the other origin (two recording listeners
and a refused port, ``hostile_support``), let alone with credentials; no exception
shows the owner's token (text, cause chain, tracebacks, every object reachable from
it); the load finished within its request budget (the hang guard); and the frame
equals the ground truth (the sandbox's own records) or the error is a
``ConnectNotebookError``. Retries do not really wait: ``RetryPolicy(sleep=...)``
records the delays and refuses what ``time.sleep`` would refuse (NaN, negative, too
large), so a delay computed from ``Retry-After: nan`` fails here as it would for real.

The controls come first: they show that each instrument sees a positive where there is
one, so that the property's zeros mean something. The audits come last.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.figures import FULL, Figures, Table, budget
from chaos.hostile_support import (
    FAULT_KINDS,
    LOADERS_OF,
    PLACES,
    SANDBOX_NAMES,
    SCENARIOS,
    TARGETS,
    Fleet,
    Outcome,
    Plan,
    fleet_of_sandboxes,
    guarded,
    run_load,
    scan_exception,
)
from chaos.needles import Needles
from connect_notebook import ConnectNotebookError
from connect_notebook.sandbox import Faults

TITLE = "hostile servers"
PROPERTY = "test_loads_against_hostile_servers_keep_their_secrets_end_and_tell_the_truth"
CASES = [pytest.param(s, loader, id=f"{s}-{loader}") for s in SCENARIOS for loader in LOADERS_OF[s]]

_FAULT_ROWS = {
    "foreign_link": "faults injected: foreign links",
    "self_link": "faults injected: self-links",
    "echo_auth": "faults injected: echoed credentials",
    "odd_retry_after": "faults injected: odd Retry-After",
    "rate_limit": "faults injected: 429",
    "server_error": "faults injected: 5xx",
    "reset": "faults injected: connection resets",
}
_TARGET_ROWS = {
    "other-host": "foreign links pointing at another host",
    "other-port": "foreign links pointing at another port",
    "refused": "foreign links pointing at a refused port",
}
_PLACE_ROWS = {
    "text": "exceptions showing the token in their text",
    "chain": "exceptions showing the token in their cause chain",
    "traceback": "exceptions showing the token in their traceback",
    "attributes": "exceptions showing the token in an object reachable from them",
}
_CLEAR = "clear errors (ConnectNotebookError)"
_SCANNED = "exceptions scanned (text, cause chain, traceback, reachable objects)"
_MAX_REQUESTS = "requests per load, max"
_MAX_DELAY = "longest retry delay asked (not slept), s"
# Rows in the order the table prints them; the README's four error classes first, any other class after.
_ROWS = (
    "loads",
    "loads equal to the ground truth",
    _CLEAR,
    *(f"clear errors: {name}" for name in ("PagingError", "RateLimitError", "ServerError", "NotFoundError")),
    "unclear errors (not a ConnectNotebookError)",
    "wrong frames",
    "requests to another origin",
    "requests to another origin with an Authorization header",
    "requests to another origin holding the owner's token",
    _SCANNED,
    *_PLACE_ROWS.values(),
    "loads that did not finish",
    _MAX_REQUESTS,
    _MAX_DELAY,
    *(_FAULT_ROWS[kind] for kind in FAULT_KINDS),
    *_TARGET_ROWS.values(),
)


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    """The module's sandboxes, their ground truth and the other origins, all on loopback."""
    with fleet_of_sandboxes() as running:
        yield running


# --- the controls: each instrument sees a positive where there is one ---------------


def _owner(fleet: Fleet) -> tuple[Needles, tuple[str, str]]:
    """The first sandbox's owner: needles for its token, and its credentials for plain httpx."""
    sb = fleet.sandboxes[SANDBOX_NAMES[0]]
    return Needles(sb.owner_auth_token, (sb.owner_account_sid,)), (sb.owner_account_sid, sb.owner_auth_token)


def test_the_scanner_finds_the_token_an_error_body_echoes(fleet: Fleet) -> None:
    """The echo-auth fault really quotes the token, and the scan finds it in a body and in an exception's text."""
    needles, owner = _owner(fleet)
    sb = fleet.sandboxes[SANDBOX_NAMES[0]]
    sb.reset()
    sb.faults = Faults(server_error=1.0, echo_auth=1.0)
    try:
        with httpx.Client(auth=owner) as client:
            echoed = client.get(f"{sb.api_url}/2010-04-01/Accounts.json").text
    finally:
        sb.reset()
    assert needles.count(echoed) > 0, f"no form of the token in the echoed body: {needles.mask(echoed)[:300]}"
    assert scan_exception(RuntimeError(echoed), needles).found["text"] > 0


@pytest.mark.parametrize("listener", ["other-host", "other-port"])
def test_a_listener_records_the_credentials_sent_to_it(fleet: Fleet, listener: str) -> None:
    """A request sent to a listener with the owner's credentials is recorded as carrying the token."""
    _, owner = _owner(fleet)
    with fleet.lock:
        first = len(fleet.arrivals)
    with httpx.Client(auth=owner) as client:
        client.get(f"{fleet.origins[listener].url}/control").raise_for_status()
    with fleet.lock:
        seen = fleet.arrivals[first:]
        del fleet.arrivals[first:]  # a control, not a load's request
    assert [(a.listener, a.uri, a.authorization, a.owner_token) for a in seen] == [(listener, "/control", True, True)]


def test_the_attribute_walk_finds_the_header_an_httpx_connect_error_keeps(fleet: Fleet) -> None:
    """An ``httpx.ConnectError`` keeps its request, and the request its Authorization header: the walk reaches it."""
    needles, owner = _owner(fleet)
    with httpx.Client(auth=owner) as client, pytest.raises(httpx.ConnectError) as info:
        client.get(f"{fleet.origins['refused'].url}/control")
    assert scan_exception(info.value, needles).found["attributes"] > 0


def test_the_hang_guard_stops_a_load_that_never_ends(fleet: Fleet) -> None:
    """A load that loops is cut off at its request budget; stopping its sandbox ends it, and leaves no thread behind.

    Its sandbox is replaced by a fresh one with the same seed, as after a stuck load in the
    property, which then runs against it (the ground truth must still hold).
    """
    name = SANDBOX_NAMES[0]
    sb = fleet.sandboxes[name]
    sb.reset()
    url, auth = f"{sb.api_url}/2010-04-01/Accounts.json", (sb.owner_account_sid, sb.owner_auth_token)

    def forever() -> pl.DataFrame:
        with httpx.Client(auth=auth) as client:
            while True:
                client.get(url)

    run = guarded(fleet, name, forever, budget=50)
    assert (run.finished, run.stopped_on, run.still_running) == (False, "budget", False)
    assert run.requests > 50
    assert isinstance(run.error, httpx.TransportError), f"ended with {run.error!r}"
    assert fleet.sandboxes[name] is not sb
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    assert others == [], f"threads that would keep the session alive: {others}"


# --- the property --------------------------------------------------------------------


def _rate(lo: int, hi: int) -> st.SearchStrategy[float]:
    """A probability from ``lo`` to ``hi`` percent, in whole percents (shrinks towards ``lo``)."""
    return st.integers(lo, hi).map(lambda n: n / 100)


def _faults(scenario: str, loader: str) -> st.SearchStrategy[dict[str, Any]]:
    """The ``Faults`` keywords of one load of ``scenario`` (see the module docstring)."""
    rates: dict[str, st.SearchStrategy[float]]
    if scenario == "foreign-link":
        rates = {"foreign_link": _rate(30, 100)}
    elif scenario == "self-link":
        rates = {"self_link": _rate(30, 100)}
    elif scenario == "echo-auth":
        # Heavy enough that some requests exhaust their few tries, so the echoed body reaches an exception.
        rates = {"echo_auth": st.just(1.0), "server_error": _rate(30, 50), "rate_limit": _rate(20, 40)}
        rates["retry_after"] = st.just(0.0)
    elif scenario == "odd-retry-after":
        # A load sends a handful of requests: enough 429s that most of the odd values come round.
        rates = {"odd_retry_after": st.just(1.0), "rate_limit": _rate(40, 70)}
    else:
        rates = {"foreign_link": _rate(5, 20), "self_link": _rate(5, 20)}
        if loader != "accounts":
            rates |= {"echo_auth": st.just(0.5), "odd_retry_after": st.just(0.5)}
            rates |= {"rate_limit": _rate(5, 15), "server_error": _rate(5, 15), "reset": _rate(2, 8)}
    return st.fixed_dictionaries({"seed": st.integers(0, 2**31 - 1), **rates})


def _plans(scenario: str, loader: str) -> st.SearchStrategy[Plan]:
    """One load of ``loader`` meeting ``scenario``; foreign links point at any of the other origins."""
    links_out = scenario in ("foreign-link", "mix")
    return st.builds(
        Plan,
        scenario=st.just(scenario),
        loader=st.just(loader),
        sandbox=st.sampled_from(SANDBOX_NAMES),
        target=st.sampled_from(TARGETS) if links_out else st.just(TARGETS[0]),
        faults=_faults(scenario, loader),
        attempts=st.sampled_from((2, 3) if scenario == "echo-auth" else (2, 3, 4, 6)),
        concurrency=st.sampled_from((1, 4, 8)),
    )


def _record(t: Table, plan: Plan, outcome: Outcome, host: str) -> None:
    """Count one load into the table (every row first, so that they print in ``_ROWS`` order)."""
    for label in _ROWS:
        t.add(label, 0)
    run, error = outcome.run, outcome.run.error
    t.add("loads")
    if not run.finished:
        t.add("loads that did not finish")
    elif error is None:
        t.add("loads equal to the ground truth" if outcome.wrong_frame is None else "wrong frames")
    elif isinstance(error, ConnectNotebookError):
        t.add(_CLEAR)
        t.add(f"clear errors: {type(error).__name__}")
    else:
        t.add("unclear errors (not a ConnectNotebookError)")
    t.add("requests to another origin", len(run.arrivals))
    t.add("requests to another origin with an Authorization header", sum(a.authorization for a in run.arrivals))
    t.add("requests to another origin holding the owner's token", sum(a.owner_token for a in run.arrivals))
    if outcome.leak is not None:
        t.add(_SCANNED)
        for place in PLACES:
            t.add(_PLACE_ROWS[place], int(outcome.leak.found[place] > 0))
    t.set(_MAX_REQUESTS, max(t.get(_MAX_REQUESTS), run.requests))
    t.set(_MAX_DELAY, max(t.get(_MAX_DELAY), outcome.longest_delay))
    for kind in FAULT_KINDS:
        t.add(_FAULT_ROWS[kind], outcome.injected.get(kind, 0))
    t.add(_TARGET_ROWS[plan.target], outcome.injected.get("foreign_link", 0))
    t.set("the other origins", f"listeners on {host} and on another port of 127.0.0.1; a port where nothing listens")


@pytest.mark.parametrize(("scenario", "loader"), CASES)
@settings(max_examples=budget(quick=2, full=6))
@given(data=st.data())
def test_loads_against_hostile_servers_keep_their_secrets_end_and_tell_the_truth(
    fleet: Fleet, figures: Figures, scenario: str, loader: str, data: st.DataObject
) -> None:
    """No credential or request leaves the API's origin, no exception shows the token, every load ends with
    the ground truth or a clear error, whatever the hostile server sends."""
    plan = data.draw(_plans(scenario, loader), label="plan")
    outcome = run_load(plan, fleet)
    _record(figures.table(TITLE), plan, outcome, fleet.origins["other-host"].host)
    run, error, mask = outcome.run, outcome.run.error, outcome.needles.mask

    sent = [f"{a.listener} {a.uri}" for a in run.arrivals if a.authorization]
    assert not sent, mask(f"{len(sent)} requests carried an Authorization header to another origin: {sent[:5]}")
    reached = [f"{a.listener} {a.uri}" for a in run.arrivals]
    assert not reached, mask(f"{len(reached)} requests reached another origin: {reached[:5]}")
    if outcome.leak is not None:
        places = sorted(outcome.leak.found)
        assert not places, f"{type(error).__name__} shows the token in {', '.join(places)}: {outcome.leak.where[:3]}"
    assert run.finished, f"the load did not finish: stopped by the {run.stopped_on} after {run.requests} requests" + (
        ", and it was still running after its sandbox stopped" if run.still_running else ""
    )
    if error is not None:
        shown = mask("".join(traceback.format_exception(error))[-2_000:])
        assert isinstance(error, ConnectNotebookError), f"raised {type(error).__name__}, not a clear error:\n{shown}"
    else:
        assert outcome.wrong_frame is None, f"returned a wrong frame: {outcome.wrong_frame}"


# --- the audits: what the property met ---------------------------------------------------


def test_every_hostile_fault_was_injected_and_exceptions_were_scanned(recorded: Callable[[str, str], Table]) -> None:
    """Otherwise the property's zeros would be about a sandbox that behaved, or about no exception at all."""
    t = recorded(TITLE, PROPERTY)
    kinds = ("foreign_link", "self_link", "echo_auth", "odd_retry_after", "rate_limit", "server_error")
    assert {kind: t.get(_FAULT_ROWS[kind]) > 0 for kind in kinds} == dict.fromkeys(kinds, True), t.rows
    assert t.get(_SCANNED) > 0, t.rows
    assert t.get("loads equal to the ground truth") > 0, t.rows  # the ground truth is reachable at all


def test_foreign_links_pointed_at_every_other_origin(recorded: Callable[[str, str], Table]) -> None:
    """The full profile sends foreign links to both listeners and to the refused port.

    The quick profile gives each case two examples, the first of them hypothesis's simplest
    (pointing at another host), so only that target is sure to come round there.
    """
    t = recorded(TITLE, PROPERTY)
    targets = TARGETS if settings.get_current_profile_name() == FULL else TARGETS[:1]
    assert {target: t.get(_TARGET_ROWS[target]) > 0 for target in targets} == dict.fromkeys(targets, True), t.rows
