"""The dialogue gate: is a message an appeal, or dialogue (greeting, thanks, 转人工, a test, a question about
the bot, an off-topic request, emoji only)?

Two layers. Phrase rules catch messages made only of greeting/thanks/handoff/test/ack phrases and particles,
and messages with no letters or digits at all (emoji, punctuation). A small char n-gram model, trained with
every embedded model on ``nlu/dialogue.yml`` against sentences of the appeal training data, catches short
off-topic requests (帮我订一张去广州的高铁票). Long messages are only gated by the rules: real appeals are long.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path

from nlu.linear_model import FeatureConfig, LinearTextModel, TrainConfig, evidence, train
from nlu.normalize import normalize

APPEAL = "appeal"
EMPTY = "empty"
ACTS = ("greeting", "thanks", "handoff", "test", "help", "off_topic", "ack", "bye", EMPTY)
EXAMPLES = Path(__file__).with_name("dialogue.yml")
GATE_DIR = "gate"
RULE_MAX_CHARS = 24      # longer messages are never only greetings and thanks
MODEL_MAX_CHARS = 40     # the gate model judges messages up to this many meaningful characters
MODEL_MIN_SCORE = 0.0

# Phrases (normalised: simplified, lower case) by act; the first act found in this order wins.
PHRASES: dict[str, tuple[str, ...]] = {
    "handoff": ("转人工", "人工客服", "人工服务", "人工坐席", "找人工", "接人工", "要人工", "转接人工", "人工",
                "真人客服", "找真人", "真人", "客服", "工作人员", "分拨员", "客服电话", "电话多少", "热线",
                "联系方式"),
    "test": ("测试一下", "测试测试", "测试", "试一下", "试一试", "试试", "testing", "test", "123", "1234", "12345",
             "abc"),
    "help": ("怎么用", "你能做什么", "能做什么", "有什么功能", "使用说明", "帮助", "help", "菜单", "你是谁"),
    "thanks": ("非常感谢", "太感谢了", "感谢你们", "感谢您", "感谢", "谢谢你们", "谢谢您", "谢谢你", "谢谢", "多谢",
               "谢了", "辛苦了", "辛苦", "麻烦了", "thank you", "thanks", "thx", "3q"),
    "greeting": ("你们好", "您好", "你好", "大家好", "领导好", "各位领导", "早上好", "上午好", "中午好", "下午好",
                 "晚上好", "早安", "早", "在吗", "在不在", "在线吗", "有人吗", "有人在吗", "有人在线吗", "在",
                 "哈喽", "嗨", "喂", "hello", "hi", "hey", "打扰了", "打扰一下", "请问", "机器人", "good morning",
                 "good afternoon", "good evening", "morning", "how are you", "there"),
    "bye": ("再见", "拜拜", "bye", "88", "晚安"),
    "ack": ("好的", "好吧", "好", "嗯嗯", "嗯", "哦", "噢", "收到", "知道了", "明白了", "明白", "ok", "okay", "行",
            "可以", "没问题", "没有了", "没事了", "没事", "对", "是的"),
}
# Words that carry no request on their own and may surround the phrases above.
FILLERS = ("我要", "我想", "我们", "你们", "帮我", "请", "麻烦", "一下", "能不能", "可以吗", "啊", "呀", "吧", "呢",
           "吗", "哦", "嘛", "啦", "哈", "的", "了", "我", "你", "您", "下", "个", "要", "找", "一", "位", "老师",
           "小助手", "助手", "先", "这样", "在线", "问题解决了", "帮助", "各位", "现在", "值班", "咨询一下", "咨询",
           "想问一下", "问一下", "问下", "有个问题", "有点问题", "有件事", "多少", "是")
REQUEST_OPENINGS = ("帮我", "请帮我", "帮我查下", "帮我看看", "我想问", "请问", "想咨询一下", "麻烦问下")
_NOT_WORD = re.compile(r"[\W_]+")


def _alternation(words: Sequence[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


_ALL = re.compile(f"(?:{_alternation([p for ps in PHRASES.values() for p in ps] + list(FILLERS))})+")
_BY_ACT = [(act, re.compile(_alternation(ps))) for act, ps in PHRASES.items()]


def rule_act(text: str, norm: str | None = None) -> str | None:
    """The dialogue act of a message made only of known phrases and particles, ``empty`` for a message
    without letters or digits (emoji, punctuation), else None (the rules have no opinion). ``norm``: the
    text already normalised."""
    core = _NOT_WORD.sub("", normalize(text) if norm is None else norm)
    if not core:
        return EMPTY
    if core.isdigit() and len(core) <= 6:
        return "test"  # 1, 123, 666
    if len(core) > RULE_MAX_CHARS or not _ALL.fullmatch(core):  # (the length cap also bounds backtracking)
        return None
    for act, pattern in _BY_ACT:
        if pattern.search(core):
            return act
    return "greeting"  # only fillers (我想咨询一下): ask for the problem itself


def sentences(text: str) -> list[str]:
    """A message cut into sentences (。！？；!?;, line breaks)."""
    return [s.strip() for s in re.split(r"[。！？；!?;\n\r]+", text) if s.strip()]


class DialogueGate:
    """Rules first, then (for short messages) the gate model when one was trained."""

    def __init__(self, model: LinearTextModel | None = None) -> None:
        self.model = model

    @classmethod
    def load(cls, model_dir: str | Path) -> DialogueGate:
        path = Path(model_dir) / GATE_DIR
        return cls(LinearTextModel.load(path) if path.is_dir() else None)

    def act(self, text: str, norm: str | None = None) -> str:
        """``appeal`` or one of ``ACTS`` (``norm``: the text already normalised)."""
        norm = normalize(text) if norm is None else norm
        found = rule_act(text, norm)
        if found is not None:
            return found
        if self.model is None or evidence(norm) > MODEL_MAX_CHARS:
            return APPEAL
        scores = self.model.scores(norm)
        best = int(scores.argmax())
        label = self.model.labels[best]
        # one-vs-rest SVM: the winning dialogue act must be on its positive side, not merely the least negative
        return label if label != APPEAL and scores[best] > MODEL_MIN_SCORE else APPEAL


def train_gate(appeal_texts: Sequence[str], out_dir: str | Path, seed: int = 0, limit: int = 3000) -> Path:
    """Train the gate model on ``nlu/dialogue.yml`` against sentences of ``appeal_texts``; saved in
    ``out_dir/gate``. Sentences the rules call dialogue (您好, 谢谢) are left out of the appeal side."""
    from nlu.data_io import load_rasa_yaml

    dialogue = load_rasa_yaml(EXAMPLES)
    pieces = [s for t in appeal_texts for s in [t, *sentences(t)] if len(s) >= 4 and rule_act(s) is None]
    pieces = list(dict.fromkeys(pieces))
    rng = random.Random(seed)
    rng.shuffle(pieces)
    pieces = pieces[:limit]
    # requests start like off-topic ones do (帮我…, 请问…): the content must decide, not the opening
    pieces += [rng.choice(REQUEST_OPENINGS) + p for p in pieces[: len(pieces) // 4] if len(p) <= MODEL_MAX_CHARS]
    texts = [ex.text for ex in dialogue] + pieces
    labels = [ex.label for ex in dialogue] + [APPEAL] * len(pieces)
    model = train(texts, labels, FeatureConfig(1, 3), TrainConfig(c_grid=(1.0,), char_max_grid=(3,),
                                                                  sublinear_grid=(False,), folds=0, seed=seed,
                                                                  short_prior=0.0))
    path = Path(out_dir) / GATE_DIR
    model.save(path)
    return path
