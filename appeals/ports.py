"""Interfaces the domain core needs from the outside world (NLU, storage, clock, notifier)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


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
    """What a classifier returns: categories best first with calibrated confidences, and entities."""

    ranking: tuple[CategoryScore, ...]
    entities: tuple[Entity, ...] = field(default=())

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
