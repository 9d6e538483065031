"""Unified social credit code (统一社会信用代码), GB 32100-2015."""

from __future__ import annotations

import re
import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")  # ASCII only, as the standard


def check_char(first17: str) -> str:
    """The check character for the first 17 characters of a code."""
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    c = 31 - total % 31
    return ALPHABET[0 if c == 31 else c]


def normalize(code: str) -> str:
    """NFKC (full-width letters and digits people paste in become ASCII), spaces removed, upper-cased.

    Other scripts' digits (Arabic-Indic ٣, Devanagari ३) stay as they are and fail the shape check.
    """
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", code)).upper()


def problem(code: str) -> str | None:
    """Why ``code`` is not a valid credit code (a message key), or None when it is valid.

    Keys: ``length``, ``chars``, ``check``.
    """
    if len(code) != 18:
        return "length"
    if not _SHAPE.match(code):
        return "chars"
    if check_char(code[:17]) != code[17]:
        return "check"
    return None


def is_valid(code: str) -> bool:
    return problem(code) is None
