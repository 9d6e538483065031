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
    words = {"工业园", "工业园区", "停电", "供电", "影响", "生产", "恢复", "尽快", "生产线"}
    [hot] = find_hotspots(items, words=words)
    assert {i.appeal_id for i in hot.items} == {0, 1, 2, 3}
    assert hot.enterprises == 4 and hot.departments == (("urban", 4),) and hot.districts == (("端州区", 4),)
    # named by whole words the texts share, never by character pairs ("业园", "电三") or filler ("尽快")
    assert set(hot.terms) <= words - {"尽快"} and "停电" in hot.terms and "供电" in hot.terms
    assert find_hotspots(items)[0].terms == ()  # no dictionary, no names (the grouping is the same)


def test_keywords_are_dictionary_words_not_fragments() -> None:
    from nlu.words import common_words

    texts = ["营业执照变更需要多久（编号1）", "请问营业执照变更要多久", "营业执照变更材料交了一周没消息",
             "增值税专用发票无法开具，税控盘提示异常", "增值税专用发票开不出来，税控盘报错",
             "税控盘异常，增值税发票无法开具"]
    items = [item(i, t, enterprise=i) for i, t in enumerate(texts)]
    named = {h.items[0].appeal_id: h.terms for h in find_hotspots(items, threshold=0.2, words=common_words())}
    assert named[0][:2] == ("营业执照", "变更"), named
    assert "增值税" in named[3] and "发票" in named[3] and not {"业执", "照变", "值税"} & set(named[0] + named[3])


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
