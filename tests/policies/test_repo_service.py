"""The SQLite repository and the policy service over it: upserts, profiles, subscriptions, recipients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database

from policies.model import Subscription
from policies.service import PolicyService, ProfileError
from storage.db import open_db
from storage.outbox import Outbox
from storage.policies_repo import PolicyRepository
from tests.policies.dbseed import add_appeal, add_enterprise, add_user
from tests.policies.factories import TODAY, policy

NOW = datetime(2026, 11, 25, 1, tzinfo=UTC)


@pytest.fixture
def db() -> Database:
    return open_db(None)


def service(db: Database, now: datetime = NOW) -> PolicyService:
    return PolicyService(PolicyRepository(db), Outbox(db), clock=lambda: now)


def test_upsert_reports_added_changed_unchanged_and_round_trips(db: Database) -> None:
    repo = PolicyRepository(db)
    p = policy("a", industries=["C"], tags=["专精特新"], keywords=["模具"], deadline=TODAY, url="https://x.cn/a",
               founded_min_years=2, sample=True)
    assert repo.upsert_policies([p, policy("b")], "catalogue", NOW)["added"] == ["a", "b"]
    assert repo.get_policy("a") == p
    again = repo.upsert_policies([p, policy("b", title="新标题")], "catalogue", NOW)
    assert again == {"added": [], "changed": ["b"], "unchanged": ["a"]}
    assert repo.get_policy("b").title == "新标题"  # type: ignore[union-attr]


def test_profile_reads_enterprise_and_recent_appeals(db: Database) -> None:
    uid = add_enterprise(db, 1, tags=["高新技术企业"])
    add_appeal(db, 1, uid, "申请研发补贴")
    profile = PolicyRepository(db).profile(1)
    assert profile is not None and profile.tags == ("高新技术企业",) and profile.appeal_texts == ("申请研发补贴",)
    assert PolicyRepository(db).profile(99) is None


def test_profile_edits(db: Database) -> None:
    add_enterprise(db, 1, tags=["高新技术企业"])
    svc = service(db)
    assert svc.toggle_tag(1, "专精特新").tags == ("高新技术企业", "专精特新")  # type: ignore[union-attr]
    assert svc.toggle_tag(1, "高新技术企业").tags == ("专精特新",)  # type: ignore[union-attr]
    assert svc.set_founded_year(1, 2020).founded_year == 2020  # type: ignore[union-attr]
    assert svc.set_business(1, "  跨境  电商 ").business == "跨境 电商"  # type: ignore[union-attr]
    for bad in (lambda: svc.toggle_tag(1, "火箭"), lambda: svc.set_founded_year(1, 2030),
                lambda: svc.set_business(1, "  ")):
        with pytest.raises(ProfileError):
            bad()


def test_subscription_default_on_then_unsubscribe_removes_recipient(db: Database) -> None:
    uid = add_enterprise(db, 1)
    add_user(db, 555, 1)
    svc = service(db)
    assert svc.subscription(uid) == Subscription(uid)
    assert [r.user_id for r in PolicyRepository(db).recipients()] == [uid, 555]
    svc.set_weekly(uid, 1, False)
    assert [r.user_id for r in PolicyRepository(db).recipients()] == [555]
    assert svc.toggle_topic(uid, 1, "税费").topics == ("税费",)
    assert svc.subscription(uid).weekly is False  # choosing topics does not resubscribe
    svc.set_weekly(uid, 1, True)
    [r] = [r for r in PolicyRepository(db).recipients() if r.user_id == uid]
    assert r.subscription is not None and r.subscription.topics == ("税费",)
    PolicyRepository(db).mark_inactive(555)
    assert [r.user_id for r in PolicyRepository(db).recipients()] == [uid]


def test_matches_search_and_appeal_answer(db: Database) -> None:
    add_enterprise(db, 1, tags=["高新技术企业"], business="精密模具制造")
    PolicyRepository(db).upsert_policies([
        policy("mold", title="模具产业技改补贴", keywords=["模具"], summary="支持模具企业技术改造"),
        policy("hitech", title="高企研发奖励", tags=["高新技术企业"], summary="研发费用奖励"),
        policy("far", title="鼎湖区农业补贴", districts=["鼎湖区"], summary="农业"),
        policy("old", title="过期的模具政策", valid_until=TODAY - timedelta(days=1), summary="模具"),
    ], "test", NOW)
    svc = service(db)
    profile, found, total = svc.matches(1)
    assert profile is not None and total == 2 and [m.policy.id for m in found] == ["mold", "hitech"]
    assert [h.policy.id for h in svc.search("模具")] == ["mold"]  # expired ones are not offered
    assert [m.policy.id for m in svc.for_appeal(1, "想咨询模具技改有什么补贴")] == ["mold"]
    assert svc.for_appeal(1, "鼎湖区农业补贴怎么申请") == []  # related but not eligible


def test_catalogue_sync_retires_removed_policies_but_keeps_imported(db: Database) -> None:
    repo = PolicyRepository(db)
    repo.upsert_policies([policy("kept"), policy("dropped")], "catalogue", NOW)
    repo.upsert_policies([policy("imported")], "import:x.xlsx", NOW)
    assert repo.remove_missing("catalogue", {"kept"}) == ["dropped"]
    assert [p.id for p in repo.all_policies()] == ["imported", "kept"]


def test_index_follows_catalogue_changes_made_elsewhere(db: Database) -> None:
    add_enterprise(db, 1)
    svc = service(db)
    PolicyRepository(db).upsert_policies([policy("one")], "test", NOW)
    assert svc.matches(1)[2] == 1
    PolicyRepository(db).upsert_policies([policy("two")], "import:x.csv", NOW + timedelta(seconds=1))
    assert svc.matches(1)[2] == 2  # e.g. `wanqi policies import` while the bot runs
