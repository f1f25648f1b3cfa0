"""Hostile requests whose framing is wrong: size, encoding, path, Host, method line, HTTP itself.

Half of the callback classes (``callback_probes.py`` has the other half, whose parameters
are wrong, and the table of all of them). Most carry the live state and an authorized
customer, or a valid signature, so that only the framing stands between them and a change.
Several are refused by tornado's HTTP/1.1 parser before any handler (``layer="http"``);
``Probe.refused_by`` also knows tornado's size limits, whatever the layer says.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from chaos.callback_scene import Scene, bogus_state
from chaos.callback_wire import AUTHORIZE, DEAUTHORIZE, Probe, enc, query, with_query
from connect_notebook._signature import compute_signature

__all__ = ["non_utf8", "oversized", "path_trick", "path_tricks", "protocol", "random_path", "wrong_host", "wrong_hosts"]

_BAD_UTF8 = st.one_of(
    st.sampled_from(
        [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xe2\x82", b"\x80", b"\xf8\x88\x80\x80\x80"]
    ),
    st.binary(min_size=1, max_size=12).filter(lambda b: not _is_utf8(b)),
)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def oversized(scene: Scene) -> st.SearchStrategy[Probe]:
    """Too long: a checked parameter, the argument count, a header, a body, the whole header block."""
    sid = scene.bypass_sid
    filler = st.sampled_from(["a", "A", "0", "%", "é", "-_"])
    headers = st.sampled_from([b"X-Filler", b"Cookie", b"User-Agent", b"Referer", b"X-Twilio-Signature", b"Accept"])
    return st.one_of(
        # one checked parameter far over its 256-character limit (the query stays under 64 KiB)
        st.builds(
            lambda name, n, ch: scene.callback("oversized", [("AccountSid", sid), (name, (ch * n)[:n])]),
            st.sampled_from(["state", "AccountSid", "error"]),
            st.integers(257, 18_000),
            filler,
        ),
        # hundreds to thousands of parameters (past 1,000 tornado's HTTP layer refuses the query)
        st.builds(
            lambda k, state: Probe(
                "oversized",
                target=AUTHORIZE + b"?" + b"a=1&" * k + query([("state", state)]),
                host=scene.host,
            ),
            st.integers(100, 12_000),
            bogus_state(scene),
        ),
        # a long header value on a bogus callback
        st.builds(
            lambda name, n, state: scene.callback(
                "oversized", [("AccountSid", sid), ("state", state)], headers=((name, b"a" * n),)
            ),
            headers,
            st.integers(1_000, 60_000),
            bogus_state(scene),
        ),
        # a long header value (the signature itself, or another) on an unsigned deauthorize
        st.builds(
            lambda name, n: Probe(
                "oversized",
                b"POST",
                DEAUTHORIZE,
                scene.host,
                ((name, b"A" * n),),
                urlencode(scene.deauthorize_fields()).encode(),
            ),
            headers,
            st.integers(1_000, 60_000),
        ),
        # a long body to deauthorize (tornado reads it; the signature check refuses it)
        st.builds(
            lambda n, sig: Probe(
                "oversized",
                b"POST",
                DEAUTHORIZE,
                scene.host,
                ((b"X-Twilio-Signature", sig.encode()),),
                urlencode(scene.deauthorize_fields()).encode() + b"&x=" + b"y" * n,
            ),
            st.integers(10_000, 256_000),
            st.sampled_from(["", "forged", "A" * 28]),
        ),
        # headers past tornado's 64 KiB limit: refused by the HTTP layer, before any handler
        st.builds(
            lambda n: Probe("oversized", target=AUTHORIZE + b"?state=" + b"a" * n, host=scene.host, layer="http"),
            st.integers(66_000, 200_000),
        ),
    )


def non_utf8(scene: Scene) -> st.SearchStrategy[Probe]:
    """Bytes that are not UTF-8 in a parameter, the raw target, a form body, the signature or the Host."""
    sid, live = scene.bypass_sid, scene.live_state
    return st.one_of(
        # percent-encoded invalid UTF-8 in a checked parameter: even the live state cannot help it
        st.builds(
            lambda bad, where, prefix: scene.callback(
                "non-utf8",
                [
                    ("AccountSid", prefix.encode() + bad if where == "AccountSid" else sid),
                    ("state", live if where != "state" else bad),
                ]
                + ([("error", bad)] if where == "error" else []),
            ),
            _BAD_UTF8,
            st.sampled_from(["AccountSid", "state", "error"]),
            st.sampled_from(["", "AC", sid[:-1]]),
        ),
        # raw bytes 0x80-0xFF in the request target (tornado passes them through as latin-1)
        st.builds(
            lambda bad, state: Probe(
                "non-utf8",
                target=AUTHORIZE + b"?AccountSid=" + bad + b"&" + query([("state", state)]),
                host=scene.host,
            ),
            st.binary(min_size=1, max_size=12).map(lambda b: bytes(0x80 | x for x in b)),
            st.one_of(st.just(live), bogus_state(scene)),
        ),
        # a deauthorize body that is not UTF-8, raw or percent-encoded, with a signature over what it could mean
        st.builds(
            lambda bad, raw: Probe(
                "non-utf8",
                b"POST",
                DEAUTHORIZE,
                scene.host,
                (
                    (
                        b"X-Twilio-Signature",
                        compute_signature(
                            scene.url(DEAUTHORIZE), scene.deauthorize_fields(), scene.auth_token
                        ).encode(),
                    ),
                ),
                (
                    b"AccountSid="
                    + (bad if raw else enc(bad).encode())
                    + b"&ConnectAppSid="
                    + scene.connect_app_sid.encode()
                ),
            ),
            _BAD_UTF8,
            st.booleans(),
        ),
        # obs-text bytes in the signature header
        st.builds(
            lambda bad: Probe(
                "non-utf8",
                b"POST",
                DEAUTHORIZE,
                scene.host,
                ((b"X-Twilio-Signature", bytes(0x80 | x for x in bad)),),
                urlencode(scene.deauthorize_fields()).encode(),
            ),
            st.binary(min_size=1, max_size=40),
        ),
        # obs-text in Host: tornado's Host grammar refuses it
        st.builds(
            lambda bad: scene.callback(
                "non-utf8", [("AccountSid", sid), ("state", live)], layer="http", host=scene.host + bad
            ),
            st.binary(min_size=1, max_size=8).map(lambda b: bytes(0x80 | x for x in b)),
        ),
    )


_PATH_TRICKS = [
    b"//connect/authorize",
    b"/connect//authorize",
    b"/connect/../connect/authorize",
    b"/connect/./authorize",
    b"/./connect/authorize",
    b"/x/../connect/authorize",
    b"/connect/authorize/",
    b"/connect/authorize/.",
    b"/connect/authorize/..",
    b"/connect/authorize/extra",
    b"/connect%2Fauthorize",
    b"/connect%2fauthorize",
    b"%2Fconnect%2Fauthorize",
    b"/connect/authoriz%65",
    b"/%63onnect/authorize",
    b"/CONNECT/AUTHORIZE",
    b"/Connect/Authorize",
    b"/connect/authorize%00",
    b"/connect/authorize%20",
    b"/connect/authorize;",
    b"/connect/authorize;x=1",
    b"/connect/authorize.html",
    b"/connect/authorize%2F",
    b"/connect\\authorize",
    b"/connect/authorize\\",
    b"/..%2Fconnect/authorize",
    b"/connect/%2e%2e/connect/authorize",
    b"/connect/authorize#frag",
    b"/connect/authorize%23",
    b"/connect/authorize%3F",
    b"connect/authorize",
    b"*",
    b"http://evil.example/connect/authorize",
    b"http://127.0.0.1:{port}/connect/authorize",
    b"/connect/authorize\xff",
]


def path_tricks(scene: Scene) -> list[bytes]:
    """Paths that look like ``/connect/authorize`` and are not it (one names the server's own port)."""
    return [t.replace(b"{port}", str(scene.port).encode()) for t in _PATH_TRICKS]


def path_trick(scene: Scene) -> st.SearchStrategy[Probe]:
    """Near-miss paths with everything else right: the live state, or a valid signature for that URL."""
    tricks = path_tricks(scene)

    def mutate(path: bytes, at: int, insert: bytes) -> bytes:
        at %= len(path) + 1
        return path[:at] + insert + path[at:]

    path = st.one_of(
        st.sampled_from(tricks),
        st.builds(
            mutate,
            st.sampled_from([AUTHORIZE]),
            st.integers(0, 64),
            st.sampled_from([b"/", b"./", b"../", b"%2F", b"%2e", b"//", b";", b"%00", b"~"]),
        ),
    ).filter(lambda p: p != AUTHORIZE)
    live = query([("AccountSid", scene.bypass_sid), ("state", scene.live_state)])
    return st.one_of(
        st.builds(lambda p: Probe("path-trick", target=p + b"?" + live, host=scene.host), path),
        st.builds(
            lambda p: scene.signed_post(
                "path-trick", scene.deauthorize_fields(), target=p.replace(b"authorize", b"deauthorize")
            ),
            path,
        ),
    )


def wrong_hosts(scene: Scene) -> list[str]:
    """Host headers that are not ours but look like it: other ports, rebinding names, other loopback spellings."""
    port = scene.port
    other = port + 1 if port < 65535 else port - 1
    return [
        "evil.example",
        f"evil.example:{port}",
        "evil.example:80",
        f"127.0.0.1:{other}",
        f"localhost:{other}",
        f"localhost.evil.example:{port}",
        f"127.0.0.1.evil.example:{port}",
        f"evil.example.127.0.0.1:{port}",
        "127.0.0.1",
        "localhost",
        "",
        f"[::1]:{port}",
        f"0.0.0.0:{port}",
        f"127.0.0.2:{port}",
        f"2130706433:{port}",
        f"0x7f000001:{port}",
        f"127.1:{port}",
        f"127.0.0.1:0{port}",
        f"localhost.:{port}",
        f"127.0.0.1:{port}:{port}",
        f"127.0.0.1%3A{port}",
        f"LOCALHOST.evil.example:{port}",
    ]


def wrong_host(scene: Scene) -> st.SearchStrategy[Probe]:
    """The live state or a valid signature, sent with a Host that is not ours (DNS rebinding), or none, or two."""
    port = scene.port
    allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}
    host = st.one_of(
        st.sampled_from(wrong_hosts(scene)),
        st.from_regex(r"[a-z0-9.\-]{1,30}(:[0-9]{1,5})?", fullmatch=True),
    ).filter(lambda h: h.strip(" \t").lower() not in allowed)
    live = query([("AccountSid", scene.bypass_sid), ("state", scene.live_state)])
    forwarded = st.sampled_from(
        [(), ((b"X-Forwarded-Host", b"127.0.0.1:%d" % port),), ((b"Forwarded", b"host=127.0.0.1:%d" % port),)]
    )
    tricky = [
        # no Host at all: HTTP/1.1 requires one (tornado refuses); HTTP/1.0 gets 127.0.0.1 without our port
        Probe("wrong-host", target=AUTHORIZE + b"?" + live, layer="http"),
        Probe("wrong-host", target=AUTHORIZE + b"?" + live, version=b"HTTP/1.0"),
        # two Host headers, ours first
        Probe(
            "wrong-host",
            target=AUTHORIZE + b"?" + live,
            host=scene.host,
            headers=((b"Host", b"evil.example"),),
            layer="http",
        ),
        Probe(
            "wrong-host",
            target=AUTHORIZE + b"?" + live,
            host=b"evil.example",
            headers=((b"Host", scene.host),),
            layer="http",
        ),
        Probe("wrong-host", target=AUTHORIZE + b"?" + live, host=b"127.0.0.1:%d@evil.example" % port, layer="http"),
    ]
    signed = compute_signature(scene.url(DEAUTHORIZE), scene.deauthorize_fields(), scene.auth_token).encode()
    return st.one_of(
        st.builds(
            lambda h, fwd: Probe("wrong-host", target=AUTHORIZE + b"?" + live, host=h.encode(), headers=fwd),
            host,
            forwarded,
        ),
        st.builds(
            lambda h: Probe(
                "wrong-host",
                b"POST",
                DEAUTHORIZE,
                h.encode(),
                ((b"X-Twilio-Signature", signed),),
                urlencode(scene.deauthorize_fields()).encode(),
            ),
            host,
        ),
        st.sampled_from(tricky),
    )


def random_path(scene: Scene) -> st.SearchStrategy[Probe]:
    """Any path, with the common methods and a few parameter names of ours: a 404 page, or our own 4xx."""
    segment = st.one_of(
        st.text(max_size=12).map(lambda s: quote(s, safe="")),
        st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="?#"), max_size=12),
        st.sampled_from(["connect", "authorize", "deauthorize", "done", "..", ".", "", "favicon.ico", "static"]),
    )
    path = st.lists(segment, min_size=1, max_size=5).map(lambda parts: ("/" + "/".join(parts)).encode())
    return st.builds(
        lambda p, m, q: Probe("random-path", m.encode(), with_query(p, query(q)), scene.host),
        path,
        st.sampled_from(["GET", "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"]),
        st.lists(st.tuples(st.sampled_from(["state", "AccountSid", "ref", "x"]), st.text(max_size=10)), max_size=2),
    )


def protocol(scene: Scene) -> st.SearchStrategy[Probe]:
    """Broken HTTP/1.1 (request line, header syntax, framing, smuggling attempts) and random bytes."""
    host = b"Host: " + scene.host + b"\r\n"
    close = b"Connection: close\r\n"
    messages = [
        b"GET /connect/authorize HTTP/2.0\r\n" + host + close + b"\r\n",
        b"GET /connect/authorize HTTP/9.9\r\n" + host + close + b"\r\n",
        b"GET /connect/authorize HTTP/1.1 extra\r\n" + host + close + b"\r\n",
        b"GET  /connect/authorize HTTP/1.1\r\n" + host + close + b"\r\n",
        b"GET /connect/authorize\r\n" + host + close + b"\r\n",
        b"/connect/authorize HTTP/1.1\r\n" + host + close + b"\r\n",
        b"G\x00ET /connect/authorize HTTP/1.1\r\n" + host + close + b"\r\n",
        b"GET /connect/\x01authorize HTTP/1.1\r\n" + host + close + b"\r\n",
        b"GET /connect/authorize HTTP/1.1\r\n" + host + b"NoColonHere\r\n" + close + b"\r\n",
        b"GET /connect/authorize HTTP/1.1\r\n" + host + b"Bad Name: x\r\n" + close + b"\r\n",
        b"GET /connect/authorize HTTP/1.1\r\n" + host + b"X: a\x00b\r\n" + close + b"\r\n",
        b"GET /connect/authorize HTTP/1.1\r\n" + host + b"X: a\r\n  folded\r\n" + close + b"\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n" + host + b"Content-Length: abc\r\n" + close + b"\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n" + host + b"Content-Length: -1\r\n" + close + b"\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n" + host + b"Content-Length: 1,2\r\n" + close + b"\r\nx",
        b"POST /connect/deauthorize HTTP/1.1\r\n"
        + host
        + b"Content-Length: 3\r\nContent-Length: 4\r\n"
        + close
        + b"\r\nabcd",
        b"POST /connect/deauthorize HTTP/1.1\r\n"
        + host
        + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"
        + close
        + b"\r\n0\r\n\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n" + host + b"Transfer-Encoding: gzip\r\n" + close + b"\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\n" + close + b"\r\nzz\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n"
        + host
        + b"Transfer-Encoding: chunked\r\n"
        + close
        + b"\r\n3\r\nabcd\r\n0\r\n\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n"
        + host
        + b"Transfer-Encoding: chunked\r\n"
        + close
        + b"\r\n4\r\nx=1&\r\n0\r\n\r\n",
        b"POST /connect/deauthorize HTTP/1.1\r\n"
        + host
        + b"Content-Encoding: gzip\r\nContent-Length: 4\r\n"
        + close
        + b"\r\nabcd",
        b"\r\n\r\n",
        b"GET /connect/authorize HTTP/1.1\n" + host.replace(b"\r\n", b"\n") + b"Connection: close\n\n",
    ]
    garbage = st.binary(max_size=200).map(lambda b: b.replace(b"\n\n", b"\n").replace(b"\r\n\r\n", b"") + b"\r\n\r\n")
    return st.builds(
        lambda raw: Probe("protocol", raw=raw, layer="http"), st.one_of(st.sampled_from(messages), garbage)
    )
