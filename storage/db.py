"""Opening the SQLite database and running blocking work off the event loop.

Every process that opens the database file holds a shared lock on ``<database>.lock`` for as long as it
keeps it open (``flock``: released by the kernel when the process dies); a restore takes it exclusively,
so it never replaces a file some Wanqi process still writes to (``storage/backup.py``). A database
whose schema is newer than this code's migrations is never opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from sqlite_utils import Database

from storage.errors import DatabaseRefused
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

    use_lock: IO[bytes] | None = None  # the shared hold on <database>.lock while this connection is open

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.use_lock is not None:
                self.use_lock.close()  # closing the file releases the flock
                self.use_lock = None

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


# How long opening waits for a restore in progress to finish (a large file takes a few seconds to copy).
OPEN_WAIT_SECONDS = 60.0


def open_db(path: str | Path | None, *, migrate: bool = True, create: bool = True,
            wait: float = OPEN_WAIT_SECONDS) -> Database:
    """Open (and migrate) the database: WAL, foreign keys on, a busy timeout.

    ``path=None`` opens a private in-memory database (tests). ``create=False`` refuses a file that does
    not exist (:class:`DatabaseRefused`): the tools that only read or change the center's data must not
    make an empty database out of a mistyped path. A database written by a newer Wanqi (a migration this
    code does not know) is refused with its schema version.
    The connection may be used from one other thread at a time (see :class:`Writer`).
    """
    if path is None:
        db = WanqiDatabase(sqlite3.connect(":memory:", check_same_thread=False, timeout=10))
        db.execute("PRAGMA foreign_keys = ON")
        if migrate:
            migrations.apply(db)
        return db
    target = Path(path)
    if not create and not target.is_file():
        raise DatabaseRefused("cli.error.no_database", path=target)
    if create:
        target.parent.mkdir(parents=True, exist_ok=True)
        private(target)
    use_lock = hold_shared(target, wait)
    try:
        # mode=rw: a file removed since the check above is an error, never a new empty database
        uri = f"file:{quote_path(target)}?mode={'rwc' if create else 'rw'}"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=10)
    except BaseException:
        use_lock.close()
        raise
    db = WanqiDatabase(conn)
    db.use_lock = use_lock
    try:
        db.enable_wal()
        private(target)  # the -wal and -shm files SQLite just made
        # WAL + NORMAL survives any process crash (only a power cut can lose the last commits); FULL made
        # each commit ~40 ms under load, which widened the push's send->commit window (benchmarks/push.py).
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 10000")
        refuse_newer_schema(conn, target)
        if migrate:
            migrations.apply(db)
    except BaseException:
        db.close()
        raise
    return db


def quote_path(path: Path) -> str:
    """A file path inside a SQLite ``file:`` URI (``?`` and ``#`` would start its query or fragment)."""
    from urllib.parse import quote

    return quote(str(path.absolute()), safe="/")


def known_migrations() -> list[str]:
    """This code's schema, in order: its version is the number of migrations."""
    return [m.name for m in migrations._migrations]


def schema_of(conn: sqlite3.Connection) -> tuple[int, list[str]]:
    """(schema version, migrations this code does not know) of an open database file."""
    try:
        applied = [r[0] for r in conn.execute(
            f"SELECT name FROM [{migrations.migrations_table}] WHERE migration_set = ? ORDER BY rowid",
            [migrations.name])]
    except sqlite3.OperationalError:  # no migrations table: an empty or pre-migration file
        return 0, []
    known = set(known_migrations())
    return len(applied), [name for name in applied if name not in known]


def refuse_newer_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Raise :class:`DatabaseRefused` if a newer Wanqi migrated this file: this code would misread it."""
    version, unknown = schema_of(conn)
    if unknown:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as package_version

        try:
            ours = package_version("wanqi")
        except PackageNotFoundError:  # pragma: no cover - run from a bare checkout
            ours = "?"
        raise DatabaseRefused("cli.db.newer_schema", path=path, version=version, app=ours,
                              ours=len(known_migrations()), names=", ".join(unknown))


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _lock_file(path: Path) -> IO[bytes]:
    fd = os.open(lock_path(path), os.O_CREAT | os.O_RDWR, 0o600)
    if os.geteuid() == 0 and path.exists():
        # root running a command on the service's database: the lock file stays the service user's, as SQLite
        # keeps its -wal/-shm (or the service could not open its own database afterwards)
        owner = path.stat()
        os.fchown(fd, owner.st_uid, owner.st_gid)
    return os.fdopen(fd, "r+b")


def hold_shared(path: Path, wait: float) -> IO[bytes]:
    """The shared hold every process keeps while it has the database open; waits out a restore."""
    handle = _lock_file(path)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.close()
                raise DatabaseRefused("cli.db.busy", path=path, seconds=int(wait)) from None
            time.sleep(0.05)


def hold_exclusive(path: Path) -> IO[bytes] | None:
    """The restore's hold: None while any process has the database open (or another restore runs)."""
    handle = _lock_file(path)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite's; never the .lock, which other processes may hold


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


class Writer:
    """One thread owns the connection; coroutines hand it blocking work (Datasette's single writer)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wanqi-db")

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
