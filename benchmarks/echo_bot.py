"""The floor to compare `wanqi run` with: a plain aiogram 3 echo bot, long polling a Bot API server.

    .venv/bin/python benchmarks/echo_bot.py --api http://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message


async def echo(message: Message) -> None:
    await message.answer(message.text or "…")


async def main(api: str) -> None:
    bot = Bot("42:ECHO", session=AiohttpSession(api=TelegramAPIServer.from_base(api)))
    dp = Dispatcher()
    dp.message.register(echo)
    await dp.start_polling(bot, polling_timeout=1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    asyncio.run(main(parser.parse_args().api))
