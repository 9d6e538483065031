"""The last run of each scheduled job, so a restart neither skips a run it missed nor repeats one.

``JobRuns(db).done(job_id, due)`` says whether the run due at ``due`` (a cron fire time) has already
happened; ``record(job_id, due, holder)`` stores it after the job's work committed. Jobs that write
outbox rows also key those rows (one digest per person per day or week), so even two processes that
raced past ``done`` could not send a digest twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlite_utils import Database


class JobRuns:
    """The ``job_runs`` table: job id -> the fire time of its last completed run."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def last_due(self, job_id: str) -> datetime | None:
        row = self.db.execute("SELECT due_at FROM job_runs WHERE job_id = ?", [job_id]).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def done(self, job_id: str, due: datetime) -> bool:
        """True if the run due at ``due`` (or a later one) has completed."""
        last = self.last_due(job_id)
        return last is not None and last >= due

    def record(self, job_id: str, due: datetime, holder: str = "") -> None:
        """The run due at ``due`` completed (never moves backwards)."""
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO job_runs (job_id, due_at, ran_at, holder) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(job_id) DO UPDATE SET due_at = excluded.due_at, ran_at = excluded.ran_at, "
                "holder = excluded.holder WHERE job_runs.due_at < excluded.due_at",
                [job_id, due.astimezone(UTC).isoformat(), datetime.now(UTC).isoformat(), holder])
