"""Who may do what to an appeal, in every state: ten people × every action × every state, through the bot.

The expected table below is written from DESIGN.md's roles and the issue, not read off the code:

- the enterprise (A: owner and filer) follows its own appeals: views them; corrects the category before
  签收; withdraws before a reply; rates the answer (好差评, its own voice); adds information and files
  while the appeal is open;
- another enterprise (B), someone not registered and someone whose claim on A is still pending see
  nothing at all;
- a handler works appeals of their own department (X) only, while the department holds them: 签收,
  退回 (with a reason), 答复, 办结 after the reply, one extension request; messages to the enterprise while
  open, internal notes; once returned, the appeal is the dispatchers' again; a removed handler and a
  handler of another department (Y) see nothing;
- the dispatcher sees everything at the center and routes queued and returned appeals; may ask the
  enterprise and keep notes;
- a supervisor may do everything staff may, approves extensions and withdraws with a recorded reason —
  but never rates for the enterprise nor adds the enterprise's files; a supervisor taken out of
  WANQI_SUPERVISORS is nobody.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from appeals.model import Actor
from bot.callbacks import AppealCb
from tests.bot.harness import SUPERVISOR, Harness, Role, credit_code

# ---- people -------------------------------------------------------------------------------------------
ENT_A, ENT_B, UNREG, CLAIMANT = 101, 102, 103, 104
H_X, H_Y, H_REMOVED, DISPATCHER, EX_SUPERVISOR = 201, 202, 203, 301, 9002
PEOPLE = {
    "enterprise A": ENT_A, "enterprise B": ENT_B, "unregistered": UNREG, "pending claimant": CLAIMANT,
    "handler of X": H_X, "handler of Y": H_Y, "removed handler": H_REMOVED, "dispatcher": DISPATCHER,
    "supervisor": SUPERVISOR, "ex-supervisor": EX_SUPERVISOR,
}
ENTERPRISE_SIDE = {"enterprise A", "enterprise B", "unregistered", "pending claimant"}

# ---- states (sub = 已受理待分拨, dis = 已派单, acc = 已签收, ext = 已签收且延期待批, rep = 已答复,
#      clo = 办结未评价, reo = 差评重办, ret = 已退回, wd = 已撤回) ---------------------------------------
STATES = ("sub", "dis", "acc", "ext", "rep", "clo", "reo", "ret", "wd")
ALL = frozenset(STATES)
OPEN = ALL - {"clo", "wd"}
NOTHING: frozenset[str] = frozenset()


def _s(*states: str) -> frozenset[str]:
    return frozenset(states)


# ---- the expected table: role -> action -> states in which it is allowed -----------------------------
HELD_BY_X = _s("dis", "acc", "ext", "rep", "clo", "reo", "wd")  # routed to X and not handed back
EXPECTED: dict[str, dict[str, frozenset[str]]] = {
    "enterprise A": {
        "view": ALL, "correct": _s("sub", "dis"), "withdraw": _s("sub", "dis", "acc", "ext", "ret"),
        "rate": _s("rep", "clo"), "message": OPEN, "files": OPEN,
    },
    "handler of X": {
        "view": HELD_BY_X, "accept": _s("dis", "reo"), "return": _s("dis", "acc", "ext", "reo"),
        "reply": _s("acc", "ext"), "close": _s("rep"), "extend": _s("acc"),
        "message": HELD_BY_X & OPEN, "note": HELD_BY_X,
    },
    "dispatcher": {
        "view": ALL, "correct": _s("sub", "ret"), "message": OPEN, "note": ALL,
    },
    "supervisor": {
        "view": ALL, "accept": _s("dis", "reo"), "return": _s("dis", "acc", "ext", "reo"),
        "reply": _s("acc", "ext"), "close": _s("rep"), "extend": _s("acc"), "decide": _s("ext"),
        "correct": _s("sub", "dis", "ret"), "withdraw": _s("sub", "dis", "acc", "ext", "ret"),
        "message": OPEN, "note": ALL,
    },
}
ACTIONS = ("view", "accept", "return", "reply", "close", "extend", "decide", "correct", "withdraw", "rate",
           "message", "note", "files")


def expected(role: str, action: str, state: str) -> bool:
    return state in EXPECTED.get(role, {}).get(action, NOTHING)


# ---- doing it as that person would ------------------------------------------------------------------
@dataclass
class Case:
    h: Harness
    user: int
    role: str
    appeal_id: int
    number: str

    async def press(self, act: str, arg: str = "") -> bool:
        """Press a button; True if it was not refused with an alert."""
        alerts = len(self.h.session.alerts)
        await self.h.press(self.user, AppealCb(act=act, id=self.appeal_id, arg=arg).pack())  # type: ignore[arg-type]
        return len(self.h.session.alerts) == alerts

    async def prompt_then(self, act: str, text: str) -> None:
        """A button that asks for a text first (退回, 答复, 延期, 留言, 备注, 补充说明)."""
        if await self.press(act):
            await self.h.send(self.user, text)
            await self.h.send(self.user, "/cancel")  # leave no step behind for the next case


async def _view(c: Case) -> None:
    await c.h.send(c.user, f"/view {c.number}")


async def _files(c: Case) -> None:
    if await c.press("fu"):
        await c.h.send_content(c.user, photo=[{"file_id": f"P{c.appeal_id}", "file_unique_id": "p", "width": 1,
                                               "height": 1}])
        await c.h.send(c.user, "/cancel")


async def _withdraw(c: Case) -> None:
    if c.role in ENTERPRISE_SIDE:
        await c.press("wdy")
    else:
        await c.h.send(c.user, f"/withdraw {c.number} 企业来电说明问题已自行解决")


async def _message(c: Case) -> None:
    await c.prompt_then("fu" if c.role in ENTERPRISE_SIDE else "msg", "请问办理进度如何？")


async def _correct(c: Case) -> None:
    await c.press("fixto" if c.role in ENTERPRISE_SIDE else "dispto", "finance")


DOORS: dict[str, Callable[[Case], Awaitable[Any]]] = {
    "view": _view,
    "accept": lambda c: c.press("acc"),
    "return": lambda c: c.prompt_then("ret", "不属于本部门职责，请重新分拨"),
    "reply": lambda c: c.prompt_then("rep", "已核实并处理完毕。"),
    "close": lambda c: c.prompt_then("cls", "企业已电话确认问题已解决"),
    "extend": lambda c: c.prompt_then("ext", "3 需要现场核查"),
    "decide": lambda c: c.press("extok", "1"),
    "correct": _correct,
    "withdraw": _withdraw,
    "rate": lambda c: c.press("rate", "4"),
    "message": _message,
    "note": lambda c: c.prompt_then("note", "已电话联系企业"),
    "files": _files,
}


def _snapshot(h: Harness, appeal_id: int) -> dict[str, Any]:
    row = h.one("SELECT status, department_id, extension_status, rating FROM appeals WHERE id = ?", [appeal_id])
    for action in ("message", "note", "dispatch"):
        row[action] = h.one("SELECT COUNT(*) AS n FROM appeal_events WHERE appeal_id = ? AND action = ?",
                            [appeal_id, action])["n"]
    row["files"] = h.one("SELECT COUNT(*) AS n FROM attachments WHERE appeal_id = ?", [appeal_id])["n"]
    return row


def _happened(action: str, before: dict[str, Any], after: dict[str, Any], saw: list[str], number: str) -> bool:
    """Did the action take effect (in the database; for ``view``: did the person get the appeal's detail)?"""
    if action == "view":
        return any(number in text and "办理记录" in text for text in saw)
    checks: dict[str, Callable[[], bool]] = {
        "accept": lambda: after["status"] == "accepted" != before["status"],
        "return": lambda: after["status"] == "returned" != before["status"],
        "reply": lambda: after["status"] == "replied" != before["status"],
        "close": lambda: after["status"] == "closed" != before["status"],
        "extend": lambda: after["extension_status"] == "requested" != before["extension_status"],
        "decide": lambda: after["extension_status"] == "approved" != before["extension_status"],
        "correct": lambda: after["dispatch"] > before["dispatch"],
        "withdraw": lambda: after["status"] == "withdrawn" != before["status"],
        "rate": lambda: after["rating"] is not None and before["rating"] is None,
        "message": lambda: after["message"] > before["message"],
        "note": lambda: after["note"] > before["note"],
        "files": lambda: after["files"] > before["files"],
    }
    return checks[action]()


# ---- the world ----------------------------------------------------------------------------------------
async def _people(h: Harness) -> dict[int, Actor]:
    code_a = credit_code("91441200MA4WA001")
    await h.register(ENT_A, "肇庆甲制造有限公司", code_a)
    await h.register(ENT_B, "肇庆乙贸易有限公司", credit_code("91441200MA4WB002"))
    await h.send(UNREG, "/start")
    await h.register(CLAIMANT, "甲公司", code_a)  # the code is A's: a claim that waits for approval
    assert h.one("SELECT status FROM claims WHERE user_id = ?", [CLAIMANT])["status"] == "pending"
    await h.join(H_X, Role.HANDLER, "tax")
    await h.join(H_Y, Role.HANDLER, "finance")
    await h.join(H_REMOVED, Role.HANDLER, "tax")
    await h.send(SUPERVISOR, f"/staff remove {H_REMOVED}")
    await h.join(DISPATCHER, Role.DISPATCHER)
    staff = h.app.services.registration.target.staff  # what a restart does with WANQI_SUPERVISORS
    staff.supervisors = frozenset({SUPERVISOR, EX_SUPERVISOR})
    staff.bootstrap()
    staff.supervisors = frozenset({SUPERVISOR})
    staff.bootstrap()
    actor = h.app.services.registration.actor
    return {uid: await actor(uid) for uid in (ENT_A, H_X)}


async def _appeal_in(h: Harness, state: str, actors: dict[int, Actor]) -> int:
    """A fresh appeal of enterprise A in ``state`` (routed to X = tax unless still queued), set up through
    the services as the people concerned would have moved it."""
    svc = h.app.services.appeals
    ent, hx = actors[ENT_A], actors[H_X]
    text = "路灯坏了，厂区门口一直没人修" if state == "sub" else "发票开不出来，税控盘报错"
    appeal_id: int = (await svc.submit(ent, text)).appeal.id
    if state in ("acc", "ext", "rep", "clo", "reo"):
        await svc.accept(hx, appeal_id)
    if state == "ext":
        await svc.request_extension(hx, appeal_id, 3, "需要现场核查")
    if state in ("rep", "clo", "reo"):
        await svc.reply(hx, appeal_id, "已处理完毕。")
    if state == "clo":
        await svc.close(hx, appeal_id)
    if state == "reo":
        await svc.rate(ent, appeal_id, 1)
    if state == "ret":
        await svc.return_(hx, appeal_id, "不属于税务事项")
    if state == "wd":
        await svc.withdraw(ent, appeal_id)
    status = h.one("SELECT status FROM appeals WHERE id = ?", [appeal_id])["status"]
    assert status == {"sub": "submitted", "dis": "dispatched", "acc": "accepted", "ext": "accepted",
                      "rep": "replied", "clo": "closed", "reo": "reopened", "ret": "returned",
                      "wd": "withdrawn"}[state]
    return appeal_id


@pytest.mark.parametrize("state", STATES)
async def test_every_role_and_action_in_this_state_matches_the_table(h: Harness, state: str) -> None:
    actors = await _people(h)
    appeal_id = await _appeal_in(h, state, actors)
    wrong: list[str] = []
    for role, user in PEOPLE.items():
        for action in ACTIONS:
            number = h.one("SELECT number FROM appeals WHERE id = ?", [appeal_id])["number"]
            before = _snapshot(h, appeal_id)
            start = len(h.session.sent)
            alerts = len(h.session.alerts)
            await DOORS[action](Case(h, user, role, appeal_id, number))
            saw = [s.text for s in h.session.sent[start:] if s.chat_id == user]
            did = _happened(action, before, _snapshot(h, appeal_id), saw, number)
            if did != expected(role, action, state):
                wrong.append(f"{role} {action} in {state}: {'done' if did else 'refused'}")
            elif not did and not (saw or len(h.session.alerts) > alerts):
                wrong.append(f"{role} {action} in {state}: refused without a word")
            elif not did and any(number in text and "办理记录" in text for text in saw) and action != "view" \
                    and not expected(role, "view", state):
                wrong.append(f"{role} {action} in {state}: refused but shown the appeal")
            if did and action != "view":
                appeal_id = await _appeal_in(h, state, actors)  # the next case starts from the same state
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("role", "allowed"), [
    ("enterprise A", True), ("supervisor", True), ("enterprise B", False), ("unregistered", False),
    ("handler of X", False), ("dispatcher", False), ("removed handler", False), ("ex-supervisor", False),
])
async def test_who_decides_a_claim(h: Harness, role: str, allowed: bool) -> None:
    await _people(h)
    claim_id = h.one("SELECT id FROM claims WHERE user_id = ?", [CLAIMANT])["id"]
    await h.press(PEOPLE[role], f"c:{claim_id}:1")
    status = h.one("SELECT status FROM claims WHERE id = ?", [claim_id])["status"]
    assert status == ("approved" if allowed else "pending")


@pytest.mark.parametrize("role", list(PEOPLE))
async def test_staff_management_and_reports_are_the_supervisors(h: Harness, role: str) -> None:
    await _people(h)
    listing = (await h.send(PEOPLE[role], "/staff"))[-1].text
    assert ("工作人员（" in listing) == (role == "supervisor")
    report = (await h.send(PEOPLE[role], "/report 7"))[-1]
    assert (report.method == "sendDocument") == (role == "supervisor")
