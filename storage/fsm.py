"""Conversation state (aiogram FSM) in the SQLite file, so a half-finished conversation survives a restart.

While an update is handled from the inbox, its FSM changes are staged in memory and written in the same
transaction that marks the update done (``Inbox.finish``): a crash either keeps the old step (and the
update is handled again) or has both. Outside that (tests, tools) each change is written at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlite_utils import Database

from storage.db import Writer


@dataclass
class FsmRow:
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


Staged = dict[str, FsmRow]
_STAGE: ContextVar[Staged | None] = ContextVar("wanqi_fsm_stage", default=None)


@contextmanager
def staging() -> Iterator[Staged]:
    """FSM writes made inside (in this task) are collected here instead of written; see ``Inbox.finish``."""
    stage: Staged = {}
    token = _STAGE.set(stage)
    try:
        yield stage
    finally:
        _STAGE.reset(token)


def key_of(key: StorageKey) -> str:
    return f"{key.bot_id}:{key.chat_id}:{key.user_id}:{key.thread_id or ''}:{key.business_connection_id or ''}:" \
           f"{key.destiny}"


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


class SqliteStorage(BaseStorage):
    """aiogram's ``BaseStorage`` on the ``fsm`` table, run on the single writer thread."""

    def __init__(self, db: Database, writer: Writer) -> None:
        self.db = db
        self.writer = writer

    async def _row(self, key: StorageKey) -> tuple[str, FsmRow]:
        k = key_of(key)
        stage = _STAGE.get()
        if stage is not None and k in stage:
            return k, stage[k]
        row = await self.writer.run(load, self.db, k)
        if stage is not None:
            stage[k] = row
        return k, row

    async def _save(self, k: str, row: FsmRow) -> None:
        if _STAGE.get() is None:
            await self.writer.run(self._write_now, {k: row})

    def _write_now(self, rows: Staged) -> None:
        with self.db.atomic():
            write(self.db, rows)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        k, row = await self._row(key)
        row.state = state.state if isinstance(state, State) else state
        await self._save(k, row)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._row(key))[1].state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        k, row = await self._row(key)
        row.data = json.loads(json.dumps(dict(data), ensure_ascii=False))  # stored as JSON: refuse anything else
        await self._save(k, row)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return dict((await self._row(key))[1].data)

    async def close(self) -> None:
        pass
