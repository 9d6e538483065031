"""Interfaces the domain core needs from the outside world (NLU, storage, clock, outbox)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol


@dataclass(frozen=True, slots=True)
class CategoryScore:
    """One ranked category: ``category`` is a category id of config.yml (= NLU intent)."""

    category: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity found in an appeal.

    ``label`` is one of credit_code, phone, money, date, district, department;
    ``value`` is the normalized form (credit code upper-cased, money in yuan as a plain
    number string, date as ISO ``YYYY-MM-DD`` or ``YYYY-MM``, district/department canonical name).
    """

    label: str
    text: str
    start: int
    end: int
    value: str


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a classifier returns: categories best first with calibrated confidences, and entities.

    ``is_appeal`` is False for dialogue (``act``: greeting, thanks, handoff, test, help, off_topic, ack, bye,
    empty); ``candidates`` lists the categories of a message that clearly covers several problems (else
    empty); ``threshold`` is the model's own auto-route threshold, when the backend has one.
    """

    ranking: tuple[CategoryScore, ...]
    entities: tuple[Entity, ...] = field(default=())
    is_appeal: bool = True
    act: str = "appeal"
    candidates: tuple[str, ...] = field(default=())
    threshold: float | None = None

    @property
    def top(self) -> CategoryScore | None:
        return self.ranking[0] if self.ranking else None


class Classifier(Protocol):
    """An NLU backend. Deterministic for a given model; raises ``ClassifierUnavailable`` when down."""

    def parse(self, text: str) -> ParseResult: ...


class ClassifierUnavailable(RuntimeError):
    """The NLU backend cannot answer now (server down, model missing)."""


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to one chat, as an outbox row: the channel renders it from ``payload`` at send time.

    ``kind`` names the template (a notice kind such as ``card``, or ``text`` / ``digest`` for text
    rendered by the producer); ``payload`` is JSON-ready and holds everything the template needs
    (a snapshot taken in the transaction of the event, so sending never re-reads history).
    ``dedupe`` makes a producer idempotent: a second row with the same key is ignored.
    """

    chat_id: int
    kind: str
    payload: dict[str, Any]
    lang: str = "zh-CN"
    appeal_id: int | None = None
    event_id: int | None = None
    enterprise_id: int | None = None
    week: str | None = None
    dedupe: str | None = None


class Outbox(Protocol):
    """Where the services put every outgoing message, inside their own transaction."""

    def add(self, messages: Iterable[Outgoing]) -> int: ...


class Repository(Protocol):
    """What the services need from storage. Each write method is one transaction."""

    def transaction(self) -> AbstractContextManager[object]:
        """Everything inside commits together (write methods nest as savepoints)."""
        ...

    def last_event_id(self) -> int | None:
        """The id of the history row this repository wrote last (on this connection)."""
        ...

    # people and enterprises
    def get_user(self, user_id: int) -> UserRecord | None: ...
    def ensure_user(self, user_id: int, name: str, lang: str, now: datetime) -> UserRecord: ...
    def set_user(self, user_id: int, **fields: object) -> None: ...
    def user_ids(self, role: str, department_id: str | None = None) -> list[int]: ...
    def enterprise_user_ids(self, enterprise_id: int) -> list[int]: ...
    def get_enterprise(self, enterprise_id: int) -> Enterprise | None: ...
    def find_enterprise(self, credit_code: str) -> Enterprise | None: ...
    def create_enterprise(self, draft: dict[str, object], owner_id: int, now: datetime) -> Enterprise: ...
    def create_claim(self, enterprise_id: int, user_id: int, now: datetime) -> int: ...
    def get_claim(self, claim_id: int) -> dict[str, object] | None: ...
    def pending_claim(self, user_id: int) -> dict[str, object] | None: ...
    def decide_claim(self, claim_id: int, approved: bool, by: int, now: datetime) -> None: ...
    def create_invite(self, code: str, role: str, department_id: str | None, by: str, now: datetime,
                      expires_at: datetime | None = None) -> None: ...
    def use_invite(self, code: str, user_id: int, now: datetime) -> dict[str, object] | None: ...
    # appeals
    def create_appeal(self, appeal: Appeal, events: list[AppealEvent], source_update_id: int | None,
                      idempotency_key: str | None = None) -> Appeal: ...
    def find_by_update(self, update_id: int) -> Appeal | None: ...
    def find_by_key(self, idempotency_key: str) -> Appeal | None: ...
    def create_unverified_enterprise(self, draft: dict[str, object], now: datetime) -> Enterprise: ...
    def verify_enterprise(self, enterprise_id: int) -> None: ...
    def get_appeal(self, appeal_id: int) -> Appeal | None: ...
    def find_appeal(self, number: str) -> Appeal | None: ...
    def save(self, appeal: Appeal, event: AppealEvent, feedback: tuple[str, str] | None = None) -> Appeal: ...
    def add_event(self, event: AppealEvent) -> None: ...
    def add_attachments(self, appeal_id: int, attachments: Iterable[Attachment], now: datetime,
                        event: AppealEvent | None = None) -> None: ...
    def events(self, appeal_id: int) -> list[AppealEvent]: ...
    def last_supervised(self, appeal_ids: list[int]) -> dict[int, datetime]: ...
    def list_appeals(
        self, *, enterprise_id: int | None = None, department_id: str | None = None,
        statuses: frozenset[Status] | None = None, limit: int = 50, since: datetime | None = None,
    ) -> list[Appeal]: ...
    def enterprise_names(self, ids: Iterable[int]) -> dict[int, str]: ...


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    name: str
    lang: str
    role: str | None
    enterprise_id: int | None
    department_id: str | None
    active: bool


if TYPE_CHECKING:
    from appeals.lifecycle import Status
    from appeals.model import Appeal, AppealEvent, Attachment, Enterprise
