"""`wanqi run`: production long polling with the scheduler, on the configured Bot API server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from aiogram.exceptions import ClientDecodeError, TelegramAPIError

from bot.app import App, build_app
from bot.commands import set_default_menu
from bot.config import Settings
from bot.scheduler import build_scheduler

log = logging.getLogger(__name__)


async def serve(app: App, *, handle_signals: bool = True, stop: asyncio.Event | None = None) -> None:
    """Poll until stopped (SIGINT/SIGTERM or ``stop``): menus and the scheduler start and stop with it.

    Updates are committed to the inbox before Telegram is told they arrived (bot/intake.py); those a
    previous run stored but did not finish are handled first.
    """
    stop = stop or asyncio.Event()
    scheduler = app.scheduler = build_scheduler(app.services, app.notifier, bot=app.bot, db=app.db,
                                                desk=app.policy_desk)
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    workflow = {"dispatcher": app.dp, "bots": (app.bot,), **app.dp.workflow_data}
    await app.dp.emit_startup(bot=app.bot, **workflow)
    try:
        try:
            await set_default_menu(app.bot)
        except (TelegramAPIError, ClientDecodeError) as exc:  # an outage at start-up must not stop the intake
            log.warning("default menu not set: %s", type(exc).__name__)
        scheduler.start()
        log.info("Wanqi started: %d departments, NLU backend %s", len(app.settings.departments),
                 app.settings.nlu.backend)
        await app.intake.recover()
        await app.intake.poll(stop)
    finally:
        await app.intake.stop()
        scheduler.shutdown(wait=False)
        await app.dp.emit_shutdown(bot=app.bot, **workflow)
        log.info("Wanqi stopped: %s", app.intake.counts_text())


@contextlib.asynccontextmanager
async def running(app: App) -> AsyncIterator[None]:
    """``serve(app)`` for the body of the ``async with`` (the demo and tests), then a clean stop."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(app, handle_signals=False, stop=stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def run_polling(settings: Settings) -> None:
    assert settings.bot_token
    app = build_app(settings, token=settings.bot_token)
    try:
        await serve(app)
    finally:
        await app.close()
