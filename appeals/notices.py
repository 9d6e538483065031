"""Who is told what after each step. The bot turns a Notice into messages (and buttons)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from appeals.lifecycle import TRIAGE, Action, Status
from appeals.model import Appeal, Role
from appeals.sla import Light


class Audience(StrEnum):
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
