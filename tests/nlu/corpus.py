"""A tiny generated corpus for fast NLU tests (4 categories, deterministic)."""

from __future__ import annotations

from itertools import product

from nlu.data_io import Example

TOPICS = {
    "tax": ("增值税专用发票", "个税申报", "出口退税", "电子税务局", "税务登记", "发票额度"),
    "labor": ("拖欠工资", "社保缴费基数", "劳动合同", "招工难", "养老保险", "稳岗补贴"),
    "environment": ("环评批复", "排污许可证", "危险废物", "废气超标", "噪声扰民", "环保验收"),
    "finance": ("银行贷款", "融资担保", "贷款利率", "应急转贷", "信用贷款", "抵押贷款"),
}
FRAMES = ("请问{}怎么办理", "我们公司的{}问题一直没解决，很着急", "关于{}，想咨询一下流程和材料",
          "{}的事情拖了两个月了，希望尽快答复")


def corpus(frames: tuple[str, ...] = FRAMES) -> list[Example]:
    """len(TOPICS) * 6 * len(frames) examples."""
    return [Example(frame.format(term), label)
            for label, terms in TOPICS.items() for term, frame in product(terms, frames)]


def split() -> tuple[list[Example], list[Example]]:
    """Train on the first three frames, test on the last one."""
    return corpus(FRAMES[:3]), corpus(FRAMES[3:])
