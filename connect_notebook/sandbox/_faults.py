"""`sandbox._faults`: seeded fault injection for the REST API.

Each decision is drawn from ``(seed, request line, how many times that request
was seen)``, not from one shared random stream, so a run is reproducible even
when a client sends pages concurrently and in a different order each time.

Two kinds of fault live here. The *unreliable* ones (429s, 5xx, resets, cut
bodies, latency) are what a busy honest server does. The *hostile* ones
(``foreign_link``, ``self_link``, ``echo_auth``, ``odd_retry_after``) are what a
broken or malicious server, or a proxy in between, may send: links off the API's
origin, a page that links to itself, credentials echoed into error text, and
``Retry-After`` values in every form RFC 9110 allows and some it does not.
"""

from __future__ import annotations

import math
import random
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from ._holds import Holds

__all__ = ["FOREIGN_FORMS", "ODD_RETRY_AFTERS", "USAGE_HINTS", "Decision", "FaultInjector", "Faults", "LinkFault"]

Kind = Literal["rate_limit", "server_error", "reset", "truncate"]
UsageHints = Literal["exact", "lagging", "missing", "low", "high", "zero"]
USAGE_HINTS: tuple[UsageHints, ...] = ("exact", "lagging", "missing", "low", "high", "zero")
KINDS: tuple[Kind, ...] = ("rate_limit", "server_error", "reset", "truncate")
_PROBABILITIES = (
    "spike_rate",
    "rate_limit",
    "server_error",
    "reset",
    "truncate",
    "foreign_link",
    "self_link",
    "echo_auth",
    "odd_retry_after",
)
# How a link off the API's origin is spelled (see Faults.foreign_link).
ForeignForm = Literal["absolute", "userinfo", "scheme-relative"]
FOREIGN_FORMS: tuple[ForeignForm, ...] = ("absolute", "userinfo", "scheme-relative")
LinkFault = Literal["self", "absolute", "userinfo", "scheme-relative"]
# RFC 9110 §10.2.3: delay-seconds or an HTTP-date, whose three forms (IMF-fixdate, the obsolete
# RFC 850 and asctime forms) a recipient must accept; then values no RFC allows but servers send.
ODD_RETRY_AFTERS: tuple[str, ...] = (
    "Wed, 21 Oct 2015 07:28:00 -0000",  # RFC 2822 "-0000": parses to a naive datetime
    "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate, long past
    "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850 form
    "Sun Nov  6 08:49:37 1994",  # obsolete asctime form (no comma, no zone)
    "Fri, 31 Dec 9999 23:59:59 GMT",  # an HTTP-date far in the future
    "Wed, 32 Oct 2015 25:61:00 GMT",  # shaped like a date, but no such day or time
    "nan",
    "inf",
    "-5",
    "1e9",
    "soon",
    "",
)


@dataclass(frozen=True, kw_only=True)
class Faults:
    """What can go wrong, and how often. Probabilities are per API request (the link faults': per list page).

    Parameters
    ----------
    seed
        Seeds every decision, so the same requests meet the same faults.
    latency
        Seconds added to every API response.
    spike_rate, spike_latency
        Probability that a response is delayed by a further ``spike_latency`` seconds.
    rate_limit
        Probability of ``429`` / ``20429`` (with ``Twilio-Concurrent-Requests``).
    retry_after
        Seconds sent as ``Retry-After`` with every 429, or None to send none.
    server_error
        Probability of a ``500`` or ``503`` (half each).
    reset
        Probability that the connection is reset after half the body was sent.
    truncate
        Probability of a ``200`` whose JSON body is cut short.
    concurrency_limit
        Concurrent API requests allowed per account before ``429`` / ``20429``.
    usage
        How usage records' ``count`` relates to the records it counts: ``"exact"``;
        ``"lagging"`` (each day's usage shows up three days late); ``"missing"``
        (about a third of the records left out); ``"low"`` / ``"high"`` (a tenth /
        ten times the real count); ``"zero"``. Real counts can lag, count other
        things or be missing, so a client may plan from them but must not trust them.

    Hostile faults (a broken or malicious server; a client must survive each of them
    without sending credentials elsewhere, looping, leaking them or raising raw errors):

    foreign_link
        Probability that a list page's next link points off the API's origin, to
        ``foreign_origin``: ``next_page_uri`` on 2010 lists (relative otherwise) and
        ``meta.next_page_url`` on v1 lists (Monitor alerts). It is set on last pages
        too, where the link would be null. It names the real next page's path and
        query (the page's own on a last page), spelled one of three ways, drawn per
        page: ``"absolute"`` (``http://other:1234/2010-04-01/…``), ``"userinfo"``
        (``http://127.0.0.1:8790@other:1234/…``, which starts with the API's own
        origin) or ``"scheme-relative"`` (``//other:1234/…``, which ``urljoin``
        resolves to the other host).
    foreign_origin
        Where foreign links point: ``http(s)://host[:port]``, nothing more. The
        default ``http://evil.invalid`` never resolves (RFC 2606); point it at a
        listener of yours to see what a client sends there.
    self_link
        Probability that a page's next link is the page's own URI (its ``uri`` /
        ``meta.url``), last pages included: a client that follows it never stops.
    echo_auth
        Probability that the body of an error answered to an authenticated API
        request that passed authentication (an injected 429 or 5xx, the concurrency
        limit's 429, a resource's 400 or 404) has a ``message`` that quotes the
        request's ``Authorization`` header and the user name and password it decodes
        to, as a careless debugging proxy does.
    odd_retry_after
        Probability that an injected 429 (drawn, forced with ``fail_next`` or from
        the concurrency limit) carries one of ``ODD_RETRY_AFTERS`` as
        ``Retry-After`` instead of ``retry_after``: the three HTTP-date forms of
        RFC 9110 (past, far future, a ``-0000`` zone), an impossible date, ``nan``,
        ``inf``, ``-5``, ``1e9``, ``soon`` and an empty value.

    The two link faults are drawn once per page (keyed by the page's canonical URI,
    not per request), so a page answers the same way every time it is fetched,
    as a misconfigured server would: a self-link stays a self-link, however often
    a client comes back. ``echo_auth`` and ``odd_retry_after`` are drawn per request
    like the other faults. Each counts in ``injected`` once per response it changed.
    """

    seed: int = 0
    latency: float = 0.0
    spike_rate: float = 0.0
    spike_latency: float = 1.0
    rate_limit: float = 0.0
    retry_after: float | None = None
    server_error: float = 0.0
    reset: float = 0.0
    truncate: float = 0.0
    concurrency_limit: int | None = None
    usage: UsageHints = "exact"
    foreign_link: float = 0.0
    foreign_origin: str = "http://evil.invalid"
    self_link: float = 0.0
    echo_auth: float = 0.0
    odd_retry_after: float = 0.0

    def __post_init__(self) -> None:
        if self.usage not in USAGE_HINTS:
            msg = f"Faults.usage must be one of {', '.join(USAGE_HINTS)}, got {self.usage!r}"
            raise ValueError(msg)
        # Written as "not (0 <= x)" so that NaN fails every check too.
        for name in _PROBABILITIES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                msg = f"Faults.{name} is a probability (a number between 0 and 1), got {value!r}"
                raise TypeError(msg)
            if not 0.0 <= value <= 1.0:
                msg = f"Faults.{name} is a probability between 0 and 1, got {value!r}"
                raise ValueError(msg)
        if math.fsum((self.rate_limit, self.server_error, self.reset, self.truncate)) > 1.0 + 1e-9:
            msg = "the fault probabilities rate_limit + server_error + reset + truncate exceed 1"
            raise ValueError(msg)
        if math.fsum((self.foreign_link, self.self_link)) > 1.0 + 1e-9:
            # One next link per page: it can be foreign or point at itself, not both.
            msg = "the link fault probabilities foreign_link + self_link exceed 1"
            raise ValueError(msg)
        _check_origin(self.foreign_origin)
        for name in ("latency", "spike_latency", "retry_after"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < math.inf:
                msg = f"Faults.{name} must be a finite number of seconds, 0 or more, got {value!r}"
                raise ValueError(msg)
        if self.concurrency_limit is not None and self.concurrency_limit < 1:
            msg = f"Faults.concurrency_limit must be at least 1, got {self.concurrency_limit!r}"
            raise ValueError(msg)


def _check_origin(origin: object) -> None:
    """``foreign_origin`` is exactly ``http(s)://host[:port]``: a link built on it must be unambiguous."""
    if not isinstance(origin, str):
        msg = f"Faults.foreign_origin must be a URL such as 'http://127.0.0.2:8080', got {origin!r}"
        raise TypeError(msg)
    try:
        parts = urlsplit(origin)
        port = parts.port  # ValueError when it is not a number from 0 to 65535
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or "@" in parts.netloc
        or parts.path
        or parts.query
        or parts.fragment
        or origin != f"{parts.scheme}://{parts.netloc}"
        or port == 0
    ):
        msg = (
            f"Faults.foreign_origin must be http(s)://host[:port] with no user, path, query or fragment, "
            f"got {origin!r}; e.g. 'http://127.0.0.2:8080'"
        )
        raise ValueError(msg)


@dataclass(frozen=True)
class Decision:
    """What to do to one request: delay it, and maybe fail it one way."""

    delay: float = 0.0
    kind: Kind | None = None
    status: int = 200
    retry_after: float | None = None


@dataclass
class _Forced:
    kind: Kind
    status: int
    retry_after: float | None


@dataclass
class FaultInjector:
    """Decides the fault for each request and counts what it injected."""

    faults: Faults = field(default_factory=Faults)
    injected: Counter[str] = field(default_factory=Counter)
    _seen: Counter[str] = field(default_factory=Counter)
    _requests: Counter[str] = field(default_factory=Counter)
    _forced: deque[_Forced] = field(default_factory=deque)
    _drawn: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    holds: Holds = field(default_factory=Holds)  # requests a test holds until it releases them

    def fail_next(
        self, n: int = 1, *, status: int = 503, retry_after: float | None = None, kind: Kind | None = None
    ) -> None:
        """Fail the next ``n`` API requests, whatever the probabilities say."""
        if kind is None:
            kind = "rate_limit" if status == 429 else "server_error"
        if kind not in KINDS:
            msg = f"unknown fault kind {kind!r}; use one of {', '.join(KINDS)}"
            raise ValueError(msg)
        with self._lock:
            self._forced.extend(_Forced(kind, status, retry_after) for _ in range(n))

    def reset(self, faults: Faults | None = None) -> None:
        """Forget counters, forced faults and holds (releasing what they held); optionally switch to new settings."""
        self.holds.release_all()
        with self._lock:
            self.faults = faults or Faults()
            self.injected.clear()
            self._seen.clear()
            self._requests.clear()
            self._forced.clear()
            self._drawn.clear()

    def decide(self, request_line: str) -> Decision:
        """Return the decision for one request (``"GET /2010-04-01/…?…"``)."""
        f = self.faults
        with self._lock:
            n = self._seen[request_line]
            self._seen[request_line] += 1
            forced = self._forced.popleft() if self._forced else None
        rng = random.Random(f"{f.seed}\x1f{request_line}\x1f{n}")
        delay = f.latency + (f.spike_latency if rng.random() < f.spike_rate else 0.0)
        if forced is not None:
            decision = Decision(delay, forced.kind, forced.status, forced.retry_after)
        else:
            x = rng.random()
            decision = Decision(delay)
            for kind, p in zip(KINDS, (f.rate_limit, f.server_error, f.reset, f.truncate), strict=True):
                if x < p:
                    status = {"rate_limit": 429, "server_error": rng.choice((500, 503))}.get(kind, 200)
                    decision = Decision(delay, kind, status, f.retry_after if kind == "rate_limit" else None)
                    break
                x -= p
        if decision.kind is not None:
            with self._lock:
                self.injected[decision.kind] += 1
        return decision

    # -- hostile faults --
    # Each draws from its own stream, (seed, fault, key, n), so turning one on leaves the
    # decisions of the others, and of decide(), exactly as they were.

    def _rng(self, tag: str, key: str, *, per_request: bool) -> random.Random:
        n = 0
        if per_request:
            with self._lock:
                n = self._drawn[tag, key]
                self._drawn[tag, key] += 1
        return random.Random(f"{self.faults.seed}\x1f{tag}\x1f{key}\x1f{n}")

    def link(self, page_uri: str) -> LinkFault | None:
        """What to do to the next link of the page whose canonical URI is ``page_uri``.

        ``"self"`` (link to the page itself), a foreign form (see ``Faults.foreign_link``)
        or None (leave it). Drawn once per page, so every fetch of a page agrees.
        """
        f = self.faults
        if not (f.foreign_link or f.self_link):
            return None
        rng = self._rng("link", page_uri, per_request=False)
        x = rng.random()
        choice: LinkFault | None = None
        if x < f.self_link:
            choice = "self"
        elif x < f.self_link + f.foreign_link:
            choice = rng.choice(FOREIGN_FORMS)
        if choice is not None:
            with self._lock:
                self.injected["self_link" if choice == "self" else "foreign_link"] += 1
        return choice

    def echoes_auth(self, request_line: str) -> bool:
        """Whether this error body quotes the request's credentials (``Faults.echo_auth``)."""
        p = self.faults.echo_auth
        if not p or self._rng("echo_auth", request_line, per_request=True).random() >= p:
            return False
        with self._lock:
            self.injected["echo_auth"] += 1
        return True

    def retry_after(self, request_line: str, seconds: float | None) -> str | None:
        """The ``Retry-After`` value of an injected 429: an odd one (``Faults.odd_retry_after``) or ``seconds``."""
        p = self.faults.odd_retry_after
        if p:
            rng = self._rng("odd_retry_after", request_line, per_request=True)
            if rng.random() < p:
                with self._lock:
                    self.injected["odd_retry_after"] += 1
                return rng.choice(ODD_RETRY_AFTERS)
        return None if seconds is None else f"{seconds:g}"

    def note(self, request_line: str) -> None:
        """Count one authenticated API request, whatever then happens to it."""
        with self._lock:
            self._requests[request_line] += 1

    def seen(self) -> dict[str, int]:
        """How many times each authenticated API request line arrived since the last reset."""
        with self._lock:
            return dict(self._requests)

    def count(self, kind: str) -> None:
        """Record a fault decided elsewhere (the concurrency limit)."""
        with self._lock:
            self.injected[kind] += 1
