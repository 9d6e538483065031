"""The services handlers receive by name, with blocking domain calls run on the database thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from appeals.registration import RegistrationService
from appeals.service import AppealService
from appeals.staff import StaffService
from bot.config import Settings
from storage.db import Writer
from storage.repository import SqliteRepository

T = TypeVar("T")


class Offloaded(Generic[T]):
    """``await offloaded.method(...)`` runs ``target.method(...)`` on the single writer thread."""

    def __init__(self, target: T, writer: Writer) -> None:
        self.target = target
        self._writer = writer

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.target, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._writer.run(fn, *args, **kwargs)

        return call


@dataclass
class Services:
    """Everything the Telegram layer needs, built once in the composition root (bot/app.py)."""

    settings: Settings
    writer: Writer
    repo: Offloaded[SqliteRepository]
    appeals: Offloaded[AppealService]
    registration: Offloaded[RegistrationService]
    staff: Offloaded[StaffService]
