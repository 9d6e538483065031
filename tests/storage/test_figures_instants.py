"""Times written with any offset are counted as the instants they are (issue 18).

The figure triggers once compared ISO strings: a deadline stored as '…23:59:59+08:00' sorted after an answer
stored as '…16:00:00.5+00:00' though it is the earlier instant, and on-time rates came out inflated. Here
hypothesis writes appeals the way an import might (+08:00, +00:00, Z, -05:00, +05:30, +14:00, no offset at
all, with and without fractions, often a millisecond either side of a deadline), and the SQL figures must
equal the definitions in appeals.metrics applied to the same instants.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appeals.calendar import OfficialCalendar
from appeals.lifecycle import Status
from appeals.metrics import FigureRow, count_rows, lights
from storage.db import open_db, utc_text
from storage.figures import SqliteFigureSource, running_rows

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
DAY_MS = 86_400_000
ZONES: tuple[tzinfo | None, ...] = (timezone(timedelta(hours=8)), UTC, timezone(timedelta(hours=-5)),
                                    timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=14)), None)
CAL = OfficialCalendar()


@st.composite
def written(draw: st.DrawFn, value: datetime | None) -> str | None:
    """``value`` as some importer might have written it (None: no offset, meant as the center's local time)."""
    if value is None:
        return None
    zone = draw(st.sampled_from(ZONES))
    local = value.astimezone(TZ).replace(tzinfo=None) if zone is None else value.astimezone(zone)
    text = local.isoformat(timespec=draw(st.sampled_from(["auto", "milliseconds", "microseconds"])))
    return text.replace("+00:00", "Z") if zone is UTC and draw(st.booleans()) else text


@st.composite
def near(draw: st.DrawFn, due: datetime | None, start: datetime) -> datetime | None:
    """None, or a time after ``start``: often exactly at ``due`` or a millisecond either side of it."""
    if draw(st.booleans()) or due is None:
        if draw(st.integers(0, 3)) == 0:
            return None
        return start + timedelta(milliseconds=draw(st.integers(0, 12 * DAY_MS)))
    return max(start, due + timedelta(milliseconds=draw(st.sampled_from([-1, 0, 1, -3_600_000, 3_600_000]))))


@st.composite
def appeal(draw: st.DrawFn) -> FigureRow:
    created = NOW - timedelta(milliseconds=draw(st.integers(0, 45 * DAY_MS)))
    accept_due = draw(st.none() | st.just(created + timedelta(milliseconds=draw(st.integers(0, 3 * DAY_MS)))))
    reply_due = draw(st.none() | st.just(created + timedelta(milliseconds=draw(st.integers(DAY_MS, 9 * DAY_MS)))))
    status = draw(st.sampled_from(list(Status)))
    return FigureRow(
        department_id=draw(st.sampled_from(["tax", "hrss", None])), category=draw(st.sampled_from(["tax", None])),
        status=status, created_at=created, dispatched_at=created, accept_due=accept_due,
        accepted_at=draw(near(accept_due, created)), reply_due=reply_due, replied_at=draw(near(reply_due, created)),
        closed_at=draw(near(reply_due, created)), rating=draw(st.sampled_from([None, 1, 2, 3, 4, 5])),
        reopen_count=draw(st.integers(0, 1)), return_count=draw(st.integers(0, 1)))


def _insert(db: object, rows: list[FigureRow], texts: list[dict[str, str | None]]) -> None:
    conn = db.conn  # type: ignore[attr-defined]
    conn.execute("INSERT INTO departments (id, name) VALUES ('tax', '税务'), ('hrss', '人社')")
    conn.execute("INSERT INTO enterprises (id, name, credit_code, created_at) VALUES (1, 'e', 'c', 'x')")
    conn.execute("INSERT INTO users (id, created_at) VALUES (1, '2026-01-01T00:00:00+00:00')")
    for i, (row, t) in enumerate(zip(rows, texts, strict=True)):
        conn.execute(
            "INSERT INTO appeals (number, enterprise_id, user_id, text, status, created_at, updated_at, "
            "department_id, category, dispatched_at, accept_due, accepted_at, reply_due, replied_at, closed_at, "
            "rating, reopen_count, return_count) VALUES (?, 1, 1, 't', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [f"N{i}", row.status.value, t["created_at"], t["created_at"], row.department_id, row.category,
             t["dispatched_at"], t["accept_due"], t["accepted_at"], t["reply_due"], t["replied_at"], t["closed_at"],
             row.rating, row.reopen_count, row.return_count])


TIMES = ("created_at", "dispatched_at", "accept_due", "accepted_at", "reply_due", "replied_at", "closed_at")


@st.composite
def import_(draw: st.DrawFn) -> tuple[list[FigureRow], list[dict[str, str | None]]]:
    rows = draw(st.lists(appeal(), min_size=1, max_size=25))
    return rows, [{name: draw(written(getattr(r, name))) for name in TIMES} for r in rows]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(import_())
def test_sql_figures_equal_the_definitions_whatever_offset_times_were_written_with(
        data: tuple[list[FigureRow], list[dict[str, str | None]]]) -> None:
    rows, texts = data
    db = open_db(None)
    _insert(db, rows, texts)
    # stored in one form, whatever was written
    for name in TIMES:
        stored = [r[0] for r in db.execute(f"SELECT {name} FROM appeals ORDER BY id")]
        assert stored == [utc_text(getattr(r, name)) if getattr(r, name) else None for r in rows], name
    source = SqliteFigureSource(db)
    for start, end, dept in ((date(2026, 10, 1), date(2026, 11, 20), None), (date(2026, 10, 20), date(2026, 11, 6),
                                                                             "tax")):
        sql = source.period_counts(start, end, now=NOW, calendar=CAL, tz=TZ, department_id=dept)
        mine = [r for r in rows if dept is None or r.department_id == dept]
        defined = count_rows(mine, start=start, end=end, now=NOW, calendar=CAL, tz=TZ)
        assert sorted(sql.groups, key=repr) == sorted(defined.groups, key=repr)
        assert sorted(sql.handling, key=repr) == sorted(defined.handling, key=repr)
        assert sql.finished_by_week == defined.finished_by_week
        assert sql.closed_by_week == defined.closed_by_week
    assert lights(running_rows(db), NOW) == lights(rows, NOW)
    db.close()


def test_a_time_written_later_with_another_offset_is_rewritten_and_recounted() -> None:
    """An UPDATE with a local offset (a tool fixing one row) is normalised too, and the counts follow it."""
    db = open_db(None)
    created = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    due = datetime(2026, 11, 3, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Zhaoqing
    row = FigureRow("tax", "tax", Status.ACCEPTED, created, created, due, None, due + timedelta(days=4))
    _insert(db, [row], [{name: utc_text(getattr(row, name)) if getattr(row, name) else None for name in TIMES}])
    # signed for at 23:30 local time, written with +08:00: text-wise after the UTC deadline, in fact on time
    db.execute("UPDATE appeals SET accepted_at = '2026-11-03T23:30:00+08:00' WHERE id = 1")
    assert db.execute("SELECT accepted_at FROM appeals").fetchone()[0] == "2026-11-03T15:30:00.000+00:00"
    counts = SqliteFigureSource(db).period_counts(date(2026, 11, 1), date(2026, 11, 20), now=NOW, calendar=CAL,
                                                    tz=TZ)
    assert [(g.accept_base, g.accepted_on_time) for g in counts.groups] == [(1, 1)]
