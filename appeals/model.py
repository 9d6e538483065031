"""Domain records: who acts, enterprises, appeals and their history. Frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from appeals.lifecycle import Status
from appeals.ports import CategoryScore, Entity


class Role(StrEnum):
    ENTERPRISE = "enterprise"
    HANDLER = "handler"
    DISPATCHER = "dispatcher"
    SUPERVISOR = "supervisor"
    SYSTEM = "system"
    PARTNER = "partner"  # a partner system filing through the Open311 API with its key


@dataclass(frozen=True, slots=True)
class Actor:
    """Whoever acts: a Telegram user mapped to a role (or the system's timers).

    ``role`` is None for a user who has not registered or joined yet.
    ``enterprise_id`` is set only once the user owns or was approved for an enterprise.
    """

    user_id: int
    role: Role | None = None
    enterprise_id: int | None = None
    department_id: str | None = None
    lang: str = "zh-CN"
    name: str = ""

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.HANDLER, Role.DISPATCHER, Role.SUPERVISOR)


SYSTEM = Actor(user_id=0, role=Role.SYSTEM, name="system")


@dataclass(frozen=True, slots=True)
class Enterprise:
    id: int
    name: str
    credit_code: str
    contact: str
    phone: str
    industry: str  # GB/T 4754-2017 section letter
    scale: str  # 大型 / 中型 / 小型 / 微型
    district: str
    owner_id: int
    tags: tuple[str, ...] = ()
    founded_year: int | None = None
    business: str = ""
    verified: bool = True  # False: created by a partner or dispatcher filing for an unknown credit code


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str  # photo | document
    file_id: str
    file_name: str = ""


@dataclass(frozen=True, slots=True)
class Appeal:
    id: int
    number: str
    enterprise_id: int
    user_id: int
    text: str
    status: Status
    created_at: datetime
    category: str | None = None
    confidence: float | None = None
    ranking: tuple[CategoryScore, ...] = ()
    entities: tuple[Entity, ...] = ()
    department_id: str | None = None
    dispatched_at: datetime | None = None
    accept_due: datetime | None = None
    reply_due: datetime | None = None
    replied_at: datetime | None = None
    rating_due: datetime | None = None
    extension_status: str | None = None  # requested | approved | denied
    extension_days: int | None = None
    extension_reason: str | None = None
    rating: int | None = None
    rated_at: datetime | None = None
    reopen_count: int = 0
    closed_at: datetime | None = None
    alert_level: str | None = None  # the last SLA alert sent: yellow | red
    attachments: tuple[Attachment, ...] = field(default=())
    accepted_at: datetime | None = None  # 签收 of the current round (cleared on re-dispatch and 重办)
    return_count: int = 0  # how often a department returned it (退回率)
    channel: str = "telegram"  # the door it came through: telegram | open311 | console


@dataclass(frozen=True, slots=True)
class AppealEvent:
    """One row of an appeal's history: a move, a message or an internal note."""

    appeal_id: int
    at: datetime
    actor_id: int
    actor_role: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str = ""
    internal: bool = False
