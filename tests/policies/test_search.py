"""BM25 search over Chinese bigrams."""

from __future__ import annotations

from policies.search import SearchIndex, tokens
from tests.policies.factories import policy


def test_tokens_are_bigrams_and_words() -> None:
    assert tokens("贷款贴息 ABC 2026") == ["贷款", "款贴", "贴息", "abc", "2026"]
    assert tokens("税") == ["税"]


def test_search_ranks_the_relevant_policy_first() -> None:
    pols = [
        policy("loan", title="普惠小微贷款贴息", summary="按利息的30%给予贴息", keywords=("贴息",)),
        policy("talent", title="高层次人才安家补贴", summary="人才安家补贴", topics=("人才",)),
        policy("export", title="出口信用保险保费补贴", summary="外贸企业出口信保补贴", topics=("外贸",)),
    ]
    index = SearchIndex(pols)
    assert [h.policy.id for h in index.search("贴息")] == ["loan"]
    assert index.search("人才补贴")[0].policy.id == "talent"
    assert index.search("出口")[0].policy.id == "export"
    assert index.search("量子引力") == []
    assert index.search("税") == []  # no policy mentions 税
    assert index.search("险")[0].policy.id == "export"  # single character: unigram fallback
