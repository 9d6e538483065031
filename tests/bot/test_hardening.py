"""The review's bad-input and data findings, each reproduced through the bot as a person would meet it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from tests.bot.harness import SUPERVISOR, Harness, Role, credit_code

ENT, HANDLER, HANDLER2 = 101, 201, 202


def _appeal(h: Harness, appeal_id: int) -> dict[str, object]:
    return h.one("SELECT status, category, department_id, accept_due, rating FROM appeals WHERE id = ?", [appeal_id])


async def _tax_appeal(h: Harness) -> int:
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    appeal_id, _ = await h.file(ENT, "发票开不出来，请帮忙看看")
    return appeal_id


async def test_forged_callback_values_are_refused(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    appeal_id = await _tax_appeal(h)
    await h.press(ENT, "l:xx")
    assert "按钮已失效" in h.session.alerts[-1]
    assert h.one("SELECT lang FROM users WHERE id = ?", [ENT])["lang"] == "zh-CN"
    await h.act(ENT, "fixto", appeal_id, "nosuch")
    assert "没有这个分类" in h.session.alerts[-1]
    with caplog.at_level(logging.INFO):
        await h.press(HANDLER, "a:acc:" + "9" * 30 + ":")
        await h.press(HANDLER, "a:frob:1:")
        await h.press(HANDLER, "c:-5:1")
    assert h.session.alerts[-3:] == [h.session.alerts[-1]] * 3 and "按钮已失效" in h.session.alerts[-1]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert _appeal(h, appeal_id)["status"] == "dispatched"


@pytest.mark.parametrize("args", ["99999999999", "²", "٣", "0", "-5", "9" * 40])
async def test_report_days_are_parsed_strictly(h: Harness, args: str) -> None:
    assert "天数应为 1 到 3660" in (await h.send(SUPERVISOR, f"/report {args}"))[-1].text


@pytest.mark.parametrize("ref", ["9" * 30, "²", "99999999999999999999", "ZQ" + "9" * 200])
async def test_view_with_absurd_numbers_is_simply_not_found(h: Harness, ref: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        assert "没有找到这件诉求" in (await h.send(SUPERVISOR, f"/view {ref}"))[-1].text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_registration_normalises_and_refuses_look_alike_input(h: Harness) -> None:
    await h.send(ENT, "/start")
    await h.press(ENT, "r:begin:1")
    assert "不可见或控制字符" in (await h.send(ENT, "星湖\u202e司公限有技科"))[-1].text
    assert "不可见或控制字符" in (await h.send(ENT, "星湖\u200b科技有限公司"))[-1].text
    await h.send(ENT, "星湖<科技>&贸易有限公司")
    code = credit_code("91441200MA4W0888")
    arabic = code[:17].replace("1", "١") + code[17]
    assert "含有无效字符" in (await h.send(ENT, arabic))[-1].text
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)  # pasted from a full-width form: accepted
    assert "联系人" in (await h.send(ENT, full_width))[-1].text
    await h.send(ENT, "张经理")
    assert "电话号码格式不正确" in (await h.send(ENT, "138٠٠١٣٨٠٠٠"))[-1].text
    await h.send(ENT, "１３８００１３８０００")
    for step in ("r:industry:C", "r:scale:小型", "r:district:端州区", "r:confirm:1"):
        await h.press(ENT, step)
    row = h.one("SELECT name, credit_code, phone FROM enterprises")
    assert row == {"name": "星湖<科技>&贸易有限公司", "credit_code": code, "phone": "13800138000"}


async def test_hidden_characters_in_a_telegram_name_are_dropped(h: Harness) -> None:
    spoof = {"id": 555, "is_bot": False, "first_name": "管理\u202e员\u200b"}
    await h.feed({"message": {"message_id": 1, "date": 0, "chat": {"id": 555, "type": "private"},
                              "from": spoof, "text": "/start",
                              "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}})
    assert h.one("SELECT name FROM users WHERE id = 555")["name"] == "管理员"


async def test_an_edited_message_gets_a_polite_answer_and_changes_nothing(h: Harness) -> None:
    appeal_id = await _tax_appeal(h)
    before = h.one("SELECT text FROM appeals WHERE id = ?", [appeal_id])
    sent = await h.feed({"edited_message": {
        "message_id": 77, "date": 0, "edit_date": 1, "chat": {"id": ENT, "type": "private"},
        "from": {"id": ENT, "is_bot": False, "first_name": "甲"}, "text": "改成：退税问题"}})
    assert "修改不会被采用" in sent[-1].text and "补充说明" in sent[-1].text
    assert h.one("SELECT text FROM appeals WHERE id = ?", [appeal_id]) == before
    assert h.one("SELECT COUNT(*) AS n FROM appeals")["n"] == 1


async def test_a_rating_after_the_rating_window_is_refused(h: Harness) -> None:
    appeal_id = await _tax_appeal(h)
    await h.act(HANDLER, "acc", appeal_id)
    await h.act(HANDLER, "rep", appeal_id)
    await h.send(HANDLER, "已为贵司处理。")
    long_ago = (datetime.now(UTC) - timedelta(days=410)).isoformat()
    h.db.execute("UPDATE appeals SET status = 'closed', rating_due = ?, closed_at = ? WHERE id = ?",
                 [long_ago, long_ago, appeal_id])  # closed unrated 410 days ago
    await h.act(ENT, "rate", appeal_id, "1")
    assert "评价期已过" in h.session.alerts[-1]
    assert _appeal(h, appeal_id)["status"] == "closed" and _appeal(h, appeal_id)["rating"] is None


async def test_a_correction_to_the_same_category_is_refused(h: Harness) -> None:
    appeal_id = await _tax_appeal(h)
    before = _appeal(h, appeal_id)
    cards = len(h.to(HANDLER))
    await h.act(ENT, "fixto", appeal_id, "tax")
    assert "无需更正" in h.session.alerts[-1]
    assert _appeal(h, appeal_id) == before  # deadline not reset
    assert len(h.to(HANDLER)) == cards  # no second card
    assert h.one("SELECT COUNT(*) AS n FROM appeal_events WHERE action = 'dispatch'")["n"] == 1


async def test_the_department_that_returned_an_appeal_lets_it_go(h: Harness) -> None:
    appeal_id = await _tax_appeal(h)
    await h.join(HANDLER2, Role.HANDLER, "tax")
    number = h.one("SELECT number FROM appeals WHERE id = ?", [appeal_id])["number"]
    await h.act(HANDLER, "ret", appeal_id)
    await h.send(HANDLER, "不属于税务事项，应由市场监管部门办理")
    assert _appeal(h, appeal_id)["status"] == "returned"
    for who in (HANDLER, HANDLER2):
        assert "没有找到这件诉求" in (await h.send(who, f"/view {number}"))[-1].text
        await h.act(who, "msg", appeal_id)
        assert "没有找到这件诉求" in h.session.alerts[-1]
        await h.act(who, "note", appeal_id)
        assert "没有找到这件诉求" in h.session.alerts[-1]
    await h.act(ENT, "fu", appeal_id)
    sent = await h.send_content(ENT, photo=[{"file_id": "P1", "file_unique_id": "p1", "width": 1, "height": 1}])
    assert not h.to(HANDLER, sent) and not h.to(HANDLER2, sent)
    assert any("补充了 1 个附件" in s.text for s in h.to(SUPERVISOR, sent))  # the dispatchers' queue holds it
