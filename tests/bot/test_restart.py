"""Conversations survive a restart: the process stops mid-conversation, a new one opens the same file."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiogram.types import Update

from bot.callbacks import AppealCb
from tests.bot.harness import Harness, Role, build_harness, credit_code

ENT, HANDLER = 101, 201
Step = Callable[[Harness], Awaitable[object]]


class Restarts:
    """One harness at a time on one database file; ``restart()`` closes it and opens a new process's."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.h = build_harness(tmp_path)

    async def restart(self) -> Harness:
        ids = self.h.update_ids
        await self.h.app.close()
        self.h = build_harness(self.tmp_path)
        self.h.update_ids = ids  # Telegram's update ids go on
        return self.h


@pytest.fixture
async def r(tmp_path: Path) -> AsyncIterator[Restarts]:
    restarts = Restarts(tmp_path)
    yield restarts
    await restarts.h.app.close()


def _registration() -> list[Step]:
    answers = ("肇庆重启测试有限公司", credit_code("91441200MA0000001"), "张经理", "13800138000")
    steps: list[Step] = [lambda h: h.send(ENT, "/start"), lambda h: h.press(ENT, "r:begin:1")]
    steps += [lambda h, a=a: h.send(ENT, a) for a in answers]  # type: ignore[misc]
    steps += [lambda h, d=d: h.press(ENT, d)  # type: ignore[misc]
              for d in ("r:industry:C", "r:scale:小型", "r:district:端州区", "r:confirm:1")]
    return steps


@pytest.mark.parametrize("stop_after", range(1, 10))
async def test_registration_survives_a_restart_after_every_step(tmp_path: Path, stop_after: int) -> None:
    r = Restarts(tmp_path)
    steps = _registration()
    try:
        for step in steps[:stop_after]:
            await step(r.h)
        h = await r.restart()
        for step in steps[stop_after:]:
            await step(h)
        assert "登记完成" in h.session.sent[-1].text
        row = h.one("SELECT name, contact, phone, industry, scale, district FROM enterprises")
        assert row == {"name": "肇庆重启测试有限公司", "contact": "张经理", "phone": "13800138000", "industry": "C",
                       "scale": "小型", "district": "端州区"}
    finally:
        await r.h.app.close()


async def _filed(r: Restarts) -> int:
    await r.h.register(ENT)
    await r.h.join(HANDLER, Role.HANDLER, "tax")
    appeal_id, _ = await r.h.file(ENT, "数电发票开不出来，已经影响发货")
    return appeal_id


def _actions(h: Harness, appeal_id: int) -> list[str]:
    return [e["action"] for e in h.db.query("SELECT action FROM appeal_events WHERE appeal_id = ? ORDER BY id",
                                            [appeal_id])]


async def test_a_follow_up_asked_before_the_restart_is_not_filed_as_a_new_appeal(r: Restarts) -> None:
    appeal_id = await _filed(r)
    await r.h.act(ENT, "fu", appeal_id)
    h = await r.restart()
    sent = await h.send(ENT, "补充一下：开票系统提示的错误代码是 E1024")
    assert h.one("SELECT COUNT(*) AS n FROM appeals")["n"] == 1
    assert _actions(h, appeal_id)[-1] == "message"
    assert any("E1024" in s.text for s in h.to(HANDLER, sent))


async def test_a_handlers_typed_reply_after_the_restart_is_the_reply(r: Restarts) -> None:
    appeal_id = await _filed(r)
    await r.h.act(HANDLER, "acc", appeal_id)
    await r.h.act(HANDLER, "rep", appeal_id)
    h = await r.restart()
    await h.send(HANDLER, "已为贵司重置开票权限，请重新登录电子税务局开票。")
    assert h.one("SELECT status FROM appeals WHERE id = ?", [appeal_id])["status"] == "replied"
    assert "重置开票权限" in h.to(ENT)[-1].text


async def test_a_return_reason_typed_after_the_restart_returns_the_appeal(r: Restarts) -> None:
    appeal_id = await _filed(r)
    await r.h.act(HANDLER, "ret", appeal_id)
    h = await r.restart()
    await h.send(HANDLER, "该事项属于市场监管局职责，请改派")
    assert h.one("SELECT status FROM appeals WHERE id = ?", [appeal_id])["status"] == "returned"
    assert h.db.execute("SELECT note FROM appeal_events WHERE action = 'return'").fetchone()[0] == \
        "该事项属于市场监管局职责，请改派"


async def test_a_photo_sent_before_the_restart_goes_onto_the_appeal(r: Restarts) -> None:
    await r.h.register(ENT)
    photo = [{"file_id": "PHOTO-1-small", "file_unique_id": "p1s", "width": 90, "height": 90},
             {"file_id": "PHOTO-1", "file_unique_id": "p1", "width": 1280, "height": 1280}]
    await r.h.send_content(ENT, photo=photo)
    h = await r.restart()
    appeal_id, _ = await h.file(ENT, "厂区门口的发票打印机坏了，开不出发票")
    assert h.one("SELECT kind, file_id FROM attachments WHERE appeal_id = ?", [appeal_id]) == {
        "kind": "photo", "file_id": "PHOTO-1"}


async def test_a_step_committed_before_a_failed_attempt_is_not_repeated(r: Restarts) -> None:
    appeal_id = await _filed(r)
    await r.h.act(ENT, "fu", appeal_id)
    r.h.session.fail_sends = 1  # the follow-up is committed, then the answer to the enterprise fails
    await r.h.send(ENT, "补充一下：开票系统提示的错误代码是 E1024")
    assert _actions(r.h, appeal_id).count("message") == 1  # the retry did not add it again
    assert r.h.one("SELECT status, attempts FROM inbox ORDER BY update_id DESC LIMIT 1") == {
        "status": "done", "attempts": 1}
    assert r.h.db.execute("SELECT COUNT(*) FROM update_effects").fetchone()[0] == 0  # gone with the done mark
    assert sum("E1024" in s.text for s in r.h.to(HANDLER)) == 1


async def test_a_step_committed_before_a_crash_is_not_repeated_after_the_restart(r: Restarts) -> None:
    appeal_id = await _filed(r)
    r.h.app.intake.settings.retry_base = 60  # the retry would come later: the process dies first
    r.h.session.fail_sends = 1  # 签收 is committed, then the answer to the handler fails
    press = {"callback_query": {
        "id": "cb-acc", "chat_instance": "ci", "data": AppealCb(act="acc", id=appeal_id).pack(),
        "from": {"id": HANDLER, "is_bot": False, "first_name": "李科长", "language_code": "zh-hans"},
        "message": {"message_id": 1, "date": int(time.time()), "chat": {"id": HANDLER, "type": "private"},
                    "text": "…"}}}
    await r.h.app.intake.accept([Update.model_validate({"update_id": 900, **press}, context={"bot": r.h.app.bot})])
    while r.h.one("SELECT attempts FROM inbox WHERE update_id = 900")["attempts"] < 1:
        await asyncio.sleep(0.01)
    r.h.app.intake.settings.stop_grace = 0
    await r.h.app.intake.stop()
    h = await r.restart()
    assert await h.app.intake.recover() == 1
    await h.app.intake.drain()
    assert h.one("SELECT status FROM appeals WHERE id = ?", [appeal_id])["status"] == "accepted"
    assert _actions(h, appeal_id).count("accept") == 1
    assert not any("不能" in a for a in h.session.alerts)  # not "状态为办理中，不能签收"
    assert h.one("SELECT status FROM inbox WHERE update_id = 900")["status"] == "done"
