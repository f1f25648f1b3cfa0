"""`sandbox._families`: who exists in the sandbox: the Connect App's owner and the customer families.

A customer is a **main account** (Twilio's "parent") with zero or more
**subaccounts**, some created long after it, some closed, each with its own
history. Authorizing the Connect App adds one more subaccount under the parent:
the app's **Connect subaccount**, whose SID is what Twilio puts in ``AccountSid``
(``twilio-api-notes.md`` §8.1). It has no history of its own; the customer's data
lives in the rest of the family.

Everything here follows from the seed and the ``Profile`` of each customer.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ._formats import DAY, day_of, day_start
from ._sids import plain_sid

__all__ = [
    "EDITIONS",
    "US_AREAS",
    "Account",
    "PhoneNumber",
    "Profile",
    "connect_subaccount",
    "default_profiles",
    "make_world",
    "us_number",
]

Pattern = Literal["dense", "sparse", "growing"]
Role = Literal["owner", "main", "subaccount", "connect"]
PATTERNS: tuple[Pattern, ...] = ("dense", "sparse", "growing")
Edition = Literal["administration", "security", "enterprise"]
# Twilio's paid Editions: their accounts see 13 months of Monitor Events, the others 30 days.
EDITIONS: tuple[Edition, ...] = ("administration", "security", "enterprise")


@dataclass(frozen=True, kw_only=True)
class Profile:
    """What one customer looks like: its age, its volume, how the volume is spread, its subaccounts.

    Parameters
    ----------
    name
        The main account's friendly name.
    pattern
        ``"dense"``: steady daily traffic with a slow trend (a young, busy account).
        ``"sparse"``: dormant months, campaign bursts at 50× the base rate, and one
        campaign day that holds 55% of the calls. ``"growing"``: volume growing
        about fifteenfold from the main account's creation to now.
    days
        Age of the main account in days before the sandbox's clock.
    calls
        Calls of the whole family (child legs included), split over its accounts.
    messages
        Messages of the whole family; a quarter of ``calls`` by default.
    subaccounts
        Subaccounts besides the main account, created at even steps through its life
        (with three, after a quarter, half and three quarters of it).
    closed
        How many of those subaccounts (the oldest first) are closed; a closed
        account's history stops when it was closed.
    utc_offset
        Hours from UTC of the customer's working day (drives the daily rhythm).
    subaccount_names
        What the subaccounts are called after the customer's name ("Harbor Dental
        Group – Downtown"); "Subaccount 1", "Subaccount 2", … where none is given.
    edition
        The paid Twilio Edition the customer is on (``"administration"``,
        ``"security"`` or ``"enterprise"``), or None (the default): its family's
        Monitor Events reach back 13 months instead of 30 days.
    voice_insights
        Whether the customer turned on Voice Insights Advanced Features (True by
        default): without them its family's call summaries are refused.
    """

    name: str
    pattern: Pattern = "dense"
    days: int = 90
    calls: int = 20_000
    messages: int | None = None
    subaccounts: int = 0
    closed: int = 0
    utc_offset: int = -5
    subaccount_names: tuple[str, ...] = ()
    edition: Edition | None = None
    voice_insights: bool = True

    def __post_init__(self) -> None:
        if self.edition is not None and self.edition not in EDITIONS:
            msg = f"edition must be one of {', '.join(EDITIONS)} (or None), got {self.edition!r}"
            raise ValueError(msg)
        if self.pattern not in PATTERNS:
            msg = f"pattern must be one of {', '.join(PATTERNS)}, got {self.pattern!r}"
            raise ValueError(msg)
        if not 1 <= self.days <= 20 * 366:
            msg = f"days must be from 1 to {20 * 366} (20 years), got {self.days}"
            raise ValueError(msg)
        if self.calls < 0 or (self.messages or 0) < 0:
            msg = "calls and messages must be 0 or more"
            raise ValueError(msg)
        if not 0 <= self.closed <= self.subaccounts <= 50:
            msg = f"need 0 <= closed <= subaccounts <= 50, got closed={self.closed}, subaccounts={self.subaccounts}"
            raise ValueError(msg)
        if not -12 <= self.utc_offset <= 14:
            msg = f"utc_offset must be from -12 to 14 hours, got {self.utc_offset}"
            raise ValueError(msg)

    @property
    def message_total(self) -> int:
        """Messages of the whole family."""
        return self.calls // 4 if self.messages is None else self.messages


def default_profiles(calls: int = 20_000, days: int = 90) -> tuple[Profile, ...]:
    """The three default customers, which differ the way real ones do.

    A young, dense dental group with two clinics (subaccounts a month and two months
    younger); a logistics firm over eight years old whose traffic is mostly dormant
    months and campaigns (one campaign day holds more than 10,000 of its 20,000
    calls by default); and a travel agency growing for almost three years across its
    main account and three subaccounts created 8, 16 and 25 months after it, the
    oldest closed. The logistics firm is on Twilio's Enterprise Edition, so its
    Monitor Events reach back 13 months; the others see 30 days. It has not turned on
    Voice Insights Advanced Features, so its call summaries are refused; the others have.
    """
    return (
        Profile(
            name="Harbor Dental Group",
            pattern="dense",
            days=days,
            calls=calls,
            subaccounts=2,
            utc_offset=-5,
            subaccount_names=("Downtown", "Eastside"),
        ),
        Profile(
            name="Northwind Logistics",
            pattern="sparse",
            days=8 * 365 + 137,
            calls=calls,
            utc_offset=-6,
            edition="enterprise",
            voice_insights=False,
        ),
        Profile(
            name="Kestrel Travel",
            pattern="growing",
            days=2 * 365 + 300,
            calls=calls,
            subaccounts=3,
            closed=1,
            utc_offset=0,
            subaccount_names=("Legacy IVR", "Bookings", "Support"),
        ),
    )


@dataclass(frozen=True)
class PhoneNumber:
    """One of an account's own Twilio numbers."""

    e164: str
    sid: str


@dataclass(frozen=True, kw_only=True)
class Account:
    """One sandbox account: the owner, a customer's main account, a subaccount or a Connect subaccount."""

    sid: str
    friendly_name: str
    role: Role
    parent_sid: str  # Twilio's owner_account_sid: the main account, itself for a main account
    created: int  # epoch seconds
    closed: int | None = None  # epoch seconds, for a closed subaccount
    numbers: tuple[PhoneNumber, ...] = ()
    utc_offset: int = 0
    pattern: Pattern = "dense"
    origin: int = 0  # the main account's creation: where the family's growth curve starts
    calls_total: int = 0
    messages_total: int = 0
    family: int = 0  # index of the customer (0 is the owner)
    edition: Edition | None = None  # the customer's paid Twilio Edition, shared by its family
    voice_insights: bool = True  # Voice Insights Advanced Features on, for the whole family

    @property
    def is_owner(self) -> bool:
        """Whether this is the Connect App owner's account (the analyst's company)."""
        return self.role == "owner"

    @property
    def status(self) -> str:
        """Twilio's account status: ``active`` or ``closed``."""
        return "closed" if self.closed is not None else "active"

    def end(self, now: int) -> int:
        """The instant the history stops: when the account closed, else the sandbox's clock."""
        return min(self.closed, now) if self.closed is not None else now


# --- phone numbers ----------------------------------------------------------------

US_AREAS = ("212", "305", "312", "415", "512", "617", "713", "818")


def us_number(rng: random.Random) -> str:
    """A random-looking North American number in one of a few big-city area codes."""
    return f"+1{rng.choice(US_AREAS)}{rng.randint(2, 9)}" + "".join(str(rng.randint(0, 9)) for _ in range(6))


def _numbers(rng: random.Random, seed: int, sid: str) -> tuple[PhoneNumber, ...]:
    return tuple(PhoneNumber(us_number(rng), plain_sid("PN", seed, sid, n)) for n in range(rng.randint(3, 6)))


# --- the world --------------------------------------------------------------------


def make_world(
    seed: int,
    profiles: Sequence[Profile],
    *,
    now: int,
    owner_calls: int,
    owner_days: int,
    volume: Callable[[Account], float],
) -> list[Account]:
    """Return the owner's account, then each customer's main account followed by its subaccounts.

    Call and message totals are split over a family's accounts in proportion to
    ``volume(account)``: the traffic its life and pattern allow (``_activity.expected_volume``,
    passed in because the volume model itself reads accounts).
    """

    rng = random.Random(f"accounts:{seed}")
    owner_sid = plain_sid("AC", seed, "account", 0)
    owner_created = day_start(day_of(now) - owner_days)
    accounts = [
        Account(
            sid=owner_sid,
            friendly_name="Connect Notebook Analytics",
            role="owner",
            parent_sid=owner_sid,
            created=owner_created,
            numbers=_numbers(rng, seed, owner_sid),
            utc_offset=-5,
            origin=owner_created,
            calls_total=owner_calls,
            messages_total=owner_calls // 4,
        )
    ]
    for index, profile in enumerate(profiles, start=1):
        family_rng = random.Random(f"family:{seed}:{index}")
        parent_sid = plain_sid("AC", seed, "account", index)
        created = day_start(day_of(now) - profile.days) + family_rng.randint(8 * 3600, 17 * 3600)
        life = now - created
        members = [
            Account(
                sid=parent_sid,
                friendly_name=profile.name,
                role="main",
                parent_sid=parent_sid,
                created=created,
                numbers=_numbers(rng, seed, parent_sid),
                utc_offset=profile.utc_offset,
                pattern=profile.pattern,
                origin=created,
                family=index,
                edition=profile.edition,
                voice_insights=profile.voice_insights,
            )
        ]
        for j in range(profile.subaccounts):
            sid = plain_sid("AC", seed, "subaccount", index, j)
            # Subaccounts are created at even steps through the main account's life (years later, for an old one).
            sub_created = created + life * (j + 1) // (profile.subaccounts + 1) + family_rng.randint(600, 6 * 3600)
            closed = sub_created + (now - sub_created) * 3 // 5 if j < profile.closed else None
            members.append(
                Account(
                    sid=sid,
                    friendly_name=f"{profile.name} – "
                    + (profile.subaccount_names[j] if j < len(profile.subaccount_names) else f"Subaccount {j + 1}"),
                    role="subaccount",
                    parent_sid=parent_sid,
                    created=min(sub_created, now - DAY // 24),
                    closed=closed,
                    numbers=_numbers(rng, seed, sid),
                    utc_offset=profile.utc_offset,
                    pattern=profile.pattern,
                    origin=created,
                    family=index,
                    edition=profile.edition,
                    voice_insights=profile.voice_insights,
                )
            )
        volumes = [volume(a) * family_rng.uniform(0.6, 1.4) for a in members]
        calls = _split(profile.calls, volumes)
        messages = _split(profile.message_total, volumes)
        for a, c, m in zip(members, calls, messages, strict=True):
            accounts.append(replace(a, calls_total=c, messages_total=m))
    return accounts


def _split(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    s = sum(weights)
    if total <= 0 or s <= 0:
        return [0] * len(weights)
    exact = [total * w / s for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def connect_subaccount(seed: int, parent: Account, app_sid: str, app_name: str, now: int) -> Account:
    """The Connect App's subaccount under a customer's main account (made on first authorization).

    Its friendly name on Twilio is not documented; the sandbox uses the app's name.
    """
    sid = plain_sid("AC", seed, "connect", parent.sid, app_sid)
    return Account(
        sid=sid,
        friendly_name=app_name,
        role="connect",
        parent_sid=parent.sid,
        created=now,
        utc_offset=parent.utc_offset,
        origin=parent.origin,
        family=parent.family,
        edition=parent.edition,
        voice_insights=parent.voice_insights,
    )
