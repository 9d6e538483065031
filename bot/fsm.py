"""aiogram's FSM storage over the conversation rows of the database (``storage/conversations.py``).

While an update is handled from the inbox its changes are staged and written with the update's done mark;
outside that (tests, tools) each change is written at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlite_utils import Database

from storage import conversations
from storage.conversations import FsmRow
from storage.db import Writer


def key_of(key: StorageKey) -> str:
    return f"{key.bot_id}:{key.chat_id}:{key.user_id}:{key.thread_id or ''}:{key.business_connection_id or ''}:" \
           f"{key.destiny}"


class SqliteStorage(BaseStorage):
    """aiogram's ``BaseStorage`` on the ``fsm`` table, run on the single writer thread."""

    def __init__(self, db: Database, writer: Writer) -> None:
        self.db = db
        self.writer = writer

    async def _row(self, key: StorageKey) -> tuple[str, FsmRow]:
        k = key_of(key)
        stage = conversations.current_stage()
        if stage is not None and k in stage:
            return k, stage[k]
        row = await self.writer.run(conversations.load, self.db, k)
        if stage is not None:
            stage[k] = row
        return k, row

    async def _save(self, k: str, row: FsmRow) -> None:
        if conversations.current_stage() is None:
            await self.writer.run(conversations.write_now, self.db, {k: row})

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
