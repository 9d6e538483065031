"""Delivers the domain's notices to the right chats, each in the recipient's language."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import InlineKeyboardMarkup

from appeals.model import SYSTEM, Appeal, AppealEvent, Attachment
from appeals.notices import Audience, Notice
from appeals.service import AppealView
from bot import keyboards
from bot.render import Renderer, split_message
from bot.services import Services
from bot.texts import Translator, translator

log = logging.getLogger(__name__)


def _last_note(view: AppealView, action: str) -> str:
    for ev in reversed(view.events):
        if ev.action == action:
            return ev.note
    return ""


def _last_event(view: AppealView, action: str) -> AppealEvent | None:
    return next((ev for ev in reversed(view.events) if ev.action == action), None)


class Notifier:
    def __init__(self, bot: Bot, services: Services, renderer: Renderer) -> None:
        self.bot = bot
        self.services = services
        self.render = renderer

    async def deliver(self, notices: Iterable[Notice], *, exclude: int | None = None) -> None:
        """Send every notice to its audience (except ``exclude``, who already sees the result)."""
        for notice in notices:
            view: AppealView = await self.services.appeals.view(SYSTEM, notice.appeal_id)
            for user_id in await self._recipients(notice.audience, view.appeal):
                if user_id == exclude:
                    continue
                user = await self.services.repo.get_user(user_id)
                t = translator(user.lang if user else None)
                text, markup = self.compose(notice.kind, notice.audience, view, t)
                if not await self.send(user_id, text, markup):
                    continue
                if notice.kind == "card":
                    await self._attachments(user_id, view.appeal.attachments, view.appeal.number)
                elif notice.kind == "files":
                    added = int(_last_note(view, "files") or 0)
                    await self._attachments(user_id, view.appeal.attachments[-added:] if added else (),
                                            view.appeal.number)

    async def _recipients(self, audience: Audience, appeal: Appeal) -> list[int]:
        repo = self.services.repo
        if audience is Audience.ENTERPRISE:
            return list(await repo.enterprise_user_ids(appeal.enterprise_id))
        if audience is Audience.DEPARTMENT:
            return list(await repo.user_ids("handler", appeal.department_id)) if appeal.department_id else []
        if audience is Audience.DISPATCHERS:
            return list(await repo.user_ids("dispatcher")) or list(await repo.user_ids("supervisor"))
        return list(await repo.user_ids("supervisor"))

    def compose(
        self, kind: str, audience: Audience, view: AppealView, t: Translator
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """The text and buttons of one notice for one reader."""
        a, r = view.appeal, self.render
        dept = r.department(t, a.department_id)
        common = {"number": a.number, "department": dept}
        if kind == "card":
            return r.card(t, view), keyboards.handler_actions(t, a)
        if kind == "triage":
            names = {c.id: r.category(t, c.id) for c in self.services.settings.routing.categories}
            reason = _last_note(view, "return") if a.status.value == "returned" else None
            return r.triage(t, view, reason), keyboards.triage(t, a, names, self.services.settings.routing)
        if kind == "replied":
            return (t("appeal.replied", reply=_last_note(view, "reply"), rating_date=r.day(t, a.rating_due), **common),
                    keyboards.ratings(t, a.id))
        if kind == "closed":
            return t("appeal.closed", **common), keyboards.enterprise_actions(t, a)
        if kind == "message" and audience is Audience.ENTERPRISE:
            return (t("appeal.message_from_department", text=_last_note(view, "message"), **common),
                    keyboards.enterprise_actions(t, a))
        if kind == "message":
            return t("staff.followup", text=_last_note(view, "message"), **common), \
                keyboards.handler_actions(t, a)
        if kind == "files":
            return t("staff.files_added", count=_last_note(view, "files"), **common), keyboards.handler_actions(t, a)
        if kind == "routed":
            return t("appeal.routed_by_center", expect=r.expectation(t, a), **common), None
        if kind == "accepted":
            return t("appeal.accepted", **common), None
        if kind in ("rated", "poor_rating"):
            return t(f"staff.{kind}", rating=r.rating(t, a.rating), enterprise=view.enterprise.name,
                     text=r.short(a.text), reply=r.short(_last_note(view, "reply")), **common), None
        if kind == "withdrawn":
            withdrawal = _last_event(view, "withdraw")
            if withdrawal is not None and withdrawal.actor_role != "enterprise":
                return t("staff.withdrawn_by_center", reason=withdrawal.note, **common), None
            return t("staff.withdrawn", **common), None
        if kind == "withdrawn_by_center":
            return t("appeal.withdrawn_by_center", reason=_last_note(view, "withdraw"), **common), None
        if kind == "handover":
            return t("team.handover", **common), keyboards.handler_actions(t, a)
        if kind == "extension_request":
            return (t("staff.extension_request", days=a.extension_days, reason=a.extension_reason or "",
                      due=r.when(a.reply_due), **common), keyboards.extension_decision(t, a.id))
        if kind == "extension_decided":
            key = "staff.extension_approved" if a.extension_status == "approved" else "staff.extension_denied"
            return t(key, due=r.when(a.reply_due), **common), None
        if kind == "supervise":
            return (t("staff.supervised", note=_last_note(view, "supervise"), due=r.when(r.due(a)), **common),
                    keyboards.view_buttons(t, [a]))
        if kind in ("sla_yellow", "sla_red"):
            return t(f"staff.{kind}", due=r.when(r.due(a)), **common), keyboards.view_buttons(t, [a])
        raise ValueError(f"unknown notice kind {kind}")

    async def send(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
        """Send (split past 4096 characters, buttons on the last part); a blocked user is marked inactive."""
        parts = split_message(text)
        try:
            for i, part in enumerate(parts):
                await self.bot.send_message(chat_id, part, reply_markup=markup if i == len(parts) - 1 else None)
        except TelegramForbiddenError:
            log.info("user %s blocked the bot: marked inactive", chat_id)
            await self.services.repo.set_user(chat_id, active=0)
            return False
        except TelegramAPIError as exc:
            log.warning("could not message %s: %s", chat_id, type(exc).__name__)
            return False
        return True

    async def _attachments(self, chat_id: int, attachments: Iterable[Attachment], number: str) -> None:
        for att in attachments:
            if att.kind == "url":  # a partner's media_url: shown on the card and the console, not re-sent
                continue
            try:
                if att.kind == "photo":
                    await self.bot.send_photo(chat_id, att.file_id, caption=number)
                else:
                    await self.bot.send_document(chat_id, att.file_id, caption=number)
            except TelegramAPIError as exc:
                log.warning("attachment of appeal %s not forwarded: %s", number, type(exc).__name__)
