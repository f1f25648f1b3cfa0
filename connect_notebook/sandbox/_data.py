"""`sandbox._data`: deterministic synthetic calls, messages, usage and alerts of one account.

Everything is derived from ``(seed, account, UTC day)``, so any day of any account
can be generated on its own, in any order, with the same result. Nothing is
rendered up front: a day's records are built when first asked for and kept in a
bounded cache, which is how a 1,000,000-call account stays cheap to serve.

How many records a day holds comes from ``_activity``; this module makes them:
directions, statuses, durations, prices, counterparts, child legs. Money is kept
in integer units of 0.00001 USD so that usage records add up exactly.
"""

from __future__ import annotations

import bisect
import functools
import math
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from ._activity import daily_counts, hour_weights, window
from ._families import US_AREAS, Account
from ._formats import day_start
from ._sids import SidCodec, plain_sid

__all__ = ["MESSAGE_ERRORS", "AccountData", "Alert", "Call", "Message"]


# --- countries, numbers and prices ------------------------------------------------


@dataclass(frozen=True)
class _Country:
    code: str
    weight: float
    prefixes: tuple[tuple[str, int], ...]  # (E.164 prefix, subscriber digits after it)
    outbound_rate: int  # per started minute, 0.00001 USD
    sms_rate: int  # per segment


_COUNTRIES = (
    _Country("US", 60, tuple((f"+1{a}", 7) for a in US_AREAS), 1_400, 790),
    _Country("CA", 8, (("+1416", 7), ("+1604", 7), ("+1514", 7)), 1_400, 790),
    _Country("GB", 9, (("+4420", 8), ("+447700", 6)), 2_400, 4_000),
    _Country("DE", 6, (("+4930", 8), ("+49151", 8)), 2_600, 8_000),
    _Country("FR", 5, (("+331", 8), ("+336", 8)), 2_300, 7_000),
    _Country("MX", 5, (("+5255", 8),), 4_970, 4_500),
    _Country("IN", 3, (("+9122", 8), ("+9198", 8)), 4_050, 8_300),
    _Country("AU", 2, (("+612", 8), ("+614", 8)), 2_500, 5_500),
    _Country("BR", 2, (("+5511", 9),), 3_300, 6_000),
)
_COUNTRY_BY_CODE = {c.code: c for c in _COUNTRIES}
_INBOUND_RATE = 850
_NUMBER_MONTHLY_PRICE = 115_000  # 1.15 USD per number per month
_CNAM = (
    "SMITH JOHN",
    "GARCIA MARIA",
    "NGUYEN LINH",
    "WIRELESS CALLER",
    "JOHNSON ANNA",
    "PATEL RAJ",
    "BROWN DAVID",
    "MILLER SARAH",
    "LOPEZ CARLOS",
    "DAVIS EMMA",
)


def _random_number(rng: random.Random, country: _Country) -> str:
    prefix, digits = rng.choice(country.prefixes)
    first = rng.randint(2, 9)
    rest = "".join(str(rng.randint(0, 9)) for _ in range(digits - 1))
    return f"{prefix}{first}{rest}"


class _Sampler:
    """Draw UTC epoch seconds inside a day's window, following the hourly weights."""

    def __init__(self, weights: list[float], midnight: int, window: tuple[int, int]) -> None:
        self.cum = list(_accumulate(weights))
        self.midnight = midnight
        self.start, self.end = window

    def draw(self, rng: random.Random) -> int:
        hour = min(bisect.bisect_right(self.cum, rng.random() * self.cum[-1]), 23)
        # Hours outside the window weigh nothing, so the hour drawn overlaps it.
        lo = max(self.midnight + hour * 3600, self.start)
        hi = min(self.midnight + (hour + 1) * 3600, self.end)
        return rng.randrange(lo, max(hi, lo + 1))


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


# --- records ---------------------------------------------------------------------


class Call(NamedTuple):
    """One call leg, compact; rendered to the API's JSON shape on demand."""

    sid: str
    parent_sid: str | None
    direction: str
    status: str
    from_: str
    to: str
    counterpart_country: str
    phone_number_sid: str | None
    created: int
    updated: int
    start: int
    end: int | None
    duration: int | None
    price: int | None  # 0.00001 USD, negative is a charge
    queue_time: int  # milliseconds
    answered_by: str | None
    caller_name: str | None
    forwarded_from: str | None


class Message(NamedTuple):
    """One message, compact; rendered to the API's JSON shape on demand."""

    sid: str
    direction: str
    status: str
    from_: str
    to: str
    body: str
    num_segments: int
    num_media: int
    created: int
    sent: int
    updated: int
    price: int | None
    error_code: int | None
    messaging_service_sid: str | None


class Alert(NamedTuple):
    """One Monitor alert (debugger log entry)."""

    sid: str
    error_code: str
    log_level: str
    alert_text: str
    created: int
    request_method: str | None
    request_url: str | None
    resource_sid: str


MESSAGE_ERRORS = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
}
_BODIES = (
    "Your appointment is confirmed for {d} at {h}:00. Reply C to cancel.",
    "Reminder: your order #{n} ships today.",
    "Thanks for calling! Rate your experience from 1 to 5.",
    "Your verification code is {n}.",
    "Hi, can you call me back when you get a chance?",
    "Yes",
    "Running 10 minutes late, sorry!",
    "We received your payment of ${n}.00. Thank you.",
    "Your driver is on the way and will arrive in about {h} minutes. Track the delivery in the app "
    "or reply STOP to opt out of delivery notifications for this order.",
)


def _segments(body: str) -> int:
    return 1 if len(body) <= 160 else math.ceil(len(body) / 153)


def _weighted(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    x = rng.random() * sum(w for _, w in table)
    for value, w in table:
        x -= w
        if x < 0:
            return value
    return table[-1][0]


_INBOUND_STATUS = (("completed", 85), ("no-answer", 6), ("busy", 2), ("failed", 2), ("canceled", 5))
_OUTBOUND_STATUS = (("completed", 62), ("no-answer", 16), ("busy", 9), ("failed", 6), ("canceled", 7))
_CHILD_STATUS = (("completed", 76), ("no-answer", 15), ("busy", 9))
_ANSWERED_BY = (("human", 65), ("machine_start", 25), ("machine_end_beep", 5), ("unknown", 5))


class AccountData:
    """Lazily generated, cached history of one account."""

    # Generated days (records, and their rendered JSON) are kept until this many
    # entries are cached: a 1,000,000-call account fits, in about 3 GB.
    CACHE_RECORDS = 2_500_000

    def __init__(self, seed: int, account: Account, now: int) -> None:
        self.seed = seed
        self.account = account
        self.now = now
        self.call_codec = SidCodec("CA", f"{seed}:{account.sid}:calls")
        self.message_codec = SidCodec("SM", f"{seed}:{account.sid}:messages")
        self._call_counts = daily_counts(seed, account, account.calls_total, now, burst=True)
        self._message_counts = daily_counts(seed, account, account.messages_total, now, burst=False)
        days = sorted(self._call_counts)
        self.first_day, self.last_day = (days[0], days[-1]) if days else (1, 0)
        self.days_desc = days[::-1]
        rng = random.Random(f"pool:{seed}:{account.sid}")
        countries = [(c.code, c.weight) for c in _COUNTRIES]
        self._pool = []
        for _ in range(1500):
            code = _weighted(rng, tuple(countries))
            self._pool.append((_random_number(rng, _COUNTRY_BY_CODE[code]), code))
        # Zipf-like popularity, so a few counterparts call far more than the rest.
        self._pool_cum = list(_accumulate([1 / (i + 1) ** 0.9 for i in range(len(self._pool))]))
        self._agents = [_random_number(rng, _COUNTRY_BY_CODE["US"]) for _ in range(12)]
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, int], list[Any]] = OrderedDict()
        self._cached_records = 0

    def calls_count(self, ordinal: int) -> int:
        """How many call records the day holds, without generating them."""
        return self._call_counts.get(ordinal, 0)

    def cached(self, kind: str, ordinal: int, build: Callable[[int], Any]) -> Any:
        """Return ``build(ordinal)``, kept in a least-recently-used cache of whole days."""
        key = (kind, ordinal)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        records = build(ordinal)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = records
                self._cached_records += len(records)
            while self._cached_records > self.CACHE_RECORDS and len(self._cache) > 1:
                self._cached_records -= len(self._cache.popitem(last=False)[1])
        return records

    def days_generated(self) -> int:
        """How many days of calls are generated and cached right now."""
        with self._lock:
            return sum(1 for kind, _ in self._cache if kind == "calls")

    def _counterpart(self, rng: random.Random) -> tuple[str, str]:
        i = bisect.bisect_right(self._pool_cum, rng.random() * self._pool_cum[-1])
        return self._pool[min(i, len(self._pool) - 1)]

    # -- calls --

    def calls_on(self, ordinal: int) -> list[Call]:
        """Return the calls that started on a UTC day, newest first."""
        if ordinal not in self._call_counts:
            return []
        return self.cached("calls", ordinal, self._build_calls)  # type: ignore[no-any-return]

    def _build_calls(self, ordinal: int) -> list[Call]:
        count = self._call_counts[ordinal]
        rng = random.Random(f"calls:{self.seed}:{self.account.sid}:{ordinal}")
        span = window(self.account, ordinal, self.now)
        sampler = _Sampler(hour_weights(self.account, ordinal, self.now), day_start(ordinal), span)
        raw: list[dict[str, Any]] = []
        while len(raw) < count:
            raw.extend(self._interaction(rng, sampler, span, count - len(raw), len(raw)))
        # Newest first, as Twilio lists; generation order breaks ties deterministically.
        raw.sort(key=lambda r: (-r["start"], r["gen"]))
        position = {r["gen"]: i for i, r in enumerate(raw)}
        sids = [self.call_codec.encode(ordinal, i) for i in range(len(raw))]
        now = self.now
        calls = []
        for i, r in enumerate(raw):
            status, end, duration, price = r["status"], r["end"], r["duration"], r["price"]
            updated = end + r["settle"]
            if end > now:  # still going on at the sandbox's "now"
                status = "in-progress" if r["status"] == "completed" else "ringing"
                end, duration, price, updated = None, None, None, r["start"]
            parent = r.get("parent_gen")
            calls.append(
                Call(
                    sid=sids[i],
                    parent_sid=sids[position[parent]] if parent is not None else None,
                    direction=r["direction"],
                    status=status,
                    from_=r["from"],
                    to=r["to"],
                    counterpart_country=r["country"],
                    phone_number_sid=r["pn"],
                    created=r["start"] - r["queue_ms"] // 1000,
                    updated=min(updated, now) if end is not None else updated,
                    start=r["start"],
                    end=end,
                    duration=duration,
                    price=price,
                    queue_time=r["queue_ms"],
                    answered_by=r["answered_by"] if status == "completed" else None,
                    caller_name=r["caller_name"],
                    forwarded_from=r["forwarded_from"],
                )
            )
        return calls

    def _interaction(
        self, rng: random.Random, sampler: _Sampler, window: tuple[int, int], room: int, gen: int
    ) -> list[dict[str, Any]]:
        """One customer interaction: a parent leg and, for forwarded calls, a child."""
        start = sampler.draw(rng)
        ours = rng.choice(self.account.numbers)
        other, country = self._counterpart(rng)
        inbound = rng.random() < 0.55
        direction = "inbound" if inbound else "outbound-api"
        status = _weighted(rng, _INBOUND_STATUS if inbound else _OUTBOUND_STATUS)
        rate = _INBOUND_RATE if inbound else _COUNTRY_BY_CODE[country].outbound_rate
        leg = self._leg(rng, start, status, rate)
        parent = {
            "gen": gen,
            "direction": direction,
            "status": status,
            "from": other if inbound else ours.e164,
            "to": ours.e164 if inbound else other,
            "country": country,
            "pn": ours.sid,
            "queue_ms": 0 if inbound else rng.randint(0, 3000),
            "answered_by": (_weighted(rng, _ANSWERED_BY) if not inbound and rng.random() < 0.35 else None),
            "caller_name": (rng.choice(_CNAM) if inbound and rng.random() < 0.25 else None),
            "forwarded_from": (ours.e164 if inbound and rng.random() < 0.04 else None),
            **leg,
        }
        legs = [parent]
        # An answered inbound call is often forwarded to an agent: a child outbound-dial leg.
        if inbound and status == "completed" and room >= 2 and rng.random() < 0.4:
            child_start = min(start + rng.randint(4, 40), window[1] - 1)
            child_status = _weighted(rng, _CHILD_STATUS)
            child = self._leg(rng, child_start, child_status, _COUNTRY_BY_CODE["US"].outbound_rate)
            if child_status == "completed" and parent["duration"] is not None:
                # The agent leg cannot outlast the caller's leg.
                limit = max(1, parent["end"] - child_start)
                child["duration"] = min(child["duration"], limit)
                child["end"] = child_start + child["duration"]
                child["price"] = -math.ceil(child["duration"] / 60) * _COUNTRY_BY_CODE["US"].outbound_rate
            legs.append(
                {
                    "gen": gen + 1,
                    "parent_gen": gen,
                    "direction": "outbound-dial",
                    "status": child_status,
                    "from": ours.e164,
                    "to": rng.choice(self._agents),
                    "country": "US",
                    "pn": ours.sid,
                    "queue_ms": 0,
                    "answered_by": None,
                    "caller_name": None,
                    "forwarded_from": None,
                    **child,
                }
            )
        return legs

    @staticmethod
    def _leg(rng: random.Random, start: int, status: str, rate: int) -> dict[str, Any]:
        ring = rng.randint(2, 25)
        if status == "completed":
            # Long-tailed talk time: median about 75 s, a few calls over an hour.
            duration = int(min(max(rng.lognormvariate(math.log(75), 1.15), 1), 4 * 3600))
            return {
                "start": start,
                "end": start + ring + duration,
                "duration": duration,
                "price": -math.ceil(duration / 60) * rate,
                "settle": rng.randint(1, 20),
            }
        if status == "failed":
            ring = rng.randint(0, 2)
        return {
            "start": start,
            "end": start + ring,
            "duration": None,
            "price": None,
            "settle": rng.randint(0, 5),
        }

    def find_call(self, sid: str) -> Call | None:
        """Return the call with this SID, or None if this account has none such."""
        where = self.call_codec.decode(sid)
        if where is None:
            return None
        calls = self.calls_on(where[0])
        return calls[where[1]] if where[1] < len(calls) else None

    # -- messages --

    def messages_on(self, ordinal: int) -> list[Message]:
        """Return the messages sent on a UTC day, newest first."""
        if ordinal not in self._message_counts:
            return []
        return self.cached("messages", ordinal, self._build_messages)  # type: ignore[no-any-return]

    def _build_messages(self, ordinal: int) -> list[Message]:
        count = self._message_counts[ordinal]
        rng = random.Random(f"messages:{self.seed}:{self.account.sid}:{ordinal}")
        span = window(self.account, ordinal, self.now)
        sampler = _Sampler(hour_weights(self.account, ordinal, self.now), day_start(ordinal), span)
        raw: list[dict[str, Any]] = []
        for gen in range(count):
            created = sampler.draw(rng)
            ours = rng.choice(self.account.numbers)
            other, country = self._counterpart(rng)
            direction = _weighted(rng, (("outbound-api", 58), ("inbound", 36), ("outbound-reply", 6)))
            body = rng.choice(_BODIES).format(
                d=date.fromordinal(ordinal + rng.randint(1, 9)).isoformat(),
                h=rng.randint(8, 17),
                n=rng.randint(1000, 999999),
            )
            segments = _segments(body)
            media = 1 if rng.random() < 0.03 else 0
            error = None
            if direction == "inbound":
                status = "received"
                price = -_COUNTRY_BY_CODE["US"].sms_rate * segments
            else:
                status = _weighted(rng, (("delivered", 86), ("sent", 5), ("undelivered", 5), ("failed", 4)))
                if status in ("undelivered", "failed"):
                    error = rng.choice(sorted(MESSAGE_ERRORS))
                price = -_COUNTRY_BY_CODE[country].sms_rate * segments
            if status == "failed":
                price = 0
            sent = min(created + rng.randint(0, 3), span[1] - 1)
            raw.append(
                {
                    "gen": gen,
                    "direction": direction,
                    "status": status,
                    "from": other if direction == "inbound" else ours.e164,
                    "to": ours.e164 if direction == "inbound" else other,
                    "body": body,
                    "segments": segments,
                    "media": media,
                    "created": created,
                    "sent": sent,
                    "updated": sent + rng.randint(1, 30),
                    "price": price,
                    "error": error,
                    "service": (
                        plain_sid("MG", self.seed, self.account.sid)
                        if direction != "inbound" and rng.random() < 0.5
                        else None
                    ),
                }
            )
        raw.sort(key=lambda r: (-r["sent"], r["gen"]))
        now = self.now
        return [
            Message(
                sid=self.message_codec.encode(ordinal, i),
                direction=r["direction"],
                status=r["status"],
                from_=r["from"],
                to=r["to"],
                body=r["body"],
                num_segments=r["segments"],
                num_media=r["media"],
                created=r["created"],
                sent=r["sent"],
                updated=min(r["updated"], max(now - 1, r["sent"])),
                price=r["price"],
                error_code=r["error"],
                messaging_service_sid=r["service"],
            )
            for i, r in enumerate(raw)
        ]

    def find_message(self, sid: str) -> Message | None:
        """Return the message with this SID, or None if this account has none such."""
        where = self.message_codec.decode(sid)
        if where is None:
            return None
        messages = self.messages_on(where[0])
        return messages[where[1]] if where[1] < len(messages) else None

    # -- usage --

    @functools.cache  # noqa: B019 - one AccountData per account, kept for the sandbox's life
    def usage_on(self, ordinal: int) -> dict[str, tuple[int, int, int]]:
        """Return ``{category: (count, usage, price)}`` for one UTC day (price positive)."""
        calls = self.calls_on(ordinal)
        msgs = self.messages_on(ordinal)
        out: dict[str, tuple[int, int, int]] = {}

        def add(cat: str, count: int, usage: int, price: int) -> None:
            c, u, p = out.get(cat, (0, 0, 0))
            out[cat] = (c + count, u + usage, p + price)

        for c in calls:
            minutes = math.ceil(c.duration / 60) if c.duration else 0
            cost = -c.price if c.price else 0
            add("calls", 1, minutes, cost)
            add("calls-inbound" if c.direction == "inbound" else "calls-outbound", 1, minutes, cost)
        for m in msgs:
            cost = -m.price if m.price else 0
            sub = "sms-inbound" if m.direction == "inbound" else "sms-outbound"
            add("sms", 1, m.num_segments, cost)
            add(sub, 1, m.num_segments, cost)
        for cat in ("calls", "calls-inbound", "calls-outbound", "sms", "sms-inbound", "sms-outbound"):
            out.setdefault(cat, (0, 0, 0))
        d = date.fromordinal(ordinal)
        month_days = (date(d.year + d.month // 12, d.month % 12 + 1, 1) - d.replace(day=1)).days
        n = len(self.account.numbers)
        # Numbers are billed monthly; spread over the days so any range adds up.
        per_day = round(_NUMBER_MONTHLY_PRICE * n / month_days)
        add("phonenumbers", n, n, per_day)
        total = sum(out[k][2] for k in ("calls", "sms", "phonenumbers"))
        out["totalprice"] = (0, total, total)
        return out

    # -- alerts --

    def alerts_on(self, ordinal: int) -> list[Alert]:
        """Return the Monitor alerts raised on a UTC day, newest first."""
        return self.cached("alerts", ordinal, self._build_alerts)  # type: ignore[no-any-return]

    def _build_alerts(self, ordinal: int) -> list[Alert]:
        rng = random.Random(f"alerts:{self.seed}:{self.account.sid}:{ordinal}")
        alerts: list[tuple[int, str, str, str, str | None, str | None, str]] = []
        for m in self.messages_on(ordinal):
            if m.error_code is not None:
                alerts.append(
                    (
                        m.updated,
                        str(m.error_code),
                        "error",
                        f"Message delivery failed: {MESSAGE_ERRORS[m.error_code]}",
                        None,
                        None,
                        m.sid,
                    )
                )
        for c in self.calls_on(ordinal):
            if c.direction == "inbound" and rng.random() < 0.01:
                alerts.append(
                    (
                        c.start + 1,
                        "11200",
                        "error",
                        "HTTP retrieval failure: the webhook answered 502 Bad Gateway",
                        "POST",
                        "https://hooks.example.com/voice/incoming",
                        c.sid,
                    )
                )
            elif c.status == "failed" and rng.random() < 0.3:
                alerts.append(
                    (
                        c.start,
                        "13227",
                        "warning",
                        "Dial: geographic permission not enabled for this destination",
                        None,
                        None,
                        c.sid,
                    )
                )
        alerts.sort(key=lambda a: (-a[0], a[6]))
        return [
            Alert(
                plain_sid("NO", self.seed, self.account.sid, ordinal, i),
                code,
                level,
                text,
                created,
                method,
                url,
                resource,
            )
            for i, (created, code, level, text, method, url, resource) in enumerate(alerts)
        ]
