"""The rows behind the center's figures (appeals.metrics), fetched lean: no text, no enterprise data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlite_utils import Database

from appeals.calendar import WorkCalendar
from appeals.lifecycle import CLOCK_RUNNING, Status
from appeals.metrics import FigureRow, GroupCounts, PeriodCounts, WorkdayCounter

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


# The definitions of appeals.metrics.count_rows, summed by SQLite in one pass (timestamps are stored as UTC
# ISO strings of one format, so they compare as text). tests/storage/test_figures.py checks both agree.
_FIN = "COALESCE(replied_at, CASE WHEN status = 'closed' THEN closed_at END)"
_GROUPS = f"""
SELECT department_id, category, date(created_at, :off, '-6 days', 'weekday 1') AS week, COUNT(*) AS filed,
  SUM(accept_due IS NOT NULL AND (accepted_at IS NOT NULL OR accept_due < :now)) AS accept_base,
  SUM(accept_due IS NOT NULL AND accepted_at IS NOT NULL AND accepted_at <= accept_due) AS accepted_on_time,
  SUM(reply_due IS NOT NULL AND status != 'withdrawn' AND ({_FIN} IS NOT NULL OR reply_due < :now)) AS reply_base,
  SUM(reply_due IS NOT NULL AND status != 'withdrawn' AND {_FIN} IS NOT NULL AND {_FIN} <= reply_due)
    AS replied_on_time,
  SUM(rating IS NOT NULL) AS rated, SUM(rating >= 3) AS satisfied, SUM(rating IN (1, 2)) AS poor,
  SUM(reopen_count > 0) AS reopened, SUM(return_count > 0) AS returned, SUM(status = 'closed') AS closed
FROM appeals WHERE created_at >= :low AND created_at < :high {{scope}} GROUP BY 1, 2, 3"""
_HANDLING = f"""
SELECT a.department_id, a.category, MAX(wf.n - wc.n, 0) AS days, COUNT(*) AS n
FROM (SELECT department_id, category, date(created_at, :off) AS cday, date({_FIN}, :off) AS fday FROM appeals
      WHERE created_at >= :low AND created_at < :high AND {_FIN} IS NOT NULL {{scope}}) AS a
JOIN temp.wanqi_workdays wc ON wc.day = a.cday JOIN temp.wanqi_workdays wf ON wf.day = a.fday
GROUP BY 1, 2, 3"""
_FINISHED = f"""
SELECT date({_FIN}, :off, '-6 days', 'weekday 1') AS week, COUNT(*) AS n FROM appeals
WHERE created_at >= :low AND created_at < :high AND {_FIN} IS NOT NULL {{scope}} GROUP BY 1"""


class SqliteFigureSource:
    """appeals.metrics.FigureSource over the appeals table: counts summed in SQL, not a row per appeal."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._workdays: tuple[date, date] | None = None  # the range temp.wanqi_workdays covers

    def _ensure_workdays(self, low: date, high: date, calendar: WorkCalendar) -> None:
        """A temporary (per connection) table of each day's cumulative working-day count from ``low``."""
        if self._workdays is not None and self._workdays[0] <= low and high <= self._workdays[1]:
            return
        if self._workdays is not None:
            low, high = min(low, self._workdays[0]), max(high, self._workdays[1])
        counter = WorkdayCounter(calendar)
        counter.prepare(low, high)
        days = [(low + timedelta(days=i)).isoformat() for i in range((high - low).days + 1)]
        conn = self.db.conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanqi_workdays (day TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        conn.execute("DELETE FROM temp.wanqi_workdays")
        conn.executemany("INSERT INTO temp.wanqi_workdays (day, n) VALUES (?, ?)",
                         [(d, counter.between(low, low + timedelta(days=i))) for i, d in enumerate(days)])
        conn.commit()
        self._workdays = (low, high)

    def period_counts(self, start: date, end: date, *, now: datetime, calendar: WorkCalendar, tz: tzinfo,
                      department_id: str | None = None) -> PeriodCounts:
        low = datetime.combine(start, time.min, tzinfo=tz)
        offset = low.utcoffset() or timedelta(0)  # the center's zone has no summer time (Asia/Shanghai)
        today = now.astimezone(tz).date()
        # answers lie between filing and now; a month ahead keeps clocks set forward (tests, demos) counted too
        self._ensure_workdays(start, max(end, today) + timedelta(days=31), calendar)
        params: dict[str, object] = {
            "off": f"{int(offset.total_seconds()):+d} seconds", "now": now.astimezone(UTC).isoformat(),
            "low": low.astimezone(UTC).isoformat(),
            "high": datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC).isoformat(),
        }
        scope = ""
        if department_id is not None:
            scope, params["dept"] = "AND department_id = :dept", department_id
        conn = self.db.conn
        groups = tuple(GroupCounts(r[0], r[1], date.fromisoformat(r[2]), *(int(x or 0) for x in r[3:]))
                       for r in conn.execute(_GROUPS.format(scope=scope), params))
        handling = tuple((r[0], r[1], int(r[2]), int(r[3]))
                         for r in conn.execute(_HANDLING.format(scope=scope), params))
        finished = {date.fromisoformat(r[0]): int(r[1]) for r in conn.execute(_FINISHED.format(scope=scope), params)}
        return PeriodCounts(groups, handling, finished)

    def running_rows(self, department_id: str | None = None) -> Iterator[FigureRow]:
        return running_rows(self.db, department_id)


def period_rows(db: Database, start: date, end: date, tz: tzinfo, department_id: str | None = None
                ) -> Iterator[FigureRow]:
    """Appeals filed on the center's local dates ``start``..``end`` (inclusive), optionally of one department."""
    low = datetime.combine(start, time.min, tzinfo=tz).astimezone(UTC).isoformat()
    high = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC).isoformat()
    extra, params = _scope(department_id)
    return _rows(db, "created_at >= ? AND created_at < ?" + extra, [low, high, *params])


def running_rows(db: Database, department_id: str | None = None) -> Iterator[FigureRow]:
    """Appeals whose clock runs now (for the traffic lights), whenever they were filed."""
    extra, params = _scope(department_id)
    marks = ", ".join("?" for _ in CLOCK_RUNNING)
    return _rows(db, f"status IN ({marks})" + extra, [*sorted(s.value for s in CLOCK_RUNNING), *params])

