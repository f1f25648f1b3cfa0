"""`sandbox._activity`: how much an account does on each UTC day, and at which hours.

An account's calls (and messages) are spread over its life, from its creation to
its closing or the sandbox's clock, by a weight per day: the daily and weekly
rhythm of the account's time zone times the customer's pattern:

- ``dense``: steady traffic with a slow upward trend and day-to-day noise;
- ``sparse``: months that are dormant (no traffic at all) or active (a low base
  rate), campaign bursts of a few days at 50× the base rate, and one campaign
  day that holds 55% of the account's calls;
- ``growing``: volume growing about fifteenfold from the main account's creation
  to now, so subaccounts created later start busier.

Counts per day are whole numbers that add up to the account's total exactly
(largest remainder). Computing them costs one pass over the days; the records
themselves are generated later, one day at a time (``_data``).
"""

from __future__ import annotations

import math
import random
from datetime import date

from ._families import Account
from ._formats import DAY, day_of, day_start

__all__ = ["BURST_SHARE", "allocate", "daily_counts", "expected_volume", "hour_weights", "window"]

# Relative call volume per local hour: quiet nights, a morning peak, a lunch dip.
_DIURNAL = (
    0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 2.0, 4.5, 8.5, 11.0, 11.5, 10.5,
    8.5, 9.5, 10.5, 10.0, 9.0, 7.0, 4.5, 3.2, 2.4, 1.8, 1.2, 0.8,
)  # fmt: skip
_WEEKDAY = (1.0, 1.05, 1.05, 1.0, 0.95, 0.45, 0.3)
_DIURNAL_TOTAL = sum(_DIURNAL)
CAMPAIGN_FACTOR = 50.0
BURST_SHARE = 0.55  # of a sparse account's calls, on its biggest campaign day
GROWTH = 15.0  # a growing family's volume now, relative to when its main account was created


def window(account: Account, ordinal: int, now: int) -> tuple[int, int]:
    """The part ``[start, end)`` of a UTC day that lies in the account's life (may be empty)."""
    start = day_start(ordinal)
    return max(start, account.created), min(start + DAY, account.end(now))


def hour_weights(account: Account, ordinal: int, now: int) -> list[float]:
    """Weight of each UTC hour of a day: the account's local rhythm, zero outside its life."""
    lo, hi = window(account, ordinal, now)
    start = day_start(ordinal)
    weekday = _WEEKDAY[date.fromordinal(ordinal).weekday()]
    weights = []
    for hour in range(24):
        h0 = start + hour * 3600
        covered = max(0, min(h0 + 3600, hi) - max(h0, lo)) / 3600
        weights.append(_DIURNAL[(hour + account.utc_offset) % 24] * weekday * covered)
    return weights


def _rhythm(account: Account, ordinal: int, now: int) -> float:
    """Sum of a day's hour weights; whole days (all but the first and last) need no per-hour work."""
    lo, hi = window(account, ordinal, now)
    if hi - lo == DAY:
        return _DIURNAL_TOTAL * _WEEKDAY[date.fromordinal(ordinal).weekday()]
    return sum(hour_weights(account, ordinal, now)) if hi > lo else 0.0


def _days(account: Account, now: int) -> range:
    end = account.end(now)
    if end <= account.created:
        return range(0)
    return range(day_of(account.created), day_of(end - 1) + 1)


def _pattern(seed: int, account: Account, days: range, now: int) -> list[float]:
    """The pattern's weight of each day (before the daily rhythm)."""
    if not days:
        return []
    if account.pattern == "growing":
        origin, span = day_of(account.origin), max(1, day_of(now) - day_of(account.origin))
        noise = random.Random(f"growing:{seed}:{account.sid}")
        return [GROWTH ** ((d - origin) / span) * noise.uniform(0.75, 1.25) for d in days]
    if account.pattern == "sparse":
        return _sparse(random.Random(f"sparse:{seed}:{account.sid}"), days)
    noise = random.Random(f"dense:{seed}:{account.sid}")
    return [(1 + 0.002 * (d - days[0])) * noise.uniform(0.85, 1.15) for d in days]


def _sparse(rng: random.Random, days: range) -> list[float]:
    """Dormant and active months; in active months a low base and the odd campaign at 50×."""
    weights = [0.0] * len(days)
    active = True
    i = 0
    while i < len(days):
        first = date.fromordinal(days[i])
        month_end = (date(first.year + first.month // 12, first.month % 12 + 1, 1)).toordinal()
        j = min(len(days), i + (month_end - days[i]))
        if active:
            for k in range(i, j):
                weights[k] = rng.uniform(0.4, 1.6)
            if rng.random() < 0.35:  # a campaign: a few consecutive days at 50× the base rate
                start = rng.randrange(i, j)
                for k in range(start, min(j, start + rng.randint(2, 5))):
                    weights[k] = CAMPAIGN_FACTOR * rng.uniform(0.8, 1.2)
        # Months run in spells: an active month mostly stays active, a dormant one mostly stays dormant.
        active = rng.random() < (0.8 if active else 0.3)
        i = j
    if not any(weights):  # a short life that happened to be all dormant
        weights[-1] = 1.0
    return weights


def allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights``, each within one of its exact share.

    Systematic rounding of the running sum: a stretch of days each expecting half a
    call gets a call every other day, rather than none at all (as rounding each
    day, or handing the remainders to the largest shares, would do).
    """
    s = math.fsum(weights)
    if s <= 0 or total <= 0:
        return [0] * len(weights)
    counts, running, before = [], 0.0, 0
    for w in weights:
        running += w
        after = min(total, math.floor(total * running / s + 0.5))
        counts.append(after - before)
        before = after
    counts[-1] += total - before  # float sums may fall a hair short of s
    return counts


def _weights(seed: int, account: Account, now: int) -> tuple[range, list[float]]:
    days = _days(account, now)
    pattern = _pattern(seed, account, days, now)
    return days, [p * _rhythm(account, d, now) for p, d in zip(pattern, days, strict=True)]


def expected_volume(seed: int, account: Account, now: int) -> float:
    """The account's share of its family's traffic: the sum of its day weights."""
    return math.fsum(_weights(seed, account, now)[1])


def daily_counts(seed: int, account: Account, total: int, now: int, *, burst: bool) -> dict[int, int]:
    """Records per UTC day (ordinal) over the account's life, adding up to ``total``.

    With ``burst`` (calls, not messages), a sparse account's biggest campaign day
    gets ``BURST_SHARE`` of the total before the rest is spread by weight.
    """
    days, weights = _weights(seed, account, now)
    if not days:
        return {}
    if not (burst and account.pattern == "sparse" and total > 0):
        return dict(zip(days, allocate(total, weights), strict=True))
    # The biggest campaign day (or failing that the busiest day) takes the burst; the rest is spread by weight.
    peak = max(range(len(weights)), key=lambda i: (weights[i], -i))
    others = [0.0 if i == peak else w for i, w in enumerate(weights)]
    big = round(total * BURST_SHARE) if any(others) else total
    counts = allocate(total - big, others)
    counts[peak] += big
    return dict(zip(days, counts, strict=True))
