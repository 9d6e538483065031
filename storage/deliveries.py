"""The deliveries table: one row per outgoing push key, moved queued -> sending -> sent|failed|blocked.

Every method commits before it returns, so the row's state on disk is what a restarted sender sees.
Blocking: call it on the writer thread (``await writer.run(store.mark_sent, key, message_id)``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from storage.redact import redact

QUEUED, SENDING, SENT, FAILED, BLOCKED = "queued", "sending", "sent", "failed", "blocked"
FINAL = frozenset({SENT, FAILED, BLOCKED})
_MARKS = frozenset({"mark_sending", "retry_sending", "mark_sent", "mark_queued", "mark_failed", "mark_blocked"})
_CHUNK = 500  # keys per IN (...) query, well under SQLite's variable limit


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _row(record: Mapping[str, Any]) -> dict[str, Any]:
    row = dict(record)
    meta = row.get("meta")
    row["meta"] = json.loads(meta) if isinstance(meta, str) and meta else None
    return row


class DeliveryStore:
    """Exactly-once bookkeeping for pushes (weekly digests and other broadcasts)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._in_batch = False

    def apply(self, ops: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """Run several ``mark_*`` calls as one transaction, one commit (group commit); their results in order."""
        unknown = {name for name, _ in ops} - _MARKS
        if unknown:
            raise ValueError(f"not a delivery state change: {sorted(unknown)}")
        self._in_batch = True
        try:
            with self.db.conn:
                return [getattr(self, name)(*args) for name, args in ops]
        finally:
            self._in_batch = False

    def _tx(self) -> AbstractContextManager[Any]:
        """Commit on exit, unless inside :meth:`apply` (which commits once for all)."""
        return nullcontext() if self._in_batch else self.db.conn

    def enqueue(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Queue new deliveries (key, chat_id, text, kind, enterprise_id, meta, week); known keys are ignored."""
        now = _now()
        added = 0
        with self.db.conn:
            for item in items:
                meta = item.get("meta")
                cursor = self.db.execute(
                    "INSERT OR IGNORE INTO deliveries (key, kind, chat_id, enterprise_id, text, meta, week, "
                    "status, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                    [item["key"], item.get("kind") or "digest", int(item["chat_id"]), item.get("enterprise_id"),
                     item["text"], json.dumps(meta if meta is not None else {}, ensure_ascii=False),
                     item.get("week"), QUEUED, now, now],
                )
                added += cursor.rowcount
        return added

    def statuses(self, keys: Sequence[str]) -> dict[str, str]:
        """The current status of each known key."""
        found: dict[str, str] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start:start + _CHUNK])
            marks = ", ".join("?" for _ in chunk)
            found.update(self.db.execute(f"SELECT key, status FROM deliveries WHERE key IN ({marks})", chunk))
        return found

    def get(self, key: str) -> dict[str, Any] | None:
        """One delivery row (meta decoded), or None."""
        rows = list(self.db.query("SELECT * FROM deliveries WHERE key = ?", [key]))
        return _row(rows[0]) if rows else None

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Queued rows, oldest first."""
        sql = "SELECT * FROM deliveries WHERE status = ? ORDER BY rowid"
        params: list[Any] = [QUEUED]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_row(r) for r in self.db.query(sql, params)]

    def in_flight(self) -> list[dict[str, Any]]:
        """Rows in ``sending``: outside a running sender, the ones a crash left behind."""
        return [_row(r) for r in self.db.query("SELECT * FROM deliveries WHERE status = ? ORDER BY rowid",
                                                 [SENDING])]

    def release_in_flight(self, *, resend: bool, note: str) -> int:
        """Resolve crash leftovers: back to ``queued`` (resend) or to ``failed`` (never resent)."""
        status = QUEUED if resend else FAILED
        with self.db.conn:
            cursor = self.db.execute(
                "UPDATE deliveries SET status = ?, error = ?, updated_at = ? WHERE status = ?",
                [status, note, _now(), SENDING],
            )
        return cursor.rowcount

    def last_activity(self) -> float | None:
        """When (epoch seconds) a row last left ``queued``: how recently this bot was sending."""
        (latest,) = self.db.execute(
            "SELECT max(updated_at) FROM deliveries WHERE status != ?", [QUEUED]).fetchone()
        return datetime.fromisoformat(latest).timestamp() if latest else None

    def mark_sending(self, key: str) -> bool:
        """Claim a queued row just before the HTTP call; False if it is not queued (someone else has it)."""
        with self._tx():
            cursor = self.db.execute(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, updated_at = ? "
                "WHERE key = ? AND status = ?",
                [SENDING, _now(), key, QUEUED],
            )
        return cursor.rowcount == 1

    def retry_sending(self, key: str, error: str) -> None:
        """Another attempt of a row already in ``sending`` (its last outcome unknown, e.g. a timeout)."""
        self._set(key, SENDING, error=error, attempts_inc=1)

    def mark_sent(self, key: str, message_id: int | None) -> None:
        """Telegram accepted the message."""
        now = _now()
        with self._tx():
            self.db.execute(
                "UPDATE deliveries SET status = ?, message_id = ?, error = NULL, sent_at = ?, updated_at = ? "
                "WHERE key = ?",
                [SENT, message_id, now, now, key],
            )

    def mark_queued(self, key: str, error: str) -> None:
        """Telegram refused this attempt (429/5xx): nothing was delivered; the row waits for a retry."""
        self._set(key, QUEUED, error=error)

    def mark_failed(self, key: str, error: str) -> None:
        """Given up (a 4xx, or retries exhausted)."""
        self._set(key, FAILED, error=error)

    def mark_blocked(self, key: str, error: str = "blocked by the user") -> None:
        """The recipient blocked the bot (403): never retried."""
        self._set(key, BLOCKED, error=error)

    def stats(self, week: str | None = None) -> dict[str, int]:
        """Deliveries per status (for one ISO week, or all)."""
        sql = "SELECT status, count(*) FROM deliveries"
        params: list[Any] = []
        if week is not None:
            sql += " WHERE week = ?"
            params.append(week)
        return {status: count for status, count in self.db.execute(sql + " GROUP BY status", params)}

    def sent_meta_for(self, enterprise_id: int, kind: str = "digest") -> list[dict[str, Any] | None]:
        """The ``meta`` of every delivery of ``kind`` sent to an enterprise (what it has already been told)."""
        rows = self.db.execute(
            "SELECT meta FROM deliveries WHERE enterprise_id = ? AND kind = ? AND status = ? ORDER BY rowid",
            [enterprise_id, kind, SENT],
        )
        return [json.loads(meta) if meta else None for (meta,) in rows]

    def _set(self, key: str, status: str, *, error: str | None, attempts_inc: int = 0) -> None:
        with self._tx():
            self.db.execute(
                "UPDATE deliveries SET status = ?, error = ?, attempts = attempts + ?, updated_at = ? WHERE key = ?",
                [status, redact(error) if error is not None else None, attempts_inc, _now(), key],
            )
