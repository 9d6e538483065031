"""The real `wanqi run` process, killed with SIGKILL at random points during a burst of appeals, with
429, 5xx and HTML 502 windows on sendMessage: every appeal exists once, every enterprise is told."""

from __future__ import annotations

import asyncio
import os
import random
import re
import sqlite3
import time
from pathlib import Path

import pytest

from demo.standin import BotAPIStandin
from tests.bot.process import DISPATCHER, ENTERPRISE_BASE, HANDLER_BASE, WanqiProcess, appeal_texts, count, seed

ENTERPRISES, APPEALS, KILLS = 50, 250, 10
NUMBER = re.compile(r"ZQ\d{8}-\d{4,}")


async def _until(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.slow
async def test_kill_9_at_random_points_loses_no_appeal_and_files_none_twice(tmp_path: Path) -> None:
    rng_seed = int(os.environ.get("WANQI_CRASH_SEED", time.time()))
    rng = random.Random(rng_seed)
    config = seed(tmp_path, ENTERPRISES)
    db_path = tmp_path / "wanqi.db"
    texts = appeal_texts()
    filed = "SELECT COUNT(*) FROM appeals WHERE source_update_id IS NOT NULL"
    async with BotAPIStandin() as api:
        users = [api.user(ENTERPRISE_BASE + i, f"企业用户{i}") for i in range(ENTERPRISES)]
        first = api.last_update_id + 1
        for k in range(APPEALS):  # the burst is waiting before the first process starts
            await users[k % ENTERPRISES].send(texts[k % len(texts)])
        update_ids = set(range(first, api.last_update_id + 1))
        windows = {2: (429, False), 4: (502, False), 6: (502, True), 8: (500, False)}
        proc = WanqiProcess(config, api, tmp_path / "wanqi.log")
        story = []
        try:
            for cycle in range(KILLS):
                proc.start()
                before = count(db_path, filed) if db_path.exists() else 0
                if cycle in windows:  # Telegram (or its proxy) fails every sendMessage for a while
                    status, html = windows[cycle]
                    api.fail_for(1.5, status, retry_after=1 if status == 429 else None, html=html)
                if rng.random() < 0.3:  # anywhere, start-up included
                    await asyncio.sleep(rng.uniform(0.1, 3.0))
                else:  # in the middle of the burst
                    target = before + rng.randint(1, 20)
                    await _until(lambda t=target: count(db_path, filed) >= t, 30)
                proc.kill()
                story.append(count(db_path, filed) - before)
            proc.start()
            done = await _until(lambda: count(db_path, "SELECT COUNT(*) FROM inbox WHERE status = 'done'")
                                >= len(update_ids), 60)
            assert done, proc.tail()
            # the acknowledgements and cards those appeals committed go out through the outbox
            sent = await _until(lambda: count(db_path, "SELECT COUNT(*) FROM outbox WHERE status IN "
                                                       "('queued', 'sending')") == 0, 60)
            assert sent, proc.tail()
            assert await proc.stop() == 0, proc.tail()
        finally:
            if proc.proc is not None and proc.proc.poll() is None:
                proc.kill()

        conn = sqlite3.connect(db_path)
        rows = conn.execute("SELECT source_update_id, number, enterprise_id FROM appeals").fetchall()
        departments = dict(conn.execute("SELECT number, department_id FROM appeals").fetchall())
        handlers = dict(conn.execute("SELECT department_id, id FROM users WHERE role = 'handler'").fetchall())
        inbox = dict(conn.execute("SELECT status, COUNT(*) FROM inbox GROUP BY status").fetchall())
        queued_twice = conn.execute("SELECT appeal_id, chat_id, kind FROM outbox WHERE kind IN ('filed', 'card') "
                                    "GROUP BY 1, 2, 3 HAVING COUNT(*) > 1").fetchall()
        owner = dict(conn.execute("SELECT id, owner_id FROM enterprises").fetchall())
        conn.close()
        print(f"seed {rng_seed}; appeals filed per run before its kill: {story}")

        # every appeal exists exactly once, numbered without gaps
        assert sorted(r[0] for r in rows) == sorted(update_ids)
        days: dict[str, list[int]] = {}
        for _, number, _ in rows:
            day, serial = number.rsplit("-", 1)
            days.setdefault(day, []).append(int(serial))
        assert all(sorted(s) == list(range(1, len(s) + 1)) for s in days.values())
        assert inbox == {"done": len(update_ids)}
        assert queued_twice == []  # re-handled updates queued no second acknowledgement or card

        # every enterprise got the acknowledgement of each of its appeals; how often twice
        acks: dict[str, int] = {}
        for m in api.sent:
            if m.method == "sendMessage" and ENTERPRISE_BASE <= m.chat_id < ENTERPRISE_BASE + ENTERPRISES:
                for number in set(NUMBER.findall(m.text or "")):
                    acks[number] = acks.get(number, 0) + 1
        missing = [n for _, n, e in rows if acks.get(n, 0) == 0]
        assert missing == [], f"{len(missing)} appeals never acknowledged"
        # and every appeal filed to a department reached its handler as a card
        conn = sqlite3.connect(db_path)
        routed = [n for (n,) in conn.execute("SELECT number FROM appeals WHERE department_id IS NOT NULL")]
        conn.close()
        cards = {n for m in api.sent if HANDLER_BASE <= (m.chat_id or 0) < DISPATCHER
                 for n in NUMBER.findall(m.text or "")}
        assert [n for n in routed if n not in cards] == [], "department cards missing"
        assert all(owner[e] for _, _, e in rows)
        twice = sum(1 for n in acks.values() if n > 1)

        # every department card reached the department's handler (the dispatcher for appeals to triage)
        cards: dict[str, int] = {}
        for m in api.sent:
            if m.method == "sendMessage" and m.chat_id >= HANDLER_BASE:
                for number in set(NUMBER.findall(m.text or "")):
                    expected = handlers.get(departments.get(number), DISPATCHER)
                    if m.chat_id == expected:
                        cards[number] = cards.get(number, 0) + 1
        no_card = [n for _, n, _ in rows if n not in cards]
        assert no_card == [], f"{len(no_card)} appeals never reached their department"
        print(f"{len(rows)} appeals, {KILLS} kills: {twice} acknowledged more than once "
              f"({sum(acks.values()) - len(acks)} extra acknowledgements), "
              f"{sum(1 for n in cards.values() if n > 1)} cards sent more than once")


@pytest.mark.slow
async def test_a_second_wanqi_run_on_the_same_database_stands_by(tmp_path: Path) -> None:
    config = seed(tmp_path, 20)
    db_path = tmp_path / "wanqi.db"
    texts = appeal_texts()
    filed = "SELECT COUNT(*) FROM appeals WHERE source_update_id IS NOT NULL"
    async with BotAPIStandin() as api:
        users = [api.user(ENTERPRISE_BASE + i, f"企业用户{i}") for i in range(20)]
        first, second = WanqiProcess(config, api, tmp_path / "first.log"), WanqiProcess(config, api,
                                                                                         tmp_path / "second.log")
        try:
            first.start()
            await users[0].send(texts[0])
            assert await _until(lambda: count(db_path, filed) == 1, 60), first.tail()
            second.start()
            assert await _until(lambda: "standby" in second.tail(), 60), second.tail()
            for k in range(1, 60):  # both processes are up: only the primary takes updates
                await users[k % 20].send(texts[k % len(texts)])
            assert await _until(lambda: count(db_path, filed) == 60, 60), first.tail()
            assert await first.stop() == 0  # a deploy: the old one stops and gives the lease back
            assert await _until(lambda: "took over" in second.tail(), 30), second.tail()
            for k in range(60, 80):
                await users[k % 20].send(texts[k % len(texts)])
            assert await _until(lambda: count(db_path, filed) == 80, 60), second.tail()
            assert await _until(lambda: count(db_path, "SELECT COUNT(*) FROM outbox WHERE status "
                                                       "IN ('queued', 'sending')") == 0, 60), second.tail()
            assert await second.stop() == 0
        finally:
            for proc in (first, second):
                if proc.proc is not None and proc.proc.poll() is None:
                    proc.kill()
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT COUNT(DISTINCT source_update_id), COUNT(*) FROM appeals").fetchone() == (80, 80)
    conn.close()
    acks: dict[str, int] = {}
    for m in api.sent:
        if ENTERPRISE_BASE <= m.chat_id < ENTERPRISE_BASE + 20:
            for number in set(NUMBER.findall(m.text or "")):
                acks[number] = acks.get(number, 0) + 1
    assert len(acks) == 80 and set(acks.values()) == {1}  # each acknowledged exactly once
