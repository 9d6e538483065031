"""The console's list filters as query parameters, so that every filtered view is a link.

One parser for 超期与督办 and 诉求 (and the links 总览 builds): a value the console does not know is a polite
400 naming the parameter, never a 500 and never silently a different list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date
from typing import Any
from urllib.parse import urlencode

from appeals.errors import InvalidInput
from appeals.lifecycle import CLOCK_RUNNING, Status
from appeals.reference import DISTRICTS
from storage.web_repo import NONE

LIGHTS = ("red", "yellow", "green")
LATE = ("accept", "reply", "close")  # 签收 / 答复 / 办结 after its deadline, or not yet and already late
RATINGS = ("good", "poor", "any")
YES_NO = ("yes", "no")
SORTS = ("urgent", "late")  # 超期与督办: yellow first then newly red (default) / the longest late first
RUNNING = tuple(sorted(s.value for s in CLOCK_RUNNING))
_NUMBER = re.compile(r"^[A-Z]{1,8}\d{8}-\d{1,6}$")


@dataclass(frozen=True, slots=True)
class ListFilter:
    """What a list shows. Empty strings mean "any"; ``page`` counts from 1."""

    department: str = ""
    light: str = ""
    status: str = ""
    category: str = ""
    district: str = ""
    urged: str = ""
    channel: str = ""
    late: str = ""
    rating: str = ""
    reopened: str = ""
    returned: str = ""
    answered: str = ""
    start: str = ""  # filed on or after this local date (YYYY-MM-DD)
    end: str = ""  # filed on or before this local date
    q: str = ""
    sort: str = ""
    page: int = 1

    def link(self, path: str, **changes: Any) -> str:
        """``path`` with these filters (and ``changes``), without the empty ones and without page 1."""
        pairs = [(name, changes[name] if name in changes else getattr(self, name)) for name in _NAMES]
        query = urlencode([(k, v) for k, v in pairs if v not in ("", None) and not (k == "page" and v == 1)])
        return f"{path}?{query}" if query else path

    def download(self, path: str) -> str:
        """The Excel download of this list: every page, the same filters."""
        link = self.link(path, page=1)
        return f"{link}{'&' if '?' in link else '?'}format=xlsx"

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) not in ("", 1) for f in fields(self) if f.name not in ("page", "sort"))

    def start_date(self) -> date | None:
        return date.fromisoformat(self.start) if self.start else None

    def end_date(self) -> date | None:
        return date.fromisoformat(self.end) if self.end else None


_NAMES = tuple(f.name for f in fields(ListFilter))


def parse(query: Any, *, departments: dict[str, str], categories: dict[str, str], running_only: bool = False,
          scope: str | None = None) -> ListFilter:
    """The filters of a request's query; raises InvalidInput("error.bad_filter", name=…) for an unknown value.

    ``scope`` (a handler's department) overrides any department asked for; ``running_only`` limits the
    statuses to those whose clock runs (超期与督办).
    """
    allowed: dict[str, tuple[str, ...] | dict[str, str]] = {
        "department": (*departments, NONE), "light": LIGHTS, "category": (*categories, NONE), "district": DISTRICTS,
        "urged": YES_NO, "channel": ("telegram", "open311", "console"), "late": LATE, "rating": RATINGS,
        "reopened": YES_NO, "returned": YES_NO, "answered": YES_NO, "sort": SORTS,
        "status": RUNNING if running_only else tuple(s.value for s in Status),
    }
    values: dict[str, Any] = {}
    for name, choices in allowed.items():
        value = str(query.get(name, "")).strip()
        if value and value not in choices:
            raise InvalidInput("error.bad_filter", name=name)
        values[name] = value
    if query.get("overdue", "") in ("1", "yes"):  # 诉求's overdue filter: the red ones
        values["light"] = "red"
    for name in ("start", "end"):
        value = str(query.get(name, "")).strip()
        if value:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise InvalidInput("error.bad_filter", name=name) from None
        values[name] = value
    page = str(query.get("page", "1")).strip() or "1"
    if not page.isascii() or not page.isdigit() or not 1 <= int(page) <= 100_000:
        raise InvalidInput("error.bad_filter", name="page")
    values["page"] = int(page)
    values["q"] = str(query.get("q", "")).strip()[:50]
    if scope is not None:
        values["department"] = scope
    return ListFilter(**values)


def notice_of(query: Any) -> tuple[int, list[tuple[str, str]]] | None:
    """What a 督办 just did, from the query of the page it returned to: (urged, [(number, reason)])."""
    urged = str(query.get("supervised", ""))
    if not urged.isascii() or not urged.isdigit():
        return None
    skipped = []
    for part in str(query.get("skipped", "")).split(","):
        number, _, reason = part.partition(".")
        if _NUMBER.match(number) and reason in ("finished", "undispatched", "recent"):
            skipped.append((number, reason))
    return int(urged), skipped[:50]
