"""/start, enterprise registration step by step, ownership claims, and staff /join."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from appeals.model import Actor, Role
from appeals.reference import INDUSTRIES
from appeals.registration import check_credit_code, check_name, check_phone
from bot import keyboards
from bot.callbacks import ClaimCb, RegCb
from bot.commands import set_menu
from bot.render import Renderer
from bot.services import Services
from bot.states import Register
from texts import Translator

TEXT = F.text & ~F.text.startswith("/")
# Each typed step: (state, draft field, validator, next state, prompt key of the next step).
TYPED_STEPS = {
    Register.name.state: ("name", check_name, Register.credit_code, "register.ask_credit_code", None),
    Register.credit_code.state: ("credit_code", check_credit_code, Register.contact, "register.ask_contact", None),
    Register.contact.state: ("contact", check_name, Register.phone, "register.ask_phone", None),
    Register.phone.state: ("phone", check_phone, Register.industry, "register.ask_industry", "industries"),
}
CHOICE_STEPS = {
    "industry": (Register.scale, "register.ask_scale", keyboards.scales),
    "scale": (Register.district, "register.ask_district", keyboards.districts),
    "district": (Register.confirm, None, None),
}


def router() -> Router:
    r = Router(name="start")
    r.message.register(start, CommandStart())
    r.callback_query.register(begin, RegCb.filter(F.field == "begin"))
    r.message.register(typed_step, StateFilter(*TYPED_STEPS), TEXT)
    r.message.register(use_buttons, StateFilter(Register.industry, Register.scale, Register.district,
                                                 Register.confirm), TEXT)
    r.callback_query.register(choice_step, RegCb.filter(F.field.in_(CHOICE_STEPS)))
    r.callback_query.register(confirm, RegCb.filter(F.field == "confirm"), StateFilter(Register.confirm))
    r.callback_query.register(decide_claim, ClaimCb.filter())
    r.message.register(join, Command("join"))
    return r


async def start(message: Message, actor: Actor, t: Translator, services: Services, state: FSMContext) -> None:
    """Greet by role; an unregistered user is invited to register."""
    await state.clear()
    await set_menu(message.bot, actor)
    center = services.settings.center.name
    if actor.role is None:
        pending = await services.registration.has_pending_claim(actor.user_id)
        key = "common.claim_pending" if pending else "common.welcome_new"
        markup = None if pending else keyboards.start_registration(t)
        await message.answer(t(key, center=center), reply_markup=markup)
    elif actor.role is Role.ENTERPRISE:
        enterprise = await services.registration.enterprise_of(actor)
        await message.answer(t("common.welcome_enterprise", enterprise=enterprise.name if enterprise else ""))
    else:
        dept = services.settings.departments.get(actor.department_id or "", "")
        await message.answer(t(f"common.welcome_{actor.role.value}", department=dept) + "\n\n" + t("common.help_staff"))


async def begin(query: CallbackQuery, actor: Actor, t: Translator, state: FSMContext) -> None:
    await query.answer()
    if actor.role is not None:
        await query.message.answer(t("error.already_registered"))
        return
    await state.set_state(Register.name)
    await query.message.answer(t("register.ask_name"))


async def typed_step(message: Message, t: Translator, state: FSMContext) -> None:
    """A typed registration answer: validated at once, the same step asked again on error."""
    field, check, next_state, prompt, markup = TYPED_STEPS[await state.get_state() or ""]
    value = check(message.text)  # InvalidInput -> polite message from the errors router, step kept
    await state.update_data({field: value})
    await state.set_state(next_state)
    await message.answer(t(prompt), reply_markup=keyboards.industries(t) if markup else None)


async def use_buttons(message: Message, t: Translator) -> None:
    await message.answer(t("register.use_buttons"))


async def choice_step(query: CallbackQuery, callback_data: RegCb, t: Translator, state: FSMContext) -> None:
    expected = {"industry": Register.industry, "scale": Register.scale, "district": Register.district}
    if await state.get_state() != expected[callback_data.field].state:
        await query.answer(t("common.button_stale"), show_alert=True)
        return
    await query.answer()
    if callback_data.field == "industry" and callback_data.value == keyboards.MORE:
        await query.message.edit_reply_markup(reply_markup=keyboards.industries(t, everything=True))
        return
    await state.update_data({callback_data.field: callback_data.value})
    next_state, prompt, markup = CHOICE_STEPS[callback_data.field]
    await state.set_state(next_state)
    if prompt is None:
        draft = await state.get_data()
        summary = {**draft, "industry": f"{draft['industry']} {INDUSTRIES.get(draft['industry'], '')}"}
        await query.message.answer(t("register.confirm", **summary), reply_markup=keyboards.confirm_registration(t))
    else:
        await query.message.answer(t(prompt), reply_markup=markup() if markup else None)


async def confirm(
    query: CallbackQuery, callback_data: RegCb, actor: Actor, t: Translator, state: FSMContext,
    services: Services,
) -> None:
    """Register (or file a claim) from the confirmed draft."""
    await query.answer()
    if callback_data.value != "1":
        await state.set_state(Register.name)
        await query.message.answer(t("register.ask_name"))
        return
    result = await services.registration.register(actor, await state.get_data())
    await state.clear()
    if result.owner:
        await query.message.answer(t("register.done", name=result.enterprise.name))
        await set_menu(query.bot, await services.registration.actor(actor.user_id))
        return
    await query.message.answer(t("register.claim_filed"))  # the owner and supervisors are asked via the outbox


async def decide_claim(
    query: CallbackQuery, callback_data: ClaimCb, actor: Actor, t: Translator, services: Services,
    ) -> None:
    await services.registration.decide_claim(actor, callback_data.id, callback_data.ok)
    await query.answer(t("register.claim_decided"))  # the claimant is told via the outbox


async def join(message: Message, command: CommandObject, actor: Actor, t: Translator, services: Services,
               renderer: Renderer) -> None:
    """/join CODE: become a handler, dispatcher or supervisor with a one-time invite code."""
    if not command.args:
        await message.answer(t("register.join_usage"))
        return
    staff = await services.registration.join(actor, command.args)
    dept = f" · {renderer.department(t, staff.department_id)}" if staff.department_id else ""
    await message.answer(t("register.joined", role=t(f"role.{staff.role}"), department=dept))
    await set_menu(message.bot, staff)
