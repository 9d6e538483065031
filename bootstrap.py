"""The composition root: config -> database, storage, services, NLU, outbox, for every entry point.

The bot (``bot.app``), the CLI and the web console all start here::

    core = build_core(settings)                      # sync objects, for tools and tests
    services = core.services()                       # the same, each call run on the writer thread
    await services.appeals.accept(actor, appeal_id)  # commits the step, its event and its outbox rows
    core.close()

Every service writes its notices to the outbox in the transaction of the step; the delivery worker
of the process holding the "primary" lease sends them (``wanqi run``), so any entry point that calls
a service gets the notifications for free. ``core.on_commit`` callbacks (the worker's wake-up) run
after each offloaded service call.

Nothing here knows Telegram: the aiogram Bot and Dispatcher are built in ``bot.app``.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from appeals.calendar import OfficialCalendar
from appeals.metrics import FigureService
from appeals.ports import Classifier, Clock, ParseResult
from appeals.registration import RegistrationService
from appeals.service import AppealService
from appeals.staff import StaffService
from config import Settings
from storage.db import Writer, open_db
from storage.figures import SqliteFigureSource
from storage.inbox import current_steps
from storage.leases import Leases
from storage.outbox import Outbox
from storage.repository import SqliteRepository
from storage.web_repo import WebRepository

log = logging.getLogger(__name__)
T = TypeVar("T")


class SystemClock:
    """The wall clock, timezone-aware (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class NoClassifier:
    """For tools that never file an appeal (reports, staff invites): classifying is a bug there."""

    def parse(self, text: str) -> ParseResult:
        raise NotImplementedError("this entry point does not classify appeals")


def build_classifier(settings: Settings) -> Classifier:
    """The configured NLU backend; the embedded model is trained on first use if missing."""
    from nlu.factory import build_classifier as build
    from nlu.factory import ensure_model

    nlu = settings.nlu
    if nlu.backend == "embedded":
        ensure_model(settings.path(nlu.model_dir), settings.path(nlu.train_data),
                     departments=list(settings.departments.values()), target_precision=nlu.target_precision)
    return build(nlu.backend, settings.path(nlu.model_dir), nlu.rasa_url, nlu.rasa_timeout)


class Offloaded(Generic[T]):
    """``await offloaded.method(...)`` runs ``target.method(...)`` on the single writer thread.

    ``pure`` names methods that touch no storage (classifying a text): they run on a worker thread of
    their own instead, so the writer (and the write lock) never waits for the model, or for the Rasa
    server over HTTP.

    ``after`` (if given) is called once each call has returned, e.g. to wake the delivery worker
    for the outbox rows that call committed. Such a committing service's calls, made while an update
    from the inbox is handled, are recorded as its steps (``storage.inbox.Steps``): handling the update
    again after a crash repeats none of them.
    """

    def __init__(self, target: T, writer: Writer, after: Any = None, *, pure: Iterable[str] = ()) -> None:
        self.target = target
        self._writer = writer
        self._after = after
        self._pure = frozenset(pure)

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.target, name)
        if name in self._pure:
            async def compute(*args: Any, **kwargs: Any) -> Any:
                return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args, **kwargs))

            return compute

        async def call(*args: Any, **kwargs: Any) -> Any:
            steps = current_steps() if self._after is not None else None
            try:
                if steps is not None:
                    return await self._writer.run(steps.run, name, fn, args, kwargs)
                return await self._writer.run(fn, *args, **kwargs)
            finally:
                if self._after is not None:
                    self._after()

        return call


@dataclass
class Services:
    """The async facade adapters use: every call runs on the one writer thread."""

    settings: Settings
    writer: Writer
    repo: Offloaded[SqliteRepository]  # for middlewares; handlers go through the services
    appeals: Offloaded[AppealService]
    registration: Offloaded[RegistrationService]
    figures: Offloaded[FigureService]
    staff: Offloaded[StaffService]
    web: Offloaded[WebRepository]  # console logins, partner keys, console queries
    outbox: Offloaded[Outbox]


@dataclass
class Core:
    """Everything built from the settings; sync objects (call them on ``writer`` under asyncio)."""

    settings: Settings
    db: Database
    writer: Writer
    clock: Clock
    repo: SqliteRepository
    appeals: AppealService
    registration: RegistrationService
    leases: Leases
    figures: FigureService
    web: WebRepository
    outbox: Outbox
    on_commit: list[Any] = field(default_factory=list)  # callbacks after each offloaded service call

    def services(self) -> Services:
        """The async facade over these objects (one per process is enough)."""
        return Services(self.settings, self.writer, Offloaded(self.repo, self.writer),
                        Offloaded(self.appeals, self.writer, self._committed, pure=("intake",)),
                        Offloaded(self.registration, self.writer, self._committed),
                        Offloaded(self.figures, self.writer),
                        Offloaded(self.registration.staff, self.writer, self._committed),
                        Offloaded(self.web, self.writer),
                        Offloaded(self.outbox, self.writer, self._committed))

    def _committed(self) -> None:
        for callback in self.on_commit:
            callback()

    def close(self) -> None:
        self.writer.close()
        self.db.close()


def load_catalogue_into(db: Database, settings: Settings, now: datetime | None = None) -> dict[str, list[str]]:
    """Load the YAML catalogue (validated) into the policies table; imported policies are left alone."""
    from policies.catalogue import load_catalogue
    from storage.policies_repo import PolicyRepository

    policies = load_catalogue(settings.path(settings.policies.catalogue))
    repo = PolicyRepository(db)
    result = repo.upsert_policies(policies, "catalogue", now or datetime.now(UTC))
    result["removed"] = repo.remove_missing("catalogue", {p.id for p in policies})
    log.info("policy catalogue: %d added, %d changed, %d unchanged, %d removed",
             len(result["added"]), len(result["changed"]), len(result["unchanged"]), len(result["removed"]))
    return result


def build_core(settings: Settings, *, classifier: Classifier | None = None, clock: Clock | None = None,
               db: Database | None = None, sync_catalogue: bool = True, seed_supervisors: bool = True) -> Core:
    """Open (and migrate) the database and build the services; ``classifier`` defaults to the configured one.

    ``seed_supervisors`` applies WANQI_SUPERVISORS (grants, and withdraws the role from ids taken out of
    it): the bot and the console do; one-off tools do not, so a shell without the variable demotes nobody.
    """
    db = db if db is not None else open_db(settings.path(settings.database))
    if sync_catalogue:
        load_catalogue_into(db, settings)
    clock = clock or SystemClock()
    tz = ZoneInfo(settings.center.timezone)
    repo = SqliteRepository(db, settings.center.appeal_prefix, tz)
    repo.sync_departments(settings.departments)
    calendar = OfficialCalendar()
    outbox = Outbox(db)
    appeals = AppealService(repo, classifier or build_classifier(settings), settings.routing, settings.sla,
                            calendar, tz, clock, outbox)
    registration = RegistrationService(repo, clock, settings.supervisors, settings.staff.invite_days, outbox)
    if seed_supervisors:
        registration.seed_supervisors()
    figures = FigureService(SqliteFigureSource(db), calendar, tz, clock, settings.sla.yellow_ratio)
    return Core(settings, db, Writer(), clock, repo, appeals, registration, Leases(db), figures,
                WebRepository(db), outbox)


def keyword_dictionary() -> frozenset[str]:
    """The words 热点 names its groups with (nlu.words: read once, ~0.7 s, 15 MB)."""
    from nlu.words import common_words

    return common_words()


def settle_heap() -> None:
    """Once a long-running process has built everything: collect, then put what start-up made out of the
    cyclic collector's reach (``gc.freeze``). A full collection otherwise walks all of it — the model,
    the routers, the templates — every few requests: a 130 ms pause in one page of ten (benchmarks/console.py).
    """
    gc.collect()
    gc.freeze()
