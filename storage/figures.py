"""The rows behind the center's figures (appeals.metrics), fetched lean: no text, no enterprise data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlite_utils import Database

from appeals.lifecycle import CLOCK_RUNNING, Status
from appeals.metrics import FigureRow

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


class SqliteFigureSource:
    """appeals.metrics.FigureSource over the appeals table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def period_rows(self, start: date, end: date, tz: tzinfo, department_id: str | None = None
                    ) -> Iterator[FigureRow]:
        return period_rows(self.db, start, end, tz, department_id)

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

