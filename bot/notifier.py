"""Renders outbox rows into Bot API calls, each in the recipient's language, from the row's own payload.

The delivery worker (bot/delivery.py) calls :meth:`Notifier.render` at send time; nothing here
reads the database, so a message shows the appeal as it was when its event was committed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup

from appeals.model import AppealEvent
from appeals.notices import NO_HANDLER, Audience, Notice
from appeals.service import AppealView
from appeals.snapshot import load_view
from bot import keyboards
from bot.delivery import Call
from bot.render import Renderer, split_message
from config import Settings
from texts import Translator, translator

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


def _last_note(view: AppealView, action: str) -> str:
    for ev in reversed(view.events):
        if ev.action == action:
            return ev.note
    return ""


def _last_event(view: AppealView, action: str) -> AppealEvent | None:
    return next((ev for ev in reversed(view.events) if ev.action == action), None)


class Notifier:
    """Outbox row -> Bot API calls: appeal notices, acknowledgements, texts, files."""

    def __init__(self, settings: Settings, renderer: Renderer, bot: Bot | None = None,
                 services: Services | None = None) -> None:
        self.settings = settings
        self.render_ = renderer
        self.bot = bot  # for direct answers only (send)
        self.services = services

    async def send(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """A direct answer to the person acting now, split at Telegram's limit (buttons on the last part).

        Only for replies in the conversation; telling anyone of a committed change goes through the outbox.
        """
        assert self.bot is not None
        parts = split_message(text)
        for i, part in enumerate(parts):
            await self.bot.send_message(chat_id, part, reply_markup=markup if i == len(parts) - 1 else None)

    async def deliver(self, notices: Iterable[Notice]) -> None:
        """Queue notices about appeals (e.g. a handover) in the outbox, rendered from the appeals as they are now."""
        assert self.services is not None
        await self.services.appeals.announce(list(notices))

    @property
    def render(self) -> Renderer:  # the name handlers and jobs know
        return self.render_

    def calls(self, row: dict[str, Any]) -> list[Call]:
        """The calls one outbox row is sent as (long texts split, buttons on the last part)."""
        kind, payload = str(row["kind"]), row["payload"]
        t = translator(row.get("lang"))
        markup: InlineKeyboardMarkup | None = None
        if kind == "attachment":
            return [Call(str(payload["type"]), text=str(payload.get("caption") or ""), file_id=str(payload["file_id"]))]
        if kind in ("text", "digest", "broadcast"):
            text = str(payload["text"])
        elif kind == "delivery_bug":
            text = t("staff.delivery_bug", template=str(payload["template"]), error=str(payload["error"])[:300])
        elif kind == "claim_request":
            text = t("register.claim_request", user=str(payload["user"]), enterprise=str(payload["enterprise"]))
            markup = keyboards.claim(t, int(payload["claim_id"]))
        elif kind == "claim_decided":
            key = "register.claim_approved" if payload["approved"] else "register.claim_denied"
            text = t(key, enterprise=str(payload["enterprise"]))
        elif kind == "filed":
            view = load_view(payload["view"])
            text = self.render_.filed(t, view.appeal, bool(payload.get("automatic")))
            markup = keyboards.fix_category(t, view.appeal.id)
        else:
            view = load_view(payload["view"])
            text, markup = self.compose(kind, Audience(payload["audience"]), view, t)
            if payload.get("reason") == NO_HANDLER:
                text, markup = self._unstaffed(kind, view, t, text)
        parts = split_message(text)
        return [Call("message", part, markup if i == len(parts) - 1 else None) for i, part in enumerate(parts)]

    def _unstaffed(self, kind: str, view: AppealView, t: Translator, text: str) -> tuple[str, InlineKeyboardMarkup]:
        """A department notice that came to the center because the department has no active handler:
        the reason on top; a card can be re-dispatched from here, anything else opened."""
        a = view.appeal
        head = t("staff.no_handler", department=self.render_.department(t, a.department_id))
        if kind == "card":
            names = {c.id: self.render_.category(t, c.id) for c in self.settings.routing.categories}
            others = dataclasses.replace(a, ranking=tuple(s for s in a.ranking if s.category != a.category))
            return f"{head}\n\n{text}", keyboards.triage(t, others, names, self.settings.routing)
        return f"{head}\n\n{text}", keyboards.view_buttons(t, [a])

    def compose(
        self, kind: str, audience: Audience, view: AppealView, t: Translator
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        """The text and buttons of one notice for one reader."""
        a, r = view.appeal, self.render_
        dept = r.department(t, a.department_id)
        common = {"number": a.number, "department": dept}
        if kind == "card":
            return r.card(t, view), keyboards.handler_actions(t, a)
        if kind == "triage":
            names = {c.id: r.category(t, c.id) for c in self.settings.routing.categories}
            reason = _last_note(view, "return") if a.status.value == "returned" else None
            return r.triage(t, view, reason), keyboards.triage(t, a, names, self.settings.routing)
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
