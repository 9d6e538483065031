"""The outbox: every outgoing message is a row, written in the transaction of the event that causes it.

Rows move ``queued -> sending -> sent | failed | blocked``; a retry puts a row back to ``queued`` with
a later ``next_attempt_at``. One delivery worker (the holder of the "primary" lease) drains it, per
chat in id order. Producers call :meth:`Outbox.add` inside their own transaction (it nests as a
savepoint); the worker's state changes each commit before they return, so what is on disk is what a
restarted worker sees. Blocking: run it on the writer thread under asyncio.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from appeals.ports import Outgoing
from storage.redact import redact

QUEUED, SENDING, SENT, FAILED, BLOCKED = "queued", "sending", "sent", "failed", "blocked"
FINAL = frozenset({SENT, FAILED, BLOCKED})
_MARKS = frozenset({"claim", "retry_sending", "mark_sent", "mark_retry", "mark_failed", "block_chat"})
_CHUNK = 500  # keys per IN (...) query, well under SQLite's variable limit


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _row(record: Mapping[str, Any]) -> dict[str, Any]:
    row = dict(record)
    row["payload"] = json.loads(row["payload"]) if row.get("payload") else {}
    return row


class Outbox:
    """The outbox table: producers add rows, the one delivery worker moves them along."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._in_batch = False

    # ---- producers ------------------------------------------------------------------------------
    def add(self, messages: Iterable[Outgoing]) -> int:
        """Queue messages (inside the caller's transaction, if any); a known ``dedupe`` key is ignored."""
        now = _now()
        added = 0
        with self.db.atomic():
            for m in messages:
                cursor = self.db.execute(
                    "INSERT OR IGNORE INTO outbox (created_at, updated_at, chat_id, kind, lang, payload, appeal_id, "
                    "event_id, enterprise_id, week, dedupe, status, attempts, next_attempt_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
                    [now, now, int(m.chat_id), m.kind, m.lang, json.dumps(m.payload, ensure_ascii=False),
                     m.appeal_id, m.event_id, m.enterprise_id, m.week, m.dedupe, QUEUED],
                )
                added += cursor.rowcount
        return added

    def add_text(self, chat_id: int, text: str, *, lang: str = "zh-CN", kind: str = "text",
                 dedupe: str | None = None) -> int:
        """Queue one ready-made text (already in the recipient's language)."""
        return self.add([Outgoing(chat_id, kind, {"text": text}, lang, dedupe=dedupe)])

    def report_bug(self, template: str, error: str) -> int:
        """Tell every active supervisor, once per template, that Telegram refused a kind of message."""
        if template == "delivery_bug":  # a report that cannot be sent is not reported again
            return 0
        rows = self.db.query("SELECT id, lang FROM users WHERE role = 'supervisor' AND active = 1 ORDER BY id")
        return self.add(Outgoing(int(r["id"]), "delivery_bug", {"template": template, "error": error},
                                 r["lang"] or "zh-CN", dedupe=f"bug:{template}:{r['id']}") for r in rows)

    # ---- reading --------------------------------------------------------------------------------
    def pending(self, after_id: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        """Queued rows with an id above ``after_id``, oldest first (payload decoded)."""
        sql = "SELECT * FROM outbox WHERE status = ? AND id > ? ORDER BY id"
        params: list[Any] = [QUEUED, after_id]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_row(r) for r in self.db.query(sql, params)]

    def get(self, row_id: int) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM outbox WHERE id = ?", [row_id]))
        return _row(rows[0]) if rows else None

    def by_key(self, key: str) -> dict[str, Any] | None:
        """The row with this dedupe key, or None."""
        rows = list(self.db.query("SELECT * FROM outbox WHERE dedupe = ?", [key]))
        return _row(rows[0]) if rows else None

    def statuses(self, keys: Sequence[str]) -> dict[str, str]:
        """The current status of each known dedupe key."""
        found: dict[str, str] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start:start + _CHUNK])
            marks = ", ".join("?" for _ in chunk)
            found.update(self.db.execute(f"SELECT dedupe, status FROM outbox WHERE dedupe IN ({marks})", chunk))
        return found

    def unfinished(self) -> int:
        """Rows not yet sent, failed or blocked."""
        (count,) = self.db.execute("SELECT count(*) FROM outbox WHERE status IN (?, ?)", [QUEUED, SENDING]).fetchone()
        return int(count)

    def stats(self, week: str | None = None, kind: str | None = None) -> dict[str, int]:
        """Rows per status (for one ISO week and/or one kind, or all)."""
        where, params = ["1 = 1"], []
        if week is not None:
            where.append("week = ?")
            params.append(week)
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        sql = f"SELECT status, count(*) FROM outbox WHERE {' AND '.join(where)} GROUP BY status"
        return {status: count for status, count in self.db.execute(sql, params)}

    def sent_meta_for(self, enterprise_id: int, kind: str = "digest") -> list[dict[str, Any] | None]:
        """The ``meta`` of every message of ``kind`` sent to an enterprise (what it has already been told)."""
        rows = self.db.execute(
            "SELECT json_extract(payload, '$.meta') FROM outbox WHERE enterprise_id = ? AND kind = ? AND status = ? "
            "ORDER BY id", [enterprise_id, kind, SENT])
        return [json.loads(meta) if meta else None for (meta,) in rows]

    def last_activity(self) -> float | None:
        """When (epoch seconds) a row last left ``queued``: how recently a worker was sending."""
        (latest,) = self.db.execute(
            "SELECT max(updated_at) FROM outbox WHERE status != ?", [QUEUED]).fetchone()
        return datetime.fromisoformat(latest).timestamp() if latest else None

    # ---- the delivery worker ----------------------------------------------------------------------
    def release_in_flight(self, *, resend: bool, note: str) -> int:
        """Rows a stopped worker left in ``sending``: back to ``queued`` (resend) or ``failed``."""
        with self.db.atomic():
            cursor = self.db.execute(
                "UPDATE outbox SET status = ?, last_error = ?, updated_at = ? WHERE status = ?",
                [QUEUED if resend else FAILED, note, _now(), SENDING])
        return cursor.rowcount

    def apply(self, ops: Sequence[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """Several state changes as one transaction, one commit (group commit); their results in order."""
        unknown = {name for name, _ in ops} - _MARKS
        if unknown:
            raise ValueError(f"not an outbox state change: {sorted(unknown)}")
        self._in_batch = True
        try:
            with self.db.atomic():
                return [getattr(self, name)(*args) for name, args in ops]
        finally:
            self._in_batch = False

    def _tx(self) -> AbstractContextManager[Any]:
        return nullcontext() if self._in_batch else self.db.atomic()

    def claim(self, row_id: int) -> bool:
        """``queued -> sending`` just before the HTTP call; False if the row is not queued any more."""
        with self._tx():
            cursor = self.db.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, updated_at = ? WHERE id = ? AND status = ?",
                [SENDING, _now(), row_id, QUEUED])
        return cursor.rowcount == 1

    def retry_sending(self, row_id: int, error: str) -> None:
        """Another attempt of a row still in ``sending`` (the last outcome unknown, e.g. a timeout)."""
        with self._tx():
            self.db.execute("UPDATE outbox SET attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?",
                            [redact(error), _now(), row_id])

    def mark_sent(self, row_id: int, message_id: int | None) -> None:
        now = _now()
        with self._tx():
            self.db.execute(
                "UPDATE outbox SET status = ?, message_id = ?, last_error = NULL, sent_at = ?, updated_at = ? "
                "WHERE id = ?", [SENT, message_id, now, now, row_id])

    def mark_retry(self, row_id: int, error: str, not_before: float) -> None:
        """Nothing was delivered (429, 5xx, an undecodable answer): queued again for ``not_before`` (epoch s)."""
        with self._tx():
            self.db.execute(
                "UPDATE outbox SET status = ?, last_error = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
                [QUEUED, redact(error), not_before, _now(), row_id])

    def mark_failed(self, row_id: int, error: str) -> None:
        """Given up: a 400 (a bug) or retries exhausted."""
        with self._tx():
            self.db.execute("UPDATE outbox SET status = ?, last_error = ?, updated_at = ? WHERE id = ?",
                            [FAILED, redact(error), _now(), row_id])

    def block_chat(self, chat_id: int, error: str = "blocked by the user") -> int:
        """403: the user blocked the bot. Marks them inactive and stops every unsent row of that chat."""
        with self._tx():
            cursor = self.db.execute(
                "UPDATE outbox SET status = ?, last_error = ?, updated_at = ? WHERE chat_id = ? AND status IN (?, ?)",
                [BLOCKED, redact(error), _now(), chat_id, QUEUED, SENDING])
            self.db.execute("UPDATE users SET active = 0 WHERE id = ?", [chat_id])
        return cursor.rowcount


def epoch() -> float:
    """The clock ``next_attempt_at`` is kept in (wall-clock seconds, shared by processes)."""
    return time.time()
