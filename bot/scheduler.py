"""APScheduler 3 wiring: SLA reminders and escalations, unrated auto-close, the weekly policy push.

Jobs are re-created at every start with fixed ids; everything they act on lives in the database
(each alert level is recorded on the appeal), so a restart loses nothing and repeats nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot import policy_wiring
from bot.notifier import Notifier
from bot.services import Services

log = logging.getLogger(__name__)
SLA_JOB_ID = "appeals:sla-scan"
AUTO_CLOSE_JOB_ID = "appeals:auto-close"


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


def build_scheduler(services: Services, notifier: Notifier, *, bot: Any, db: Any, desk: Any = None) -> AsyncIOScheduler:
    tz = services.settings.center.timezone
    scheduler = AsyncIOScheduler(timezone=tz)
    common = {"replace_existing": True, "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    scheduler.add_job(sla_job, IntervalTrigger(minutes=10, timezone=tz), args=[services, notifier],
                      id=SLA_JOB_ID, **common)
    scheduler.add_job(auto_close_job, IntervalTrigger(hours=1, timezone=tz), args=[services, notifier],
                      id=AUTO_CLOSE_JOB_ID, **common)
    policy_wiring.schedule(scheduler, bot=bot, db=db, writer=services.writer, settings=services.settings, desk=desk)
    return scheduler
