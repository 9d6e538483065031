"""Conversation state (the bot's FSM steps and drafts) in the database, so a half-finished conversation survives
a restart. The aiogram storage over these rows is the Telegram adapter's (``bot/fsm.py``).

While an update is handled from the inbox, its FSM changes are staged in memory and written in the same
transaction that marks the update done (``Inbox.finish``): a crash either keeps the old step (and the
update is handled again) or has both. Outside that (tests, tools) each change is written at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database


@dataclass
class FsmRow:
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


Staged = dict[str, FsmRow]
_STAGE: ContextVar[Staged | None] = ContextVar("wanqi_fsm_stage", default=None)


def current_stage() -> Staged | None:
    """The rows staged by the update this task is handling, if any."""
    return _STAGE.get()


@contextmanager
def staging() -> Iterator[Staged]:
    """FSM writes made inside (in this task) are collected here instead of written; see ``Inbox.finish``."""
    stage: Staged = {}
    token = _STAGE.set(stage)
    try:
        yield stage
    finally:
        _STAGE.reset(token)


def load(db: Database, key: str) -> FsmRow:
    row = db.execute("SELECT state, data FROM fsm WHERE key = ?", [key]).fetchone()
    return FsmRow(row[0], json.loads(row[1])) if row else FsmRow()


def write(db: Database, rows: Staged) -> None:
    """Store the rows (an empty conversation deletes its row); the caller owns the transaction."""
    for key, row in rows.items():
        if row.state is None and not row.data:
            db.execute("DELETE FROM fsm WHERE key = ?", [key])
        else:
            db.execute("INSERT INTO fsm (key, state, data) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
                       "state = excluded.state, data = excluded.data",
                       [key, row.state, json.dumps(row.data, ensure_ascii=False)])


def write_now(db: Database, rows: Staged) -> None:
    """Store the rows in a transaction of their own (outside an update's handling)."""
    with db.atomic():
        write(db, rows)
