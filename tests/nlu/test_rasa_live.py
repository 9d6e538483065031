"""The Rasa backend for real: train a small model, start `rasa run --enable-api`, parse via the bot's client.

Skipped when nlu/rasa/.venv is missing, unless WANQI_REQUIRE_RASA=1 (CI), where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from appeals.ports import ClassifierUnavailable, Entity
from nlu import rasa_client
from nlu.rasa_client import RasaClassifier, RasaServer, train_rasa

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

# A tiny corpus: 4 categories, 8 lines each, some entity annotations (Rasa's RegexEntityExtractor
# only uses the patterns of entities annotated somewhere). Test texts below are not in it.
CORPUS = {
    "tax": [
        "增值税专用发票开不出来，税控盘一直报错",
        "出口退税申报了三个月还没到账，涉及[86万元](money)",
        "电子税务局登录不了，个税申报截止日快到了",
        "发票额度不够用，想申请增加发票领用数量",
        "[市税务局](department)说我们少缴了印花税，要补税和滞纳金",
        "留抵退税怎么申请，需要什么材料，回电[13800138000](phone)",
        "税务登记信息变更以后，发票上的名称还是旧的",
        "小规模纳税人的增值税减免政策今年还有吗",
    ],
    "labor": [
        "员工社保缴费基数怎么核定，人社窗口说法不一",
        "拖欠工资的员工去劳动仲裁了，我们想调解",
        "招工难，想请[市人社局](department)帮忙对接职业技校",
        "稳岗补贴申请了半年还没发下来，联系电话[0758-2281234](phone)",
        "工伤认定申请提交后一直没有结论",
        "劳动合同到期不续签要不要给经济补偿",
        "养老保险断缴了两个月，能不能补缴",
        "员工在[端州区](district)的人才公寓申请被退回",
    ],
    "environment": [
        "环评批复一直没出来，项目没法开工",
        "排污许可证到期延续需要重新监测吗",
        "危险废物转移联单系统填报出错",
        "[市生态环境局](department)说我们废气超标，要罚款[20万元](money)",
        "环保验收自主验收完了要不要去备案",
        "周边居民投诉噪声扰民，环保部门要求限期整改",
        "污水处理设施在线监测数据异常怎么申诉",
        "[高要区](district)的工业园区环评要不要单独做",
    ],
    "finance": [
        "银行贷款审批太慢，企业资金周转困难",
        "想申请应急转贷资金，额度有多少",
        "融资担保费率太高，有没有政府贴息",
        "信用贷款被银行拒绝了，理由是征信有问题",
        "抵押贷款评估价太低，只能贷[300万元](money)",
        "科技型企业知识产权质押融资怎么办理",
        "贷款利率比去年还高，能不能找[市金融局](department)协调",
        "普惠小微贷款续贷要求先还后贷，资金压力很大",
    ],
}
PHONE = "13912345678"


def _require_rasa() -> None:
    exe = rasa_client.rasa_venv() / "bin" / "rasa"
    if exe.exists():
        return
    message = f"Rasa environment missing ({exe}): run bash nlu/rasa/setup_env.sh"
    if os.environ.get("WANQI_REQUIRE_RASA") == "1":
        pytest.fail(message + " (WANQI_REQUIRE_RASA=1)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaServer]:
    _require_rasa()
    root = tmp_path_factory.mktemp("rasa")
    data = root / "nlu.yml"
    lines = ['version: "3.1"', "nlu:"]
    for intent, examples in CORPUS.items():
        lines += [f"- intent: {intent}", "  examples: |", *[f"    - {ex}" for ex in examples]]
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = train_rasa(data, root / "models", epochs=40)
    assert model.name.endswith(".tar.gz") and model.stat().st_size > 0
    # generous start-up timeout: model load is ~20 s, much longer on a busy 2-core machine
    with RasaServer(model, port=0, startup_timeout=420) as running:
        yield running


@pytest.mark.parametrize(("text", "category"), [
    ("我们的增值税发票开票系统报错，月底申报很着急", "tax"),
    ("工厂废气排放超标被处罚，想问环评和整改的事", "environment"),
    ("公司想贷款扩大生产，银行一直不批，利率也高", "finance"),
    ("员工社保和工资的问题，劳动仲裁怎么处理", "labor"),
])
def test_live_server_classifies_through_the_bots_client(server: RasaServer, text: str, category: str) -> None:
    result = RasaClassifier(server.url, timeout=10.0).parse(text)
    assert result.top is not None and result.top.category == category
    assert {s.category for s in result.ranking} == set(CORPUS)
    assert sum(s.confidence for s in result.ranking) == pytest.approx(1.0, abs=1e-3)


def test_live_server_entities_from_rasa_and_from_the_rules(server: RasaServer) -> None:
    text = f"我司在高要区的环评被市生态环境局退回两次，罚款5万元，联系电话{PHONE}"

    def no_rules(_text: str) -> tuple[Entity, ...]:
        return ()

    # Rasa alone: its RegexEntityExtractor with the regexes / lookup tables of nlu/rasa/data/patterns.yml
    from_rasa = RasaClassifier(server.url, timeout=10.0, entity_finder=no_rules).parse(text)
    assert {"district", "department", "phone"} <= {e.label for e in from_rasa.entities}
    for ent in from_rasa.entities:
        assert text[ent.start:ent.end] == ent.text

    # merged with the rule extractor: normalised values, no overlapping spans
    merged = RasaClassifier(server.url, timeout=10.0).parse(text)
    values = {(e.label, e.value) for e in merged.entities}
    assert ("phone", PHONE) in values and ("district", "高要区") in values
    assert ("money", "50000") in values
    spans = sorted((e.start, e.end) for e in merged.entities)
    assert all(a[1] <= b[0] for a, b in pairwise(spans))


def test_stopped_server_is_unavailable(tmp_path: Path, server: RasaServer) -> None:
    client = RasaClassifier(server.url, timeout=2.0)
    assert client.parse("发票").top is not None
    server.stop()
    with pytest.raises(ClassifierUnavailable):
        client.parse("发票")
