"""Free-text search over the catalogue: BM25 on Chinese character bigrams (and Latin words/numbers).

Bigrams need no dictionary and match Chinese keywords inside longer words (贴息 in 贷款贴息), which is
what a short query like "/policies 贴息" needs; a lone character query falls back to unigrams.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from policies.model import Policy

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[A-Za-z0-9]+")


def tokens(text: str) -> list[str]:
    """Character bigrams of each Chinese run (a one-character run is kept whole), plus lower-cased words."""
    out: list[str] = []
    for run in _CJK.findall(text):
        out.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
    out.extend(w.lower() for w in _WORD.findall(text))
    return out


def _unigrams(text: str) -> list[str]:
    return [ch for run in _CJK.findall(text) for ch in run]


def document(policy: Policy) -> str:
    """The searchable text of a policy; the title and keywords count twice."""
    c = policy.criteria
    return " ".join([policy.title, policy.title, " ".join(c.keywords) * 2, " ".join(policy.topics),
                     policy.issuer, policy.summary, " ".join(c.tags)])


@dataclass(frozen=True, slots=True)
class Hit:
    policy: Policy
    score: float


class SearchIndex:
    """Okapi BM25 (k1=1.5, b=0.75) over the given policies."""

    def __init__(self, policies: Iterable[Policy], k1: float = 1.5, b: float = 0.75) -> None:
        self.policies = list(policies)
        self.k1, self.b = k1, b
        texts = [document(p) for p in self.policies]
        self._bi = [Counter(tokens(t)) for t in texts]
        self._uni = [Counter(_unigrams(t)) for t in texts]
        self._stats = {name: self._idf(docs) for name, docs in (("bi", self._bi), ("uni", self._uni))}

    @staticmethod
    def _idf(docs: list[Counter[str]]) -> tuple[dict[str, float], float]:
        df: Counter[str] = Counter()
        for d in docs:
            df.update(d.keys())
        n = len(docs)
        idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        avg = sum(sum(d.values()) for d in docs) / n if n else 0.0
        return idf, avg

    def search(self, query: str, limit: int = 10) -> list[Hit]:
        """Policies ranked by BM25 for ``query``; those sharing no term with it are left out."""
        terms, docs, name = tokens(query), self._bi, "bi"
        if not terms or all(t not in self._stats["bi"][0] for t in terms):
            terms, docs, name = _unigrams(query), self._uni, "uni"
        idf, avg = self._stats[name]
        hits: list[Hit] = []
        for policy, doc in zip(self.policies, docs, strict=True):
            length = sum(doc.values())
            s = 0.0
            for term in set(terms):
                f = doc.get(term, 0)
                if f:
                    s += idf[term] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * length / avg))
            if s > 0:
                hits.append(Hit(policy, round(s, 6)))
        hits.sort(key=lambda h: (-h.score, h.policy.id))
        return hits[:limit]
