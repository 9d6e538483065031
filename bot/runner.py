"""`wanqi run`: production long polling, the delivery worker and the scheduler, in the lease holder only.

One process per database holds the "primary" lease (storage/leases.py) and runs everything that
must not run twice: polling, the outbox's delivery worker, the SLA scan and the digests. A second
`wanqi run` on the same database (a deploy overlap) logs one line and waits as standby; it takes
over when the first one stops (it releases the lease) or dies (the lease expires after ``LEASE_TTL``).

Before polling it waits for the Bot API like a service waits for its network: one log line per attempt,
back-off from 1 s up to a minute, forever; a token Telegram refuses stops it with one clear line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import time
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

from bootstrap import settle_heap
from bot.app import App, build_app
from bot.commands import set_default_menu
from bot.scheduler import build_scheduler, catch_up
from config import Settings
from storage.leases import PRIMARY, holder_is_dead, new_holder_id
from texts import cli_text

log = logging.getLogger(__name__)
LEASE_TTL = 30.0  # seconds; renewed every third of it
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
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Ctrl-C landed inside the request and the HTTP client turned it into a network error
                raise asyncio.CancelledError from exc
            log.warning("Bot API %s unreachable (attempt %d: %s); retrying in %.0f s",
                        api_base, attempt, type(exc).__name__, delay)
        await sleep(delay)
        delay, attempt = min(delay * 2, max_delay), attempt + 1


class Primary:
    """This process's claim on the "primary" lease: wait for it, keep it, give it back."""

    def __init__(self, app: App, ttl: float = LEASE_TTL) -> None:
        assert app.core is not None
        self.app, self.leases, self.ttl = app, app.core.leases, ttl
        self.holder = new_holder_id()
        self.lost = asyncio.Event()

    async def _acquire(self) -> bool:
        ok: bool = await self.app.services.writer.run(self.leases.acquire, PRIMARY, self.holder, self.ttl, time.time())
        return ok

    async def wait(self) -> None:
        """Return once this process holds the lease (one log line if it has to wait).

        A holder that died on this host (kill -9) is taken over at once instead of after its lease runs out.
        """
        told = False
        while not await self._acquire():
            run = self.app.services.writer.run
            other = await run(self.leases.holder, PRIMARY, time.time())
            if other is not None and holder_is_dead(other) and \
                    await run(self.leases.take_over, PRIMARY, other, self.holder, self.ttl, time.time()):
                log.warning("took over as primary from %s, which is no longer running", other)
                return
            if not told:
                log.warning("standby: %s is the primary for this database; waiting to take over", other)
                told = True
            await asyncio.sleep(min(self.ttl / 3, 2.0))
        if told:
            log.info("took over as primary (%s)", self.holder)

    async def keep(self) -> None:
        """Renew until cancelled; set ``lost`` if another process took the lease meanwhile."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            if not await self._acquire():
                log.error("lost the primary lease: stopping this process's polling and sending")
                self.lost.set()
                return

    async def release(self) -> None:
        await self.app.services.writer.run(self.leases.release, PRIMARY, self.holder)


@contextlib.asynccontextmanager
async def background(app: App, primary: Primary) -> AsyncIterator[None]:
    """The lease holder's work beside polling: the delivery worker, the scheduler (missed runs made up),
    the lease renewal. On exit the worker finishes the sends in flight, so none is left uncertain."""
    assert app.delivery is not None and app.policy_desk is not None
    scheduler, cron = build_scheduler(app.services, app.notifier.render, app.policy_desk, db=app.db,
                                      holder=primary.holder)
    app.scheduler = scheduler
    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(app.delivery.run(), name="delivery"),
                                      asyncio.create_task(primary.keep(), name="lease")]
    scheduler.start()
    tasks.append(asyncio.create_task(catch_up(cron), name="catch-up"))
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)
        app.delivery.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(tasks[0]), app.delivery.request_timeout + 10)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


WebStarter = Callable[[App], Awaitable[Any]]  # starts the HTTP side for this app; returns what has .cleanup()


async def serve(app: App, *, handle_signals: bool = True, stop: asyncio.Event | None = None,
                announce: Callable[[str], None] | None = None, lease_ttl: float = LEASE_TTL,
                web: WebStarter | None = None) -> None:
    """Wait for the lease, then poll until stopped (SIGINT/SIGTERM, ``stop``, or the lease lost), with the
    delivery worker and the scheduler alongside, and the HTTP side (``web``, given by the command line: the bot
    adapter does not know the web adapter) when ``web.enabled``.

    Updates are committed to the inbox before Telegram is told they arrived (bot/intake.py); those a
    previous run stored but did not finish are handled first.
    """
    stop = stop or asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    primary = Primary(app, lease_ttl)
    waiting = asyncio.create_task(primary.wait())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait([waiting, stopped], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not waiting.done():  # stopped while standing by
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        return
    workflow = {"dispatcher": app.dp, "bots": (app.bot,), **app.dp.workflow_data}
    await app.dp.emit_startup(bot=app.bot, **workflow)

    async def step_down() -> None:
        await primary.lost.wait()
        stop.set()

    watcher = asyncio.create_task(step_down())
    try:
        try:
            await set_default_menu(app.bot)
        except (TelegramAPIError, ClientDecodeError) as exc:  # an outage at start-up must not stop the intake
            log.warning("default menu not set: %s", type(exc).__name__)
        # the console's address is bound before any job runs and before "started" is said: a port taken by
        # another process stops the start with one line instead of after a make-up job (cli/main.py)
        if web is not None and app.settings.web.enabled:  # the console and the partner API
            app.web_runner = await web(app)
        try:
            async with background(app, primary):
                log.info("Wanqi started: %d departments, NLU backend %s", len(app.settings.departments),
                         app.settings.nlu.backend)
                if announce is not None:
                    announce(cli_text("cli.run.started", version=wanqi_version(), bot=app.me or "-",
                                      database=app.settings.path(app.settings.database)))
                if announce is not None and app.scheduler is not None:
                    jobs = "，".join(f"{job.id} {job.next_run_time:%m-%d %H:%M}" for job in app.scheduler.get_jobs())
                    announce(cli_text("cli.run.jobs", jobs=jobs))
                if announce is not None and app.web_runner is not None:
                    announce(cli_text("cli.run.web", url=app.settings.web.base_url()))
                try:
                    await app.intake.recover()
                    await app.intake.poll(stop)
                finally:
                    await app.intake.stop()
        finally:
            if app.web_runner is not None:
                await app.web_runner.cleanup()
                app.web_runner = None
    finally:
        watcher.cancel()
        await app.dp.emit_shutdown(bot=app.bot, **workflow)
        if not primary.lost.is_set():
            await primary.release()
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


async def run_polling(settings: Settings, announce: Callable[[str], None] | None = None,
                      web: WebStarter | None = None) -> None:
    """Build the app, wait for the Bot API, say who we are, then poll."""
    assert settings.bot_token
    app = build_app(settings, token=settings.bot_token)
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        # our own handlers: asyncio.run installs one for SIGINT only when the process was started with
        # Python's default, and a stop while waiting for the network must never be missed
        loop.add_signal_handler(sig, task.cancel)
    try:
        try:
            me = await wait_for_bot_api(app.bot, settings.telegram.api_base)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        app.me = me.username or str(me.id)  # said in the "started" line, once the console is bound
        settle_heap()
        await serve(app, announce=announce, web=web)
    finally:
        await app.close()
