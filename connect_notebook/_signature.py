"""`_signature`: Twilio's ``X-Twilio-Signature`` (HMAC-SHA1 over URL and sorted form fields).

Shared by the sandbox, which signs its deauthorize callback, and the kernel's
callback server, which verifies it. The algorithm is the one in Twilio's helper
libraries (see reference notes §4): URL as requested, then each POST parameter
name followed by each of its values, names and values sorted, keyed with the
Auth Token, base64-encoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

__all__ = ["compute_signature", "is_valid_signature"]

Params = Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]]


def _pairs(params: Params) -> list[tuple[str, str]]:
    items = params.items() if isinstance(params, Mapping) else params
    pairs = []
    for name, value in items:
        if isinstance(value, str):
            pairs.append((name, value))
        else:
            pairs.extend((name, v) for v in value)
    return pairs


def compute_signature(url: str, params: Params, auth_token: str) -> str:
    """Return the signature Twilio sends for a request to ``url`` with form ``params``."""
    grouped: dict[str, set[str]] = {}
    for name, value in _pairs(params):
        grouped.setdefault(name, set()).add(value)
    text = url + "".join(name + value for name in sorted(grouped) for value in sorted(grouped[name]))
    digest = hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _port_variants(url: str) -> set[str]:
    """The URL as given, without its port, and with the scheme's default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    default = {"https": 443, "http": 80}.get(parts.scheme)
    variants = {url, urlunsplit(parts._replace(netloc=prefix + host))}
    if default is not None:
        variants.add(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}")))
    return variants


def is_valid_signature(url: str, params: Params, signature: str, auth_token: str) -> bool:
    """Check a signature in constant time, accepting the port spellings Twilio uses."""
    pairs = _pairs(params)
    return any(
        hmac.compare_digest(compute_signature(candidate, pairs, auth_token).encode(), signature.encode())
        for candidate in sorted(_port_variants(url))
    )
