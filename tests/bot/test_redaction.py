"""The bot token never reaches a stored error or a log line, even when the HTTP library quotes the URL."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from appeals.ports import Outgoing
from bot.delivery import Call, DeliveryWorker
from storage.db import Writer, open_db
from storage.outbox import Outbox
from storage.redact import RedactingFilter, redact

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"  # the shape BotFather issues (made up)


@pytest.fixture
async def redirecting() -> AsyncIterator[str]:
    """An HTTP server on 127.0.0.1 that answers every request with a redirect to itself."""

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(request.rel_url))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", loop)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_too_many_redirects_is_stored_and_logged_without_the_token(
    redirecting: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RedactingFilter(TOKEN))
    db = open_db(tmp_path / "wanqi.db")
    writer = Writer()
    session = AiohttpSession(api=TelegramAPIServer.from_base(redirecting))
    try:
        async with Bot(TOKEN, session=session) as bot:
            Outbox(db).add([Outgoing(7, "digest", {"text": "本周政策"}, dedupe="digest:2026-W48:user:7")])
            sender = DeliveryWorker(bot, Outbox(db), writer, lambda row: [Call("message", row["payload"]["text"])],
                                    max_attempts=2, backoff_base=0.01, per_chat_interval=0.01)
            with caplog.at_level(logging.INFO):
                report = await sender.drain()
    finally:
        writer.close()
    row = next(iter(db.query("SELECT status, last_error FROM outbox")))
    assert row["status"] == "failed" and "Redirect" in row["last_error"]  # the reason is kept, the secret is not
    assert TOKEN not in row["last_error"] and TOKEN.split(":")[1] not in row["last_error"]
    assert caplog.records and all(TOKEN.split(":")[1] not in r.getMessage() for r in caplog.records)
    assert all(TOKEN not in reason for reason in report.errors)
    db.conn.close()


def test_redact_masks_any_token_shaped_secret_and_named_ones() -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    assert redact(url) == "https://api.telegram.org/bot<token>/sendMessage"
    assert redact("short 42:TEST-TOKEN", "42:TEST-TOKEN") == "short <token>"
    assert redact("ZQ20261125-0001 at 10:30") == "ZQ20261125-0001 at 10:30"
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "failed: %s", (url,), None)
    assert RedactingFilter().filter(record) and TOKEN not in record.getMessage()
