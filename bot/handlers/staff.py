"""Department handlers, dispatchers and supervisors: queue, card buttons, replies, returns, extensions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from appeals.errors import InvalidInput
from appeals.inputs import parse_small_int
from appeals.model import Actor, Role
from bot import keyboards
from bot.callbacks import AppealCb
from bot.render import Renderer, split_message
from bot.services import Services
from bot.states import Work
from reports.workbook import build_report, figures_line
from texts import Translator

TEXT = F.text & ~F.text.startswith("/")
# Buttons that ask for a text first: act -> (state, prompt key)
PROMPTS = {
    "ret": (Work.return_reason, "staff.return_prompt"),
    "rep": (Work.reply, "staff.reply_prompt"),
    "ext": (Work.extension, "staff.extend_prompt"),
    "note": (Work.note, "staff.note_prompt"),
    "msg": (Work.message, "staff.message_prompt"),
    "cls": (Work.close_reason, "staff.close_prompt"),
}
QUEUE_TITLES = {Role.HANDLER: "staff.queue_department", Role.DISPATCHER: "staff.queue_triage",
                Role.SUPERVISOR: "staff.queue_all"}


def router() -> Router:
    r = Router(name="staff")
    r.message.register(queue, Command("queue"))
    r.message.register(view_command, Command("view"))
    r.message.register(report, Command("report"))
    r.message.register(console_link, Command("console"))
    r.message.register(withdraw, Command("withdraw"))
    r.callback_query.register(view, AppealCb.filter(F.act == "view"))
    r.callback_query.register(accept, AppealCb.filter(F.act == "acc"))
    r.callback_query.register(ask_text, AppealCb.filter(F.act.in_(PROMPTS)))
    r.message.register(return_reason, StateFilter(Work.return_reason), TEXT)
    r.message.register(close, StateFilter(Work.close_reason), TEXT)
    r.message.register(reply, StateFilter(Work.reply), TEXT)
    r.message.register(extension, StateFilter(Work.extension), TEXT)
    r.message.register(note, StateFilter(Work.note, Work.message), TEXT)
    r.callback_query.register(decide_extension, AppealCb.filter(F.act == "extok"))
    r.callback_query.register(all_categories, AppealCb.filter(F.act == "disp"))
    r.callback_query.register(dispatch, AppealCb.filter(F.act == "dispto"))
    return r


async def queue(message: Message, actor: Actor, t: Translator, services: Services, renderer: Renderer) -> None:
    """/queue: the department's open appeals (handler), the triage queue (dispatcher), everything (supervisor)."""
    if not actor.is_staff or actor.role is None:
        await message.answer(t("common.staff_only"))
        return
    appeals = await services.appeals.listing(actor, limit=30)
    if not appeals:
        await message.answer(t("staff.queue_empty"))
        return
    lights = [await services.appeals.light(a) for a in appeals]
    lines = [t("staff.queue_header", title=t(QUEUE_TITLES[actor.role]), count=len(appeals))]
    lines += [renderer.listing_line(t, a, lt.value if lt else None) for a, lt in zip(appeals, lights, strict=True)]
    await message.answer("\n".join(lines), reply_markup=keyboards.view_buttons(t, appeals))


async def view_command(message: Message, command: CommandObject, actor: Actor, t: Translator,
                       services: Services, renderer: Renderer) -> None:
    """/view NUMBER: an appeal's detail and history (anyone, within what they may see)."""
    if not command.args:
        await message.answer(t("staff.view_usage"))
        return
    await _show(message, message.chat.id, actor, t, services, renderer, command.args)


async def view(query: CallbackQuery, callback_data: AppealCb, actor: Actor, t: Translator,
               services: Services, renderer: Renderer) -> None:
    await _show(query.bot, query.from_user.id, actor, t, services, renderer, callback_data.id)
    await query.answer()


async def _show(via: Any, chat_id: int, actor: Actor, t: Translator, services: Services, renderer: Renderer,
                ref: int | str) -> None:
    """The detail as a direct answer (a read, nothing committed), split at Telegram's limit."""
    detail = await services.appeals.view(actor, ref)
    markup = keyboards.handler_actions(t, detail.appeal) if actor.is_staff else \
        keyboards.enterprise_actions(t, detail.appeal)
    parts = split_message(renderer.detail(t, detail, staff=actor.is_staff))
    bot = via if isinstance(via, Bot) else via.bot
    for i, part in enumerate(parts):
        await bot.send_message(chat_id, part, reply_markup=markup if i == len(parts) - 1 else None)


async def accept(query: CallbackQuery, callback_data: AppealCb, actor: Actor, t: Translator,
                 services: Services, renderer: Renderer) -> None:
    """签收: the department takes the appeal; the enterprise is told."""
    outcome = await services.appeals.accept(actor, callback_data.id)
    await query.answer()
    await query.message.answer(t("staff.accepted", number=outcome.appeal.number,
                                 due=renderer.when(outcome.appeal.reply_due)),
                               reply_markup=keyboards.handler_actions(t, outcome.appeal))


async def close(message: Message, actor: Actor, t: Translator, services: Services, state: FSMContext) -> None:
    """办结 by the handler after the reply, with a reason (e.g. confirmed by phone); the enterprise may still rate."""
    outcome = await services.appeals.close(actor, (await state.get_data())["appeal_id"], message.text)
    await state.clear()
    await message.answer(t("staff.closed", number=outcome.appeal.number))


async def ask_text(query: CallbackQuery, callback_data: AppealCb, actor: Actor, t: Translator,
                   services: Services, state: FSMContext) -> None:
    """退回 / 答复 / 延期 / 备注 / 留言 ask for a text first; the appeal must be this person's to work."""
    detail = await services.appeals.view(actor, callback_data.id)
    if not actor.is_staff:
        await query.answer(t("error.not_allowed"), show_alert=True)
        return
    next_state, prompt = PROMPTS[callback_data.act]
    await state.set_state(next_state)
    await state.update_data(appeal_id=detail.appeal.id)
    await query.answer()
    await query.message.answer(t(prompt, number=detail.appeal.number, max=services.settings.sla.extension_max_days))


async def return_reason(message: Message, actor: Actor, t: Translator, services: Services,
                        state: FSMContext) -> None:
    outcome = await services.appeals.return_(actor, (await state.get_data())["appeal_id"], message.text)
    await state.clear()
    await message.answer(t("staff.returned", number=outcome.appeal.number))


async def reply(message: Message, actor: Actor, t: Translator, services: Services,
                state: FSMContext) -> None:
    """答复: the formal answer goes to the enterprise with the rating buttons."""
    outcome = await services.appeals.reply(actor, (await state.get_data())["appeal_id"], message.text)
    await state.clear()
    await message.answer(t("staff.replied", number=outcome.appeal.number, days=services.settings.sla.rating_days),
                         reply_markup=keyboards.handler_actions(t, outcome.appeal))


async def extension(message: Message, actor: Actor, t: Translator, services: Services,
                    state: FSMContext) -> None:
    match = re.match(r"^\s*([0-9]{1,2})\s*(?:天|个工作日|日)?\s*[,，:：\s]\s*(.+)$", message.text or "", re.S)
    if not match:
        raise InvalidInput("staff.extend_format")
    appeal_id = (await state.get_data())["appeal_id"]
    outcome = await services.appeals.request_extension(actor, appeal_id, int(match[1]), match[2])
    await state.clear()
    await message.answer(t("staff.extend_requested", number=outcome.appeal.number))


async def note(message: Message, actor: Actor, t: Translator, services: Services,
               state: FSMContext) -> None:
    """An internal note (staff only) or a message to the enterprise (kept on the record)."""
    internal = await state.get_state() == Work.note.state
    outcome = await services.appeals.message(actor, (await state.get_data())["appeal_id"], message.text,
                                             internal=internal)
    await state.clear()
    await message.answer(t("staff.note_saved" if internal else "staff.message_sent", number=outcome.appeal.number))


async def decide_extension(query: CallbackQuery, callback_data: AppealCb, actor: Actor, t: Translator,
                           services: Services, renderer: Renderer) -> None:
    outcome = await services.appeals.decide_extension(actor, callback_data.id, callback_data.arg == "1")
    a = outcome.appeal
    key = "staff.extension_approved" if a.extension_status == "approved" else "staff.extension_denied"
    await query.answer()
    await query.message.answer(t(key, number=a.number, due=renderer.when(a.reply_due)))


async def all_categories(query: CallbackQuery, callback_data: AppealCb, actor: Actor, t: Translator,
                         services: Services, renderer: Renderer) -> None:
    detail = await services.appeals.view(actor, callback_data.id)
    names = {c.id: renderer.category(t, c.id) for c in services.settings.routing.categories}
    await query.answer()
    await query.message.answer(t("appeal.choose_category"), reply_markup=keyboards.categories(
        services.settings.routing, names, detail.appeal.id, "dispto"))


async def dispatch(query: CallbackQuery, callback_data: AppealCb, actor: Actor, t: Translator,
                   services: Services, renderer: Renderer) -> None:
    """派单 by a dispatcher: the department gets the card, the enterprise is told where it went."""
    outcome = await services.appeals.dispatch(actor, callback_data.id, callback_data.arg)
    await query.answer()
    await query.message.answer(t("staff.dispatched", number=outcome.appeal.number,
                                 department=renderer.department(t, outcome.appeal.department_id)))


async def console_link(message: Message, actor: Actor, t: Translator, services: Services) -> None:
    """/console: a one-time login link to the web console, valid 10 minutes (staff only)."""
    if not actor.is_staff:
        await message.answer(t("common.staff_only"))
        return
    token = await services.web.create_login_link(actor.user_id, datetime.now(UTC))
    url = f"{services.settings.web.base_url()}/console/login?token={token}"
    await message.answer(t("staff.console_link", url=url), disable_web_page_preview=True)


async def report(message: Message, command: CommandObject, actor: Actor, t: Translator, services: Services) -> None:
    """/report [days]: the supervisors' Excel report (default: the last 30 days)."""
    days = parse_small_int(command.args, low=1, high=3660, key="error.bad_days") if command.args else 30
    now = datetime.now(UTC)
    appeals, names = await services.appeals.report(actor, now - timedelta(days=days))
    end = now.astimezone(ZoneInfo(services.settings.center.timezone)).date()
    overview = await services.figures.overview(actor, end - timedelta(days=days - 1), end, fresh=True)
    data = build_report(appeals, names, services.settings, t, now, overview)
    name = f"万企诉求报表_{now.strftime('%Y%m%d')}.xlsx"
    await message.answer_document(BufferedInputFile(data, filename=name),
                                  caption=t("staff.report_caption", days=days, count=len(appeals))
                                  + "\n" + figures_line(t, overview))


async def withdraw(message: Message, command: CommandObject, actor: Actor, t: Translator, services: Services) -> None:
    """/withdraw NUMBER REASON: a supervisor withdraws an appeal; the reason is recorded and the enterprise told."""
    ref, _, reason = (command.args or "").strip().partition(" ")
    if not ref:
        await message.answer(t("staff.withdraw_usage"))
        return
    detail = await services.appeals.view(actor, ref)
    outcome = await services.appeals.withdraw(actor, detail.appeal.id, reason)
    await message.answer(t("staff.withdraw_done", number=outcome.appeal.number))
