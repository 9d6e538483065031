"""Common Chinese words, from the dictionary jieba ships (read as text: no jieba import, no 80 MB prefix table).

热点 names a group by whole words found in its texts (营业执照, 工业园区), not by character pairs (业执, 照变).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path


@cache
def common_words(min_freq: int = 8) -> frozenset[str]:
    """Words of 2-4 characters jieba's dictionary counts at least ``min_freq`` times (~100,000; 15 MB; 0.7 s once).

    Empty when jieba is not installed (the keywords then fall back to the phrases the texts share).
    """
    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        return frozenset()
    path = Path(spec.origin).parent / "dict.txt"
    words = set()
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            word, freq, _ = [*line.split(" ", 2), "", ""][:3]
            if 2 <= len(word) <= 4 and freq.isdigit() and int(freq) >= min_freq:
                words.add(word)
    return frozenset(words)
