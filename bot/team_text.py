"""Staff lists, invite lists and the staff change log as text: shared by `/staff` in the bot and `wanqi staff`
(no aiogram here, so the command line does not load it)."""

from __future__ import annotations

import re
from datetime import datetime

from appeals.staff import AuditEntry, Invite, StaffMember
from bot.render import Renderer
from texts import Translator

# How appeals.staff and storage write an audit row's detail (kept stable: old rows read the same way).
_PAIR = r"(?P<{0}role>[\w-]+)/(?P<{0}dept>[\w-]+)"
_DETAIL = {
    "remove": re.compile(r"role=(?P<role>[\w-]+) department=(?P<dept>[\w-]+) open_work=(?P<work>\d+)$"),
    "grant": re.compile(_PAIR.format("a") + " -> " + _PAIR.format("b") + "$"),
    "invite": re.compile(_PAIR.format("") + r" (?P<code>\S+) until (?P<until>\S+)$"),
    "revoke_invite": re.compile(r"(?P<code>\S+)$"),
    "bootstrap_grant": re.compile(r"(?P<arole>[\w-]+) -> supervisor$"),
    "bootstrap_revoke": re.compile(r"no longer in WANQI_SUPERVISORS$"),
    "join": re.compile(_PAIR.format("") + r" invite (?P<code>\S+) by (?P<by>\S+)$"),
}


def _dept(t: Translator, renderer: Renderer, department_id: str | None) -> str:
    return f" · {renderer.department(t, department_id)}" if department_id else ""


def members_text(t: Translator, renderer: Renderer, members: list[StaffMember]) -> str:
    if not members:
        return t("team.list_empty")
    lines = [t("team.list_header", count=sum(1 for m in members if m.role))]
    for m in members:
        if m.removed_at is not None or m.role is None:
            state = t("team.removed", at=renderer.when(m.removed_at))
        else:
            state = t("team.active" if m.active else "team.inactive")
        lines.append(t("team.member_line", id=m.id, name=m.name or "—",
                       role=t(f"role.{m.role}") if m.role else t("team.no_role"),
                       department=_dept(t, renderer, m.department_id), state=state, joined=renderer.when(m.joined)))
    return "\n".join(lines)


def invites_text(t: Translator, renderer: Renderer, invites: list[Invite], now: datetime) -> str:
    if not invites:
        return t("team.invites_empty")
    lines = [t("team.invites_header", count=len(invites))]
    for i in invites:
        state = i.state(now)
        label = t(f"team.invite_{state}", user=i.used_by or "")
        # only open codes are shown in full: the others can no longer be used, a prefix identifies them
        code = i.code if state == "open" else f"{i.code[:3]}…"
        lines.append(t("team.invite_line", code=code, role=t(f"role.{i.role}"),
                       department=_dept(t, renderer, i.department_id), state=label,
                       created=renderer.when(i.created_at), expires=renderer.when(i.expires_at)))
    return "\n".join(lines)


def log_text(t: Translator, renderer: Renderer, entries: list[AuditEntry]) -> str:
    if not entries:
        return t("team.log_empty")
    lines = [t("team.log_header", count=len(entries))]
    for e in entries:
        action = t(f"team.action.{e.action}") if t.has(f"team.action.{e.action}") else e.action
        lines.append(t("team.log_line", at=renderer.when(e.at), by=e.by, action=action,
                       user=e.user_id if e.user_id is not None else "—", detail=detail_text(t, renderer, e)))
    return "\n".join(lines)


def _role(t: Translator, renderer: Renderer, role: str, dept: str) -> str:
    name = t(f"role.{role}") if role not in ("-", "") and t.has(f"role.{role}") else t("team.no_role")
    return f"{name}{_dept(t, renderer, dept)}" if dept not in ("-", "") else str(name)


def detail_text(t: Translator, renderer: Renderer, entry: AuditEntry) -> str:
    """An audit row's detail in the reader's language (as stored, if it has an unknown shape)."""
    pattern = _DETAIL.get(entry.action)
    m = pattern.match(entry.detail) if pattern is not None else None
    if m is None:
        return entry.detail
    g = m.groupdict()
    if entry.action == "remove":
        return t("team.detail.remove", role=_role(t, renderer, g["role"], g["dept"]), work=g["work"])
    if entry.action == "grant":
        return t("team.detail.grant", before=_role(t, renderer, g["arole"], g["adept"]),
                 after=_role(t, renderer, g["brole"], g["bdept"]))
    if entry.action == "bootstrap_grant":
        return t("team.detail.grant", before=_role(t, renderer, g["arole"], "-"),
                 after=_role(t, renderer, "supervisor", "-"))
    if entry.action == "invite":
        until = datetime.fromisoformat(g["until"])
        return t("team.detail.invite", role=_role(t, renderer, g["role"], g["dept"]), code=g["code"],
                 until=renderer.when(until))
    if entry.action == "join":
        return t("team.detail.join", role=_role(t, renderer, g["role"], g["dept"]), code=g["code"], by=g["by"])
    if entry.action == "revoke_invite":
        return t("team.detail.revoke_invite", code=g["code"])
    return t("team.detail.bootstrap_revoke")
