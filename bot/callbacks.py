"""Typed inline-button payloads: ids and short codes only (Telegram's 64-byte limit)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class AppealCb(CallbackData, prefix="a"):
    """An action on one appeal. ``arg`` carries a category id or a rating when needed."""

    act: str  # acc ret rep cls ext note msg view wd wdy rate fix fixto disp dispto extok fu
    id: int
    arg: str = ""


class RegCb(CallbackData, prefix="r"):
    """A choice during registration: ``field`` is industry | scale | district | confirm."""

    field: str
    value: str


class ClaimCb(CallbackData, prefix="c"):
    id: int
    ok: bool


class LangCb(CallbackData, prefix="l"):
    lang: str


# ---- policy push ----
class PolicyCb(CallbackData, prefix="pd"):
    """Show one policy's card."""

    id: str


class ProfileCb(CallbackData, prefix="pp"):
    act: str  # tag | year | biz | done
    i: int = 0  # index into TAGS


class TopicCb(CallbackData, prefix="pt"):
    act: str  # topic | done
    i: int = 0  # index into TOPICS


class BroadcastCb(CallbackData, prefix="pb"):
    act: str  # go | no


class IntakeCb(CallbackData, prefix="in"):
    """A choice about the message being filed (kept in the FSM draft): ``file`` it as it is, file it under
    the category ``arg`` (``cat``), or file it once for all its topics (``all``)."""

    act: str
    arg: str = ""
