"""Inline keyboards. Button labels come from the catalogues; payloads are typed callbacks."""

from __future__ import annotations

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from appeals.lifecycle import Status
from appeals.model import Appeal
from appeals.reference import DISTRICTS, INDUSTRIES, SCALES
from appeals.routing import Routing
from appeals.service import RATINGS
from bot.callbacks import AppealCb, BroadcastCb, ClaimCb, IntakeCb, LangCb, PolicyCb, ProfileCb, RegCb, TopicCb
from policies.model import TAGS, TOPICS
from texts import Translator


def _rows(buttons: list[InlineKeyboardButton], width: int) -> InlineKeyboardMarkup:
    # built directly: InlineKeyboardBuilder deep-copies every button (1.3 ms of each appeal's 5 ms CPU)
    return InlineKeyboardMarkup(inline_keyboard=[buttons[i:i + width] for i in range(0, len(buttons), width)])


def _b(text: str, cb: AppealCb | RegCb | ClaimCb | LangCb | IntakeCb) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=cb.pack())


# The sections most of a city's enterprises are in come first; the rest (incl. S 公共管理, T 国际组织) behind 更多.
COMMON_INDUSTRIES = ("C", "F", "E", "I", "G", "H", "L", "M", "A", "K")
MORE = "more"


def industries(t: Translator, everything: bool = False) -> InlineKeyboardMarkup:
    """GB/T 4754 sections: the common ones and a 更多 button, or (``everything``) all twenty."""
    shown = INDUSTRIES if everything else {k: INDUSTRIES[k] for k in COMMON_INDUSTRIES}
    buttons = [_b(f"{k} {v}", RegCb(field="industry", value=k)) for k, v in shown.items()]
    if not everything:
        buttons.append(_b(t.plain("register.more_industries"), RegCb(field="industry", value=MORE)))
    return _rows(buttons, 2)


def scales() -> InlineKeyboardMarkup:
    return _rows([_b(s, RegCb(field="scale", value=s)) for s in SCALES], 4)


def districts() -> InlineKeyboardMarkup:
    return _rows([_b(d, RegCb(field="district", value=d)) for d in DISTRICTS], 2)


def confirm_registration(t: Translator) -> InlineKeyboardMarkup:
    return _rows([_b(t.plain("register.ok"), RegCb(field="confirm", value="1")),
                  _b(t.plain("register.restart"), RegCb(field="confirm", value="0"))], 2)


def start_registration(t: Translator) -> InlineKeyboardMarkup:
    return _rows([_b(t.plain("common.start_register"), RegCb(field="begin", value="1"))], 1)


def claim(t: Translator, claim_id: int) -> InlineKeyboardMarkup:
    return _rows([_b(t.plain("register.claim_approve"), ClaimCb(id=claim_id, ok=True)),
                  _b(t.plain("register.claim_deny"), ClaimCb(id=claim_id, ok=False))], 2)


def languages() -> InlineKeyboardMarkup:
    return _rows([_b("简体中文", LangCb(lang="zh-CN")), _b("English", LangCb(lang="en"))], 2)


def ratings(t: Translator, appeal_id: int) -> InlineKeyboardMarkup:
    return _rows([_b(t.plain(f"rating.{s}"), AppealCb(act="rate", id=appeal_id, arg=str(s))) for s in RATINGS], 3)


def fix_category(t: Translator, appeal_id: int) -> InlineKeyboardMarkup:
    return _rows([_b(t.plain("appeal.fix_category"), AppealCb(act="fix", id=appeal_id))], 1)


def file_as_is(t: Translator) -> InlineKeyboardMarkup:
    return _rows([_b(t.plain("dialogue.file_as_is"), IntakeCb(act="file"))], 1)


def topics(t: Translator, candidates: tuple[str, ...], names: dict[str, str]) -> InlineKeyboardMarkup:
    """One button per candidate category, then "file once for all"."""
    buttons = [_b(names.get(c, c), IntakeCb(act="cat", arg=c)) for c in candidates]
    return _rows([*buttons, _b(t.plain("dialogue.file_all"), IntakeCb(act="all"))], 1)


def categories(routing: Routing, names: dict[str, str], appeal_id: int, act: str) -> InlineKeyboardMarkup:
    """Every category with a department, for a correction (``fixto``) or a dispatch (``dispto``)."""
    return _rows([_b(names[c.id], AppealCb(act=act, id=appeal_id, arg=c.id))
                  for c in routing.categories if c.department_id], 2)


def triage(t: Translator, appeal: Appeal, names: dict[str, str], routing: Routing) -> InlineKeyboardMarkup:
    suggested = [s.category for s in appeal.ranking
                 if routing.knows(s.category) and routing.category(s.category).department_id][:3]
    buttons = [_b(t.plain("staff.dispatch_to", category=names[c]), AppealCb(act="dispto", id=appeal.id, arg=c))
               for c in suggested]
    buttons.append(_b(t.plain("staff.other_category"), AppealCb(act="disp", id=appeal.id)))
    return _rows(buttons, 1)


def enterprise_actions(t: Translator, appeal: Appeal) -> InlineKeyboardMarkup | None:
    buttons = []
    if appeal.status in (Status.SUBMITTED, Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED, Status.REOPENED):
        buttons.append(_b(t.plain("appeal.followup"), AppealCb(act="fu", id=appeal.id)))
    if appeal.status in (Status.SUBMITTED, Status.DISPATCHED):
        buttons.append(_b(t.plain("appeal.fix_category"), AppealCb(act="fix", id=appeal.id)))
    if appeal.status in (Status.SUBMITTED, Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED):
        buttons.append(_b(t.plain("appeal.withdraw"), AppealCb(act="wd", id=appeal.id)))
    if appeal.status is Status.REPLIED or (appeal.status is Status.CLOSED and appeal.rating is None):
        return ratings(t, appeal.id)
    return _rows(buttons, 2) if buttons else None


def withdraw_confirm(t: Translator, appeal_id: int) -> InlineKeyboardMarkup:
    return _rows([_b(t.plain("appeal.withdraw_yes"), AppealCb(act="wdy", id=appeal_id))], 1)


def handler_actions(t: Translator, appeal: Appeal) -> InlineKeyboardMarkup:
    """The card's buttons, by state: 签收 / 退回 before, 答复 / 延期 / 退回 while working, 办结 after replying."""
    i = appeal.id
    acts: list[tuple[str, str]] = []
    if appeal.status in (Status.DISPATCHED, Status.REOPENED):
        acts += [("accept", "acc"), ("return", "ret")]
    elif appeal.status is Status.ACCEPTED:
        acts += [("reply", "rep"), ("return", "ret")]
        if appeal.extension_status is None:
            acts.append(("extend", "ext"))
    elif appeal.status is Status.REPLIED:
        acts.append(("close", "cls"))
    if appeal.status not in (Status.CLOSED, Status.WITHDRAWN):
        acts += [("message", "msg"), ("note", "note")]
    acts.append(("detail", "view"))
    return _rows([_b(t.plain(f"staff.{label}"), AppealCb(act=code, id=i)) for label, code in acts], 2)


def extension_decision(t: Translator, appeal_id: int) -> InlineKeyboardMarkup:
    return _rows([_b(t.plain("staff.approve"), AppealCb(act="extok", id=appeal_id, arg="1")),
                  _b(t.plain("staff.deny"), AppealCb(act="extok", id=appeal_id, arg="0"))], 2)


def view_buttons(t: Translator, appeals: list[Appeal]) -> InlineKeyboardMarkup | None:
    if not appeals:
        return None
    return _rows([_b(t.plain("appeal.view", number=a.number), AppealCb(act="view", id=a.id)) for a in appeals[:20]], 1)


# ---- policy push ----
def _grid(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i:i + width] for i in range(0, len(buttons), width)]


def policy_details(ids: list[str], t: Translator) -> InlineKeyboardMarkup | None:
    buttons = [InlineKeyboardButton(text=t.plain("policies.details_button", n=n),
                                    callback_data=PolicyCb(id=pid).pack()) for n, pid in enumerate(ids, 1)]
    return InlineKeyboardMarkup(inline_keyboard=_grid(buttons, 5)) if buttons else None


def profile_tags(tags: tuple[str, ...], t: Translator) -> InlineKeyboardMarkup:
    toggles = [InlineKeyboardButton(text=t.plain("policies.tag_on" if tag in tags else "policies.tag_off", tag=tag),
                                    callback_data=ProfileCb(act="tag", i=i).pack()) for i, tag in enumerate(TAGS)]
    rows = _grid(toggles, 2)
    rows.append([
        InlineKeyboardButton(text=t.plain("policies.edit_year"), callback_data=ProfileCb(act="year").pack()),
        InlineKeyboardButton(text=t.plain("policies.edit_business"), callback_data=ProfileCb(act="biz").pack())])
    rows.append([
        InlineKeyboardButton(text=t.plain("policies.done_button"), callback_data=ProfileCb(act="done").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def topic_choices(chosen: tuple[str, ...], t: Translator) -> InlineKeyboardMarkup:
    toggles = [InlineKeyboardButton(text=t.plain("policies.tag_on" if topic in chosen else "policies.tag_off",
                                                 tag=topic),
                                    callback_data=TopicCb(act="topic", i=i).pack()) for i, topic in enumerate(TOPICS)]
    rows = _grid(toggles, 3)
    rows.append([InlineKeyboardButton(text=t.plain("policies.done_button"), callback_data=TopicCb(act="done").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def broadcast_confirm(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=t.plain("policies.broadcast_confirm"), callback_data=BroadcastCb(act="go").pack()),
        InlineKeyboardButton(text=t.plain("policies.broadcast_cancel"), callback_data=BroadcastCb(act="no").pack()),
    ]])
