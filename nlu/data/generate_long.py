"""Long, real-looking appeal messages built from the hand-written short examples (seeded, reproducible).

    .venv/bin/python nlu/data/generate_long.py   # nlu/data/source/train -> nlu/data/train/{short,long},
                                                 # nlu/data/test/short -> nlu/data/test/long

Real messages to a government portal are long (median ~240 characters), open with 您好/领导, give
background, repeat that they already complained, often touch a second problem, sign off with masked
contact details, and come in traditional characters or with English words. Each message here is built
around two or three hand-written examples of its category from the SAME split (nlu/data/source/train for
training, nlu/data/test/short for testing), so no test sentence leaks into training; the frames
(salutations, background, closings) are generic and shared, as they are in real traffic.
"""

from __future__ import annotations

import random
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from nlu.data_io import Example, load_examples, write_rasa_yaml  # noqa: E402

SALUTATIONS = (
    "您好！", "领导您好：", "尊敬的领导：", "各位领导好，", "您好，", "市领导您好！", "尊敬的市长：", "你好，",
    "领导好！", "您好领导，", "万企诉求服务中心：", "相关部门领导：", "尊敬的工作人员：", "你们好，", "",
    "", "领导，您好。", "肇庆市政府领导：",
)
INTROS = (
    "我是{district}一家{industry}企业的负责人，", "我们是一家在{district}经营了{years}年的{industry}公司，",
    "我司（统一社会信用代码{code}）位于{district}{place}，", "本人是{district}某{industry}企业的财务，",
    "我们公司主要做{product}，员工{staff}人左右，", "我是{surname}**，在{district}开了一家{shop}，",
    "我们是去年刚落户{district}{place}的{industry}企业，", "我司是{district}的一家小微企业，做{product}的，",
    "我们企业在{place}，属于{industry}行业，", "", "", "我代表公司反映一个情况，",
    "我是{district}{place}一家{industry}厂的老板，", "本公司成立于{year}年，注册地在{district}，",
)
BACKGROUNDS = (
    "近几年受市场影响，企业经营压力很大。", "公司一直守法经营、按时纳税，从来没有违法记录。",
    "今年订单有所恢复，正准备扩大生产。", "前几年生意一直不太好，现在刚刚有起色。",
    "企业规模不大，经不起长时间的拖延。", "我们对肇庆的营商环境总体是满意的。", "",
    "工人的工资、房租每个月都要按时付。", "我们是本地纳税大户，也解决了不少就业。", "", "",
    "最近资金周转比较紧张。", "客户那边一直在催，我们压力很大。",
)
REPEATS = (
    "这个问题我们已经反映过{n}次了，一直没有结果。", "之前打过12345热线，也在网上留过言，至今没有答复。",
    "窗口工作人员让我们回去等通知，可是等了{weeks}周还没消息。", "我们多次去现场咨询，每次说法都不一样。",
    "{month}月份就提交了材料，到现在还没办下来。", "上次留言后有人打电话来问过，但之后就没了下文。",
    "问了好几个部门，互相推来推去，没有人能说清楚。", "", "", "",
)
IMPACTS = (
    "这件事已经影响到企业正常生产，每天损失好几千元。", "因为这个问题，好几个订单都不敢接。",
    "员工都在等着，我们也不知道该怎么跟他们解释。", "企业的资金本来就紧张，再拖下去真的撑不住了。",
    "我们按要求把材料都准备齐了，该交的费用也交了。", "具体情况如下，请帮忙看看。",
    "我们也理解部门工作忙，但企业的时间成本实在太高。", "客户已经开始怀疑我们的履约能力了。",
    "这个事情前前后后拖了快半年。", "我们不是不配合，只是希望能有个明确的说法。", "",
)
ALSO = ("另外，", "还有一个问题，", "顺便问一下，", "此外，", "同时，", "还有就是，")
REQUESTS = (
    "恳请相关部门尽快协调解决。", "希望有关部门能给个明确答复。", "请问这种情况应该怎么处理？",
    "麻烦帮忙核实一下。", "希望领导重视，帮企业解决实际困难。", "请告知具体办理流程和所需材料。",
    "请尽快安排人员跟进处理。", "希望能早日解决，企业等不起。", "",
)
CLOSINGS = (
    "谢谢！", "盼复。", "万分感谢！", "联系电话：{phone}。", "联系人：{surname}先生，电话{phone}。", "此致敬礼！",
    "", "谢谢领导！", "辛苦了，谢谢。", "期待回复，电话{phone}。",
)
DISTRICTS = ("端州区", "鼎湖区", "高要区", "四会市", "广宁县", "怀集县", "封开县", "德庆县", "肇庆高新区", "肇庆新区",
             "大旺", "端州", "高要", "四会")
PLACES = ("工业园", "产业园", "金利镇", "大湾镇", "睦岗街道", "城东新区", "永安镇", "蛟塘镇", "莲花镇", "科技园")
INDUSTRIES = ("五金", "陶瓷", "食品加工", "物流", "电子", "家具", "建材", "化工", "餐饮", "纺织", "金属制品",
              "新能源", "汽车配件", "塑料制品", "农产品", "印刷")
PRODUCTS = ("铝型材", "五金配件", "家具", "电子元件", "陶瓷砖", "包装材料", "饲料", "服装", "不锈钢制品", "食品")
SHOPS = ("小超市", "餐馆", "五金店", "加工作坊", "服装店", "汽修店")
SURNAMES = ("陈", "李", "黄", "梁", "张", "林", "何", "罗", "吴", "冯", "谭", "邓")
ENGLISH = {  # mixed Chinese-English as people type it
    "退税": "tax refund", "发票": "invoice", "增值税": "VAT", "社保": "social insurance", "贷款": "loan",
    "营业执照": "business license", "环评": "EIA", "施工许可": "construction permit", "停电": "power outage",
    "工资": "salary", "补贴": "subsidy", "商标": "trademark", "专利": "patent", "物流": "logistics",
    "消防": "fire safety", "税务局": "tax bureau", "银行": "bank", "审批": "approval", "报关": "customs declaration",
    "融资": "financing", "注销": "deregistration", "信用": "credit",
}


def _masked_phone(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randint(0, 9)}****{rng.randint(0, 9999):04d}"


def _masked_code(rng: random.Random) -> str:
    return f"91441{rng.randint(200, 299)}MA{rng.choice('45')}{'*' * 6}{rng.choice('0123456789ABCDEFGHJKLMNPQRTUWXY')}"


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        district=rng.choice(DISTRICTS), place=rng.choice(PLACES), industry=rng.choice(INDUSTRIES),
        product=rng.choice(PRODUCTS), shop=rng.choice(SHOPS), surname=rng.choice(SURNAMES),
        years=rng.randint(2, 20), year=rng.randint(2003, 2023), staff=rng.choice((8, 15, 30, 50, 80, 120, 300)),
        code=_masked_code(rng), phone=_masked_phone(rng), n=rng.choice("两三四五"), weeks=rng.randint(2, 8),
        month=rng.randint(1, 12),
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return text if re.search(r"[。！？!?…]$", text) else text + "。"


def _to_traditional(text: str) -> str:
    import opencc

    return str(opencc.OpenCC("s2t").convert(text))


def _mix_english(text: str, rng: random.Random) -> str:
    terms = [t for t in ENGLISH if t in text]
    for term in rng.sample(terms, k=min(len(terms), rng.randint(1, 2))):
        text = text.replace(term, f" {ENGLISH[term]} ", 1)
    return re.sub(r" +", " ", text)


def long_message(main: list[Example], others: list[Example], rng: random.Random) -> str:
    """One message around ``main`` (one or two examples of a category), maybe touching ``others``."""
    parts = [_fill(rng.choice(SALUTATIONS), rng) + _fill(rng.choice(INTROS), rng), _fill(rng.choice(BACKGROUNDS), rng)]
    parts += [_sentence(ex.text) for ex in main]
    parts.append(rng.choice(IMPACTS))
    parts.append(_fill(rng.choice(REPEATS), rng))
    if others:
        parts.append(rng.choice(ALSO) + _sentence(others[0].text))
    parts.append(rng.choice(REQUESTS))
    parts.append(_fill(rng.choice(CLOSINGS), rng))
    text = "".join(p for p in parts if p)
    roll = rng.random()
    if roll < 0.12:
        return _to_traditional(text)
    if roll < 0.24:
        return _mix_english(text, rng)
    return text


def _group(examples: list[Example], rng: random.Random) -> list[list[Example]]:
    """Consecutive groups of two or three examples."""
    groups, i = [], 0
    while i < len(examples):
        size = 3 if rng.random() < 0.3 else 2
        groups.append(examples[i:i + size])
        i += size
    return groups


def _other(label: str, pool: dict[str, list[Example]], rng: random.Random) -> list[Example]:
    if label == "other" or rng.random() >= 0.35:
        return []
    other_label = rng.choice([lb for lb in pool if lb not in (label, "other")])
    return [rng.choice([o for o in pool[other_label] if len(o.text) <= 30] or pool[other_label])]


def _by_label(examples: list[Example]) -> dict[str, list[Example]]:
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_label[ex.label].append(ex)
    return dict(sorted(by_label.items()))


def training_split(examples: list[Example], seed: int, keep_short: float = 1.0) -> tuple[list[Example],
                                                                                      list[Example]]:
    """``keep_short`` of each category stays a short message; every example goes into exactly one long
    message (groups of two or three). Training's cross-validation keeps texts that share a sentence in one
    fold (nlu.linear_model.shared_sentence_groups), so the out-of-fold threshold stays honest."""
    rng = random.Random(seed)
    short, long = [], []
    by_label = _by_label(examples)
    for label, items in by_label.items():
        items = items[:]
        rng.shuffle(items)
        cut = round(len(items) * keep_short)
        short += items[:cut]
        long += [Example(long_message(group, _other(label, by_label, rng), rng), label)
                 for group in _group(items, rng)]
    return short, long


def test_long(examples: list[Example], seed: int) -> list[Example]:
    """One long message around each held-out example, with one or two more of its category."""
    rng = random.Random(seed)
    by_label = _by_label(examples)
    out = []
    for ex in examples:
        main = [ex, rng.choice(by_label[ex.label])]
        if rng.random() < 0.4:
            main.append(rng.choice(by_label[ex.label]))
        out.append(Example(long_message(list(dict.fromkeys(main)), _other(ex.label, by_label, rng), rng), ex.label))
    return out


def main() -> None:
    data = ROOT / "nlu/data"
    written = [ex for f in sorted((data / "source/train").glob("*.yml")) for ex in load_examples(f)]
    short, long = training_split(written, seed=1)
    for name, items in (("short", short), ("long", long)):
        shutil.rmtree(data / "train" / name, ignore_errors=True)
        write_rasa_yaml(items, data / "train" / name)
    held_out = [ex for f in sorted((data / "test/short").glob("*.yml")) for ex in load_examples(f)]
    shutil.rmtree(data / "test/long", ignore_errors=True)
    write_rasa_yaml(test_long(held_out, seed=2), data / "test/long")
    print(f"train: {len(short)} short + {len(long)} long from {len(written)} written; "  # noqa: T201
          f"test: {len(held_out)} long from {len(held_out)} written")


if __name__ == "__main__":
    main()
