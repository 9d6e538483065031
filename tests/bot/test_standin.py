"""The Bot API stand-in driven by a real aiogram Bot + Dispatcher over HTTP long polling."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import Command
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from demo.standin import BotAPIStandin
from tests.bot.harness import TOKEN


def echo_router() -> Router:
    """A tiny bot: echoes text with two buttons; a button press edits the message."""
    router = Router()

    @router.message(Command("start"))
    async def start(message: Message) -> None:
        await message.answer("欢迎使用")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="确认", callback_data="ok:1"),
            InlineKeyboardButton(text="取消", callback_data="no:1"),
        ]])
        await message.answer(f"收到：{message.text}", reply_markup=keyboard)

    @router.message(F.document)
    async def document(message: Message) -> None:
        assert message.document is not None
        await message.answer(f"附件：{message.document.file_name}")

    @router.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer("已处理", show_alert=False)
        assert isinstance(query.message, Message)
        await query.message.edit_text(f"已选择 {query.data}")

    return router




@pytest.fixture
async def running(api: BotAPIStandin, bot: Bot) -> AsyncIterator[BotAPIStandin]:
    dp = Dispatcher()
    dp.include_router(echo_router())
    async with api.polling(dp, bot, polling_timeout=2):
        yield api


async def test_get_me_and_loopback_url(api: BotAPIStandin, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == int(TOKEN.split(":")[0]) and me.is_bot  # the id is the token's prefix
    assert api.base_url.startswith("http://127.0.0.1:") and api.port > 0


async def test_text_round_trip_over_long_polling(running: BotAPIStandin) -> None:
    user = running.user(42, "张三")
    await user.send("/start")
    welcome = await running.wait_for(42, contains="欢迎")
    await user.send("营业执照办理进度")
    echoed = await running.wait_for(42)
    assert echoed.text == "收到：营业执照办理进度"
    assert echoed.method == "sendMessage" and echoed.message_id > welcome.message_id
    assert echoed.buttons == [("确认", "ok:1"), ("取消", "no:1")]
    assert running.messages_to(42) == [welcome, echoed]


async def test_wait_for_does_not_return_a_message_twice(running: BotAPIStandin) -> None:
    user = running.user(7, "李四")
    await user.send("一")
    await running.wait_for(7, contains="一")
    with pytest.raises(TimeoutError, match="no new message"):
        await running.wait_for(7, contains="一", timeout=0.5)


async def test_inline_button_round_trip(running: BotAPIStandin) -> None:
    user = running.user(42, "张三")
    await user.send("hello")
    card = await running.wait_for(42, contains="hello")
    await user.press_button(card, "取消")
    edited = await running.wait_for(42, contains="已选择")
    assert edited.method == "editMessageText"
    assert edited.message_id == card.message_id and edited.text == "已选择 no:1"
    assert running.callback_answers[-1]["text"] == "已处理"
    with pytest.raises(LookupError, match="no inline buttons"):
        await user.press_button(card, "确认")  # the edit removed the keyboard, as in Telegram
    await user.send("again")
    second = await running.wait_for(42, contains="again")
    with pytest.raises(LookupError, match="'确认', '取消'"):
        await user.press_button(second, "不存在的按钮")


async def test_user_document_reaches_the_handler(running: BotAPIStandin) -> None:
    user = running.user(9, "王五")
    await user.send_document(file_name="营业执照.pdf")
    reply = await running.wait_for(9)
    assert reply.text == "附件：营业执照.pdf"


async def test_blocked_user_gives_forbidden(api: BotAPIStandin, bot: Bot) -> None:
    api.block(5)
    with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
        await bot.send_message(5, "hi")
    assert api.messages_to(5) == []


async def test_injected_429_and_5xx_become_aiogram_errors(api: BotAPIStandin, bot: Bot) -> None:
    api.fail_next(5, 429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(5, "hi")
    assert caught.value.retry_after == 3
    api.fail_next(None, 502, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(6, "hi")
    sent = await bot.send_message(5, "now it works")
    assert sent.message_id == 1 and api.messages_to(5)[0].text == "now it works"


async def test_upload_is_recorded(api: BotAPIStandin, bot: Bot) -> None:
    payload = b"x" * 1500
    message = await bot.send_document(8, BufferedInputFile(payload, filename="诉求统计.xlsx"), caption="本周统计")
    assert message.document is not None and message.document.file_name == "诉求统计.xlsx"
    recorded = api.messages_to(8)[0]
    assert (recorded.method, recorded.document, recorded.size, recorded.text) == (
        "sendDocument", "诉求统计.xlsx", 1500, "本周统计")


async def test_telegram_validation_errors(api: BotAPIStandin, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="too long"):
        await bot.send_message(1, "长" * 4097)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(1, "a < b", parse_mode="HTML")
    ok = await bot.send_message(1, "<b>粗体</b> &lt;ok&gt;", parse_mode="HTML")
    assert ok.text == "粗体 <ok>"
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="d" * 65)]])
        await bot.send_message(1, "x", reply_markup=keyboard)
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await bot.edit_message_text("粗体 <ok>", chat_id=1, message_id=ok.message_id)


async def test_commands_per_scope_and_unknown_method(api: BotAPIStandin, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand(command="queue", description="待办")], scope=BotCommandScopeChat(chat_id=77))
    assert api.commands["chat:77"] == [{"command": "queue", "description": "待办"}]
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=77))] == ["queue"]
    async with bot.session._session.post(f"{api.base_url}/bot{TOKEN}/noSuchMethod") as resp:  # type: ignore[union-attr]
        assert resp.status == 404
        assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}


async def test_enforced_limits_count_violations(bot: Bot) -> None:
    async with BotAPIStandin(enforce_limits=True, global_rate=3, per_chat_interval=1.0) as limited:
        session = AiohttpSession(api=TelegramAPIServer.from_base(limited.base_url))
        async with Bot(TOKEN, session=session) as fast:
            await fast.send_message(1, "a")
            with pytest.raises(TelegramRetryAfter):
                await fast.send_message(1, "b")  # same chat within 1 s
            await fast.send_message(2, "c")
            await fast.send_message(3, "d")
            with pytest.raises(TelegramRetryAfter):
                await fast.send_message(4, "e")  # 4th in one second
        assert limited.violations == 2 and len(limited.sent) == 3


async def test_runs_as_a_process_and_logs_sends(tmp_path: Path) -> None:
    log = tmp_path / "sent.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "demo.standin", "--port", "0", "--log", str(log)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        url = await asyncio.to_thread(proc.stdout.readline)
        assert url.startswith("http://127.0.0.1:")
        session = AiohttpSession(api=TelegramAPIServer.from_base(url.strip()))
        async with Bot(TOKEN, session=session) as remote:
            await remote.send_message(11, "周报")
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(e["chat_id"], e["text"]) for e in lines] == [(11, "周报")]
    assert abs(lines[0]["time"] - time.time()) < 60


async def test_get_chat_and_delete_message(api: BotAPIStandin, bot: Bot) -> None:
    api.user(31, "赵六")
    chat = await bot.get_chat(31)
    assert (chat.type, chat.first_name) == ("private", "赵六")
    sent = await bot.send_message(31, "临时")
    assert await bot.delete_message(31, sent.message_id)
    assert api.deleted == [(31, sent.message_id)]
    with pytest.raises(TelegramBadRequest, match="not found"):
        await bot.delete_message(31, sent.message_id)
