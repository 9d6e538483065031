"""Policy push in the chat: /profile, /subscribe, /unsubscribe, /policies [关键词], /broadcast (supervisors)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from appeals.model import Actor, Role
from bot.callbacks import BroadcastCb, PolicyCb, ProfileCb, TopicCb
from bot.keyboards import broadcast_confirm, policy_details, profile_tags, topic_choices
from bot.states import ProfileEdit
from policies.model import TAGS, TOPICS
from texts import Translator

if TYPE_CHECKING:
    from bot.policy_wiring import PolicyDesk

async def on_policies(message: Message, command: CommandObject, actor: Actor, t: Translator,
                      policy_service: PolicyDesk) -> None:
    """/policies: the best current matches; /policies 关键词: search the catalogue."""
    if command.args and command.args.strip():
        text, ids = await policy_service.search_text(command.args.strip(), t)
    elif actor.enterprise_id is None:
        await message.answer(t("policies.not_enterprise"))
        return
    else:
        text, ids = await policy_service.matches_text(actor.enterprise_id, t)
    await message.answer(text, reply_markup=policy_details(ids, t))


async def on_details(query: CallbackQuery, callback_data: PolicyCb, t: Translator,
                     policy_service: PolicyDesk) -> None:
    """A policy's full card."""
    text = await policy_service.details_text(callback_data.id, t)
    await query.answer()
    if query.message is not None:
        await query.message.answer(text or t("policies.not_found"))


async def on_profile(message: Message, actor: Actor, t: Translator, policy_service: PolicyDesk) -> None:
    """/profile: the enterprise profile with tag toggles and edit buttons."""
    if actor.enterprise_id is None:
        await message.answer(t("policies.not_enterprise"))
        return
    text, tags = await policy_service.profile_text(actor.enterprise_id, t)
    await message.answer(text, reply_markup=profile_tags(tags, t))


async def on_profile_button(query: CallbackQuery, callback_data: ProfileCb, actor: Actor, t: Translator,
                            state: FSMContext, policy_service: PolicyDesk) -> None:
    """Tag toggles, and the year / business prompts."""
    await query.answer()
    if actor.enterprise_id is None or query.message is None:
        return
    if callback_data.act == "tag" and 0 <= callback_data.i < len(TAGS):
        await policy_service.toggle_tag(actor.enterprise_id, TAGS[callback_data.i])
        text, tags = await policy_service.profile_text(actor.enterprise_id, t)
        await query.message.edit_text(text, reply_markup=profile_tags(tags, t))  # type: ignore[union-attr]
    elif callback_data.act in ("year", "biz"):
        await state.set_state(ProfileEdit.year if callback_data.act == "year" else ProfileEdit.business)
        await query.message.answer(t("policies.ask_year" if callback_data.act == "year" else "policies.ask_business"))
    else:
        await query.message.edit_reply_markup(reply_markup=None)  # type: ignore[union-attr]
        await query.message.answer(t("policies.profile_saved"))


async def on_profile_input(message: Message, actor: Actor, t: Translator, state: FSMContext,
                           policy_service: PolicyDesk) -> None:
    """The typed founding year or main business."""
    field = "year" if await state.get_state() == ProfileEdit.year.state else "business"
    if actor.enterprise_id is None:
        await state.clear()
        return
    if not await policy_service.edit_profile(actor.enterprise_id, field, message.text or ""):
        await message.answer(t("policies.bad_year" if field == "year" else "policies.bad_business"))
        return
    await state.clear()
    text, tags = await policy_service.profile_text(actor.enterprise_id, t)
    await message.answer(t("policies.profile_saved") + "\n\n" + text, reply_markup=profile_tags(tags, t))


async def on_subscribe(message: Message, actor: Actor, t: Translator, policy_service: PolicyDesk) -> None:
    """/subscribe: switch the weekly digest on and choose topics."""
    if actor.enterprise_id is None:
        await message.answer(t("policies.not_enterprise"))
        return
    sub = await policy_service.set_weekly(actor.user_id, actor.enterprise_id, True)
    await message.answer(t("policies.subscribe_title"), reply_markup=topic_choices(sub.topics, t))


async def on_topic(query: CallbackQuery, callback_data: TopicCb, actor: Actor, t: Translator,
                   policy_service: PolicyDesk) -> None:
    """Topic toggles and the closing confirmation."""
    await query.answer()
    if query.message is None or actor.enterprise_id is None:
        return
    if callback_data.act == "topic" and 0 <= callback_data.i < len(TOPICS):
        sub = await policy_service.toggle_topic(actor.user_id, actor.enterprise_id, TOPICS[callback_data.i])
        await query.message.edit_reply_markup(reply_markup=topic_choices(sub.topics, t))  # type: ignore[union-attr]
        return
    sub = await policy_service.subscription(actor.user_id)
    topics = "、".join(sub.topics) or t("policies.all_topics")
    await query.message.edit_text(t("policies.subscribed", topics=topics))  # type: ignore[union-attr]


async def on_unsubscribe(message: Message, actor: Actor, t: Translator, policy_service: PolicyDesk) -> None:
    """/unsubscribe: no more weekly digests."""
    if actor.enterprise_id is None:
        await message.answer(t("policies.not_enterprise"))
        return
    await policy_service.set_weekly(actor.user_id, actor.enterprise_id, False)
    await message.answer(t("policies.unsubscribed"))


async def on_broadcast(message: Message, command: CommandObject, actor: Actor, t: Translator,
                       policy_service: PolicyDesk) -> None:
    """/broadcast: preview this week's push (supervisors); /broadcast stats: deliveries per week."""
    if actor.role is not Role.SUPERVISOR:
        await message.answer(t("policies.not_allowed"))
        return
    if (command.args or "").strip().lower() in ("stats", "统计"):
        await message.answer(await policy_service.stats_text(t))
        return
    preview, count = await policy_service.preview_text(t)
    await message.answer(preview, reply_markup=broadcast_confirm(t) if count else None)


async def on_broadcast_button(query: CallbackQuery, callback_data: BroadcastCb, actor: Actor, t: Translator,
                              policy_service: PolicyDesk) -> None:
    """Confirm sends this week's push now through the broadcaster; cancel leaves it to the schedule."""
    await query.answer()
    if query.message is None:
        return
    if actor.role is not Role.SUPERVISOR:
        await query.message.answer(t("policies.not_allowed"))
        return
    await query.message.edit_reply_markup(reply_markup=None)  # type: ignore[union-attr]
    if callback_data.act != "go":
        await query.message.answer(t("policies.broadcast_cancelled"))
        return
    await query.message.answer(await policy_service.push_now_text(t))


def router() -> Router:
    """The policy router; services arrive by name (``policy_service``, ``actor``, ``t``)."""
    r = Router(name="policies")
    r.message.register(on_policies, Command("policies"))
    r.message.register(on_profile, Command("profile"))
    r.message.register(on_subscribe, Command("subscribe"))
    r.message.register(on_unsubscribe, Command("unsubscribe"))
    r.message.register(on_broadcast, Command("broadcast"))
    r.message.register(on_profile_input, StateFilter(ProfileEdit.year, ProfileEdit.business),
                       F.text, ~F.text.startswith("/"))
    r.callback_query.register(on_details, PolicyCb.filter())
    r.callback_query.register(on_profile_button, ProfileCb.filter())
    r.callback_query.register(on_topic, TopicCb.filter())
    r.callback_query.register(on_broadcast_button, BroadcastCb.filter())
    return r
