"""The Telegram side of the composition: Bot and Dispatcher over the core that bootstrap builds."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.methods.base import Response
from aiogram.types import Message, Update, User
from sqlite_utils import Database

from appeals.ports import Classifier, Clock
from bootstrap import Core, build_core
from bootstrap import SystemClock as SystemClock  # re-exported for older callers
from bootstrap import build_classifier as build_classifier
from bot import policy_wiring
from bot.delivery import DeliveryReport, DeliveryWorker
from bot.fsm import SqliteStorage
from bot.handlers import common, enterprise, errors, staff, start, team
from bot.intake import Intake, IntakeSettings
from bot.middlewares import ActorMiddleware, PrivateOnlyMiddleware
from bot.notifier import Notifier
from bot.render import Renderer
from bot.services import Offloaded, Services
from config import Settings
from storage.db import Writer, open_db
from storage.inbox import Inbox
from storage.outbox import Outbox

log = logging.getLogger(__name__)
DEFAULT_API = "https://api.telegram.org"
# aiogram parses every answer as Response[T], a generic pydantic model that pydantic caches weakly: the
# process kept building Response[Message] anew (a pydantic model class, schema and validator) for most
# sends, about 3 % of its CPU under a burst. Holding the answer types we use keeps them built once.
_ANSWER_TYPES = tuple(Response[t] for t in (Message, list[Update], bool, User, Message | bool))


@dataclass
class App:
    settings: Settings
    db: Database
    services: Services
    bot: Bot
    dp: Dispatcher
    notifier: Notifier
    intake: Intake
    policy_desk: Any = None
    core: Core | None = None
    delivery: DeliveryWorker | None = None
    scheduler: Any = None  # set by bot.runner.serve
    web_runner: Any = None  # the console and Open311 API, set by bot.runner.serve
    me: str = ""  # the bot's @username, once the Bot API answered (bot.runner.run_polling)

    async def drain(self) -> DeliveryReport:
        """Send everything the outbox holds now (tests, demo, CLI tools without a running bot)."""
        assert self.delivery is not None
        return await self.delivery.drain()

    async def close(self) -> None:
        await self.bot.session.close()
        if self.delivery is not None:
            self.delivery.close()
        self.services.writer.close()
        self.db.close()


def build_bot(settings: Settings, token: str, session: AiohttpSession | None = None) -> Bot:
    """A Bot talking to Telegram, a self-hosted Bot API server, or a local stand-in."""
    if session is None and settings.telegram.api_base.rstrip("/") != DEFAULT_API:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram.api_base.rstrip("/")))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def build_services(settings: Settings, db: Database, classifier: Classifier, clock: Clock | None = None) -> Services:
    """The async services over a fresh core on ``db`` (kept for callers that hold a database already)."""
    return build_core(settings, classifier=classifier, clock=clock, db=db, sync_catalogue=False).services()


def build_delivery(bot: Bot, services: Services, notifier: Notifier) -> DeliveryWorker:
    """The outbox's one delivery worker for this process (it runs only while the process holds the lease).

    It has its own connection and writer thread: its ``sent`` marks must not queue behind the intake's
    work (classifying and filing a burst), or a crash would find more sent messages not yet marked.
    """
    settings = services.settings
    push = settings.push
    db = open_db(settings.path(settings.database), migrate=False)
    writer = Writer()
    outbox = Outbox(db)

    async def report_bug(row: dict[str, Any], error: str) -> None:
        await writer.run(outbox.report_bug, str(row["kind"]), error)

    return DeliveryWorker(bot, outbox, writer, notifier.calls, messages_per_second=push.messages_per_second,
                          per_chat_interval=push.per_chat_interval, max_attempts=push.max_retries,
                          backoff_max=push.backoff_max, on_bug=report_bug)


def build_dispatcher(services: Services, bot: Bot, db: Database, notifier: Notifier | None = None,
                     wake: Any = None) -> tuple[Dispatcher, Notifier, Any]:
    """One Dispatcher: routers from specific to general, services injected by name."""
    renderer = notifier.render if notifier is not None else Renderer(services.settings)
    notifier = notifier or Notifier(services.settings, renderer, bot, services)
    # conversations live in the database file, so a restart loses no draft
    dp = Dispatcher(storage=SqliteStorage(db, services.writer), services=services, notifier=notifier,
                    renderer=renderer)
    dp.update.outer_middleware(PrivateOnlyMiddleware(Offloaded(Inbox(db), services.writer)))
    dp.update.outer_middleware(ActorMiddleware(services))
    dp.include_router(errors.router())
    dp.include_router(common.first())
    dp.include_router(start.router())
    desk = policy_wiring.install(dp, db=db, writer=services.writer, settings=services.settings, wake=wake)
    dp.include_router(staff.router())
    dp.include_router(team.router())
    dp.include_router(enterprise.router())
    dp.include_router(common.last())
    return dp, notifier, desk


def build_app(settings: Settings, *, token: str, classifier: Classifier | None = None, clock: Clock | None = None,
              session: AiohttpSession | None = None) -> App:
    core = build_core(settings, classifier=classifier, clock=clock)
    services = core.services()
    bot = build_bot(settings, token, session)
    notifier = Notifier(settings, Renderer(settings), bot, services)
    delivery = build_delivery(bot, services, notifier)
    core.on_commit.append(delivery.wake)
    dp, notifier, desk = build_dispatcher(services, bot, core.db, notifier, wake=delivery.wake)
    intake = Intake(dp, bot, Inbox(core.db), services.writer,
                    IntakeSettings(polling_timeout=settings.telegram.polling_timeout))
    return App(settings, core.db, services, bot, dp, notifier, intake, desk, core=core, delivery=delivery)
