"""The center's figures: computed from appeals worked through the real services and read back from SQLite."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from appeals.calendar import OfficialCalendar
from appeals.errors import NotAllowed
from appeals.lifecycle import Status
from appeals.metrics import FigureRow, Figures, FigureService, WorkdayCounter, compute, percent
from appeals.sla import Light
from storage.figures import SqliteFigureSource

from .conftest import TZ, World


def service(world: World) -> FigureService:
    return FigureService(SqliteFigureSource(world.repo.db), OfficialCalendar(), TZ, world.clock)


def test_workdays_follow_the_official_calendar() -> None:
    counter = WorkdayCounter(OfficialCalendar())
    # Wed 25 Nov 2026 -> Mon 30 Nov: Thu, Fri, Mon
    assert counter.between(date(2026, 11, 25), date(2026, 11, 30)) == 3
    assert counter.between(date(2026, 11, 25), date(2026, 11, 25)) == 0
    # 国庆 2026: 1-7 Oct off; 9 Oct (Fri) is a working day after Thu 8
    assert counter.between(date(2026, 9, 30), date(2026, 10, 9)) == 2


def test_figures_of_a_worked_period(world: World) -> None:
    sup, tax, ent = world.actors["supervisor"], world.actors["tax"], world.actors["ent_a"]
    on_time = world.file()
    world.svc.accept(tax, on_time.id)
    world.clock.advance(days=1)
    world.svc.reply(tax, on_time.id, "已为您办理专票")
    world.svc.rate(ent, on_time.id, 5)

    late = world.file(text="发票系统又打不开了，请帮忙处理")
    world.clock.advance(days=3)  # Sat: past the 1-working-day 签收 deadline of Thursday
    world.svc.accept(tax, late.id)
    world.clock.advance(days=10)
    world.svc.reply(tax, late.id, "已处理")
    world.svc.rate(ent, late.id, 1)  # 差评 -> 重办

    returned = world.file(text="社保缴费基数如何调整，请税务局解答")
    world.svc.return_(tax, returned.id, "不属于本部门职责，应由人社局办理")
    world.svc.dispatch(world.actors["dispatcher"], returned.id, "labor")
    world.clock.advance(days=3)  # Wed -> Sat: both new 签收 deadlines (Thu) have passed

    ov = service(world).overview(sup, date(2026, 11, 23), date(2026, 12, 31))
    total = ov.total
    assert total.filed == 3
    # figures follow each appeal's current round: the reopened and the re-dispatched one are not signed for
    # although their (new) 签收 deadlines have passed
    assert (total.accepted_on_time, total.accept_base) == (1, 3)
    assert (total.replied_on_time, total.reply_base) == (1, 1)
    assert (total.satisfied, total.rated, total.poor) == (1, 2, 1)
    assert total.satisfaction == 0.5
    assert total.reopen_rate == pytest.approx(1 / 3)
    assert total.return_rate == pytest.approx(1 / 3)
    assert total.handling_days == {1: 1}
    assert total.avg_days == 1.0 and total.p90_days == 1
    assert set(ov.by_department) == {"tax", "hrss"}
    assert ov.by_department["hrss"].filed == 1 and ov.by_department["tax"].filed == 2
    assert ov.by_category["tax"].filed == 2
    assert sum(w.filed for w in ov.weekly) == 3 and ov.weekly[0].week == date(2026, 11, 23)
    # the reopened appeal waits for 签收 again, the re-dispatched one too: both red by now
    assert ov.lights[Light.RED] == 2


def test_a_handler_sees_only_their_department(world: World) -> None:
    world.file()
    world.file(ranking=(("finance", 0.9),), text="贷款贴息申请进度如何")
    figures = service(world)
    tax = figures.overview(world.actors["tax"], date(2026, 11, 1), date(2026, 11, 30))
    assert tax.total.filed == 1 and set(tax.by_department) == {"tax"}
    assert figures.overview(world.actors["supervisor"], date(2026, 11, 1), date(2026, 11, 30)).total.filed == 2
    with pytest.raises(NotAllowed):
        figures.overview(world.actors["ent_a"], date(2026, 11, 1), date(2026, 11, 30))


def test_empty_period_and_rates_without_a_base() -> None:
    ov = compute([], start=date(2026, 1, 1), end=date(2026, 1, 31), now=datetime(2026, 2, 1, tzinfo=TZ),
                 calendar=OfficialCalendar(), tz=TZ)
    assert ov.total.filed == 0 and ov.total.satisfaction is None and percent(ov.total.accept_rate) == "—"
    assert len(ov.weekly) == 5  # weeks starting 29 Dec .. 26 Jan


def test_rows_outside_the_period_are_ignored_and_withdrawn_have_no_deadline_count() -> None:
    now = datetime(2026, 3, 1, tzinfo=TZ)
    rows = [
        FigureRow("tax", "tax", Status.WITHDRAWN, datetime(2026, 2, 2, 9, tzinfo=TZ),
                  reply_due=datetime(2026, 2, 6, tzinfo=TZ)),
        FigureRow("tax", "tax", Status.CLOSED, datetime(2026, 1, 5, 9, tzinfo=TZ)),
    ]
    ov = compute(rows, start=date(2026, 2, 1), end=date(2026, 2, 28), now=now, calendar=OfficialCalendar(), tz=TZ)
    assert ov.total.filed == 1 and ov.total.reply_base == 0
    assert Figures().p90_days is None


def test_p90_is_nearest_rank() -> None:
    fig = Figures(handling_days=dict.fromkeys(range(1, 11), 1))
    assert fig.p90_days == 9
    fig.handling_days = {4: 3}
    assert fig.p90_days == 4 and fig.avg_days == 4


def test_handling_time_counts_from_filing_to_answer(world: World) -> None:
    appeal = world.file()
    world.svc.accept(world.actors["tax"], appeal.id)
    world.clock.advance(days=5)  # Wed -> Mon
    world.svc.reply(world.actors["tax"], appeal.id, "答复内容在此")
    start = world.clock.now().date() - timedelta(days=30)
    ov = service(world).overview(world.actors["supervisor"], start, world.clock.now().date())
    assert ov.total.handling_days == {3: 1}


def test_an_overview_is_kept_a_minute_unless_asked_fresh(world: World) -> None:
    figures = service(world)
    sup = world.actors["supervisor"]
    period = (date(2026, 11, 1), date(2026, 11, 30))
    assert figures.overview(sup, *period).total.filed == 0
    world.file()
    assert figures.overview(sup, *period).total.filed == 0  # counted moments ago
    assert figures.overview(sup, *period, fresh=True).total.filed == 1
    world.file(text="发票问题第二件，请尽快处理")
    world.clock.advance(seconds=61)
    ov = figures.overview(sup, *period)
    assert ov.total.filed == 2 and ov.counted_at == world.clock.now()
