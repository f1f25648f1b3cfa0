"""The owner's Auth Token in every form worth finding, and everything a user sees of an exception.

Shared by the secrets and hostile-server properties: ``Needles`` finds the token whole,
in any 12-character slice, hex-encoded, or inside base64 in any alignment (a ``Basic``
header for any user name); ``exception_texts`` is what a notebook shows of an error.
"""

from __future__ import annotations

import base64
import contextlib
import re
import traceback


class Needles:
    """Every form of the token worth finding: whole, sliced, hex-encoded, base64 in any alignment."""

    WINDOW = 12

    def __init__(self, token: str, usernames: tuple[str, ...] = ()) -> None:
        self.token = token
        hexes = {token, token.encode().hex()}
        hexes |= {token[i : i + self.WINDOW] for i in range(len(token) - self.WINDOW + 1)}
        b64: set[str] = set()
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            for pad in range(3):
                encoded = encode(b"\0" * pad + token.encode()).decode()
                # Drop the first group (it mixes in the padding) and the last (it depends on what follows).
                b64.add(encoded[4 if pad else 0 : -4])
            for user in usernames:
                b64.add(encode(f"{user}:{token}".encode()).decode())
        self._hex = re.compile("|".join(re.escape(n) for n in sorted(hexes, key=len, reverse=True)), re.I)
        self._b64 = re.compile("|".join(re.escape(n) for n in sorted(b64, key=len, reverse=True)))

    def count(self, text: str | bytes) -> int:
        """How many times any form of the token occurs in ``text`` (bytes are read as Latin-1)."""
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        return len(self._hex.findall(text)) + len(self._b64.findall(text))

    def first(self, text: str) -> int:
        """Where the first occurrence starts (-1 if none)."""
        starts = [m.start() for m in (self._hex.search(text), self._b64.search(text)) if m]
        return min(starts, default=-1)

    def mask(self, text: str) -> str:
        """``text`` with every occurrence replaced by ``<TOKEN>``, safe to print."""
        return self._b64.sub("<TOKEN>", self._hex.sub("<TOKEN>", text))

    @property
    def hint(self) -> str:
        return f"{self.token[:4]}…{self.token[-4:]}"


def exception_texts(exc: BaseException) -> list[tuple[str, str]]:
    """Everything a user sees of an exception: str, repr, attributes, tracebacks (plain and IPython)."""
    texts = [
        ("str", str(exc)),
        ("repr", repr(exc)),
        ("attributes", repr({k: v for k, v in vars(exc).items()})),
        ("format_exception", "".join(traceback.format_exception(exc))),
    ]
    with contextlib.suppress(ImportError):
        from IPython.core.ultratb import AutoFormattedTB

        context = AutoFormattedTB(mode="Context", theme_name="nocolor")
        texts.append(("IPython Context traceback", context.text(type(exc), exc, exc.__traceback__)))
    return texts
