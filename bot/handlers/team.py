"""/staff for supervisors: the staff list, removal, roles, invite codes and the change log."""

from __future__ import annotations

from datetime import UTC, datetime

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from appeals.errors import InvalidInput
from appeals.inputs import parse_id
from appeals.model import Actor, Role
from appeals.notices import Audience, Notice
from appeals.staff import Removal
from bot.commands import set_menu
from bot.notifier import Notifier
from bot.render import Renderer
from bot.services import Services
from bot.team_text import _dept, invites_text, log_text, members_text
from texts import Translator, translator

ROLES = {r.value: r for r in (Role.HANDLER, Role.DISPATCHER, Role.SUPERVISOR)}


def _role(word: str) -> Role | None:
    """A staff role as a supervisor types it: its name in either language (承办人, Handler) or its id."""
    from texts import LOCALES

    wanted = word.strip().lower()
    for value, role in ROLES.items():
        names = {value, *(translator(locale, html=False).plain(f"role.{value}").lower() for locale in LOCALES)}
        if wanted in names:
            return role
    return None


def router() -> Router:
    r = Router(name="team")
    r.message.register(staff, Command("staff"))
    return r


async def staff(message: Message, command: CommandObject, actor: Actor, t: Translator, services: Services,
                renderer: Renderer, notifier: Notifier) -> None:
    """/staff [list|remove|role|invite|invites|revoke|log] …: refused by the service for non-supervisors."""
    words = (command.args or "").split()
    verb, args = (words[0].lower(), words[1:]) if words else ("list", [])
    if verb == "list":
        text = members_text(t, renderer, await services.staff.members(actor))
    elif verb == "remove" and len(args) == 1:
        removal = await services.staff.remove(actor, parse_id(args[0]))
        text = await _after_removal(t, renderer, services, notifier, removal)
    elif verb == "role" and len(args) in (2, 3) and (role := _role(args[1])) is not None:
        member = await services.staff.set_role(actor, parse_id(args[0]), role,
                                               args[2] if len(args) == 3 else None)
        text = t("team.role_done", id=member.id, role=t(f"role.{member.role}"),
                 department=_dept(t, renderer, member.department_id))
        user = await services.repo.get_user(member.id)
        mt = translator(user.lang)
        await services.outbox.add_text(member.id, mt("team.you_got_role", role=mt(f"role.{member.role}"),
                                                     department=_dept(mt, renderer, member.department_id)),
                                       lang=user.lang)
    elif verb == "invite" and len(args) in (1, 2) and (role := _role(args[0])) is not None:
        invite = await services.staff.create_invite(actor, role, args[1] if len(args) == 2 else None)
        text = t("team.invite_done", role=t(f"role.{invite.role}"), department=_dept(t, renderer, invite.department_id),
                 expires=renderer.when(invite.expires_at), code=invite.code)
    elif verb == "invites":
        invites = await services.staff.invites(actor)
        text = invites_text(t, renderer, invites, datetime.now(UTC))
    elif verb == "revoke" and len(args) == 1:
        await services.staff.revoke_invite(actor, args[0])
        text = t("team.revoked_done")
    elif verb == "log" and len(args) <= 1:
        entries = await services.staff.log(actor, parse_id(args[0]) if args else None, 30)
        text = log_text(t, renderer, entries)
    else:
        if actor.role is not Role.SUPERVISOR:
            await message.answer(t("error.not_allowed"))
            return
        raise InvalidInput("team.usage")
    await notifier.send(message.chat.id, text)


async def _after_removal(t: Translator, renderer: Renderer, services: Services, notifier: Notifier,
                         removal: Removal) -> str:
    """Tell the removed member, hand their accepted appeals to the department, and say what happened."""
    member = removal.member
    user = await services.repo.get_user(member.id)
    await services.outbox.add_text(member.id, translator(user.lang)("team.you_were_removed"), lang=user.lang)
    await set_menu(notifier.bot, await services.registration.actor(member.id))
    work = ""
    if removal.open_work:
        others = await services.repo.user_ids(Role.HANDLER.value, member.department_id)
        numbers = "、".join(a.number for a in removal.open_work)
        key = "team.removed_work" if others else "team.removed_work_nobody"
        work = t(key, count=len(removal.open_work), numbers=numbers)
        audience = Audience.DEPARTMENT if others else Audience.SUPERVISORS
        await notifier.deliver([Notice(audience, "handover", a.id) for a in removal.open_work])
    return t("team.removed_done", id=member.id, role=t(f"role.{member.role}"), work=work)


