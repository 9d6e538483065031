"""The inbox: every received Telegram update, committed before Telegram is told it arrived.

An update is stored once (update_id is the key: a re-read or redelivered update is ignored), handled
from here, and marked done together with its conversation-state changes. An update whose handling keeps
failing is parked after a bounded number of attempts, so it cannot block the chat's queue forever.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from storage import conversations

PENDING, DONE, PARKED = "pending", "done", "parked"
log = logging.getLogger(__name__)


@dataclass(slots=True)
class InboxItem:
    update_id: int
    chat_id: int  # the conversation whose order must be kept (the user's id when there is no chat)
    raw: dict[str, Any]
    attempts: int = 0


def _ts(now: datetime) -> str:
    return now.astimezone(UTC).isoformat()


class Inbox:
    """Sync and explicit: run it on the single writer thread (``storage.db.Writer``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def store(self, items: Iterable[InboxItem], now: datetime) -> list[InboxItem]:
        """Commit the received updates in one transaction; returns the ones not stored before."""
        new = []
        with self.db.atomic():
            for item in items:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO inbox (update_id, chat_id, raw, received_at, status, attempts) "
                    "VALUES (?, ?, ?, ?, 'pending', 0)",
                    [item.update_id, item.chat_id, json.dumps(item.raw, ensure_ascii=False), _ts(now)])
                if cur.rowcount:
                    new.append(item)
        return new

    def last_update_id(self) -> int | None:
        """The newest update ever stored: polling continues after it."""
        row = self.db.execute("SELECT MAX(update_id) FROM inbox").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def pending(self) -> list[InboxItem]:
        """Updates stored but not yet handled (after a crash or a stop with a backlog), oldest first."""
        rows = self.db.execute(
            "SELECT update_id, chat_id, raw, attempts FROM inbox WHERE status = 'pending' ORDER BY update_id")
        return [InboxItem(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    def finish(self, update_id: int, now: datetime, conversation: conversations.Staged | None = None) -> None:
        """Mark the update handled and write its conversation-state changes, in one transaction."""
        with self.db.atomic():
            self.db.execute("UPDATE inbox SET status = 'done', handled_at = ?, error = NULL WHERE update_id = ?",
                            [_ts(now), update_id])
            self.db.execute("DELETE FROM update_effects WHERE update_id = ?", [update_id])
            if conversation:
                conversations.write(self.db, conversation)

    def fail(self, update_id: int, error: str, now: datetime, *, park: bool) -> int:
        """Count a failed attempt (parking the update if ``park``); returns the attempts so far."""
        with self.db.atomic():
            self.db.execute(
                "UPDATE inbox SET attempts = attempts + 1, error = ?, status = ?, handled_at = ? WHERE update_id = ?",
                [error[:2000], PARKED if park else PENDING, _ts(now), update_id])
            if park:  # a later retry starts afresh
                self.db.execute("DELETE FROM update_effects WHERE update_id = ?", [update_id])
            row = self.db.execute("SELECT attempts FROM inbox WHERE update_id = ?", [update_id]).fetchone()
        return int(row[0]) if row else 0

    def parked(self) -> list[dict[str, Any]]:
        """Updates given up on, for the operators (``wanqi inbox``)."""
        rows = self.db.query("SELECT update_id, chat_id, received_at, attempts, error FROM inbox "
                             "WHERE status = 'parked' ORDER BY update_id")
        return list(rows)

    def requeue(self, update_id: int) -> bool:
        """Give a parked update another round of attempts (after the cause was fixed)."""
        with self.db.atomic():
            cur = self.db.execute("UPDATE inbox SET status = 'pending', attempts = 0 WHERE update_id = ? "
                                  "AND status = 'parked'", [update_id])
        return bool(cur.rowcount)

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT status, COUNT(*) FROM inbox GROUP BY status")}

    def tell_once(self, chat_id: int, chat_type: str, now: datetime) -> bool:
        """True the first time a (group or channel) chat is seen: it gets told once, then never again."""
        cur = self.db.execute("INSERT OR IGNORE INTO foreign_chats (chat_id, type, told_at) VALUES (?, ?, ?)",
                              [chat_id, chat_type, _ts(now)])
        return bool(cur.rowcount)

    def prune(self, before: datetime) -> int:
        """Forget handled updates received before ``before``, keeping the newest (polling resumes after it)."""
        with self.db.atomic():
            cur = self.db.execute(
                "DELETE FROM inbox WHERE status = 'done' AND received_at < ? "
                "AND update_id < (SELECT MAX(update_id) FROM inbox)", [_ts(before)])
        return int(cur.rowcount)


class Steps:
    """The committed steps of the update being handled, so handling it again repeats none of them.

    Each service call that writes is run in one transaction with a row recording its result (keyed by
    the update and the call's place in the handler). When the update is handled again after a crash or
    a failed attempt, a call already committed returns its recorded result instead of running twice:
    a follow-up is not added twice, a 签收 does not fail as "already accepted". ``Inbox.finish``
    removes the rows with the done mark. Results are pickled: they are our own domain objects, written
    and read by this program only, and live only while their update is in flight.
    """

    def __init__(self, db: Database, update_id: int) -> None:
        self.db = db
        self.update_id = update_id
        self.seq = 0

    def run(self, name: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run ``fn`` on the writer thread, or return what it returned when this update ran it before."""
        self.seq += 1
        row = self.db.execute("SELECT method, result FROM update_effects WHERE update_id = ? AND seq = ?",
                              [self.update_id, self.seq]).fetchone()
        if row is not None and row[0] == name:
            log.info("update %s: step %d (%s) was committed before: not repeated", self.update_id, self.seq, name)
            return pickle.loads(row[1])
        before = self.db.conn.total_changes
        with self.db.atomic():
            result = fn(*args, **kwargs)
            if self.db.conn.total_changes != before:  # it wrote: record it with its writes
                self.db.execute("INSERT OR REPLACE INTO update_effects (update_id, seq, method, result) "
                                "VALUES (?, ?, ?, ?)", [self.update_id, self.seq, name, pickle.dumps(result)])
        return result


_STEPS: ContextVar[Steps | None] = ContextVar("wanqi_update_steps", default=None)


@contextmanager
def recording(db: Database, update_id: int) -> Iterator[Steps]:
    """Service calls made inside (in this task) are recorded as steps of ``update_id``."""
    steps = Steps(db, update_id)
    token = _STEPS.set(steps)
    try:
        yield steps
    finally:
        _STEPS.reset(token)


def current_steps() -> Steps | None:
    """The steps of the update this task is handling, if it came from the inbox."""
    return _STEPS.get()
