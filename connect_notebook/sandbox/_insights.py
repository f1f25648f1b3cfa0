"""`sandbox._insights`: Voice Insights call summaries, derived from the sandbox's own calls.

Every call of an account has one summary with the same SID, times and durations
(``duration`` is the whole call, ``end - start``; ``connect_duration`` is the
talk time, the call's own ``duration``). What the call log does not hold (the
counterpart's carrier, post-dial delay, who hung up, packet loss and jitter) is
drawn from ``(seed, call SID)``, so it is the same on every request. A
counterpart number keeps one carrier, and quality issues cluster: each country
has a base rate and the first carrier of each country is about three times worse
than the others (calls to Mexico through Telcel, for example).

A summary is ``partial`` until 30 minutes after its call ended (and while the
call is still going on), ``complete`` after (``twilio_insights_v1.json``).
"""

from __future__ import annotations

import random
from typing import Any

from ._data import AccountData, Call
from ._formats import iso8601

__all__ = ["INSIGHTS_RETENTION_DAYS", "PARTIAL_SECONDS", "rendered", "summaries_on", "summary_json"]

# How far back call summaries can be listed: not in the notes (UNCONFIRMED); the sandbox takes 30 days.
INSIGHTS_RETENTION_DAYS = 30
PARTIAL_SECONDS = 30 * 60  # a summary is complete about 30 minutes after the call ended (the spec)

# (carrier, connection) of each country's counterparts; the first carrier is the troubled one.
_CARRIERS: dict[str, tuple[tuple[str, str], ...]] = {
    "US": (("Bandwidth.com CLEC, LLC", "landline"), ("AT&T Wireless", "mobile"), ("Verizon Wireless", "mobile")),
    "CA": (("Rogers Communications", "mobile"), ("Bell Mobility", "mobile"), ("Telus Mobility", "mobile")),
    "GB": (("EE Limited", "mobile"), ("Vodafone UK", "mobile"), ("BT Group", "landline")),
    "DE": (("Telefonica Germany", "mobile"), ("Telekom Deutschland", "mobile"), ("Vodafone GmbH", "landline")),
    "FR": (("Bouygues Telecom", "mobile"), ("Orange France", "mobile"), ("SFR", "landline")),
    "MX": (("Telcel", "mobile"), ("AT&T Mexico", "mobile"), ("Telmex", "landline")),
    "IN": (("Vodafone Idea", "mobile"), ("Bharti Airtel", "mobile"), ("Reliance Jio", "mobile")),
    "AU": (("Optus", "mobile"), ("Telstra", "mobile")),
    "BR": (("TIM Brasil", "mobile"), ("Vivo", "mobile"), ("Claro Brasil", "mobile")),
}
# Chance of a quality issue on a call through a country's carriers, and the usual post-dial delay (ms).
_ISSUE_RATE = {
    "US": 0.03,
    "CA": 0.03,
    "GB": 0.04,
    "DE": 0.04,
    "FR": 0.05,
    "MX": 0.2,
    "IN": 0.16,
    "AU": 0.06,
    "BR": 0.12,
}
_PDD_MS = {"US": 1200, "CA": 1300, "GB": 1800, "DE": 1700, "FR": 1900, "MX": 2600, "IN": 3200, "AU": 2200, "BR": 2800}
_EDGE = {"GB": "dublin", "DE": "frankfurt", "FR": "frankfurt", "IN": "singapore", "AU": "sydney", "BR": "sao-paulo"}
_WORSE = 3.0  # the first carrier of a country, against the others' 0.6
_CALL_STATE = {
    "completed": "completed",
    "busy": "busy",
    "failed": "fail",
    "no-answer": "noanswer",
    "canceled": "canceled",
    "in-progress": "answered",
    "ringing": "ringing",
    "queued": "undialed",
}
_SIP_RESPONSE = {"completed": 200, "busy": 486, "failed": 404, "no-answer": 480, "canceled": 487, "ringing": 180}
_INBOUND = ("inbound", "trunking-originating")


def _carrier(seed: int, number: str, country: str) -> tuple[str, str]:
    """The carrier of a counterpart number: the same for every call with it."""
    choices = _CARRIERS.get(country, _CARRIERS["US"])
    return random.Random(f"carrier:{seed}:{number}").choice(choices)


def _issue_rate(country: str, carrier: str) -> float:
    base = _ISSUE_RATE.get(country, 0.05)
    first = _CARRIERS.get(country, _CARRIERS["US"])[0][0]
    return base * (_WORSE if carrier == first else 0.6)


def _party(number: str, carrier: str, connection: str, country: str, role: str) -> dict[str, Any]:
    return {
        role: number,
        "carrier": carrier,
        "connection": connection,
        "number_prefix": number.lstrip("+")[:4],
        "country_code": country,
    }


def _metrics(rng: random.Random, seconds: int, loss: bool, jitter: bool) -> dict[str, Any]:
    """Inbound and outbound RTP figures of a call that was answered; ``loss`` / ``jitter`` make them bad."""
    out: dict[str, Any] = {}
    for way, count in (("inbound", "packets_received"), ("outbound", "packets_sent")):
        packets = max(seconds, 1) * 50  # 20 ms frames
        lost_pct = round(rng.uniform(6, 14), 2) if loss else round(rng.uniform(0, 0.8), 2)
        avg = round(rng.uniform(6, 18), 3) if jitter else round(rng.uniform(0.2, 2.0), 3)
        out[way] = {
            "codec": 0,
            "codec_name": "pcmu",
            count: packets,
            "packets_lost": round(packets * lost_pct / 100),
            "packets_loss_percentage": lost_pct,
            "jitter": {"max": round(avg * rng.uniform(1.5, 4.0), 3), "avg": avg},
        }
    return out


def summary_json(seed: int, account_sid: str, call: Call, now: int) -> dict[str, Any]:
    """One call's summary in the field order of ``insights.v1.call.summary``, without its ``url``."""
    rng = random.Random(f"insights:{seed}:{call.sid}")
    inbound = call.direction in _INBOUND
    counterpart = call.from_ if inbound else call.to
    country = call.counterpart_country
    carrier, connection = _carrier(seed, counterpart, country)
    ours = _party(call.to if inbound else call.from_, "Twilio", "voip", "US", "callee" if inbound else "caller")
    theirs = _party(counterpart, carrier, connection, country, "caller" if inbound else "callee")
    issue = rng.random() < _issue_rate(country, carrier)
    kinds = rng.sample(("loss", "jitter", "pdd"), rng.choice((1, 1, 2))) if issue else []
    pdd = int(_PDD_MS.get(country, 1500) * rng.lognormvariate(0, 0.3))
    if "pdd" in kinds:
        pdd = max(pdd * 3, 5_000)
    answered = call.status in ("completed", "in-progress")
    talk = call.duration or (call.end or now) - call.start
    tags = [t for t, k in (("high_pdd", "pdd"), ("high_packet_loss", "loss"), ("high_jitter", "jitter")) if k in kinds]
    if not answered:
        tags = [t for t in tags if t == "high_pdd"]  # no media, so no packets to lose
    edge: dict[str, Any] = {
        "properties": {
            "media_region": "us1",
            "signaling_region": "us1",
            "edge_location": _EDGE.get(country, "ashburn" if rng.random() < 0.7 else "umatilla"),
            "direction": "inbound" if inbound else "outbound",
        }
    }
    if answered:
        edge["metrics"] = _metrics(rng, talk, "loss" in kinds, "jitter" in kinds)
    properties: dict[str, Any] = {"direction": call.direction.replace("-", "_"), "pdd_ms": pdd}
    if call.end is not None:
        if call.status == "completed":
            # A bad line makes the other side hang up more often.
            by_counterpart = rng.random() < (0.75 if kinds else 0.5)
            caller_hung_up = by_counterpart == inbound
        else:
            caller_hung_up = call.status == "canceled"  # the caller gave up; busy / no answer / failed: the callee side
        properties["disconnected_by"] = "caller" if caller_hung_up else "callee"
        properties["last_sip_response_num"] = _SIP_RESPONSE.get(call.status, 200)
    if call.end is None or now - call.end < PARTIAL_SECONDS:
        state = "partial"
    else:
        state = "complete"
    verified = inbound and country in ("US", "CA")
    return {
        "account_sid": account_sid,
        "call_sid": call.sid,
        "call_type": "carrier",
        "call_state": _CALL_STATE.get(call.status, "completed"),
        "answered_by": call.answered_by or "unknown",  # no AMD on the call: the spec's enum has no null (a $ref)
        "processing_state": state,
        "created_time": call.created,
        "start_time": call.start,
        "end_time": call.end,
        "duration": None if call.end is None else call.end - call.start,
        "connect_duration": call.duration,
        "from": theirs if inbound else ours,
        "to": ours if inbound else theirs,
        "carrier_edge": edge,
        "client_edge": None,
        "sdk_edge": None,
        "sip_edge": None,
        "tags": tags or None,
        "attributes": {"conference_participant": False},
        "properties": properties,
        "trust": {"verified_caller": {"verified": rng.random() < 0.8}} if verified else None,
        "annotation": None,
    }


def summaries_on(data: AccountData, ordinal: int) -> list[dict[str, Any]]:
    """The summaries of the calls that started on a UTC day, in the calls' order (times as epoch seconds)."""

    def build(day: int) -> list[dict[str, Any]]:
        return [summary_json(data.seed, data.account.sid, c, data.now) for c in data.calls_on(day)]

    return data.cached("summaries", ordinal, build)  # type: ignore[no-any-return]


def rendered(summary: dict[str, Any], origin: str) -> dict[str, Any]:
    """A summary as the API sends it: ISO 8601 times, and its ``url`` on ``origin``."""
    out = dict(summary)
    for name in ("created_time", "start_time", "end_time"):
        if out[name] is not None:
            out[name] = iso8601(out[name])
    out["url"] = f"{origin}/v1/Voice/{summary['call_sid']}/Summary"
    return out
