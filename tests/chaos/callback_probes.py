"""The classes of hostile request at the callback server, as hypothesis strategies over one scene.

Each class gets *one* thing wrong and carries everything else right: the unused live state
this server issued, an authorized customer, a signature valid for exactly that URL and
those fields. A request that slipped through would therefore connect or revoke an account,
and the property sees it as a session change. This module has the classes whose parameters
are wrong and the table of all of them (``callback_framing.py`` has those whose framing is);
``strategy_for(kind, scene)`` is one class, ``bogus_pool(scene)`` a fixed list for the load test.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from hypothesis import strategies as st

from chaos.callback_framing import (
    non_utf8,
    oversized,
    path_trick,
    path_tricks,
    protocol,
    random_path,
    wrong_host,
    wrong_hosts,
)
from chaos.callback_scene import Scene, bogus_state, sid_like
from chaos.callback_wire import AUTHORIZE, DEAUTHORIZE, Probe, enc, query, with_query
from connect_notebook._signature import compute_signature, is_valid_signature

__all__ = ["CALLBACK_CLASSES", "HTTP_LAYER_CLASSES", "bogus_pool", "strategy_for"]

CALLBACK_CLASSES = (
    "malformed",
    "oversized",
    "non-utf8",
    "duplicated",
    "wrong-method",
    "state-missing",
    "state-forged",
    "state-replayed",
    "state-expired",
    "signature-forged",
    "path-trick",
    "wrong-host",
    "random-path",
    "protocol",
)
# The classes with requests tornado's HTTP/1.1 parser refuses before any handler runs: broken
# request lines and framing, headers over 64 KiB, over 1,000 query arguments, bad Host syntax.
HTTP_LAYER_CLASSES = frozenset({"protocol", "oversized", "non-utf8", "wrong-host"})
_METHODS = ("PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "CONNECT", "PROPFIND", "MKCOL", "FOO", "get", "Post")


def _malformed(scene: Scene) -> st.SearchStrategy[Probe]:
    """Broken query strings and form bodies: odd names, stray separators, bad escapes, bogus values."""
    names = st.one_of(
        st.sampled_from(["AccountSid", "state", "error", "", "accountsid", "State", "AccountSid[]", "Account Sid"]),
        st.text(max_size=10),
    )
    values = st.one_of(sid_like(scene), bogus_state(scene), st.text(max_size=40), st.just("unauthorized_client"))
    pair = st.tuples(names, values).map(lambda p: query([p]))
    fragment = st.sampled_from([b"", b"&", b"=", b"==", b"%", b"%zz", b"%%41", b"+", b";", b"?", b"#", b"[]", b"%00"])
    queries = st.lists(st.one_of(pair, fragment), max_size=8).map(b"&".join)
    return st.one_of(
        st.builds(lambda q: Probe("malformed", target=with_query(AUTHORIZE, q), host=scene.host), queries),
        st.builds(
            lambda q, sig: Probe(
                "malformed", b"POST", DEAUTHORIZE, scene.host, ((b"X-Twilio-Signature", sig.encode()),), q
            ),
            queries,
            st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
        ),
    )


# Spellings that tornado decodes to the same parameter name.
_ENCODED_NAMES = {
    "AccountSid": [b"AccountSid", b"Account%53id", b"%41ccountSid"],
    "state": [b"state", b"st%61te"],
    "error": [b"error", b"%65rror"],
}


@st.composite
def _duplicated_callback(draw: st.DrawFn, scene: Scene) -> Probe:
    """The live state and an authorized customer (or a decline), with one checked name given twice."""
    decline = draw(st.booleans())
    pairs = [("error", "unauthorized_client")] if decline else [("AccountSid", scene.bypass_sid)]
    pairs.append(("state", scene.live_state))
    name = draw(st.sampled_from([n for n, _ in pairs]))
    spelling = draw(st.sampled_from(_ENCODED_NAMES[name]))
    second = draw(
        st.one_of(
            st.just(dict(pairs)[name]), st.sampled_from([scene.bypass_sid, *scene.connected]), st.text(max_size=10)
        )
    )
    parts = [query([p]) for p in pairs] + [spelling + b"=" + enc(second).encode()]
    order = draw(st.permutations(range(len(parts))))
    return Probe("duplicated", target=AUTHORIZE + b"?" + b"&".join(parts[i] for i in order), host=scene.host)


@st.composite
def _duplicated_deauthorize(draw: st.DrawFn, scene: Scene) -> Probe:
    """A validly signed deauthorize that names a field twice."""
    fields = scene.deauthorize_fields()
    name = draw(st.sampled_from(["AccountSid", "ConnectAppSid"]))
    second = draw(st.one_of(st.just(dict(fields)[name]), st.sampled_from(scene.connected)))
    sent = [*fields, (name, second)]
    return scene.signed_post("duplicated", draw(st.permutations(sent)))


def _duplicated(scene: Scene) -> st.SearchStrategy[Probe]:
    """A checked parameter given twice, possibly spelled differently: never "the first one wins"."""
    return st.one_of(_duplicated_callback(scene), _duplicated_deauthorize(scene))


def _wrong_method(scene: Scene) -> st.SearchStrategy[Probe]:
    """Everything right but the method: the live state by PUT, HEAD…; a signed deauthorize by GET."""
    sid, live = scene.bypass_sid, scene.live_state
    live_query = query([("AccountSid", sid), ("state", live)])
    methods = st.one_of(
        st.sampled_from(_METHODS),
        st.from_regex(r"[A-Z]{3,10}", fullmatch=True).filter(lambda m: m not in ("GET", "POST")),
    )
    fields = scene.deauthorize_fields()
    signed_get = DEAUTHORIZE + b"?" + urlencode(fields).encode()
    return st.one_of(
        # the live state and an authorized customer, with any method but GET (POST carries them as a form too)
        st.builds(
            lambda m, as_body: Probe(
                "wrong-method",
                m.encode(),
                AUTHORIZE if as_body else AUTHORIZE + b"?" + live_query,
                scene.host,
                body=live_query if as_body else None,
            ),
            st.one_of(methods, st.just("POST")),
            st.booleans(),
        ),
        # a validly signed deauthorize with any method but POST
        st.builds(lambda m: scene.signed_post("wrong-method", fields, method=m.encode()), methods),
        # GET to a server registered for POST, signed as Twilio signs a GET (URL only)
        st.just(
            Probe(
                "wrong-method",
                b"GET",
                signed_get,
                scene.host,
                ((b"X-Twilio-Signature", compute_signature(scene.url(signed_get), [], scene.auth_token).encode()),),
            )
        ),
    )


# Parameters a callback may carry besides the checked ones; they change nothing, but they
# vary the requests of the small classes (hypothesis never sends the same example twice).
_HARMLESS = st.lists(
    st.tuples(st.sampled_from(["code", "scope", "x", "next", "lang"]), st.text(max_size=12)), max_size=3
)


@st.composite
def _callback_with(draw: st.DrawFn, scene: Scene, kind: str, pairs: st.SearchStrategy[list[tuple[str, str]]]) -> Probe:
    """An authorize callback with these pairs plus harmless extras, in any order."""
    return scene.callback(kind, draw(st.permutations(draw(pairs) + draw(_HARMLESS))))


def _as_callback(scene: Scene, state: str, decline: bool, sid: str | None = None) -> list[tuple[str, str]]:
    """The pairs of a callback with this state: a decline, or an authorized customer (the bypass one by default)."""
    first = ("error", "unauthorized_client") if decline else ("AccountSid", sid or scene.bypass_sid)
    return [first, ("state", state)]


def _state_missing(scene: Scene) -> st.SearchStrategy[Probe]:
    """A good customer or a decline, with no state or an empty one."""
    base = st.sampled_from(
        [
            [("AccountSid", scene.bypass_sid)],
            [("AccountSid", scene.connected[0])],
            [("error", "unauthorized_client")],
            [("AccountSid", scene.bypass_sid), ("state", "")],
            [("error", "unauthorized_client"), ("state", "")],
        ]
    )
    return _callback_with(scene, "state-missing", base)


def _state_forged(scene: Scene) -> st.SearchStrategy[Probe]:
    """A state this server never issued: random, a look-alike of the live one, another notebook's."""
    pairs = st.builds(
        lambda state, decline, sid: _as_callback(scene, state, decline, sid),
        bogus_state(scene, issued_here=False),
        st.booleans(),
        st.sampled_from([scene.bypass_sid, *scene.connected]),
    )
    return _callback_with(scene, "state-forged", pairs)


def _state_replayed(scene: Scene) -> st.SearchStrategy[Probe]:
    """The exact query of a real callback whose state was used up, or its state for another account or a decline."""

    def replay(used: tuple[tuple[str, str], ...], how: str) -> list[tuple[str, str]]:
        if how == "verbatim":
            return list(used)
        return _as_callback(scene, dict(used)["state"], decline=how == "as-decline")

    pairs = st.builds(replay, st.sampled_from(scene.used), st.sampled_from(["verbatim", "other-account", "as-decline"]))
    return _callback_with(scene, "state-replayed", pairs)


def _state_expired(scene: Scene) -> st.SearchStrategy[Probe]:
    """A state issued here and left to expire, for the bypass customer or a decline."""
    pairs = st.builds(
        lambda state, decline: _as_callback(scene, state, decline), st.sampled_from(scene.expired), st.booleans()
    )
    return _callback_with(scene, "state-expired", pairs)


def _signature_forged(scene: Scene) -> st.SearchStrategy[Probe]:
    """A deauthorize whose signature is missing, random, or made for another token, URL, field set or app."""
    url = scene.url(DEAUTHORIZE)
    token = scene.auth_token
    fields = scene.deauthorize_fields()

    def forge(how: str, sent: list[tuple[str, str]], text: str) -> Probe:
        signature: str | None
        if how == "missing":
            signature = None
        elif how == "random":
            signature = text
        elif how == "other-token":
            signature = compute_signature(url, sent, token[::-1] + text)
        elif how == "other-url":
            other = text.replace(" ", "") or "x"
            signature = compute_signature(
                {
                    "a": url.replace("http://", "https://"),
                    "b": url + "/",
                    "c": url + "?" + other,
                    "d": f"http://{other}/connect/deauthorize",
                }["abcd"[len(text) % 4]],
                sent,
                token,
            )
        elif how == "other-fields":
            signature = compute_signature(url, [*sent, ("x", text)], token)
        elif how == "truncated":
            signature = compute_signature(url, sent, token)[: len(text) % 27]
        elif how == "case":
            signature = compute_signature(url, sent, token).swapcase()
        else:  # "other-app": valid, but for a Connect App that is not ours
            sent = [
                ("AccountSid", scene.connected[0]),
                ("ConnectAppSid", "CN" + text.encode().hex()[:32].ljust(32, "0")),
            ]
            signature = compute_signature(url, sent, token)
        headers = () if signature is None else ((b"X-Twilio-Signature", signature.encode("utf-8", "replace")),)
        return Probe("signature-forged", b"POST", DEAUTHORIZE, scene.host, headers, urlencode(sent).encode())

    sent = st.one_of(
        st.just(fields),
        st.sampled_from(scene.connected).map(lambda sid: scene.deauthorize_fields(sid)),
        st.lists(st.tuples(st.sampled_from(["AccountSid", "ConnectAppSid", "x"]), st.text(max_size=34)), max_size=3),
    )
    return st.builds(
        forge,
        st.sampled_from(
            ["missing", "random", "other-token", "other-url", "other-fields", "truncated", "case", "other-app"]
        ),
        sent,
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
    ).filter(lambda p: not _would_revoke(scene, p))


def _would_revoke(scene: Scene, probe: Probe) -> bool:
    """Whether a deauthorize is genuine after all (a valid signature, our app, one well-formed sid)."""
    signature = dict(probe.headers).get(b"X-Twilio-Signature")
    if signature is None or probe.body is None:
        return False
    fields = parse_qsl(probe.body.decode(), keep_blank_values=True)
    values = dict(fields)
    return (
        is_valid_signature(scene.url(DEAUTHORIZE), fields, signature.decode("utf-8", "replace"), scene.auth_token)
        and len(values) == len(fields)
        and values.get("ConnectAppSid") == scene.connect_app_sid
        and re.fullmatch(r"AC[0-9a-fA-F]{32}", values.get("AccountSid", "")) is not None
    )


_CLASS_STRATEGIES: dict[str, Callable[[Scene], st.SearchStrategy[Probe]]] = {
    "malformed": _malformed,
    "oversized": oversized,
    "non-utf8": non_utf8,
    "duplicated": _duplicated,
    "wrong-method": _wrong_method,
    "state-missing": _state_missing,
    "state-forged": _state_forged,
    "state-replayed": _state_replayed,
    "state-expired": _state_expired,
    "signature-forged": _signature_forged,
    "path-trick": path_trick,
    "wrong-host": wrong_host,
    "random-path": random_path,
    "protocol": protocol,
}
assert tuple(_CLASS_STRATEGIES) == CALLBACK_CLASSES, "every class has a strategy, in the table's order"


@functools.cache
def strategy_for(kind: str, scene: Scene) -> st.SearchStrategy[Probe]:
    """The strategy of one class against one scene, built once (the property draws from it per example)."""
    return _CLASS_STRATEGIES[kind](scene)


def bogus_pool(scene: Scene) -> list[Probe]:
    """Requests our handlers refuse with a 4xx page, of most classes, as a fixed list (no hypothesis).

    For the load test, whose 100 threads send them over and over while a good click-through
    runs: what matters there is that the good flow gets through, not the search for a bad answer.
    """
    live = [("AccountSid", scene.bypass_sid), ("state", scene.live_state)]
    states = [*scene.foreign, *scene.expired, *(dict(used)["state"] for used in scene.used)]
    pool = [scene.callback("state-missing", [pair]) for pair in live[:1] + [("error", "unauthorized_client")]]
    pool += [scene.callback("state-replayed", list(used)) for used in scene.used]
    pool += [
        scene.callback("state-forged", _as_callback(scene, s, decline)) for s in states for decline in (False, True)
    ]
    pool += [scene.callback("duplicated", [*live, ("state", scene.live_state)])]
    pool += [Probe("path-trick", target=p + b"?" + query(live), host=scene.host) for p in path_tricks(scene)]
    pool += [scene.callback("wrong-host", live, host=h.encode()) for h in wrong_hosts(scene)]
    pool += [Probe("wrong-method", m.encode(), AUTHORIZE + b"?" + query(live), scene.host) for m in _METHODS]
    pool += [scene.signed_post("wrong-method", scene.deauthorize_fields(), method=m.encode()) for m in _METHODS]
    fields = urlencode(scene.deauthorize_fields()).encode()
    for signature in (b"", b"forged", b"A" * 28):
        pool.append(
            Probe("signature-forged", b"POST", DEAUTHORIZE, scene.host, ((b"X-Twilio-Signature", signature),), fields)
        )
    return [probe for probe in pool if probe.refused_by == "app"]
