"""Opening the SQLite database and running blocking work off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from storage.migrations import migrations

T = TypeVar("T")


def utc_text(value: datetime) -> str:
    """An instant in its one stored form: UTC, ISO 8601, to the millisecond ('2026-11-20T07:30:00.000+00:00').

    SQLite's ``strftime('%Y-%m-%dT%H:%M:%f+00:00', x)`` writes the same text, which the triggers of migration
    m_web_007 use to rewrite any other form. SQL compares instants with julianday(), never as text.
    """
    if value.tzinfo is None:
        raise ValueError("an instant must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


class WanqiDatabase(Database):
    """sqlite-utils' Database whose transactions take the write lock when they begin.

    Several connections write to one file (the services' writer, the delivery worker's, the web side's).
    A deferred ``BEGIN`` that reads and then writes cannot upgrade its snapshot once another connection
    has committed in between: SQLite answers "database is locked" at once, without the busy timeout.
    ``BEGIN IMMEDIATE`` waits for the lock up front instead (busy_timeout), so such a transaction never
    fails for a neighbour's commit. Nested blocks stay savepoints.
    """

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        if self.conn.in_transaction:
            with super().atomic() as db:
                yield db
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise


def open_db(path: str | Path | None, *, migrate: bool = True) -> Database:
    """Open (and migrate) the database: WAL, foreign keys on, a busy timeout.

    ``path=None`` opens a private in-memory database (tests).
    The connection may be used from one other thread at a time (see :class:`Writer`).
    """
    target = ":memory:" if path is None else str(path)
    if path is not None:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        private(Path(target))
    conn = sqlite3.connect(target, check_same_thread=False, timeout=10)
    db = WanqiDatabase(conn)
    if path is not None:
        db.enable_wal()
        private(Path(target))  # the -wal and -shm files SQLite just made
        # WAL + NORMAL survives any process crash (only a power cut can lose the last commits); FULL made
        # each commit ~40 ms under load, which widened the push's send->commit window (benchmarks/push.py).
        db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 10000")
    if migrate:
        migrations.apply(db)
    return db


SIDE_FILES = ("-wal", "-shm", "-journal")


def private(path: Path) -> None:
    """Personal data: the database (created here if new) and its side files are readable by the owner only.

    SQLite gives -wal/-shm the database file's mode, so creating it 0600 keeps them private too;
    files left 0644 by an older version are tightened.
    """
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for file in (path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(0o600)


def backup(source: Path, target: Path) -> None:
    """A consistent copy of a live database (SQLite's online backup, WAL included) into a 0600 file."""
    private(target)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(target)
        try:
            with dest:
                src.backup(dest)
        finally:
            dest.close()
    finally:
        src.close()
    private(target)


class RestoreRefused(Exception):
    """``restore`` stopped before touching anything: ``key`` names the reason (cli.yml), ``params`` fill it."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def check_integrity(path: Path) -> str | None:
    """None if ``path`` is a sound Wanqi database, else what is wrong (SQLite's words)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                return str(result)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if {"appeals", "users"} <= tables else "not a Wanqi database"


def restore(source: Path, target: Path, now: float) -> Path | None:
    """Put backup ``source`` in place of the database ``target``; returns where the old database was saved.

    Refuses (:class:`RestoreRefused`) when the backup is unsound or a live process holds the "primary"
    lease. The old database is first saved (online backup) next to it; its stale -wal/-shm are removed
    so SQLite cannot replay them over the restored file; the copy is checked before and after.
    """
    from storage.leases import PRIMARY, Leases

    if not source.is_file():
        raise RestoreRefused("cli.db.restore_no_backup", path=source)
    problem = check_integrity(source)
    if problem is not None:
        raise RestoreRefused("cli.db.restore_bad_backup", path=source, problem=problem)
    saved = None
    if target.exists():
        live = open_db(target, migrate=False)
        try:
            holder = Leases(live).holder(PRIMARY, now) if "leases" in live.table_names() else None
        finally:
            live.close()
        if holder is not None:
            raise RestoreRefused("cli.db.restore_running", holder=holder)
        saved = target.with_name(f"{target.name}.before-restore-{int(now)}")
        backup(target, saved)
    staged = target.with_name(f"{target.name}.restoring")
    staged.unlink(missing_ok=True)
    backup(source, staged)
    for suffix in SIDE_FILES:  # the old WAL would otherwise be replayed into the restored database
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    os.replace(staged, target)
    problem = check_integrity(target)
    if problem is not None:  # pragma: no cover - the staged copy was checked as it was written
        raise RestoreRefused("cli.db.restore_bad_backup", path=target, problem=problem)
    return saved


class Writer:
    """One thread owns the connection; coroutines hand it blocking work (Datasette's single writer)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wanqi-db")

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
