"""Driving the real Dispatcher with `feed_update` and a recording Bot API session (no network)."""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message, Update

from appeals.credit_code import check_char
from appeals.model import Role
from appeals.ports import CategoryScore, ClassifierUnavailable, ParseResult
from bot.app import App, build_app
from bot.callbacks import AppealCb
from config import PushSettings, Settings, load_settings
from demo.standin import APIError, _strip_html
from tests.support import ROOT

TOKEN = "42:TEST-TOKEN"
SUPERVISOR = 9001


def credit_code(seed: str = "91441200MA4W0001") -> str:
    """A syntactically valid code (17 characters + computed check character)."""
    first = (seed + "0" * 17)[:17]
    return first + check_char(first)


@dataclass
class Sent:
    method: str
    chat_id: int | None
    text: str
    markup: dict[str, Any] | None
    message_id: int = 0

    @property
    def buttons(self) -> list[tuple[str, str]]:
        rows = (self.markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    def data(self, label: str) -> str:
        """The callback data of the button whose text is exactly ``label`` (or contains it)."""
        exact = [d for t, d in self.buttons if t == label]
        near = [d for t, d in self.buttons if label in t]
        if not (exact or near):
            raise LookupError(f"no button {label!r} in {self.buttons}")
        return (exact or near)[0]


def _check_like_telegram(bot: Bot, method: TelegramMethod[Any], text: str) -> None:
    """Refuse what Telegram refuses: broken or foreign HTML, and texts over 4096 UTF-16 units."""
    mode = getattr(method, "parse_mode", None)
    if isinstance(mode, Default):
        mode = bot.default[mode.name]
    try:
        shown = _strip_html(text) if str(getattr(mode, "value", mode) or "").upper() == "HTML" else text
    except APIError as exc:
        raise TelegramBadRequest(method, exc.description) from None
    limit = 1024 if getattr(method, "caption", None) else 4096
    if len(shown.encode("utf-16-le")) // 2 > limit:
        raise TelegramBadRequest(method, "Bad Request: message is too long")


class RecordingSession(BaseSession):
    """Answers every Bot API call like Telegram would, and records it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self.sent: list[Sent] = []
        self.alerts: list[str] = []
        self.fail_sends = 0  # the next N sendMessage calls fail as if the network dropped
        self._ids = itertools.count(1000)

    async def make_request(self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None) -> Any:
        self.calls.append(method)
        name = method.__api_method__
        if name == "sendMessage" and self.fail_sends > 0:
            self.fail_sends -= 1
            raise TelegramNetworkError(method, "connection reset (injected)")
        if isinstance(method, AnswerCallbackQuery):
            if method.text:
                self.alerts.append(method.text)
            return True
        if method.__returning__ is Message or name.startswith("send"):
            chat_id = int(getattr(method, "chat_id", 0) or 0)
            text = getattr(method, "text", None) or getattr(method, "caption", None) or ""
            _check_like_telegram(bot, method, text)
            markup = getattr(method, "reply_markup", None)
            markup_dict = markup.model_dump(exclude_none=True) if markup is not None else None
            mid = next(self._ids)
            self.sent.append(Sent(name, chat_id, text, markup_dict, mid))
            return Message(message_id=mid, date=int(time.time()), chat=Chat(id=chat_id, type="private"), text=text)
        return True

    async def make_request_stream(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:  # pragma: no cover
        yield b""

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:  # pragma: no cover
        yield b""

    async def close(self) -> None:
        pass


class KeywordClassifier:
    """A test double for the NLU port: fixed rankings chosen by words in the text."""

    def __init__(self) -> None:
        self.fail_with: Exception | None = None

    def parse(self, text: str) -> ParseResult:
        if self.fail_with is not None:
            raise self.fail_with
        if "发票" in text or "退税" in text:
            return ParseResult((CategoryScore("tax", 0.93), CategoryScore("policy", 0.05),
                                CategoryScore("finance", 0.02)))
        if "贷款" in text:
            return ParseResult((CategoryScore("finance", 0.88), CategoryScore("policy", 0.12)))
        if "补贴" in text:
            return ParseResult((CategoryScore("policy", 0.9), CategoryScore("labor", 0.1)))
        return ParseResult((CategoryScore("other", 0.41), CategoryScore("labor", 0.3), CategoryScore("tax", 0.29)))


@dataclass
class Harness:
    app: App
    session: RecordingSession
    classifier: KeywordClassifier
    update_ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def db(self) -> Any:
        return self.app.db

    async def feed(self, payload: dict[str, Any], *, update_id: int | None = None) -> list[Sent]:
        start = len(self.session.sent)
        uid = update_id if update_id is not None else next(self.update_ids)
        update = Update.model_validate({"update_id": uid, **payload}, context={"bot": self.app.bot})
        # the path `wanqi run` takes: committed to the inbox, then handled from it
        await self.app.intake.accept([update])
        await self.app.intake.drain()
        await self.drain()
        return self.session.sent[start:]

    async def drain(self) -> list[Sent]:
        """Let the delivery worker send everything the outbox holds (what `wanqi run` does continuously)."""
        start = len(self.session.sent)
        await self.app.drain()
        return self.session.sent[start:]

    @staticmethod
    def _user(user_id: int, lang: str) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": f"用户{user_id}", "language_code": lang}

    def _message(self, user_id: int, lang: str, **extra: Any) -> dict[str, Any]:
        return {"message": {"message_id": next(self.update_ids) + 500_000, "date": int(time.time()),
                            "chat": {"id": user_id, "type": "private"}, "from": self._user(user_id, lang), **extra}}

    async def send(self, user_id: int, text: str, *, lang: str = "zh-hans", update_id: int | None = None) -> list[Sent]:
        extra: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return await self.feed(self._message(user_id, lang, **extra), update_id=update_id)

    async def send_content(self, user_id: int, **content: Any) -> list[Sent]:
        return await self.feed(self._message(user_id, "zh-hans", **content))

    async def press(self, user_id: int, data: str, *, lang: str = "zh-hans") -> list[Sent]:
        return await self.feed({"callback_query": {
            "id": str(next(self.update_ids)), "from": self._user(user_id, lang), "chat_instance": "ci",
            "data": data,
            "message": {"message_id": 1, "date": int(time.time()), "chat": {"id": user_id, "type": "private"},
                        "text": "…"},
        }})

    def to(self, chat_id: int, sent: list[Sent] | None = None) -> list[Sent]:
        return [s for s in (self.session.sent if sent is None else sent) if s.chat_id == chat_id]

    def last_to(self, chat_id: int) -> Sent:
        return self.to(chat_id)[-1]

    def one(self, sql: str, params: list[Any] | None = None) -> dict[str, Any]:
        rows = list(self.db.query(sql, params or []))
        assert rows, f"no row for {sql}"
        return rows[0]

    # ---- journeys -------------------------------------------------------------------------------
    async def register(self, user_id: int, name: str = "肇庆测试科技有限公司", code: str | None = None) -> list[Sent]:
        code = code or credit_code(f"9144120{user_id:010d}")
        await self.send(user_id, "/start")
        await self.press(user_id, "r:begin:1")
        for answer in (name, code, "张经理", "13800138000"):
            await self.send(user_id, answer)
        await self.press(user_id, "r:industry:C")
        await self.press(user_id, "r:scale:小型")
        await self.press(user_id, "r:district:端州区")
        return await self.press(user_id, "r:confirm:1")

    async def join(self, user_id: int, role: Role, department: str | None = None) -> list[Sent]:
        code = await self.app.services.registration.create_invite(role, department, "test")
        return await self.send(user_id, f"/join {code}")

    async def file(self, user_id: int, text: str) -> tuple[int, list[Sent]]:
        sent = await self.send(user_id, text)
        row = self.one("SELECT id FROM appeals WHERE user_id = ? ORDER BY id DESC LIMIT 1", [user_id])
        return int(row["id"]), sent

    async def act(self, user_id: int, act: str, appeal_id: int, arg: str = "") -> list[Sent]:
        return await self.press(user_id, AppealCb(act=act, id=appeal_id, arg=arg).pack())


def make_settings(tmp_path: Path, **changes: Any) -> Settings:
    settings = load_settings(ROOT / "config.yml", env={})
    # no Telegram behind the recording session: no rate limits to keep, quick retries
    changes.setdefault("push", PushSettings(messages_per_second=1000, per_chat_interval=0.0, max_retries=5,
                                            backoff_max=0.05))
    changes.setdefault("web", dataclasses.replace(settings.web, listen="127.0.0.1:0"))  # any free port
    return dataclasses.replace(settings, database=str(tmp_path / "wanqi-test.db"),
                               supervisors=frozenset({SUPERVISOR}), **changes)


def build_harness(tmp_path: Path) -> Harness:
    session = RecordingSession()
    classifier = KeywordClassifier()
    app = build_app(make_settings(tmp_path), token=TOKEN, classifier=classifier, session=session)
    app.intake.settings.retry_base = 0  # a failing update is retried at once, then parked
    return Harness(app, session, classifier)


__all__ = ["SUPERVISOR", "ClassifierUnavailable", "Harness", "Role", "build_harness", "credit_code"]
