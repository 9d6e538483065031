"""The intake loop on its own: a real aiogram Dispatcher with small handlers, a real SQLite inbox, the
Bot API stand-in over HTTP. Order per chat, concurrency across chats, back-pressure, atomic steps."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from click.testing import CliRunner
from sqlite_utils import Database

from bot.fsm import SqliteStorage
from bot.intake import Intake, IntakeSettings
from cli.main import main
from demo.standin import BotAPIStandin
from storage.db import Writer, open_db
from storage.inbox import Inbox
from tests.support import write_config


class Loop:
    """A Dispatcher whose handler records what it saw (and can be slow or fail), fed by an Intake."""

    def __init__(self, api: BotAPIStandin, db: Database, settings: IntakeSettings) -> None:
        self.writer = Writer()
        self.bot = Bot("42:LOOP", session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
        self.dp = Dispatcher(storage=SqliteStorage(db, self.writer))
        self.seen: list[tuple[int, str]] = []
        self.running = 0
        self.most = 0
        self.slow: dict[int, float] = {}
        self.fail_on: set[str] = set()
        self.dp.message.register(self.on_message)
        self.intake = Intake(self.dp, self.bot, Inbox(db), self.writer, settings)
        self.db = db

    async def on_message(self, message: Message, state: FSMContext) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await state.set_state("Step:after")
            await asyncio.sleep(self.slow.get(message.chat.id, 0) * random.random())
            if message.text in self.fail_on:
                raise RuntimeError("handler bug")
            self.seen.append((message.chat.id, message.text or ""))
        finally:
            self.running -= 1

    async def run(self, until: int, stop: asyncio.Event, *, parked: int = 0) -> None:
        """Poll until ``until`` updates were seen and ``parked`` were given up on."""
        task = asyncio.create_task(self.intake.poll(stop))
        try:
            while not task.done() and (len(self.seen) < until or self.db.execute(
                    "SELECT COUNT(*) FROM inbox WHERE status = 'parked'").fetchone()[0] < parked):
                await asyncio.sleep(0.01)
        finally:
            stop.set()
            await task
            await self.intake.drain()

    async def close(self) -> None:
        await self.bot.session.close()
        self.writer.close()


@pytest.fixture
async def loop_parts(tmp_path: Path) -> AsyncIterator[tuple[BotAPIStandin, Database]]:
    db = open_db(tmp_path / "loop.db")
    async with BotAPIStandin() as api:
        yield api, db
    db.close()


async def test_each_chat_in_order_different_chats_at_once(loop_parts: tuple[BotAPIStandin, Database]) -> None:
    api, db = loop_parts
    loop = Loop(api, db, IntakeSettings(capacity=8, polling_timeout=1))
    loop.slow = {1: 0.03, 2: 0.03, 3: 0.0}
    for i in range(20):
        for chat in (1, 2, 3):
            await api.user(chat, f"u{chat}").send(f"{chat}-{i:02d}")
    await loop.run(60, asyncio.Event())
    await loop.close()
    for chat in (1, 2, 3):
        assert [text for c, text in loop.seen if c == chat] == [f"{chat}-{i:02d}" for i in range(20)]
    assert loop.most > 1  # chats ran concurrently
    assert db.execute("SELECT COUNT(*) FROM inbox WHERE status = 'done'").fetchone()[0] == 60


async def test_back_pressure_keeps_the_backlog_bounded_and_drops_nothing(
        loop_parts: tuple[BotAPIStandin, Database]) -> None:
    api, db = loop_parts
    loop = Loop(api, db, IntakeSettings(capacity=1, max_backlog=5, polling_timeout=1))
    loop.slow = {chat: 0.02 for chat in range(1, 11)}
    for chat in range(1, 11):
        for i in range(4):
            await api.user(chat, f"u{chat}").send(f"{chat}-{i}")
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(40, stop))
    most_waiting = 0
    while not task.done():
        waiting = db.execute("SELECT COUNT(*) FROM inbox WHERE status = 'pending'").fetchone()[0]
        most_waiting = max(most_waiting, waiting)
        await asyncio.sleep(0.005)
    await task
    await loop.close()
    assert most_waiting <= 5 and loop.most == 1
    assert len(loop.seen) == 40 and len(set(loop.seen)) == 40


async def test_a_failed_step_keeps_the_old_conversation_state(loop_parts: tuple[BotAPIStandin, Database]) -> None:
    api, db = loop_parts
    loop = Loop(api, db, IntakeSettings(max_attempts=2, retry_base=0, polling_timeout=1))
    loop.fail_on = {"坏消息"}
    await api.user(5, "u5").send("坏消息")
    await api.user(5, "u5").send("好消息")
    await loop.run(1, asyncio.Event(), parked=1)
    await loop.close()
    assert loop.seen == [(5, "好消息")]
    assert db.execute("SELECT status, attempts FROM inbox ORDER BY update_id").fetchall() == [("parked", 2),
                                                                                              ("done", 0)]
    # the failed step's set_state was never written; the good one's was, with its done mark
    assert db.execute("SELECT COUNT(*) FROM fsm").fetchone()[0] == 1
    assert any("已记录并转交工作人员" in (m.text or "") for m in api.messages_to(5))


async def test_stored_updates_are_handled_after_a_restart_and_a_retry_is_taken_up(
        loop_parts: tuple[BotAPIStandin, Database], tmp_path: Path) -> None:
    api, db = loop_parts
    loop = Loop(api, db, IntakeSettings(max_attempts=1, polling_timeout=1))
    loop.fail_on = {"修好前会失败"}
    await api.user(7, "u7").send("修好前会失败")
    await loop.run(0, asyncio.Event(), parked=1)
    await loop.close()
    assert db.execute("SELECT status FROM inbox").fetchall() == [("parked",)]

    config = write_config(tmp_path, database="loop.db")
    listed = CliRunner().invoke(main, ["--config", str(config), "inbox", "list"])
    assert listed.exit_code == 0 and "已搁置 1 条" in listed.output and "RuntimeError: handler bug" in listed.output
    retried = CliRunner().invoke(main, ["--config", str(config), "inbox", "retry", "--all"])
    assert retried.exit_code == 0, retried.output
    assert CliRunner().invoke(main, ["--config", str(config), "inbox", "retry", "1"]).exit_code == 1

    again = Loop(api, db, IntakeSettings(polling_timeout=1))  # the next process
    assert await again.intake.recover() == 1
    await again.intake.drain()
    await again.close()
    assert again.seen == [(7, "修好前会失败")]
    assert db.execute("SELECT status FROM inbox").fetchall() == [("done",)]
