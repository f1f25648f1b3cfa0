"""`sandbox._data`: deterministic synthetic Twilio accounts, calls, messages and alerts.

Everything is derived from ``(seed, account, UTC day)``, so any day of any account
can be generated on its own, in any order, with the same result. Nothing is
rendered up front: a day's records are built when first asked for and kept in a
bounded cache, which is how a 1,000,000-call account stays cheap to serve.

Money is kept in integer units of 0.00001 USD so that usage records add up to
the calls and messages exactly.
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
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from ._sids import SidCodec, plain_sid

__all__ = [
    "MESSAGE_ERRORS",
    "formatted_number",
    "Account",
    "AccountData",
    "Alert",
    "Call",
    "Message",
    "PhoneNumber",
    "Timeline",
    "make_accounts",
]

DAY = 86_400
API_VERSION = "2010-04-01"
_ENGLISH_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ENGLISH_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@functools.lru_cache(maxsize=8192)
def _day_prefix(day_number: int) -> str:
    d = date.fromordinal(day_number + _EPOCH_ORDINAL)
    return f"{_ENGLISH_DAYS[d.weekday()]}, {d.day:02d} {_ENGLISH_MONTHS[d.month - 1]} {d.year} "


def rfc2822(epoch: int) -> str:
    """Format a UTC epoch second the way the 2010 API does (``+0000``, English names)."""
    day_number, second = divmod(epoch, DAY)
    hours, second = divmod(second, 3600)
    minutes, second = divmod(second, 60)
    return f"{_day_prefix(day_number)}{hours:02d}:{minutes:02d}:{second:02d} +0000"


def iso8601(epoch: int) -> str:
    """Format a UTC epoch second the way the v1 APIs do (``2015-07-30T20:00:00Z``)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(units: int) -> str:
    """Format an amount in 0.00001 USD units as a 5-decimal string (``-0.01400``)."""
    sign = "-" if units < 0 else ""
    units = abs(units)
    return f"{sign}{units // 100_000}.{units % 100_000:05d}"


def day_start(ordinal: int) -> int:
    """Return the epoch second at which the UTC day with this ordinal starts."""
    return (ordinal - _EPOCH_ORDINAL) * DAY


def day_of(epoch: int) -> int:
    """Return the ordinal of the UTC day that contains this epoch second."""
    return epoch // DAY + _EPOCH_ORDINAL


# --- countries, numbers and prices ------------------------------------------------


@dataclass(frozen=True)
class _Country:
    code: str
    weight: float
    prefixes: tuple[tuple[str, int], ...]  # (E.164 prefix, subscriber digits after it)
    outbound_rate: int  # per started minute, 0.00001 USD
    sms_rate: int  # per segment


_US_AREAS = ("212", "305", "312", "415", "512", "617", "713", "818")
_COUNTRIES = (
    _Country("US", 60, tuple((f"+1{a}", 7) for a in _US_AREAS), 1_400, 790),
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


def formatted_number(e164: str) -> str:
    """Display form Twilio uses: ``(415) 555-0134`` for North America, E.164 otherwise."""
    if e164.startswith("+1") and len(e164) == 12:
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    return e164


def _random_number(rng: random.Random, country: _Country) -> str:
    prefix, digits = rng.choice(country.prefixes)
    first = rng.randint(2, 9)
    rest = "".join(str(rng.randint(0, 9)) for _ in range(digits - 1))
    return f"{prefix}{first}{rest}"


@dataclass(frozen=True)
class PhoneNumber:
    """One of an account's own Twilio numbers."""

    e164: str
    sid: str


@dataclass(frozen=True)
class Account:
    """A sandbox account: the Connect App owner or one of its customers."""

    sid: str
    friendly_name: str
    created: int  # epoch seconds
    numbers: tuple[PhoneNumber, ...]
    utc_offset: int  # hours; drives the account's daily rhythm
    calls_total: int
    messages_total: int
    is_owner: bool = False


_CUSTOMER_PROFILES = (
    ("Harbor Dental Group", -5),
    ("Northwind Logistics", -6),
    ("Kestrel Travel", 0),
    ("Bluebell Clinics", -8),
    ("Summit Roofing", -7),
    ("Juniper Legal", -5),
    ("Orbit Pet Care", -6),
    ("Larkspur Realty", -8),
)


def make_accounts(seed: int, customers: int, calls: int, messages: int, created: int) -> list[Account]:
    """Return the owner account followed by ``customers`` customer accounts."""
    rng = random.Random(f"accounts:{seed}")
    accounts = []
    names = [("Connect Notebook Analytics", -5)] + [
        (
            _CUSTOMER_PROFILES[i % len(_CUSTOMER_PROFILES)][0]
            + ("" if i < len(_CUSTOMER_PROFILES) else f" {i // len(_CUSTOMER_PROFILES) + 1}"),
            _CUSTOMER_PROFILES[i % len(_CUSTOMER_PROFILES)][1],
        )
        for i in range(customers)
    ]
    us = _COUNTRY_BY_CODE["US"]
    for i, (name, offset) in enumerate(names):
        sid = plain_sid("AC", seed, "account", i)
        numbers = tuple(
            PhoneNumber(_random_number(rng, us), plain_sid("PN", seed, sid, n)) for n in range(rng.randint(3, 6))
        )
        owner = i == 0
        accounts.append(
            Account(
                sid=sid,
                friendly_name=name,
                # A customer's history starts when its account was created; the owner is older.
                created=created - rng.randint(30, 900) * DAY if owner else created,
                numbers=numbers,
                utc_offset=offset,
                # The owner is the analyst's own company: a small history of its own.
                calls_total=max(calls // 10, 1) if owner and calls else calls,
                messages_total=max(messages // 10, 1) if owner and messages else messages,
                is_owner=owner,
            )
        )
    return accounts


# --- time line ---------------------------------------------------------------------

# Relative call volume per local hour: quiet nights, a morning peak, a lunch dip.
_DIURNAL = (
    0.6,
    0.4,
    0.3,
    0.3,
    0.4,
    0.8,
    2.0,
    4.5,
    8.5,
    11.0,
    11.5,
    10.5,
    8.5,
    9.5,
    10.5,
    10.0,
    9.0,
    7.0,
    4.5,
    3.2,
    2.4,
    1.8,
    1.2,
    0.8,
)
_WEEKDAY = (1.0, 1.05, 1.05, 1.0, 0.95, 0.45, 0.3)


@dataclass(frozen=True)
class Timeline:
    """The span the sandbox has history for: ``days`` whole UTC days up to ``now``."""

    now: int  # epoch seconds
    days: int

    @property
    def first_day(self) -> int:
        """Ordinal of the first UTC day with history."""
        return day_of(self.now) - self.days

    @property
    def last_day(self) -> int:
        """Ordinal of the last UTC day with history (the one containing ``now``)."""
        return day_of(self.now - 1)

    def window(self, ordinal: int) -> tuple[int, int]:
        """Return the part ``[start, end)`` of a UTC day that lies in the span."""
        start = day_start(ordinal)
        return start, min(start + DAY, self.now)


def _hour_weights(account: Account, ordinal: int, timeline: Timeline) -> list[float]:
    """Weight of each UTC hour of a day, zero outside the span, partial at ``now``."""
    start, end = timeline.window(ordinal)
    weekday = date.fromordinal(ordinal).weekday()
    weights = []
    for hour in range(24):
        h0 = start + hour * 3600
        covered = max(0, min(h0 + 3600, end) - h0) / 3600
        weights.append(_DIURNAL[(hour + account.utc_offset) % 24] * _WEEKDAY[weekday] * covered)
    return weights


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    s = sum(weights)
    if s <= 0 or total <= 0:
        return [0] * len(weights)
    exact = [total * w / s for w in weights]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


class _Sampler:
    """Draw UTC epoch seconds inside a day's window, following the hourly weights."""

    def __init__(self, weights: list[float], window: tuple[int, int]) -> None:
        self.cum = list(_accumulate(weights))
        self.start, self.end = window

    def draw(self, rng: random.Random) -> int:
        hour = bisect.bisect_right(self.cum, rng.random() * self.cum[-1])
        lo = self.start + min(hour, 23) * 3600
        hi = min(lo + 3600, self.end)
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

    def __init__(self, seed: int, account: Account, timeline: Timeline) -> None:
        self.seed = seed
        self.account = account
        self.timeline = timeline
        self.call_codec = SidCodec("CA", f"{seed}:{account.sid}:calls")
        self.message_codec = SidCodec("SM", f"{seed}:{account.sid}:messages")
        days = list(range(timeline.first_day, timeline.last_day + 1))
        self.days_desc = days[::-1]
        weights = [sum(_hour_weights(account, d, timeline)) * self._trend(d) for d in days]
        self._call_counts = dict(zip(days, _allocate(account.calls_total, weights), strict=True))
        self._message_counts = dict(zip(days, _allocate(account.messages_total, weights), strict=True))
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

    def _trend(self, ordinal: int) -> float:
        noise = random.Random(f"trend:{self.seed}:{self.account.sid}:{ordinal}").uniform(0.85, 1.15)
        return noise * (1 + 0.002 * (ordinal - self.timeline.first_day))

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
        window = self.timeline.window(ordinal)
        sampler = _Sampler(_hour_weights(self.account, ordinal, self.timeline), window)
        raw: list[dict[str, Any]] = []
        while len(raw) < count:
            raw.extend(self._interaction(rng, sampler, window, count - len(raw), len(raw)))
        # Newest first, as Twilio lists; generation order breaks ties deterministically.
        raw.sort(key=lambda r: (-r["start"], r["gen"]))
        position = {r["gen"]: i for i, r in enumerate(raw)}
        sids = [self.call_codec.encode(ordinal, i) for i in range(len(raw))]
        now = self.timeline.now
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
        window = self.timeline.window(ordinal)
        sampler = _Sampler(_hour_weights(self.account, ordinal, self.timeline), window)
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
            sent = min(created + rng.randint(0, 3), window[1] - 1)
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
        now = self.timeline.now
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


def _as_epoch(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())
