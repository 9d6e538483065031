"""Input normalisation before features: traditional -> simplified (OpenCC t2s), full-width -> half-width,
lower case, one space for any run of white space. Shared by training, serving and the dialogue gate."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

# Full-width ASCII (！ to ～) and the ideographic space -> their half-width forms, one for one.
HALF_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc  # the C++ OpenCC binding: ~10 ms to load, a few µs per message

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional characters and phrases -> simplified (OpenCC's t2s); simplified text is unchanged."""
    return str(_t2s().convert(text))


def half_width(text: str) -> str:
    return text.translate(HALF_WIDTH)


def normalize(text: str) -> str:
    """The form every model sees: simplified, half-width, lower case, collapsed white space."""
    return " ".join(to_simplified(half_width(text)).lower().split())
