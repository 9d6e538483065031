"""Leases: one row per named role (e.g. "primary") that at most one process holds at a time.

    leases = Leases(db)
    if leases.acquire("primary", holder, ttl_seconds=30, now=time.time()):
        ...  # we hold it until now + 30 s: renew well before that (acquire again), release on exit
    leases.holder("primary", now=time.time())  # who holds it now, or None if free or expired
    leases.release("primary", holder)

``acquire`` is one atomic statement: it takes the lease if it is free or expired, renews it if
``holder`` already has it, and fails (False) while someone else's lease runs. A holder that dies
simply stops renewing; the lease falls free ``ttl_seconds`` later. A holder id made by
:func:`new_holder_id` names its host and process, so a successor on the same host need not wait:
when :func:`holder_is_dead` says the process is gone, ``take_over`` moves the lease atomically. ``now`` is epoch seconds
(``time.time()``): every process on the database must share the wall clock, as they share the file.
Holder ids should be unique per process, e.g. ``f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:6]}"``.
"""

from __future__ import annotations

import os
import socket
import uuid

from sqlite_utils import Database

PRIMARY = "primary"  # the lease of `wanqi run`'s background work: polling, delivery worker, scheduler


def new_holder_id() -> str:
    """A holder id unique to this process (host, pid and a random suffix)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def holder_is_dead(holder: str) -> bool:
    """True only when ``holder`` is a process of this host that no longer exists (a kill -9, a crash)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine, or not ours to judge: wait for the lease to expire
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


class Leases:
    """Time-limited, named locks in the ``leases`` table (name PK, holder, expires_at epoch seconds)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def acquire(self, name: str, holder: str, ttl_seconds: float, now: float) -> bool:
        """Take or renew ``name`` for ``holder`` until ``now + ttl_seconds``; False if another holds it."""
        with self.db.conn:
            cursor = self.db.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
                "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
                [name, holder, now + ttl_seconds, now],
            )
        return cursor.rowcount == 1

    def take_over(self, name: str, dead: str, holder: str, ttl_seconds: float, now: float) -> bool:
        """Move ``name`` from ``dead`` (a holder known to be gone) to ``holder``; False if it changed hands."""
        with self.db.conn:
            cursor = self.db.execute("UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND holder = ?",
                                     [holder, now + ttl_seconds, name, dead])
        return cursor.rowcount == 1

    def release(self, name: str, holder: str) -> None:
        """Give ``name`` up at once (only if ``holder`` has it), so a standby need not wait for expiry."""
        with self.db.conn:
            self.db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", [name, holder])

    def holder(self, name: str, now: float) -> str | None:
        """Who holds ``name`` at ``now``, or None when it is free or expired."""
        row = self.db.execute(
            "SELECT holder FROM leases WHERE name = ? AND expires_at > ?", [name, now]).fetchone()
        return str(row[0]) if row else None
