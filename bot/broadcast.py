"""Exactly-once, rate-limited pushes (the weekly policy digest) through the Bot API.

Each message has a delivery key. ``Broadcaster.send(items)`` queues the items (a known key is never
queued twice) and then sends every queued row, recording ``sending`` (committed) just before the HTTP
call and ``sent`` right after it, so a restart after a crash sends what was left and nothing twice.

The crash window. A row still in ``sending`` after a kill -9 is ambiguous: Telegram may or may not
have received it, and the Bot API has no idempotency key to ask. Policy: such rows are resent
(``resend_uncertain=True``, the default) because a missed deadline reminder costs an enterprise more
than a repeated one; with ``False`` they are marked failed for a supervisor instead. The window is
kept small: a row is claimed just before its rate-limit turn (early by about one commit), so
``sending`` covers one commit, one HTTP round trip and one commit; state changes are group-committed
so a ``sent`` mark never queues behind others on the writer thread. A duplicate needs the kill to
land between Telegram accepting the message and our ``sent`` commit (benchmarks/push.py measures it).

Limits (Telegram: ~30 messages/s overall, 1/s per chat). The overall limit is a sliding window over
request *completions*: the request k+N starts only after request k has completed and a full period
has passed, so whatever the latency and jitter, the server never sees more than N in any period.
A chat's next message starts a full interval after its previous one completed; a restarted sender
first waits until the last recorded send is a full period old (no burst across a crash). Enough requests run
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
from aiogram.types import Message

from storage.db import Writer
from storage.deliveries import FINAL, DeliveryStore
from storage.redact import redact

logger = logging.getLogger(__name__)

OnBlocked = Callable[[int], Awaitable[Any] | Any]
_SLACK = 0.002  # seconds added to every computed wait: timers may fire a hair early
# Never claim more than this before the turn: while the writer stalls (a checkpoint, a slow fsync), sends
# claimed in advance would go out and pile up between "Telegram accepted" and "we committed".
_MAX_EARLY_CLAIM = 0.010


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
    """One request's place in the sliding window: it may start at ``not_before``; ``done()`` when answered."""

    __slots__ = ("end", "finished", "not_before")

    def __init__(self, not_before: float) -> None:
        self.not_before = not_before
        self.end = 0.0
        self.finished = asyncio.Event()

    def done(self) -> None:
        if not self.finished.is_set():
            self.end = time.monotonic()
            self.finished.set()


class SlidingWindow:
    """At most ``rate`` requests per ``period`` as the server sees them, whatever the latency.

    Request k+N may start only a full period after request k was answered: its arrival at the
    server lies between its start and its answer, so no period ever holds more than N arrivals.
    """

    def __init__(self, rate: float, period: float = 1.0) -> None:
        self.rate = rate
        self.size = max(1, int(rate))
        self.period = period * self.size / rate  # 2.5/s = 2 per 0.8 s
        self._recent: deque[_Slot] = deque()
        self._horizon = 0.0  # latest answer among requests older than the last size-1
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    @property
    def busy(self) -> bool:
        """True once this window has let a request through (it then knows the recent history)."""
        return bool(self._recent) or self._horizon > 0

    def pause(self, seconds: float) -> None:
        """Nobody starts for ``seconds`` (Telegram said 429)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire(self) -> _Slot:
        """Reserve the next slot; ``await turn(slot)`` right before the request, ``slot.done()`` after it."""
        async with self._lock:
            while len(self._recent) >= self.size:
                oldest = self._recent[0]
                await oldest.finished.wait()
                self._recent.popleft()
                self._horizon = max(self._horizon, oldest.end)
            slot = _Slot(self._horizon + self.period)
            self._recent.append(slot)
            return slot

    async def turn(self, slot: _Slot, *, early: float = 0.0) -> None:
        """Wait until ``early`` seconds before the slot may start (and any 429 pause is over)."""
        while (wait := max(slot.not_before, self._paused_until) - early - time.monotonic()) > 0:
            await asyncio.sleep(wait + _SLACK)


@dataclass
class _Shared:
    """What every Broadcaster on one database shares: one send at a time, the window, chats' next turn."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    window: SlidingWindow | None = None
    chat_ready_at: dict[int, float] = field(default_factory=dict)


_SHARED: weakref.WeakKeyDictionary[Any, _Shared] = weakref.WeakKeyDictionary()


class _Journal:
    """Group commit: the state changes asked for while a commit runs go together into the next one.

    Each caller still waits for its own change to be committed; the writer thread does one commit
    per batch instead of one per change, so a ``sent`` mark does not queue behind a train of them.
    """

    def __init__(self, writer: Writer, store: DeliveryStore) -> None:
        self.writer = writer
        self.store = store
        self._queue: list[tuple[str, tuple[Any, ...], asyncio.Future[Any]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def __call__(self, op: str, *args: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((op, args, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                results = await self.writer.run(self.store.apply, [(op, args) for op, args, _ in batch])
            except Exception as error:  # the whole batch rolled back: every caller hears of it
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, _, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


class _NotQueued(Exception):
    """The row was not in ``queued`` when this sender tried to claim it."""


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
        self._journal = _Journal(writer, store)
        self._claim_time = 0.002  # running estimate of one claim commit, seconds

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
            await self._after_restart()
            pending = await self.writer.run(self.store.pending)
            if pending:
                logger.info("broadcast: %d to send (%d skipped as already done)", len(pending), report.skipped)
                await self._send_all(pending, report)
            report.elapsed = time.monotonic() - started
            logger.info("broadcast done: sent=%d failed=%d blocked=%d skipped=%d in %.1fs (%.1f msg/s)",
                        report.sent, report.failed, report.blocked, report.skipped, report.elapsed, report.rate)
            return report

    async def _after_restart(self) -> None:
        """A fresh process knows nothing of the sends just before it: wait until they are a full period old."""
        if self._chat_ready_at or self.window.busy:
            return
        last = await self.writer.run(self.store.last_activity)
        if last is not None:
            wait = last + max(self.window.period, self.per_chat_interval) - time.time()
            if wait > 0:
                await asyncio.sleep(wait + _SLACK)

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
                        await self._journal("mark_blocked", row["key"])
                        finished("blocked")
                elif lane:
                    schedule(chat_id)

        for chat_id in lanes:
            schedule(chat_id)
        workers = [asyncio.create_task(worker()) for _ in range(min(self.concurrency, len(lanes)))]
        waiter = asyncio.create_task(all_done.wait())
        try:
            await asyncio.wait([waiter, *workers], return_when=asyncio.FIRST_COMPLETED)
            for task in workers:
                error = task.exception() if task.done() and not task.cancelled() else None
                if error is not None:
                    raise error  # e.g. the database failed: stop here, the rows stay for the next run
        finally:
            waiter.cancel()
            for task in workers:
                task.cancel()
            await asyncio.gather(waiter, *workers, return_exceptions=True)
            now = time.monotonic()
            for chat_id in [c for c, t in self._chat_ready_at.items() if t <= now]:
                del self._chat_ready_at[chat_id]

    async def _deliver(self, row: dict[str, Any], report: BroadcastReport) -> str:
        """Send one row with retries; returns the outcome ``sent``, ``failed`` or ``blocked``."""
        key, chat_id = row["key"], int(row["chat_id"])
        attempt = 0
        uncertain = False  # the previous attempt may have reached Telegram (timeout): the row stays sending
        while True:
            try:
                message = await self._attempt(key, chat_id, row["text"], uncertain=uncertain)
            except _NotQueued:
                logger.warning("delivery %s: no longer queued, left alone", key)
                return "skipped"
            except TelegramRetryAfter as error:
                self.window.pause(error.retry_after)
                await self._journal("mark_queued", key, f"429 retry after {error.retry_after}s")
                delay, uncertain, reason = float(error.retry_after), False, "429"
            except TelegramForbiddenError as error:
                await self._journal("mark_blocked", key, error.message)
                logger.info("delivery %s: chat %s blocked the bot", key, chat_id)
                await self._blocked(chat_id)
                return "blocked"
            except TelegramServerError as error:
                await self._journal("mark_queued", key, f"5xx: {error.message}")
                delay, uncertain, reason = self._backoff(attempt), False, "5xx"
            except (TelegramNetworkError, TimeoutError) as error:
                # the text of a redirect or connection error holds the request URL, and so the token
                reason = f"network: {redact(str(error), self.bot.token)}"
                delay, uncertain = self._backoff(attempt), True
            except TelegramAPIError as error:
                await self._journal("mark_failed", key, error.message)
                logger.warning("delivery %s to chat %s failed: %s", key, chat_id, error.message)
                report.errors[error.message] = report.errors.get(error.message, 0) + 1
                return "failed"
            else:
                await self._journal("mark_sent", key, message.message_id)
                return "sent"
            attempt += 1
            if attempt > self.max_retries:
                await self._journal("mark_failed", key, f"gave up after {attempt} attempts: {reason}")
                logger.warning("delivery %s to chat %s failed after %d attempts: %s", key, chat_id, attempt, reason)
                report.errors[reason] = report.errors.get(reason, 0) + 1
                return "failed"
            logger.info("delivery %s: %s, retry %d/%d in %.1fs", key, reason, attempt, self.max_retries, delay)
            await asyncio.sleep(delay)

    async def _attempt(self, key: str, chat_id: int, text: str, *, uncertain: bool) -> Message:
        """One HTTP attempt inside the window; the row is claimed (committed) before it starts."""
        slot = await self.window.acquire()
        try:
            # Claim the row just before its turn, early by about one commit, so the commit overlaps the
            # wait instead of slowing the rate, and rows in 'sending' are only the few in flight.
            await self.window.turn(slot, early=min(self._claim_time, _MAX_EARLY_CLAIM))
            claimed = time.monotonic()
            if uncertain:
                await self._journal("retry_sending", key, "retrying after a network error")
            elif not await self._journal("mark_sending", key):
                raise _NotQueued(key)
            self._claim_time = 0.8 * self._claim_time + 0.2 * min(0.5, time.monotonic() - claimed)
            await self.window.turn(slot)
            try:
                return await self.bot.send_message(chat_id, text, request_timeout=self.request_timeout)
            finally:
                self._chat_ready_at[chat_id] = time.monotonic() + self.per_chat_interval
        finally:
            slot.done()

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
