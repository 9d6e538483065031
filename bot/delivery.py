"""The one delivery worker: drains the outbox through the Bot API, within Telegram's limits, once per row.

Every outgoing message (acknowledgements, cards, notices, 督办 alerts, digests, broadcasts) is an
outbox row; only the holder of the "primary" lease runs this worker, so there is one sender and one
rate limiter per database. Rows are rendered at send time by ``render(row)`` from their stored
payload, in the recipient's language.

Order. Each chat is a lane: its rows go out in id order (the order of the events), one at a time; a
row waiting for a retry holds back the later rows of its chat, never other chats. Between chats,
people's conversations (acknowledgements, cards, notices, alerts) go before bulk sends (the weekly
digest, broadcasts): an appeal filed during a 10,000-chat push gets its number at once, not after it.

Limits (Telegram: ~30 messages/s overall, 1/s per chat). The overall limit is a sliding window over
request *completions*: request k+N starts only after request k has completed and a full period has
passed, so whatever the latency, the server never sees more than N in any period. A chat's next
message starts a full interval after its previous one completed; a restarted worker first waits
until the last recorded send is a full period old (no burst across a crash).

Failures. 429 pauses everything for ``retry_after`` and retries the row; 5xx, timeouts, network
errors and undecodable answers (an HTML 502 page) retry with bounded exponential back-off; 403
marks the user inactive and stops every unsent row of that chat; 400 (and other 4xx) is a bug: the
row fails, the log names its template, and supervisors are told once per template. Error texts are
stored and logged with the bot token redacted, never with the message text.

The crash window. A row is committed as ``sending`` just before its HTTP call and ``sent`` right
after it. A row still ``sending`` after a kill -9 is ambiguous (the Bot API has no idempotency key):
it is resent (``resend_uncertain=True``), because a missed notice costs more than a repeated one;
``benchmarks/push.py`` measures how rare that is. State changes are group-committed so a ``sent``
mark never queues behind a train of others on the writer thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup, Message

from storage.db import Writer
from storage.outbox import Outbox, epoch
from storage.redact import redact

logger = logging.getLogger(__name__)

_SLACK = 0.002  # seconds added to every computed wait: timers may fire a hair early
# Never claim more than this before the turn: while the writer stalls (a checkpoint, a slow fsync), sends
# claimed in advance would go out and pile up between "Telegram accepted" and "we committed".
_MAX_EARLY_CLAIM = 0.010
_BATCH = 2000  # rows read from the outbox at a time
BULK_KINDS = frozenset({"digest", "broadcast"})  # sent when no conversation's message is waiting


class _Ready:
    """The chats whose next row may go now, conversations first, each kind in the order it became ready."""

    def __init__(self) -> None:
        self._now: deque[int] = deque()
        self._bulk: deque[int] = deque()
        self._added = asyncio.Event()

    def put(self, chat_id: int, bulk: bool) -> None:
        (self._bulk if bulk else self._now).append(chat_id)
        self._added.set()

    async def get(self) -> int:
        while not (self._now or self._bulk):
            self._added.clear()
            await self._added.wait()
        return (self._now or self._bulk).popleft()


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API call a row renders to: a text (with buttons on it), a photo or a document."""

    method: str  # message | photo | document
    text: str = ""
    markup: InlineKeyboardMarkup | None = None
    file_id: str = ""


Render = Callable[[dict[str, Any]], Sequence[Call]]
OnBug = Callable[[dict[str, Any], str], Awaitable[Any]]


@dataclass(slots=True)
class DeliveryReport:
    """What one run of the worker did."""

    sent: int = 0
    failed: int = 0
    blocked: int = 0
    retried: int = 0
    recovered: int = 0
    elapsed: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Rows sent per second of the run."""
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


class _Journal:
    """Group commit: the state changes asked for while a commit runs go together into the next one."""

    def __init__(self, writer: Writer, outbox: Outbox) -> None:
        self.writer = writer
        self.outbox = outbox
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
                results = await self.writer.run(self.outbox.apply, [(op, args) for op, args, _ in batch])
            except Exception as error:  # the whole batch rolled back: every caller hears of it
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, _, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


class _NotQueued(Exception):
    """The row was not in ``queued`` when this worker tried to claim it."""


class DeliveryWorker:
    """Sends the outbox's rows once each, in order per chat, within Telegram's limits."""

    def __init__(
        self, bot: Bot, outbox: Outbox, writer: Writer, render: Render, *, messages_per_second: float = 30,
        per_chat_interval: float = 1.0, max_attempts: int = 50, backoff_base: float = 0.5,
        backoff_max: float = 60.0, resend_uncertain: bool = True, request_timeout: int = 15,
        concurrency: int | None = None, poll_interval: float = 1.0, on_bug: OnBug | None = None,
        progress_every: int = 1000,
    ) -> None:
        self.bot = bot
        self.outbox = outbox
        self.writer = writer
        self.render = render
        self.per_chat_interval = per_chat_interval
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.resend_uncertain = resend_uncertain
        self.request_timeout = request_timeout
        self.poll_interval = poll_interval
        self.on_bug = on_bug
        self.progress_every = max(1, progress_every)
        self.concurrency = concurrency or min(100, max(2, 2 * int(messages_per_second)))
        self.window = SlidingWindow(messages_per_second)
        self._chat_ready_at: dict[int, float] = {}
        self._journal = _Journal(writer, outbox)
        self._claim_time = 0.002  # running estimate of one claim commit, seconds
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()  # one run at a time per worker

    def close(self) -> None:
        """Release the writer thread and the connection this worker was given."""
        self.writer.close()
        self.outbox.db.close()

    def wake(self) -> None:
        """New rows were committed: look at once instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the sends in flight, start no new one, and let :meth:`run` return (a clean shutdown
        leaves no row in ``sending``, so a restart resends nothing)."""
        self._stopping.set()
        self._wake.set()

    async def drain(self) -> DeliveryReport:
        """Send everything queued (retries included) and return when nothing is left to send."""
        return await self.run(until_idle=True)

    async def run(self, *, until_idle: bool = False) -> DeliveryReport:
        """Deliver until cancelled (``until_idle``: until the outbox has nothing left to send)."""
        async with self._lock:
            self._stopping.clear()
            report = DeliveryReport()
            started = time.monotonic()
            try:
                report.recovered = await self._recover()
                await self._after_restart()
                await self._loop(report, until_idle)
            finally:
                report.elapsed = time.monotonic() - started
                if report.sent or report.failed or report.blocked:
                    logger.info("delivery: sent=%d failed=%d blocked=%d retried=%d in %.1fs (%.1f msg/s)",
                                report.sent, report.failed, report.blocked, report.retried, report.elapsed,
                                report.rate)
            return report

    async def _recover(self) -> int:
        """Rows a stopped worker left in ``sending``: resent or failed, per ``resend_uncertain``."""
        note = "uncertain after a stop: " + ("resent" if self.resend_uncertain else "not resent")
        count: int = await self.writer.run(self.outbox.release_in_flight, resend=self.resend_uncertain, note=note)
        if count:
            logger.warning("delivery: %d messages were in flight when the last worker stopped; %s", count, note)
        return count

    async def _after_restart(self) -> None:
        """A fresh worker knows nothing of the sends just before it: wait until they are a full period old."""
        if self._chat_ready_at or self.window.busy:
            return
        last = await self.writer.run(self.outbox.last_activity)
        if last is not None:
            wait = last + max(self.window.period, self.per_chat_interval) - time.time()
            if wait > 0:
                await asyncio.sleep(min(wait, 5.0) + _SLACK)

    async def _loop(self, report: DeliveryReport, until_idle: bool) -> None:
        lanes: dict[int, deque[dict[str, Any]]] = {}
        active: set[int] = set()  # chats that are ready, waiting for their turn, or being sent
        ready = _Ready()
        loop = asyncio.get_running_loop()
        cursor = 0
        idle = asyncio.Event()
        in_flight = 0
        quiet = asyncio.Event()

        def put(chat_id: int) -> None:
            ready.put(chat_id, bulk=lanes[chat_id][0]["kind"] in BULK_KINDS)

        def schedule(chat_id: int, not_before: float = 0.0) -> None:
            active.add(chat_id)
            delay = max(self._chat_ready_at.get(chat_id, 0.0) - time.monotonic(), not_before - epoch())
            if delay > 0:
                loop.call_later(delay + _SLACK, put, chat_id)
            else:
                put(chat_id)

        async def sender() -> None:
            nonlocal in_flight
            while not self._stopping.is_set():
                # The turn first, then the chat: whichever chat is most urgent when a slot comes up gets it,
                # so a conversation never queues behind bulk rows already picked while waiting for the window.
                slot = await self.window.acquire()
                try:
                    await self.window.turn(slot, early=min(self._claim_time, _MAX_EARLY_CLAIM))
                    chat_id = await ready.get()
                    if self._stopping.is_set():
                        return
                    lane = lanes[chat_id]
                    in_flight += 1
                    try:
                        outcome, retry_at = await self._deliver(lane[0], report, slot)
                    finally:
                        in_flight -= 1
                        if in_flight == 0:
                            quiet.set()
                finally:
                    slot.done()  # a no-op once the row's call used it; frees a turn no call took
                if outcome == "blocked":
                    report.blocked += len(lane) - 1  # block_chat stopped the rest of the chat in the database
                    lane.clear()
                elif outcome != "retry":
                    lane.popleft()
                if lane:
                    schedule(chat_id, retry_at if outcome == "retry" else float(lane[0]["next_attempt_at"] or 0))
                else:
                    active.discard(chat_id)
                    del lanes[chat_id]
                    if not active:
                        idle.set()
                done = report.sent + report.failed + report.blocked
                if outcome == "sent" and done % self.progress_every == 0:
                    logger.info("delivery progress: sent=%d failed=%d blocked=%d", report.sent, report.failed,
                                report.blocked)

        senders: list[asyncio.Task[None]] = []
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                idle.clear()
                rows = await self.writer.run(self.outbox.pending, cursor, _BATCH)
                for row in rows:
                    cursor = max(cursor, int(row["id"]))
                    chat_id = int(row["chat_id"])
                    lanes.setdefault(chat_id, deque()).append(row)
                    if chat_id not in active:
                        schedule(chat_id, float(row["next_attempt_at"] or 0))
                while len(senders) < min(self.concurrency, len(active)):  # as many as there are chats to serve
                    senders.append(asyncio.create_task(sender()))
                if len(rows) == _BATCH:
                    continue
                if until_idle and not rows and not active:
                    return
                waiters = [asyncio.create_task(self._wake.wait())]
                if until_idle:
                    waiters.append(asyncio.create_task(idle.wait()))
                await asyncio.wait([*waiters, *senders], timeout=self.poll_interval,
                                   return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
                for task in senders:
                    if task.done() and not task.cancelled() and (error := task.exception()) is not None:
                        raise error  # e.g. the database failed: stop here, the rows stay for the next run
            while in_flight:  # stopping: let the sends under way finish and be recorded
                quiet.clear()
                await asyncio.wait_for(quiet.wait(), self.request_timeout + 5)
        finally:
            for task in senders:
                task.cancel()
            await asyncio.gather(*senders, return_exceptions=True)
            now = time.monotonic()
            for chat_id in [c for c, t in self._chat_ready_at.items() if t <= now]:
                del self._chat_ready_at[chat_id]

    async def _deliver(self, row: dict[str, Any], report: DeliveryReport, slot: _Slot | None = None
                       ) -> tuple[str, float]:
        """One attempt at a row: ``sent``, ``failed``, ``blocked``, ``skipped``, or ``retry`` at an epoch time.

        ``slot``: the window's turn already reserved for its first call."""
        row_id, chat_id, kind = int(row["id"]), int(row["chat_id"]), str(row["kind"])
        try:
            calls = list(self.render(row))
        except Exception as error:  # a template that cannot render is a bug, like a 400
            return await self._failed(row, f"render: {type(error).__name__}: {error}", report), 0.0
        uncertain = bool(row.get("_uncertain"))
        try:
            message = None
            start = int(row.get("_parts_sent", 0))
            for i, call in enumerate(calls[start:], start):
                message = await self._attempt(row_id, chat_id, call, claim=i == start, uncertain=uncertain,
                                              slot=slot if i == start else None)
                row["_parts_sent"] = i + 1
                uncertain = False
        except _NotQueued:
            logger.warning("delivery %s: no longer queued, left alone", row_id)
            return "skipped", 0.0
        except TelegramRetryAfter as error:
            self.window.pause(error.retry_after)
            return await self._retry(row, f"429 retry after {error.retry_after}s", report,
                                     delay=float(error.retry_after)), 0.0
        except TelegramForbiddenError as error:
            await self._journal("block_chat", chat_id, self._clean(error.message))
            logger.info("delivery %s: chat %s blocked the bot; marked inactive", row_id, chat_id)
            report.blocked += 1
            return "blocked", 0.0
        except (TelegramServerError, ClientDecodeError) as error:
            return await self._retry(row, f"{type(error).__name__}: {self._clean(str(error))}", report), 0.0
        except (TelegramNetworkError, TimeoutError) as error:
            row["_uncertain"] = True  # it may have reached Telegram: the row stays 'sending'
            return await self._retry(row, f"network: {self._clean(str(error))}", report, in_flight=True), 0.0
        except TelegramAPIError as error:
            return await self._failed(row, self._clean(error.message), report), 0.0
        except Exception as error:  # anything else from the HTTP stack: retried, never a crashed worker
            logger.exception("delivery %s (%s): unexpected error", row_id, kind)
            return await self._retry(row, f"{type(error).__name__}: {self._clean(str(error))}", report), 0.0
        row.pop("_uncertain", None)
        await self._journal("mark_sent", row_id, message.message_id if isinstance(message, Message) else None)
        report.sent += 1
        return "sent", 0.0

    async def _retry(self, row: dict[str, Any], reason: str, report: DeliveryReport, *, delay: float | None = None,
                     in_flight: bool = False) -> str:
        """Schedule another attempt (bounded back-off), or give up after ``max_attempts``."""
        row_id = int(row["id"])
        row["attempts"] = int(row.get("attempts") or 0) + 1
        if row["attempts"] >= self.max_attempts:
            return await self._failed(row, f"gave up after {row['attempts']} attempts: {reason}", report, bug=False)
        if delay is None:
            delay = min(self.backoff_max, self.backoff_base * 2 ** (row["attempts"] - 1))
        row["next_attempt_at"] = epoch() + delay
        report.retried += 1
        report.errors[reason.split(":")[0]] = report.errors.get(reason.split(":")[0], 0) + 1
        if not in_flight:
            await self._journal("mark_retry", row_id, reason, row["next_attempt_at"])
        logger.info("delivery %s (%s): %s; retry %d in %.1fs", row_id, row["kind"], reason, row["attempts"], delay)
        return "retry"

    async def _failed(self, row: dict[str, Any], reason: str, report: DeliveryReport, *, bug: bool = True) -> str:
        await self._journal("mark_failed", int(row["id"]), reason)
        report.failed += 1
        report.errors[reason[:60]] = report.errors.get(reason[:60], 0) + 1
        if bug:
            logger.error("delivery %s: template %r to chat %s refused: %s", row["id"], row["kind"], row["chat_id"],
                         reason)
            if self.on_bug is not None:
                try:
                    await self.on_bug(row, reason)
                except Exception:
                    logger.exception("reporting the failed template %r failed", row["kind"])
        else:
            logger.warning("delivery %s (%s) to chat %s: %s", row["id"], row["kind"], row["chat_id"], reason)
        return "failed"

    async def _attempt(self, row_id: int, chat_id: int, call: Call, *, claim: bool, uncertain: bool,
                       slot: _Slot | None = None) -> Any:
        """One HTTP call inside the window; the row is claimed (committed) before its first call starts."""
        wait = self._chat_ready_at.get(chat_id, 0.0) - time.monotonic()
        if not claim and wait > 0:  # the next part of a long message: the chat's interval still applies
            await asyncio.sleep(wait + _SLACK)
        if slot is None:
            slot = await self.window.acquire()
        try:
            if claim:
                # Claim just before the turn, early by about one commit, so the commit overlaps the wait
                # instead of slowing the rate, and rows in 'sending' are only the few in flight.
                await self.window.turn(slot, early=min(self._claim_time, _MAX_EARLY_CLAIM))
                claimed = time.monotonic()
                if uncertain:
                    await self._journal("retry_sending", row_id, "retrying after a network error")
                elif not await self._journal("claim", row_id):
                    raise _NotQueued(row_id)
                self._claim_time = 0.8 * self._claim_time + 0.2 * min(0.5, time.monotonic() - claimed)
            await self.window.turn(slot)
            try:
                return await self._send(chat_id, call)
            finally:
                self._chat_ready_at[chat_id] = time.monotonic() + self.per_chat_interval
        finally:
            slot.done()

    async def _send(self, chat_id: int, call: Call) -> Any:
        timeout = self.request_timeout
        if call.method == "photo":
            return await self.bot.send_photo(chat_id, call.file_id, caption=call.text or None,
                                             request_timeout=timeout)
        if call.method == "document":
            return await self.bot.send_document(chat_id, call.file_id, caption=call.text or None,
                                                request_timeout=timeout)
        return await self.bot.send_message(chat_id, call.text, reply_markup=call.markup, request_timeout=timeout)

    def _clean(self, text: str) -> str:
        return redact(text, self.bot.token)
