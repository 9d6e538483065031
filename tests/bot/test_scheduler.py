"""Scheduled jobs: reminders and escalations reach the right people once; unrated appeals close; the
daily digest; cron runs missed while down are made up once at start-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.scheduler import (
    AUTO_CLOSE_JOB_ID,
    DIGEST_JOB_ID,
    SLA_JOB_ID,
    auto_close_job,
    build_scheduler,
    department_digest_job,
    sla_job,
)
from tests.bot.harness import SUPERVISOR, Harness, Role

ENT, HANDLER = 101, 201


class Later:
    def __init__(self, delta: timedelta) -> None:
        self.delta = delta

    def now(self) -> datetime:
        return datetime.now(UTC) + self.delta


async def test_overdue_escalates_once_and_unrated_replies_close(h: Harness) -> None:
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    appeal_id, _ = await h.file(ENT, "发票开不出来")
    service = h.app.services.appeals.target
    service.clock = Later(timedelta(days=30))
    start = len(h.session.sent)
    await sla_job(h.app.services)
    await sla_job(h.app.services)  # a second run repeats nothing
    await h.drain()
    sent = h.session.sent[start:]
    assert [s.chat_id for s in sent if "已超期" in s.text] == [HANDLER, SUPERVISOR]
    assert h.one("SELECT alert_level FROM appeals")["alert_level"] == "red"
    service.clock = Later(timedelta(0))
    await h.act(HANDLER, "acc", appeal_id)
    await h.act(HANDLER, "rep", appeal_id)
    await h.send(HANDLER, "已处理完毕")
    service.clock = Later(timedelta(days=30))
    await auto_close_job(h.app.services)
    await h.drain()
    row = h.one("SELECT status, rating FROM appeals")
    assert row == {"status": "closed", "rating": None}
    assert "已办结" in h.last_to(ENT).text and h.last_to(ENT).buttons  # may still rate


async def test_jobs_have_fixed_ids_and_a_misfire_grace(h: Harness) -> None:
    scheduler, _ = build_scheduler(h.app.services, h.app.notifier.render, h.app.policy_desk, db=h.app.db)
    ids = {job.id for job in scheduler.get_jobs()}
    assert {SLA_JOB_ID, AUTO_CLOSE_JOB_ID, DIGEST_JOB_ID, "policies:weekly-digest"} <= ids
    assert all(job.misfire_grace_time and job.coalesce for job in scheduler.get_jobs())


async def test_the_daily_digest_lists_each_departments_work_overdue_first(h: Harness) -> None:
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    await h.join(202, Role.HANDLER, "finance")
    await h.file(ENT, "发票开不出来")
    h.app.services.appeals.target.clock = Later(timedelta(days=10))
    await h.file(ENT, "退税还没到账")
    start = len(h.session.sent)
    assert await department_digest_job(h.app.services, h.app.notifier.render) == 1
    assert await department_digest_job(h.app.services, h.app.notifier.render) == 0  # once a day
    await h.drain()
    sent = h.session.sent[start:]
    assert [s.chat_id for s in sent] == [HANDLER]  # finance has nothing open: no message
    numbers = [r["number"] for r in h.db.query("SELECT number FROM appeals ORDER BY id")]
    text = sent[0].text
    assert "在办 2 件，其中超期 1 件" in text and text.index(numbers[0]) < text.index(numbers[1])
