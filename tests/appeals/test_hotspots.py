"""热点: similar Chinese texts from several enterprises group together; one enterprise's repeats do not."""

from __future__ import annotations

from appeals.hotspots import HotspotItem, find_hotspots, grams


def item(i: int, text: str, enterprise: int, dept: str | None = "urban", district: str = "端州区") -> HotspotItem:
    return HotspotItem(i, f"ZQ-{i}", text, enterprise, dept, district)


POWER = ["端州区工业园停电三天了，影响生产，请尽快恢复供电", "工业园区又停电了，生产线停工，请尽快恢复供电",
         "我们在工业园，停电两天影响生产，希望尽快恢复供电", "工业园停电，请供电部门尽快恢复供电！！"]


def test_similar_texts_from_several_enterprises_form_a_hotspot() -> None:
    items = [item(i, t, enterprise=i) for i, t in enumerate(POWER)]
    items += [item(10, "想咨询高新技术企业认定的补贴怎么申请", 10, "data"),
              item(11, "增值税专用发票开不出来，请税务局帮忙", 11, "tax", "高要区")]
    [hot] = find_hotspots(items)
    assert {i.appeal_id for i in hot.items} == {0, 1, 2, 3}
    assert hot.enterprises == 4 and hot.departments == (("urban", 4),) and hot.districts == (("端州区", 4),)
    assert any("供电" in term or "停电" in term for term in hot.terms)


def test_one_enterprise_repeating_itself_is_not_a_hotspot() -> None:
    items = [item(i, t, enterprise=1) for i, t in enumerate(POWER)]
    assert find_hotspots(items) == []
    assert find_hotspots(items, min_enterprises=1)[0].size == 4


def test_copies_collapse_and_a_high_threshold_splits() -> None:
    copies = [item(i, f"园区道路积水严重，请城管局处理（{i}号）", i) for i in range(300)]
    [hot] = find_hotspots(copies)
    assert hot.size == 300
    assert find_hotspots([item(i, t, i) for i, t in enumerate(POWER)], threshold=0.95) == []


def test_grams_ignore_digits_latin_and_punctuation() -> None:
    assert grams("ABC 停电，123停电") == {"停电": 2}
