"""The texts as an enterprise and a handler read them, through the real Dispatcher (issue 11)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from appeals.ports import CategoryScore, ParseResult
from tests.bot.harness import SUPERVISOR, Harness, Role, credit_code

ENT, HANDLER = 101, 201
TZ = ZoneInfo("Asia/Shanghai")
LIGHTS = ("🟢", "🟡", "🔴")


def _day(h: Harness, column: str, appeal_id: int) -> str:
    value = datetime.fromisoformat(h.one(f"SELECT {column} AS d FROM appeals WHERE id = ?", [appeal_id])["d"])
    local = value.astimezone(TZ)
    return f"{local:%Y-%m-%d}"


async def _filed(h: Harness, text: str = "数电发票开不出来，已经影响发货") -> tuple[int, list]:  # type: ignore[type-arg]
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    return await h.file(ENT, text)


async def test_the_enterprise_hears_what_to_expect_and_no_model_confidence(h: Harness) -> None:
    appeal_id, sent = await _filed(h)
    ack = h.to(ENT, sent)[0].text
    assert "已转至<b>市税务局</b>办理：将于 1 个工作日内与您联系，" in ack
    assert f"{_day(h, 'reply_due', appeal_id)} 前答复。" in ack
    assert not re.search(r"把握度|置信度|\d+%|签收时限|办理时限", ack)
    card = h.to(HANDLER, sent)[0].text
    assert "分类：税费与发票（置信度 93%）" in card and "签收时限：" in card and "办理时限：" in card


async def test_staff_see_a_rounded_confidence_never_100_percent(h: Harness) -> None:
    h.classifier.parse = lambda text: ParseResult((CategoryScore("tax", 0.9987), CategoryScore("policy", 0.0013)))
    _, sent = await _filed(h)
    card = h.to(HANDLER, sent)[0].text
    assert "（置信度 99%）" in card and "100%" not in card


async def test_the_reply_asks_for_a_rating_and_says_who_closes_when(h: Harness) -> None:
    appeal_id, _ = await _filed(h)
    await h.act(HANDLER, "acc", appeal_id)
    await h.act(HANDLER, "rep", appeal_id)
    sent = await h.send(HANDLER, "已为贵司重置开票权限，请重新登录电子税务局开票。")
    reply = h.to(ENT, sent)[0]
    assert reply.text.splitlines()[-1] == (
        "请您对本次办理结果进行评价。评价后即办结；选择“不满意”或“非常不满意”将重新办理。"
        f"{_day(h, 'rating_due', appeal_id)} 前未评价的，将自动办结。")
    assert len(reply.buttons) == 5
    told = h.to(HANDLER, sent)[0]
    assert "企业评价后即办结，3 个工作日内未评价的自动办结" in told.text and "写明原因" in told.text
    assert told.buttons[0][0] == "办结"


async def test_a_handler_closes_after_the_reply_only_with_a_reason(h: Harness) -> None:
    appeal_id, _ = await _filed(h)
    await h.act(HANDLER, "acc", appeal_id)
    await h.act(HANDLER, "rep", appeal_id)
    await h.send(HANDLER, "已为贵司重置开票权限，请重新登录电子税务局开票。")
    prompt = await h.act(HANDLER, "cls", appeal_id)
    assert "请填写办结原因" in prompt[0].text
    assert h.one("SELECT status FROM appeals WHERE id = ?", [appeal_id])["status"] == "replied"
    sent = await h.send(HANDLER, "企业已电话确认可以正常开票")
    assert "已办结" in h.to(HANDLER, sent)[0].text and "已办结" in h.to(ENT, sent)[0].text
    event = h.one("SELECT action, note FROM appeal_events WHERE appeal_id = ? ORDER BY id DESC LIMIT 1", [appeal_id])
    assert event == {"action": "close", "note": "企业已电话确认可以正常开票"}


async def test_a_poor_rating_is_acknowledged_once_and_the_supervisor_sees_text_and_reply(h: Harness) -> None:
    long_text = "数电发票开不出来，已经影响发货。" + "客户催得很急，" * 60
    appeal_id, _ = await _filed(h, long_text)
    await h.act(HANDLER, "acc", appeal_id)
    await h.act(HANDLER, "rep", appeal_id)
    await h.send(HANDLER, "已为贵司重置开票权限，请重新登录电子税务局开票。")
    sent = await h.act(ENT, "rate", appeal_id, "2")
    thanks = h.to(ENT, sent)[0].text
    assert thanks.count("不满意") == 1 and "未让您满意" not in thanks and "将重新办理" in thanks
    alert = next(s.text for s in h.to(SUPERVISOR, sent) if "差评督办" in s.text)
    assert "诉求：数电发票开不出来，已经影响发货。" in alert and "…" in alert and len(alert) < 600
    assert "答复：已为贵司重置开票权限，请重新登录电子税务局开票。" in alert


async def test_my_explains_each_deadline_without_lights(h: Harness) -> None:
    appeal_id, _ = await _filed(h)
    mine = (await h.send(ENT, "/my"))[-1].text
    assert f"待签收 · 税费与发票 · {_day(h, 'accept_due', appeal_id)} 前联系您" in mine
    assert not any(light in mine for light in LIGHTS) and "时限" not in mine
    await h.act(HANDLER, "acc", appeal_id)
    assert f"办理中 · 税费与发票 · {_day(h, 'reply_due', appeal_id)} 前答复" in (await h.send(ENT, "/my"))[-1].text
    await h.act(HANDLER, "rep", appeal_id)
    await h.send(HANDLER, "已为贵司重置开票权限，请重新登录电子税务局开票。")
    assert f"请于 {_day(h, 'rating_due', appeal_id)} 前评价" in (await h.send(ENT, "/my"))[-1].text
    await h.act(ENT, "rate", appeal_id, "1")
    mine = (await h.send(ENT, "/my"))[-1].text
    assert "重新办理中" in mine and "差评" not in mine
    queue = (await h.send(HANDLER, "/queue"))[-1].text
    assert "签收时限" in queue and any(light in queue for light in LIGHTS)  # staff keep the lights


async def test_the_industry_picker_shows_common_sections_first_and_the_rest_behind_more(h: Harness) -> None:
    await h.send(ENT, "/start")
    await h.press(ENT, "r:begin:1")
    for answer in ("肇庆测试科技有限公司", credit_code(), "张经理", "13800138000"):
        await h.send(ENT, answer)
    picker = h.last_to(ENT)
    assert "第 5/7 步" in picker.text
    labels = [label for label, _ in picker.buttons]
    assert labels[0] == "C 制造业" and labels[-1] == "更多行业…" and len(labels) <= 11
    assert not any(label.startswith(("S ", "T ")) for label in labels)
    await h.press(ENT, picker.data("更多行业…"))
    edit = [c for c in h.session.calls if c.__api_method__ == "editMessageReplyMarkup"][-1]
    everything = [b.text for row in edit.reply_markup.inline_keyboard for b in row]
    assert len(everything) == 20 and "T 国际组织" in everything
    await h.press(ENT, "r:industry:T")
    assert "企业规模" in h.last_to(ENT).text


async def test_welcome_and_registration_read_naturally(h: Harness) -> None:
    welcome = (await h.send(ENT, "/start"))[-1].text
    assert welcome.startswith("您好，这里是<b>肇庆市万企诉求服务中心</b>。") and "中心万企诉求助手" not in welcome
    done = (await h.register(ENT, name="肇庆星河精密制造有限公司"))[-1].text
    assert "登记完成，欢迎肇庆星河精密制造有限公司！" in done
