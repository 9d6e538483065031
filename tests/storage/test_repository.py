"""SqliteRepository on a real SQLite file: pragmas, migrations, numbering, atomic writes, round-trips."""

from __future__ import annotations

import inspect
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlite_utils import Database

from appeals.lifecycle import Status
from appeals.model import Appeal, AppealEvent, Attachment
from appeals.ports import CategoryScore, Entity, Repository
from storage.db import Writer, open_db
from storage.migrations import migrations
from storage.repository import SqliteRepository

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
ENTERPRISE = {
    "name": "肇庆甲制造有限公司", "credit_code": "91350100M000100Y43", "contact": "张经理",
    "phone": "13800138000", "industry": "C", "scale": "小型", "district": "端州区",
}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "wanqi.db"


@pytest.fixture
def db(path: Path) -> Iterator[Database]:
    database = open_db(path)
    yield database
    database.close()


@pytest.fixture
def repo(db: Database) -> SqliteRepository:
    r = SqliteRepository(db, "ZQ")
    r.sync_departments({"tax": "市税务局", "finance": "市金融局"})
    r.ensure_user(101, "甲", "zh-CN", NOW)
    r.create_enterprise(dict(ENTERPRISE), 101, NOW)
    return r


def new_appeal(at: datetime = NOW, **over: object) -> Appeal:
    base = Appeal(id=0, number="", enterprise_id=1, user_id=101, text="增值税发票开不出来",
                  status=Status.SUBMITTED, created_at=at)
    return replace(base, **over)  # type: ignore[arg-type]


def event(appeal_id: int, at: datetime = NOW, action: str = "submit", before: str | None = None,
          after: str | None = "submitted", note: str = "") -> AppealEvent:
    return AppealEvent(appeal_id=appeal_id, at=at, actor_id=101, actor_role="enterprise", action=action,
                       from_status=before, to_status=after, note=note)


def count(db: Database, table: str) -> int:
    return int(next(iter(db.query(f"SELECT COUNT(*) AS n FROM [{table}]")))["n"])


# ---- opening and migrating ----------------------------------------------------------------------

def test_pragmas_on_a_file(db: Database, path: Path) -> None:
    assert path.exists()
    assert next(iter(db.query("PRAGMA journal_mode")))["journal_mode"] == "wal"
    assert next(iter(db.query("PRAGMA foreign_keys")))["foreign_keys"] == 1
    assert next(iter(db.query("PRAGMA busy_timeout")))["timeout"] >= 1000


def test_foreign_keys_are_enforced(repo: SqliteRepository) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        repo.add_event(event(appeal_id=4242))
    with pytest.raises(sqlite3.IntegrityError):
        repo.create_invite("code-x", "handler", "no-such-department", "cli", NOW)
    assert count(repo.db, "appeal_events") == 0 and count(repo.db, "invites") == 0


def test_migrations_are_idempotent_on_reopen(path: Path) -> None:
    first = open_db(path)
    tables = set(first.table_names())
    assert {"appeals", "appeal_events", "enterprises", "users", "attachments", "feedback",
            "processed_updates", "_sqlite_migrations"} <= tables
    applied = [m.name for m in migrations.applied(first)]
    assert len(applied) == len(migrations._migrations)  # everything applied once
    SqliteRepository(first).ensure_user(5, "x", "zh-CN", NOW)
    first.close()
    for _ in range(2):
        again = open_db(path)
        assert set(again.table_names()) == tables
        assert [m.name for m in migrations.applied(again)] == applied
        assert migrations.pending(again) == []
        assert SqliteRepository(again).get_user(5) is not None  # data survived
        again.close()


def test_in_memory_database_is_migrated_and_private() -> None:
    a, b = open_db(None), open_db(None)
    SqliteRepository(a).ensure_user(1, "x", "zh-CN", NOW)
    assert "appeals" in a.table_names()
    assert SqliteRepository(b).get_user(1) is None


# ---- appeal numbers -------------------------------------------------------------------------------

def test_numbers_are_sequential_per_day(repo: SqliteRepository) -> None:
    first = repo.create_appeal(new_appeal(), [event(0)], None)
    second = repo.create_appeal(new_appeal(NOW + timedelta(hours=3)), [event(0)], None)
    late = repo.create_appeal(new_appeal(datetime(2026, 11, 25, 23, 30, tzinfo=TZ)), [event(0)], None)
    # 16:30 UTC on the 25th is already the 26th in Zhaoqing
    next_day = repo.create_appeal(new_appeal(datetime(2026, 11, 25, 16, 30, tzinfo=UTC)), [event(0)], None)
    after = repo.create_appeal(new_appeal(datetime(2026, 11, 26, 9, 0, tzinfo=TZ)), [event(0)], None)
    assert [a.number for a in (first, second, late, next_day, after)] == [
        "ZQ20261125-0001", "ZQ20261125-0002", "ZQ20261125-0003", "ZQ20261126-0001", "ZQ20261126-0002"]
    assert repo.find_appeal("ZQ20261125-0002") == second


def test_prefix_is_configurable(db: Database) -> None:
    r = SqliteRepository(db, "SZ")
    r.ensure_user(101, "甲", "zh-CN", NOW)
    r.create_enterprise(dict(ENTERPRISE), 101, NOW)
    assert r.create_appeal(new_appeal(), [event(0)], None).number == "SZ20261125-0001"


def test_committed_before_the_number_is_returned(repo: SqliteRepository, path: Path) -> None:
    saved = repo.create_appeal(new_appeal(), [event(0)], 9001)
    other = sqlite3.connect(path)  # another process's view
    try:
        row = other.execute("SELECT number, status FROM appeals WHERE source_update_id = 9001").fetchone()
    finally:
        other.close()
    assert row == (saved.number, "submitted")


# ---- atomic writes ----------------------------------------------------------------------------------

def test_save_and_event_are_atomic(repo: SqliteRepository) -> None:
    a = repo.create_appeal(new_appeal(), [event(0)], None)
    before = (repo.get_appeal(a.id), repo.events(a.id), repo.feedback_examples())
    moved = replace(a, status=Status.DISPATCHED, department_id="tax", category="tax", dispatched_at=NOW)
    bad = replace(event(a.id, action="dispatch", before="submitted", after="dispatched"), action=None)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        repo.save(moved, bad, feedback=("dispatch", "tax"))
    assert (repo.get_appeal(a.id), repo.events(a.id), repo.feedback_examples()) == before
    assert not repo.db.conn.in_transaction
    # the connection is still usable and the same step succeeds with a good event
    good = event(a.id, action="dispatch", before="submitted", after="dispatched")
    saved = repo.save(moved, good, feedback=("dispatch", "tax"))
    assert saved.status is Status.DISPATCHED and saved.department_id == "tax"
    assert [e.action for e in repo.events(a.id)] == ["submit", "dispatch"]
    assert repo.feedback_examples() == [(a.text, "tax", "dispatch")]


def test_save_to_a_bad_department_changes_nothing(repo: SqliteRepository) -> None:
    a = repo.create_appeal(new_appeal(), [event(0)], None)
    with pytest.raises(sqlite3.IntegrityError):
        repo.save(replace(a, status=Status.DISPATCHED, department_id="nowhere"),
                  event(a.id, action="dispatch", before="submitted", after="dispatched"))
    assert repo.get_appeal(a.id) == a and len(repo.events(a.id)) == 1


def test_create_appeal_is_atomic(repo: SqliteRepository) -> None:
    bad = replace(event(0), action=None)  # type: ignore[arg-type]
    with pytest.raises(sqlite3.IntegrityError):
        repo.create_appeal(new_appeal(attachments=(Attachment("photo", "f1"),)), [event(0), bad], 77)
    assert count(repo.db, "appeals") == 0 and count(repo.db, "attachments") == 0
    assert count(repo.db, "appeal_events") == 0 and repo.find_by_update(77) is None
    # the number was not used up
    assert repo.create_appeal(new_appeal(), [event(0)], 77).number == "ZQ20261125-0001"


def test_update_id_is_unique(repo: SqliteRepository) -> None:
    repo.create_appeal(new_appeal(), [event(0)], 5)
    with pytest.raises(sqlite3.IntegrityError):
        repo.create_appeal(new_appeal(), [event(0)], 5)
    assert count(repo.db, "appeals") == 1
    assert repo.create_appeal(new_appeal(), [event(0)], None).number == "ZQ20261125-0002"


# ---- round-trips ------------------------------------------------------------------------------------

def test_attachments_round_trip(repo: SqliteRepository) -> None:
    atts = (Attachment("photo", "AgACAgUAAxkBAAIB"), Attachment("document", "BQACAgUAAxkBAAIC", "营业执照.pdf"),
            Attachment("photo", "AgACAgUAAxkBAAID"))
    a = repo.create_appeal(new_appeal(attachments=atts), [event(0)], None)
    assert a.attachments == atts
    repo.add_attachments(a.id, [Attachment("document", "BQAC-late", "补充材料.docx")], NOW)
    got = repo.get_appeal(a.id)
    assert got is not None and got.attachments == (*atts, Attachment("document", "BQAC-late", "补充材料.docx"))
    other = repo.create_appeal(new_appeal(), [event(0)], None)
    assert other.attachments == ()


def test_entities_ranking_and_times_round_trip(repo: SqliteRepository) -> None:
    entities = (
        Entity("credit_code", "91350100m000100y43", 4, 22, "91350100M000100Y43"),
        Entity("money", "五十万元", 30, 34, "500000"),
        Entity("district", "端州区", 0, 3, "端州区"),
        Entity("phone", "0758-2281234", 40, 52, "0758-2281234"),
    )
    ranking = (CategoryScore("tax", 0.8125), CategoryScore("finance", 0.125), CategoryScore("other", 0.0625))
    due = datetime(2026, 11, 26, 23, 59, 59, tzinfo=TZ)
    a = repo.create_appeal(
        new_appeal(entities=entities, ranking=ranking, category="tax", confidence=0.8125,
                   status=Status.DISPATCHED, department_id="tax", dispatched_at=NOW, accept_due=due,
                   reply_due=due + timedelta(days=6), extension_days=3, extension_status="requested",
                   extension_reason="需要现场核查", reopen_count=2, alert_level="yellow"),
        [event(0)], None)
    got = repo.get_appeal(a.id)
    assert got is not None
    assert got.entities == entities and got.ranking == ranking
    assert (got.category, got.confidence, got.department_id) == ("tax", 0.8125, "tax")
    assert got.accept_due == due and got.accept_due.tzinfo is not None and got.created_at == NOW
    assert got.reply_due == due + timedelta(days=6)
    assert (got.extension_days, got.extension_status, got.extension_reason) == (3, "requested", "需要现场核查")
    assert (got.reopen_count, got.alert_level) == (2, "yellow")
    # raw storage: UTC ISO strings, Chinese kept readable
    row = next(iter(repo.db.query("SELECT accept_due, entities FROM appeals WHERE id = ?", [a.id])))
    assert row["accept_due"] == "2026-11-26T15:59:59.000+00:00"
    assert "端州区" in row["entities"]


def test_ranking_confidences_are_rounded_to_four_places(repo: SqliteRepository) -> None:
    a = repo.create_appeal(new_appeal(ranking=(CategoryScore("tax", 0.123456),)), [event(0)], None)
    assert a.ranking == (CategoryScore("tax", 0.1235),)


def test_events_round_trip_in_order(repo: SqliteRepository) -> None:
    a = repo.create_appeal(new_appeal(), [event(0)], None)
    later = NOW + timedelta(minutes=5)
    repo.add_event(AppealEvent(a.id, later, 301, "handler", "note", "submitted", "submitted",
                               "内部：请核实", internal=True))
    repo.add_event(event(a.id, later + timedelta(minutes=1), action="message", before="submitted",
                         note="补充：发票号 123"))
    evs = repo.events(a.id)
    assert [(e.action, e.internal, e.note) for e in evs] == [
        ("submit", False, ""), ("note", True, "内部：请核实"), ("message", False, "补充：发票号 123")]
    assert evs[1].at == later and evs[1].actor_role == "handler" and evs[1].actor_id == 301
    updated = next(iter(repo.db.query("SELECT updated_at FROM appeals WHERE id = ?", [a.id])))["updated_at"]
    assert datetime.fromisoformat(updated) == later + timedelta(minutes=1)


def ids(appeals: list[Appeal]) -> list[int]:
    return [a.id for a in appeals]


def test_list_appeals_filters(repo: SqliteRepository) -> None:
    repo.ensure_user(201, "乙", "zh-CN", NOW)
    b = repo.create_enterprise({**ENTERPRISE, "credit_code": "91441202MA5123456T", "name": "乙"}, 201, NOW)
    a1 = repo.create_appeal(new_appeal(), [event(0)], None)
    a2 = repo.create_appeal(new_appeal(status=Status.DISPATCHED, department_id="tax"), [event(0)], None)
    b1 = repo.create_appeal(new_appeal(enterprise_id=b.id, user_id=201, status=Status.DISPATCHED,
                                       department_id="finance"), [event(0)], None)
    assert ids(repo.list_appeals()) == [b1.id, a2.id, a1.id]
    assert ids(repo.list_appeals(enterprise_id=1)) == [a2.id, a1.id]
    assert ids(repo.list_appeals(department_id="tax")) == [a2.id]
    assert ids(repo.list_appeals(statuses=frozenset({Status.DISPATCHED}))) == [b1.id, a2.id]
    assert ids(repo.list_appeals(statuses=frozenset({Status.DISPATCHED}), enterprise_id=b.id)) == [b1.id]
    assert repo.list_appeals(statuses=frozenset()) == []
    assert ids(repo.list_appeals(limit=2)) == [b1.id, a2.id]


def test_people_and_enterprises(repo: SqliteRepository) -> None:
    owner = repo.get_user(101)
    assert owner is not None and owner.role == "enterprise" and owner.enterprise_id == 1
    e = repo.find_enterprise("91350100M000100Y43")
    assert e is not None and e.owner_id == 101 and e.name == "肇庆甲制造有限公司" and e.tags == ()
    with pytest.raises(sqlite3.IntegrityError):  # one enterprise per credit code
        repo.create_enterprise(dict(ENTERPRISE), 101, NOW)
    repo.ensure_user(102, "乙", "en", NOW)
    claim = repo.create_claim(1, 102, NOW)
    assert repo.create_claim(1, 102, NOW) == claim
    repo.decide_claim(claim, True, 101, NOW)
    assert repo.enterprise_user_ids(1) == [101, 102]
    repo.set_user(102, active=0)
    assert repo.enterprise_user_ids(1) == [101]
    assert repo.ensure_user(102, "乙", "en", NOW).active  # writing again reactivates
    repo.create_invite("c1", "handler", "tax", "cli", NOW, NOW + timedelta(days=7))
    repo.ensure_user(301, "税务小李", "zh-CN", NOW)
    assert repo.use_invite("c1", 301, NOW) is not None and repo.use_invite("c1", 301, NOW) is None
    assert repo.user_ids("handler", "tax") == [301] and repo.user_ids("handler", "finance") == []


# ---- the single writer thread --------------------------------------------------------------------

async def test_writer_runs_repository_calls_off_the_loop(path: Path) -> None:
    writer = Writer()
    db = await writer.run(open_db, path)
    repo = SqliteRepository(db)
    threads: set[str] = set()

    def step(i: int) -> str:
        threads.add(threading.current_thread().name)
        repo.ensure_user(1000 + i, f"u{i}", "zh-CN", NOW)
        return threading.current_thread().name

    names = [await writer.run(step, i) for i in range(20)]
    assert all(n.startswith("wanqi-db") for n in names) and len(threads) == 1
    assert threading.current_thread().name not in threads
    assert await writer.run(repo.user_ids, "enterprise") == []
    assert await writer.run(lambda: count(db, "users")) == 20
    await writer.run(db.close)
    writer.close()


def test_sqlite_repository_implements_the_domain_port() -> None:
    """Every method of appeals.ports.Repository exists here with the same parameters."""
    wanted = [n for n, v in vars(Repository).items() if callable(v) and not n.startswith("_")]
    assert len(wanted) >= 20
    for name in wanted:
        port = inspect.signature(getattr(Repository, name))
        impl = inspect.signature(getattr(SqliteRepository, name))
        assert list(impl.parameters) == list(port.parameters), name
        for p_name, param in port.parameters.items():
            assert impl.parameters[p_name].kind == param.kind, (name, p_name)
            assert impl.parameters[p_name].default == param.default, (name, p_name)
    port_checked: Repository = SqliteRepository(open_db(None))  # and mypy checks the types
    assert port_checked is not None
