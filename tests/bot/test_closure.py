"""Working an appeal to closure, and 好差评, through the real Dispatcher."""

from __future__ import annotations

from tests.bot.harness import SUPERVISOR, Harness, Role

ENT, HANDLER, OTHER_HANDLER = 101, 201, 202


async def _dispatched(h: Harness) -> int:
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    appeal_id, _ = await h.file(ENT, "数电发票开不出来，已经影响发货")
    return appeal_id


async def _replied(h: Harness) -> int:
    appeal_id = await _dispatched(h)
    await h.act(HANDLER, "acc", appeal_id)
    await h.act(HANDLER, "rep", appeal_id)
    await h.send(HANDLER, "已为贵司重置开票权限，请重新登录电子税务局开票。")
    return appeal_id


def _status(h: Harness, appeal_id: int) -> str:
    return h.one("SELECT status FROM appeals WHERE id = ?", [appeal_id])["status"]


async def test_accept_reply_and_a_good_rating_close_the_appeal(h: Harness) -> None:
    appeal_id = await _dispatched(h)
    sent = await h.act(HANDLER, "acc", appeal_id)
    assert "已由市税务局签收" in h.to(ENT, sent)[0].text and _status(h, appeal_id) == "accepted"
    prompt = await h.act(HANDLER, "rep", appeal_id)
    assert "正式答复" in prompt[0].text
    sent = await h.send(HANDLER, "已为贵司重置开票权限，请重新登录电子税务局开票。")
    reply = h.to(ENT, sent)[0]
    assert "重置开票权限" in reply.text and [t for t, _ in reply.buttons] == [
        "非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    sent = await h.press(ENT, reply.data("满意"))
    assert "已办结" in h.to(ENT, sent)[0].text and "满意" in h.to(HANDLER, sent)[0].text
    row = h.one("SELECT status, rating, closed_at FROM appeals WHERE id = ?", [appeal_id])
    assert row["status"] == "closed" and row["rating"] == 4 and row["closed_at"]
    moves = [(r["from_status"], r["to_status"]) for r in h.db.query(
        "SELECT from_status, to_status FROM appeal_events WHERE appeal_id = ? ORDER BY id", [appeal_id])]
    assert moves == [(None, "submitted"), ("submitted", "dispatched"), ("dispatched", "accepted"),
                     ("accepted", "replied"), ("replied", "closed")]


async def test_a_poor_rating_reopens_and_tells_supervisors(h: Harness) -> None:
    appeal_id = await _replied(h)
    sent = await h.act(ENT, "rate", appeal_id, "1")
    assert "将重新办理" in h.to(ENT, sent)[0].text
    assert any("差评督办" in s.text and "非常不满意" in s.text for s in h.to(SUPERVISOR, sent))
    assert any("差评重办" in s.text for s in h.to(HANDLER, sent))
    row = h.one("SELECT status, reopen_count, rating FROM appeals WHERE id = ?", [appeal_id])
    assert row == {"status": "reopened", "reopen_count": 1, "rating": 1}
    await h.act(HANDLER, "acc", appeal_id)
    assert _status(h, appeal_id) == "accepted"


async def test_rating_twice_and_stale_buttons_change_nothing(h: Harness) -> None:
    appeal_id = await _replied(h)
    await h.act(ENT, "rate", appeal_id, "5")
    await h.act(ENT, "rate", appeal_id, "1")
    assert "已经评价过了" in h.session.alerts[-1]
    await h.act(HANDLER, "acc", appeal_id)
    assert "不能“签收”" in h.session.alerts[-1]
    assert h.one("SELECT status, rating FROM appeals WHERE id = ?", [appeal_id]) == {"status": "closed", "rating": 5}


async def test_return_needs_a_reason_and_goes_back_to_the_center(h: Harness) -> None:
    appeal_id = await _dispatched(h)
    await h.act(HANDLER, "ret", appeal_id)
    assert "请填写具体原因" in (await h.send(HANDLER, "。。"))[-1].text
    assert _status(h, appeal_id) == "dispatched"
    sent = await h.send(HANDLER, "不属于税务事项，应由市场监管部门办理")
    assert _status(h, appeal_id) == "returned"
    triage = h.to(SUPERVISOR, sent)[0]
    assert "退回原因：不属于税务事项" in triage.text
    await h.press(SUPERVISOR, triage.data("其他分类"))
    sent = await h.act(SUPERVISOR, "dispto", appeal_id, "market")
    assert h.one("SELECT department_id, status FROM appeals WHERE id = ?", [appeal_id]) == {
        "department_id": "amr", "status": "dispatched"}
    assert h.one("SELECT source, category FROM feedback") == {"source": "return", "category": "market"}


async def test_handler_of_another_department_sees_nothing(h: Harness) -> None:
    appeal_id = await _dispatched(h)
    await h.join(OTHER_HANDLER, Role.HANDLER, "finance")
    await h.act(OTHER_HANDLER, "acc", appeal_id)
    assert "没有找到这件诉求" in h.session.alerts[-1]
    number = h.one("SELECT number FROM appeals")["number"]
    assert "没有找到这件诉求" in (await h.send(OTHER_HANDLER, f"/view {number}"))[-1].text
    assert "目前没有待办诉求" in (await h.send(OTHER_HANDLER, "/queue"))[-1].text
    assert _status(h, appeal_id) == "dispatched"


async def test_enterprise_cannot_work_its_own_appeal_or_see_anothers(h: Harness) -> None:
    appeal_id = await _dispatched(h)
    await h.act(ENT, "acc", appeal_id)
    assert "没有办理该事项的权限" in h.session.alerts[-1]
    await h.register(103, name="另一家测试有限公司")
    number = h.one("SELECT number FROM appeals")["number"]
    assert "没有找到这件诉求" in (await h.send(103, f"/view {number}"))[-1].text
    await h.act(103, "wdy", appeal_id)
    assert "没有找到这件诉求" in h.session.alerts[-1] and _status(h, appeal_id) == "dispatched"


async def test_follow_ups_reach_the_handler_and_notes_stay_internal(h: Harness) -> None:
    appeal_id = await _dispatched(h)
    await h.act(ENT, "fu", appeal_id)
    sent = await h.send(ENT, "补充：报错代码是E1024")
    assert any("E1024" in s.text for s in h.to(HANDLER, sent))
    await h.act(HANDLER, "note", appeal_id)
    await h.send(HANDLER, "内部：需核实该企业是否欠税")
    await h.act(HANDLER, "msg", appeal_id)
    sent = await h.send(HANDLER, "请提供开票设备编号")
    assert "请提供开票设备编号" in h.to(ENT, sent)[0].text
    ent_view = (await h.act(ENT, "view", appeal_id))[0].text
    staff_view = (await h.act(HANDLER, "view", appeal_id))[0].text
    assert "E1024" in ent_view and "请提供开票设备编号" in ent_view and "欠税" not in ent_view
    assert "欠税" in staff_view


async def test_withdraw_before_reply_but_not_after(h: Harness) -> None:
    appeal_id = await _dispatched(h)
    confirm = await h.act(ENT, "wd", appeal_id)
    sent = await h.press(ENT, confirm[0].data("确定撤回"))
    assert "已撤回" in h.to(ENT, sent)[0].text and any("撤回" in s.text for s in h.to(HANDLER, sent))
    assert _status(h, appeal_id) == "withdrawn"
    second, _ = await h.file(ENT, "发票又开不出来了")
    await h.act(HANDLER, "acc", second)
    await h.act(HANDLER, "rep", second)
    await h.send(HANDLER, "已处理")
    await h.act(ENT, "wdy", second)
    assert "不能“撤回”" in h.session.alerts[-1] and _status(h, second) == "replied"


async def test_extension_is_approved_once_by_a_supervisor(h: Harness) -> None:
    appeal_id = await _dispatched(h)
    await h.act(HANDLER, "acc", appeal_id)
    before = h.one("SELECT reply_due FROM appeals")["reply_due"]
    await h.act(HANDLER, "ext", appeal_id)
    assert "格式不对" in (await h.send(HANDLER, "需要延期"))[-1].text
    sent = await h.send(HANDLER, "3 需要现场核查开票设备")
    request = h.to(SUPERVISOR, sent)[0]
    assert "延期申请" in request.text and "3 个工作日" in request.text
    await h.press(HANDLER, request.data("批准"))
    assert "没有办理该事项的权限" in h.session.alerts[-1]
    sent = await h.press(SUPERVISOR, request.data("批准"))
    after = h.one("SELECT reply_due, extension_status FROM appeals")
    assert after["extension_status"] == "approved" and after["reply_due"] > before
    assert any("已批准" in s.text for s in h.to(HANDLER, sent))
    await h.act(HANDLER, "ext", appeal_id)
    assert "只能申请一次延期" in (await h.send(HANDLER, "2 还需要时间"))[-1].text


async def test_my_lists_status_and_deadline_and_queue_lists_the_department(h: Harness) -> None:
    appeal_id = await _dispatched(h)
    number = h.one("SELECT number FROM appeals")["number"]
    mine = (await h.send(ENT, "/my"))[-1]
    assert number in mine.text and "待签收" in mine.text and " 前联系您" in mine.text
    assert mine.buttons[0][1].endswith(f":{appeal_id}:")
    queue = (await h.send(HANDLER, "/queue"))[-1]
    assert "本部门待办（1 件）" in queue.text and number in queue.text
    detail = (await h.press(ENT, mine.buttons[0][1]))[0]
    assert "办理记录" in detail.text and "提交诉求" in detail.text and "派单" in detail.text
