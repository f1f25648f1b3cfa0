"""`_redact`: keeps secrets out of every string the package shows (messages, logs, reprs).

Two helpers, used everywhere a value or a server's text ends up in something a
person reads:

- ``redact(text, *known)`` masks the secrets given (the owner's Auth Token, and
  the Basic credentials built from it), and anything shaped like a Twilio secret
  (32 hex digits, or 32 or more letters and digits in one run), wherever they
  stand, in base64 too;
- ``shown(value)`` is a value as an error message shows it: its ``repr``,
  redacted (stricter: any 12 hex digits in a row, the pieces of a mangled token),
  cut to a length that still helps.

A SID is 2 letters and 32 hex digits, so a SID's digits count as secret-shaped:
an error names the SID it refuses by its last four (``AC…1234``), never in full.
"""

from __future__ import annotations

import base64
import re

__all__ = ["MASK", "redact", "shown"]

MASK = "••••"
# 32 hex digits (Auth Tokens, SIDs' digits), or 32+ letters and digits (API key secrets, base64 runs).
_SECRET_SHAPED = re.compile(r"[0-9a-fA-F]{32,}|[A-Za-z0-9+/]{32,}={0,2}")
_SHOWN_LENGTH = 60
# In a value echoed back (a field filled in wrong), any 12+ hex digits in a row: a token pasted with a
# character lost, or split by a dash, is no longer 32 in a row, yet each piece is still most of it.
_PIECE_OF_A_SECRET = re.compile(r"[0-9a-fA-F]{12,}")


def redact(text: str, *known: str) -> str:
    """``text`` with each known secret (also base64-encoded, as in a Basic header) and secret-shaped run masked."""
    for secret in known:
        if not secret:
            continue
        text = text.replace(secret, MASK)
        for encoded in _base64_forms(secret):
            text = text.replace(encoded, MASK)
    return _SECRET_SHAPED.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    # Keep the last four characters of a 32-hex run, as the Console shows a SID's end: enough to recognise.
    run = match.group(0)
    return f"…{run[-4:]}" if re.fullmatch(r"[0-9a-fA-F]+", run) else MASK


def _base64_forms(secret: str) -> list[str]:
    """The secret as it appears inside base64 at any of the three alignments (a Basic header holds ``sid:token``)."""
    forms = []
    raw = secret.encode()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        # Drop the characters that depend on the bytes around the secret.
        start = (shift * 4 + 2) // 3 + (1 if shift else 0)
        body = encoded[start : len(encoded) - 4]
        if len(body) >= 8:
            forms.append(body)
    return forms


def shown(value: object) -> str:
    """A value for an error message: its repr, with secrets masked, cut short.

    A token pasted into the wrong field must not be echoed, but a date typed wrong
    should still be recognisable in the message.
    """
    text = _PIECE_OF_A_SECRET.sub(_mask, redact(repr(value)))
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 1] + "…"
