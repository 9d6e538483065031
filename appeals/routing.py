"""Routing: category -> department from config, and the auto-dispatch confidence threshold."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class Routing:
    categories: tuple[Category, ...]
    threshold: float = 0.5
    suggestions: int = 3

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
        confident = top.confidence >= self.threshold and department is not None
        return RouteDecision(top.category, top.confidence, department if confident else None, suggestions)
