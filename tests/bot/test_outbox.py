"""Nothing lost on the way out: notices in the order of their events, a failed 督办 retried, schedules made up
once after downtime, two `wanqi run` processes on one database sending each message once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from appeals.model import Role
from appeals.ports import Outgoing
from bot.app import build_app
from bot.policy_wiring import JOB_ID as WEEKLY
from bot.scheduler import DIGEST_JOB_ID, build_scheduler, catch_up, sla_job
from config import TelegramSettings
from demo.standin import BotAPIStandin
from storage.db import open_db
from storage.jobs import JobRuns
from storage.outbox import Outbox
from tests.bot.harness import SUPERVISOR, TOKEN, Harness, KeywordClassifier, RecordingSession, make_settings
from tests.bot.process import WanqiProcess, count, seed
from tests.bot.test_policies_bot import seed as seed_policies

ENT, HANDLER = 101, 201
TZ = ZoneInfo("Asia/Shanghai")


class Later:
    def __init__(self, delta: timedelta) -> None:
        self.delta = delta

    def now(self) -> datetime:
        return datetime.now(TZ) + self.delta


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[Harness, BotAPIStandin]]:
    """The real app whose Bot talks HTTP to the stand-in (which can fail calls), driven like the harness."""
    async with BotAPIStandin() as api:
        settings = make_settings(tmp_path, telegram=TelegramSettings(api_base=api.base_url, polling_timeout=1))
        classifier = KeywordClassifier()
        app = build_app(settings, token=TOKEN, classifier=classifier)
        assert app.delivery is not None
        app.delivery.backoff_base = 0.05
        h = Harness(app, RecordingSession(), classifier)
        try:
            yield h, api
        finally:
            await app.close()


def texts_to(api: BotAPIStandin, chat_id: int) -> list[str]:
    return [m.text or "" for m in api.messages_to(chat_id)]


async def test_notices_reach_a_chat_in_the_order_of_their_events(live: tuple[Harness, BotAPIStandin]) -> None:
    h, api = live
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    appeal_id, _ = await h.file(ENT, "增值税发票开不出来")
    handler = await h.app.services.registration.actor(HANDLER)
    # 签收 and 答复 in quick succession (as from the console); the first notice to the enterprise meets a 429
    await h.app.services.appeals.accept(handler, appeal_id)
    await h.app.services.appeals.reply(handler, appeal_id, "已为贵司重新核定发票额度，请今日再试。")
    api.fail_next(ENT, 429, retry_after=1)
    await h.drain()
    told = texts_to(api, ENT)
    accepted = next(i for i, t in enumerate(told) if "签收，正在办理" in t)
    replied = next(i for i, t in enumerate(told) if "重新核定发票额度" in t)
    assert accepted < replied  # "已由市税务局签收" never after the reply, whatever Telegram says
    assert sum("签收，正在办理" in t for t in told) == 1


async def test_a_failed_escalation_is_retried_not_lost(live: tuple[Harness, BotAPIStandin]) -> None:
    h, api = live
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    appeal_id, _ = await h.file(ENT, "增值税发票开不出来")
    h.app.services.appeals.target.clock = Later(timedelta(days=30))
    await sla_job(h.app.services)  # red: 督办 to the department and the supervisors, committed with alert_level
    await sla_job(h.app.services)  # a second scan finds the level recorded: nothing more
    assert h.one("SELECT alert_level FROM appeals WHERE id = ?", [appeal_id])["alert_level"] == "red"
    api.fail_next(SUPERVISOR, 502, times=2)
    api.fail_next(SUPERVISOR, 502, html=True)  # and once a proxy's HTML page
    await h.drain()
    assert sum("已超期" in t for t in texts_to(api, SUPERVISOR)) == 1
    assert sum("已超期" in t for t in texts_to(api, HANDLER)) == 1
    row = h.one("SELECT status, attempts FROM outbox WHERE chat_id = ? AND kind = 'sla_red'", [SUPERVISOR])
    assert row == {"status": "sent", "attempts": 4}


async def test_a_missed_weekly_digest_runs_once_at_start_up_and_not_after_another_restart(h: Harness) -> None:
    seed_policies(h)
    await h.register(301)
    await h.join(HANDLER, Role.HANDLER, "tax")
    await h.file(301, "增值税发票开不出来")
    desk = h.app.policy_desk
    monday_late = datetime(2026, 11, 23, 10, 30, tzinfo=TZ)  # the bot was down at Monday 09:00 and 08:30
    _, cron = build_scheduler(h.app.services, h.app.notifier.render, desk, db=h.db)
    assert set(await catch_up(cron, monday_late)) == {WEEKLY, DIGEST_JOB_ID}
    runs = JobRuns(h.db)
    assert runs.last_due(WEEKLY) == datetime(2026, 11, 23, 9, tzinfo=TZ)
    digests = h.one("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'digest'")["n"]
    daily = h.one("SELECT COUNT(*) AS n FROM outbox WHERE dedupe LIKE 'daily-digest:%'")["n"]
    assert digests == 1 and daily == 1
    # another restart the same morning: nothing runs twice
    _, again = build_scheduler(h.app.services, h.app.notifier.render, desk, db=h.db)
    assert await catch_up(again, monday_late + timedelta(minutes=40)) == []
    assert h.one("SELECT COUNT(*) AS n FROM outbox WHERE kind = 'digest'")["n"] == digests
    # down past the grace (12 h): that run is skipped, the next one comes on schedule
    _, later = build_scheduler(h.app.services, h.app.notifier.render, desk, db=h.db)
    assert await catch_up(later, datetime(2026, 11, 30, 22, 0, tzinfo=TZ)) == []
    sent = await h.drain()
    assert [s.chat_id for s in sent if "本周" in s.text or "政策" in s.text][:1] == [301]


@pytest.mark.slow
async def test_two_wanqi_run_processes_on_one_database_send_each_message_once(tmp_path: Path) -> None:
    config = seed(tmp_path, 10)
    db_path = tmp_path / "wanqi.db"
    chats = [700_000 + n for n in range(120)]
    async with BotAPIStandin() as api:
        first = WanqiProcess(config, api, tmp_path / "first.log")
        second = WanqiProcess(config, api, tmp_path / "second.log")
        try:
            first.start()
            second.start()
            for _ in range(1800):  # both are up (slow on a loaded machine): one primary, one standby
                if "standby" in (first.tail() + second.tail()):
                    break
                await asyncio.sleep(0.1)
            assert "standby" in first.tail() + second.tail(), first.tail() + second.tail()
            primary, standby = (first, second) if "standby" in second.tail() else (second, first)
            # a push queued as `wanqi policies digest` queues it, while both processes run
            outbox = Outbox(open_db(db_path, migrate=False))
            outbox.add(Outgoing(c, "text", {"text": f"push:{c} 本周政策"}, dedupe=f"push:{c}") for c in chats)
            deadline = time.monotonic() + 120
            while len(api.sent) < 30 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert await primary.stop(timeout=90) == 0  # a deploy: the primary stops mid-push, the standby takes over
            deadline = time.monotonic() + 120
            while "took over" not in standby.tail() and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert "took over" in standby.tail(), standby.tail()
            later = [800_000 + n for n in range(60)]  # queued after the switch: only the new primary can send them
            outbox.add(Outgoing(c, "text", {"text": f"push:{c} 本周政策"}, dedupe=f"push:{c}") for c in later)
            chats += later
            deadline = time.monotonic() + 180
            while count(db_path, "SELECT COUNT(*) FROM outbox WHERE status != 'sent'") and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert await standby.stop(timeout=90) == 0
        finally:
            for proc in (first, second):
                if proc.proc is not None and proc.proc.poll() is None:
                    proc.kill()
    got = Counter(str(m.text).split()[0] for m in api.sent if (m.text or "").startswith("push:"))
    assert set(got) == {f"push:{c}" for c in chats}  # 0 missing
    assert max(got.values()) == 1  # 0 duplicates
    assert count(db_path, "SELECT COUNT(*) FROM outbox WHERE kind = 'text' AND status = 'sent'") == len(chats)

