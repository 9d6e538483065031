"""The exactly-once, rate-limited broadcaster against the Bot API stand-in over HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlite_utils import Database

from bot.broadcast import Broadcaster, Outgoing
from bot.standin import BotAPIStandin
from storage.db import Writer, open_db
from storage.deliveries import DeliveryStore
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
def store(db: Database) -> DeliveryStore:
    return DeliveryStore(db)


def items(*chats: int, week: str = "2026-W48") -> list[Outgoing]:
    """One digest per entry; a chat listed twice gets two messages (n-th key per chat)."""
    seen: dict[int, int] = {}
    out = []
    for chat in chats:
        seen[chat] = seen.get(chat, 0) + 1
        out.append(Outgoing(key=f"digest:{week}:user:{chat}:{seen[chat]}", chat_id=chat,
                            text=f"本周政策 {chat}-{seen[chat]}", enterprise_id=chat * 10,
                            meta={"policies": [f"P{chat}"]}, week=week))
    return out


def make(bot: Bot, store: DeliveryStore, writer: Writer, **kwargs: object) -> Broadcaster:
    kwargs.setdefault("messages_per_second", 50)
    kwargs.setdefault("per_chat_interval", 0.05)
    kwargs.setdefault("backoff_base", 0.02)
    return Broadcaster(bot, store, writer, **kwargs)  # type: ignore[arg-type]


async def test_sends_each_key_once_even_when_run_again(
    api: BotAPIStandin, bot: Bot, store: DeliveryStore, writer: Writer
) -> None:
    batch = items(1, 2, 3, 4, 5)
    first = await make(bot, store, writer).send(batch)
    assert (first.sent, first.skipped) == (5, 0)
    again = await make(bot, store, writer).send(batch + items(6))
    assert (again.sent, again.skipped) == (1, 5)
    assert sorted(m.chat_id for m in api.sent) == [1, 2, 3, 4, 5, 6]
    assert store.stats("2026-W48") == {"sent": 6}
    assert store.sent_meta_for(30, "digest") == [{"policies": ["P3"]}]
    row = store.get("digest:2026-W48:user:3:1")
    assert row is not None and row["message_id"] == api.messages_to(3)[0].message_id


async def test_resume_after_a_crash_resends_leftovers_once(
    api: BotAPIStandin, bot: Bot, store: DeliveryStore, writer: Writer, caplog: pytest.LogCaptureFixture
) -> None:
    batch = items(1, 2, 3, 4)
    store.enqueue(o.row() for o in batch)
    # The crashed run: 1 was sent, 2 was in flight (sending), 3 and 4 never started.
    assert store.mark_sending(batch[0].key)
    store.mark_sent(batch[0].key, 99)
    assert store.mark_sending(batch[1].key)
    with caplog.at_level(logging.WARNING, logger="bot.broadcast"):
        report = await make(bot, store, writer).send(batch)
    assert (report.sent, report.skipped, report.recovered) == (3, 1, 1)
    assert sorted(m.chat_id for m in api.sent) == [2, 3, 4]
    assert "in flight when the sender stopped" in caplog.text
    assert store.get(batch[1].key)["attempts"] == 2  # type: ignore[index]


async def test_uncertain_leftovers_can_be_failed_instead_of_resent(
    api: BotAPIStandin, bot: Bot, store: DeliveryStore, writer: Writer
) -> None:
    batch = items(1, 2)
    store.enqueue(o.row() for o in batch)
    assert store.mark_sending(batch[0].key)
    report = await make(bot, store, writer, resend_uncertain=False).send([])
    assert (report.sent, report.recovered) == (1, 1)
    assert [m.chat_id for m in api.sent] == [2]
    assert store.get(batch[0].key)["status"] == "failed"  # type: ignore[index]


async def test_429_waits_retry_after_then_sends(
    api: BotAPIStandin, bot: Bot, store: DeliveryStore, writer: Writer
) -> None:
    api.fail_next(2, 429, retry_after=1)
    report = await make(bot, store, writer).send(items(1, 2))
    assert report.sent == 2
    assert store.get(items(1, 2)[1].key)["attempts"] == 2  # type: ignore[index]
    first, retried = sorted(api.sent, key=lambda m: m.chat_id)
    assert retried.at - first.at >= 1.0


async def test_5xx_is_retried_then_succeeds(api: BotAPIStandin, bot: Bot, store: DeliveryStore, writer: Writer) -> None:
    api.fail_next(7, 502, times=2)
    report = await make(bot, store, writer).send(items(7))
    assert (report.sent, report.failed) == (1, 0)
    assert len(api.messages_to(7)) == 1
    assert store.get(items(7)[0].key)["attempts"] == 3  # type: ignore[index]


async def test_5xx_forever_fails_after_max_retries(
    api: BotAPIStandin, bot: Bot, store: DeliveryStore, writer: Writer
) -> None:
    api.fail_next(7, 500, times=100)
    report = await make(bot, store, writer, max_retries=2).send(items(7, 8))
    assert (report.sent, report.failed) == (1, 1)
    row = store.get(items(7)[0].key)
    assert row is not None and (row["status"], row["attempts"]) == ("failed", 3)
    assert "gave up after 3 attempts" in row["error"]


async def test_403_marks_blocked_calls_back_and_skips_the_rest_of_that_chat(
    api: BotAPIStandin, bot: Bot, store: DeliveryStore, writer: Writer
) -> None:
    api.block(4)
    blocked: list[int] = []

    async def on_blocked(chat_id: int) -> None:
        blocked.append(chat_id)

    report = await make(bot, store, writer, on_blocked=on_blocked).send(items(3, 4, 4, 5))
    assert (report.sent, report.blocked, report.failed) == (2, 2, 0)
    assert blocked == [4]
    assert api.messages_to(4) == []
    assert len([r for r in api.requests if r == "sendMessage"]) == 3  # the second one to 4 was never tried
    assert store.stats() == {"sent": 2, "blocked": 2}


async def test_other_4xx_fails_at_once_and_the_log_carries_no_text(
    api: BotAPIStandin, bot: Bot, store: DeliveryStore, writer: Writer, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "机密诉求内容" * 700  # over 4096 characters: Telegram answers 400
    with caplog.at_level(logging.INFO):
        report = await make(bot, store, writer).send([Outgoing(key="k1", chat_id=1, text=secret)])
    assert (report.sent, report.failed) == (0, 1)
    assert store.get("k1")["attempts"] == 1  # type: ignore[index]
    assert "too long" in caplog.text and "机密" not in caplog.text


async def test_per_chat_spacing_and_order(api: BotAPIStandin, bot: Bot, store: DeliveryStore, writer: Writer) -> None:
    await make(bot, store, writer, per_chat_interval=0.3).send(items(1, 2, 1, 1, 2))
    for chat in (1, 2):
        sent = api.messages_to(chat)
        assert [m.text for m in sent] == [f"本周政策 {chat}-{n}" for n in range(1, len(sent) + 1)]
        gaps = [b.at - a.at for a, b in pairwise(sent)]
        assert gaps and min(gaps) >= 0.3


async def test_strict_stand_in_sees_no_violations(store: DeliveryStore, writer: Writer) -> None:
    async with BotAPIStandin(enforce_limits=True, global_rate=10, per_chat_interval=0.25) as strict:
        session = AiohttpSession(api=TelegramAPIServer.from_base(strict.base_url))
        async with Bot(TOKEN, session=session) as real:
            chats = [*range(1, 21), 1, 2, 3, 1]
            report = await make(real, store, writer, messages_per_second=10, per_chat_interval=0.25).send(
                items(*chats))
        assert report.sent == len(chats)
        assert strict.violations == 0
        assert len(strict.sent) == len(chats)


def test_group_commit_keeps_results_in_order_and_rejects_unknown_changes(store: DeliveryStore) -> None:
    store.enqueue(o.row() for o in items(1, 2))
    first, second = (o.key for o in items(1, 2))
    assert store.mark_sending(second)
    assert store.apply([("mark_sending", (first,)), ("mark_sending", (second,)), ("mark_sent", (second, 5))]) == [
        True, False, None]
    assert store.statuses([first, second]) == {first: "sending", second: "sent"}
    with pytest.raises(ValueError, match="not a delivery state change"):
        store.apply([("enqueue", ([],))])


async def test_a_restarted_sender_does_not_burst_over_the_limit(
    store: DeliveryStore, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import weakref

    import bot.broadcast as broadcast

    async with BotAPIStandin(enforce_limits=True, global_rate=5, per_chat_interval=0.2) as strict:
        session = AiohttpSession(api=TelegramAPIServer.from_base(strict.base_url))
        async with Bot(TOKEN, session=session) as real:
            await make(real, store, writer, messages_per_second=5).send(items(*range(1, 6)))
            monkeypatch.setattr(broadcast, "_SHARED", weakref.WeakKeyDictionary())  # a new process
            report = await make(real, store, writer, messages_per_second=5).send(items(*range(6, 11)))
        assert report.sent == 5
        assert strict.violations == 0


async def test_a_database_failure_stops_the_send_instead_of_hanging(
    api: BotAPIStandin, bot: Bot, store: DeliveryStore, writer: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import sqlite3

    def broken(ops: object) -> list[object]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "apply", broken)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        async with asyncio.timeout(10):
            await make(bot, store, writer).send(items(1, 2, 3))
    assert api.sent == []  # nothing goes out unless its claim was committed
