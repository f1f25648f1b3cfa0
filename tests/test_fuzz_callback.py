"""`CallbackServer` under hostile input: a seeded hypothesis fuzz over real sockets (quick profile).

The fuzzer is ``bench/chaos_fuzz.py``; ``python bench/chaos_fuzz.py`` runs the full profile
(10,000 requests) and prints the figures. Here 1,000 requests, every class of them, and the
same invariants: a 4xx HTML page for everything our handlers see (tornado's HTTP parser
refuses malformed messages first, with a bare 400 or a closed connection), never a 5xx,
never a 2xx/3xx, no session change. The requests that get one thing wrong carry an unused
state issued by the server, or a valid signature, so that one slipping through would
connect or revoke an account.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench import chaos_fuzz as chaos
from connect_notebook.sandbox import Sandbox

REQUESTS = 1_000
SEED = 2026
NOW = "2026-11-01T12:00:00+00:00"


@pytest.fixture(scope="module")
def fuzz_sandbox() -> Iterator[Sandbox]:
    """A small sandbox of our own with four customers (the shared one has three)."""
    with Sandbox(seed=11, calls_per_customer=100, customers=4, days=5, now=NOW) as sb:
        yield sb


@pytest.fixture(scope="module")
def fuzz(fuzz_sandbox: Sandbox) -> Any:
    """One fuzz run, shared by the tests that each check one invariant of it."""
    return chaos.fuzz_callback(fuzz_sandbox, requests=REQUESTS, seed=SEED)


# -- the fuzz --


def test_fuzz_sends_every_class_of_hostile_request(fuzz: Any) -> None:
    assert fuzz.requests == REQUESTS
    assert sorted(fuzz.by_class) == sorted(chaos.CALLBACK_CLASSES)
    assert min(fuzz.by_class.values()) >= REQUESTS // len(chaos.CALLBACK_CLASSES)


def test_no_hostile_request_gets_a_5xx(fuzz: Any) -> None:
    assert fuzz.server_errors == 0
    assert [str(p) for p in fuzz.problems if p.problem == "5xx"] == []


def test_no_hostile_request_is_accepted_or_redirected(fuzz: Any) -> None:
    assert {outcome for outcome in fuzz.outcomes if outcome[:1] in "123"} == set()


def test_every_answer_is_a_4xx_page_or_a_refusal_by_the_http_parser(fuzz: Any) -> None:
    assert [str(p) for p in fuzz.problems] == []


def test_only_malformed_http_is_refused_before_our_handlers(fuzz: Any) -> None:
    # Bare 400s and closed connections come from tornado's HTTP/1.1 parser: broken
    # request lines, headers over 64 KiB, over 1,000 query arguments, bad Host syntax.
    refused = {
        kind
        for kind, outcomes in fuzz.by_class_outcome.items()
        if any("http layer" in outcome or not outcome[:1].isdigit() for outcome in outcomes)
    }
    assert refused <= {"protocol", "oversized", "non-utf8", "wrong-host"}


def test_hostile_requests_change_nothing_in_the_session(fuzz: Any) -> None:
    assert fuzz.events == []
    assert fuzz.accounts == (2, 2)  # two customers connected for real before the fuzz
    assert fuzz.session_changes == 0


def test_the_unused_state_survives_the_fuzz_and_then_connects(fuzz: Any) -> None:
    # Path tricks, wrong hosts, wrong methods and duplicates all carried this state...
    assert fuzz.live_state == "ok"
    assert fuzz.expired_left == 20
    # ...and it was a real one: the server connects with it once the fuzz is over.
    assert fuzz.good_callback_after == 303


def test_the_server_keeps_serving_and_logs_no_error(fuzz: Any) -> None:
    assert fuzz.running_after
    assert fuzz.error_logs == []


# -- where it listens, where it redirects, and a good callback under load --


def test_callback_server_listens_on_127_0_0_1_only(fuzz_sandbox: Sandbox) -> None:
    result = chaos.check_loopback_only(fuzz_sandbox)

    assert result["configured_host"] == "127.0.0.1"
    if result["listening"]:  # read from /proc/net where there is one (Linux)
        assert result["listening"] == ["127.0.0.1"]
    itself = [address for address in result["reach"] if address.startswith("127.0.0.1:")]
    assert [result["reach"][address] for address in itself] == ["accepted (itself)"]
    # 127.0.0.2 and ::1 are loopback too, and the machine's other addresses, if any, are listed.
    others = {address: outcome for address, outcome in result["reach"].items() if address not in itself}
    assert any(address.startswith("127.0.0.2:") for address in others)
    assert "ACCEPTED" not in others.values(), others


def test_good_callbacks_carrying_redirect_bait_go_only_to_their_own_done_page(fuzz_sandbox: Sandbox) -> None:
    result = chaos.check_no_open_redirect(fuzz_sandbox)

    assert len(result["cases"]) >= 10
    for case in result["cases"]:
        assert case["status"] == 303, case
        assert case["fixed_page"], case  # exactly done?ref=<kernel id>.<16 url-safe characters>
        assert case["same_origin"], case
        assert case["done_status"] == 200, case


def test_a_good_callback_is_served_while_bogus_requests_are_in_flight(fuzz_sandbox: Sandbox) -> None:
    result = chaos.good_callback_under_load(fuzz_sandbox, bogus=100, seed=SEED, per_thread=20)

    assert result["held_open"] == 100  # held mid-headers for the whole good flow
    assert result["hammer_threads"] == 100
    assert result["hammers_in_flight"] == 100  # each had a request on the wire before the flow began
    assert result["good_flow"]["ok"], result["good_flow"]
    assert result["connected"]
    assert result["events"] == result["expected_events"]
    assert result["bogus_answers"] >= 200
    assert [str(p) for p in result["problems"]] == []
    assert result["live_state"] == "ok"
    assert result["threads_alive"] == 0
    assert result["error_logs"] == []
