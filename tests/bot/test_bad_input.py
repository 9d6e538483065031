"""Bad input gets a clear, polite answer and changes or loses nothing."""

from __future__ import annotations

from bot.render import utf16_len
from demo.standin import _strip_html
from tests.bot.harness import Harness, Role

ENT, HANDLER = 101, 201


def _count(h: Harness) -> int:
    return len(list(h.db.query("SELECT id FROM appeals")))


async def test_whitespace_only_emoji_only_and_too_long_are_refused(h: Harness) -> None:
    await h.register(ENT)
    assert "内容为空" in (await h.send(ENT, "   "))[-1].text
    assert "仅有表情或符号" in (await h.send(ENT, "😀😀👍"))[-1].text
    assert "内容过长（10001 字）" in (await h.send(ENT, "税" * 10_001))[-1].text
    assert _count(h) == 0


async def test_a_10000_character_appeal_is_kept_whole_and_split_for_the_handler(h: Harness) -> None:
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    text = ("发票问题说明：" + "我司开具的增值税发票无法查验。" * 800)[:10_000]
    appeal_id, sent = await h.file(ENT, text)
    assert h.one("SELECT length(text) AS n FROM appeals WHERE id = ?", [appeal_id])["n"] == 10_000
    card = h.to(HANDLER, sent)
    # Telegram counts the shown text (tags parsed) in UTF-16 units; the harness refuses what it would refuse
    assert len(card) >= 3 and all(utf16_len(_strip_html(part.text)) <= 4096 for part in card)
    assert card[-1].buttons and not card[0].buttons  # buttons on the last part only
    assert sum(part.text.count("无法查验") for part in card) == text.count("无法查验")


async def test_stickers_voice_and_unknown_commands(h: Harness) -> None:
    await h.register(ENT)
    sticker = {"file_id": "S", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
               "is_animated": False, "is_video": False}
    assert "暂不支持贴纸" in (await h.send_content(ENT, sticker=sticker))[-1].text
    voice = {"file_id": "V", "file_unique_id": "v", "duration": 3}
    assert "暂不支持语音" in (await h.send_content(ENT, voice=voice))[-1].text
    assert "没有找到这个命令" in (await h.send(ENT, "/frobnicate"))[-1].text
    assert _count(h) == 0


async def test_unregistered_users_are_asked_to_register_first(h: Harness) -> None:
    assert "请先发送 /start" in (await h.send(ENT, "发票开不出来"))[-1].text
    assert "请先发送 /start" in (await h.send(ENT, "/my"))[-1].text
    assert _count(h) == 0


async def test_forged_and_unreadable_buttons(h: Harness) -> None:
    await h.register(ENT)
    await h.press(ENT, "a:acc:999999:")
    assert "没有找到这件诉求" in h.session.alerts[-1]
    await h.press(ENT, "garbage-payload")
    assert "按钮已失效" in h.session.alerts[-1]
    await h.press(ENT, "a:rate:1:9")
    assert h.session.alerts[-1]


async def test_unknown_invite_and_wrong_unknown_numbers(h: Harness) -> None:
    assert "邀请码无效" in (await h.send(HANDLER, "/join NOPE"))[-1].text
    await h.register(ENT)
    assert "没有找到这件诉求" in (await h.send(ENT, "/view ZQ20990101-0001"))[-1].text
    assert "企业账号不能使用工作人员邀请码" in (await h.join(ENT, Role.HANDLER, "tax"))[-1].text


async def test_a_failing_update_is_retried_parked_with_a_polite_answer_and_requeued(h: Harness) -> None:
    await h.register(ENT)
    h.classifier.fail_with = RuntimeError("model file corrupted")
    sent = await h.send(ENT, "发票开不出来", update_id=4242)
    assert [s.text for s in sent] == ["抱歉，您的这条消息暂时无法处理，已记录并转交工作人员核查，无需重复发送。"]
    assert _count(h) == 0
    parked = h.one("SELECT status, attempts, error FROM inbox WHERE update_id = 4242")
    assert parked["status"] == "parked" and parked["attempts"] == 5 and "model file corrupted" in parked["error"]
    assert await h.send(ENT, "发票开不出来", update_id=4242) == []  # a redelivery is not a second try
    h.classifier.fail_with = None
    assert "诉求编号" in (await h.send(ENT, "贷款审批太慢"))[0].text  # the chat is not blocked behind it
    assert await h.app.intake.retry(4242)  # the operator fixed the cause
    await h.app.intake.drain()
    assert _count(h) == 2 and h.one("SELECT status FROM inbox WHERE update_id = 4242")["status"] == "done"


async def test_cancel_leaves_a_step_and_lang_switches_to_english(h: Harness) -> None:
    await h.send(ENT, "/start")
    await h.press(ENT, "r:begin:1")
    assert "已取消" in (await h.send(ENT, "/cancel"))[-1].text
    assert "当前没有进行中的操作" in (await h.send(ENT, "/cancel"))[-1].text
    await h.press(ENT, "l:en")
    assert "English" in h.to(ENT)[-1].text or "switched" in h.to(ENT)[-1].text.lower()
    assert h.one("SELECT lang FROM users WHERE id = ?", [ENT])["lang"] == "en"


async def test_typing_during_a_button_step_asks_for_the_buttons(h: Harness) -> None:
    await h.send(ENT, "/start")
    await h.press(ENT, "r:begin:1")
    for answer in ("肇庆测试有限公司", "91350100M000100Y43", "张三", "13800138000"):
        await h.send(ENT, answer)
    assert "请点击上方按钮" in (await h.send(ENT, "制造业"))[-1].text
    assert "电话号码格式不正确" not in h.to(ENT)[-1].text
