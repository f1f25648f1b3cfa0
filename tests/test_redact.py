"""`_redact`: what an error message may echo of a value, for any token a person might paste, however mangled."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connect_notebook._redact import redact, shown

TOKENS = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
WINDOW = 12  # a 12-character slice of a token is as good as a leak (the secrets properties count it)


def _slices(token: str) -> set[str]:
    return {token[i : i + WINDOW] for i in range(len(token) - WINDOW + 1)}


@st.composite
def mangled(draw: st.DrawFn) -> tuple[str, str]:
    """A token, and what was pasted: it whole, a character lost, cut short, or split by a dash or a space."""
    token = draw(TOKENS)
    at = draw(st.integers(1, 31))
    kind = draw(st.sampled_from(["whole", "lost", "short", "dash", "space", "upper"]))
    pasted = {
        "whole": token,
        "lost": token[:at] + token[at + 1 :],
        "short": token[: max(at, 20)],
        "dash": f"{token[:at]}-{token[at:]}",
        "space": f"{token[:at]} {token[at:]}",
        "upper": token.upper(),
    }[kind]
    prefix = draw(st.sampled_from(["", "AC", "token=", "  "]))
    return token, prefix + pasted


@given(mangled())
def test_shown_echoes_no_slice_of_a_pasted_token(case: tuple[str, str]) -> None:
    token, pasted = case
    text = shown(pasted).lower()
    assert not any(piece in text for piece in _slices(token)), text


@given(mangled())
def test_redact_masks_a_whole_token_wherever_it_stands(case: tuple[str, str]) -> None:
    token, _ = case
    assert token not in redact(f"error: {token} refused").lower()


def test_shown_keeps_what_is_no_secret_recognisable() -> None:
    assert shown("2026-13-01") == "'2026-13-01'"
    assert shown("+14155550100") == "'+14155550100'"  # 11 digits: a phone number, not a piece of a token
    assert shown("AC" + "0" * 28 + "1234") == "'…1234'"  # a SID by its last four
