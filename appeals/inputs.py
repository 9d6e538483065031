"""Typed-in values made safe: NFKC normalisation, strict ids and numbers, names without hidden characters."""

from __future__ import annotations

import re
import unicodedata

from appeals.errors import InvalidInput

MAX_ID = 2**53  # Telegram user ids and our row ids stay far below; SQLite integers end at 2**63
_ASCII_DIGITS = re.compile(r"[0-9]+")
# Control characters (Cc), format characters (Cf: bidi overrides and isolates, zero-width space/joiners,
# BOM, soft hyphen …), and unassigned/private-use code points have no place in a name.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs"})


def normalize(text: str | None) -> str:
    """NFKC (full-width letters and digits become ASCII, compatibility forms fold) and trimmed."""
    return unicodedata.normalize("NFKC", text or "").strip()


def parse_id(raw: str | int | None, *, key: str = "error.bad_id") -> int:
    """A positive id written in ASCII digits only (``²``, ``٣`` and 20-digit numbers are refused).

    Raises :class:`InvalidInput` (``key``) instead of ValueError/OverflowError.
    """
    if isinstance(raw, int) and not isinstance(raw, bool):
        if 0 < raw < MAX_ID:
            return raw
        raise InvalidInput(key)
    text = (raw or "").strip() if isinstance(raw, str) else ""
    if not _ASCII_DIGITS.fullmatch(text) or len(text) > 16:
        raise InvalidInput(key)
    value = int(text)
    if not 0 < value < MAX_ID:
        raise InvalidInput(key)
    return value


def parse_small_int(raw: str | None, *, low: int, high: int, key: str) -> int:
    """An ASCII-digit integer within [low, high], else :class:`InvalidInput` (``key``)."""
    text = (raw or "").strip()
    if not _ASCII_DIGITS.fullmatch(text) or len(text) > len(str(high)):
        raise InvalidInput(key, low=low, high=high)
    value = int(text)
    if not low <= value <= high:
        raise InvalidInput(key, low=low, high=high)
    return value


def has_hidden(text: str) -> bool:
    """True if ``text`` holds control, bidi, zero-width or unassigned characters (a spoofing tool)."""
    return any(unicodedata.category(ch) in _HIDDEN_CATEGORIES for ch in text)


def clean_name(raw: str | None) -> str:
    """A person's or enterprise's name: NFKC, inner whitespace runs collapsed, hidden characters refused."""
    text = re.sub(r"[ \t\u3000]+", " ", normalize(raw))
    if has_hidden(text):
        raise InvalidInput("error.bad_name_chars")
    return text


def display_name(raw: str | None, limit: int = 64) -> str:
    """A chat name shown to others (a Telegram first/last name): hidden characters dropped, not refused."""
    # not NFKC: a name keeps its full-width punctuation as its owner wrote it
    text = "".join(ch for ch in raw or "" if unicodedata.category(ch) not in _HIDDEN_CATEGORIES)
    return re.sub(r"\s+", " ", text).strip()[:limit]
