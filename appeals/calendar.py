"""The official working-day calendar (holidays and 调休 make-up days), with a weekends-only fallback."""

from __future__ import annotations

import logging
from datetime import date
from typing import Protocol

log = logging.getLogger(__name__)


class WorkCalendar(Protocol):
    def is_workday(self, day: date) -> bool: ...


# Statutory holidays on fixed solar dates (国务院《全国年节及纪念日放假办法》); the lunar ones
# (春节, 清明, 端午, 中秋) and the 调休 swaps are only known once the State Council publishes them.
FIXED_HOLIDAYS: frozenset[tuple[int, int]] = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})


class WeekendCalendar:
    """Fallback for years the official calendar does not know: weekends and fixed-date holidays off."""

    def is_workday(self, day: date) -> bool:
        return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS


class OfficialCalendar:
    """China's State Council calendar via the ``chinese-calendar`` package, falling back per year.

    ``chinese-calendar`` raises for years it has no data for (2027 with version 1.11);
    those years fall back to weekends and fixed-date holidays and one warning is logged per year.
    Each day's answer is remembered: a deadline walks many days, and the package's own lookup (with its
    date validation) was about 2 % of the CPU of filing an appeal.
    """

    def __init__(self) -> None:
        self._fallback = WeekendCalendar()
        self._unknown_years: set[int] = set()
        self._days: dict[date, bool] = {}

    def is_workday(self, day: date) -> bool:
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._lookup(day)
        return known

    def _lookup(self, day: date) -> bool:
        if day.year not in self._unknown_years:
            try:
                import chinese_calendar

                return bool(chinese_calendar.is_workday(day))
            except (NotImplementedError, ImportError):
                self._unknown_years.add(day.year)
                log.warning("official calendar has no data for %s: counting weekends and fixed-date holidays only",
                            day.year)
        return self._fallback.is_workday(day)

    def knows(self, year: int) -> bool:
        self.is_workday(date(year, 6, 1))
        return year not in self._unknown_years
