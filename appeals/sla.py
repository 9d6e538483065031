"""SLA clock: deadlines in working days and the green / yellow / red light."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum

from appeals.calendar import WorkCalendar


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    accept_days: int = 1
    reply_days: int = 5
    extension_max_days: int = 5
    rating_days: int = 3
    yellow_ratio: float = 0.8
    supervise_interval_hours: int = 24  # a second 督办 within this asks for confirmation (0: never asks)


class Light(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def add_working_days(start: datetime, days: int, calendar: WorkCalendar, tz: tzinfo) -> datetime:
    """The end (23:59:59 local) of the ``days``-th working day after ``start``'s local day.

    ``days=0`` means the end of the same day if it is a working day, else of the next working day.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    day = start.astimezone(tz).date()
    remaining = days
    if remaining == 0:
        while not calendar.is_workday(day):
            day += timedelta(days=1)
    while remaining > 0:
        day += timedelta(days=1)
        if calendar.is_workday(day):
            remaining -= 1
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


def light(start: datetime, due: datetime, now: datetime, yellow_ratio: float = 0.8) -> Light:
    """Red when overdue, yellow once ``yellow_ratio`` of the time has been used, green before."""
    if now > due:
        return Light.RED
    total = (due - start).total_seconds()
    used = (now - start).total_seconds()
    if total <= 0 or used / total >= yellow_ratio:
        return Light.YELLOW
    return Light.GREEN
