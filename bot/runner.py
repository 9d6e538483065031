"""`wanqi run`: production long polling with the scheduler, on the configured Bot API server.

Before polling it waits for the Bot API like a service waits for its network: one log line per attempt,
back-off from 1 s up to a minute, forever; a token Telegram refuses stops it with one clear line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import User

from bot.app import App, build_app
from bot.commands import set_default_menu
from bot.config import Settings
from bot.scheduler import build_scheduler
from bot.texts import cli_text

log = logging.getLogger(__name__)
TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")
_TRANSIENT = (TelegramNetworkError, TelegramServerError, TelegramRetryAfter, asyncio.TimeoutError, OSError)


class BotApiRefused(Exception):
    """The Bot API answered but refuses us: a wrong token (401) or a wrong address or token format (404)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def valid_token(token: str) -> bool:
    """The shape @BotFather hands out: digits, a colon, letters/digits/_/-."""
    return bool(TOKEN.match(token))


def quiet_library_logs() -> None:
    """Start-up shows what an operator needs; apscheduler's and aiogram's per-job and per-update INFO go."""
    for name in ("apscheduler", "aiogram.event", "aiogram.dispatcher"):
        logging.getLogger(name).setLevel(logging.WARNING)


def wanqi_version() -> str:
    try:
        return version("wanqi")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "dev"


async def wait_for_bot_api(bot: Bot, api_base: str, *, first_delay: float = 1.0, max_delay: float = 60.0,
                           sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> User:
    """``getMe`` until it answers; network and server errors are retried with back-off, refusals raised."""
    delay, attempt = first_delay, 1
    while True:
        try:
            return await bot.get_me()
        except TelegramUnauthorizedError:
            raise BotApiRefused("cli.run.token_rejected") from None
        except TelegramNotFound:
            raise BotApiRefused("cli.run.not_found") from None
        except _TRANSIENT as exc:
            log.warning("Bot API %s unreachable (attempt %d: %s); retrying in %.0f s",
                        api_base, attempt, type(exc).__name__, delay)
        await sleep(delay)
        delay, attempt = min(delay * 2, max_delay), attempt + 1


async def serve(app: App, *, handle_signals: bool = True, stop: asyncio.Event | None = None,
                announce: Callable[[str], None] | None = None) -> None:
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
        if app.settings.web.enabled:
            app.web_runner = await start_web(app)
        log.info("Wanqi started: %d departments, NLU backend %s", len(app.settings.departments),
                 app.settings.nlu.backend)
        if announce is not None:
            jobs = "，".join(f"{job.id} {job.next_run_time:%m-%d %H:%M}" for job in scheduler.get_jobs())
            announce(cli_text("cli.run.jobs", jobs=jobs))
            if app.web_runner is not None:
                announce(cli_text("cli.run.web", url=app.settings.web.base_url()))
        await app.intake.recover()
        await app.intake.poll(stop)
    finally:
        await app.intake.stop()
        scheduler.shutdown(wait=False)
        if app.web_runner is not None:
            await app.web_runner.cleanup()
            app.web_runner = None
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


async def start_web(app: App) -> Any:
    """The console and the Open311 API in this process, on web.listen, over the same services."""
    from bootstrap import SystemClock
    from web.context import WebContext
    from web.server import start

    clock = app.core.clock if app.core is not None else SystemClock()
    return await start(WebContext(app.settings, app.services, clock, tell=app.notifier.deliver))


async def run_polling(settings: Settings, announce: Callable[[str], None] | None = None) -> None:
    """Build the app, wait for the Bot API, say who we are, then poll."""
    assert settings.bot_token
    app = build_app(settings, token=settings.bot_token)
    try:
        me = await wait_for_bot_api(app.bot, settings.telegram.api_base)
        if announce is not None:
            announce(cli_text("cli.run.started", version=wanqi_version(), bot=me.username or me.id,
                              database=settings.path(settings.database)))
        await serve(app, announce=announce)
    finally:
        await app.close()
