"""Per-role command menus (setMyCommands with a per-chat scope)."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from appeals.model import Actor, Role
from texts import translator

log = logging.getLogger(__name__)

MENUS: dict[Role | None, tuple[str, ...]] = {
    None: ("start", "help", "lang"),
    Role.ENTERPRISE: ("new", "my", "policies", "profile", "subscribe", "lang", "help", "cancel"),
    Role.HANDLER: ("queue", "view", "console", "lang", "help", "cancel"),
    Role.DISPATCHER: ("queue", "view", "console", "lang", "help", "cancel"),
    Role.SUPERVISOR: ("queue", "view", "report", "console", "broadcast", "staff", "lang", "help", "cancel"),
}


def commands_for(role: Role | None, lang: str) -> list[BotCommand]:
    t = translator(lang)
    return [BotCommand(command=c, description=t(f"common.menu.{c}")) for c in MENUS[role]
            if t.has(f"common.menu.{c}")]


async def set_default_menu(bot: Bot) -> None:
    for lang in ("zh-CN", "en"):
        await bot.set_my_commands(commands_for(None, lang), scope=BotCommandScopeDefault(),
                                  language_code=None if lang == "zh-CN" else "en")


async def set_menu(bot: Bot | None, actor: Actor) -> None:
    """Show this user the commands of their role; a failure here never blocks the conversation."""
    if bot is None or actor.role is Role.SYSTEM:
        return
    try:
        await bot.set_my_commands(commands_for(actor.role, actor.lang),
                                  scope=BotCommandScopeChat(chat_id=actor.user_id))
    except TelegramAPIError as exc:
        log.warning("menu for %s not set: %s", actor.user_id, type(exc).__name__)
