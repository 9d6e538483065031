"""`wanqi run`: production long polling with the scheduler, on the configured Bot API server."""

from __future__ import annotations

import logging
from typing import Any

from bot.app import App, build_app
from bot.commands import set_default_menu
from bot.config import Settings
from bot.scheduler import build_scheduler

log = logging.getLogger(__name__)


async def serve(app: App, *, handle_signals: bool = True) -> None:
    """Poll until stopped: default menus and the scheduler start with the dispatcher and stop with it."""
    scheduler = app.scheduler = build_scheduler(app.services, app.notifier, bot=app.bot, db=app.db,
                                                desk=app.policy_desk)

    async def on_startup() -> None:
        await set_default_menu(app.bot)
        scheduler.start()
        if app.settings.web.enabled:
            app.web_runner = await start_web(app)
        log.info("Wanqi started: %d departments, NLU backend %s", len(app.settings.departments),
                 app.settings.nlu.backend)

    async def on_shutdown() -> None:
        scheduler.shutdown(wait=False)
        if app.web_runner is not None:
            await app.web_runner.cleanup()
            app.web_runner = None

    app.dp.startup.register(on_startup)
    app.dp.shutdown.register(on_shutdown)
    await app.dp.start_polling(app.bot, polling_timeout=app.settings.telegram.polling_timeout,
                               handle_signals=handle_signals, close_bot_session=False)


async def start_web(app: App) -> Any:
    """The console and the Open311 API in this process, on web.listen, over the same services."""
    from bootstrap import SystemClock
    from web.context import WebContext
    from web.server import start

    clock = app.core.clock if app.core is not None else SystemClock()
    return await start(WebContext(app.settings, app.services, clock, tell=app.notifier.deliver))


async def run_polling(settings: Settings) -> None:
    assert settings.bot_token
    app = build_app(settings, token=settings.bot_token)
    try:
        await serve(app)
    finally:
        await app.close()
