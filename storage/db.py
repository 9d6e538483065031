"""Opening the SQLite database and running blocking work off the event loop."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from storage.migrations import migrations

T = TypeVar("T")


def open_db(path: str | Path | None, *, migrate: bool = True) -> Database:
    """Open (and migrate) the database: WAL, foreign keys on, a busy timeout.

    ``path=None`` opens a private in-memory database (tests).
    The connection may be used from one other thread at a time (see :class:`Writer`).
    """
    target = ":memory:" if path is None else str(path)
    if path is not None:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(target, check_same_thread=False, timeout=10)
    db = Database(conn)
    if path is not None:
        db.enable_wal()
        # WAL + NORMAL survives any process crash (only a power cut can lose the last commits); FULL made
        # each commit ~40 ms under load, which widened the push's send->commit window (benchmarks/push.py).
        db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 10000")
    if migrate:
        migrations.apply(db)
    return db


class Writer:
    """One thread owns the connection; coroutines hand it blocking work (Datasette's single writer)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wanqi-db")

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
