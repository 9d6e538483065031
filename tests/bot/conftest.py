from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from demo.standin import BotAPIStandin
from tests.bot.harness import TOKEN, Harness, build_harness


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = build_harness(tmp_path)
    yield harness
    await harness.app.close()


@pytest.fixture
async def api() -> AsyncIterator[BotAPIStandin]:
    """The Bot API stand-in on 127.0.0.1."""
    async with BotAPIStandin() as standin:
        yield standin


@pytest.fixture
async def bot(api: BotAPIStandin) -> AsyncIterator[Bot]:
    """A real aiogram Bot talking HTTP to the stand-in."""
    async with Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))) as real:
        yield real
