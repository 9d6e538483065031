"""The weekly push end to end through the outbox and the delivery worker: exactly once across a crash, 403,
next week."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.types import Chat, Message

from bot.delivery import Call, DeliveryReport, DeliveryWorker
from bot.policy_wiring import PolicyDesk
from config import PushSettings, Settings, load_settings
from storage.db import Writer, open_db
from storage.outbox import Outbox
from storage.policies_repo import PolicyRepository
from tests.policies.dbseed import add_enterprise
from tests.policies.factories import policy

ROOT = Path(__file__).resolve().parents[2]
MONDAY = datetime(2026, 11, 23, 1, tzinfo=UTC)  # 09:00 in Zhaoqing, ISO week 2026-W48


class FakeTelegram(BaseSession):
    """Records sendMessage per chat; can hang every call after the first ``hang_after`` (a crash mid-push)."""

    def __init__(self, blocked: set[int] = frozenset(), hang_after: int | None = None) -> None:  # type: ignore[assignment]
        super().__init__()
        self.blocked, self.hang_after = set(blocked), hang_after
        self.received: list[tuple[int, str]] = []
        self.hanging = asyncio.Event()

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        assert isinstance(method, SendMessage)
        chat_id = int(method.chat_id)
        if self.hang_after is not None and len(self.received) >= self.hang_after:
            self.hanging.set()
            await asyncio.Event().wait()  # never answers: the process dies while this is in flight
        if chat_id in self.blocked:
            raise TelegramForbiddenError(method=method, message="Forbidden: bot was blocked by the user")
        self.received.append((chat_id, method.text))
        return Message(message_id=len(self.received), date=int(time.time()),
                       chat=Chat(id=chat_id, type="private"), text=method.text)

    async def make_request_stream(self, *a: Any, **k: Any) -> AsyncGenerator[bytes, None]:  # pragma: no cover
        yield b""

    async def stream_content(self, *a: Any, **k: Any) -> AsyncGenerator[bytes, None]:  # pragma: no cover
        yield b""

    async def close(self) -> None:
        pass


def settings(tmp_path: Path) -> Settings:
    base = load_settings(ROOT / "config.yml", env={})
    return dataclasses.replace(base, database=str(tmp_path / "w.db"),
                               push=PushSettings(messages_per_second=200, per_chat_interval=0.0, max_retries=2))


def text_only(row: dict[str, Any]) -> list[Call]:
    return [Call("message", row["payload"]["text"])]


async def push(cfg: Settings, session: FakeTelegram, now: datetime) -> DeliveryReport:
    """One process lifetime: open the database, queue the week's push, drain the outbox, close."""
    db = open_db(cfg.database)
    writer = Writer()
    try:
        desk = PolicyDesk(db=db, writer=writer, settings=cfg, clock=lambda: now)
        await desk.push()
        worker = DeliveryWorker(Bot("42:TEST", session=session), Outbox(db), writer, text_only,
                                messages_per_second=200, per_chat_interval=0.0, max_attempts=2)
        return await worker.drain()
    finally:
        writer.close()
        db.conn.close()


async def test_weekly_push_exactly_once_across_a_crash_then_next_week(tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    db = open_db(cfg.database)
    users = [add_enterprise(db, eid) for eid in range(1, 7)]
    blocked = users[-1]
    pols = [policy(f"p-{i}", title=f"第{i}号政策") for i in range(8)]
    PolicyRepository(db).upsert_policies(pols, "test", MONDAY)
    db.conn.close()

    crashing = FakeTelegram(blocked={blocked}, hang_after=2)
    task = asyncio.create_task(push(cfg, crashing, MONDAY))
    await asyncio.wait_for(crashing.hanging.wait(), 10)
    await asyncio.sleep(0.05)
    task.cancel()  # kill -9 while requests are in flight
    await asyncio.gather(task, return_exceptions=True)
    assert len(crashing.received) == 2

    restarted = FakeTelegram(blocked={blocked})
    report = await push(cfg, restarted, MONDAY + timedelta(minutes=5))
    assert report.recovered >= 1 and report.blocked == 1
    got = Counter(chat for chat, _ in crashing.received + restarted.received)
    assert got == Counter({u: 1 for u in users if u != blocked})  # every digest once, none twice

    db = open_db(cfg.database)
    assert db.execute("SELECT active FROM users WHERE id = ?", [blocked]).fetchone()[0] == 0
    statuses = dict(db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
    assert statuses == {"sent": 5, "blocked": 1}
    first_week = {chat: text for chat, text in crashing.received + restarted.received}
    db.conn.close()

    again = await push(cfg, FakeTelegram(), MONDAY + timedelta(hours=2))  # same week: nothing new
    assert again.sent == 0

    nxt = FakeTelegram()
    week2 = await push(cfg, nxt, MONDAY + timedelta(days=7))
    assert week2.sent == 5 and {c for c, _ in nxt.received} == set(users) - {blocked}
    for chat, text in nxt.received:
        shown = {p.title for p in pols if p.title in text}
        earlier = {p.title for p in pols if p.title in first_week[chat]}
        assert len(earlier) == 5 and shown == {p.title for p in pols} - earlier  # only what was not sent
