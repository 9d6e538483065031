"""APScheduler 3 wiring: SLA reminders and escalations, unrated auto-close, the weekly policy push.

Jobs are re-created at every start with fixed ids; everything they act on lives in the database
(each alert level is recorded on the appeal), so a restart loses nothing and repeats nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot import policy_wiring
from bot.notifier import Notifier
from bot.services import Services
from bot.texts import translator

log = logging.getLogger(__name__)
SLA_JOB_ID = "appeals:sla-scan"
AUTO_CLOSE_JOB_ID = "appeals:auto-close"
DIGEST_JOB_ID = "appeals:department-digest"


async def sla_job(services: Services, notifier: Notifier) -> None:
    """Yellow reminds the department, red escalates to supervisors (督办)."""
    alerts = await services.appeals.sla_scan()
    for alert in alerts:
        await notifier.deliver(alert.notices)
    if alerts:
        log.info("SLA scan: %d alerts", len(alerts))


async def auto_close_job(services: Services, notifier: Notifier) -> None:
    """Replied appeals nobody rated within the rating window close as unrated."""
    for outcome in await services.appeals.auto_close():
        await notifier.deliver(outcome.notices)


async def department_digest_job(services: Services, notifier: Notifier) -> None:
    """Every working morning each handler hears the department's open and overdue appeals."""
    digest = await services.appeals.department_digest()
    for dept_id, items in digest.items():
        for user_id in await services.repo.user_ids("handler", dept_id):
            user = await services.repo.get_user(user_id)
            t = translator(user.lang if user else None)
            await notifier.send(user_id, notifier.render.department_digest(t, dept_id, items))


def build_scheduler(services: Services, notifier: Notifier, *, bot: Any, db: Any, desk: Any = None) -> AsyncIOScheduler:
    tz = services.settings.center.timezone
    scheduler = AsyncIOScheduler(timezone=tz)
    common = {"replace_existing": True, "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    scheduler.add_job(sla_job, IntervalTrigger(minutes=10, timezone=tz), args=[services, notifier],
                      id=SLA_JOB_ID, **common)
    scheduler.add_job(auto_close_job, IntervalTrigger(hours=1, timezone=tz), args=[services, notifier],
                      id=AUTO_CLOSE_JOB_ID, **common)
    scheduler.add_job(department_digest_job, CronTrigger(day_of_week="mon-fri", hour=8, minute=30, timezone=tz),
                      args=[services, notifier], id=DIGEST_JOB_ID, **common)
    policy_wiring.schedule(scheduler, bot=bot, db=db, writer=services.writer, settings=services.settings, desk=desk)
    return scheduler
