"""Exactly-once, rate-limited pushes (the weekly policy digest) through the Bot API.

Each message has a delivery key. ``Broadcaster.send(items)`` queues the items (a known key is never
queued twice) and then sends every queued row, recording ``sending`` (committed) just before the HTTP
call and ``sent`` right after it, so a restart after a crash sends what was left and nothing twice.

The crash window. A row still in ``sending`` after a kill -9 is ambiguous: Telegram may or may not
have received it, and the Bot API has no idempotency key to ask. Policy: such rows are resent
(``resend_uncertain=True``, the default) because a missed deadline reminder costs an enterprise more
than a repeated one; with ``False`` they are marked failed for a supervisor instead. The window is
kept small: the row is claimed only after the rate limiter has granted the slot, so ``sending``
covers one local commit, one HTTP round trip and one commit (about a millisecond against the local
stand-in); a duplicate needs the kill to land between Telegram accepting and our commit.

Limits (Telegram: ~30 messages/s overall, 1/s per chat). The overall limit is a sliding window over
request *completions*: the request k+N starts only after request k has completed and a full period
has passed, so whatever the latency and jitter, the server never sees more than N in any period.
A chat's next message starts a full interval after its previous one completed. Enough requests run
concurrently to fill the window. 429 pauses everything for ``retry_after``; 5xx and network errors
retry with bounded exponential backoff; 403 marks the row blocked and calls ``on_blocked(chat_id)``;
other 4xx fail at once. Failures are logged with key, chat and Telegram's description, never the text.

One sender per database: sends from any Broadcaster on the same ``Database`` are serialised.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from storage.db import Writer
from storage.deliveries import FINAL, DeliveryStore

logger = logging.getLogger(__name__)

OnBlocked = Callable[[int], Awaitable[Any] | Any]
_SLACK = 0.002  # seconds added to every computed wait: timers may fire a hair early


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to push; ``key`` makes it exactly-once (e.g. ``digest:2026-W48:user:42``)."""

    key: str
    chat_id: int
    text: str
    kind: str = "digest"
    enterprise_id: int | None = None
    meta: dict[str, Any] | None = None
    week: str | None = None

    def row(self) -> dict[str, Any]:
        """The deliveries row it is queued as."""
        return {"key": self.key, "chat_id": self.chat_id, "text": self.text, "kind": self.kind,
                "enterprise_id": self.enterprise_id, "meta": self.meta, "week": self.week}


@dataclass(slots=True)
class BroadcastReport:
    """What one ``send`` did: sent/failed/blocked rows, items skipped as already done, crash leftovers."""

    sent: int = 0
    failed: int = 0
    blocked: int = 0
    skipped: int = 0
    recovered: int = 0
    elapsed: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Messages per second achieved."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0


class _Slot:
    """One request's place in the sliding window."""

    __slots__ = ("end", "finished")

    def __init__(self) -> None:
        self.end = 0.0
        self.finished = asyncio.Event()

    def done(self) -> None:
        if not self.finished.is_set():
            self.end = time.monotonic()
            self.finished.set()


class SlidingWindow:
    """At most ``rate`` requests per ``period`` as the server sees them, whatever the latency."""

    def __init__(self, rate: float, period: float = 1.0) -> None:
        self.rate = rate
        self.size = max(1, int(rate))
        self.period = period * self.size / rate  # 2.5/s = 2 per 0.8 s
        self._recent: deque[_Slot] = deque()
        self._horizon = 0.0  # latest completion among requests older than the last size-1
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """Nobody starts for ``seconds`` (Telegram said 429)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire(self) -> _Slot:
        """Wait for a slot; call ``slot.done()`` as soon as the request completed (whatever the outcome)."""
        async with self._lock:
            while len(self._recent) >= self.size:
                oldest = self._recent[0]
                await oldest.finished.wait()
                self._recent.popleft()
                self._horizon = max(self._horizon, oldest.end)
            while (wait := max(self._horizon + self.period, self._paused_until) - time.monotonic()) > 0:
                await asyncio.sleep(wait + _SLACK)
            slot = _Slot()
            self._recent.append(slot)
            return slot


@dataclass
class _Shared:
    """What every Broadcaster on one database shares: one send at a time, the window, chats' next turn."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    window: SlidingWindow | None = None
    chat_ready_at: dict[int, float] = field(default_factory=dict)


_SHARED: weakref.WeakKeyDictionary[Any, _Shared] = weakref.WeakKeyDictionary()


class Broadcaster:
    """Sends queued deliveries once each, within Telegram's limits, surviving crashes and restarts."""

    def __init__(
        self, bot: Bot, store: DeliveryStore, writer: Writer, *, messages_per_second: float = 30,
        per_chat_interval: float = 1.0, max_retries: int = 5, on_blocked: OnBlocked | None = None,
        resend_uncertain: bool = True, backoff_base: float = 0.5, backoff_max: float = 30.0,
        request_timeout: int = 15, progress_every: int = 500, concurrency: int | None = None,
    ) -> None:
        self.bot = bot
        self.store = store
        self.writer = writer
        self.per_chat_interval = per_chat_interval
        self.max_retries = max_retries
        self.on_blocked = on_blocked
        self.resend_uncertain = resend_uncertain
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.request_timeout = request_timeout
        self.progress_every = max(1, progress_every)
        self.messages_per_second = messages_per_second
        self.concurrency = concurrency or min(100, max(2, 2 * int(messages_per_second)))
        self._shared = _SHARED.setdefault(store.db, _Shared())
        if self._shared.window is None or self._shared.window.rate != messages_per_second:
            self._shared.window = SlidingWindow(messages_per_second)
        self.window: SlidingWindow = self._shared.window
        self._chat_ready_at = self._shared.chat_ready_at

    async def send(self, items: Iterable[Outgoing]) -> BroadcastReport:
        """Queue ``items`` (idempotent by key), then send everything queued; returns this run's figures."""
        async with self._shared.lock:
            started = time.monotonic()
            items = list(items)
            keys = [item.key for item in items]
            before = await self.writer.run(self.store.statuses, keys)
            report = BroadcastReport(skipped=sum(1 for key in set(keys) if before.get(key) in FINAL))
            await self.writer.run(self.store.enqueue, [item.row() for item in items])
            report.recovered = await self._recover()
            pending = await self.writer.run(self.store.pending)
            if pending:
                logger.info("broadcast: %d to send (%d skipped as already done)", len(pending), report.skipped)
                await self._send_all(pending, report)
            report.elapsed = time.monotonic() - started
            logger.info("broadcast done: sent=%d failed=%d blocked=%d skipped=%d in %.1fs (%.1f msg/s)",
                        report.sent, report.failed, report.blocked, report.skipped, report.elapsed, report.rate)
            return report

    async def _recover(self) -> int:
        """Rows a crash left in ``sending``: resent or failed, per ``resend_uncertain``."""
        leftovers = await self.writer.run(self.store.in_flight)
        if not leftovers:
            return 0
        note = "uncertain after a crash: " + ("resent" if self.resend_uncertain else "not resent")
        count: int = await self.writer.run(self.store.release_in_flight, resend=self.resend_uncertain, note=note)
        logger.warning("broadcast: %d deliveries were in flight when the sender stopped; %s", count, note)
        return count

    async def _send_all(self, pending: Sequence[dict[str, Any]], report: BroadcastReport) -> None:
        lanes: dict[int, deque[dict[str, Any]]] = {}
        for row in pending:
            lanes.setdefault(int(row["chat_id"]), deque()).append(row)
        ready: asyncio.Queue[int] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        remaining = len(pending)
        all_done = asyncio.Event()

        def schedule(chat_id: int) -> None:
            delay = self._chat_ready_at.get(chat_id, 0.0) - time.monotonic()
            if delay > 0:
                loop.call_later(delay + _SLACK, ready.put_nowait, chat_id)
            else:
                ready.put_nowait(chat_id)

        def finished(outcome: str) -> None:
            nonlocal remaining
            remaining -= 1
            setattr(report, outcome, getattr(report, outcome) + 1)
            done = report.sent + report.failed + report.blocked
            if done % self.progress_every == 0 or remaining == 0:
                logger.info("broadcast progress: sent=%d failed=%d blocked=%d remaining=%d",
                            report.sent, report.failed, report.blocked, remaining)
            if remaining == 0:
                all_done.set()

        async def worker() -> None:
            while True:
                chat_id = await ready.get()
                lane = lanes[chat_id]
                outcome = await self._deliver(lane.popleft(), report)
                finished(outcome)
                if outcome == "blocked":
                    while lane:  # the user blocked the bot: the rest of this chat is not tried
                        row = lane.popleft()
                        await self.writer.run(self.store.mark_blocked, row["key"])
                        finished("blocked")
                elif lane:
                    schedule(chat_id)

        for chat_id in lanes:
            schedule(chat_id)
        workers = [asyncio.create_task(worker()) for _ in range(min(self.concurrency, len(lanes)))]
        try:
            await all_done.wait()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            now = time.monotonic()
            for chat_id in [c for c, t in self._chat_ready_at.items() if t <= now]:
                del self._chat_ready_at[chat_id]

    async def _deliver(self, row: dict[str, Any], report: BroadcastReport) -> str:
        """Send one row with retries; returns the outcome ``sent``, ``failed`` or ``blocked``."""
        key, chat_id = row["key"], int(row["chat_id"])
        attempt = 0
        uncertain = False  # the previous attempt may have reached Telegram (timeout): the row stays sending
        while True:
            slot = await self.window.acquire()
            try:
                if uncertain:
                    await self.writer.run(self.store.retry_sending, key, "retrying after a network error")
                elif not await self.writer.run(self.store.mark_sending, key):
                    slot.done()
                    logger.warning("delivery %s: no longer queued, left alone", key)
                    return "skipped"
                try:
                    message = await self.bot.send_message(chat_id, row["text"],
                                                          request_timeout=self.request_timeout)
                finally:
                    slot.done()
                    self._chat_ready_at[chat_id] = time.monotonic() + self.per_chat_interval
            except TelegramRetryAfter as error:
                self.window.pause(error.retry_after)
                await self.writer.run(self.store.mark_queued, key, f"429 retry after {error.retry_after}s")
                delay, uncertain, reason = float(error.retry_after), False, "429"
            except TelegramForbiddenError as error:
                await self.writer.run(self.store.mark_blocked, key, error.message)
                logger.info("delivery %s: chat %s blocked the bot", key, chat_id)
                await self._blocked(chat_id)
                return "blocked"
            except TelegramServerError as error:
                await self.writer.run(self.store.mark_queued, key, f"5xx: {error.message}")
                delay, uncertain, reason = self._backoff(attempt), False, "5xx"
            except (TelegramNetworkError, TimeoutError) as error:
                delay, uncertain, reason = self._backoff(attempt), True, f"network: {error}"
            except TelegramAPIError as error:
                await self.writer.run(self.store.mark_failed, key, error.message)
                logger.warning("delivery %s to chat %s failed: %s", key, chat_id, error.message)
                report.errors[error.message] = report.errors.get(error.message, 0) + 1
                return "failed"
            else:
                await self.writer.run(self.store.mark_sent, key, message.message_id)
                return "sent"
            attempt += 1
            if attempt > self.max_retries:
                await self.writer.run(self.store.mark_failed, key, f"gave up after {attempt} attempts: {reason}")
                logger.warning("delivery %s to chat %s failed after %d attempts: %s", key, chat_id, attempt, reason)
                report.errors[reason] = report.errors.get(reason, 0) + 1
                return "failed"
            logger.info("delivery %s: %s, retry %d/%d in %.1fs", key, reason, attempt, self.max_retries, delay)
            await asyncio.sleep(delay)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff_max, self.backoff_base * 2**attempt))

    async def _blocked(self, chat_id: int) -> None:
        if self.on_blocked is None:
            return
        try:
            result = self.on_blocked(chat_id)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.exception("on_blocked(%s) failed", chat_id)
