"""Policy records, their eligibility criteria, enterprise profiles and digest subscriptions.

"Policy" here means a government policy document (政策文件), not a Rasa dialogue policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

TOPICS: tuple[str, ...] = (
    "融资", "税费", "人才", "就业", "科技创新", "数字化", "外贸", "绿色低碳",
    "安全生产", "用地", "开办", "知识产权", "消费", "物流",
)

TAGS: tuple[str, ...] = (
    "高新技术企业", "专精特新", "科技型中小企业", "外贸企业", "规上工业企业", "小微企业",
    "个体工商户", "农业龙头企业", "研发机构", "上市后备企业",
)


@dataclass(frozen=True, slots=True)
class Criteria:
    """Who may apply. An empty tuple means "any"; ``tags`` are all required."""

    industries: tuple[str, ...] = ()
    scales: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    founded_min_years: int | None = None
    founded_max_years: int | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    """One government policy document and who it is for."""

    id: str
    title: str
    issuer: str
    summary: str
    published: date
    valid_from: date
    valid_until: date | None = None
    deadline: date | None = None
    doc_number: str | None = None
    url: str | None = None
    topics: tuple[str, ...] = ()
    criteria: Criteria = field(default_factory=Criteria)
    sample: bool = False

    def is_open(self, today: date) -> bool:
        """In force on ``today`` and its application deadline not passed (the deadline day itself counts)."""
        if today < self.valid_from:
            return False
        if self.valid_until is not None and today > self.valid_until:
            return False
        return self.deadline is None or today <= self.deadline


@dataclass(frozen=True, slots=True)
class Profile:
    """What matching knows about an enterprise: registration data, tags and its past appeals."""

    enterprise_id: int
    name: str = ""
    industry: str | None = None
    scale: str | None = None
    district: str | None = None
    tags: tuple[str, ...] = ()
    founded_year: int | None = None
    business: str = ""
    appeal_texts: tuple[str, ...] = ()

    def age_years(self, today: date) -> int | None:
        """Whole calendar years since founding (founded this year = 0)."""
        return None if self.founded_year is None else today.year - self.founded_year


@dataclass(frozen=True, slots=True)
class Subscription:
    """A user's weekly digest setting; no topics chosen means every topic."""

    user_id: int
    weekly: bool = True
    topics: tuple[str, ...] = ()
    updated_at: datetime | None = None

    def wants(self, policy: Policy) -> bool:
        """Whether the policy falls within the chosen topics."""
        return not self.topics or bool(set(self.topics) & set(policy.topics))

    def toggled(self, topic: str) -> Subscription:
        """The same subscription with ``topic`` switched on or off (in catalogue order)."""
        chosen = set(self.topics) ^ {topic}
        topics = tuple(t for t in TOPICS if t in chosen)
        return Subscription(self.user_id, self.weekly, topics, self.updated_at)


@dataclass(frozen=True, slots=True)
class Recipient:
    """A user who may receive the weekly digest for their enterprise."""

    user_id: int
    enterprise_id: int
    lang: str = "zh-CN"
    subscription: Subscription | None = None
