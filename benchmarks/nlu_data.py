"""Data splits shared by the NLU benchmarks: the committed train/test split, and a harder variant
with long multi-paragraph texts built from the same split (no test text leaks into training)."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from nlu.data_io import Example, load_examples

OPENINGS = ("您好，", "尊敬的领导：", "你好，我是一家企业的负责人。", "麻烦问一下，", "我司反映一个问题。",
            "各位领导好，", "")
CLOSINGS = ("谢谢！", "盼复。", "希望尽快处理，谢谢。", "请相关部门给予答复。", "辛苦了。", "")
FILLERS = ("我们公司成立于几年前，一直依法经营，按时纳税，员工有几十人。",
           "之前打过几次电话，也在网上留言过，但一直没有结果。",
           "这个问题影响到我们正常经营，希望政府能重视。",
           "具体情况如下，请帮忙看看。",
           "我们对营商环境总体是满意的，只是这件事情拖了很久。")


def committed_split(train: str = "nlu/data/source/train", test: str = "nlu/data/test/short") -> tuple[list[Example],
                                                                                           list[Example]]:
    return load_examples(train), load_examples(test)


def _typo(text: str, rng: random.Random, rate: float) -> str:
    chars = list(text)
    out = []
    for ch in chars:
        r = rng.random()
        if r < rate / 2:
            continue  # dropped character
        if r < rate:
            out.append(ch)  # doubled character
        out.append(ch)
    return "".join(out)


def harden(examples: Sequence[Example], seed: int = 0, rate: float = 0.03) -> list[Example]:
    """Long, noisy texts: each example becomes opening + filler + itself + one more of its class +
    a shorter paragraph of another class + closing, with typos; the label stays the example's."""
    rng = random.Random(seed)
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_label[ex.label].append(ex)
    labels = sorted(by_label)
    out = []
    for ex in examples:
        same = rng.choice(by_label[ex.label])
        other_label = rng.choice([lb for lb in labels if lb != ex.label])
        other = rng.choice(by_label[other_label]).text
        other = other[: max(8, len(other) // 2)]
        paragraphs = [rng.choice(OPENINGS) + rng.choice(FILLERS), ex.text, same.text,
                      "另外顺便问一下，" + other, rng.choice(FILLERS) + rng.choice(CLOSINGS)]
        out.append(Example(_typo("\n".join(paragraphs), rng, rate), ex.label))
    return out


def hard_split(seed: int = 0) -> tuple[list[Example], list[Example]]:
    train, test = committed_split()
    return harden(train, seed), harden(test, seed + 1)
