"""storage.figures sums in SQL exactly what appeals.metrics.count_rows defines on rows (one meaning, two speeds)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from appeals.calendar import OfficialCalendar
from appeals.lifecycle import Status
from appeals.metrics import count_rows, summarise
from storage.db import open_db
from storage.figures import SqliteFigureSource, period_rows

TZ = ZoneInfo("Asia/Shanghai")


def _ts(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def test_sql_counts_equal_the_definitions_on_rows() -> None:
    db = open_db(None)
    db.execute("INSERT INTO departments (id, name) VALUES ('tax', '税务'), ('hrss', '人社')")
    db.execute("INSERT INTO enterprises (id, name, credit_code, created_at) VALUES (1, 'e', 'c', 'x')")
    db.execute("INSERT INTO users (id, created_at) VALUES (1, '2026-01-01T00:00:00+00:00')")
    rng = random.Random(3)
    now = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
    for i in range(600):
        created = now - timedelta(days=rng.uniform(0, 120), seconds=rng.randint(0, 86400))
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
            "reopen_count, return_count) VALUES (?, 1, 1, 't', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [f"N{i}", status.value, _ts(created), _ts(created), rng.choice(["tax", "hrss", None]),
             rng.choice(["tax", "labor", None]), _ts(accept_due) if rng.random() < 0.95 else None, _ts(accepted),
             _ts(reply_due), _ts(replied), _ts(closed), rng.choice([None, 1, 2, 3, 4, 5]), rng.randint(0, 1),
             rng.choice([0, 0, 0, 1, 2])])
    cal = OfficialCalendar()
    source = SqliteFigureSource(db)
    for start, end, dept in ((date(2026, 8, 1), date(2026, 11, 20), None), (date(2026, 9, 7), date(2026, 10, 31),
                                                                            "tax")):
        sql = source.period_counts(start, end, now=now, calendar=cal, tz=TZ, department_id=dept)
        rows = count_rows(period_rows(db, start, end, TZ, dept), start=start, end=end, now=now, calendar=cal, tz=TZ)
        assert sorted(sql.groups, key=repr) == sorted(rows.groups, key=repr)
        assert sorted(sql.handling, key=repr) == sorted(rows.handling, key=repr)
        assert sql.finished_by_week == rows.finished_by_week
        a = summarise(sql, start=start, end=end, lights={})
        b = summarise(rows, start=start, end=end, lights={})
        assert a.total == b.total and a.weekly == b.weekly and a.total.filed > 50
