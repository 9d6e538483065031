"""`wanqi run`: production long polling with the scheduler, on the configured Bot API server."""

from __future__ import annotations

import logging

from bot.app import build_app
from bot.commands import set_default_menu
from bot.config import Settings
from bot.scheduler import build_scheduler

log = logging.getLogger(__name__)


async def run_polling(settings: Settings) -> None:
    assert settings.bot_token
    app = build_app(settings, token=settings.bot_token)
    scheduler = build_scheduler(app.services, app.notifier, bot=app.bot, db=app.db, desk=app.policy_desk)

    async def on_startup() -> None:
        await set_default_menu(app.bot)
        scheduler.start()
        log.info("Wanqi started: %d departments, NLU backend %s", len(settings.departments), settings.nlu.backend)

    async def on_shutdown() -> None:
        scheduler.shutdown(wait=False)

    app.dp.startup.register(on_startup)
    app.dp.shutdown.register(on_shutdown)
    try:
        await app.dp.start_polling(app.bot, polling_timeout=settings.telegram.polling_timeout)
    finally:
        await app.close()
