"""storage.figures sums in SQL exactly what appeals.metrics.count_rows defines on rows (one meaning, two speeds)."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlite_utils import Database

from appeals.calendar import OfficialCalendar
from appeals.lifecycle import CLOCK_RUNNING, Status
from appeals.metrics import count_rows, lights, summarise
from storage.db import open_db
from storage.figures import _REFILL, SqliteFigureSource, period_rows, running_rows
from storage.migrations import APPEAL_TIMES, migrations

TZ = ZoneInfo("Asia/Shanghai")
UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00")


OFFSETS = (timezone(timedelta(hours=8)), UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30)))


def _ts(value: datetime | None, rng: random.Random | None = None) -> str | None:
    """As an import might write it: any offset (text order is then not time order)."""
    if value is None:
        return None
    return value.astimezone(rng.choice(OFFSETS) if rng else UTC).isoformat()


NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
PERIODS = ((date(2026, 8, 1), date(2026, 11, 20), None), (date(2026, 9, 7), date(2026, 10, 31), "tax"))


def _fill(db: Database, n: int = 600, seed: int = 3) -> None:
    db.execute("INSERT INTO departments (id, name) VALUES ('tax', '税务'), ('hrss', '人社')")
    db.execute("INSERT INTO enterprises (id, name, credit_code, created_at) VALUES (1, 'e', 'c', 'x')")
    db.execute("INSERT INTO users (id, created_at) VALUES (1, '2026-01-01T00:00:00+00:00')")
    rng = random.Random(seed)
    for i in range(n):
        created = NOW - timedelta(days=rng.uniform(0, 120), seconds=rng.randint(0, 86400))
        if rng.random() < 0.5:
            created = created.replace(microsecond=0)  # both timestamp shapes sqlite sees
        accept_due = created + timedelta(days=rng.choice([1, 2, 3]))
        reply_due = created + timedelta(days=rng.choice([3, 5, 7]))
        accepted = created + timedelta(hours=rng.uniform(1, 80)) if rng.random() < 0.8 else None
        replied = created + timedelta(days=rng.uniform(0, 12)) if accepted and rng.random() < 0.7 else None
        status = rng.choice([Status.CLOSED, Status.REPLIED]) if replied else rng.choice(
            [Status.DISPATCHED, Status.ACCEPTED, Status.WITHDRAWN, Status.CLOSED, Status.REOPENED])
        closed = (replied or created) + timedelta(days=1) if status is Status.CLOSED else None
        if rng.random() < 0.3:
            replied = None  # closed without a reply (unrated auto-close) or not answered
        db.execute(
            "INSERT INTO appeals (number, enterprise_id, user_id, text, status, created_at, updated_at, "
            "department_id, category, accept_due, accepted_at, reply_due, replied_at, closed_at, rating, "
            "reopen_count, return_count, dispatched_at, rating_due, rated_at) "
            "VALUES (?, 1, 1, 't', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [f"N{i}", status.value, _ts(created, rng), _ts(created, rng), rng.choice(["tax", "hrss", None]),
             rng.choice(["tax", "labor", None]), _ts(accept_due, rng) if rng.random() < 0.95 else None,
             _ts(accepted, rng), _ts(reply_due, rng), _ts(replied, rng), _ts(closed, rng),
             rng.choice([None, 1, 2, 3, 4, 5]), rng.randint(0, 1), rng.choice([0, 0, 0, 1, 2]),
             _ts(created + timedelta(hours=1), rng), _ts(replied and replied + timedelta(days=3), rng),
             _ts(closed, rng)])
        db.execute("INSERT INTO appeal_events (appeal_id, at, action) VALUES (?, ?, 'submit')",
                   [i + 1, _ts(created, rng)])


def _assert_counts_equal_the_definitions(db: Database, tz: ZoneInfo = TZ) -> None:
    cal = OfficialCalendar()
    source = SqliteFigureSource(db)
    for start, end, dept in PERIODS:
        sql = source.period_counts(start, end, now=NOW, calendar=cal, tz=tz, department_id=dept)
        rows = count_rows(period_rows(db, start, end, tz, dept), start=start, end=end, now=NOW, calendar=cal, tz=tz)
        assert sorted(sql.groups, key=repr) == sorted(rows.groups, key=repr)
        assert sorted(sql.handling, key=repr) == sorted(rows.handling, key=repr)
        assert sql.finished_by_week == rows.finished_by_week
        assert sql.closed_by_week == rows.closed_by_week
        a = summarise(sql, start=start, end=end, lights={})
        b = summarise(rows, start=start, end=end, lights={})
        assert a.total == b.total and a.weekly == b.weekly and a.total.filed > 50
        assert 0 < a.total.accept_base - a.total.accepted_on_time < a.total.filed  # some late or still pending


def test_sql_counts_equal_the_definitions_on_rows() -> None:
    db = open_db(None)
    _fill(db)
    _assert_counts_equal_the_definitions(db)


def test_kept_counts_follow_every_change_to_an_appeal() -> None:
    """The triggers take an appeal's old state out and put its new state in, on any update or delete."""
    db = open_db(None)
    _fill(db)
    rng = random.Random(5)
    ids = [r[0] for r in db.execute("SELECT id FROM appeals").fetchall()]
    later = (NOW - timedelta(days=3)).isoformat()
    changes = (
        "UPDATE appeals SET status = 'closed', closed_at = ?, rating = 2 WHERE id = ?",
        "UPDATE appeals SET status = 'reopened', replied_at = NULL, closed_at = NULL, accepted_at = NULL, "
        "reopen_count = reopen_count + 1, updated_at = ? WHERE id = ?",
        "UPDATE appeals SET department_id = 'hrss', category = 'labor', return_count = 1, updated_at = ? WHERE id = ?",
        "UPDATE appeals SET accepted_at = ?, status = 'accepted' WHERE id = ?",
        "UPDATE appeals SET replied_at = ?, status = 'replied' WHERE id = ?",
        "UPDATE appeals SET status = 'withdrawn', updated_at = ? WHERE id = ?",
        "UPDATE appeals SET created_at = ?, department_id = NULL WHERE id = ?",
        "UPDATE appeals SET updated_at = ? WHERE id = ?",  # touches nothing counted
    )
    for appeal_id in rng.sample(ids, 300):
        db.execute(rng.choice(changes), [later, appeal_id])
    gone = ", ".join(str(i) for i in rng.sample(ids, 40))
    db.execute(f"DELETE FROM appeal_events WHERE appeal_id IN ({gone})")
    db.execute(f"DELETE FROM appeals WHERE id IN ({gone})")
    _assert_counts_equal_the_definitions(db)
    kept = (("figure_days", "filed"), ("figure_answers", "answered"), ("figure_closings", "closed"))
    for (table, count), refill in zip(kept, _REFILL, strict=True):
        kept = db.execute(f"SELECT * FROM {table} WHERE {count} != 0 ORDER BY 1, 2, 3, 4").fetchall()
        assert db.execute(f"SELECT COUNT(*) FROM {table} WHERE {count} < 0").fetchone()[0] == 0
        db.execute(f"DELETE FROM {table}")
        db.execute(refill)
        assert db.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4").fetchall() == kept


@pytest.mark.parametrize("release", ["m_web_004_figure_counts", "m_web_006_figure_days", "m_web_007_instants"])
def test_the_migrations_count_the_appeals_already_there(release: str) -> None:
    db = open_db(None, migrate=False)
    migrations.apply(db, stop_before=release)  # a database of a previous release (before any counts / one table)
    _fill(db)  # times with mixed offsets, as the releases before m_web_007 could hold them
    migrations.apply(db)
    assert db.execute("SELECT SUM(filed) FROM figure_days").fetchone()[0] == 600
    assert not db["figure_counts"].exists()
    _assert_counts_equal_the_definitions(db)
    _assert_stored_in_one_form(db)


def _assert_stored_in_one_form(db: Database) -> None:
    for column in (*APPEAL_TIMES, "events.at"):
        table, column = ("appeal_events", "at") if column == "events.at" else ("appeals", column)
        values = [r[0] for r in db.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")]
        assert values, column
        assert all(UTC_TEXT.fullmatch(v) for v in values), [v for v in values if not UTC_TEXT.fullmatch(v)][:3]


def test_counts_read_in_another_zone_are_recounted_in_it() -> None:
    """The counts are kept in the center's zone; a source asked for another zone recounts once, then keeps it."""
    db = open_db(None)
    _fill(db)
    tokyo = ZoneInfo("Asia/Tokyo")
    _assert_counts_equal_the_definitions(db, tokyo)
    assert db.execute("SELECT offset_seconds FROM figure_zone").fetchone()[0] == 9 * 3600
    db.execute("UPDATE appeals SET rating = 5 WHERE id = 7")  # kept by the triggers in the new zone
    _assert_counts_equal_the_definitions(db, tokyo)
    _assert_counts_equal_the_definitions(db, TZ)


def test_the_running_rows_give_every_running_appeal_its_light() -> None:
    """running_rows reads only what a light needs (from a covering index): the lights equal those of full rows."""
    db = open_db(None)
    _fill(db, seed=1)  # a draw with green, yellow and red appeals in both scopes
    for dept in (None, "tax"):
        full = [r for r in period_rows(db, date(2000, 1, 1), date(2100, 1, 1), TZ, dept) if r.status in CLOCK_RUNNING]
        lean = list(running_rows(db, dept))
        assert len(lean) == len(full)
        counted = lights(lean, NOW)
        assert counted == lights(full, NOW) and all(counted.values())  # red, yellow and green all present
