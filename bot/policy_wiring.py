"""Wiring the policy push into the bot: the async service handlers use, start-up sync, the weekly job."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from markupsafe import escape
from sqlite_utils import Database

from appeals.reference import INDUSTRIES
from bot.config import Settings
from bot.texts import translator
from policies import digest as digests
from policies import render
from policies.digest import Digest
from policies.model import Profile, Subscription
from policies.render import Translate
from policies.service import PolicyService, ProfileError, utc_now
from storage.db import Writer
from storage.policies_repo import PolicyRepository

if TYPE_CHECKING:  # the CLI imports this module; aiogram costs seconds and is not needed there
    from aiogram import Bot, Dispatcher

logger = logging.getLogger(__name__)

JOB_ID = "policies:weekly-digest"
STATUS_TEXT = {"sent": "policies.status_sent", "failed": "policies.status_failed",
               "blocked": "policies.status_blocked", "queued": "policies.status_queued",
               "sending": "policies.status_sending"}
MISFIRE_GRACE = 6 * 3600  # a bot down at 09:00 still sends the Monday push when it is back the same day


def sync_catalogue(db: Database, settings: Settings, now: datetime | None = None) -> dict[str, list[str]]:
    """Load the YAML catalogue into the policies table (see :func:`bootstrap.load_catalogue_into`)."""
    from bootstrap import load_catalogue_into

    return load_catalogue_into(db, settings, now)


def _deliveries(db: Database) -> Any:
    from storage.deliveries import DeliveryStore

    return DeliveryStore(db)


class PolicyDesk:
    """What handlers, the scheduler and the appeal flow call; blocking work runs on the writer thread."""

    def __init__(self, *, db: Database, writer: Writer, settings: Settings, bot: Bot | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.db, self.writer, self.settings, self.bot = db, writer, settings, bot
        self.repo = PolicyRepository(db)
        self.deliveries = _deliveries(db)
        p = settings.policies
        self.service = PolicyService(self.repo, self.deliveries, timezone=settings.center.timezone, clock=clock,
                                     window_days=p.deadline_window_days, max_per_digest=p.max_per_digest)

    async def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self.writer.run(fn, *args, **kwargs)

    # ---- on demand ------------------------------------------------------------------------------
    async def matches_text(self, enterprise_id: int, t: Translate, limit: int = 5) -> tuple[str, list[str]]:
        """The /policies answer and the ids behind its detail buttons."""
        _profile, found, total = await self._run(self.service.matches, enterprise_id, limit)
        if not found:
            return t("policies.no_matches"), []
        header = t("policies.matches_header", total=total, shown=len(found))
        return render.match_list(header, found, t, t("policies.matches_footer")), [m.policy.id for m in found]

    async def search_text(self, query: str, t: Translate, limit: int = 5) -> tuple[str, list[str]]:
        """The /policies 关键词 answer."""
        hits = await self._run(self.service.search, query, limit)
        return render.search_list(query, [h.policy for h in hits], self.service.today(), t), [h.policy.id for h in hits]

    async def details_text(self, policy_id: str, t: Translate) -> str | None:
        policy = await self._run(self.service.policy, policy_id)
        return None if policy is None else render.details(policy, t)

    async def answer_for_appeal(self, enterprise_id: int, text: str, t: Translate) -> str | None:
        """For an appeal classified as a policy question: matching policies at once, or None."""
        found = await self._run(self.service.for_appeal, enterprise_id, text)
        if not found:
            return None
        return render.match_list(t("policies.appeal_answer"), found, t)

    # ---- profile and subscription ---------------------------------------------------------------
    async def profile_text(self, enterprise_id: int, t: Translate) -> tuple[str, tuple[str, ...]]:
        profile: Profile | None = await self._run(self.service.profile, enterprise_id)
        if profile is None:
            return t("policies.not_enterprise"), ()
        unset = t("policies.unset")
        body = t("policies.profile_body", name=escape(profile.name),
                 industry=INDUSTRIES.get(profile.industry or "", unset), scale=profile.scale or unset,
                 district=profile.district or unset, founded=profile.founded_year or unset,
                 business=escape(profile.business) or unset,
                 tags="、".join(profile.tags) or t("policies.no_tags"))
        return "\n\n".join([t("policies.profile_title"), body, t("policies.profile_hint")]), profile.tags

    async def toggle_tag(self, enterprise_id: int, tag: str) -> None:
        await self._run(self.service.toggle_tag, enterprise_id, tag)

    async def edit_profile(self, enterprise_id: int, field: str, value: str) -> bool:
        """Set the founding year or main business from typed text; False when it is not acceptable."""
        try:
            if field == "year":
                value = value.strip().removesuffix("年")
                if not (value.isdigit() and len(value) == 4):
                    return False
                await self._run(self.service.set_founded_year, enterprise_id, int(value))
            else:
                await self._run(self.service.set_business, enterprise_id, value)
        except ProfileError:
            return False
        return True

    async def subscription(self, user_id: int) -> Subscription:
        sub: Subscription = await self._run(self.service.subscription, user_id)
        return sub

    async def toggle_topic(self, user_id: int, enterprise_id: int | None, topic: str) -> Subscription:
        sub: Subscription = await self._run(self.service.toggle_topic, user_id, enterprise_id, topic)
        return sub

    async def set_weekly(self, user_id: int, enterprise_id: int | None, on: bool) -> Subscription:
        sub: Subscription = await self._run(self.service.set_weekly, user_id, enterprise_id, on)
        return sub

    # ---- weekly push ----------------------------------------------------------------------------
    async def build_week(self, *, include_known: bool = False) -> list[tuple[Digest, Profile]]:
        """This week's digests for every subscribed, active recipient (not yet recorded, unless told)."""
        built: list[tuple[Digest, Profile]] = await self._run(self.service.digests, include_known=include_known)
        return built

    def outgoing(self, built: list[tuple[Digest, Profile]]) -> list[Any]:
        """Digests as the broadcaster's items, each rendered in its recipient's language."""
        from bot.broadcast import Outgoing

        items = []
        for d, profile in built:
            shown, text = digests.fitted(d, translator(d.lang), profile.name)
            items.append(Outgoing(key=d.key, chat_id=d.user_id, text=text, kind=digests.KIND,
                                  enterprise_id=d.enterprise_id, meta=shown.meta, week=d.week))
        return items

    async def push(self, bot: Bot | None = None) -> Any:
        """Build and send this week's digests exactly once through the broadcaster; returns its report."""
        from bot.broadcast import Broadcaster

        target = bot or self.bot
        if target is None:
            raise RuntimeError("no bot to send the policy push with")
        built = await self.build_week(include_known=True)
        items = self.outgoing(built)
        push = self.settings.push
        broadcaster = Broadcaster(target, self.deliveries, self.writer,
                                  messages_per_second=push.messages_per_second,
                                  per_chat_interval=push.per_chat_interval, max_retries=push.max_retries,
                                  on_blocked=self._on_blocked)
        logger.info("policy push %s: %d digests", digests.iso_week(self.service.today()), len(items))
        return await broadcaster.send(items)

    async def _on_blocked(self, chat_id: int, *_: Any) -> None:
        """403 from Telegram: the user blocked the bot; no more pushes to them."""
        await self._run(self.repo.mark_inactive, chat_id)

    async def preview_text(self, t: Translate) -> tuple[str, int]:
        """The supervisor's preview: how many digests this week and the first one."""
        built = await self.build_week()
        week = digests.iso_week(self.service.today())
        if not built:
            return t("policies.broadcast_empty", week=week), 0
        d, p = built[0]
        head = t("policies.broadcast_preview", week=week, count=len(built), user=d.user_id)
        return render.fit(head, [digest_text(d, p, t)]), len(built)

    async def push_now_text(self, t: Translate) -> str:
        report = await self.push()
        return t("policies.broadcast_done", **report_counts(report))

    async def stats_text(self, t: Translate, weeks: int = 4) -> str:
        today = self.service.today()
        lines = []
        for back in range(weeks):
            week = digests.iso_week(today - timedelta(weeks=back))
            counts = await self._run(self.deliveries.stats, week)
            if counts:
                shown = "，".join(f"{t(STATUS_TEXT[k]) if k in STATUS_TEXT else k} {v}"
                                 for k, v in sorted(counts.items()))
                lines.append(t("policies.broadcast_stats_line", week=week, counts=shown))
        return "\n".join([t("policies.broadcast_stats"), *(lines or [t("policies.broadcast_stats_empty")])])


def report_counts(report: Any) -> dict[str, int]:
    """sent / failed / blocked / skipped from the broadcaster's report."""
    return {k: int(getattr(report, k, 0) or 0) for k in ("sent", "failed", "blocked", "skipped")}


def digest_text(d: Digest, profile: Profile, t: Translate) -> str:
    return digests.text(d, t, profile.name)


def install(dp: Dispatcher, *, db: Database, writer: Writer, settings: Settings, bot: Bot | None = None) -> PolicyDesk:
    """Put the policy service into the dispatcher's workflow data and include the policy router."""
    from bot.handlers.policies import router

    desk = PolicyDesk(db=db, writer=writer, settings=settings, bot=bot)
    dp["policy_service"] = desk
    dp.include_router(router())
    return desk


async def weekly_job(desk: PolicyDesk, bot: Bot) -> None:
    """The scheduled push: build, send once, log the outcome."""
    report = await desk.push(bot)
    logger.info("policy push done: %s", report_counts(report))


def schedule(scheduler: Any, *, bot: Bot, db: Database, writer: Writer, settings: Settings,
             desk: PolicyDesk | None = None) -> Any:
    """Add the weekly digest job (APScheduler 3) from ``policies.digest_cron`` in the center's timezone."""
    from apscheduler.triggers.cron import CronTrigger

    desk = desk or PolicyDesk(db=db, writer=writer, settings=settings, bot=bot)
    trigger = CronTrigger.from_crontab(settings.policies.digest_cron, timezone=settings.center.timezone)
    return scheduler.add_job(weekly_job, trigger, args=[desk, bot], id=JOB_ID, replace_existing=True,
                             coalesce=True, max_instances=1, misfire_grace_time=MISFIRE_GRACE)


__all__ = ["JOB_ID", "PolicyDesk", "install", "schedule", "sync_catalogue", "weekly_job"]
