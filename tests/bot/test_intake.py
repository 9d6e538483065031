"""Registration and filing through the real Dispatcher (feed_update + a recording session)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiogram.types import Update

from tests.bot.harness import SUPERVISOR, Harness, Role, credit_code

ENT, OTHER, HANDLER = 101, 102, 201


async def test_registration_step_by_step_creates_the_enterprise(h: Harness) -> None:
    sent = await h.register(ENT, name="肇庆星河精密制造有限公司")
    assert "登记完成" in sent[-1].text
    row = h.one("SELECT * FROM enterprises")
    assert row["name"] == "肇庆星河精密制造有限公司" and row["industry"] == "C" and row["district"] == "端州区"
    assert h.one("SELECT role, enterprise_id FROM users WHERE id = ?", [ENT]) == {"role": "enterprise",
                                                                                "enterprise_id": row["id"]}
    menus = [c for c in h.session.calls if c.__api_method__ == "setMyCommands"]
    assert any(getattr(c.scope, "chat_id", None) == ENT and any(b.command == "my" for b in c.commands) for c in menus)


async def test_wrong_check_digit_is_refused_and_the_step_is_asked_again(h: Harness) -> None:
    await h.send(ENT, "/start")
    await h.press(ENT, "r:begin:1")
    await h.send(ENT, "肇庆测试有限公司")
    good = credit_code("91441200MA4UQ2X17")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert "校验位不正确" in (await h.send(ENT, bad))[-1].text
    assert "18 位" in (await h.send(ENT, "9144120012"))[-1].text
    assert "无效字符" in (await h.send(ENT, good[:10] + "I" + good[11:]))[-1].text
    assert "联系人" in (await h.send(ENT, good.lower()))[-1].text  # lower case is accepted and normalised
    assert list(h.db.query("SELECT * FROM enterprises")) == []


async def test_second_claim_on_a_code_waits_for_the_owner(h: Harness) -> None:
    code = credit_code("91441200MA4UQ2X17")
    await h.register(ENT, code=code)
    sent = await h.register(OTHER, code=code)
    assert "已由其他账号登记" in h.to(OTHER, sent)[-1].text
    request = h.to(ENT, sent)[-1]
    assert "认领申请" in request.text and SUPERVISOR in {s.chat_id for s in sent}
    assert "等待审核" in (await h.send(OTHER, "/start"))[-1].text
    assert "请先发送 /start" in (await h.send(OTHER, "发票开不出来"))[-1].text  # sees nothing yet
    approved = await h.press(ENT, request.data("同意"))
    assert "已通过" in h.to(OTHER, approved)[-1].text
    appeal_id, _ = await h.file(OTHER, "发票开不出来，麻烦看看")
    assert h.one("SELECT enterprise_id FROM appeals WHERE id = ?", [appeal_id])["enterprise_id"] == 1


async def test_a_stranger_cannot_approve_a_claim(h: Harness) -> None:
    code = credit_code("91441200MA4UQ2X17")
    await h.register(ENT, code=code)
    sent = await h.register(OTHER, code=code)
    data = h.to(ENT, sent)[-1].data("同意")
    await h.register(103, code=credit_code("91441200MA4UQ2X18"))
    await h.press(103, data)
    assert "没有办理该事项的权限" in h.session.alerts[-1]
    assert h.one("SELECT status FROM claims")["status"] == "pending"


async def test_filing_commits_then_answers_with_number_category_and_department(h: Harness) -> None:
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    appeal_id, sent = await h.file(ENT, "我们申请的增值税留抵退税两个月了还没到账，电话13800138000")
    row = h.one("SELECT * FROM appeals WHERE id = ?", [appeal_id])
    reply = h.to(ENT, sent)[0]
    assert row["number"] in reply.text and "税费与发票" in reply.text and "市税务局" in reply.text
    assert row["status"] == "dispatched" and row["department_id"] == "tax"
    card = h.to(HANDLER, sent)[0]
    assert row["number"] in card.text and "肇庆测试科技有限公司" in card.text and "签收时限" in card.text
    assert [t for t, _ in card.buttons][:2] == ["签收", "退回"]
    events = [r["action"] for r in h.db.query("SELECT action FROM appeal_events WHERE appeal_id = ?", [appeal_id])]
    assert events == ["submit", "dispatch"]


async def test_low_confidence_goes_to_the_dispatcher_queue_with_suggestions(h: Harness) -> None:
    await h.register(ENT)
    await h.join(301, Role.DISPATCHER)
    await h.join(HANDLER, Role.HANDLER, "hrss")
    appeal_id, sent = await h.file(ENT, "园区门口的路灯坏了好几天，晚上下班不安全")
    assert "分拨员正在确认" in h.to(ENT, sent)[0].text
    triage = h.to(301, sent)[0]
    assert "待分拨" in triage.text and next(t for t, _ in triage.buttons).startswith("派至 用工与社保")
    routed = await h.press(301, triage.data("派至 用工与社保"))
    assert h.one("SELECT status, department_id FROM appeals WHERE id = ?", [appeal_id]) == {
        "status": "dispatched", "department_id": "hrss"}
    assert any("新派单" in s.text for s in h.to(HANDLER, routed))
    assert any("已转至<b>市人社局</b>办理：将于 1 个工作日内与您联系" in s.text for s in h.to(ENT, routed))
    assert h.one("SELECT source, category FROM feedback") == {"source": "dispatch", "category": "labor"}


async def test_enterprise_corrects_the_category_before_acceptance(h: Harness) -> None:
    await h.register(ENT)
    appeal_id, sent = await h.file(ENT, "想问问贷款贴息的事情")
    pick = await h.press(ENT, h.to(ENT, sent)[0].data("分类不对"))
    corrected = await h.press(ENT, pick[-1].data("政策咨询与兑现"))
    assert "已更正为“政策咨询与兑现”" in corrected[0].text
    assert h.one("SELECT department_id FROM appeals WHERE id = ?", [appeal_id])["department_id"] == "data"
    assert h.one("SELECT source, category FROM feedback") == {"source": "correction", "category": "policy"}


async def test_photo_then_text_files_one_appeal_with_the_attachment(h: Harness) -> None:
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    sent = await h.send_content(ENT, photo=[{"file_id": "PHOTO-1", "file_unique_id": "u1", "width": 10, "height": 10}])
    assert "已收到附件（1 个）" in sent[0].text
    appeal_id, sent = await h.file(ENT, "发票系统报错，截图见附件")
    assert h.one("SELECT kind, file_id FROM attachments WHERE appeal_id = ?", [appeal_id]) == {
        "kind": "photo", "file_id": "PHOTO-1"}
    assert [s.method for s in h.to(HANDLER, sent)] == ["sendMessage", "sendPhoto"]


async def test_document_with_caption_files_at_once(h: Harness) -> None:
    await h.register(ENT)
    await h.send_content(ENT, document={"file_id": "DOC-1", "file_unique_id": "d1", "file_name": "情况说明.pdf"},
                         caption="发票相关情况说明，请查收")
    assert h.one("SELECT file_name FROM attachments")["file_name"] == "情况说明.pdf"
    assert h.one("SELECT text FROM appeals")["text"] == "发票相关情况说明，请查收"


async def test_the_same_update_twice_files_one_appeal(h: Harness) -> None:
    await h.register(ENT)
    first = await h.send(ENT, "发票开不出来", update_id=777)
    again = await h.send(ENT, "发票开不出来", update_id=777)
    assert len(list(h.db.query("SELECT id FROM appeals"))) == 1
    assert first and again == []


async def test_classifier_outage_still_saves_the_appeal_for_the_dispatcher(h: Harness) -> None:
    from appeals.ports import ClassifierUnavailable

    await h.register(ENT)
    h.classifier.fail_with = ClassifierUnavailable("rasa down")
    _, sent = await h.file(ENT, "发票开不出来")
    assert "分拨员正在确认分类" in h.to(ENT, sent)[0].text
    assert h.one("SELECT status FROM appeals")["status"] == "submitted"
    assert any("待分拨" in s.text for s in h.to(SUPERVISOR, sent))  # no dispatcher yet: supervisors triage


async def test_files_added_later_reach_the_handler(h: Harness) -> None:
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    appeal_id, _ = await h.file(ENT, "发票开不出来")
    await h.act(ENT, "fu", appeal_id)
    sent = await h.send_content(ENT, document={"file_id": "DOC-9", "file_unique_id": "d9", "file_name": "报错截图.pdf"},
                                caption="这是报错截图")
    assert "已将附件补充到诉求" in h.to(ENT, sent)[-1].text
    to_handler = h.to(HANDLER, sent)
    assert [s.method for s in to_handler] == ["sendMessage", "sendDocument", "sendMessage"]
    assert "补充了 1 个附件" in to_handler[0].text and "这是报错截图" in to_handler[2].text
    assert h.one("SELECT file_name FROM attachments WHERE appeal_id = ?", [appeal_id])["file_name"] == "报错截图.pdf"
    actions = [r["action"] for r in h.db.query("SELECT action FROM appeal_events WHERE appeal_id = ?", [appeal_id])]
    assert actions[-2:] == ["files", "message"]


async def test_a_slow_classifier_does_not_hold_up_the_other_chats(h: Harness) -> None:
    """The model (or the Rasa server over HTTP) works outside the database's writer: while one appeal is
    being classified, another enterprise's /my is answered, and the appeal is filed once the model answers."""
    await h.register(ENT)
    await h.register(OTHER, code=credit_code("91441200MA4UQ2X17"))
    release, started = threading.Event(), threading.Event()
    quick = h.classifier.parse

    def slow(text: str) -> Any:
        if "慢" in text:
            started.set()
            release.wait(10)
        return quick(text)

    h.classifier.parse = slow  # type: ignore[method-assign]
    before = len(h.session.sent)
    filing = {"update_id": 9001, **h._message(ENT, "zh-hans", text="慢慢说：我们申请的退税一直没有到账，请帮忙查一下")}
    asking = {"update_id": 9002, **h._message(OTHER, "zh-hans", text="/my",
                                              entities=[{"type": "bot_command", "offset": 0, "length": 3}])}
    try:
        await h.app.intake.accept([Update.model_validate(filing, context={"bot": h.app.bot})])
        async with asyncio.timeout(5):
            while not started.is_set():
                await asyncio.sleep(0.01)
        async with asyncio.timeout(5):  # before: storing the update already waited for the model
            await h.app.intake.accept([Update.model_validate(asking, context={"bot": h.app.bot})])
            while not h.to(OTHER, h.session.sent[before:]):
                await asyncio.sleep(0.01)
        assert not release.is_set()
        assert list(h.db.query("SELECT id FROM appeals")) == []  # the first appeal is still being classified
    finally:
        release.set()
    await h.app.intake.drain()
    await h.drain()
    assert h.one("SELECT category, status FROM appeals") == {"category": "tax", "status": "dispatched"}
    assert "诉求编号" in h.last_to(ENT).text
