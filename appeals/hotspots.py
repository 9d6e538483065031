"""热点: appeals from several enterprises about the same problem, grouped by text similarity.

Character n-gram TF-IDF (works on Chinese without a segmenter), cosine similarity over an inverted index,
an edge above a threshold, and connected components. A group counts only when at least
``min_enterprises`` different enterprises are in it. Pure Python: a month of a city's appeals
(a few thousand) groups in well under a second.

A group is named by whole words its texts share (营业执照 · 变更), not by the character pairs the grouping
weighs (业执 · 照变): dictionary words (given by the caller) found in the group's texts, scored by how many
of them carry the word and by the weight of its pairs.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

# words in nearly every appeal: they name no problem
_PLAIN = frozenset((
    "我们", "你们", "企业", "公司", "需要", "没有", "无法", "申请", "希望", "请问", "问题", "情况",
    "什么", "怎么", "如何", "已经", "一直", "目前", "现在", "可以", "能否", "是否", "相关", "部门",
    "帮忙", "尽快", "编号", "反映", "咨询", "办理", "时候", "多久", "迟迟", "还是", "不能", "出现",
    "不下", "不了", "不到", "一下",
))
_NOISE = re.compile(r"[\s\d０-９A-Za-z，。、！？；：,.!?;:“”\"'（）()【】\[\]《》<>…—\-_/]+")


@dataclass(frozen=True, slots=True)
class HotspotItem:
    appeal_id: int
    number: str
    text: str
    enterprise_id: int
    department_id: str | None
    district: str


@dataclass(frozen=True, slots=True)
class Hotspot:
    items: tuple[HotspotItem, ...]
    enterprises: int
    departments: tuple[tuple[str | None, int], ...]  # most frequent first
    districts: tuple[tuple[str, int], ...]
    terms: tuple[str, ...]  # the words that name the group, weightiest first

    @property
    def size(self) -> int:
        return len(self.items)


def grams(text: str, n: int = 2) -> Counter[str]:
    """Character n-grams of the Chinese text (digits, Latin letters and punctuation dropped)."""
    parts = [p for p in _NOISE.split(text) if p]
    out: Counter[str] = Counter()
    for part in parts:
        if len(part) < n:
            continue
        out.update(part[i:i + n] for i in range(len(part) - n + 1))
    return out


def _vectors(texts: Sequence[str], n: int) -> list[dict[str, float]]:
    counts = [grams(t, n) for t in texts]
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c.keys())
    total = len(texts)
    idf = {g: math.log((1 + total) / (1 + d)) + 1 for g, d in df.items()}
    vectors = []
    for c in counts:
        v = {g: (1 + math.log(tf)) * idf[g] for g, tf in c.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vectors.append({g: x / norm for g, x in v.items()})
    return vectors


def keywords(texts: Sequence[str], weight: Mapping[str, float], words: Collection[str], n: int = 2,
             most: int = 5) -> tuple[str, ...]:
    """Up to ``most`` whole words naming a group of texts, weightiest first (see the module's docstring).

    ``weight`` gives each character n-gram its weight in the group (TF-IDF summed over the group).
    """
    sample = texts[:40]
    seen: Counter[str] = Counter()
    for text in sample:
        found = set()
        for part in _NOISE.split(text):
            for size in (2, 3, 4):
                for i in range(len(part) - size + 1):
                    found.add(part[i:i + size])
        seen.update(found)
    floor = max(2, math.ceil(0.3 * len(sample))) if len(sample) > 1 else 1
    scored = []
    for word, df in seen.items():
        if df < floor or word not in words or word in _PLAIN:
            continue
        pairs = [word[i:i + n] for i in range(len(word) - n + 1)]
        w = sum(weight.get(p, 0.0) for p in pairs) / len(pairs)
        scored.append((df / len(sample) * w * (1 + 0.25 * (len(word) - 2)), word))
    chosen: list[str] = []
    for _score, word in sorted(scored, reverse=True):
        if any(word in c or c in word for c in chosen):
            continue
        # 税控 chosen, 控盘 is the same run of text seen from the other side: not a second keyword
        if any((c[-1] == word[0] and c + word[1:] in seen) or (word[-1] == c[0] and word + c[1:] in seen)
               for c in chosen):
            continue
        chosen.append(word)
        if len(chosen) == most:
            break
    return tuple(chosen)


def find_hotspots(items: Sequence[HotspotItem], *, threshold: float = 0.3, min_enterprises: int = 3,
                  n: int = 2, max_df: float = 0.2, window: int = 40,
                  words: Collection[str] = frozenset()) -> list[Hotspot]:
    """Groups of similar appeals, largest first.

    Two appeals are linked when the cosine of their TF-IDF vectors is at least ``threshold``; groups are
    the connected components with ``min_enterprises`` or more distinct enterprises. Texts equal once digits
    and punctuation are dropped are one text (a campaign of copies costs nothing). N-grams found in more
    than ``max_df`` of the texts carry almost no weight and are left out of the candidate search only.
    """
    if len(items) < 2:
        return []
    parent = list(range(len(items)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(x: int, y: int) -> None:
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)

    first_of: dict[str, int] = {}
    unique: list[int] = []  # indexes of the first item of each distinct text
    rep: list[int] = []  # each item's first item with the same text
    for idx, item in enumerate(items):
        key = _NOISE.sub("", item.text)
        if key in first_of:
            union(idx, first_of[key])
        else:
            first_of[key] = idx
            unique.append(idx)
        rep.append(first_of[key])
    vectors = _vectors([items[i].text for i in unique], n)
    postings: dict[str, list[int]] = defaultdict(list)
    for pos, v in enumerate(vectors):
        for g in v:
            postings[g].append(pos)
    limit = max(20, int(max_df * len(vectors)))
    for pos, v in enumerate(vectors):
        scores: dict[int, float] = defaultdict(float)
        for g, x in v.items():
            docs = postings[g]
            if len(docs) > limit:  # in a fifth of all texts: almost no weight, and the costliest to scan
                continue
            # the next ``window`` texts sharing the n-gram: a hot topic of hundreds of near-copies links
            # as a chain instead of every pair, which keeps a month of a city's appeals to seconds
            start = bisect_right(docs, pos)
            for other in docs[start:start + window]:
                scores[other] += x * vectors[other][g]
        me = unique[pos]
        for other, score in scores.items():
            if score >= threshold:
                union(me, unique[other])
    vector_of = {unique[pos]: v for pos, v in enumerate(vectors)}
    groups: dict[int, list[int]] = defaultdict(list)
    for idx in range(len(items)):
        groups[find(idx)].append(idx)
    out = []
    for members in groups.values():
        chosen = [items[i] for i in members]
        enterprises = len({i.enterprise_id for i in chosen})
        if enterprises < min_enterprises:
            continue
        weight: dict[str, float] = defaultdict(float)
        for i in members:
            for g, x in vector_of[rep[i]].items():
                weight[g] += x
        out.append(Hotspot(
            items=tuple(chosen), enterprises=enterprises,
            departments=tuple(Counter(i.department_id for i in chosen).most_common()),
            districts=tuple(Counter(i.district for i in chosen if i.district).most_common()),
            terms=keywords([items[i].text for i in members], weight, words, n),
        ))
    out.sort(key=lambda h: (-h.enterprises, -h.size, h.items[0].appeal_id))
    return out
