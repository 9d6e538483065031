"""Shared fixtures for the domain core: real in-memory SQLite, a fixed clock, a fake classifier."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from appeals.calendar import OfficialCalendar
from appeals.model import Actor, Appeal, Role
from appeals.ports import CategoryScore, ClassifierUnavailable, ParseResult
from appeals.registration import RegistrationService
from appeals.service import AppealService
from config import Settings, load_settings
from storage.db import open_db
from storage.repository import SqliteRepository

TZ = ZoneInfo("Asia/Shanghai")
ROOT = Path(__file__).resolve().parents[2]
# Wednesday 25 Nov 2026, 10:00 in Zhaoqing: an ordinary working week.
START = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
SUPERVISOR_ID = 900

CODE_A = "91350100M000100Y43"  # the GB 32100-2015 example
CODE_B = "91441202MA5123456T"


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


class FakeClassifier:
    """Answers with whatever ranking the test chose; can be switched off like a dead server."""

    def __init__(self) -> None:
        self.result = ParseResult(ranking=(CategoryScore("tax", 0.9),))
        self.down = False
        self.calls: list[str] = []

    def answer(self, *ranking: tuple[str, float]) -> None:
        self.result = ParseResult(ranking=tuple(CategoryScore(c, p) for c, p in ranking))

    def parse(self, text: str) -> ParseResult:
        self.calls.append(text)
        if self.down:
            raise ClassifierUnavailable("model server down")
        return self.result


def draft(name: str, code: str, **over: str) -> dict[str, str]:
    base = {
        "name": name, "credit_code": code, "contact": "张经理", "phone": "13800138000",
        "industry": "C", "scale": "小型", "district": "端州区",
    }
    base.update(over)
    return base


@dataclass
class World:
    settings: Settings
    clock: FakeClock
    classifier: FakeClassifier
    repo: SqliteRepository
    reg: RegistrationService
    svc: AppealService
    actors: dict[str, Actor] = field(default_factory=dict)

    def file(self, who: str = "ent_a", text: str = "增值税专用发票开不出来，请税务局帮忙", *,
             ranking: tuple[tuple[str, float], ...] = (("tax", 0.9),), update_id: int | None = None) -> Appeal:
        self.classifier.answer(*ranking)
        return self.svc.submit(self.actors[who], text, source_update_id=update_id).appeal

    def event_count(self, appeal_id: int) -> int:
        return len(self.repo.events(appeal_id))

    def staff(self, user_id: int, role: Role, department: str | None) -> Actor:
        code = self.reg.create_invite(role, department, "test")
        return self.reg.join(self.reg.actor(user_id), code)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(ROOT / "config.yml", env={})


@pytest.fixture
def world(settings: Settings) -> World:
    clock = FakeClock(START)
    classifier = FakeClassifier()
    repo = SqliteRepository(open_db(None), settings.center.appeal_prefix)
    repo.sync_departments(settings.departments)
    reg = RegistrationService(repo, clock, supervisors=frozenset({SUPERVISOR_ID}))
    reg.seed_supervisors()  # what the bot does at start
    svc = AppealService(repo, classifier, settings.routing, settings.sla, OfficialCalendar(), TZ, clock)
    w = World(settings, clock, classifier, repo, reg, svc)
    reg.register(reg.actor(101, "甲公司经办人"), draft("肇庆甲制造有限公司", CODE_A))
    reg.register(reg.actor(201, "乙公司经办人"), draft("肇庆乙贸易有限公司", CODE_B))
    w.actors["ent_a"] = reg.actor(101)
    w.actors["ent_b"] = reg.actor(201)
    w.actors["tax"] = w.staff(301, Role.HANDLER, "tax")
    w.actors["finance"] = w.staff(302, Role.HANDLER, "finance")
    w.actors["dispatcher"] = w.staff(401, Role.DISPATCHER, None)
    w.actors["supervisor"] = reg.actor(SUPERVISOR_ID, "督办")
    return w
