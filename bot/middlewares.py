"""Update-level middlewares: private chats only, and the Telegram user mapped to a domain Actor."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, TelegramObject, Update, User

from bot.services import Offloaded, Services
from storage.inbox import Inbox
from texts import locale_for, translator

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class PrivateOnlyMiddleware(BaseMiddleware):
    """Groups, supergroups and channels: nothing is filed or shown; the chat is told once to write privately."""

    def __init__(self, inbox: Offloaded[Inbox]) -> None:
        self.inbox = inbox

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat: Chat | None = data.get("event_chat")
        if chat is None or chat.type == ChatType.PRIVATE:
            return await handler(event, data)
        assert isinstance(event, Update)
        user: User | None = data.get("event_from_user")
        t = translator(locale_for(user.language_code if user else None))
        if event.callback_query is not None:
            await event.callback_query.answer(t("common.private_only"), show_alert=True)
        if await self.inbox.tell_once(chat.id, str(chat.type), datetime.now(UTC)):
            try:
                await data["bot"].send_message(chat.id, t("common.private_only"))
            except TelegramAPIError as exc:
                log.info("could not answer in %s chat %s: %s", chat.type, chat.id, type(exc).__name__)
        log.info("update %s from a %s chat: ignored", event.update_id, chat.type)
        return None


class ActorMiddleware(BaseMiddleware):
    """Puts ``actor`` (who is acting, in domain terms) and ``t`` (their translator) into handler data."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is not None and not user.is_bot:
            actor = await self.services.registration.actor(user.id, user.full_name, locale_for(user.language_code))
            data["actor"] = actor
            data["t"] = translator(actor.lang)
        else:
            data["t"] = translator(None)
        return await handler(event, data)
