"""The enterprise's side: file an appeal (text, photos, files), correct its category, follow, withdraw, rate."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, Update

from appeals.model import Actor, Attachment, Role
from appeals.ports import ParseResult
from appeals.routing import Step
from bot import keyboards
from bot.callbacks import AppealCb, IntakeCb
from bot.render import Renderer
from bot.services import Services
from bot.states import Compose, Work
from texts import Translator

log = logging.getLogger(__name__)
TEXT = F.text & ~F.text.startswith("/")


def router() -> Router:
    r = Router(name="enterprise")
    r.message.register(new, Command("new"))
    r.message.register(my, Command("my"))
    r.message.register(attachment, StateFilter(None, Compose.text), F.photo | F.document)
    r.message.register(file_appeal, StateFilter(None, Compose.text), TEXT)
    r.message.register(followup, StateFilter(Work.followup), TEXT)
    r.message.register(followup_files, StateFilter(Work.followup), F.photo | F.document)
    r.callback_query.register(intake_choice, IntakeCb.filter())
    r.callback_query.register(ask_followup, AppealCb.filter(F.act == "fu"))
    r.callback_query.register(choose_category, AppealCb.filter(F.act == "fix"))
    r.callback_query.register(correct, AppealCb.filter(F.act == "fixto"))
    r.callback_query.register(ask_withdraw, AppealCb.filter(F.act == "wd"))
    r.callback_query.register(withdraw, AppealCb.filter(F.act == "wdy"))
    r.callback_query.register(rate, AppealCb.filter(F.act == "rate"))
    return r


async def new(message: Message, actor: Actor, t: Translator) -> None:
    await message.answer(t("common.new_prompt") if actor.role is Role.ENTERPRISE else t("common.need_register"))


async def file_appeal(
    message: Message, actor: Actor, t: Translator, services: Services, renderer: Renderer,
    state: FSMContext, event_update: Update, policy_service: Any = None,
) -> None:
    """Free text: dialogue is answered, a short or undecided text asks for more, several topics are confirmed,
    an appeal is filed; the number is sent only after the appeal is committed."""
    if actor.role is not Role.ENTERPRISE:
        await message.answer(t("common.help_staff") if actor.is_staff else t("common.need_register"))
        return
    draft = (await state.get_data()).get("draft")
    text = f"{draft}\n{message.text}" if draft else (message.text or "")
    intake, parsed = await services.appeals.intake(actor, text)
    if intake.step is Step.DIALOGUE:
        await message.answer(t(f"dialogue.{intake.act}") if t.has(f"dialogue.{intake.act}") else t("dialogue.help"))
        return
    if intake.step is Step.FILE:
        await _submit(message, text, actor, t, services, renderer, state, event_update, policy_service,
                      parsed=parsed)
        return
    await state.set_state(Compose.text)
    await state.update_data(draft=text)
    if intake.step is Step.CONFIRM:
        names = {c: renderer.category(t, c) for c in intake.candidates}
        await message.answer(t("dialogue.several", topics="、".join(names.values())),
                             reply_markup=keyboards.topics(t, intake.candidates, names))
    else:
        await message.answer(t("dialogue.clarify"), reply_markup=keyboards.file_as_is(t))


async def intake_choice(query: CallbackQuery, callback_data: IntakeCb, actor: Actor, t: Translator,
                        services: Services, renderer: Renderer, state: FSMContext,
                        event_update: Update, policy_service: Any = None) -> None:
    """作为诉求提交 / a chosen category / 一并提交 for the message kept as a draft."""
    await query.answer()
    draft = (await state.get_data()).get("draft")
    if actor.role is not Role.ENTERPRISE or not draft or not isinstance(query.message, Message):
        await query.message.answer(t("dialogue.expired"))  # type: ignore[union-attr]
        return
    options: dict[str, Any] = {}
    if callback_data.act == "cat":
        options["chosen"] = callback_data.arg
    elif callback_data.act == "all":
        options["topics"] = tuple((await services.appeals.intake(actor, draft))[0].candidates)
    await _submit(query.message, draft, actor, t, services, renderer, state, event_update,
                  policy_service, **options)


async def _submit(
    message: Message, text: str | None, actor: Actor, t: Translator, services: Services,
    renderer: Renderer, state: FSMContext, event_update: Update, policy_service: Any = None, *,
    parsed: ParseResult | None = None, topics: tuple[str, ...] = (), chosen: str | None = None,
) -> None:
    pending = [Attachment(**a) for a in (await state.get_data()).get("attachments", [])]
    sub = await services.appeals.submit(actor, text, pending, source_update_id=event_update.update_id,
                                        parsed=parsed, topics=topics, chosen=chosen)
    await state.clear()
    if sub.duplicate:  # the same update again (a redelivery after a crash): its acknowledgement is queued already
        return
    # the acknowledgement and the department's card were committed with the appeal, as outbox rows
    if sub.appeal.category == "policy" and policy_service is not None:
        answer = await policy_service.answer_for_appeal(actor.enterprise_id, sub.appeal.text, t)
        if answer:  # queued after the acknowledgement, so it arrives after it
            await services.outbox.add_text(actor.user_id, answer, lang=actor.lang)


async def attachment(message: Message, actor: Actor, t: Translator, state: FSMContext, services: Services,
                     renderer: Renderer, event_update: Update, policy_service: Any = None) -> None:
    """A photo or file: with a caption it files an appeal at once, otherwise it waits for the text."""
    if actor.role is not Role.ENTERPRISE:
        await message.answer(t("common.need_register") if not actor.is_staff else t("common.help_staff"))
        return
    data = await state.get_data()
    await state.update_data(attachments=[*data.get("attachments", []), _attachment(message)])
    if message.caption:
        await _submit(message, message.caption, actor, t, services, renderer, state, event_update,
                      policy_service)
        return
    await state.set_state(Compose.text)
    await message.answer(t("appeal.attachment_saved", count=len(data.get("attachments", [])) + 1))


async def my(message: Message, actor: Actor, t: Translator, services: Services, renderer: Renderer) -> None:
    """/my: the enterprise's appeals with status and deadline, newest first."""
    if actor.role is not Role.ENTERPRISE:
        await message.answer(t("common.need_register") if not actor.is_staff else t("common.help_staff"))
        return
    appeals = await services.appeals.listing(actor, open_only=False, limit=20)
    if not appeals:
        await message.answer(t("appeal.my_empty"))
        return
    lines = [t("appeal.my_header", count=len(appeals))]
    lines += [renderer.listing_line(t, a, None, enterprise=True) for a in appeals]
    await message.answer("\n".join(lines), reply_markup=keyboards.view_buttons(t, appeals))


async def choose_category(query: CallbackQuery, callback_data: AppealCb, actor: Actor, t: Translator,
                          services: Services, renderer: Renderer) -> None:
    view = await services.appeals.view(actor, callback_data.id)  # NotFound for someone else's appeal
    names = {c.id: renderer.category(t, c.id) for c in services.settings.routing.categories}
    await query.answer()
    await query.message.answer(t("appeal.choose_category"),
                               reply_markup=keyboards.categories(services.settings.routing, names, view.appeal.id,
                                                                 "fixto"))


async def correct(query: CallbackQuery, callback_data: AppealCb, actor: Actor, t: Translator,
                  services: Services, renderer: Renderer) -> None:
    """The enterprise corrects the predicted category: re-routed, kept as training feedback."""
    outcome = await services.appeals.dispatch(actor, callback_data.id, callback_data.arg)
    a = outcome.appeal
    await query.answer()
    await query.message.answer(t("appeal.corrected", category=renderer.category(t, a.category),
                                 department=renderer.department(t, a.department_id)))


async def ask_withdraw(query: CallbackQuery, callback_data: AppealCb, actor: Actor, t: Translator,
                       services: Services) -> None:
    view = await services.appeals.view(actor, callback_data.id)
    await query.answer()
    await query.message.answer(t("appeal.withdraw_confirm", number=view.appeal.number),
                               reply_markup=keyboards.withdraw_confirm(t, view.appeal.id))


async def withdraw(query: CallbackQuery, callback_data: AppealCb, actor: Actor, t: Translator,
                   services: Services) -> None:
    outcome = await services.appeals.withdraw(actor, callback_data.id)
    await query.answer()
    await query.message.answer(t("appeal.withdrawn", number=outcome.appeal.number))


async def rate(query: CallbackQuery, callback_data: AppealCb, actor: Actor, t: Translator,
               services: Services, renderer: Renderer) -> None:
    """好差评: 5/4/3 close, 2/1 reopen and tell supervisors."""
    score = int(callback_data.arg) if callback_data.arg.isascii() and callback_data.arg.isdigit() else 0
    outcome = await services.appeals.rate(actor, callback_data.id, score)
    key = "appeal.rated_poor" if outcome.appeal.status.value == "reopened" else "appeal.rated_good"
    await query.answer()
    await query.message.answer(t(key, number=outcome.appeal.number, rating=renderer.rating(t, score)))


async def ask_followup(query: CallbackQuery, callback_data: AppealCb, actor: Actor, t: Translator,
                       services: Services, state: FSMContext) -> None:
    view = await services.appeals.view(actor, callback_data.id)
    await state.set_state(Work.followup)
    await state.update_data(appeal_id=view.appeal.id)
    await query.answer()
    await query.message.answer(t("appeal.followup_prompt", number=view.appeal.number))


async def followup(message: Message, actor: Actor, t: Translator, services: Services,
                   state: FSMContext) -> None:
    """A follow-up from the enterprise reaches the handler and stays on the record."""
    appeal_id = (await state.get_data())["appeal_id"]
    outcome = await services.appeals.message(actor, appeal_id, message.text)
    await state.clear()
    await message.answer(t("appeal.followup_sent", number=outcome.appeal.number))



def _attachment(message: Message) -> dict[str, str]:
    if message.photo:
        return {"kind": "photo", "file_id": message.photo[-1].file_id, "file_name": ""}
    assert message.document is not None
    return {"kind": "document", "file_id": message.document.file_id, "file_name": message.document.file_name or ""}


async def followup_files(message: Message, actor: Actor, t: Translator, services: Services,
                         state: FSMContext) -> None:
    """补充材料: a photo or file sent after 补充说明 goes onto the appeal and to its handler."""
    appeal_id = (await state.get_data())["appeal_id"]
    outcome = await services.appeals.add_files(actor, appeal_id, [Attachment(**_attachment(message))])
    if message.caption:
        await services.appeals.message(actor, appeal_id, message.caption)
    await state.clear()
    await message.answer(t("appeal.attachment_added", number=outcome.appeal.number))
