"""Private chats only: in groups and channels nothing is filed or shown, and the chat is told once."""

from __future__ import annotations

import time
from typing import Any

from tests.bot.harness import Harness, Role

ENT, HANDLER, STRANGER = 101, 201, 777
GROUP, CHANNEL = -100500, -100600
PRIVATE_ONLY = "本助手只在私聊中办理诉求"


def _in_group(h: Harness, user_id: int, text: str, *, chat_id: int = GROUP, kind: str = "supergroup") -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": next(h.update_ids) + 700_000, "date": int(time.time()),
        "chat": {"id": chat_id, "type": kind, "title": "肇庆企业交流群"},
        "from": {"id": user_id, "is_bot": False, "first_name": f"用户{user_id}", "language_code": "zh-hans"},
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"message": message}


def _appeals(h: Harness) -> int:
    return int(h.one("SELECT COUNT(*) AS n FROM appeals")["n"])


async def test_an_appeal_typed_in_a_group_is_not_filed_and_the_group_is_told_once(h: Harness) -> None:
    await h.register(ENT)
    first = await h.feed(_in_group(h, ENT, "我们公司的发票开不出来，请税务局帮忙"))
    assert [(s.chat_id, PRIVATE_ONLY in s.text) for s in first] == [(GROUP, True)]
    again = await h.feed(_in_group(h, ENT, "增值税发票还是开不出来"))
    mine = await h.feed(_in_group(h, ENT, "/my"))
    assert again == [] and mine == []  # told once; no enterprise's appeals shown in the group
    assert _appeals(h) == 0
    assert "诉求编号" in (await h.send(ENT, "我们公司的发票开不出来，请税务局帮忙"))[0].text  # privately it works


async def test_staff_commands_in_a_group_show_no_queue(h: Harness) -> None:
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    await h.file(ENT, "数电发票开不出来，已经影响发货")
    sent = await h.feed(_in_group(h, HANDLER, "/queue"))
    assert [s.chat_id for s in sent] == [GROUP] and PRIVATE_ONLY in sent[0].text
    assert await h.feed(_in_group(h, HANDLER, "/queue")) == []


async def test_strangers_in_groups_and_channel_posts_leave_no_trace(h: Harness) -> None:
    await h.feed(_in_group(h, STRANGER, "/start"))
    assert list(h.db.query("SELECT id FROM users WHERE id = ?", [STRANGER])) == []
    post = {"channel_post": {"message_id": 5, "date": int(time.time()), "text": "本周政策解读",
                             "chat": {"id": CHANNEL, "type": "channel", "title": "肇庆政策频道"}}}
    sent = await h.feed(post)
    assert [s.chat_id for s in sent] == [CHANNEL]
    assert await h.feed({"channel_post": {**post["channel_post"], "message_id": 6}}) == []
    assert {r["chat_id"] for r in h.db.query("SELECT chat_id FROM foreign_chats")} == {GROUP, CHANNEL}


async def test_a_button_pressed_in_a_group_is_answered_privately_and_changes_nothing(h: Harness) -> None:
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    appeal_id, _ = await h.file(ENT, "数电发票开不出来，已经影响发货")
    await h.feed({"callback_query": {
        "id": "cb-group", "chat_instance": "g",
        "from": {"id": HANDLER, "is_bot": False, "first_name": "李科长", "language_code": "zh-hans"},
        "data": f"a:acc:{appeal_id}:",
        "message": {"message_id": 9, "date": int(time.time()), "text": "…",
                    "chat": {"id": GROUP, "type": "group", "title": "群"}},
    }})
    assert PRIVATE_ONLY in h.session.alerts[-1]
    assert h.one("SELECT status FROM appeals WHERE id = ?", [appeal_id])["status"] == "dispatched"


async def test_english_speakers_are_told_in_english(h: Harness) -> None:
    payload = _in_group(h, STRANGER, "hello", chat_id=-100900, kind="group")
    payload["message"]["from"]["language_code"] = "en"
    sent = await h.feed(payload)
    assert "private chat" in sent[0].text
