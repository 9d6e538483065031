"""The inbox, conversation state and appeal counters on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from storage import conversations
from storage.db import open_db
from storage.inbox import Inbox, InboxItem
from storage.migrations import migrations

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path / "wanqi.db")
    yield database
    database.close()


def item(update_id: int, chat_id: int = 7) -> InboxItem:
    return InboxItem(update_id, chat_id, {"update_id": update_id, "message": {"text": f"第{update_id}条"}})


def test_a_batch_is_stored_once_and_read_back_in_order(db: Database) -> None:
    inbox = Inbox(db)
    assert inbox.last_update_id() is None
    assert [i.update_id for i in inbox.store([item(3), item(1), item(2)], NOW)] == [3, 1, 2]
    assert [i.update_id for i in inbox.store([item(2), item(4)], NOW)] == [4]  # re-read: stored once
    assert inbox.last_update_id() == 4
    pending = inbox.pending()
    assert [i.update_id for i in pending] == [1, 2, 3, 4]
    assert pending[0].raw == {"update_id": 1, "message": {"text": "第1条"}} and pending[0].chat_id == 7


def test_finish_writes_the_conversation_with_the_done_mark(db: Database) -> None:
    inbox = Inbox(db)
    inbox.store([item(1)], NOW)
    row = conversations.FsmRow("Register:name", {"name": "肇庆甲公司"})
    inbox.finish(1, NOW, {"k1": row, "k2": conversations.FsmRow()})
    assert inbox.pending() == [] and inbox.counts() == {"done": 1}
    assert conversations.load(db, "k1") == conversations.FsmRow("Register:name", {"name": "肇庆甲公司"})
    inbox.store([item(2)], NOW)
    inbox.finish(2, NOW, {"k1": conversations.FsmRow()})  # a cleared conversation leaves no row
    assert db.execute("SELECT COUNT(*) FROM fsm").fetchone()[0] == 0


def test_a_broken_conversation_write_leaves_the_update_pending(db: Database) -> None:
    inbox = Inbox(db)
    inbox.store([item(1)], NOW)
    with pytest.raises(TypeError):
        inbox.finish(1, NOW, {"k": conversations.FsmRow("S", {"bad": object()})})
    assert [i.update_id for i in inbox.pending()] == [1]


def test_failures_count_park_and_requeue(db: Database) -> None:
    inbox = Inbox(db)
    inbox.store([item(1), item(2)], NOW)
    assert inbox.fail(1, "RuntimeError: boom", NOW, park=False) == 1
    assert [(i.update_id, i.attempts) for i in inbox.pending()] == [(1, 1), (2, 0)]
    assert inbox.fail(1, "RuntimeError: boom", NOW, park=True) == 2
    assert [i.update_id for i in inbox.pending()] == [2]
    assert [(r["update_id"], r["attempts"], r["error"]) for r in inbox.parked()] == [(1, 2, "RuntimeError: boom")]
    assert inbox.requeue(1) and not inbox.requeue(2)
    assert [(i.update_id, i.attempts) for i in inbox.pending()] == [(1, 0), (2, 0)]


def test_prune_keeps_the_newest_update_so_polling_resumes_after_it(db: Database) -> None:
    inbox = Inbox(db)
    inbox.store([item(1), item(2)], NOW - timedelta(days=10))
    inbox.store([item(3)], NOW)
    for uid in (1, 2, 3):
        inbox.finish(uid, NOW)
    assert inbox.prune(NOW + timedelta(days=1)) == 2
    assert inbox.last_update_id() == 3


def test_a_group_is_told_once(db: Database) -> None:
    inbox = Inbox(db)
    assert inbox.tell_once(-100123, "supergroup", NOW)
    assert not inbox.tell_once(-100123, "supergroup", NOW)


def test_counters_are_seeded_from_numbers_given_before_the_migration(tmp_path: Path) -> None:
    database = Database(tmp_path / "old.db")
    applied = [m for m in migrations._migrations if m.name != "m_intake_001"]  # an older deployment
    for m in applied:
        m.fn(database)
    database.execute("INSERT INTO departments (id, name) VALUES ('tax', '市税务局')")
    database.execute("INSERT INTO users (id, created_at) VALUES (1, 'x')")
    database.execute("INSERT INTO enterprises (id, name, credit_code, created_at) VALUES (1, 'e', 'c', 'x')")
    for n in ("ZQ20261130-0001", "ZQ20261130-0002", "ZQ20261129-0001"):
        database.execute("INSERT INTO appeals (number, enterprise_id, user_id, text, status, created_at, updated_at) "
                         "VALUES (?, 1, 1, 't', 'submitted', 'x', 'x')", [n])
    next(m for m in migrations._migrations if m.name == "m_intake_001").fn(database)
    assert dict(database.execute("SELECT day, last FROM appeal_counters ORDER BY day").fetchall()) == {
        "ZQ20261129-": 1, "ZQ20261130-": 2}


def test_steps_replay_committed_writes_only_and_end_with_the_update(db: Database) -> None:
    from storage.inbox import Steps

    inbox = Inbox(db)
    inbox.store([item(1)], NOW)
    runs: list[str] = []

    def write(text: str) -> dict[str, str]:
        runs.append(text)
        db.execute("INSERT INTO fsm (key, state, data) VALUES (?, NULL, '{}')", [text])
        return {"wrote": text}

    def read() -> int:
        runs.append("read")
        return len(runs)

    first = Steps(db, 1)
    assert first.run("read", read, (), {}) == 1 and first.run("write", write, ("a",), {}) == {"wrote": "a"}
    again = Steps(db, 1)  # the same update handled again (after a crash)
    assert again.run("read", read, (), {}) == 3  # a read runs again: it changed nothing
    assert again.run("write", write, ("a",), {}) == {"wrote": "a"}  # the write is not repeated
    assert again.run("other", write, ("b",), {}) == {"wrote": "b"}  # a step it never took runs
    assert runs == ["read", "a", "read", "b"]
    inbox.finish(1, NOW)
    assert db.execute("SELECT COUNT(*) FROM update_effects").fetchone()[0] == 0


def test_a_step_that_fails_leaves_nothing(db: Database) -> None:
    from storage.inbox import Steps

    def half(_: None) -> None:
        db.execute("INSERT INTO fsm (key, state, data) VALUES ('half', NULL, '{}')")
        raise ValueError("refused")

    with pytest.raises(ValueError):
        Steps(db, 2).run("half", half, (None,), {})
    assert db.execute("SELECT COUNT(*) FROM fsm").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM update_effects").fetchone()[0] == 0
