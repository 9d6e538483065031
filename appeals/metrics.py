"""The center's figures (三率 and friends), computed once here and shown by the console, `/report` and Excel.

Pure: rows in, numbers out. Storage fetches the rows (``storage.figures``); the adapters only render.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, tzinfo
from typing import NamedTuple, Protocol

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
    answered: int = 0
    close_base: int = 0
    closed_on_time: int = 0
    handling_days: dict[int, int] = field(default_factory=dict)  # working days -> how many appeals

    def merge(self, counts: GroupCounts) -> None:
        for name in COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(counts, name))

    def add_handling(self, days: int, count: int) -> None:
        self.handling_days[days] = self.handling_days.get(days, 0) + count

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def accept_rate(self) -> float | None:
        """按时签收率: signed for within the deadline, of those signed for or already late."""
        return self._rate(self.accepted_on_time, self.accept_base)

    @property
    def reply_rate(self) -> float | None:
        """按时答复率: answered (答复) within the (possibly extended) deadline, of those answered or already late."""
        return self._rate(self.replied_on_time, self.reply_base)

    @property
    def close_rate(self) -> float | None:
        """按时办结率: closed (办结: by the handler, or by the enterprise's rating) within the same deadline, of
        those closed or already late."""
        return self._rate(self.closed_on_time, self.close_base)

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
        n = sum(self.handling_days.values())
        return sum(d * c for d, c in self.handling_days.items()) / n if n else None

    @property
    def p90_days(self) -> int | None:
        """90th percentile handling time in working days (nearest rank)."""
        n = sum(self.handling_days.values())
        if not n:
            return None
        rank, seen = max(1, math.ceil(0.9 * n)), 0
        for days in sorted(self.handling_days):
            seen += self.handling_days[days]
            if seen >= rank:
                return days
        return max(self.handling_days)


@dataclass(frozen=True, slots=True)
class GroupCounts:
    """The counts of one (department, category, week of filing): what a store can sum in one pass."""

    department_id: str | None
    category: str | None
    week: date  # the Monday of the week the appeals were filed
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
    answered: int = 0
    close_base: int = 0
    closed_on_time: int = 0


# the summable counts: GroupCounts's fields after its key (department, category, week)
COUNT_FIELDS = tuple(f.name for f in fields(GroupCounts)[3:])


@dataclass(frozen=True, slots=True)
class PeriodCounts:
    """Everything the figures of a period need, already counted (by ``count_rows`` or by storage in SQL)."""

    groups: tuple[GroupCounts, ...]
    handling: tuple[tuple[str | None, str | None, int, int], ...]  # (department, category, working days, count)
    finished_by_week: dict[date, int]  # answered appeals of the period by the week of their answer
    closed_by_week: dict[date, int] = field(default_factory=dict)  # closed (办结) ones by the week of closing


@dataclass(frozen=True, slots=True)
class WeekPoint:
    week: date  # the Monday
    filed: int
    answered: int  # 答复 in this week (of the period's appeals)
    closed: int  # 办结 in this week (of the period's appeals)
    satisfaction: float | None
    days: int = 7  # days of this week inside the period: the first and last week may be partial


@dataclass(frozen=True, slots=True)
class Overview:
    start: date
    end: date  # inclusive
    total: Figures
    by_department: dict[str | None, Figures]
    by_category: dict[str | None, Figures]
    weekly: tuple[WeekPoint, ...]
    lights: dict[Light, int]
    counted_at: datetime | None = None
    # 督办 of the period's appeals per department: (times urged, appeals urged)
    supervised: dict[str | None, tuple[int, int]] = field(default_factory=dict)

    @property
    def supervised_total(self) -> tuple[int, int]:
        return sum(t for t, _ in self.supervised.values()), sum(a for _, a in self.supervised.values())


class WorkdayCounter:
    """Working days between two local dates, from a cumulative index over a range of days.

    The calendar is asked once per day (the official one is slow: ~45 µs a day), and the index grows at
    either end when a date falls outside it.
    """

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        self._first = date.max
        self._cumulative: list[int] = []  # working days from _first up to and including each day

    def prepare(self, low: date, high: date) -> None:
        """Build the index for ``low``..``high`` at once (what a period's figures will ask for)."""
        if not self._cumulative:
            self._first = low
            self._cumulative = self._count(low, high, 0)
            return
        last = self._first + timedelta(days=len(self._cumulative) - 1)
        if high > last:
            self._cumulative += self._count(last + timedelta(days=1), high, self._cumulative[-1])
        if low < self._first:
            head = self._count(low, self._first - timedelta(days=1), 0)
            self._cumulative = head + [c + head[-1] for c in self._cumulative]
            self._first = low

    def _count(self, low: date, high: date, total: int) -> list[int]:
        out = []
        day = low
        while day <= high:
            total += self.calendar.is_workday(day)
            out.append(total)
            day += timedelta(days=1)
        return out

    def between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 for the same day)."""
        if end <= start:
            return 0
        self.prepare(start, end)
        return self._cumulative[(end - self._first).days] - self._cumulative[(start - self._first).days]


def finished_at(row: FigureRow) -> datetime | None:
    """When the department answered: the reply, or the closing of an appeal closed without one."""
    return row.replied_at or (row.closed_at if row.status is Status.CLOSED else None)


def count_rows(rows: Iterable[FigureRow], *, start: date, end: date, now: datetime, calendar: WorkCalendar,
               tz: tzinfo) -> PeriodCounts:
    """The definitions of every figure, on rows (storage.figures counts the same in SQL; a test compares).

    - 按时签收: signed for by its 签收 deadline; counted once signed for or once the deadline has passed.
    - 按时答复: answered by its (possibly extended) reply deadline; counted once answered or once late;
      withdrawn appeals do not count.
    - 按时办结: closed (办结, by the handler or by the enterprise's rating) by the same deadline; counted once
      closed or once late; withdrawn appeals do not count.
    - Times are compared as instants (aware datetimes), whatever offset they were written with.
    - 满意: a rating of 3-5 (基本满意 and better) among the rated; 差评: 1-2.
    - 重办 / 退回: reopened after a poor rating / returned by a department at least once.
    - handling time: working days from the local day of filing to the local day of the answer.
    """
    counter = WorkdayCounter(calendar)
    counter.prepare(start, max(end, now.astimezone(tz).date()))
    groups: dict[tuple[str | None, str | None, date], dict[str, int]] = {}
    handling: dict[tuple[str | None, str | None, int], int] = {}
    finished_by_week: dict[date, int] = {}
    closed_by_week: dict[date, int] = {}
    for row in rows:
        created = row.created_at.astimezone(tz).date()
        if not start <= created <= end:
            continue
        key = (row.department_id, row.category, created - timedelta(days=created.weekday()))
        c = groups.setdefault(key, dict.fromkeys(COUNT_FIELDS, 0))
        c["filed"] += 1
        if row.accept_due is not None and (row.accepted_at is not None or row.accept_due < now):
            c["accept_base"] += 1
            c["accepted_on_time"] += row.accepted_at is not None and row.accepted_at <= row.accept_due
        finished = finished_at(row)
        if row.reply_due is not None and row.status is not Status.WITHDRAWN and (
                finished is not None or row.reply_due < now):
            c["reply_base"] += 1
            c["replied_on_time"] += finished is not None and finished <= row.reply_due
        if row.rating is not None:
            c["rated"] += 1
            c["satisfied"] += row.rating in GOOD_RATINGS
            c["poor"] += row.rating in POOR_RATINGS
        c["reopened"] += row.reopen_count > 0
        c["returned"] += row.return_count > 0
        closed = row.status is Status.CLOSED
        c["closed"] += closed
        if row.reply_due is not None and row.status is not Status.WITHDRAWN and (closed or row.reply_due < now):
            c["close_base"] += 1
            c["closed_on_time"] += closed and row.closed_at is not None and row.closed_at <= row.reply_due
        if closed and row.closed_at is not None:
            day = row.closed_at.astimezone(tz).date()
            week = day - timedelta(days=day.weekday())
            closed_by_week[week] = closed_by_week.get(week, 0) + 1
        c["answered"] += finished is not None
        if finished is not None:
            done = finished.astimezone(tz).date()
            days = counter.between(created, done)
            hkey = (row.department_id, row.category, days)
            handling[hkey] = handling.get(hkey, 0) + 1
            week = done - timedelta(days=done.weekday())
            finished_by_week[week] = finished_by_week.get(week, 0) + 1
    return PeriodCounts(
        groups=tuple(GroupCounts(d, cat, w, **c) for (d, cat, w), c in groups.items()),
        handling=tuple((d, cat, days, n) for (d, cat, days), n in handling.items()),
        finished_by_week=finished_by_week, closed_by_week=closed_by_week)


def summarise(counts: PeriodCounts, *, start: date, end: date, lights: dict[Light, int],
              counted_at: datetime | None = None) -> Overview:
    """The figures by department, by category and in total, and the weekly trend, from a period's counts."""
    total = Figures()
    by_dept: dict[str | None, Figures] = {}
    by_cat: dict[str | None, Figures] = {}
    first_week = start - timedelta(days=start.weekday())
    weeks = [first_week + timedelta(weeks=i) for i in range((end - first_week).days // 7 + 1)]
    filed_w = dict.fromkeys(weeks, 0)
    rated_w = dict.fromkeys(weeks, 0)
    good_w = dict.fromkeys(weeks, 0)
    for g in counts.groups:
        for fig in (total, by_dept.setdefault(g.department_id, Figures()), by_cat.setdefault(g.category, Figures())):
            fig.merge(g)
        if g.week in filed_w:
            filed_w[g.week] += g.filed
            rated_w[g.week] += g.rated
            good_w[g.week] += g.satisfied
    for dept, cat, days, n in counts.handling:
        for fig in (total, by_dept.setdefault(dept, Figures()), by_cat.setdefault(cat, Figures())):
            fig.add_handling(days, n)
    weekly = tuple(WeekPoint(w, filed_w[w], counts.finished_by_week.get(w, 0), counts.closed_by_week.get(w, 0),
                             good_w[w] / rated_w[w] if rated_w[w] else None,
                             (min(end, w + timedelta(days=6)) - max(start, w)).days + 1) for w in weeks)
    return Overview(start, end, total, by_dept, by_cat, weekly, lights, counted_at)


def compute(
    rows: Iterable[FigureRow], *, start: date, end: date, now: datetime, calendar: WorkCalendar, tz: tzinfo,
    open_rows: Iterable[HasClock] = (), yellow_ratio: float = 0.8,
) -> Overview:
    """Every figure for appeals filed on local dates ``start``..``end`` (inclusive), from rows.

    ``open_rows`` are the appeals whose clock runs now, whenever filed: they give the traffic lights.
    """
    counts = count_rows(rows, start=start, end=end, now=now, calendar=calendar, tz=tz)
    return summarise(counts, start=start, end=end, lights=lights(open_rows, now, yellow_ratio), counted_at=now)


class HasClock(Protocol):
    """What an appeal's light depends on (a FigureRow has it; a RunningClock is only that)."""

    @property
    def status(self) -> Status: ...
    @property
    def dispatched_at(self) -> datetime | None: ...
    @property
    def accept_due(self) -> datetime | None: ...
    @property
    def reply_due(self) -> datetime | None: ...


class RunningClock(NamedTuple):
    """An appeal's clock, for the lights of thousands of running appeals (a tuple: cheap to make)."""

    status: Status
    dispatched_at: datetime | None
    accept_due: datetime | None
    reply_due: datetime | None


def row_light(row: HasClock, now: datetime, yellow_ratio: float = 0.8) -> Light | None:
    """The appeal's light now: against the 签收 deadline until signed for, then the reply deadline."""
    if row.status not in CLOCK_RUNNING or row.dispatched_at is None:
        return None
    due = row.reply_due if row.status is Status.ACCEPTED else row.accept_due
    return light(row.dispatched_at, due, now, yellow_ratio) if due is not None else None


def lights(rows: Iterable[HasClock], now: datetime, yellow_ratio: float = 0.8) -> dict[Light, int]:
    counts = dict.fromkeys(Light, 0)
    for row in rows:
        level = row_light(row, now, yellow_ratio)
        if level is not None:
            counts[level] += 1
    return counts


class FigureSource(Protocol):
    """Where the counts come from (storage.figures: one pass in SQL instead of a row per appeal)."""

    def period_counts(self, start: date, end: date, *, now: datetime, calendar: WorkCalendar, tz: tzinfo,
                      department_id: str | None = None) -> PeriodCounts: ...
    def running_rows(self, department_id: str | None = None) -> Iterable[HasClock]: ...
    def supervised(self, start: date, end: date, *, tz: tzinfo, department_id: str | None = None
                   ) -> dict[str | None, tuple[int, int]]: ...


class FigureService:
    """The one place the console, `/report` and `wanqi report` get their figures from.

    Storage keeps per-day counts, so a year of a city's appeals (10^5) is counted in ~0.1 s; an overview is
    still kept ``max_age`` seconds per period and scope (the console shows when it was counted), so a
    dashboard refreshed by several supervisors counts once a minute, not once a view.
    """

    def __init__(self, source: FigureSource, calendar: WorkCalendar, tz: tzinfo, clock: Clock,
                 yellow_ratio: float = 0.8, max_age: float = 60.0) -> None:
        self.source = source
        self.calendar = calendar
        self.tz = tz
        self.clock = clock
        self.yellow_ratio = yellow_ratio
        self.max_age = max_age
        self._cache: dict[tuple[date, date, str | None], Overview] = {}

    def overview(self, actor: Actor, start: date, end: date, *, fresh: bool = False) -> Overview:
        """The period's figures as this person may see them (raises NotAllowed for enterprises).

        ``fresh`` counts now whatever was kept (reports, and right after a step the viewer took).
        """
        dept = department_scope(actor)
        now = self.clock.now()
        key = (start, end, dept)
        kept = self._cache.get(key)
        if (kept is not None and kept.counted_at is not None and not fresh
                and 0 <= (now - kept.counted_at).total_seconds() < self.max_age):
            return kept
        counts = self.source.period_counts(start, end, now=now, calendar=self.calendar, tz=self.tz,
                                           department_id=dept)
        result = dataclasses.replace(
            summarise(counts, start=start, end=end, counted_at=now,
                      lights=lights(self.source.running_rows(dept), now, self.yellow_ratio)),
            supervised=self.source.supervised(start, end, tz=self.tz, department_id=dept))
        if self.max_age > 0:
            if len(self._cache) >= 64:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = result
        return result


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
