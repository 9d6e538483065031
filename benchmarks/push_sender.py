"""The sender process of benchmarks/push.py: queue the synthetic digests and send them through the broadcaster.

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
from bot.broadcast import Broadcaster, Outgoing
from storage.deliveries import DeliveryStore

from storage.db import Writer, open_db

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
    items = [Outgoing(key=f"digest:{week}:user:{FIRST_CHAT + n}", chat_id=FIRST_CHAT + n,
                      text=f"digest:{week}:user:{FIRST_CHAT + n}\n{BODY}", enterprise_id=n + 1,
                      meta={"policies": ["P-001", "P-002", "P-003"]}, week=week)
             for n in range(count)]
    for n in range(repeats):
        for extra in (2, 3):
            key = f"notice:{week}:user:{FIRST_CHAT + n}:{extra}"
            items.append(Outgoing(key=key, chat_id=FIRST_CHAT + n, text=f"{key}\n{BODY}", kind="notice",
                                  enterprise_id=n + 1, week=week))
    return items


async def run(args: argparse.Namespace) -> None:
    db = open_db(args.db)
    if args.sync_normal:  # WAL + NORMAL: no fsync per commit; still durable across a process crash
        db.execute("PRAGMA synchronous = NORMAL")
    writer = Writer()
    session = AiohttpSession(api=TelegramAPIServer.from_base(args.url))
    async with Bot("123456:BENCHMARK", session=session) as bot:
        broadcaster = Broadcaster(bot, DeliveryStore(db), writer, messages_per_second=args.rate,
                                  per_chat_interval=args.per_chat_interval, progress_every=args.progress_every)
        started = time.time()
        report = await broadcaster.send(digests(args.count, args.repeats))
    writer.close()
    print(json.dumps({"sent": report.sent, "failed": report.failed, "blocked": report.blocked,
                      "skipped": report.skipped, "recovered": report.recovered, "started": started,
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
    parser.add_argument("--sync-normal", action="store_true", help="PRAGMA synchronous=NORMAL (default: FULL)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiogram").setLevel(logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
