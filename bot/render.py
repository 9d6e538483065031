"""Turning domain objects into chat text: cards, lists, history. Texts come from the catalogues."""

from __future__ import annotations

import html
import re
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from appeals.lifecycle import Status
from appeals.model import Appeal, Enterprise
from appeals.reference import INDUSTRIES
from appeals.registration import mask_phone
from appeals.service import RATINGS, AppealView
from appeals.sla import Light
from config import Settings
from texts import Markup, Translator

TELEGRAM_LIMIT = 4096
_ENTITY_LABELS = {"credit_code": "信用代码", "phone": "电话", "money": "金额", "date": "日期",
                  "district": "区县", "department": "部门"}


_CONTACT = {"accept": "contact"}  # for the enterprise, 签收 is when the department gets in touch


class Renderer:
    """Formats for one center (category and department names, timezone)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.tz = ZoneInfo(settings.center.timezone)

    def when(self, value: datetime | None) -> str:
        return value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M") if value else "—"

    def category(self, t: Translator, category_id: str | None) -> str:
        if not category_id:
            return t("appeal.unclassified") if t.has("appeal.unclassified") else "—"
        key = f"category.{category_id}"
        if t.locale != "zh-CN" and t.has(key):
            return t(key)
        routing = self.settings.routing
        return routing.category(category_id).name if routing.knows(category_id) else category_id

    def department(self, t: Translator, department_id: str | None) -> str:
        if not department_id:
            return t("appeal.center")
        key = f"department.{department_id}"
        if t.locale != "zh-CN" and t.has(key):
            return t(key)
        return self.settings.departments.get(department_id, department_id)

    @staticmethod
    def status(t: Translator, status: Status) -> str:
        return t(f"status.{status.value}")

    @staticmethod
    def rating(t: Translator, score: int | None) -> str:
        return t(f"rating.{score}") if score in RATINGS else t("rating.unrated")

    @staticmethod
    def short(text: str, limit: int = 200) -> str:
        """An excerpt for an alert: the first ``limit`` characters, whitespace folded."""
        folded = " ".join(text.split())
        return folded if len(folded) <= limit else folded[: limit - 1] + "…"

    def due(self, appeal: Appeal) -> datetime | None:
        return self.deadline(appeal)[1]

    @staticmethod
    def deadline(appeal: Appeal) -> tuple[str, datetime | None]:
        """Which deadline runs now: ``accept`` (签收, to contact the enterprise), ``reply`` or ``rating``."""
        if appeal.status in (Status.DISPATCHED, Status.REOPENED):
            return "accept", appeal.accept_due
        if appeal.status is Status.ACCEPTED:
            return "reply", appeal.reply_due
        if appeal.status is Status.REPLIED:
            return "rating", appeal.rating_due
        return "", None

    def day(self, t: Translator, value: datetime | None) -> str:
        """A date in the center's timezone, written as everywhere else (docs/glossary.md): 2026-12-07."""
        return value.astimezone(self.tz).strftime("%Y-%m-%d") if value is not None else "—"

    @staticmethod
    def confidence(value: float | None) -> str:
        """The model's confidence for staff: a whole percentage, never 100 % (a model is never certain)."""
        return "—" if value is None else f"{min(99, round(value * 100))}%"

    def expectation(self, t: Translator, appeal: Appeal) -> str:
        """What the enterprise can expect: contact within the category's days, an answer by a date."""
        routing = self.settings.routing
        days = routing.category(appeal.category).accept_days if appeal.category and routing.knows(appeal.category) \
            else self.settings.sla.accept_days
        key = "appeal.expect" if days else "appeal.expect_today"
        return t(key, days=days, reply_date=self.day(t, appeal.reply_due))

    # ---- enterprise side ---------------------------------------------------------------------
    def filed(self, t: Translator, appeal: Appeal, automatic: bool) -> str:
        if automatic:
            routing = t("appeal.filed_routed", category=self.category(t, appeal.category),
                        department=self.department(t, appeal.department_id), expect=self.expectation(t, appeal))
        elif appeal.category:
            routing = t("appeal.filed_queued", category=self.category(t, appeal.category))
        else:
            routing = t("appeal.filed_unclassified")
        return t("appeal.filed", number=appeal.number, routing=routing)

    def listing_line(self, t: Translator, appeal: Appeal, light: str | None, *, enterprise: bool = False) -> str:
        """One line of a list: staff see the light and which deadline; an enterprise sees what to expect."""
        which, due = self.deadline(appeal)
        if not due:
            deadline = ""
        elif enterprise:
            deadline = t(f"appeal.due_{_CONTACT.get(which, which)}", date=self.day(t, due))
        else:
            deadline = t("staff.due_line", label=t(f"staff.due_{which}"), due=self.when(due))
        return t("appeal.my_line", light="" if enterprise else t(f"light.{light or 'none'}"), number=appeal.number,
                 status=self.status(t, appeal.status), category=self.category(t, appeal.category), deadline=deadline)

    def detail(self, t: Translator, view: AppealView, *, staff: bool) -> str:
        a = view.appeal
        which, due = self.deadline(a)
        if not due:
            label = ""
        else:
            label = t(f"staff.due_{which}") if staff else t(f"appeal.detail_due_{_CONTACT.get(which, which)}")
        lines = [t(
            "appeal.detail", number=a.number, enterprise=view.enterprise.name, status=self.status(t, a.status),
            light=Markup(" ") + t(f"light.{view.light.value}") if view.light and staff else "",
            category=self.category(t, a.category), department=self.department(t, a.department_id),
            created=self.when(a.created_at),
            deadline=t("appeal.detail_deadline", label=label, due=self.when(due)) if due else "",
            rating=t("appeal.detail_rating", rating=self.rating(t, a.rating)) if a.rating else "",
            text=a.text,
        ), "", t("appeal.history")]
        for ev in view.events:
            what = t(f"action.{ev.action}") if t.has(f"action.{ev.action}") else ev.action
            if ev.action in ("rate_good", "rate_poor"):
                what = Markup("{}（{}）").format(what, ev.note)
            elif ev.note and ev.action not in ("dispatch",) and (staff or not ev.internal):
                note = ev.note if ev.action != "request_extension" else ev.note.split("|", 1)[-1]
                what = Markup("{}：{}").format(what, note)
            who = t(f"role.{ev.actor_role}") if ev.actor_role and t.has(f"role.{ev.actor_role}") else ""
            lines.append(t("appeal.history_line", at=self.when(ev.at), who=who, what=what))
        return "\n".join(lines)

    # ---- staff side -----------------------------------------------------------------------------
    def department_digest(self, t: Translator, dept_id: str, items: list[tuple[Appeal, Light | None]]) -> str:
        overdue = sum(1 for _, lt in items if lt is Light.RED)
        lines = [t("staff.digest_header", department=self.department(t, dept_id), count=len(items), overdue=overdue)]
        lines += [self.listing_line(t, a, lt.value if lt else None) for a, lt in items[:30]]
        if len(items) > 30:
            lines.append(t("staff.digest_more", count=len(items) - 30))
        return "\n".join(lines)

    def card(self, t: Translator, view: AppealView) -> str:
        a, e = view.appeal, view.enterprise
        entities = Markup("、").join(Markup("{} {}").format(_ENTITY_LABELS.get(x.label, x.label), x.text)
                                    for x in a.entities)
        history = [ev for ev in view.events if ev.action in ("message", "note", "return", "rate_poor", "reply")]
        return t(
            "staff.card", title=t("staff.card_reopened" if a.reopen_count else "staff.card_new"),
            number=a.number, enterprise=e.name, district=e.district, scale=e.scale,
            industry=INDUSTRIES.get(e.industry, e.industry), contact=e.contact, phone=e.phone,
            category=self.category(t, a.category), confidence=self.confidence(a.confidence),
            accept_due=self.when(a.accept_due), reply_due=self.when(a.reply_due),
            entities=t("staff.entities", items=entities) if entities else "",
            attachments=t("staff.attachments", count=len(a.attachments)) if a.attachments else "",
            history=t("staff.history", count=len(history)) if history else "",
            text=a.text,
        )

    def triage(self, t: Translator, view: AppealView, return_reason: str | None) -> str:
        a, e = view.appeal, view.enterprise
        suggestions = "、".join(f"{self.category(t, s.category)} {self.confidence(s.confidence)}"
                               for s in a.ranking[:3])
        return t("staff.triage", number=a.number, enterprise=e.name, district=e.district,
                 suggestions=suggestions or "—", text=a.text,
                 returned=t("staff.triage_returned", reason=return_reason) if return_reason else "")

    @staticmethod
    def masked_contact(enterprise: Enterprise) -> str:
        return f"{enterprise.contact} {mask_phone(enterprise.phone)}"


# A tag, an entity, a line break, a run of plain text, or a stray "<"/"&" (counted as one character).
_TOKEN = re.compile(r"<[^<>]*>|&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{1,10});|\n|[^<&\n]+|[<&]")
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z][a-zA-Z0-9-]*)")


def utf16_len(text: str) -> int:
    """Telegram's length: UTF-16 code units (an emoji or a rare CJK character outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _fit(run: str, room: int) -> int:
    """How many characters of a plain-text run fit in ``room`` UTF-16 units."""
    units = 0
    for i, ch in enumerate(run):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > room:
            return i
    return len(run)


def _after(stack: list[tuple[str, str]], token: str) -> list[tuple[str, str]]:
    """The open tags (opening text, closing text) after ``token``."""
    if not token.startswith("<") or len(token) < 3:
        return stack
    name = _TAG_NAME.match(token)
    if name is None:
        return stack
    if token.startswith("</"):
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][1] == f"</{name[1]}>":
                return stack[:i] + stack[i + 1:]
        return stack
    return [*stack, (token, f"</{name[1]}>")]


def _shown(token: str) -> int:
    """What a token adds to Telegram's count, which is taken after parsing: a tag nothing, ``&amp;`` one."""
    if token[0] == "<" and len(token) > 1:
        return 0
    if token[0] == "&" and len(token) > 1:
        return _entity_units(token)
    return utf16_len(token)


@cache
def _entity_units(entity: str) -> int:
    return utf16_len(html.unescape(entity))


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split Telegram HTML into parts of at most ``limit`` UTF-16 units of shown text (Telegram's count).

    Cuts at a line break in the second half of a part where there is one; never inside a tag or an
    entity (``&amp;``); tags open at a cut are closed at the end of the part and opened again in the next.
    """
    if utf16_len(text) <= limit:  # markup only ever shrinks when parsed: short texts need no count
        return [text]
    tokens = _TOKEN.findall(text)
    costs = [_shown(token) for token in tokens]
    if sum(costs) <= limit:
        return [text]
    parts: list[str] = []
    stack: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        prefix = "".join(opening for opening, _ in stack)
        size = 0
        body: list[str] = []
        best: tuple[int, list[tuple[str, str]], int] | None = None  # (body length, open tags, next token)
        while i < len(tokens):
            token, cost = tokens[i], costs[i]
            if size + cost > limit:
                if best is None and token[0] not in "<&\n":  # no line break to prefer: fill with text
                    n = _fit(token, limit - size)
                    if n:
                        body.append(token[:n])
                        tokens[i] = token[n:]
                        costs[i] = utf16_len(tokens[i])
                        size = limit
                if body:
                    break
            body.append(token)  # (on an empty part a tag or an entity goes in whatever its size)
            size += cost
            stack = _after(stack, token)
            i += 1
            if token == "\n" and size >= limit // 2:
                best = (len(body) - 1, stack, i)  # cut before the line break, drop it
        if i < len(tokens) and best is not None:
            keep, stack, i = best
            body = body[:keep]
        parts.append(prefix + "".join(body) + "".join(c for _, c in reversed(stack)))
    return [p for p in parts if p] or [""]
