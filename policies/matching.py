"""Matching enterprise profiles to policies: hard eligibility, then a relevance ranking with reasons.

``PolicyIndex`` is the fast path: policies are sorted by their profile-independent score and each
criterion value maps to a bitset (a Python int) of the policies it admits, so one enterprise costs a
few big-int operations plus dictionary look-ups for keyword hits, whatever the catalogue size.
``eligible``/``score`` are the plain definitions the index must agree with.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from appeals.reference import DISTRICTS, INDUSTRIES, SCALES
from policies.model import TAGS, Policy, Profile

NEAR_DAYS = 30  # deadlines closer than this raise the rank
MAX_AGE = 200
BUSINESS_HIT, APPEAL_HIT, MAX_HITS = 2.0, 1.0, 3


@dataclass(frozen=True, slots=True)
class Match:
    """An eligible policy for one enterprise, its score and why it matched."""

    policy: Policy
    score: float
    reasons: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    days_left: int | None = None

    def explanation(self, prefix: str = "符合：", keyword_label: str = "相关：") -> str:
        """One line such as "符合：高新技术企业 · 端州区 · 制造业 · 相关：续贷"."""
        parts = list(self.reasons)
        if self.keywords:
            parts.append(keyword_label + "、".join(self.keywords))
        return prefix + " · ".join(parts)


def eligible(policy: Policy, profile: Profile, today: date) -> bool:
    """Hard eligibility: open on ``today``, and every non-empty criterion satisfied."""
    c = policy.criteria
    if not policy.is_open(today):
        return False
    if c.industries and profile.industry not in c.industries:
        return False
    if c.scales and profile.scale not in c.scales:
        return False
    if c.districts and profile.district not in c.districts:
        return False
    if not set(c.tags) <= set(profile.tags):
        return False
    if c.founded_min_years is not None or c.founded_max_years is not None:
        age = profile.age_years(today)
        if age is None:
            return False
        if c.founded_min_years is not None and age < c.founded_min_years:
            return False
        if c.founded_max_years is not None and age > c.founded_max_years:
            return False
    return True


def reasons(policy: Policy, profile: Profile, today: date) -> tuple[str, ...]:
    """The criteria the enterprise meets, most specific first, for the one-line explanation."""
    c = policy.criteria
    out = list(c.tags)
    if c.districts and profile.district:
        out.append(profile.district)
    if c.industries and profile.industry:
        out.append(INDUSTRIES.get(profile.industry, profile.industry))
    if c.scales and profile.scale:
        out.append(profile.scale + "企业")
    age = profile.age_years(today)
    if (c.founded_min_years is not None or c.founded_max_years is not None) and age is not None:
        out.append(f"成立{age}年")
    return tuple(out) or ("全市企业均可申报",)


def static_score(policy: Policy, today: date) -> float:
    """The profile-independent part of the rank: specificity, deadline nearness, recency."""
    c = policy.criteria
    s = 1.0 + 1.5 * len(c.tags)
    s += 0.5 * sum(bool(x) for x in (c.industries, c.scales, c.districts))
    s += 0.5 * (c.founded_min_years is not None or c.founded_max_years is not None)
    if policy.deadline is not None:
        days = (policy.deadline - today).days
        if 0 <= days < NEAR_DAYS:
            s += 3.0 * (NEAR_DAYS - days) / NEAR_DAYS
    age = (today - policy.published).days
    if 0 <= age < 60:
        s += 0.5 * (60 - age) / 60
    return round(s, 6)


def keyword_hits(policy: Policy, profile: Profile) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Policy keywords found in the business description, and those found only in past appeals."""
    business = tuple(k for k in policy.criteria.keywords if k in profile.business)
    appeals = tuple(k for k in policy.criteria.keywords
                    if k not in business and any(k in t for t in profile.appeal_texts))
    return business, appeals


def _bonus(business: Sequence[str], appeals: Sequence[str]) -> float:
    return BUSINESS_HIT * min(len(business), MAX_HITS) + APPEAL_HIT * min(len(appeals), MAX_HITS)


def score(policy: Policy, profile: Profile, today: date) -> float:
    """Relevance of an eligible policy: static score plus keyword hits."""
    return round(static_score(policy, today) + _bonus(*keyword_hits(policy, profile)), 6)


def _order_key(m: Match) -> tuple[float, date, str]:
    return (-m.score, m.policy.deadline or date.max, m.policy.id)


def make_match(policy: Policy, profile: Profile, today: date, static: float | None = None) -> Match:
    """Score and explain one eligible policy (``static`` = its precomputed static score)."""
    business, appeals = keyword_hits(policy, profile)
    days = None if policy.deadline is None else (policy.deadline - today).days
    base = static_score(policy, today) if static is None else static
    return Match(policy, round(base + _bonus(business, appeals), 6), reasons(policy, profile, today),
                 business + appeals, days)


def rank(profile: Profile, policies: Iterable[Policy], today: date, limit: int | None = None) -> list[Match]:
    """Reference implementation: every eligible policy, best first (PolicyIndex is the fast path)."""
    found = sorted((make_match(p, profile, today) for p in policies if eligible(p, profile, today)),
                   key=_order_key)
    return found if limit is None else found[:limit]


def _bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class PolicyIndex:
    """Bitset index over the policies open on ``today``, ordered by static score."""

    def __init__(self, policies: Iterable[Policy], today: date) -> None:
        self.today = today
        open_ = [p for p in policies if p.is_open(today)]
        self._static = {p.id: static_score(p, today) for p in open_}
        self.policies: list[Policy] = sorted(
            open_, key=lambda p: (-self._static[p.id], p.deadline or date.max, p.id))
        self._pos = {p.id: i for i, p in enumerate(self.policies)}
        self._static_at = [self._static[p.id] for p in self.policies]
        self.all = (1 << len(self.policies)) - 1
        self._industry = self._by_value(lambda p: p.criteria.industries, INDUSTRIES)
        self._scale = self._by_value(lambda p: p.criteria.scales, SCALES)
        self._district = self._by_value(lambda p: p.criteria.districts, DISTRICTS)
        self._requires: dict[str, int] = {}
        self._topic: dict[str, int] = {}
        self._keywords: dict[str, int] = {}
        self._deadline: list[tuple[int, int]] = []  # (days left, bit) for policies with a deadline
        for i, p in enumerate(self.policies):
            for tag in p.criteria.tags:
                self._requires[tag] = self._requires.get(tag, 0) | 1 << i
            for topic in p.topics:
                self._topic[topic] = self._topic.get(topic, 0) | 1 << i
            for kw in p.criteria.keywords:
                self._keywords[kw] = self._keywords.get(kw, 0) | 1 << i
            if p.deadline is not None:
                self._deadline.append(((p.deadline - today).days, 1 << i))
        self._kw_lengths = sorted({len(k) for k in self._keywords})
        self._unknown_tags = set(TAGS) | set(self._requires)
        ages = [0] * (MAX_AGE + 1)
        self._age_free = 0
        for i, p in enumerate(self.policies):
            lo, hi = p.criteria.founded_min_years, p.criteria.founded_max_years
            if lo is None and hi is None:
                self._age_free |= 1 << i
                continue
            for age in range(lo or 0, min(hi if hi is not None else MAX_AGE, MAX_AGE) + 1):
                ages[age] |= 1 << i
        self._age = [a | self._age_free for a in ages]

    def _by_value(
        self, allowed_of: Callable[[Policy], tuple[str, ...]], values: Collection[str]
    ) -> dict[str | None, int]:
        free = 0
        masks: dict[str | None, int] = dict.fromkeys(values, 0)
        for i, p in enumerate(self.policies):
            allowed = allowed_of(p)
            if not allowed:
                free |= 1 << i
            for v in allowed:
                masks[v] = masks.get(v, 0) | 1 << i
        out: dict[str | None, int] = {k: m | free for k, m in masks.items()}
        out[None] = free  # unknown or unlisted value: only unrestricted policies
        return out

    def eligible_mask(self, profile: Profile) -> int:
        """Bitset of the policies the profile is eligible for."""
        m = self._industry.get(profile.industry, self._industry[None])
        m &= self._scale.get(profile.scale, self._scale[None])
        m &= self._district.get(profile.district, self._district[None])
        for tag, req in self._requires.items():
            if tag not in profile.tags:
                m &= ~req
        age = profile.age_years(self.today)
        m &= self._age_free if age is None or age < 0 else self._age[min(age, MAX_AGE)]
        return m

    def mask_of(self, ids: Iterable[str]) -> int:
        """Bitset of the given policy ids (unknown or closed ids are ignored)."""
        m = 0
        for pid in ids:
            i = self._pos.get(pid)
            if i is not None:
                m |= 1 << i
        return m

    def topics_mask(self, topics: Collection[str]) -> int:
        """Policies in any of ``topics``; all policies when none is chosen."""
        if not topics:
            return self.all
        m = 0
        for t in topics:
            m |= self._topic.get(t, 0)
        return m

    def closing_mask(self, within_days: int) -> int:
        """Policies whose deadline falls within the next ``within_days`` days (today included)."""
        m = 0
        for days, bit in self._deadline:
            if 0 <= days <= within_days:
                m |= bit
        return m

    def _found(self, text: str) -> set[str]:
        """The catalogue keywords occurring in ``text`` (substring look-ups of each keyword length)."""
        kw = self._keywords
        n = len(text)
        return {text[i:i + size] for size in self._kw_lengths for i in range(n - size + 1)
                if text[i:i + size] in kw}

    def match(self, profile: Profile, *, limit: int = 10, within: int | None = None) -> list[Match]:
        """The best ``limit`` eligible policies, optionally only among the bitset ``within``."""
        m = self.eligible_mask(profile)
        if within is not None:
            m &= within
        if not m or limit <= 0:
            return []
        business = self._found(profile.business)
        appeals: set[str] = set()
        for text in profile.appeal_texts:
            appeals |= self._found(text)
        appeals -= business
        # Bit-sliced counters (saturating at MAX_HITS = 3) of keyword hits per policy split the
        # eligible set into classes of equal keyword bonus; within a class bit order is rank order.
        b_lo, b_hi = self._count([self._keywords[k] for k in business])
        a_lo, a_hi = self._count([self._keywords[k] for k in appeals])
        classes: list[tuple[float, int]] = []
        for b_n, b_cls in self._split(m, b_lo, b_hi):
            for a_n, cls in self._split(b_cls, a_lo, a_hi):
                classes.append((BUSINESS_HIT * b_n + APPEAL_HIT * a_n, cls))
        classes.sort(key=lambda c: -c[0])
        ranked: list[tuple[tuple[float, date, str], int]] = []
        static = self._static_at
        for bonus, cls in classes:
            if len(ranked) >= limit:
                ranked.sort()
                del ranked[limit:]
                if -ranked[-1][0][0] > round(static[(cls & -cls).bit_length() - 1] + bonus, 6):
                    continue  # even this class's best cannot enter the top ``limit``
            for taken, i in enumerate(_bits(cls), 1):
                p = self.policies[i]
                ranked.append(((-round(static[i] + bonus, 6), p.deadline or date.max, p.id), i))
                if taken >= limit:
                    break
        ranked.sort()
        out = []
        for key, i in ranked[:limit]:
            p = self.policies[i]
            kws = p.criteria.keywords
            found = tuple(k for k in kws if k in business) + tuple(k for k in kws if k in appeals)
            days = None if p.deadline is None else (p.deadline - self.today).days
            out.append(Match(p, -key[0], reasons(p, profile, self.today), found, days))
        return out

    @staticmethod
    def _split(m: int, lo: int, hi: int) -> list[tuple[int, int]]:
        """``m`` split by hit count 0..3 (bit planes ``lo``, ``hi``), empty parts left out."""
        if not (lo | hi) & m:
            return [(0, m)]
        parts = [(0, m & ~(lo | hi)), (1, m & lo & ~hi), (2, m & hi & ~lo), (3, m & lo & hi)]
        return [(n, part) for n, part in parts if part]

    @staticmethod
    def _count(masks: list[int]) -> tuple[int, int]:
        """Per-bit count of how many ``masks`` contain it, as two bit planes saturating at 3."""
        lo = hi = 0
        for x in masks:
            x &= ~(lo & hi)
            carry = lo & x
            lo ^= x
            hi |= carry
        return lo, hi

    def select(self, profile: Profile, mask: int) -> list[Match]:
        """Every policy of ``mask`` the profile is eligible for, best first."""
        m = self.eligible_mask(profile) & mask
        return sorted((make_match(self.policies[i], profile, self.today, self._static_at[i]) for i in _bits(m)),
                      key=_order_key)
