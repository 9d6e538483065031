"""Wiring the policy push into the bot: the async service handlers use, start-up sync, the weekly job."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from markupsafe import escape
from sqlite_utils import Database

from appeals.ports import Outgoing
from appeals.reference import INDUSTRIES
from config import Settings
from policies import digest as digests
from policies import render
from policies.digest import Digest
from policies.model import Profile, Subscription
from policies.render import Translate
from policies.service import PolicyService, ProfileError, utc_now
from storage.db import Writer
from storage.outbox import Outbox
from storage.policies_repo import PolicyRepository
from texts import translator

if TYPE_CHECKING:  # the CLI imports this module; aiogram costs seconds and is not needed there
    from aiogram import Dispatcher

logger = logging.getLogger(__name__)

JOB_ID = "policies:weekly-digest"
STATUS_TEXT = {"sent": "policies.status_sent", "failed": "policies.status_failed",
               "blocked": "policies.status_blocked", "queued": "policies.status_queued",
               "sending": "policies.status_sending"}


def sync_catalogue(db: Database, settings: Settings, now: datetime | None = None) -> dict[str, list[str]]:
    """Load the YAML catalogue into the policies table (see :func:`bootstrap.load_catalogue_into`)."""
    from bootstrap import load_catalogue_into

    return load_catalogue_into(db, settings, now)


class PolicyDesk:
    """What handlers, the scheduler and the appeal flow call; blocking work runs on the writer thread."""

    def __init__(self, *, db: Database, writer: Writer, settings: Settings, wake: Callable[[], Any] | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.db, self.writer, self.settings, self.wake = db, writer, settings, wake
        self.repo = PolicyRepository(db)
        self.deliveries = Outbox(db)  # what was sent before (the digest's memory) and where digests go
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

    def outgoing(self, built: list[tuple[Digest, Profile]]) -> list[Outgoing]:
        """Digests as outbox rows, each rendered in its recipient's language, keyed once per user and week."""
        items = []
        for d, profile in built:
            shown, text = digests.fitted(d, translator(d.lang), profile.name)
            items.append(Outgoing(d.user_id, digests.KIND, {"text": text, "meta": shown.meta}, d.lang,
                                  enterprise_id=d.enterprise_id, week=d.week, dedupe=d.key))
        return items

    async def push(self) -> PushReport:
        """Queue this week's digests in the outbox, once per recipient and week; the delivery worker sends them."""
        built = await self.build_week(include_known=True)
        items = self.outgoing(built)
        queued: int = await self._run(self.deliveries.add, items)
        if self.wake is not None:
            self.wake()
        week = digests.iso_week(self.service.today())
        logger.info("policy push %s: %d digests queued, %d already known", week, queued, len(items) - queued)
        return PushReport(week, queued, len(items) - queued)

    async def preview_text(self, t: Translate) -> tuple[str, int]:
        """The supervisor's preview: how many digests this week and the first one."""
        built = await self.build_week()
        week = digests.iso_week(self.service.today())
        if not built:
            return t("policies.broadcast_empty", week=digests.week_span(t, week)), 0
        d, p = built[0]
        head = t("policies.broadcast_preview", week=digests.week_span(t, week), count=len(built), user=d.user_id)
        return render.fit(head, [digest_text(d, p, t)]), len(built)

    async def push_now_text(self, t: Translate) -> str:
        report = await self.push()
        return t("policies.broadcast_queued", queued=report.queued, skipped=report.skipped)

    async def stats_text(self, t: Translate, weeks: int = 4) -> str:
        today = self.service.today()
        lines = []
        for back in range(weeks):
            week = digests.iso_week(today - timedelta(weeks=back))
            counts = await self._run(self.deliveries.stats, week, digests.KIND)
            if counts:
                shown = "，".join(f"{t(STATUS_TEXT[k]) if k in STATUS_TEXT else k} {v}"
                                 for k, v in sorted(counts.items()))
                lines.append(t("policies.broadcast_stats_line", week=digests.week_span(t, week), counts=shown))
        return "\n".join([t("policies.broadcast_stats"), *(lines or [t("policies.broadcast_stats_empty")])])


@dataclass(frozen=True, slots=True)
class PushReport:
    """What queueing one week's push did: digests queued now, and digests already queued or sent before."""

    week: str
    queued: int
    skipped: int


def digest_text(d: Digest, profile: Profile, t: Translate) -> str:
    return digests.text(d, t, profile.name)


def install(dp: Dispatcher, *, db: Database, writer: Writer, settings: Settings,
            wake: Callable[[], Any] | None = None) -> PolicyDesk:
    """Put the policy service into the dispatcher's workflow data and include the policy router."""
    from bot.handlers.policies import router

    desk = PolicyDesk(db=db, writer=writer, settings=settings, wake=wake)
    dp["policy_service"] = desk
    dp.include_router(router())
    return desk


async def weekly_job(desk: PolicyDesk) -> None:
    """The scheduled push: queue this week's digests once (the delivery worker sends them)."""
    await desk.push()


__all__ = ["JOB_ID", "PolicyDesk", "PushReport", "install", "sync_catalogue", "weekly_job"]
