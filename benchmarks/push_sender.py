"""The sender process of benchmarks/push.py: queue the synthetic digests in the outbox and drain it with the
delivery worker, under the "primary" lease (as `wanqi policies digest` does when no `wanqi run` holds it).

    .venv/bin/python benchmarks/push_sender.py --url http://127.0.0.1:P --db push.db --count 10000 --rate 30

Run again with the same arguments after a kill -9 and it finishes the job (same keys, same database).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from appeals.ports import Outgoing
from bot.delivery import Call, DeliveryWorker
from storage.db import Writer, open_db
from storage.leases import PRIMARY, Leases, holder_is_dead, new_holder_id
from storage.outbox import Outbox

BODY = (
    "【政策精准推送·样例数据】\n"
    "1. 示例：高新技术企业认定奖补（符合：高新技术企业 · 端州区 · 制造业）申报截止 12月15日\n"
    "2. 示例：中小企业数字化转型专项资金（符合：小型 · 信息传输、软件和信息技术服务业）\n"
    "3. 示例：稳岗返还（符合：全部企业）\n"
    "回复 /policies 查看全部匹配政策，/unsubscribe 退订每周推送。"
)
FIRST_CHAT = 700_000_000


def digests(count: int, repeats: int, week: str = "2026-W48") -> list[Outgoing]:
    """``count`` digests to ``count`` chats, plus ``repeats`` chats that get two more messages each."""
    items = []
    for n in range(count):
        key = f"digest:{week}:user:{FIRST_CHAT + n}"
        items.append(Outgoing(FIRST_CHAT + n, "digest", {"text": f"{key}\n{BODY}",
                                                         "meta": {"policies": ["P-001", "P-002", "P-003"]}},
                              enterprise_id=n + 1, week=week, dedupe=key))
    for n in range(repeats):
        for extra in (2, 3):
            key = f"notice:{week}:user:{FIRST_CHAT + n}:{extra}"
            items.append(Outgoing(FIRST_CHAT + n, "text", {"text": f"{key}\n{BODY}"}, enterprise_id=n + 1,
                                  week=week, dedupe=key))
    return items


def render(row: dict[str, object]) -> list[Call]:
    return [Call("message", str(row["payload"]["text"]))]  # type: ignore[index]


async def run(args: argparse.Namespace) -> None:
    db = open_db(args.db)
    outbox, leases, holder = Outbox(db), Leases(db), new_holder_id()
    while not leases.acquire(PRIMARY, holder, 30, time.time()):  # a killed sender's lease: taken over at once
        other = leases.holder(PRIMARY, time.time())
        if other and holder_is_dead(other) and leases.take_over(PRIMARY, other, holder, 30, time.time()):
            break
        await asyncio.sleep(1)
    queued = outbox.add(digests(args.count, args.repeats))  # idempotent: a restart queues nothing twice
    writer = Writer()
    session = AiohttpSession(api=TelegramAPIServer.from_base(args.url))

    async def keep() -> None:
        while True:
            await asyncio.sleep(10)
            await writer.run(leases.acquire, PRIMARY, holder, 30, time.time())

    async with Bot("123456:BENCHMARK", session=session) as bot:
        worker = DeliveryWorker(bot, outbox, writer, render, messages_per_second=args.rate,
                                per_chat_interval=args.per_chat_interval, progress_every=args.progress_every)
        keeper = asyncio.create_task(keep())
        started = time.time()
        report = await worker.drain()
        keeper.cancel()
    await writer.run(leases.release, PRIMARY, holder)
    writer.close()
    print(json.dumps({"sent": report.sent, "failed": report.failed, "blocked": report.blocked, "queued": queued,
                      "recovered": report.recovered, "retried": report.retried, "started": started,
                      "elapsed": report.elapsed, "rate": report.rate}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rate", type=float, default=30)
    parser.add_argument("--per-chat-interval", type=float, default=1.0)
    parser.add_argument("--progress-every", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiogram").setLevel(logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
