"""The weekly policy digest: per recipient, new matches never sent before plus deadlines that are near.

Pure: it returns what to send (with a stable delivery key per recipient per ISO week) and never sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from markupsafe import escape

from policies import render
from policies.matching import Match, PolicyIndex
from policies.model import Profile, Recipient, Subscription
from policies.render import Translate

KIND = "digest"


def week_dates(week: str) -> tuple[date, date]:
    """Monday and Sunday of an ISO week key ("2026-W48"): how people read a week."""
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    return monday, date.fromisocalendar(int(year), int(number), 7)


def week_span(t: Any, week: str) -> str:
    """The week as staff and enterprises read it: "2026-11-23 至 2026-11-29" (never "2026-W48")."""
    monday, sunday = week_dates(week)
    return str(t("policies.week_span", start=monday.isoformat(), end=sunday.isoformat()))


def iso_week(day: date) -> str:
    """"2026-W48" for any day of that ISO week."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def digest_key(week: str, user_id: int) -> str:
    """The delivery key: one digest per recipient per ISO week."""
    return f"{KIND}:{week}:user:{user_id}"


@dataclass(frozen=True, slots=True)
class Digest:
    """One recipient's digest for one week: near deadlines first, then new matches."""

    key: str
    week: str
    user_id: int
    enterprise_id: int
    closing: tuple[Match, ...]
    new: tuple[Match, ...]
    lang: str = "zh-CN"

    @property
    def matches(self) -> tuple[Match, ...]:
        return self.closing + self.new

    @property
    def meta(self) -> dict[str, Any]:
        """What the deliveries table remembers: every policy sent, and which were deadline reminders."""
        return {"week": self.week, "policies": [m.policy.id for m in self.matches],
                "closing": [m.policy.id for m in self.closing]}


@dataclass(frozen=True, slots=True)
class Sent:
    """Policy ids already delivered to an enterprise (any digest) and already reminded of as closing."""

    any: frozenset[str] = frozenset()
    closing: frozenset[str] = frozenset()

    @classmethod
    def from_meta(cls, metas: Iterable[Mapping[str, Any] | None]) -> Sent:
        """Union of the ``meta`` of past deliveries."""
        sent: set[str] = set()
        closing: set[str] = set()
        for meta in metas:
            if meta:
                sent.update(meta.get("policies", ()))
                closing.update(meta.get("closing", ()))
        return cls(frozenset(sent), frozenset(closing))


def build(
    recipient: Recipient, profile: Profile, index: PolicyIndex, sent: Sent, *,
    window_days: int = 14, max_items: int = 5,
) -> Digest | None:
    """The digest for one recipient, or None when there is nothing new and nothing closing.

    A deadline reminder is sent once per policy even if the policy went out before as "new";
    a new match is sent once ever. Matches cut by ``max_items`` stay unsent and come next week.
    """
    sub = recipient.subscription or Subscription(recipient.user_id)
    if not sub.weekly:
        return None
    wanted = index.topics_mask(sub.topics)
    closing_mask = index.closing_mask(window_days) & wanted & ~index.mask_of(sent.closing)
    closing = sorted(index.select(profile, closing_mask),
                     key=lambda m: (m.policy.deadline, -m.score, m.policy.id))[:max_items]
    taken = index.mask_of(m.policy.id for m in closing)
    new_mask = wanted & ~index.mask_of(sent.any) & ~taken
    room = max_items - len(closing)
    new = index.match(profile, limit=room, within=new_mask) if room > 0 and new_mask else []
    if not closing and not new:
        return None
    week = iso_week(index.today)
    return Digest(digest_key(week, recipient.user_id), week, recipient.user_id, recipient.enterprise_id,
                  tuple(closing), tuple(new), recipient.lang)


def text(digest: Digest, t: Translate, name: str = "") -> str:
    """The message: header, closing section, new section, footer; within Telegram's 4096 characters."""
    return fitted(digest, t, name)[1]


def fitted(digest: Digest, t: Translate, name: str = "") -> tuple[Digest, str]:
    """The message and the digest cut to the items it holds, so ``meta`` records only what was shown."""
    header = t("policies.digest_header", week=week_span(t, digest.week), name=escape(name))
    footer = t("policies.digest_footer")
    closing, new = list(digest.closing), list(digest.new)
    while True:
        blocks: list[str] = []
        n = 0
        for title_key, part in (("policies.digest_closing", closing), ("policies.digest_new", new)):
            for i, m in enumerate(part):
                n += 1
                entry = render.item(n, m, t)
                blocks.append(f"{t(title_key)}\n\n{entry}" if i == 0 else entry)
        body = "\n\n".join([header, *blocks, footer])
        if len(body) <= render.TELEGRAM_LIMIT or len(closing) + len(new) <= 1:
            shown = replace(digest, closing=tuple(closing), new=tuple(new))
            return shown, body[:render.TELEGRAM_LIMIT]
        (new if new else closing).pop()
