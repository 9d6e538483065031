"""A local stand-in for Telegram's Bot API server (127.0.0.1 only) for the demo, tests and benchmarks.

The real aiogram ``Bot`` talks to it over HTTP::

    async with BotAPIStandin() as api:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        bot = Bot("123456:TEST", session=session)
        async with api.polling(dp, bot):
            await api.user(42, "张三").send("/start")
            reply = await api.wait_for(42, contains="欢迎")

Requests are parsed the way aiogram sends them (multipart form; nested objects JSON-encoded as
fields; uploads as ``attach://name`` parts) and answered in Telegram's JSON shapes, including its
errors (403 blocked, 429 with ``retry_after``, 400 for too-long text or broken HTML).
Run as a process for benchmarks: ``python -m demo.standin --port P --log FILE.jsonl``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import math
import re
import signal
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiohttp import web

# Fields that are plain text in the Bot API: never JSON-decoded even when they look like numbers.
_TEXT_FIELDS = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "action", "file_id", "url", "language_code",
    "description", "short_description", "name", "title", "emoji", "business_connection_id",
    "message_effect_id", "inline_message_id", "query", "phone_number", "first_name", "last_name",
})
# Methods that create a message in a chat: the ones Telegram's flood limits apply to.
_SENDING = frozenset({"sendmessage", "senddocument", "sendphoto", "copymessage", "forwardmessage"})
_HTML_TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
    "blockquote", "tg-emoji",
})
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)>")
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64


class APIError(Exception):
    """A Telegram-shaped error answer (``ok: false``)."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram would send."""
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass
class SentMessage:
    """One message the bot sent or edited, as the stand-in saw it."""

    method: str
    chat_id: int
    message_id: int
    text: str | None
    reply_markup: dict[str, Any] | None = None
    at: float = field(default_factory=time.monotonic)
    document: str | None = None
    size: int | None = None
    parse_mode: str | None = None

    @property
    def buttons(self) -> list[tuple[str, str | None]]:
        """Inline buttons as (visible text, callback_data), row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [(b.get("text", ""), b.get("callback_data")) for row in rows for b in row]

    @property
    def keyboard(self) -> list[str]:
        """Reply-keyboard button texts (the ones shown instead of the phone keyboard)."""
        rows = (self.reply_markup or {}).get("keyboard") or []
        return [b if isinstance(b, str) else b.get("text", "") for row in rows for b in row]


@dataclass
class _Injection:
    chat_id: int | None
    status: int
    retry_after: int | None
    times: int
    method: str | None = None  # lower-case Bot API method, None: any but getUpdates
    until: float | None = None  # a time window (monotonic) instead of a count
    html: bool = False  # answer a proxy's HTML error page instead of Telegram's JSON


class _HTMLError(Exception):
    """A reverse proxy's error page (what nginx shows when the Bot API is down)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class StandinUser:
    """A Telegram user writing to the bot in a private chat (chat id == user id)."""

    def __init__(
        self, api: BotAPIStandin, user_id: int, first_name: str, language_code: str | None,
        username: str | None,
    ) -> None:
        self.api = api
        self.id = user_id
        self.first_name = first_name
        self.language_code = language_code
        self.username = username

    def as_user(self) -> dict[str, Any]:
        """The ``User`` object of this person."""
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    @property
    def messages(self) -> list[SentMessage]:
        """Everything the bot sent to this user so far."""
        return self.api.messages_to(self.id)

    async def wait_for(self, *, contains: str | None = None, timeout: float = 10.0) -> SentMessage:
        """Shortcut for ``api.wait_for(user.id, ...)``."""
        return await self.api.wait_for(self.id, contains=contains, timeout=timeout)

    async def send(self, text: str) -> dict[str, Any]:
        """Write a text message (a leading ``/word`` is marked as a bot command, as Telegram does)."""
        extra: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return self._message(extra)

    async def send_photo(self, file_id: str = "standin-photo", caption: str | None = None) -> dict[str, Any]:
        """Send a photo (three sizes, like Telegram)."""
        sizes = [
            {"file_id": f"{file_id}-{w}", "file_unique_id": f"u-{file_id}-{w}", "width": w, "height": w,
             "file_size": w * 40}
            for w in (90, 320, 1280)
        ]
        return self._message({"photo": sizes, **({"caption": caption} if caption else {})})

    async def send_document(
        self, file_name: str = "材料.pdf", caption: str | None = None, *, file_id: str | None = None,
        mime_type: str = "application/pdf", file_size: int = 2048,
    ) -> dict[str, Any]:
        """Send a document."""
        fid = file_id or f"standin-doc-{self.api._next_file()}"
        document = {"file_id": fid, "file_unique_id": f"u-{fid}", "file_name": file_name,
                    "mime_type": mime_type, "file_size": file_size}
        return self._message({"document": document, **({"caption": caption} if caption else {})})

    async def send_sticker(self, emoji: str = "👍") -> dict[str, Any]:
        """Send a sticker."""
        sticker = {"file_id": "standin-sticker", "file_unique_id": "u-sticker", "type": "regular",
                   "width": 512, "height": 512, "is_animated": False, "is_video": False, "emoji": emoji}
        return self._message({"sticker": sticker})

    async def send_voice(self, duration: int = 3) -> dict[str, Any]:
        """Send a voice note."""
        voice = {"file_id": "standin-voice", "file_unique_id": "u-voice", "duration": duration,
                 "mime_type": "audio/ogg", "file_size": 4000}
        return self._message({"voice": voice})

    async def send_contact(self, phone_number: str, *, own: bool = True) -> dict[str, Any]:
        """Share a contact (``own`` = the user's own number, as from a request_contact button)."""
        contact: dict[str, Any] = {"phone_number": phone_number, "first_name": self.first_name}
        if own:
            contact["user_id"] = self.id
        return self._message({"contact": contact})

    async def press(self, message: SentMessage, callback_data: str) -> None:
        """Press an inline button of ``message`` carrying ``callback_data`` (not checked: forgeries allowed)."""
        current = self.api._messages.get((message.chat_id, message.message_id))
        if current is None:
            raise LookupError(f"message {message.message_id} in chat {message.chat_id} is unknown")
        self.api._push_update({
            "callback_query": {
                "id": str(self.api._next_callback()),
                "from": self.as_user(),
                "chat_instance": f"ci-{message.chat_id}",
                "message": current,
                "data": callback_data,
            }
        })

    async def press_button(self, message: SentMessage, text: str) -> None:
        """Press the inline button whose visible text contains ``text``."""
        latest = self.api._latest(message)
        for label, data in latest.buttons:
            if text in label and data is not None:
                await self.press(latest, data)
                return
        labels = ", ".join(repr(label) for label, _ in latest.buttons) or "(no inline buttons)"
        raise LookupError(f"no inline button containing {text!r} on message {latest.message_id}: {labels}")

    def _message(self, extra: dict[str, Any]) -> dict[str, Any]:
        message = {
            "message_id": self.api._next_message_id(self.id),
            "date": int(time.time()),
            "chat": self.api._chat(self.id),
            "from": self.as_user(),
            **extra,
        }
        self.api._messages[(self.id, message["message_id"])] = message
        self.api._push_update({"message": message})
        return message


class BotAPIStandin:
    """An in-process Bot API server on 127.0.0.1 recording what the bot does."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, enforce_limits: bool = False,
        global_rate: int = 30, per_chat_interval: float = 1.0, log: IO[str] | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the stand-in binds to the loopback interface only")
        self.host = host
        self.port = port
        self.enforce_limits = enforce_limits
        self.global_rate = global_rate
        self.per_chat_interval = per_chat_interval
        self.sent: list[SentMessage] = []
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.callback_answers: list[dict[str, Any]] = []
        self.menu_buttons: dict[str, Any] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.deleted: list[tuple[int, int]] = []
        self.requests: list[str] = []
        self.violations = 0
        self.violation_log: list[dict[str, Any]] = []
        self._log = log
        self._users: dict[int, StandinUser] = {}
        self._blocked: set[int] = set()
        self._injections: list[_Injection] = []
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._message_ids: dict[int, int] = {}
        self._updates: deque[dict[str, Any]] = deque()
        self._update_id = 0
        self._callback_id = 0
        self._file_id = 0
        self._files: dict[str, tuple[str, bytes]] = {}
        self._consumed: set[int] = set()
        self._changed: asyncio.Condition | None = None
        self._new_update: asyncio.Event | None = None
        self._polled: asyncio.Event | None = None
        self._recent: deque[float] = deque()
        self._last_in_chat: dict[int, float] = {}
        self._runner: web.AppRunner | None = None
        self._closing = False

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (valid after :meth:`start`)."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 picks a free port)."""
        self._changed = asyncio.Condition()
        self._new_update = asyncio.Event()
        self._polled = asyncio.Event()
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Release long polls and close the server."""
        self._closing = True
        if self._new_update is not None:
            self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotAPIStandin:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @contextlib.asynccontextmanager
    async def polling(self, dp: Any, bot: Any, **kwargs: Any) -> AsyncIterator[None]:
        """Run ``dp.start_polling(bot)`` against this stand-in for the body of the ``async with``."""
        assert self._polled is not None, "start the stand-in first"
        self._polled.clear()
        kwargs.setdefault("polling_timeout", 5)
        task = asyncio.create_task(
            dp.start_polling(bot, handle_signals=False, close_bot_session=False, **kwargs)
        )
        waiter = asyncio.create_task(self._polled.wait())
        done, _ = await asyncio.wait({task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            waiter.cancel()
            task.result()  # startup failed: raise its error here
        if waiter not in done:
            waiter.cancel()
            task.cancel()
            raise TimeoutError("the dispatcher never polled the stand-in")
        try:
            yield
        finally:
            with contextlib.suppress(RuntimeError):
                await dp.stop_polling()
            await task

    # -- the test-facing API ---------------------------------------------------------------------

    def user(
        self, user_id: int, first_name: str, *, language_code: str | None = "zh-hans",
        username: str | None = None,
    ) -> StandinUser:
        """A user (created once per id) who can write to the bot and press its buttons."""
        if user_id not in self._users:
            self._users[user_id] = StandinUser(self, user_id, first_name, language_code, username)
        return self._users[user_id]

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """Everything the bot sent to or edited in ``chat_id``, in order."""
        return [m for m in self.sent if m.chat_id == chat_id]

    async def wait_for(
        self, chat_id: int, *, contains: str | None = None, timeout: float = 10.0
    ) -> SentMessage:
        """The first message to ``chat_id`` not returned by an earlier ``wait_for`` (and containing text)."""
        assert self._changed is not None, "start the stand-in first"

        def find() -> SentMessage | None:
            for index, message in enumerate(self.sent):
                if index in self._consumed or message.chat_id != chat_id:
                    continue
                if contains is None or contains in (message.text or ""):
                    self._consumed.add(index)
                    return message
            return None

        async with self._changed:
            try:
                async with asyncio.timeout(timeout):
                    while (found := find()) is None:
                        await self._changed.wait()
            except TimeoutError:
                seen = [m.text for m in self.messages_to(chat_id)][-5:]
                wanted = f" containing {contains!r}" if contains else ""
                raise TimeoutError(
                    f"no new message to chat {chat_id}{wanted} within {timeout}s; last ones: {seen!r}"
                ) from None
        return found

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sending to the chat now gets 403."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """The user restarted the bot."""
        self._blocked.discard(chat_id)

    def fail_next(
        self, chat_id: int | None, status: int, *, retry_after: int | None = None, times: int = 1,
        html: bool = False,
    ) -> None:
        """Fail the next ``times`` calls to ``chat_id`` (any call but getUpdates if None) with ``status``;
        ``html=True`` answers with an HTML error page (a proxy's 502) instead of Telegram's JSON."""
        if status == 429 and retry_after is None:
            retry_after = 1
        self._injections.append(_Injection(chat_id, status, retry_after, times, html=html))

    def fail_for(
        self, seconds: float, status: int, *, method: str | None = "sendMessage", retry_after: int | None = None,
        html: bool = False,
    ) -> None:
        """Fail every call to ``method`` (any but getUpdates if None) for ``seconds``: a 429 with
        ``retry_after``, a 5xx in Telegram's JSON, or (``html=True``) a proxy's HTML error page."""
        if status == 429 and retry_after is None:
            retry_after = 1
        self._injections.append(_Injection(None, status, retry_after, 0, method.lower() if method else None,
                                           time.monotonic() + seconds, html))

    @property
    def last_update_id(self) -> int:
        """The id of the newest update users have sent so far (0 before any)."""
        return self._update_id

    # -- HTTP ------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token = request.match_info["token"]
        try:
            params = await self._params(request)
            handler = getattr(self, f"_m_{method.lower()}", None)
            if handler is None:
                raise APIError(404, "Not Found: method not found")
            self.requests.append(method)
            if method.lower() != "getupdates":
                self._check_injection(method.lower(), params)
            result = await handler(params, token) if method.lower() == "getupdates" else handler(params, token)
        except APIError as error:
            return web.json_response(error.body(), status=error.status)
        except _HTMLError as error:
            page = f"<html><head><title>{error.status} Bad Gateway</title></head><body><center><h1>{error.status} " \
                   "Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
            return web.Response(status=error.status, text=page, content_type="text/html")
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        name, content = self._files.get(path, (path.rsplit("/", 1)[-1], b"standin file content"))
        return web.Response(body=content, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
            return params
        if request.method == "POST" and request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = (value.filename, value.file.read())
                else:
                    params[key] = _decode(key, str(value))
        return params

    def _check_injection(self, method: str, params: dict[str, Any]) -> None:
        chat_id = _as_int(params.get("chat_id"))
        now = time.monotonic()
        self._injections = [i for i in self._injections if i.until is None or i.until > now]
        for injection in self._injections:
            if injection.method is not None and injection.method != method:
                continue
            if injection.until is not None:
                if injection.html:
                    raise _HTMLError(injection.status)
                raise _injected(injection)
            if injection.chat_id is None or injection.chat_id == chat_id:
                injection.times -= 1
                if injection.times <= 0:
                    self._injections.remove(injection)
                if injection.html:
                    raise _HTMLError(injection.status)
                raise _injected(injection)

    # -- method implementations ------------------------------------------------------------------

    async def _m_getupdates(self, params: dict[str, Any], token: str) -> list[dict[str, Any]]:
        assert self._new_update is not None and self._polled is not None
        offset = _as_int(params.get("offset")) or 0
        limit = max(1, min(100, _as_int(params.get("limit")) or 100))
        timeout = float(params.get("timeout") or 0)
        if offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()
        else:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        self._polled.set()
        if not self._updates and timeout > 0 and not self._closing:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._new_update.wait()
        return list(self._updates)[:limit]

    def _m_getme(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        return {**self._bot_user(token), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    def _m_deletewebhook(self, params: dict[str, Any], token: str) -> bool:
        return True

    def _m_close(self, params: dict[str, Any], token: str) -> bool:
        return True

    def _m_logout(self, params: dict[str, Any], token: str) -> bool:
        return True

    def _m_setmycommands(self, params: dict[str, Any], token: str) -> bool:
        commands = params.get("commands") or []
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command.get("command", "")):
                raise APIError(400, "Bad Request: BOT_COMMAND_INVALID")
        self.commands[_scope_key(params)] = [
            {"command": c["command"], "description": c.get("description", "")} for c in commands
        ]
        return True

    def _m_deletemycommands(self, params: dict[str, Any], token: str) -> bool:
        self.commands.pop(_scope_key(params), None)
        return True

    def _m_getmycommands(self, params: dict[str, Any], token: str) -> list[dict[str, str]]:
        return self.commands.get(_scope_key(params), [])

    def _m_setmydescription(self, params: dict[str, Any], token: str) -> bool:
        return True

    def _m_setmyshortdescription(self, params: dict[str, Any], token: str) -> bool:
        return True

    def _m_getchat(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        chat = self._chat(self._chat_id(params))
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                                        "premium_subscription": False, "gifts_from_channels": False}}

    def _m_deletemessage(self, params: dict[str, Any], token: str) -> bool:
        key = (self._chat_id(params), _as_int(params.get("message_id")) or 0)
        if self._messages.pop(key, None) is None:
            raise APIError(400, "Bad Request: message to delete not found")
        self.deleted.append(key)
        return True

    def _m_setchatmenubutton(self, params: dict[str, Any], token: str) -> bool:
        self.menu_buttons[str(params.get("chat_id", "default"))] = params.get("menu_button")
        return True

    def _m_sendchataction(self, params: dict[str, Any], token: str) -> bool:
        self.chat_actions.append((self._chat_id(params), str(params.get("action"))))
        return True

    def _m_answercallbackquery(self, params: dict[str, Any], token: str) -> bool:
        self.callback_answers.append({
            "callback_query_id": params.get("callback_query_id"), "text": params.get("text"),
            "show_alert": bool(params.get("show_alert", False)),
        })
        return True

    def _m_getfile(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        file_id = str(params.get("file_id"))
        return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": 2048,
                "file_path": f"documents/{file_id}"}

    def _m_sendmessage(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        text = _rendered(params.get("text"), params.get("parse_mode"), MAX_TEXT, "message text")
        markup = _markup(params.get("reply_markup"))
        self._admit(chat_id)
        message = self._store(token, chat_id, {"text": text}, markup)
        self._record(SentMessage("sendMessage", chat_id, message["message_id"], text, markup,
                                 parse_mode=params.get("parse_mode")))
        return message

    def _m_senddocument(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        name, content = self._upload(params, "document")
        caption = _rendered(params.get("caption"), params.get("parse_mode"), MAX_CAPTION, "caption", empty=True)
        markup = _markup(params.get("reply_markup"))
        self._admit(chat_id)
        fid = f"standin-doc-{self._next_file()}"
        self._files[f"documents/{fid}"] = (name, content)
        extra: dict[str, Any] = {"document": {"file_id": fid, "file_unique_id": f"u-{fid}", "file_name": name,
                                              "file_size": len(content)}}
        if caption:
            extra["caption"] = caption
        message = self._store(token, chat_id, extra, markup)
        self._record(SentMessage("sendDocument", chat_id, message["message_id"], caption, markup,
                                 document=name, size=len(content)))
        return message

    def _m_sendphoto(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        name, content = self._upload(params, "photo")
        caption = _rendered(params.get("caption"), params.get("parse_mode"), MAX_CAPTION, "caption", empty=True)
        markup = _markup(params.get("reply_markup"))
        self._admit(chat_id)
        fid = f"standin-photo-{self._next_file()}"
        extra: dict[str, Any] = {"photo": [{"file_id": fid, "file_unique_id": f"u-{fid}", "width": 320,
                                            "height": 320, "file_size": len(content)}]}
        if caption:
            extra["caption"] = caption
        message = self._store(token, chat_id, extra, markup)
        self._record(SentMessage("sendPhoto", chat_id, message["message_id"], caption, markup,
                                 document=name, size=len(content)))
        return message

    def _m_copymessage(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        source = self._source(params)
        markup = _markup(params.get("reply_markup"))
        self._admit(chat_id)
        content = {k: v for k, v in source.items() if k in ("text", "caption", "photo", "document", "entities",
                                                               "sticker", "voice")}
        if "caption" in params:
            content["caption"] = params["caption"]
        message = self._store(token, chat_id, content, markup)
        self._record(SentMessage("copyMessage", chat_id, message["message_id"],
                                 content.get("text") or content.get("caption"), markup,
                                 document=(content.get("document") or {}).get("file_name")))
        return {"message_id": message["message_id"]}

    def _m_forwardmessage(self, params: dict[str, Any], token: str) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        source = self._source(params)
        self._admit(chat_id)
        content = {k: v for k, v in source.items() if k in ("text", "caption", "photo", "document", "entities",
                                                               "sticker", "voice")}
        sender = source.get("from") or {}
        content["forward_origin"] = {"type": "hidden_user", "date": source.get("date", int(time.time())),
                                     "sender_user_name": sender.get("first_name", "?")}
        message = self._store(token, chat_id, content, None)
        self._record(SentMessage("forwardMessage", chat_id, message["message_id"],
                                 content.get("text") or content.get("caption"), None,
                                 document=(content.get("document") or {}).get("file_name")))
        return message

    def _m_editmessagetext(self, params: dict[str, Any], token: str) -> dict[str, Any] | bool:
        chat_id, message = self._editable(params)
        text = _rendered(params.get("text"), params.get("parse_mode"), MAX_TEXT, "message text")
        markup = _markup(params.get("reply_markup"))
        if text == message.get("text") and markup == message.get("_markup"):
            raise APIError(400, "Bad Request: message is not modified: specified new message content and "
                                "reply markup are exactly the same as a current content and reply markup "
                                "of the message")
        message["text"] = text
        self._set_markup(message, markup)
        message["edit_date"] = int(time.time())
        self._record(SentMessage("editMessageText", chat_id, message["message_id"], text, markup,
                                 parse_mode=params.get("parse_mode")))
        return _public(message)

    def _m_editmessagereplymarkup(self, params: dict[str, Any], token: str) -> dict[str, Any] | bool:
        chat_id, message = self._editable(params)
        markup = _markup(params.get("reply_markup"))
        if markup == message.get("_markup"):
            raise APIError(400, "Bad Request: message is not modified: specified new message content and "
                                "reply markup are exactly the same as a current content and reply markup "
                                "of the message")
        self._set_markup(message, markup)
        message["edit_date"] = int(time.time())
        self._record(SentMessage("editMessageReplyMarkup", chat_id, message["message_id"],
                                 message.get("text") or message.get("caption"), markup))
        return _public(message)

    # -- helpers ---------------------------------------------------------------------------------

    def _bot_user(self, token: str) -> dict[str, Any]:
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        return {"id": bot_id, "is_bot": True, "first_name": "万企诉求助手", "username": "wanqi_standin_bot"}

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}
        user = self._users.get(chat_id)
        chat: dict[str, Any] = {"id": chat_id, "type": "private",
                                "first_name": user.first_name if user else f"User {chat_id}"}
        if user and user.username:
            chat["username"] = user.username
        return chat

    def _chat_id(self, params: dict[str, Any]) -> int:
        chat_id = _as_int(params.get("chat_id"))
        if chat_id is None:
            raise APIError(400, "Bad Request: chat not found")
        return chat_id

    def _admit(self, chat_id: int) -> None:
        """Blocked users and (when enforced) flood limits, checked before a message is created."""
        if chat_id in self._blocked:
            raise APIError(403, "Forbidden: bot was blocked by the user")
        if not self.enforce_limits:
            return
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        last = self._last_in_chat.get(chat_id)
        if last is not None and now - last < self.per_chat_interval:
            self._violation("per_chat", chat_id, self.per_chat_interval - (now - last))
        if len(self._recent) >= self.global_rate:
            self._violation("global", chat_id, self._recent[0] + 1.0 - now)
        self._recent.append(now)
        self._last_in_chat[chat_id] = now

    def _violation(self, kind: str, chat_id: int, wait: float) -> None:
        self.violations += 1
        entry = {"violation": kind, "chat_id": chat_id, "time": time.time()}
        self.violation_log.append(entry)
        self._write_log(entry)
        retry_after = max(1, math.ceil(wait))
        raise APIError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    def _store(
        self, token: str, chat_id: int, content: dict[str, Any], markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id), "date": int(time.time()),
            "chat": self._chat(chat_id), "from": self._bot_user(token), **content,
        }
        self._set_markup(message, markup)
        self._messages[(chat_id, message["message_id"])] = message
        return _public(message)

    @staticmethod
    def _set_markup(message: dict[str, Any], markup: dict[str, Any] | None) -> None:
        message["_markup"] = markup
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        else:
            message.pop("reply_markup", None)

    def _editable(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if params.get("inline_message_id"):
            raise APIError(400, "Bad Request: inline messages are not supported by the stand-in")
        chat_id = self._chat_id(params)
        message = self._messages.get((chat_id, _as_int(params.get("message_id")) or 0))
        if message is None:
            raise APIError(400, "Bad Request: message to edit not found")
        if not message.get("from", {}).get("is_bot"):
            raise APIError(400, "Bad Request: message can't be edited")
        return chat_id, message

    def _source(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (_as_int(params.get("from_chat_id")) or 0, _as_int(params.get("message_id")) or 0)
        source = self._messages.get(key)
        if source is None:
            raise APIError(400, "Bad Request: message to copy not found")
        return source

    def _upload(self, params: dict[str, Any], field_name: str) -> tuple[str, bytes]:
        value = params.get(field_name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, tuple):
            return str(value[0]), bytes(value[1])
        if isinstance(value, str) and value:
            return value.rsplit("/", 1)[-1], b""  # a file_id or URL: nothing uploaded
        raise APIError(400, f"Bad Request: there is no {field_name} in the request")

    def _record(self, message: SentMessage) -> None:
        assert self._changed is not None
        self.sent.append(message)
        if message.method == "sendMessage":
            self._write_log({"method": "sendMessage", "chat_id": message.chat_id,
                             "message_id": message.message_id, "text": message.text, "time": time.time()})
        changed = self._changed

        async def notify() -> None:
            async with changed:
                changed.notify_all()

        asyncio.get_running_loop().create_task(notify())

    def _write_log(self, entry: dict[str, Any]) -> None:
        if self._log is not None:
            self._log.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._log.flush()

    def _latest(self, message: SentMessage) -> SentMessage:
        for candidate in reversed(self.sent):
            if (candidate.chat_id, candidate.message_id) == (message.chat_id, message.message_id):
                return candidate
        return message

    def _push_update(self, payload: dict[str, Any]) -> None:
        self._update_id += 1
        self._updates.append({"update_id": self._update_id, **payload})
        if self._new_update is not None:
            self._new_update.set()

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _next_callback(self) -> int:
        self._callback_id += 1
        return 9_000_000 + self._callback_id

    def _next_file(self) -> int:
        self._file_id += 1
        return self._file_id


def _decode(key: str, raw: str) -> Any:
    """Undo aiogram's encoding: non-string values arrive JSON-encoded."""
    if key in _TEXT_FIELDS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return None


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _rendered(raw: Any, parse_mode: Any, limit: int, what: str, *, empty: bool = False) -> str:
    """The text as Telegram would store it (HTML tags stripped), or the 400 Telegram would answer."""
    text = "" if raw is None else str(raw)
    if str(parse_mode or "").upper() == "HTML":
        text = _strip_html(text)
    if not text.strip() and not empty:
        raise APIError(400, f"Bad Request: {what} is empty")
    if _utf16_len(text) > limit:
        raise APIError(400, f"Bad Request: {what} is too long")
    return text


def _strip_html(text: str) -> str:
    """Telegram's HTML mode: only its tags, properly nested; a bare ``<`` is an error."""
    out: list[str] = []
    open_tags: list[str] = []
    pos = 0
    while (lt := text.find("<", pos)) != -1:
        out.append(text[pos:lt])
        offset = len(text[:lt].encode())
        match = _TAG.match(text, lt)
        if match is None:
            raise APIError(400, f"Bad Request: can't parse entities: Unsupported start tag at byte offset {offset}")
        closing, name = match.group(1) == "/", match.group(2).lower()
        if name not in _HTML_TAGS:
            raise APIError(400, f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" '
                                f"at byte offset {offset}")
        if closing:
            if not open_tags or open_tags[-1] != name:
                raise APIError(400, f'Bad Request: can\'t parse entities: Unexpected end tag at byte offset {offset}')
            open_tags.pop()
        else:
            open_tags.append(name)
        pos = match.end()
    if open_tags:
        raise APIError(400, "Bad Request: can't parse entities: Can't find end tag corresponding to start "
                            f'tag "{open_tags[-1]}"')
    out.append(text[pos:])
    return html.unescape("".join(out))


def _markup(raw: Any) -> dict[str, Any] | None:
    if not raw:
        return None
    markup = raw if isinstance(raw, dict) else json.loads(raw)
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise APIError(400, "Bad Request: BUTTON_DATA_INVALID")
            if not button.get("text"):
                raise APIError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
    return markup


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if not k.startswith("_")}


def _scope_key(params: dict[str, Any]) -> str:
    scope = params.get("scope") or {"type": "default"}
    key = str(scope.get("type", "default"))
    if "chat_id" in scope:
        key += f":{scope['chat_id']}"
    if "user_id" in scope:
        key += f":{scope['user_id']}"
    if params.get("language_code"):
        key += f"/{params['language_code']}"
    return key


def _injected(injection: _Injection) -> APIError:
    if injection.status == 429:
        retry = injection.retry_after or 1
        return APIError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
    if injection.status == 403:
        return APIError(403, "Forbidden: bot was blocked by the user")
    descriptions = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                    504: "Gateway Timeout", 400: "Bad Request: chat not found"}
    return APIError(injection.status, descriptions.get(injection.status, f"Error {injection.status}"))


async def _serve(args: argparse.Namespace) -> None:
    with contextlib.ExitStack() as stack:
        log_file = stack.enter_context(Path(args.log).open("a", encoding="utf-8")) if args.log else None
        api = BotAPIStandin(port=args.port, enforce_limits=args.enforce_limits, global_rate=args.global_rate,
                            per_chat_interval=args.per_chat_interval, log=log_file)
        await api.start()
        print(api.base_url, flush=True)  # noqa: T201 - the parent process reads the URL from stdout
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await api.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m demo.standin --port P --log FILE.jsonl [--enforce-limits]``."""
    parser = argparse.ArgumentParser(description="Local Bot API stand-in on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", help="append every sendMessage as a JSON line to this file")
    parser.add_argument("--enforce-limits", action="store_true")
    parser.add_argument("--global-rate", type=int, default=30)
    parser.add_argument("--per-chat-interval", type=float, default=1.0)
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
