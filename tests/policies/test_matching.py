"""Hard eligibility, ranking, explanations, and the bitset index agreeing with the plain definitions."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from appeals.reference import DISTRICTS, SCALES
from policies.matching import PolicyIndex, eligible, make_match, rank
from policies.model import TAGS, Profile
from tests.policies.factories import TODAY, policy, profile


def test_deadline_today_is_still_eligible_yesterday_is_not() -> None:
    assert eligible(policy(deadline=TODAY), profile(), TODAY)
    assert not eligible(policy(deadline=TODAY - timedelta(days=1)), profile(), TODAY)


def test_expired_and_not_yet_valid() -> None:
    assert eligible(policy(valid_until=TODAY), profile(), TODAY)
    assert not eligible(policy(valid_until=TODAY - timedelta(days=1)), profile(), TODAY)
    assert not eligible(policy(valid_from=TODAY + timedelta(days=1)), profile(), TODAY)


@pytest.mark.parametrize(("criteria", "ok"), [
    ({"districts": ["端州区"]}, True),
    ({"districts": ["鼎湖区", "四会市"]}, False),
    ({"industries": ["C", "I"]}, True),
    ({"industries": ["A"]}, False),
    ({"scales": ["大型", "中型"]}, False),
    ({"tags": ["高新技术企业"]}, True),
    ({"tags": ["高新技术企业", "专精特新"]}, False),  # every tag is required
    ({"founded_min_years": 10}, True),  # founded 2016: 10 years in 2026
    ({"founded_min_years": 11}, False),
    ({"founded_max_years": 10}, True),
    ({"founded_max_years": 9}, False),
])
def test_criteria(criteria: dict[str, object], ok: bool) -> None:
    assert eligible(policy(**criteria), profile(), TODAY) is ok


def test_unknown_profile_fields_pass_only_unrestricted_policies() -> None:
    blank = Profile(enterprise_id=9)
    assert eligible(policy(), blank, TODAY)
    assert not eligible(policy(districts=["端州区"]), blank, TODAY)
    assert not eligible(policy(founded_max_years=3), blank, TODAY)


def test_explanation_names_met_criteria() -> None:
    m = make_match(policy(tags=["高新技术企业"], districts=["端州区"], industries=["C"]), profile(), TODAY)
    assert m.explanation() == "符合：高新技术企业 · 端州区 · 制造业"
    general = make_match(policy(keywords=["五金", "物流"]), profile(), TODAY)
    assert general.explanation() == "符合：全市企业均可申报 · 相关：五金"


def test_ranking_tags_keywords_and_near_deadline() -> None:
    plain = policy("plain")
    tagged = policy("tagged", tags=["高新技术企业"])
    keyword = policy("keyword", keywords=["五金"])
    appeal = policy("appeal", keywords=["融资难"])
    closing = policy("closing", deadline=TODAY + timedelta(days=2))
    far = policy("far", deadline=TODAY + timedelta(days=90))
    p = profile(appeal_texts=("我们最近遇到融资难的问题",))
    order = [m.policy.id for m in rank(p, [plain, far, appeal, keyword, closing, tagged], TODAY)]
    assert order.index("closing") < order.index("far")
    assert order.index("tagged") < order.index("plain")
    assert order.index("keyword") < order.index("appeal") < order.index("plain")
    assert order[-2:] == ["far", "plain"]  # equal scores: the one with a deadline first


def random_policies(rng: random.Random, n: int) -> list:  # type: ignore[type-arg]
    out = []
    for i in range(n):
        out.append(policy(
            f"r-{i}",
            industries=rng.sample("ACFGI", rng.choice([0, 0, 1, 2])),
            scales=rng.sample(SCALES, rng.choice([0, 0, 2, 3])),
            districts=rng.sample(DISTRICTS, rng.choice([0, 0, 0, 1, 3])),
            tags=rng.sample(TAGS[:4], rng.choice([0, 0, 0, 1, 2])),
            founded_min_years=rng.choice([None, None, 1, 3]), founded_max_years=rng.choice([None, None, 5, 10]),
            keywords=rng.sample(["五金", "出口", "研发", "物流", "贷款", "餐饮"], rng.choice([0, 1, 2])),
            deadline=rng.choice([None, TODAY + timedelta(days=rng.randint(-5, 60))]),
            published=date(2026, 1, 1) + timedelta(days=rng.randint(0, 320)),
            valid_until=rng.choice([None, TODAY + timedelta(days=rng.randint(-30, 300))]),
        ))
    return out


def test_index_agrees_with_reference_on_random_profiles() -> None:
    rng = random.Random(7)
    pols = random_policies(rng, 300)
    index = PolicyIndex(pols, TODAY)
    for k in range(200):
        p = Profile(
            enterprise_id=k, industry=rng.choice("ACFGIM"), scale=rng.choice(SCALES),
            district=rng.choice(DISTRICTS), tags=tuple(rng.sample(TAGS[:4], rng.randint(0, 3))),
            founded_year=rng.choice([None, 2025, 2021, 2012]),
            business=rng.choice(["五金出口", "软件研发", "餐饮", ""]), appeal_texts=("贷款难",) * rng.randint(0, 1))
        ref = rank(p, pols, TODAY)
        assert index.eligible_mask(p).bit_count() == len(ref)
        got = index.match(p, limit=7)
        assert [(m.policy.id, m.score) for m in got] == [(m.policy.id, m.score) for m in ref[:7]]
        within = index.mask_of(x.id for x in pols[::3])
        ref_within = [m for m in ref if m.policy.id in {x.id for x in pols[::3]}][:4]
        assert [m.policy.id for m in index.match(p, limit=4, within=within)] == [m.policy.id for m in ref_within]
