"""Rule entities: credit codes, phones, money (Chinese numerals), dates, districts, departments."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from appeals.credit_code import check_char
from nlu.entities import EntityExtractor, department_aliases
from nlu.numerals import to_decimal

X = EntityExtractor(today=date(2026, 11, 25))


def found(text: str, label: str | None = None) -> list[tuple[str, str, str]]:
    return [(e.label, e.text, e.value) for e in X.extract(text) if label in (None, e.label)]


def test_valid_credit_code_is_found_and_upper_cased() -> None:
    code = "91350100M000100Y43"
    text = f"我司信用代码{code.lower()}，请核实"
    ents = X.extract(text)
    assert [(e.label, e.value) for e in ents] == [("credit_code", code)]
    assert text[ents[0].start:ents[0].end] == code.lower()


def test_code_with_wrong_check_digit_is_not_an_entity() -> None:
    first17 = "91441200MA4UABCD1"
    good = first17 + check_char(first17)
    bad = first17 + ("0" if good[-1] != "0" else "1")
    assert found(f"代码{good}", "credit_code") == [("credit_code", good, good)]
    assert found(f"代码{bad}", "credit_code") == []


def test_full_width_code_keeps_original_offsets() -> None:
    code = "91350100M000100Y43"
    full = "".join(chr(ord(c) + 0xFEE0) for c in code)
    ents = X.extract("代码：" + full)
    assert ents[0].value == code and ents[0].text == full and ents[0].start == 3


@pytest.mark.parametrize(("text", "value"), [
    ("一百二十万元", "1200000"), ("两千五百元", "2500"), ("1.5亿元", "150000000"), ("3万", "30000"),
    ("1,200元", "1200"), ("￥5000", "5000"), ("两万五", "25000"), ("三十万元", "300000"),
    ("5千万元", "50000000"), ("一点五亿元", "150000000"), ("800块钱", "800"),
])
def test_money_values(text: str, value: str) -> None:
    assert found(f"欠款{text}未付", "money") == [("money", text, value)]


@pytest.mark.parametrize("text", ["厂房3万平方米", "员工5000人", "一万多家企业", "编号12345"])
def test_quantities_that_are_not_money(text: str) -> None:
    assert found(text, "money") == []


def test_chinese_numerals() -> None:
    cases = {"十二万三千": 123000, "一亿两千万": 120000000, "三百零五": 305, "一万五": 15000, "二〇二六": 2026}
    assert {k: int(to_decimal(k) or -1) for k in cases} == cases


@pytest.mark.parametrize(("text", "value"), [
    ("13800138000", "13800138000"), ("138-0013-8000", "13800138000"), ("+86 13800138000", "13800138000"),
    ("0758-2345678", "0758-2345678"), ("（0758）2233445", "0758-2233445"), ("020-87654321", "020-87654321"),
])
def test_phones(text: str, value: str) -> None:
    assert found(f"联系电话{text}，谢谢", "phone") == [("phone", text, value)]


def test_long_digit_runs_are_not_phones() -> None:
    assert found("订单号138001380001234", "phone") == []


@pytest.mark.parametrize(("text", "value"), [
    ("2026年10月8日", "2026-10-08"), ("2026-10-08", "2026-10-08"), ("2026/1/5", "2026-01-05"),
    ("10月8日", "2026-10-08"), ("2026年10月", "2026-10"), ("二〇二六年十月八日", "2026-10-08"),
    ("10月底", "2026-10"),
])
def test_dates(text: str, value: str) -> None:
    assert found(f"我们在{text}提交了申请", "date") == [("date", text, value)]


def test_impossible_date_is_not_an_entity() -> None:
    assert found("2026年2月30日", "date") == []


@pytest.mark.parametrize(("text", "value"), [
    ("端州区", "端州区"), ("端州", "端州区"), ("高要", "高要区"), ("四会市", "四会市"), ("大旺", "肇庆高新区"),
    ("高新区", "肇庆高新区"), ("肇庆新区", "肇庆新区"), ("怀集县", "怀集县"),
])
def test_districts(text: str, value: str) -> None:
    assert found(f"我们厂在{text}，", "district") == [("district", text, value)]


@pytest.mark.parametrize(("text", "value"), [
    ("税务局", "市税务局"), ("人社局", "市人社局"), ("市场监管局", "市市场监管局"), ("供电局", "供电局"),
    ("市生态环境局", "市生态环境局"), ("环保局", "市生态环境局"), ("信用办", "市发改局（信用办）"),
])
def test_departments(text: str, value: str) -> None:
    assert found(f"去了{text}两次", "department") == [("department", text, value)]


def test_config_department_names_extend_the_table() -> None:
    extractor = EntityExtractor(department_aliases(["市商务局"]))
    assert [(e.text, e.value) for e in extractor.extract("找过商务局")] == [("商务局", "市商务局")]


def test_mixed_text_has_no_overlaps_and_sorted_offsets() -> None:
    text = "端州区某公司（91350100M000100Y43）2026年3月被税务局罚款一百二十万元，电话0758-2345678"
    ents = X.extract(text)
    assert [e.label for e in ents] == ["district", "credit_code", "date", "department", "money", "phone"]
    assert all(text[e.start:e.end] == e.text for e in ents)
    assert all(a.end <= b.start for a, b in itertools.pairwise(ents))
