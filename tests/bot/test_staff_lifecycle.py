"""Staff who can be removed: through the bot and the `wanqi staff` commands, checked in the chat and the database."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from bot.app import build_app
from cli.main import main
from tests.bot.harness import SUPERVISOR, TOKEN, Harness, KeywordClassifier, RecordingSession, Role, make_settings
from tests.support import write_config

ENT, HANDLER, HANDLER2, DISPATCHER = 101, 201, 202, 301


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    config = write_config(tmp_path, "wanqi-test.db")  # the harness's database file
    result = CliRunner().invoke(main, ["--config", str(config), *args], env=env or {"WANQI_SUPERVISORS": ""})
    return result.exit_code, result.output


def _user(h: Harness, user_id: int) -> dict[str, object]:
    return h.one("SELECT role, department_id, active, removed_at, role_source FROM users WHERE id = ?", [user_id])


def _audit(h: Harness, user_id: int) -> list[tuple[str, str]]:
    return [(r["action"], r["by"]) for r in h.db.query(
        "SELECT action, by FROM staff_audit WHERE user_id = ? ORDER BY id", [user_id])]


async def _accepted_appeal(h: Harness) -> int:
    await h.register(ENT)
    await h.join(HANDLER, Role.HANDLER, "tax")
    await h.join(HANDLER2, Role.HANDLER, "tax")
    appeal_id, _ = await h.file(ENT, "发票开不出来，请帮忙")
    await h.act(HANDLER, "acc", appeal_id)
    assert h.one("SELECT status FROM appeals WHERE id = ?", [appeal_id])["status"] == "accepted"
    return appeal_id


async def test_a_supervisor_removes_a_handler_in_the_bot_and_it_takes_effect_at_once(h: Harness) -> None:
    appeal_id = await _accepted_appeal(h)
    await h.act(HANDLER, "rep", appeal_id)  # the handler is half-way through writing a reply
    sent = await h.send(SUPERVISOR, f"/staff remove {HANDLER}")
    assert "已移除 201" in h.to(SUPERVISOR, sent)[-1].text
    assert "1 件诉求留在部门待办" in h.to(SUPERVISOR, sent)[-1].text
    assert "权限已被中心收回" in h.to(HANDLER, sent)[-1].text
    handover = h.to(HANDLER2, sent)[-1]
    assert "已不再承办" in handover.text and any(d.startswith("a:rep:") for _, d in handover.buttons)
    # the removed handler's draft reply, next button and next command are all refused
    assert "没有找到这件诉求" in (await h.send(HANDLER, "答复：已处理"))[-1].text
    assert h.one("SELECT COUNT(*) AS n FROM appeal_events WHERE action = 'reply'")["n"] == 0
    await h.act(HANDLER, "cls", appeal_id)
    assert "没有找到这件诉求" in h.session.alerts[-1]
    assert "仅限中心工作人员" in (await h.send(HANDLER, "/queue"))[-1].text
    row = _user(h, HANDLER)
    assert (row["role"], row["department_id"], row["active"]) == (None, None, 0) and row["removed_at"]
    assert _user(h, HANDLER)["active"] == 0  # writing to the bot again did not re-activate the account
    assert _audit(h, HANDLER)[-1] == ("remove", f"user:{SUPERVISOR}")
    # the other handler of the department takes the appeal over
    await h.act(HANDLER2, "rep", appeal_id)
    await h.send(HANDLER2, "已为贵司处理发票问题。")
    assert h.one("SELECT status FROM appeals WHERE id = ?", [appeal_id])["status"] == "replied"


async def test_only_supervisors_manage_staff_and_nobody_removes_themselves(h: Harness) -> None:
    await h.join(HANDLER, Role.HANDLER, "tax")
    await h.register(ENT)
    for who in (HANDLER, ENT, 999):
        assert "没有办理该事项的权限" in (await h.send(who, f"/staff remove {SUPERVISOR}"))[-1].text
    assert _user(h, SUPERVISOR)["role"] == "supervisor"
    assert "不能移除自己" in (await h.send(SUPERVISOR, f"/staff remove {SUPERVISOR}"))[-1].text
    assert "没有找到工作人员 " in (await h.send(SUPERVISOR, f"/staff remove {ENT}"))[-1].text
    assert "编号无效" in (await h.send(SUPERVISOR, "/staff remove 99999999999999999999"))[-1].text
    assert "编号无效" in (await h.send(SUPERVISOR, "/staff remove ²"))[-1].text


async def test_set_role_list_and_log_in_the_bot(h: Harness) -> None:
    await h.send(HANDLER, "/start")  # the person has written to the bot once
    sent = await h.send(SUPERVISOR, f"/staff role {HANDLER} handler finance")
    assert "已将 201 设为承办人 · 市金融局" in h.to(SUPERVISOR, sent)[-1].text
    assert "您已被设为承办人" in h.to(HANDLER, sent)[-1].text
    assert _user(h, HANDLER)["role_source"] == "granted"
    listing = (await h.send(SUPERVISOR, "/staff"))[-1].text
    assert "201" in listing and "承办人 · 市金融局" in listing and "在岗" in listing
    assert "没有部门“police”" in (await h.send(SUPERVISOR, f"/staff role {HANDLER} handler police"))[-1].text
    log = (await h.send(SUPERVISOR, f"/staff log {HANDLER}"))[-1].text
    assert "设置角色" in log and f"user:{SUPERVISOR}" in log


async def test_invites_expire_can_be_listed_and_revoked(h: Harness) -> None:
    sent = await h.send(SUPERVISOR, "/staff invite dispatcher")
    code = sent[-1].text.split("/join ")[1].split("<")[0].strip()
    expires = datetime.fromisoformat(h.one("SELECT expires_at FROM invites WHERE code = ?", [code])["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert code in (await h.send(SUPERVISOR, "/staff invites"))[-1].text
    assert "已撤销" in (await h.send(SUPERVISOR, f"/staff revoke {code}"))[-1].text
    assert "邀请码无效" in (await h.send(DISPATCHER, f"/join {code}"))[-1].text
    assert _user(h, DISPATCHER)["role"] is None
    # a code made eight days ago no longer works
    old = await h.app.services.registration.create_invite(Role.SUPERVISOR, None, "test")
    h.db.execute("UPDATE invites SET expires_at = ? WHERE code = ?",
                 [(datetime.now(UTC) - timedelta(days=1)).isoformat(), old])
    assert "已过期" in (await h.send(DISPATCHER, f"/join {old}"))[-1].text
    assert _user(h, DISPATCHER)["role"] is None
    assert "已过期" in (await h.send(SUPERVISOR, "/staff invites"))[-1].text
    actions = [r["action"] for r in h.db.query("SELECT action FROM staff_audit ORDER BY id")]
    assert actions.count("invite") == 2 and "revoke_invite" in actions
    assert code not in "".join(r["detail"] for r in h.db.query("SELECT detail FROM staff_audit"))


async def test_only_the_enterprise_rates_and_a_staff_withdrawal_needs_a_reason(h: Harness) -> None:
    appeal_id = await _accepted_appeal(h)
    await h.act(HANDLER, "rep", appeal_id)
    await h.send(HANDLER, "已处理。")
    await h.act(SUPERVISOR, "rate", appeal_id, "1")
    assert "没有办理该事项的权限" in h.session.alerts[-1]
    assert h.one("SELECT status, rating FROM appeals WHERE id = ?", [appeal_id]) == {"status": "replied",
                                                                                   "rating": None}
    second, _ = await h.file(ENT, "退税进度怎么查")
    await h.act(SUPERVISOR, "wdy", second)
    assert "须说明原因" in h.session.alerts[-1]
    number = h.one("SELECT number FROM appeals WHERE id = ?", [second])["number"]
    sent = await h.send(SUPERVISOR, f"/withdraw {number} 企业来电说明问题已自行解决")
    assert "原因已记录并告知企业" in h.to(SUPERVISOR, sent)[-1].text
    told = h.to(ENT, sent)[-1].text
    assert "已由中心撤回" in told and "企业来电说明问题已自行解决" in told
    assert "已由中心撤回" in h.to(HANDLER, sent)[-1].text
    ev = h.one("SELECT actor_id, note FROM appeal_events WHERE appeal_id = ? AND action = 'withdraw'", [second])
    assert ev == {"actor_id": SUPERVISOR, "note": "企业来电说明问题已自行解决"}


async def test_the_cli_removes_a_handler_while_the_bot_runs(h: Harness, tmp_path: Path) -> None:
    appeal_id = await _accepted_appeal(h)
    code, out = _cli(tmp_path, "staff", "list")
    assert code == 0 and "201" in out and "202" in out and "承办人" in out
    code, out = _cli(tmp_path, "staff", "remove", str(HANDLER))
    assert code == 0 and "已移除 201" in out and "1 件诉求" in out, out
    await h.act(HANDLER, "rep", appeal_id)  # the running bot refuses the very next press
    assert "没有找到这件诉求" in h.session.alerts[-1]
    by = h.one("SELECT by FROM staff_audit WHERE user_id = ? AND action = 'remove'", [HANDLER])["by"]
    assert by.startswith("cli:")
    code, out = _cli(tmp_path, "staff", "remove", str(HANDLER))
    assert code == 1 and "没有找到工作人员 201" in out and "Traceback" not in out
    code, out = _cli(tmp_path, "staff", "remove", "12345678901234567890")
    assert code == 1 and "编号无效" in out
    code, out = _cli(tmp_path, "staff", "set-role", str(HANDLER), "--role", "dispatcher")
    assert code == 0 and "分拨员" in out
    assert _user(h, HANDLER)["role"] == "dispatcher" and _user(h, HANDLER)["active"] == 1
    assert "目前没有待办诉求" in (await h.send(HANDLER, "/queue"))[-1].text
    code, out = _cli(tmp_path, "staff", "invite", "--role", "handler", "--department", "eco")
    invite = out.split("/join ")[1].split()[0]
    code, out = _cli(tmp_path, "staff", "invites")
    assert code == 0 and invite in out and "可用" in out
    code, out = _cli(tmp_path, "staff", "revoke", invite)
    assert code == 0
    code, out = _cli(tmp_path, "staff", "revoke", invite)
    assert code == 1 and "没有这个可撤销的邀请码" in out
    code, out = _cli(tmp_path, "staff", "log")
    assert code == 0 and "移除" in out and "撤销邀请码" in out and "设置角色" in out


async def test_supervisors_from_the_environment_are_a_bootstrap_list(tmp_path: Path) -> None:
    starts = itertools.count(1)

    async def start(supervisors: frozenset[int]) -> Harness:
        settings = dataclasses.replace(make_settings(tmp_path), supervisors=supervisors)
        session = RecordingSession()
        classifier = KeywordClassifier()
        app = build_app(settings, token=TOKEN, classifier=classifier, session=session)
        return Harness(app, session, classifier, itertools.count(next(starts) * 10_000))  # new update ids

    first = await start(frozenset({SUPERVISOR, 9002}))
    await first.send(9003, "/start")
    await first.send(SUPERVISOR, "/staff role 9003 supervisor")
    await first.app.close()
    second = await start(frozenset({SUPERVISOR}))  # 9002 was taken out of WANQI_SUPERVISORS
    try:
        assert _user(second, 9002)["role"] is None
        assert _user(second, 9003)["role"] == "supervisor"  # granted and recorded: kept
        assert "没有办理该事项的权限" in (await second.send(9002, "/staff"))[-1].text
        assert ("bootstrap_revoke", "env") in _audit(second, 9002)
        await second.send(SUPERVISOR, "/staff remove 9003")
    finally:
        await second.app.close()
    third = await start(frozenset({SUPERVISOR, 9002}))  # put back: the environment grants it again
    try:
        assert _user(third, 9002)["role"] == "supervisor"
        assert _user(third, 9003)["role"] is None
    finally:
        await third.app.close()
