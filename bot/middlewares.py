"""Update-level middlewares: drop redelivered updates, and map the Telegram user to a domain Actor."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User

from bot.services import Services
from bot.texts import locale_for, translator

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class OnceMiddleware(BaseMiddleware):
    """An update that arrives twice (same update_id) has effect once; failed updates stay retryable."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        if await self.services.repo.seen_update(event.update_id):
            log.info("update %s already processed: skipped", event.update_id)
            return None
        result = await handler(event, data)
        await self.services.repo.mark_update(event.update_id, datetime.now(UTC))
        return result


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
