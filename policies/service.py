"""The policy use cases over storage ports: matches, search, profile and subscription edits, digests.

Synchronous (the bot runs it on the writer thread; the CLI calls it directly).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from policies import digest as digests
from policies.matching import Match, PolicyIndex
from policies.model import TAGS, TOPICS, Policy, Profile, Recipient, Subscription
from policies.search import Hit, SearchIndex


class PolicyStore(Protocol):
    def all_policies(self) -> list[Policy]: ...
    def catalogue_version(self) -> str: ...
    def get_policy(self, policy_id: str) -> Policy | None: ...
    def profiles(self, enterprise_ids: Iterable[int] | None = None) -> dict[int, Profile]: ...
    def profile(self, enterprise_id: int) -> Profile | None: ...
    def update_profile(self, enterprise_id: int, *, tags: Iterable[str] | None = None,
                       founded_year: int | None = None, business: str | None = None) -> None: ...
    def subscription(self, user_id: int) -> Subscription: ...
    def save_subscription(self, sub: Subscription, enterprise_id: int | None, now: datetime) -> None: ...
    def recipients(self) -> list[Recipient]: ...


class SentLog(Protocol):
    def sent_meta_for(self, enterprise_id: int, kind: str) -> Iterable[Mapping[str, Any] | None]: ...
    def statuses(self, keys: Sequence[str]) -> dict[str, str]: ...


RELATED_SHARE = 0.5  # an appeal's answer keeps search hits scoring at least this share of the best


def utc_now() -> datetime:
    return datetime.now(UTC)


class ProfileError(ValueError):
    """A profile edit the rules do not allow (unknown tag, implausible year, empty text)."""


class PolicyService:
    """Policy use cases; the indexes are rebuilt when the day or the stored catalogue changes."""

    def __init__(self, store: PolicyStore, sent: SentLog | None = None, *, timezone: str = "Asia/Shanghai",
                 clock: Callable[[], datetime] = utc_now, window_days: int = 14, max_per_digest: int = 5):
        self.store, self.sent = store, sent
        self.tz = ZoneInfo(timezone)
        self.clock = clock
        self.window_days, self.max_per_digest = window_days, max_per_digest
        self._cache: tuple[date, str, PolicyIndex, SearchIndex] | None = None

    def today(self) -> date:
        """The date at the center."""
        return self.clock().astimezone(self.tz).date()

    def reload(self) -> None:
        """Forget the cached indexes (after an import)."""
        self._cache = None

    def index(self) -> PolicyIndex:
        return self._indexes()[0]

    def _indexes(self) -> tuple[PolicyIndex, SearchIndex]:
        today, version = self.today(), self.store.catalogue_version()
        if self._cache is None or self._cache[:2] != (today, version):
            policies = self.store.all_policies()
            index = PolicyIndex(policies, today)
            self._cache = (today, version, index, SearchIndex(index.policies))
        return self._cache[2], self._cache[3]

    # ---- on demand ------------------------------------------------------------------------------
    def matches(self, enterprise_id: int, limit: int = 5) -> tuple[Profile | None, list[Match], int]:
        """The best current matches for an enterprise and how many it is eligible for in all."""
        profile = self.store.profile(enterprise_id)
        if profile is None:
            return None, [], 0
        index = self.index()
        total = index.eligible_mask(profile).bit_count()
        return profile, index.match(profile, limit=limit), total

    def search(self, query: str, limit: int = 5) -> list[Hit]:
        """Policies in force ranked by BM25 for a free-text query."""
        return self._indexes()[1].search(query, limit)

    def policy(self, policy_id: str) -> Policy | None:
        return self.store.get_policy(policy_id)

    def for_appeal(self, enterprise_id: int, text: str, limit: int = 3) -> list[Match]:
        """Policies the enterprise qualifies for that relate to an appeal's text, best first."""
        profile = self.store.profile(enterprise_id)
        if profile is None:
            return []
        index = self.index()
        eligible = index.eligible_mask(profile)
        hits = self.search(text, limit=20)
        # Only clearly related policies: a hit far weaker than the best one shares a common word at most.
        related = [h.policy.id for h in hits if h.score >= RELATED_SHARE * hits[0].score]
        mask = index.mask_of(related) & eligible
        if not mask:
            return []
        order = {pid: i for i, pid in enumerate(related)}
        found = index.select(profile, mask)
        return sorted(found, key=lambda m: order[m.policy.id])[:limit]

    # ---- profile --------------------------------------------------------------------------------
    def profile(self, enterprise_id: int) -> Profile | None:
        return self.store.profile(enterprise_id)

    def toggle_tag(self, enterprise_id: int, tag: str) -> Profile | None:
        """Switch one qualification tag on or off."""
        if tag not in TAGS:
            raise ProfileError(tag)
        profile = self.store.profile(enterprise_id)
        if profile is None:
            return None
        chosen = set(profile.tags) ^ {tag}
        self.store.update_profile(enterprise_id, tags=[t for t in TAGS if t in chosen]
                                  + [t for t in profile.tags if t not in TAGS])
        return self.store.profile(enterprise_id)

    def set_founded_year(self, enterprise_id: int, year: int) -> Profile | None:
        if not 1900 <= year <= self.today().year:
            raise ProfileError(str(year))
        self.store.update_profile(enterprise_id, founded_year=year)
        return self.store.profile(enterprise_id)

    def set_business(self, enterprise_id: int, business: str) -> Profile | None:
        business = " ".join(business.split())
        if not business or len(business) > 500:
            raise ProfileError(business[:20])
        self.store.update_profile(enterprise_id, business=business)
        return self.store.profile(enterprise_id)

    # ---- subscription ---------------------------------------------------------------------------
    def subscription(self, user_id: int) -> Subscription:
        return self.store.subscription(user_id)

    def toggle_topic(self, user_id: int, enterprise_id: int | None, topic: str) -> Subscription:
        if topic not in TOPICS:
            raise ProfileError(topic)
        sub = self.store.subscription(user_id).toggled(topic)
        self.store.save_subscription(sub, enterprise_id, self.clock())
        return sub

    def set_weekly(self, user_id: int, enterprise_id: int | None, on: bool) -> Subscription:
        old = self.store.subscription(user_id)
        sub = Subscription(user_id, on, old.topics)
        self.store.save_subscription(sub, enterprise_id, self.clock())
        return sub

    # ---- weekly digest --------------------------------------------------------------------------
    def sent_before(self, enterprise_id: int, week: str) -> digests.Sent:
        """What earlier weeks' digests already told this enterprise (this week's are ignored, so a
        rebuild after a crash yields the same digests)."""
        if self.sent is None:
            return digests.Sent()
        metas = [m for m in self.sent.sent_meta_for(enterprise_id, digests.KIND)
                 if not m or m.get("week") != week]
        return digests.Sent.from_meta(metas)

    def digests(
        self, recipients: Iterable[Recipient] | None = None, *, include_known: bool = False
    ) -> list[tuple[digests.Digest, Profile]]:
        """This week's digest for every subscribed recipient that has something to receive.

        Digests whose delivery key is already recorded (sent, or queued before a crash) are left out
        unless ``include_known``; the broadcaster ignores known keys either way.
        """
        chosen = self.store.recipients() if recipients is None else list(recipients)
        profiles = self.store.profiles({r.enterprise_id for r in chosen})
        index = self.index()
        week = digests.iso_week(index.today)
        sent_cache: dict[int, digests.Sent] = {}
        out = []
        for r in chosen:
            profile = profiles.get(r.enterprise_id)
            if profile is None:
                continue
            if r.enterprise_id not in sent_cache:
                sent_cache[r.enterprise_id] = self.sent_before(r.enterprise_id, week)
            d = digests.build(r, profile, index, sent_cache[r.enterprise_id],
                              window_days=self.window_days, max_items=self.max_per_digest)
            if d is not None:
                out.append((d, profile))
        if not include_known and self.sent is not None and out:
            known = self.sent.statuses([d.key for d, _ in out])
            out = [(d, p) for d, p in out if d.key not in known]
        return out
