"""Raw HTTP/1.1 at the callback server: one request as bytes, one answer, and the verdict on it.

The hostile-request property (``test_callback_fuzz.py``) sends what no HTTP client would
send (broken request lines, duplicate ``Host`` headers, 200 KB header blocks), so this talks
to the server over a plain socket: ``exchange`` never raises ``OSError``, it reports what
came back as an ``Answer``; ``judge`` says why that answer breaks the server's contract.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

__all__ = [
    "AUTHORIZE",
    "DEAUTHORIZE",
    "TIMEOUT",
    "Answer",
    "Probe",
    "enc",
    "exchange",
    "figure_label",
    "is_page",
    "judge",
    "listening",
    "other_addresses",
    "query",
    "read_answer",
    "try_connect",
    "with_query",
]

TIMEOUT = 30.0  # a hang guard: an answer slower than this is reported as none, never as a speed figure
AUTHORIZE = b"/connect/authorize"
DEAUTHORIZE = b"/connect/deauthorize"
# Tornado's HTTP/1.1 limits: HTTP1ConnectionParameters.max_header_size (past it the connection is
# closed) and the 1,000 arguments its query parser takes (past them it answers a bare 400).
TORNADO_MAX_HEADER = 65_536
TORNADO_MAX_ARGUMENTS = 1_000


def enc(value: str | bytes) -> str:
    """Percent-encode every byte that is not unreserved (a name or value in a query or form)."""
    return quote_from_bytes(value if isinstance(value, bytes) else value.encode(), safe="")


def query(pairs: Sequence[tuple[str | bytes, str | bytes]]) -> bytes:
    """A query string or form body of these pairs, in this order, duplicates kept."""
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs).encode()


def with_query(path: bytes, query: bytes) -> bytes:
    """``path?query``, or the bare path when the query is empty."""
    return path + b"?" + query if query else path


@dataclass(frozen=True)
class Probe:
    """One hostile request to the callback server, as bytes on the wire.

    ``layer`` says who should refuse it: ``"app"``, our handlers (a 4xx page), or
    ``"http"``, tornado's HTTP/1.1 parser, which answers a bare ``400`` or closes the
    connection before any handler runs.
    """

    kind: str
    method: bytes = b"GET"
    target: bytes = AUTHORIZE
    host: bytes | None = None  # None: no Host header at all
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes | None = None
    version: bytes = b"HTTP/1.1"
    raw: bytes | None = None  # a whole message sent as is (protocol garbage)
    layer: str = "app"

    def __repr__(self) -> str:
        # Hypothesis prints the drawn probe of a failing example; a 200 KB header block would bury it.
        data = self.message()
        cut = f"{data[:240]!r}…" if len(data) > 240 else repr(data)
        return f"Probe({self.kind!r}, refused by {self.refused_by}, {len(data):,} bytes: {cut})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # The IPython pretty-printing hook, which hypothesis's report uses before a dataclass's fields.
        printer.text(repr(self))

    def message(self) -> bytes:
        """The request as sent: one message, ``Connection: close``, exact Content-Length."""
        if self.raw is not None:
            return self.raw
        lines = [b" ".join((self.method, self.target, self.version))]
        if self.host is not None:
            lines.append(b"Host: " + self.host)
        lines.extend(name + b": " + value for name, value in self.headers)
        if self.body is not None:
            lines.append(b"Content-Type: application/x-www-form-urlencoded")
            lines.append(b"Content-Length: %d" % len(self.body))
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + (self.body or b"")

    @property
    def is_head(self) -> bool:
        """Whether the answer has headers only (a HEAD request)."""
        return self.method == b"HEAD"

    @property
    def refused_by(self) -> str:
        """Who should refuse it: ``layer``, or tornado's HTTP layer whatever the label when the
        header block passes its 64 KiB limit or the query has more than 1,000 arguments."""
        if self.raw is None:
            head = self.message().partition(b"\r\n\r\n")[0]
            query = self.target.partition(b"?")[2]
            if len(head) + 4 > TORNADO_MAX_HEADER or query.count(b"&") + 1 > TORNADO_MAX_ARGUMENTS:
                return "http"
        return self.layer

    def split(self) -> tuple[bytes, bytes]:
        """The message up to, and after, the blank line that ends its headers (to hold it open)."""
        data = self.message()
        end = data.index(b"\r\n\r\n") + 2
        return data[:end], data[end:]


@dataclass(frozen=True)
class Answer:
    """What came back for one request; ``status`` None means no answer at all."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None  # "timeout", "closed", "reset", "garbled", "connect failed (…)"

    def summary(self) -> str:
        """The answer in one line: status, content type and the start of the body, or what went wrong."""
        if self.status is None:
            return f"no answer ({self.error})"
        return f"{self.status} {self.headers.get('content-type', 'no content type')} {self.body[:120]!r}"


def exchange(
    port: int,
    data: bytes,
    *,
    head: bool = False,
    timeout: float = TIMEOUT,
    host: str = "127.0.0.1",
    on_sent: Callable[[], None] | None = None,
) -> Answer:
    """Send one request over a new connection and read one answer (never raises ``OSError``)."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:  # the server stopped accepting: an answer of its own kind, judged as a failure
        return Answer(None, error=f"connect failed ({exc.__class__.__name__})")
    with sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # the server may refuse before reading it all: read what it said
        if on_sent is not None:
            on_sent()
        return read_answer(sock, head=head)


def read_answer(sock: socket.socket, *, head: bool = False) -> Answer:
    """Read one HTTP/1.1 response: by its Content-Length, or until the server closes."""
    buffer = b""
    try:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            if not chunk:
                return _bare(buffer)
            buffer += chunk
        head_bytes, _, body = buffer.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if head or status in (204, 304):
            return Answer(status, headers, b"")
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
            return Answer(status, headers, body[:length])
        while chunk := sock.recv(65536):  # no length: until the server closes
            body += chunk
        return Answer(status, headers, body)
    except TimeoutError:
        return Answer(None, error="timeout")
    except ConnectionResetError:
        return _bare(buffer) if buffer else Answer(None, error="reset")
    except (ValueError, IndexError, OSError):
        return Answer(None, error="garbled")


def _bare(buffer: bytes) -> Answer:
    """An answer the server cut short: a bare status line (tornado's parser refusing) or nothing."""
    if not buffer:
        return Answer(None, error="closed")
    match = re.match(rb"HTTP/1\.[01] (\d{3})", buffer)
    return Answer(int(match.group(1)) if match else None, {}, b"", None if match else "garbled")


def is_page(answer: Answer, *, head: bool = False) -> bool:
    """Whether an answer is one of the callback server's HTML pages with its reason line."""
    if not answer.headers.get("content-type", "").startswith("text/html"):
        return False
    return head or (answer.body.startswith(b"<!doctype html>") and b"<p id=reason>" in answer.body)


def judge(probe: Probe, answer: Answer) -> str | None:
    """Why an answer to a hostile request is wrong, or None if it is right.

    Right is a 4xx HTML page from our handlers without a ``Location``, or, for a request
    tornado's parser refuses before any handler runs, its bare 400 or a closed connection.
    """
    if answer.error == "timeout":
        return f"no answer within {TIMEOUT:g}s"
    if answer.error is not None and answer.error.startswith(("connect", "garbled")):
        return answer.error
    if answer.status is None:
        return None if probe.refused_by == "http" else f"connection {answer.error} without an answer"
    if answer.status >= 500:
        return "5xx"
    if not 400 <= answer.status < 500:
        return f"{answer.status} for a bogus request"
    if "location" in answer.headers:
        return "a Location header on an error"
    if is_page(answer, head=probe.is_head):
        return None
    if probe.refused_by == "http" and answer.status == 400 and not answer.headers:
        return None  # tornado's HTTP/1.1 parser: a bare "400 Bad Request", before any handler
    return "a 4xx that is not an HTML page"


def figure_label(probe: Probe, answer: Answer) -> str:
    """The row an answer counts under in the figures: who answered, and how."""
    if answer.error in ("closed", "reset"):
        return f"connections {answer.error} by tornado's HTTP parser"
    if answer.status is None:
        return f"no answer ({answer.error})"
    if probe.refused_by == "http" and not answer.headers:
        return f"bare {answer.status}s from tornado's HTTP parser"
    return f"answered {answer.status} by our handlers"


def other_addresses() -> list[str]:
    """This machine's non-loopback IPv4 source addresses.

    Connecting a UDP socket only picks a route and a source address: no packet leaves the
    machine, and no name is resolved.
    """
    found: set[str] = set()
    for probe in ("192.0.2.1", "10.255.255.255", "198.51.100.1", "203.0.113.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.connect((probe, 9))
                found.add(udp.getsockname()[0])
            except OSError:
                continue
    return sorted(a for a in found if not a.startswith("127.") and a != "0.0.0.0")


def try_connect(family: socket.AddressFamily, host: str, port: int) -> str:
    """``"ACCEPTED"``, ``"refused"`` or ``"unreachable (…)"``: whether a TCP connection to ``host:port`` opens."""
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT)
        try:
            sock.connect((host, port))
        except ConnectionRefusedError:
            return "refused"
        except OSError as exc:
            return f"unreachable ({exc.strerror or exc.__class__.__name__})"
    return "ACCEPTED"


def listening(port: int) -> list[str]:
    """Local addresses listening on ``port``, from /proc/net (Linux); [] where unavailable."""
    found = []
    for name, family in (("tcp", 4), ("tcp6", 6)):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hexport = local.partition(":")
            if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                if family == 4:
                    found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                else:
                    found.append(f"ipv6:{address}")
    return found
