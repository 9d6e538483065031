"""Routing: what to do with a message (answer as dialogue, ask for more, confirm topics, or file it),
category -> department from config, and the auto-dispatch confidence threshold."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from appeals.errors import NotFound
from appeals.ports import CategoryScore, ParseResult


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    name: str
    department_id: str | None  # None: the dispatcher decides
    accept_days: int = 1
    reply_days: int = 5


@dataclass(frozen=True, slots=True)
class RouteDecision:
    category: str | None
    confidence: float
    department_id: str | None  # set only when the appeal is dispatched automatically
    suggestions: tuple[CategoryScore, ...]  # for the dispatcher and the enterprise's correction buttons

    @property
    def automatic(self) -> bool:
        return self.department_id is not None


class Step(StrEnum):
    """What the bot does with a message before anything is filed."""

    DIALOGUE = "dialogue"   # greeting, thanks, 转人工, test, off-topic: answered, never filed
    CLARIFY = "clarify"     # too short or undecided between categories: ask for a sentence more (or file as is)
    CONFIRM = "confirm"     # several problems in one message: the enterprise picks, or files once for all
    FILE = "file"


@dataclass(frozen=True, slots=True)
class Intake:
    step: Step
    act: str                             # the classifier's dialogue act ("appeal" for an appeal)
    candidates: tuple[str, ...] = ()     # for CONFIRM: known categories with a department, best first


DEFAULT_THRESHOLD = 0.5  # only for backends without a threshold of their own (the Rasa server)
_MEANINGFUL = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class Routing:
    categories: tuple[Category, ...]
    threshold: float | None = None   # None: the model's own (stored with it), config.yml may override
    suggestions: int = 3
    min_chars: int = 6       # fewer meaningful characters: ask for a sentence more
    min_margin: float = 0.1  # below the threshold, top-two closer than this: ask for a sentence more

    def threshold_for(self, result: ParseResult) -> float:
        """The auto-route threshold: the configured override, else the model's own, else 0.5."""
        if self.threshold is not None:
            return self.threshold
        return result.threshold if result.threshold is not None else DEFAULT_THRESHOLD

    def triage(self, text: str, result: ParseResult) -> Intake:
        """Dialogue is answered; very short or undecided texts get one more question; a message with several
        confident topics is confirmed by the enterprise; everything else is filed."""
        if not result.is_appeal:
            return Intake(Step.DIALOGUE, result.act)
        candidates = tuple(c for c in result.candidates if self.knows(c) and self.category(c).department_id)
        if len(candidates) >= 2:
            return Intake(Step.CONFIRM, result.act, candidates)
        if len(_MEANINGFUL.findall(text)) < self.min_chars:
            return Intake(Step.CLARIFY, result.act)
        ranking = result.ranking
        if len(ranking) >= 2 and ranking[0].confidence < self.threshold_for(result) \
                and ranking[0].confidence - ranking[1].confidence < self.min_margin:
            return Intake(Step.CLARIFY, result.act)
        return Intake(Step.FILE, result.act)

    def category(self, category_id: str) -> Category:
        for c in self.categories:
            if c.id == category_id:
                return c
        raise NotFound(f"unknown category {category_id}", category=category_id)

    def knows(self, category_id: str) -> bool:
        return any(c.id == category_id for c in self.categories)

    def decide(self, result: ParseResult) -> RouteDecision:
        """Dispatch automatically when the top category is confident and has a department."""
        ranking = tuple(s for s in result.ranking if self.knows(s.category))
        suggestions = tuple(s for s in ranking if self.category(s.category).department_id)[: self.suggestions]
        top = ranking[0] if ranking else None
        if top is None:
            return RouteDecision(None, 0.0, None, suggestions)
        department = self.category(top.category).department_id
        confident = top.confidence >= self.threshold_for(result) and department is not None
        return RouteDecision(top.category, top.confidence, department if confident else None, suggestions)
