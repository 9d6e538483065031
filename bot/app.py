"""The composition root: settings -> database, NLU, services, Bot, Dispatcher."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.memory import MemoryStorage
from sqlite_utils import Database

from appeals.calendar import OfficialCalendar
from appeals.ports import Classifier, Clock
from appeals.registration import RegistrationService
from appeals.service import AppealService
from bot import policy_wiring
from bot.config import Settings
from bot.handlers import common, enterprise, errors, staff, start
from bot.middlewares import ActorMiddleware, OnceMiddleware
from bot.notifier import Notifier
from bot.render import Renderer
from bot.services import Offloaded, Services
from storage.db import Writer, open_db
from storage.repository import SqliteRepository

log = logging.getLogger(__name__)
DEFAULT_API = "https://api.telegram.org"


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class App:
    settings: Settings
    db: Database
    services: Services
    bot: Bot
    dp: Dispatcher
    notifier: Notifier
    policy_desk: Any = None
    scheduler: Any = None  # set by bot.runner.serve

    async def close(self) -> None:
        await self.bot.session.close()
        self.services.writer.close()
        self.db.close()


def build_classifier(settings: Settings) -> Classifier:
    """The configured NLU backend; the embedded model is trained on first use if missing."""
    from nlu.factory import build_classifier as build
    from nlu.factory import ensure_model

    nlu = settings.nlu
    if nlu.backend == "spacy":
        ensure_model(settings.path(nlu.model_dir), settings.path(nlu.train_data),
                     departments=list(settings.departments.values()), target_precision=nlu.target_precision)
    return build(nlu.backend, settings.path(nlu.model_dir), nlu.rasa_url, nlu.rasa_timeout)


def build_bot(settings: Settings, token: str, session: AiohttpSession | None = None) -> Bot:
    """A Bot talking to Telegram, a self-hosted Bot API server, or a local stand-in."""
    if session is None and settings.telegram.api_base.rstrip("/") != DEFAULT_API:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram.api_base.rstrip("/")))
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def build_services(settings: Settings, db: Database, classifier: Classifier, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    writer = Writer()
    tz = ZoneInfo(settings.center.timezone)
    repo = SqliteRepository(db, settings.center.appeal_prefix, tz)
    repo.sync_departments(settings.departments)
    appeals = AppealService(repo, classifier, settings.routing, settings.sla, OfficialCalendar(), tz, clock)
    registration = RegistrationService(repo, clock, settings.supervisors)
    registration.seed_supervisors()
    return Services(settings, writer, Offloaded(repo, writer), Offloaded(appeals, writer),
                    Offloaded(registration, writer))


def build_dispatcher(services: Services, bot: Bot, db: Database) -> tuple[Dispatcher, Notifier, Any]:
    """One Dispatcher: routers from specific to general, services injected by name."""
    renderer = Renderer(services.settings)
    notifier = Notifier(bot, services, renderer)
    dp = Dispatcher(storage=MemoryStorage(), services=services, notifier=notifier, renderer=renderer)
    dp.update.outer_middleware(OnceMiddleware(services))
    dp.update.outer_middleware(ActorMiddleware(services))
    dp.include_router(errors.router())
    dp.include_router(common.first())
    dp.include_router(start.router())
    desk = policy_wiring.install(dp, db=db, writer=services.writer, settings=services.settings, bot=bot)
    dp.include_router(staff.router())
    dp.include_router(enterprise.router())
    dp.include_router(common.last())
    return dp, notifier, desk


def build_app(settings: Settings, *, token: str, classifier: Classifier | None = None, clock: Clock | None = None,
              session: AiohttpSession | None = None) -> App:
    db = open_db(settings.path(settings.database))
    policy_wiring.sync_catalogue(db, settings)
    services = build_services(settings, db, classifier or build_classifier(settings), clock)
    bot = build_bot(settings, token, session)
    dp, notifier, desk = build_dispatcher(services, bot, db)
    return App(settings, db, services, bot, dp, notifier, desk)
