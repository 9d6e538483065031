"""The weekly digest: new matches once, near deadlines, the cap, the message limit, stable keys."""

from __future__ import annotations

from datetime import timedelta

from policies import digest
from policies.digest import Sent, build
from policies.matching import PolicyIndex
from policies.model import Recipient, Subscription
from tests.policies.factories import TODAY, policy, profile
from texts import translator

R = Recipient(user_id=123, enterprise_id=1)


def test_key_is_stable_per_recipient_per_iso_week() -> None:
    assert digest.iso_week(TODAY) == "2026-W48"
    assert digest.iso_week(TODAY + timedelta(days=4)) == "2026-W48"  # Sunday, same week
    assert digest.digest_key("2026-W48", 123) == "digest:2026-W48:user:123"


def test_second_week_excludes_what_was_delivered() -> None:
    pols = [policy(f"p-{i}") for i in range(8)]
    week1 = build(R, profile(), PolicyIndex(pols, TODAY), Sent(), max_items=5)
    assert week1 is not None and len(week1.new) == 5 and week1.meta["week"] == "2026-W48"
    sent = Sent.from_meta([week1.meta])
    week2 = build(R, profile(), PolicyIndex(pols, TODAY + timedelta(days=7)), sent, max_items=5)
    assert week2 is not None and week2.key == "digest:2026-W49:user:123"
    assert {m.policy.id for m in week2.new} == {p.id for p in pols} - set(week1.meta["policies"])
    week3 = build(R, profile(), PolicyIndex(pols, TODAY + timedelta(days=14)),
                  Sent.from_meta([week1.meta, week2.meta]))
    assert week3 is None


def test_near_deadline_is_included_once_even_if_sent_before() -> None:
    closing = policy("closing", deadline=TODAY + timedelta(days=10))
    later = policy("later", deadline=TODAY + timedelta(days=15))
    first = build(R, profile(), PolicyIndex([closing, later], TODAY - timedelta(days=30)), Sent())
    assert first is not None and first.closing == () and {m.policy.id for m in first.new} == {"closing", "later"}
    reminder = build(R, profile(), PolicyIndex([closing, later], TODAY), Sent.from_meta([first.meta]),
                     window_days=14)
    assert reminder is not None and [m.policy.id for m in reminder.closing] == ["closing"]
    assert reminder.new == () and reminder.meta["closing"] == ["closing"]
    again = build(R, profile(), PolicyIndex([closing, later], TODAY + timedelta(days=1)),
                  Sent.from_meta([first.meta, reminder.meta]), window_days=14)
    assert again is not None and [m.policy.id for m in again.closing] == ["later"]


def test_cap_topics_unsubscribed_and_ineligible() -> None:
    pols = [policy(f"f-{i}", topics=("融资",)) for i in range(4)] + [policy("t", topics=("税费",)),
                                                                      policy("x", districts=["鼎湖区"])]
    index = PolicyIndex(pols, TODAY)
    capped = build(R, profile(), index, Sent(), max_items=2)
    assert capped is not None and len(capped.matches) == 2
    only_tax = Recipient(123, 1, subscription=Subscription(123, True, ("税费",)))
    d = build(only_tax, profile(), index, Sent())
    assert d is not None and [m.policy.id for m in d.matches] == ["t"]
    off = Recipient(123, 1, subscription=Subscription(123, False))
    assert build(off, profile(), index, Sent()) is None
    everything = build(R, profile(), index, Sent(), max_items=10)
    assert everything is not None and "x" not in {m.policy.id for m in everything.matches}


def test_text_fits_telegram_limit_and_shows_sections() -> None:
    long = "很长的标题" * 300
    pols = [policy(f"l-{i}", title=long, deadline=TODAY + timedelta(days=i)) for i in range(5)]
    d = build(R, profile(), PolicyIndex(pols, TODAY), Sent(), max_items=5)
    assert d is not None
    text = digest.text(d, translator("zh-CN"), "示例公司")
    assert len(text) <= 4096 and "即将截止" in text and "今天" in text
    short = build(R, profile(), PolicyIndex([policy("s", title="<b>&")], TODAY), Sent())
    assert short is not None
    body = digest.text(short, translator("zh-CN"), "A&B")
    assert "&lt;b&gt;&amp;" in body and "A&amp;B" in body and "新匹配政策" in body


def test_fitted_digest_records_only_what_the_message_holds() -> None:
    long = "很长的标题" * 300  # 1,500 characters each: only two fit in 4,096
    pols = [policy(f"l-{i}", title=long + str(i)) for i in range(5)]
    d = build(R, profile(), PolicyIndex(pols, TODAY), Sent(), max_items=5)
    assert d is not None and len(d.new) == 5
    shown, text = digest.fitted(d, translator("zh-CN"), "示例公司")
    assert len(text) <= 4096 and 1 <= len(shown.new) < 5
    assert shown.meta["policies"] == [m.policy.id for m in shown.new]
    assert all(m.policy.title in text for m in shown.new)
