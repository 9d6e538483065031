"""Who is told what after each step, and who those people are. The bot turns a Notice into messages.

Pure rules: :func:`notices_for` says which audiences hear of a step, :func:`recipients` turns an
audience into user ids through a :class:`Directory` (the repository answers it inside the step's
transaction, so the people told are the people responsible at that moment).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from appeals.lifecycle import TRIAGE, Action, Status
from appeals.model import Appeal, Role
from appeals.sla import Light


class Audience(StrEnum):
    FILER = "filer"  # the person who filed the appeal (its acknowledgement)
    ENTERPRISE = "enterprise"  # everyone of the appeal's enterprise (the filer first)
    DEPARTMENT = "department"  # the handlers of the appeal's department
    DISPATCHERS = "dispatchers"
    SUPERVISORS = "supervisors"


@dataclass(frozen=True, slots=True)
class Notice:
    audience: Audience
    kind: str  # card | accepted | replied | closed | rated | poor_rating | withdrawn | returned |
    #            extension_request | extension_decided | message | triage | sla_yellow | sla_red
    appeal_id: int


class Directory(Protocol):
    """Who holds which role now (active people only)."""

    def user_ids(self, role: str, department_id: str | None = None) -> list[int]: ...
    def enterprise_user_ids(self, enterprise_id: int) -> list[int]: ...


def recipients(audience: Audience, appeal: Appeal, people: Directory) -> list[int]:
    """The user ids an audience means for this appeal, in a stable order, each once.

    Dispatchers' work falls to the supervisors when the center has no dispatcher.
    """
    if audience is Audience.FILER:
        found = [appeal.user_id]
    elif audience is Audience.ENTERPRISE:
        found = people.enterprise_user_ids(appeal.enterprise_id)
    elif audience is Audience.DEPARTMENT:
        found = people.user_ids(Role.HANDLER.value, appeal.department_id) if appeal.department_id else []
    elif audience is Audience.DISPATCHERS:
        found = people.user_ids(Role.DISPATCHER.value) or people.user_ids(Role.SUPERVISOR.value)
    else:
        found = people.user_ids(Role.SUPERVISOR.value)
    return list(dict.fromkeys(found))


NO_HANDLER = "no_handler"  # the reason a department's notice went to the center instead


def readers(notice: Notice, appeal: Appeal, people: Directory) -> tuple[Audience, list[int], str | None]:
    """Who a notice reaches: (audience, user ids, reason it is not the intended audience, or None).

    A department with no active handler cannot act on its notices (a card would notify nobody), so the
    dispatchers, or the supervisors when there are none, are told instead, with the reason ``no_handler``.
    """
    found = recipients(notice.audience, appeal, people)
    if notice.audience is Audience.DEPARTMENT and appeal.department_id and not found:
        return Audience.DISPATCHERS, recipients(Audience.DISPATCHERS, appeal, people), NO_HANDLER
    return notice.audience, found, None


def notices_for(
    appeal: Appeal, action: Action | None, *, message_from: str | None = None, alert: Light | None = None,
) -> list[Notice]:
    """The notices one step produces (pure: the same step always tells the same people)."""
    a, E, D = appeal.id, Audience.ENTERPRISE, Audience.DEPARTMENT
    if alert is Light.YELLOW:
        return [Notice(D, "sla_yellow", a)]
    if alert is Light.RED:
        return [Notice(D, "sla_red", a), Notice(Audience.SUPERVISORS, "sla_red", a)]
    if message_from is not None:
        if message_from == Role.ENTERPRISE:
            # a returned appeal is back with the dispatchers, whatever department returned it
            held = appeal.department_id and appeal.status not in TRIAGE
            return [Notice(D if held else Audience.DISPATCHERS, "message", a)]
        return [Notice(E, "message", a)]
    if action is None:  # filed but not dispatched automatically
        return [Notice(Audience.DISPATCHERS, "triage", a)]
    table: dict[Action, list[Notice]] = {
        Action.DISPATCH: [Notice(D, "card", a)],
        Action.ACCEPT: [Notice(E, "accepted", a)],
        Action.RETURN: [Notice(Audience.DISPATCHERS, "triage", a)],
        Action.REPLY: [Notice(E, "replied", a)],
        Action.CLOSE: [Notice(E, "closed", a)],
        Action.RATE_GOOD: [Notice(D, "rated", a)],
        Action.RATE_POOR: [Notice(D, "card", a), Notice(Audience.SUPERVISORS, "poor_rating", a)],
        Action.WITHDRAW: [Notice(D, "withdrawn", a)] if appeal.department_id else [],
        Action.REQUEST_EXTENSION: [Notice(Audience.SUPERVISORS, "extension_request", a)],
        Action.APPROVE_EXTENSION: [Notice(D, "extension_decided", a)],
        Action.DENY_EXTENSION: [Notice(D, "extension_decided", a)],
    }
    if action is Action.DISPATCH and appeal.status is not Status.DISPATCHED:
        return []
    return table.get(action, [])
