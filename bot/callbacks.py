"""Typed inline-button payloads: ids and short codes only (Telegram's 64-byte limit)."""

from __future__ import annotations

from typing import Annotated, Literal

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

# A forged or garbled payload fails validation, so no handler sees it (the stale-button answer does):
# ids are positive and far below SQLite's integer limit, codes come from fixed sets.
RowId = Annotated[int, Field(ge=1, lt=2**53)]
AppealAct = Literal["acc", "ret", "rep", "cls", "ext", "note", "msg", "view", "wd", "wdy", "rate", "fix",
                    "fixto", "disp", "dispto", "extok", "fu"]


class AppealCb(CallbackData, prefix="a"):
    """An action on one appeal. ``arg`` carries a category id or a rating when needed (checked by the service)."""

    act: AppealAct
    id: RowId
    arg: Annotated[str, Field(max_length=32)] = ""


class RegCb(CallbackData, prefix="r"):
    """A choice during registration (the value is checked against the reference lists on confirm)."""

    field: Literal["begin", "industry", "scale", "district", "confirm"]
    value: Annotated[str, Field(max_length=16)]


class ClaimCb(CallbackData, prefix="c"):
    id: RowId
    ok: bool


class LangCb(CallbackData, prefix="l"):
    lang: Literal["zh-CN", "en"]


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
