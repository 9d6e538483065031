"""Not every message is an appeal: with the real model trained from nlu/data, through the real dispatcher.

Chit-chat is answered and never filed; every held-out appeal of nlu/data/test is filed (directly, or after
作为诉求提交 when it is too short to route); a message about several problems is confirmed first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appeals.routing import Step
from bot.app import build_app
from nlu.data_io import load_examples
from nlu.embedded import EmbeddedClassifier, train_model
from tests.bot.harness import TOKEN, Harness, RecordingSession, make_settings
from tests.support import ROOT
from texts import Translator

ENT = 101
CHITCHAT = [
    # greetings
    "你好", "您好！", "在吗？", "有人吗", "你好，在吗", "早上好", "领导好", "hello", "Hi", "喂，有人在线吗",
    "您好您好", "哈喽",
    # thanks, acknowledgements, goodbyes
    "谢谢", "谢谢你们！", "非常感谢", "辛苦了", "好的，谢谢", "收到", "好的", "嗯嗯", "ok", "再见", "拜拜",
    # asking for a person
    "转人工", "人工客服", "我要人工服务", "找真人", "转人工！！", "请帮我转人工",
    # tests
    "测试", "测试一下", "test", "试试", "123",
    # about the bot
    "你能做什么", "使用说明",
    # off-topic requests
    "帮我订一张去广州的高铁票", "今天天气怎么样", "给我讲个笑话", "推荐一家好吃的餐厅", "帮我写一首诗",
    "明天肇庆会下雨吗", "帮我点一份外卖", "最近有什么好看的电影",
    "北京天气", "你叫什么名字", "讲个故事吧", "good morning", "how are you",
    # no problem stated yet, or asking for the phone number
    "你好，我想咨询一下", "在吗？有个问题", "客服电话多少",
    # emoji, traditional and full-width
    "👍", "😀😀😀", "🙏🙏", "謝謝", "轉人工", "你好，請問有人在嗎", "ｈｅｌｌｏ", "测试　一下",
]
SEVERAL = ("您好，我们公司有几个问题想反映。第一，增值税专用发票开不出来，税控盘一直报错，影响给客户开票。"
           "第二，员工的社保缴费基数今年怎么核定，人社窗口说法不一致。"
           "第三，排污许可证下个月到期，延续要不要重新做监测？盼复，谢谢！")


@pytest.fixture(scope="module")
def shipped_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    examples = load_examples(ROOT / "nlu/data/train")
    return train_model(examples, tmp_path_factory.mktemp("shipped") / "model")


@pytest.fixture
async def real(tmp_path: Path, shipped_model: Path) -> AsyncIterator[Harness]:
    session = RecordingSession()
    classifier = EmbeddedClassifier(shipped_model)
    app = build_app(make_settings(tmp_path), token=TOKEN, classifier=classifier, session=session)
    harness = Harness(app, session, classifier)  # type: ignore[arg-type]
    await harness.register(ENT)
    yield harness
    await app.close()


def _appeals(h: Harness) -> int:
    return len(list(h.db.query("SELECT id FROM appeals")))


async def test_chitchat_is_answered_and_never_filed(real: Harness) -> None:
    assert len(CHITCHAT) >= 40
    t = Translator("zh-CN")
    answers = {t(f"dialogue.{act}") for act in ("greeting", "thanks", "handoff", "test", "help", "off_topic", "ack",
                                                "bye", "empty")}
    answers |= {t("error.no_words")}  # emoji only: refused before any classification
    for text in CHITCHAT:
        sent = await real.send(ENT, text)
        assert [s.text for s in sent] and sent[-1].text in answers, (text, sent[-1].text)
        assert not sent[-1].buttons, text
    assert _appeals(real) == 0
    assert "12345" in (await real.send(ENT, "转人工"))[-1].text  # the hotline, for a person


async def test_every_test_set_appeal_is_filed(real: Harness) -> None:
    examples = load_examples(ROOT / "nlu/data/test")
    classifier = real.classifier
    routing = real.app.settings.routing
    steps = {ex.text: routing.triage(ex.text, classifier.parse(ex.text)).step for ex in examples}
    assert Step.DIALOGUE not in steps.values(), [t for t, s in steps.items() if s is Step.DIALOGUE]
    # through the bot: a sample of each step
    sample = [ex.text for ex in examples[::15]] + [t for t, s in steps.items() if s is Step.CLARIFY][:3]
    for n, text in enumerate(sample, start=1):
        sent = await real.send(ENT, text)
        if _appeals(real) < n:  # asked for a sentence more, or for the main topic: file it as it is
            label = "作为诉求提交" if steps[text] is Step.CLARIFY else "一并提交"
            sent = await real.press(ENT, sent[-1].data(label))
        assert _appeals(real) == n, text
        assert "诉求已受理" in sent[0].text


async def test_a_short_text_asks_for_more_and_the_addition_is_kept(real: Harness) -> None:
    sent = await real.send(ENT, "发票")
    assert "再多写一句" in sent[-1].text and sent[-1].buttons
    assert _appeals(real) == 0
    sent = await real.send(ENT, "增值税专用发票开不出来，税控盘一直报错，客户在催")
    assert "诉求已受理" in sent[0].text
    row = real.one("SELECT text, category FROM appeals")
    assert row["text"].startswith("发票\n增值税专用发票") and row["category"] == "tax"


async def test_several_problems_are_confirmed_then_filed_once(real: Harness) -> None:
    sent = await real.send(ENT, SEVERAL)
    question = sent[-1]
    assert "几个不同的问题" in question.text and _appeals(real) == 0
    labels = [label for label, _ in question.buttons]
    assert {"税费与发票", "用工与社保"} <= set(labels) and labels[-1].startswith("一并提交")
    sent = await real.press(ENT, question.data("一并提交"))
    row = real.one("SELECT id, status, department_id FROM appeals")
    assert row["status"] == "submitted" and row["department_id"] is None  # the dispatcher assigns it
    note = real.one("SELECT note FROM appeal_events WHERE appeal_id = ? AND action = 'submit'", [row["id"]])["note"]
    assert "tax" in note and "labor" in note
    # the same message again, this time the enterprise picks the main problem
    sent = await real.send(ENT, SEVERAL)
    await real.press(ENT, sent[-1].data("用工与社保"))
    row = real.one("SELECT status, category, department_id FROM appeals ORDER BY id DESC LIMIT 1")
    assert (row["status"], row["category"]) == ("dispatched", "labor") and row["department_id"]
