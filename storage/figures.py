"""The rows behind the center's figures (appeals.metrics), fetched lean: no text, no enterprise data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, tzinfo

from sqlite_utils import Database

from appeals.calendar import WorkCalendar
from appeals.lifecycle import CLOCK_RUNNING, Status
from appeals.metrics import FigureRow, GroupCounts, PeriodCounts, RunningClock, WorkdayCounter
from storage.db import utc_text
from storage.migrations import FIGURE_COUNTS

_COLUMNS = ("department_id, category, status, created_at, dispatched_at, accept_due, accepted_at, reply_due, "
            "replied_at, closed_at, rating, reopen_count, return_count")
_STATUS = {s.value: s for s in Status}


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _rows(db: Database, where: str, params: list[object]) -> Iterator[FigureRow]:
    cursor = db.conn.execute(f"SELECT {_COLUMNS} FROM appeals WHERE {where}", params)
    for r in cursor:
        yield FigureRow(
            department_id=r[0], category=r[1], status=_STATUS[r[2]], created_at=datetime.fromisoformat(r[3]),
            dispatched_at=_dt(r[4]), accept_due=_dt(r[5]), accepted_at=_dt(r[6]), reply_due=_dt(r[7]),
            replied_at=_dt(r[8]), closed_at=_dt(r[9]), rating=r[10], reopen_count=r[11] or 0,
            return_count=r[12] or 0,
        )


def _scope(department_id: str | None) -> tuple[str, list[object]]:
    return ("", []) if department_id is None else (" AND department_id = ?", [department_id])


# The definitions of appeals.metrics.count_rows, read from figure_days (counts per filing day, department and
# category) and figure_answers (answers per filing day and answer day), kept by the triggers of migrations
# m_web_004/m_web_006, plus, for the deadlines still running, the few appeals that pass theirs only as the
# clock moves. tests/storage/test_figures.py checks both agree.
_EPOCH = date(1970, 1, 1)  # the kept counts' days are days since this, in the center's zone; it was a Thursday
_COUNTS = FIGURE_COUNTS  # in GroupCounts's order (accept_settled is accept_base less the pending, and so on)
_GROUPS = f"""
SELECT department_id, category, filed_day - (filed_day + 3) % 7 AS week, {", ".join(f"SUM({c})" for c in _COUNTS)}
FROM figure_days WHERE filed_day BETWEEN :first AND :last {{scope}} GROUP BY 1, 2, 3 HAVING SUM(filed) > 0"""
_HANDLING = """
SELECT f.department_id, f.category, CASE WHEN f.finished_day > f.filed_day THEN wf.n - wc.n ELSE 0 END AS days,
  SUM(f.answered) AS n
FROM figure_answers f JOIN temp.wanqi_workdays wc ON wc.day = f.filed_day
LEFT JOIN temp.wanqi_workdays wf ON wf.day = f.finished_day
WHERE f.filed_day BETWEEN :first AND :last {scope} GROUP BY 1, 2, 3 HAVING SUM(f.answered) > 0"""
_FINISHED = """
SELECT finished_day - (finished_day + 3) % 7 AS week, SUM(answered) FROM figure_answers
WHERE filed_day BETWEEN :first AND :last {scope} GROUP BY 1 HAVING SUM(answered) > 0"""
_CLOSED = """
SELECT closed_day - (closed_day + 3) % 7 AS week, SUM(closed) FROM figure_closings
WHERE filed_day BETWEEN :first AND :last {scope} GROUP BY 1 HAVING SUM(closed) > 0"""
# Not yet signed for / answered / closed: counted once their deadline has passed (the WHERE terms before the
# instants match the partial indexes). Times are compared as instants (julianday), never as text.
_PENDING = """
SELECT COALESCE(department_id, ''), COALESCE(category, ''), day - (day + 3) % 7 AS week, COUNT(*) FROM (
  SELECT department_id, category, (unixepoch(created_at) + :offset) / 86400 AS day FROM appeals
  WHERE {pending} AND julianday({due}) < julianday(:now) AND julianday(created_at) >= julianday(:low)
  AND julianday(created_at) < julianday(:high) {scope})
GROUP BY 1, 2, 3"""
_ACCEPT_PENDING = _PENDING.replace("{pending}", "accept_due IS NOT NULL AND accepted_at IS NULL").replace(
    "{due}", "accept_due")
_REPLY_PENDING = _PENDING.replace("{pending}", "reply_due IS NOT NULL AND status != 'withdrawn' AND replied_at IS NULL "
                                  "AND (status != 'closed' OR closed_at IS NULL)").replace("{due}", "reply_due")
_CLOSE_PENDING = _PENDING.replace("{pending}", "reply_due IS NOT NULL AND status NOT IN ('closed', 'withdrawn')"
                                  ).replace("{due}", "reply_due")
# where each pending count goes in GroupCounts's counts (after the key)
_PENDING_ONTO = ((_ACCEPT_PENDING, _COUNTS.index("accept_settled")), (_REPLY_PENDING, _COUNTS.index("reply_settled")),
                 (_CLOSE_PENDING, _COUNTS.index("close_settled")))
_REFILL = (f"""
INSERT INTO figure_days (filed_day, department_id, category, {", ".join(_COUNTS)})
SELECT filed_day, department_id, category, COUNT(*), {", ".join(f"SUM({c})" for c in _COUNTS[1:])}
FROM appeal_figure_rows GROUP BY 1, 2, 3""", """
INSERT INTO figure_answers (filed_day, department_id, category, finished_day, answered)
SELECT filed_day, department_id, category, finished_day, COUNT(*) FROM appeal_figure_rows WHERE finished_day >= 0
GROUP BY 1, 2, 3, 4""", """
INSERT INTO figure_closings (filed_day, department_id, category, closed_day, closed)
SELECT filed_day, department_id, category, closed_day, COUNT(*) FROM appeal_figure_rows WHERE closed_day >= 0
GROUP BY 1, 2, 3, 4""")
_KEPT = ("figure_days", "figure_answers", "figure_closings")


def _day(value: date) -> int:
    return (value - _EPOCH).days


def _date(day: int) -> date:
    return _EPOCH + timedelta(days=day)


class SqliteFigureSource:
    """appeals.metrics.FigureSource over kept per-day counts: a year is ~10^4 count rows, not 10^5 appeals."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._workdays: tuple[date, date] | None = None  # the range temp.wanqi_workdays covers
        self._offset: int | None = None  # the zone the kept counts are known to be counted in

    def _ensure_zone(self, offset: int) -> None:
        """Recount the kept counts if they were counted in another zone than the one asked for (a config change)."""
        if self._offset == offset:
            return
        conn = self.db.conn
        kept = conn.execute("SELECT offset_seconds FROM figure_zone").fetchone()
        if kept is None or kept[0] != offset:
            with self.db.atomic():
                conn.execute("DELETE FROM figure_zone")
                conn.execute("INSERT INTO figure_zone (offset_seconds) VALUES (?)", [offset])
                for table, refill in zip(_KEPT, _REFILL, strict=True):
                    conn.execute(f"DELETE FROM {table}")
                    conn.execute(refill)
        self._offset = offset

    def _ensure_workdays(self, low: date, high: date, calendar: WorkCalendar) -> None:
        """A temporary (per connection) table of each day's cumulative working-day count from ``low``."""
        if self._workdays is not None and self._workdays[0] <= low and high <= self._workdays[1]:
            return
        if self._workdays is not None:
            low, high = min(low, self._workdays[0]), max(high, self._workdays[1])
        counter = WorkdayCounter(calendar)
        counter.prepare(low, high)
        first = _day(low)
        conn = self.db.conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanqi_workdays (day INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        conn.execute("DELETE FROM temp.wanqi_workdays")
        conn.executemany("INSERT INTO temp.wanqi_workdays (day, n) VALUES (?, ?)",
                         [(first + i, counter.between(low, low + timedelta(days=i)))
                          for i in range((high - low).days + 1)])
        conn.commit()
        self._workdays = (low, high)

    def period_counts(self, start: date, end: date, *, now: datetime, calendar: WorkCalendar, tz: tzinfo,
                      department_id: str | None = None) -> PeriodCounts:
        low = datetime.combine(start, time.min, tzinfo=tz)
        offset = int((low.utcoffset() or timedelta(0)).total_seconds())  # Asia/Shanghai has no summer time
        self._ensure_zone(offset)
        params: dict[str, object] = {
            "first": _day(start), "last": _day(end), "offset": offset, "now": utc_text(now), "low": utc_text(low),
            "high": utc_text(datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)),
        }
        scope = ""
        if department_id is not None:
            scope, params["dept"] = "AND department_id = :dept", department_id
        conn = self.db.conn
        last = conn.execute("SELECT MAX(finished_day) FROM figure_answers WHERE filed_day BETWEEN :first AND :last",
                            params).fetchone()[0]
        self._ensure_workdays(start, max(end, now.astimezone(tz).date(), _date(last or 0)), calendar)
        counts = {(r[0], r[1], r[2]): list(r[3:]) for r in conn.execute(_GROUPS.format(scope=scope), params)}
        for sql, field in _PENDING_ONTO:
            for dept, cat, week, n in conn.execute(sql.format(scope=scope), params):
                counts[(dept, cat, week)][field] += n
        groups = tuple(GroupCounts(dept or None, cat or None, _date(week), *c)
                       for (dept, cat, week), c in counts.items())
        handling = tuple((r[0] or None, r[1] or None, int(r[2]), int(r[3]))
                         for r in conn.execute(_HANDLING.format(scope=scope), params))
        finished = {_date(r[0]): int(r[1]) for r in conn.execute(_FINISHED.format(scope=scope), params)}
        closed = {_date(r[0]): int(r[1]) for r in conn.execute(_CLOSED.format(scope=scope), params)}
        return PeriodCounts(groups, handling, finished, closed)

    def running_rows(self, department_id: str | None = None) -> Iterator[RunningClock]:
        return running_rows(self.db, department_id)

    def supervised(self, start: date, end: date, *, tz: tzinfo, department_id: str | None = None
                   ) -> dict[str | None, tuple[int, int]]:
        """督办 of the appeals filed on local dates ``start``..``end``, per department: (times, appeals); from
        the partial index of the supervise events (a few thousand of a year's history)."""
        sql = ("SELECT a.department_id, COUNT(*), COUNT(DISTINCT s.appeal_id) FROM appeal_events s "
               "JOIN appeals a ON a.id = s.appeal_id WHERE s.action = 'supervise' "
               "AND julianday(a.created_at) >= julianday(?) AND julianday(a.created_at) < julianday(?)")
        params: list[object] = [utc_text(datetime.combine(start, time.min, tzinfo=tz)),
                                utc_text(datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz))]
        if department_id is not None:
            sql += " AND a.department_id = ?"
            params.append(department_id)
        return {r[0]: (int(r[1]), int(r[2])) for r in self.db.conn.execute(sql + " GROUP BY 1", params)}


def period_rows(db: Database, start: date, end: date, tz: tzinfo, department_id: str | None = None
                ) -> Iterator[FigureRow]:
    """Appeals filed on the center's local dates ``start``..``end`` (inclusive), optionally of one department."""
    low = utc_text(datetime.combine(start, time.min, tzinfo=tz))
    high = utc_text(datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz))
    extra, params = _scope(department_id)
    return _rows(db, "julianday(created_at) >= julianday(?) AND julianday(created_at) < julianday(?)" + extra,
                 [low, high, *params])


def running_rows(db: Database, department_id: str | None = None) -> Iterator[RunningClock]:
    """The clocks of the appeals that run now (for the traffic lights), whenever filed: only what a light needs,
    from the covering index idx_appeals_running."""
    extra, params = _scope(department_id)
    marks = ", ".join("?" for _ in CLOCK_RUNNING)
    cursor = db.conn.execute(
        f"SELECT status, dispatched_at, accept_due, reply_due FROM appeals WHERE status IN ({marks}){extra}",
        [*sorted(s.value for s in CLOCK_RUNNING), *params])
    return (RunningClock(_STATUS[r[0]], _dt(r[1]), _dt(r[2]), _dt(r[3])) for r in cursor)
