"""Durable intake: updates are committed to the inbox before Telegram is told they arrived, then handled.

The poller asks ``getUpdates`` for what follows the newest stored update, commits the batch in one
transaction and only then asks again (which is what confirms the batch to Telegram). A crash therefore
loses nothing: stored updates are handled after the restart, unstored ones are still at Telegram.

Handling keeps each chat's updates in order (one at a time per chat), runs different chats concurrently
up to ``capacity``, and pauses polling while ``max_backlog`` updates wait: above capacity latency grows,
nothing is dropped. A failing update is retried with back-off and parked after ``max_attempts``, and its
sender is told politely; the chat's later updates then go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.types import Update

from storage import conversations
from storage.db import Writer
from storage.inbox import Inbox, InboxItem, recording
from texts import locale_for, translator

log = logging.getLogger(__name__)


@dataclass
class IntakeSettings:
    capacity: int = 32  # updates handled at once (different chats)
    max_backlog: int = 2000  # stored but unhandled updates above which polling pauses
    max_attempts: int = 5  # then the update is parked
    retry_base: float = 1.0  # seconds before the 2nd attempt, doubling up to retry_cap
    retry_cap: float = 30.0
    polling_timeout: int = 30
    stop_grace: float = 10.0  # seconds in-flight updates get to finish on stop
    chores_every: float = 60.0  # seconds between taking up re-queued updates and pruning
    keep_days: int = 7  # handled updates are kept this long (for the operators), then removed


def chat_key(update: Update) -> int:
    """The conversation an update belongs to: its chat, else its sender (0 when it has neither)."""
    event = update.event
    chat = getattr(event, "chat", None) or getattr(getattr(event, "message", None), "chat", None)
    if chat is not None:
        return int(chat.id)
    user = getattr(event, "from_user", None)
    return int(user.id) if user is not None else 0


@dataclass(slots=True)
class _Entry:
    item: InboxItem
    update: Update | None  # parsed already when it came from getUpdates


class Intake:
    def __init__(self, dp: Dispatcher, bot: Bot, inbox: Inbox, writer: Writer,
                 settings: IntakeSettings | None = None) -> None:
        self.dp = dp
        self.bot = bot
        self.inbox = inbox
        self.writer = writer
        self.settings = settings or IntakeSettings()
        self._slots = asyncio.Semaphore(self.settings.capacity)
        self._queues: dict[int, deque[_Entry]] = {}
        self._lanes: dict[int, asyncio.Task[None]] = {}
        self._waiting = 0  # entries queued or in flight
        self._queued: set[int] = set()  # their update ids
        self._idle = asyncio.Event()
        self._idle.set()
        self._room = asyncio.Event()
        self._room.set()
        self._stopping = False
        self.handled = 0

    # ---- receiving ------------------------------------------------------------------------------
    async def accept(self, updates: list[Update]) -> int:
        """Commit updates to the inbox and queue the new ones; returns how many were new."""
        items = {u.update_id: _Entry(InboxItem(u.update_id, chat_key(u), _raw(u)), u) for u in updates}
        new = await self.writer.run(self.inbox.store, [e.item for e in items.values()], datetime.now(UTC))
        self._enqueue([items[i.update_id] for i in new])
        return len(new)

    async def recover(self) -> int:
        """Queue what a previous run stored but did not finish (oldest first)."""
        pending = await self.writer.run(self.inbox.pending)
        fresh = [i for i in pending if i.update_id not in self._queued]
        self._enqueue([_Entry(i, None) for i in fresh])
        if fresh:
            log.info("inbox: %d stored updates from before the restart queued", len(fresh))
        return len(fresh)

    async def retry(self, update_id: int) -> bool:
        """Give a parked update new attempts now (the operator fixed its cause)."""
        if not await self.writer.run(self.inbox.requeue, update_id):
            return False
        await self.recover()
        return True

    async def poll(self, stop: asyncio.Event) -> None:
        """Long-poll until ``stop``: each batch is committed before the next request confirms it."""
        last = await self.writer.run(self.inbox.last_update_id)
        offset = last + 1 if last is not None else None
        allowed = self.dp.resolve_used_update_types()
        pause = 0.0
        chores = time.monotonic()
        while not stop.is_set():
            if time.monotonic() - chores >= self.settings.chores_every:
                chores = time.monotonic()
                await self._chores()
            if not self._room.is_set():
                await _first(self._room.wait(), stop.wait())
                continue
            room = max(1, min(100, self.settings.max_backlog - self._waiting))  # never more than the backlog
            fetch = asyncio.ensure_future(self.bot.get_updates(
                offset=offset, limit=room, timeout=self.settings.polling_timeout, allowed_updates=allowed))
            await _first(asyncio.shield(fetch), stop.wait())
            if not fetch.done():  # stopping: what this poll returns is not confirmed, Telegram keeps it
                fetch.cancel()
                with contextlib.suppress(BaseException):
                    await fetch
                break
            try:
                updates = fetch.result()
            except TelegramUnauthorizedError:
                raise
            except Exception as exc:  # boundary: network, 5xx, an HTML error page; keep polling
                pause = min(max(pause * 2, 0.5), 30.0)
                log.warning("getUpdates failed (%s): retrying in %.1f s", type(exc).__name__, pause)
                await _first(asyncio.sleep(pause), stop.wait())
                continue
            pause = 0.0
            if updates:
                await self.accept(updates)
                offset = updates[-1].update_id + 1

    async def _chores(self) -> None:
        """Take up updates an operator re-queued (``wanqi inbox retry``); forget old handled ones."""
        await self.recover()
        pruned = await self.writer.run(self.inbox.prune, datetime.now(UTC) - timedelta(days=self.settings.keep_days))
        if pruned:
            log.info("inbox: %d handled updates older than %d days removed", pruned, self.settings.keep_days)

    async def drain(self) -> None:
        """Wait until every queued update is handled or parked."""
        await self._idle.wait()

    async def stop(self) -> None:
        """Take no new updates; let those in flight finish (bounded); the rest stays in the inbox."""
        self._stopping = True
        lanes = list(self._lanes.values())
        if lanes:
            _, late = await asyncio.wait(lanes, timeout=self.settings.stop_grace)
            for task in late:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*late, return_exceptions=True)

    def counts_text(self) -> str:
        return f"{self.handled} updates handled, {self._waiting} left in the inbox"

    # ---- handling -------------------------------------------------------------------------------
    def _enqueue(self, entries: list[_Entry]) -> None:
        for entry in entries:
            self._queues.setdefault(entry.item.chat_id, deque()).append(entry)
            self._queued.add(entry.item.update_id)
            self._waiting += 1
            if entry.item.chat_id not in self._lanes and not self._stopping:
                self._lanes[entry.item.chat_id] = asyncio.create_task(self._lane(entry.item.chat_id))
        self._gauge()

    def _gauge(self) -> None:
        (self._idle.set if self._waiting == 0 else self._idle.clear)()
        (self._room.set if self._waiting < self.settings.max_backlog else self._room.clear)()

    async def _lane(self, chat_id: int) -> None:
        """One chat's updates, strictly in order; a failed one is retried before the next is touched."""
        queue = self._queues[chat_id]
        try:
            while queue and not self._stopping:
                entry = queue[0]
                if entry.item.attempts:
                    await asyncio.sleep(self._backoff(entry.item.attempts))
                async with self._slots:
                    finished = await self._handle(entry)
                if finished:
                    queue.popleft()
                    self._queued.discard(entry.item.update_id)
                    self._waiting -= 1
                    self._gauge()
        finally:
            del self._lanes[chat_id]
            if not queue:
                del self._queues[chat_id]

    def _backoff(self, attempts: int) -> float:
        return float(min(self.settings.retry_base * 2 ** (attempts - 1), self.settings.retry_cap))

    async def _handle(self, entry: _Entry) -> bool:
        """Handle one update; True when it is done (or parked), False to try it again."""
        item = entry.item
        update = entry.update or Update.model_validate(item.raw, context={"bot": self.bot})
        with conversations.staging() as conversation, recording(self.inbox.db, item.update_id):
            try:
                await self.dp.feed_update(self.bot, update, bots=(self.bot,))
            except Exception as exc:  # boundary: a bug or an outage must not stop the other chats
                return await self._failed(item, update, exc)
        await self.writer.run(self.inbox.finish, item.update_id, datetime.now(UTC), conversation)
        self.handled += 1
        return True

    async def _failed(self, item: InboxItem, update: Update, exc: Exception) -> bool:
        park = item.attempts + 1 >= self.settings.max_attempts
        item.attempts = await self.writer.run(self.inbox.fail, item.update_id, f"{type(exc).__name__}: {exc}",
                                              datetime.now(UTC), park=park)
        if not park:
            log.warning("update %s failed (attempt %d of %d): %s", item.update_id, item.attempts,
                        self.settings.max_attempts, type(exc).__name__, exc_info=exc)
            return False
        log.error("update %s parked after %d attempts (wanqi inbox list)", item.update_id, item.attempts,
                  exc_info=exc)
        await self._tell_parked(update)
        return True

    async def _tell_parked(self, update: Update) -> None:
        user = getattr(update.event, "from_user", None)
        chat_id = chat_key(update)
        if not chat_id:
            return
        t = translator(locale_for(getattr(user, "language_code", None)))
        try:
            await self.bot.send_message(chat_id, t("error.parked"))
        except TelegramAPIError as exc:
            log.warning("could not tell chat %s its update was parked: %s", chat_id, type(exc).__name__)


def _raw(update: Update) -> dict[str, Any]:
    return update.model_dump(mode="json", by_alias=True, exclude_unset=True)


async def _first(*aws: Any) -> None:
    """Wait until the first of ``aws`` finishes; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
