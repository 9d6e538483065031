"""APScheduler 3 wiring: SLA reminders and escalations, unrated auto-close, the daily 待办 digest, the weekly push.

Only the holder of the "primary" lease runs these (bot/runner.py). Jobs are re-created at every
start with fixed ids; everything they act on lives in the database: each alert level is recorded
on the appeal with its outbox rows, and each cron job's last run is in ``job_runs``. A cron run
missed while the bot was down runs once at start-up if it is within ``jobs.missed_run_grace_hours``
(:func:`catch_up`), and never twice: a run is skipped when ``job_runs`` has it, and the digests it
queues are keyed per person and day (or week) in the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from appeals.ports import Outgoing
from bot.policy_wiring import JOB_ID as WEEKLY_JOB_ID
from bot.policy_wiring import PolicyDesk
from bot.render import Renderer
from bot.services import Services
from storage.jobs import JobRuns
from texts import translator

log = logging.getLogger(__name__)
SLA_JOB_ID = "appeals:sla-scan"
AUTO_CLOSE_JOB_ID = "appeals:auto-close"
DIGEST_JOB_ID = "appeals:department-digest"
CronJob = Callable[[datetime], Awaitable[Any]]


async def sla_job(services: Services) -> None:
    """Yellow reminds the department, red escalates to supervisors (督办): the alerts are outbox rows."""
    alerts = await services.appeals.sla_scan()
    if alerts:
        log.info("SLA scan: %d alerts", len(alerts))


async def auto_close_job(services: Services) -> None:
    """Replied appeals nobody rated within the rating window close as unrated."""
    closed = await services.appeals.auto_close()
    if closed:
        log.info("auto-close: %d unrated appeals closed", len(closed))


async def department_digest_job(services: Services, renderer: Renderer, due: datetime | None = None) -> int:
    """Each handler hears the department's open and overdue appeals, once per day; returns rows queued."""
    day = (due or datetime.now(renderer.tz)).astimezone(renderer.tz).date().isoformat()
    digest = await services.appeals.department_digest()
    rows = []
    for dept_id, items in digest.items():
        for user_id in await services.repo.user_ids("handler", dept_id):
            user = await services.repo.get_user(user_id)
            lang = user.lang if user else "zh-CN"
            text = renderer.department_digest(translator(lang), dept_id, items)
            rows.append(Outgoing(user_id, "text", {"text": text}, lang, dedupe=f"daily-digest:{day}:{user_id}"))
    queued: int = await services.outbox.add(rows)
    return queued


def latest_fire(trigger: CronTrigger, now: datetime, within: timedelta) -> datetime | None:
    """The last time ``trigger`` fired at or before ``now``, if within ``within`` of it."""
    fire = trigger.get_next_fire_time(None, now - within)
    last = None
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return last


class CronRuns:
    """Runs cron jobs at most once per fire time, remembering the last run in the database."""

    def __init__(self, services: Services, runs: JobRuns, grace: timedelta, holder: str = "") -> None:
        self.services = services
        self.runs = runs
        self.grace = grace
        self.holder = holder
        self.jobs: dict[str, tuple[CronTrigger, CronJob]] = {}

    async def run(self, job_id: str, now: datetime | None = None) -> bool:
        """Run ``job_id`` for its latest fire time (within the grace) unless that run is done; True if it ran."""
        trigger, job = self.jobs[job_id]
        now = now or datetime.now(trigger.timezone)
        due = latest_fire(trigger, now, self.grace)
        writer = self.services.writer
        if due is None or await writer.run(self.runs.done, job_id, due):
            return False
        log.info("job %s: running the run due %s", job_id, due.isoformat())
        await job(due)
        await writer.run(self.runs.record, job_id, due, self.holder)
        return True


def build_scheduler(services: Services, renderer: Renderer, desk: PolicyDesk, *, db: Any,
                    holder: str = "") -> tuple[AsyncIOScheduler, CronRuns]:
    """The scheduler with every job (fixed ids), and the cron runner :func:`catch_up` uses at start-up."""
    settings = services.settings
    tz = ZoneInfo(settings.center.timezone)
    grace = timedelta(hours=settings.jobs.missed_run_grace_hours)
    cron = CronRuns(services, JobRuns(db), grace, holder)
    cron.jobs[DIGEST_JOB_ID] = (CronTrigger.from_crontab(settings.jobs.daily_digest_cron, timezone=tz),
                                lambda due: department_digest_job(services, renderer, due))
    cron.jobs[WEEKLY_JOB_ID] = (CronTrigger.from_crontab(settings.policies.digest_cron, timezone=tz),
                                lambda due: desk.push())
    scheduler = AsyncIOScheduler(timezone=tz)
    common = {"replace_existing": True, "coalesce": True, "max_instances": 1,
              "misfire_grace_time": int(grace.total_seconds())}
    scheduler.add_job(sla_job, IntervalTrigger(minutes=10, timezone=tz), args=[services], id=SLA_JOB_ID,
                      next_run_time=datetime.now(tz) + timedelta(seconds=5), **common)
    scheduler.add_job(auto_close_job, IntervalTrigger(hours=1, timezone=tz), args=[services],
                      id=AUTO_CLOSE_JOB_ID, **common)
    for job_id, (trigger, _) in cron.jobs.items():
        scheduler.add_job(cron.run, trigger, args=[job_id], id=job_id, **common)
    return scheduler, cron


async def catch_up(cron: CronRuns, now: datetime | None = None) -> list[str]:
    """At start-up: run each cron job whose last fire time passed while down (within the grace); ids run."""
    ran = [job_id for job_id in cron.jobs if await cron.run(job_id, now)]
    if ran:
        log.info("made up missed runs: %s", ", ".join(ran))
    return ran
