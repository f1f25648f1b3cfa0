"""`sandbox._sids`: reversible, random-looking Twilio SIDs.

A record's SID encodes where the record lives (its UTC day and its index in that
day) under a small keyed Feistel cipher. The sandbox can therefore serve
``Calls/{CA…}.json`` and decode ``PageToken=PACA…`` cursors without keeping an
index of every SID, which is what lets a 1,000,000-call account be served lazily.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["SidCodec", "is_sid", "plain_sid"]

_MAGIC = int.from_bytes(b"\0\0\0\0twsb")  # low plaintext half; anything else is foreign
_ROUNDS = 4


def is_sid(value: str, prefix: str) -> bool:
    """Return whether ``value`` is ``prefix`` followed by 32 hex digits."""
    return re.fullmatch(prefix + r"[0-9a-fA-F]{32}", value) is not None


def plain_sid(prefix: str, *parts: object) -> str:
    """Return a deterministic SID derived from ``parts`` (not reversible)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return prefix + hashlib.blake2b(text, digest_size=16).hexdigest()


class SidCodec:
    """Encode ``(day_ordinal, index)`` as a SID with a fixed prefix, and back."""

    def __init__(self, prefix: str, key: str) -> None:
        self.prefix = prefix
        digest = hashlib.blake2b(key.encode(), digest_size=32).digest()
        self._keys = [digest[i * 8 : (i + 1) * 8] + bytes([i]) for i in range(_ROUNDS)]

    def _round(self, half: int, i: int) -> int:
        data = half.to_bytes(8, "big")
        return int.from_bytes(hashlib.blake2b(data, key=self._keys[i], digest_size=8).digest())

    def encode(self, day: int, index: int) -> str:
        """Return the SID of record ``index`` of day ``day`` (a date ordinal)."""
        left, right = (day << 32) | index, _MAGIC
        for i in range(_ROUNDS):
            left, right = right, left ^ self._round(right, i)
        return f"{self.prefix}{left:016x}{right:016x}"

    def decode(self, sid: str) -> tuple[int, int] | None:
        """Return ``(day_ordinal, index)`` for a SID this codec issued, else None."""
        if not is_sid(sid, self.prefix):
            return None
        hexpart = sid[len(self.prefix) :]
        left, right = int(hexpart[:16], 16), int(hexpart[16:], 16)
        for i in reversed(range(_ROUNDS)):
            left, right = right ^ self._round(left, i), left
        if right != _MAGIC:
            return None
        return left >> 32, left & 0xFFFFFFFF
