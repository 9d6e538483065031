"""The one delivery worker against the Bot API stand-in over HTTP: once per row, in order, within limits."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlite_utils import Database

from appeals.ports import Outgoing
from bot.delivery import Call, DeliveryWorker
from demo.standin import BotAPIStandin
from storage.db import Writer, open_db
from storage.outbox import Outbox
from tests.bot.harness import TOKEN


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "wanqi.db")
    yield database
    database.conn.close()


@pytest.fixture
def writer() -> Iterator[Writer]:
    w = Writer()
    yield w
    w.close()


@pytest.fixture
def outbox(db: Database) -> Outbox:
    return Outbox(db)


def texts(*chats: int) -> list[Outgoing]:
    """One text per entry; a chat listed twice gets two messages (the n-th numbered per chat)."""
    seen: dict[int, int] = {}
    out = []
    for chat in chats:
        seen[chat] = seen.get(chat, 0) + 1
        out.append(Outgoing(chat, "text", {"text": f"通知 {chat}-{seen[chat]}"}, dedupe=f"t:{chat}:{seen[chat]}"))
    return out


def render(row: dict[str, Any]) -> list[Call]:
    payload = row["payload"]
    if row["kind"] == "delivery_bug":
        return [Call("message", f"Telegram refused a {payload['template']} message: {payload['error']}")]
    return [Call("message", payload["text"])]


def make(bot: Bot, outbox: Outbox, writer: Writer, **kwargs: Any) -> DeliveryWorker:
    kwargs.setdefault("messages_per_second", 50)
    kwargs.setdefault("per_chat_interval", 0.05)
    kwargs.setdefault("backoff_base", 0.02)
    kwargs.setdefault("backoff_max", 0.2)
    return DeliveryWorker(bot, outbox, writer, render, **kwargs)


async def test_each_row_once_a_known_key_is_never_queued_again(
    api: BotAPIStandin, bot: Bot, outbox: Outbox, writer: Writer
) -> None:
    assert outbox.add(texts(1, 2, 3, 4, 5)) == 5
    first = await make(bot, outbox, writer).drain()
    assert first.sent == 5
    assert outbox.add(texts(1, 2, 3, 4, 5, 6)) == 1  # the producer ran again: only the new key is queued
    again = await make(bot, outbox, writer).drain()
    assert again.sent == 1
    assert sorted(m.chat_id for m in api.sent) == [1, 2, 3, 4, 5, 6]
    row = outbox.by_key("t:3:1")
    assert row is not None and row["status"] == "sent" and row["message_id"] == api.messages_to(3)[0].message_id


async def test_a_running_worker_sends_rows_committed_after_it_started(
    api: BotAPIStandin, bot: Bot, outbox: Outbox, writer: Writer
) -> None:
    worker = make(bot, outbox, writer, poll_interval=5.0)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.1)
    outbox.add(texts(1))
    worker.wake()  # what every offloaded service call does: no waiting for the next poll
    await api.wait_for(1, contains="通知 1-1", timeout=2)
    worker.stop()
    await asyncio.wait_for(task, 5)
    assert outbox.stats() == {"sent": 1}


async def test_resume_after_a_crash_resends_the_row_in_flight_once(
    api: BotAPIStandin, bot: Bot, outbox: Outbox, writer: Writer, caplog: pytest.LogCaptureFixture
) -> None:
    outbox.add(texts(1, 2, 3, 4))
    rows = {r["chat_id"]: r["id"] for r in outbox.pending()}
    # The killed worker: 1 was sent, 2 was in flight (sending), 3 and 4 never started.
    assert outbox.claim(rows[1])
    outbox.mark_sent(rows[1], 99)
    assert outbox.claim(rows[2])
    with caplog.at_level(logging.WARNING, logger="bot.delivery"):
        report = await make(bot, outbox, writer).drain()
    assert (report.sent, report.recovered) == (3, 1)
    assert sorted(m.chat_id for m in api.sent) == [2, 3, 4]
    assert "in flight when the last worker stopped" in caplog.text
    assert outbox.get(rows[2])["attempts"] == 2  # type: ignore[index]


async def test_uncertain_leftovers_can_be_failed_instead_of_resent(
    api: BotAPIStandin, bot: Bot, outbox: Outbox, writer: Writer
) -> None:
    outbox.add(texts(1, 2))
    first = outbox.pending()[0]["id"]
    assert outbox.claim(first)
    report = await make(bot, outbox, writer, resend_uncertain=False).drain()
    assert (report.sent, report.recovered) == (1, 1)
    assert [m.chat_id for m in api.sent] == [2]
    assert outbox.get(first)["status"] == "failed"  # type: ignore[index]


async def test_429_waits_retry_after_then_sends(api: BotAPIStandin, bot: Bot, outbox: Outbox, writer: Writer) -> None:
    api.fail_next(2, 429, retry_after=1)
    outbox.add(texts(1, 2))
    report = await make(bot, outbox, writer).drain()
    assert (report.sent, report.retried) == (2, 1)
    assert outbox.by_key("t:2:1")["attempts"] == 2  # type: ignore[index]
    first, retried = sorted(api.sent, key=lambda m: m.chat_id)
    assert retried.at - first.at >= 1.0


@pytest.mark.parametrize("html", [False, True], ids=["json-502", "html-502-page"])
async def test_5xx_and_an_undecodable_html_page_are_retried_then_succeed(
    api: BotAPIStandin, bot: Bot, outbox: Outbox, writer: Writer, html: bool
) -> None:
    api.fail_next(7, 502, times=2, html=html)
    outbox.add(texts(7, 8))
    report = await make(bot, outbox, writer).drain()
    assert (report.sent, report.failed) == (2, 0)
    assert len(api.messages_to(7)) == 1
    row = outbox.by_key("t:7:1")
    assert row is not None and row["attempts"] == 3 and row["status"] == "sent"


async def test_5xx_forever_fails_after_max_attempts_and_the_chat_moves_on(
    api: BotAPIStandin, bot: Bot, outbox: Outbox, writer: Writer
) -> None:
    api.fail_next(7, 500, times=3)
    outbox.add(texts(7, 7, 8))
    report = await make(bot, outbox, writer, max_attempts=3).drain()
    assert (report.sent, report.failed) == (2, 1)
    row = outbox.by_key("t:7:1")
    assert row is not None and row["status"] == "failed" and "gave up after 3 attempts" in row["last_error"]
    assert [m.text for m in api.messages_to(7)] == ["通知 7-2"]


async def test_403_marks_the_user_inactive_and_stops_the_rest_of_that_chat(
    api: BotAPIStandin, bot: Bot, db: Database, outbox: Outbox, writer: Writer
) -> None:
    db.execute("INSERT INTO users (id, name, active, created_at) VALUES (4, '甲', 1, '2026-11-30')")
    db.conn.commit()
    api.block(4)
    outbox.add(texts(3, 4, 4, 5))
    report = await make(bot, outbox, writer).drain()
    assert (report.sent, report.blocked, report.failed) == (2, 2, 0)
    assert api.messages_to(4) == []
    assert len([r for r in api.requests if r == "sendMessage"]) == 3  # the second one to 4 was never tried
    assert outbox.stats() == {"sent": 2, "blocked": 2}
    assert db.execute("SELECT active FROM users WHERE id = 4").fetchone()[0] == 0


async def test_400_is_a_bug_logged_with_its_template_and_reported_to_supervisors_once(
    api: BotAPIStandin, bot: Bot, db: Database, outbox: Outbox, writer: Writer, caplog: pytest.LogCaptureFixture
) -> None:
    db.execute("INSERT INTO users (id, name, role, active, created_at) VALUES (900, '督办', 'supervisor', 1, 'x')")
    db.conn.commit()
    secret = "机密诉求内容" * 700  # over 4096 characters: Telegram answers 400
    outbox.add([Outgoing(1, "text", {"text": secret}), Outgoing(2, "text", {"text": secret})])
    with caplog.at_level(logging.INFO):
        report = await make(bot, outbox, writer, on_bug=lambda row, error: _report(writer, outbox, row, error)).drain()
    assert (report.sent, report.failed) == (1, 2)  # the two rows failed; the one report went out
    assert "template 'text'" in caplog.text and "too long" in caplog.text and "机密" not in caplog.text
    [note] = api.messages_to(900)
    assert "text" in note.text and "Telegram" in note.text
    assert outbox.stats(kind="delivery_bug") == {"sent": 1}


async def _report(writer: Writer, outbox: Outbox, row: dict[str, Any], error: str) -> None:
    await writer.run(outbox.report_bug, row["kind"], error)


async def test_per_chat_spacing_and_the_order_of_the_events(
    api: BotAPIStandin, bot: Bot, outbox: Outbox, writer: Writer
) -> None:
    api.fail_next(1, 429, retry_after=1)  # the first of chat 1 waits: the later ones must wait behind it
    outbox.add(texts(1, 2, 1, 1, 2))
    await make(bot, outbox, writer, per_chat_interval=0.3).drain()
    for chat in (1, 2):
        sent = api.messages_to(chat)
        assert [m.text for m in sent] == [f"通知 {chat}-{n}" for n in range(1, len(sent) + 1)]
        gaps = [b.at - a.at for a, b in pairwise(sent)]
        assert gaps and min(gaps) >= 0.3


async def test_strict_stand_in_sees_no_violations(outbox: Outbox, writer: Writer) -> None:
    async with BotAPIStandin(enforce_limits=True, global_rate=10, per_chat_interval=0.25) as strict:
        session = AiohttpSession(api=TelegramAPIServer.from_base(strict.base_url))
        async with Bot(TOKEN, session=session) as real:
            chats = [*range(1, 21), 1, 2, 3, 1]
            outbox.add(texts(*chats))
            report = await make(real, outbox, writer, messages_per_second=10, per_chat_interval=0.25).drain()
        assert report.sent == len(chats)
        assert strict.violations == 0
        assert len(strict.sent) == len(chats)


def test_group_commit_keeps_results_in_order_and_rejects_unknown_changes(outbox: Outbox) -> None:
    outbox.add(texts(1, 2))
    first, second = (r["id"] for r in outbox.pending())
    assert outbox.claim(second)
    assert outbox.apply([("claim", (first,)), ("claim", (second,)), ("mark_sent", (second, 5))]) == [
        True, False, None]
    assert outbox.statuses(["t:1:1", "t:2:1"]) == {"t:1:1": "sending", "t:2:1": "sent"}
    with pytest.raises(ValueError, match="not an outbox state change"):
        outbox.apply([("add", ([],))])


async def test_a_restarted_worker_does_not_burst_over_the_limit(outbox: Outbox, writer: Writer) -> None:
    async with BotAPIStandin(enforce_limits=True, global_rate=5, per_chat_interval=0.2) as strict:
        session = AiohttpSession(api=TelegramAPIServer.from_base(strict.base_url))
        async with Bot(TOKEN, session=session) as real:
            outbox.add(texts(*range(1, 6)))
            await make(real, outbox, writer, messages_per_second=5).drain()
            outbox.add(texts(*range(6, 11)))
            report = await make(real, outbox, writer, messages_per_second=5).drain()  # a new process
        assert report.sent == 5
        assert strict.violations == 0


async def test_a_database_failure_stops_the_worker_instead_of_hanging(
    api: BotAPIStandin, bot: Bot, outbox: Outbox, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox.add(texts(1, 2, 3))

    def broken(ops: object) -> list[object]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(outbox, "apply", broken)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        async with asyncio.timeout(10):
            await make(bot, outbox, writer).drain()
    assert api.sent == []  # nothing goes out unless its claim was committed


async def test_a_conversation_goes_before_a_push_already_under_way(
    api: BotAPIStandin, bot: Bot, outbox: Outbox, writer: Writer
) -> None:
    """An appeal filed during the weekly push gets its number at once, not after thousands of digests."""
    digests = [Outgoing(chat, "digest", {"text": f"本周政策 {chat}"}, dedupe=f"d:{chat}") for chat in range(1, 81)]
    outbox.add(digests)
    worker = make(bot, outbox, writer, messages_per_second=20)
    task = asyncio.create_task(worker.run())
    await _until(lambda: len(api.sent) >= 25)  # the push is in its second second
    await writer.run(outbox.add, [Outgoing(5000, "text", {"text": "诉求编号 ZQ-1"}, dedupe="ack")])
    worker.wake()
    already = len(api.sent)
    await api.wait_for(5000, timeout=5)
    position = next(i for i, m in enumerate(api.sent) if m.chat_id == 5000)
    assert position <= already + 3, f"the acknowledgement waited behind {position - already} more digests"
    await _until(lambda: len(api.sent) >= 81)
    worker.stop()
    await asyncio.wait_for(task, 5)
    assert outbox.stats() == {"sent": 81}
    assert sorted(m.chat_id for m in api.sent) == [*range(1, 81), 5000]  # every digest, once


async def _until(condition: Any, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
