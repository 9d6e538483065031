"""/help, /lang, /cancel, and polite answers to everything the bot does not understand."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from appeals.model import Actor
from bot import keyboards
from bot.callbacks import LangCb
from bot.commands import set_menu
from bot.services import Services
from texts import Translator, translator

UNSUPPORTED = {"sticker": "common.kind_sticker", "voice": "common.kind_voice", "video_note": "common.kind_voice",
               "video": "common.kind_video", "animation": "common.kind_video"}


def first() -> Router:
    """Commands that must win over any conversation step."""
    r = Router(name="common-first")
    r.message.register(cancel, Command("cancel"))
    r.message.register(help_, Command("help"))
    r.message.register(lang, Command("lang"))
    r.callback_query.register(set_lang, LangCb.filter())
    return r


def last() -> Router:
    """Fallbacks, included after every other router."""
    r = Router(name="common-last")
    r.message.register(unknown_command, F.text.startswith("/"))
    r.message.register(unsupported)
    r.callback_query.register(stale_button)
    r.edited_message.register(edited)
    return r


async def cancel(message: Message, t: Translator, state: FSMContext) -> None:
    had_step = await state.get_state() is not None
    await state.clear()
    await message.answer(t("common.cancelled" if had_step else "common.nothing_to_cancel"))


async def help_(message: Message, actor: Actor, t: Translator) -> None:
    await message.answer(t("common.help_staff" if actor.is_staff else "common.help"))


async def lang(message: Message, t: Translator) -> None:
    await message.answer(t("common.lang_choose"), reply_markup=keyboards.languages())


async def set_lang(query: CallbackQuery, callback_data: LangCb, actor: Actor, services: Services) -> None:
    await services.registration.set_lang(actor, callback_data.lang)
    t = translator(callback_data.lang)
    await query.answer()
    await query.message.answer(t("common.lang_set"))
    await set_menu(query.bot, await services.registration.actor(actor.user_id))


async def unknown_command(message: Message, t: Translator) -> None:
    await message.answer(t("common.unknown_command"))


async def unsupported(message: Message, t: Translator) -> None:
    """Stickers, voice, video, locations …: say what we accept instead."""
    kind = UNSUPPORTED.get(message.content_type, "common.kind_other")
    await message.answer(t("common.unsupported", kind=t(kind)))


async def stale_button(query: CallbackQuery, t: Translator) -> None:
    """A button whose payload we cannot read (forged, or from an older version)."""
    await query.answer(t("common.button_stale"), show_alert=True)


async def edited(message: Message, t: Translator) -> None:
    """An edit of a sent message changes nothing on record: say so, and how to add to an appeal."""
    await message.answer(t("common.edit_not_applied"))
