"""The center's figures (三率 and friends), computed once here and shown by the console, `/report` and Excel.

Pure: rows in, numbers out. Storage fetches the rows (``storage.figures``); the adapters only render.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Protocol

from appeals.calendar import WorkCalendar
from appeals.errors import NotAllowed
from appeals.lifecycle import CLOCK_RUNNING, Status
from appeals.model import Actor, Role
from appeals.ports import Clock
from appeals.sla import Light, light

GOOD_RATINGS = frozenset({3, 4, 5})  # 非常满意 / 满意 / 基本满意
POOR_RATINGS = frozenset({1, 2})  # 不满意 / 非常不满意: 差评


@dataclass(frozen=True, slots=True)
class FigureRow:
    """What the figures need of one appeal (no text, no enterprise data)."""

    department_id: str | None
    category: str | None
    status: Status
    created_at: datetime
    dispatched_at: datetime | None = None
    accept_due: datetime | None = None
    accepted_at: datetime | None = None
    reply_due: datetime | None = None
    replied_at: datetime | None = None
    closed_at: datetime | None = None
    rating: int | None = None
    reopen_count: int = 0
    return_count: int = 0


@dataclass(slots=True)
class Figures:
    """Counts for one group; the rates are properties (None when nothing counts towards them)."""

    filed: int = 0
    accept_base: int = 0
    accepted_on_time: int = 0
    reply_base: int = 0
    replied_on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    poor: int = 0
    reopened: int = 0
    returned: int = 0
    closed: int = 0
    handling_days: list[int] = field(default_factory=list)

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def accept_rate(self) -> float | None:
        """按时签收率: signed for within the deadline, of those signed for or already late."""
        return self._rate(self.accepted_on_time, self.accept_base)

    @property
    def ontime_rate(self) -> float | None:
        """按时办结率: answered within the (possibly extended) deadline, of those answered or already late."""
        return self._rate(self.replied_on_time, self.reply_base)

    @property
    def satisfaction(self) -> float | None:
        """满意率: 非常满意 + 满意 + 基本满意 of the rated appeals."""
        return self._rate(self.satisfied, self.rated)

    @property
    def reopen_rate(self) -> float | None:
        """重办率: appeals reopened after a poor rating, of those filed."""
        return self._rate(self.reopened, self.filed)

    @property
    def return_rate(self) -> float | None:
        """退回率: appeals a department returned at least once, of those filed."""
        return self._rate(self.returned, self.filed)

    @property
    def avg_days(self) -> float | None:
        """Average handling time in working days (filing to the answer)."""
        return sum(self.handling_days) / len(self.handling_days) if self.handling_days else None

    @property
    def p90_days(self) -> int | None:
        """90th percentile handling time in working days (nearest rank)."""
        if not self.handling_days:
            return None
        ordered = sorted(self.handling_days)
        return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


@dataclass(frozen=True, slots=True)
class WeekPoint:
    week: date  # the Monday
    filed: int
    finished: int
    satisfaction: float | None


@dataclass(frozen=True, slots=True)
class Overview:
    start: date
    end: date  # inclusive
    total: Figures
    by_department: dict[str | None, Figures]
    by_category: dict[str | None, Figures]
    weekly: tuple[WeekPoint, ...]
    lights: dict[Light, int]


class WorkdayCounter:
    """Working days between two local dates, from a cumulative index built once per range."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        self._first: date | None = None
        self._cumulative: list[int] = []

    def _extend(self, low: date, high: date) -> None:
        first = low if self._first is None else min(low, self._first)
        last = high if self._first is None else max(high, self._first + timedelta(len(self._cumulative) - 1))
        if self._first == first and self._first + timedelta(len(self._cumulative) - 1) >= last:
            return
        cum, total, day = [], 0, first
        while day <= last:
            total += self.calendar.is_workday(day)
            cum.append(total)
            day += timedelta(days=1)
        self._first, self._cumulative = first, cum

    def between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 for the same day)."""
        if end <= start:
            return 0
        self._extend(start, end)
        assert self._first is not None
        return self._cumulative[(end - self._first).days] - self._cumulative[(start - self._first).days]


def _add(fig: Figures, row: FigureRow, now: datetime, days: int | None) -> None:
    fig.filed += 1
    if row.accept_due is not None and (row.accepted_at is not None or row.accept_due < now):
        fig.accept_base += 1
        fig.accepted_on_time += row.accepted_at is not None and row.accepted_at <= row.accept_due
    finished = row.replied_at or (row.closed_at if row.status is Status.CLOSED else None)
    if row.reply_due is not None and row.status is not Status.WITHDRAWN and (
            finished is not None or row.reply_due < now):
        fig.reply_base += 1
        fig.replied_on_time += finished is not None and finished <= row.reply_due
    if row.rating is not None:
        fig.rated += 1
        fig.satisfied += row.rating in GOOD_RATINGS
        fig.poor += row.rating in POOR_RATINGS
    fig.reopened += row.reopen_count > 0
    fig.returned += row.return_count > 0
    fig.closed += row.status is Status.CLOSED
    if days is not None:
        fig.handling_days.append(days)


def compute(
    rows: Iterable[FigureRow], *, start: date, end: date, now: datetime, calendar: WorkCalendar, tz: tzinfo,
    open_rows: Iterable[FigureRow] = (), yellow_ratio: float = 0.8,
) -> Overview:
    """Every figure for appeals filed on local dates ``start``..``end`` (inclusive).

    ``open_rows`` are the appeals whose clock runs now, whenever filed: they give the traffic lights.
    """
    counter = WorkdayCounter(calendar)
    total = Figures()
    by_dept: dict[str | None, Figures] = {}
    by_cat: dict[str | None, Figures] = {}
    first_week = start - timedelta(days=start.weekday())
    weeks = [first_week + timedelta(weeks=i) for i in range((end - first_week).days // 7 + 1)]
    filed_w = dict.fromkeys(weeks, 0)
    finished_w = dict.fromkeys(weeks, 0)
    rated_w = dict.fromkeys(weeks, 0)
    good_w = dict.fromkeys(weeks, 0)
    for row in rows:
        created = row.created_at.astimezone(tz).date()
        if not start <= created <= end:
            continue
        finished = row.replied_at or (row.closed_at if row.status is Status.CLOSED else None)
        days = counter.between(created, finished.astimezone(tz).date()) if finished is not None else None
        for fig in (total, by_dept.setdefault(row.department_id, Figures()),
                    by_cat.setdefault(row.category, Figures())):
            _add(fig, row, now, days)
        week = created - timedelta(days=created.weekday())
        filed_w[week] += 1
        if row.rating is not None:
            rated_w[week] += 1
            good_w[week] += row.rating in GOOD_RATINGS
        if finished is not None:
            done = finished.astimezone(tz).date()
            done_week = done - timedelta(days=done.weekday())
            if done_week in finished_w:
                finished_w[done_week] += 1
    weekly = tuple(WeekPoint(w, filed_w[w], finished_w[w], good_w[w] / rated_w[w] if rated_w[w] else None)
                   for w in weeks)
    return Overview(start, end, total, by_dept, by_cat, weekly, lights(open_rows, now, yellow_ratio))


def row_light(row: FigureRow, now: datetime, yellow_ratio: float = 0.8) -> Light | None:
    """The appeal's light now: against the 签收 deadline until signed for, then the reply deadline."""
    if row.status not in CLOCK_RUNNING or row.dispatched_at is None:
        return None
    due = row.reply_due if row.status is Status.ACCEPTED else row.accept_due
    return light(row.dispatched_at, due, now, yellow_ratio) if due is not None else None


def lights(rows: Iterable[FigureRow], now: datetime, yellow_ratio: float = 0.8) -> dict[Light, int]:
    counts = dict.fromkeys(Light, 0)
    for row in rows:
        level = row_light(row, now, yellow_ratio)
        if level is not None:
            counts[level] += 1
    return counts


class FigureSource(Protocol):
    """Where the rows come from (storage.figures)."""

    def period_rows(self, start: date, end: date, tz: tzinfo, department_id: str | None = None
                    ) -> Iterable[FigureRow]: ...
    def running_rows(self, department_id: str | None = None) -> Iterable[FigureRow]: ...


class FigureService:
    """The one place the console, `/report` and `wanqi report` get their figures from."""

    def __init__(self, source: FigureSource, calendar: WorkCalendar, tz: tzinfo, clock: Clock,
                 yellow_ratio: float = 0.8) -> None:
        self.source = source
        self.calendar = calendar
        self.tz = tz
        self.clock = clock
        self.yellow_ratio = yellow_ratio

    def overview(self, actor: Actor, start: date, end: date) -> Overview:
        """The period's figures as this person may see them (raises NotAllowed for enterprises)."""
        dept = department_scope(actor)
        return compute(self.source.period_rows(start, end, self.tz, dept), start=start, end=end,
                       now=self.clock.now(), calendar=self.calendar, tz=self.tz,
                       open_rows=self.source.running_rows(dept), yellow_ratio=self.yellow_ratio)

    def today(self) -> date:
        return self.clock.now().astimezone(self.tz).date()


def department_scope(actor: Actor) -> str | None:
    """Whose figures this person may see: a handler their department's, center staff everyone's (None)."""
    if actor.role in (Role.SUPERVISOR, Role.DISPATCHER, Role.SYSTEM):
        return None
    if actor.role is Role.HANDLER and actor.department_id:
        return actor.department_id
    raise NotAllowed("figures are for center staff")


def percent(value: float | None) -> str:
    """A rate as people read it: ``93.5%``, or ``—`` when nothing counts towards it."""
    return "—" if value is None else f"{value * 100:.1f}%"


def days_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def ordered(groups: dict[str | None, Figures], order: Sequence[str]) -> list[tuple[str | None, Figures]]:
    """Groups in the configured order, then any others (an unrouted appeal's None last)."""
    known = [(k, groups[k]) for k in order if k in groups]
    rest = sorted(k for k in groups if k not in order and k is not None)
    return known + [(k, groups[k]) for k in rest] + ([(None, groups[None])] if None in groups else [])
