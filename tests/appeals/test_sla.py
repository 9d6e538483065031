"""Working-day deadlines on the official calendar (with its fallback) and the traffic light."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest

from appeals.calendar import OfficialCalendar, WeekendCalendar
from appeals.sla import Light, add_working_days, light

from .conftest import TZ


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 23, 59, 59, tzinfo=TZ)


# 2026 国庆: 1-7 Oct off; Sunday 20 Sep and Saturday 10 Oct are 调休 working days.
@pytest.mark.parametrize(("start", "days", "due"), [
    (datetime(2026, 9, 30, 15, 0, tzinfo=TZ), 0, end_of(2026, 9, 30)),
    (datetime(2026, 9, 30, 15, 0, tzinfo=TZ), 1, end_of(2026, 10, 8)),
    (datetime(2026, 9, 30, 15, 0, tzinfo=TZ), 2, end_of(2026, 10, 9)),
    (datetime(2026, 9, 30, 15, 0, tzinfo=TZ), 3, end_of(2026, 10, 10)),  # make-up Saturday
    (datetime(2026, 9, 30, 15, 0, tzinfo=TZ), 4, end_of(2026, 10, 12)),
    (datetime(2026, 9, 29, 9, 0, tzinfo=TZ), 4, end_of(2026, 10, 10)),
    (datetime(2026, 9, 29, 9, 0, tzinfo=TZ), 5, end_of(2026, 10, 12)),
    (datetime(2026, 10, 3, 11, 0, tzinfo=TZ), 0, end_of(2026, 10, 8)),  # filed during the holiday
    # counting starts the day after receipt, so the first working day after the holiday is day 1
    (datetime(2026, 10, 3, 11, 0, tzinfo=TZ), 1, end_of(2026, 10, 8)),
    (datetime(2026, 10, 3, 11, 0, tzinfo=TZ), 2, end_of(2026, 10, 9)),
    (datetime(2026, 9, 19, 11, 0, tzinfo=TZ), 1, end_of(2026, 9, 20)),  # make-up Sunday
    (datetime(2026, 9, 18, 11, 0, tzinfo=TZ), 1, end_of(2026, 9, 20)),
])
def test_national_day_2026(start: datetime, days: int, due: datetime) -> None:
    assert add_working_days(start, days, OfficialCalendar(), TZ) == due


def test_the_local_day_counts_not_the_utc_day() -> None:
    # 20:00 UTC on Wednesday is 04:00 Thursday in Zhaoqing
    start = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    assert add_working_days(start, 1, OfficialCalendar(), TZ) == end_of(2026, 11, 27)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(datetime(2026, 11, 25, 10, 0), 1, OfficialCalendar(), TZ)  # noqa: DTZ001


@pytest.fixture
def unknown_2027() -> None:
    try:
        chinese_calendar.is_workday(date(2027, 6, 1))
    except NotImplementedError:
        return
    pytest.skip("this chinese-calendar already knows 2027; the fallback needs an unknown year")


@pytest.mark.usefixtures("unknown_2027")
def test_new_year_into_an_unknown_year_falls_back_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    calendar = OfficialCalendar()
    start = datetime(2026, 12, 30, 10, 0, tzinfo=TZ)  # Wednesday, 2026 is known
    with caplog.at_level(logging.WARNING, logger="appeals.calendar"):
        assert add_working_days(start, 1, calendar, TZ) == end_of(2026, 12, 31)
        assert not caplog.records
        # 1 Jan 2027 (Friday) is off, 2-3 Jan is a weekend
        assert add_working_days(start, 2, calendar, TZ) == end_of(2027, 1, 4)
        assert add_working_days(start, 3, calendar, TZ) == end_of(2027, 1, 5)
        assert add_working_days(start, 10, calendar, TZ) == end_of(2027, 1, 14)
        assert calendar.knows(2027) is False
        assert calendar.knows(2026) is True
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2027" in warnings[0].getMessage()


@pytest.mark.usefixtures("unknown_2027")
def test_fallback_fixed_holidays_in_an_unknown_year() -> None:
    calendar = OfficialCalendar()
    off = [date(2027, 1, 1), date(2027, 5, 1), date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3),
           date(2027, 10, 9)]  # the last is a Saturday
    on = [date(2027, 1, 4), date(2027, 10, 4), date(2027, 10, 8), date(2027, 5, 4)]
    assert [calendar.is_workday(d) for d in off] == [False] * len(off)
    assert [calendar.is_workday(d) for d in on] == [True] * len(on)


def test_weekend_calendar() -> None:
    cal = WeekendCalendar()
    monday = date(2030, 3, 4)
    assert [cal.is_workday(monday + timedelta(days=i)) for i in range(7)] == [True] * 5 + [False] * 2
    assert cal.is_workday(date(2030, 5, 1)) is False  # 劳动节 on a Wednesday
    assert cal.is_workday(date(2030, 5, 3)) is True


# ---- the traffic light ----------------------------------------------------------------------------

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=TZ)
DUE = T0 + timedelta(hours=10)


@pytest.mark.parametrize(("elapsed", "expected"), [
    (timedelta(0), Light.GREEN),
    (timedelta(hours=7, minutes=59), Light.GREEN),
    (timedelta(hours=8), Light.YELLOW),  # exactly 80 %
    (timedelta(hours=9, minutes=59), Light.YELLOW),
    (timedelta(hours=10), Light.YELLOW),  # due now: not yet overdue
    (timedelta(hours=10, seconds=1), Light.RED),
    (timedelta(days=30), Light.RED),
])
def test_light_thresholds(elapsed: timedelta, expected: Light) -> None:
    assert light(T0, DUE, T0 + elapsed) is expected


def test_light_ratio_is_configurable() -> None:
    now = T0 + timedelta(hours=6)
    assert light(T0, DUE, now, yellow_ratio=0.5) is Light.YELLOW
    assert light(T0, DUE, now, yellow_ratio=0.8) is Light.GREEN


def test_light_with_no_time_allowed() -> None:
    assert light(DUE, DUE, DUE) is Light.YELLOW
    assert light(DUE, DUE, DUE + timedelta(seconds=1)) is Light.RED
