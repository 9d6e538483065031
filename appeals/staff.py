"""Staff lifecycle: list, remove, change roles, expiring invites, bootstrap supervisors, and the audit log.

A removed member loses their role in the same transaction that records the removal, so their next
button press or command is refused by the services (they resolve to an actor without a role).
Every change is an audit row: who, when, what.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from appeals.errors import InvalidInput, NotAllowed
from appeals.lifecycle import Status
from appeals.model import Actor, Appeal, Role
from appeals.ports import Clock, UserRecord

log = logging.getLogger(__name__)

STAFF_ROLES = (Role.HANDLER, Role.DISPATCHER, Role.SUPERVISOR)
# Where a role came from: WANQI_SUPERVISORS at start, an invite code, or a supervisor's decision.
SOURCE_ENV, SOURCE_INVITE, SOURCE_GRANTED = "env", "invite", "granted"
# Work a handler holds personally: what they accepted and have not answered yet.
HELD = frozenset({Status.ACCEPTED})


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: int
    name: str
    role: str | None  # None once removed
    department_id: str | None
    active: bool
    joined: datetime | None
    removed_at: datetime | None
    source: str | None


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    role: str
    department_id: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    used_by: int | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        """open | used | revoked | expired."""
        if self.used_by is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is None or self.expires_at <= now:
            return "expired"
        return "open"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One staff change: ``by`` names who did it (``user:ID``, ``cli:LOGIN`` or ``env``)."""

    at: datetime
    by: str
    user_id: int | None
    action: str  # invite | join | grant | remove | revoke_invite | bootstrap_grant | bootstrap_revoke
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Removal:
    member: StaffMember
    open_work: tuple[Appeal, ...]  # what they had accepted: back with their department's other handlers


class StaffRepository(Protocol):
    def get_user(self, user_id: int) -> UserRecord | None: ...
    def staff(self) -> list[StaffMember]: ...
    def staff_member(self, user_id: int) -> StaffMember | None: ...
    def change_staff(self, user_id: int, *, role: str | None, department_id: str | None, source: str | None,
                     removed_at: datetime | None, entry: AuditEntry) -> None: ...
    def department_name(self, dept_id: str | None) -> str: ...
    def create_invite(self, code: str, role: str, department_id: str | None, by: str, now: datetime,
                      expires_at: datetime | None = None) -> None: ...
    def invites(self) -> list[Invite]: ...
    def revoke_invite(self, code: str, now: datetime, entry: AuditEntry) -> bool: ...
    def audit(self, entry: AuditEntry) -> None: ...
    def audit_log(self, user_id: int | None = None, limit: int = 100) -> list[AuditEntry]: ...
    def held_by(self, user_id: int, statuses: frozenset[Status]) -> list[Appeal]: ...


def who(actor: Actor, via: str = "") -> str:
    """The audit ``by`` of an actor: a Telegram user, or the command line (``via`` = login name)."""
    if actor.role is Role.SYSTEM:
        return f"cli:{via}" if via else "system"
    return f"user:{actor.user_id}"


def _new_code() -> str:
    """A URL-safe code that never starts with "-": a leading dash reads as an option on the command line."""
    while (code := secrets.token_urlsafe(9)).startswith("-"):
        pass
    return code


class StaffService:
    def __init__(self, repo: StaffRepository, clock: Clock, supervisors: frozenset[int] = frozenset(),
                 invite_days: int = 7) -> None:
        self.repo = repo
        self.clock = clock
        self.supervisors = supervisors
        self.invite_days = invite_days

    @staticmethod
    def _require_supervisor(actor: Actor) -> None:
        if actor.role not in (Role.SUPERVISOR, Role.SYSTEM):
            raise NotAllowed("staff management is for supervisors")

    def members(self, actor: Actor) -> list[StaffMember]:
        """Everyone who is or was staff, current members first."""
        self._require_supervisor(actor)
        return self.repo.staff()

    def remove(self, actor: Actor, user_id: int, via: str = "") -> Removal:
        """Revoke at once; raises :class:`InvalidInput` for an unknown id, oneself, or the last supervisor."""
        self._require_supervisor(actor)
        member = self.repo.staff_member(user_id)
        if member is None or member.role not in STAFF_ROLES:
            raise InvalidInput("error.staff_not_found", user_id=user_id)
        if user_id == actor.user_id:
            raise InvalidInput("error.staff_remove_self")
        if member.role == Role.SUPERVISOR and self._supervisor_count() <= 1:
            raise InvalidInput("error.staff_last_supervisor")
        work = tuple(self.repo.held_by(user_id, HELD)) if member.role == Role.HANDLER else ()
        now = self.clock.now()
        detail = f"role={member.role} department={member.department_id or '-'} open_work={len(work)}"
        self.repo.change_staff(user_id, role=None, department_id=None, source=None, removed_at=now,
                               entry=AuditEntry(now, who(actor, via), user_id, "remove", detail))
        log.info("staff %s removed (%s)", user_id, member.role)
        return Removal(member, work)

    def set_role(self, actor: Actor, user_id: int, role: Role, department_id: str | None,
                 via: str = "") -> StaffMember:
        """Make a known user (one who has written to the bot) a handler, dispatcher or supervisor."""
        self._require_supervisor(actor)
        if role not in STAFF_ROLES:
            raise InvalidInput("error.bad_role")
        if role is Role.HANDLER and not department_id:
            raise InvalidInput("error.department_required")
        if role is not Role.HANDLER:
            department_id = None
        if department_id is not None and not self.repo.department_name(department_id):
            raise InvalidInput("error.unknown_department", department=department_id)
        user = self.repo.get_user(user_id)
        if user is None:
            raise InvalidInput("error.staff_not_found", user_id=user_id)
        if user.role == Role.ENTERPRISE:
            raise InvalidInput("error.staff_is_enterprise", user_id=user_id)
        before = self.repo.staff_member(user_id)
        if user.role == Role.SUPERVISOR and role is not Role.SUPERVISOR and self._supervisor_count() <= 1:
            raise InvalidInput("error.staff_last_supervisor")
        now = self.clock.now()
        detail = (f"{user.role or '-'}/{user.department_id or '-'} -> {role.value}/{department_id or '-'}")
        self.repo.change_staff(user_id, role=role.value, department_id=department_id, source=SOURCE_GRANTED,
                               removed_at=None, entry=AuditEntry(now, who(actor, via), user_id, "grant", detail))
        after = self.repo.staff_member(user_id)
        assert after is not None
        log.info("staff %s set to %s (was %s)", user_id, role.value, before.role if before else None)
        return after

    # ---- invites ------------------------------------------------------------------------------
    def create_invite(self, actor: Actor, role: Role, department_id: str | None, via: str = "") -> Invite:
        """A one-time code a new member sends as ``/join CODE``; it expires after ``invite_days``."""
        self._require_supervisor(actor)
        if role not in STAFF_ROLES:
            raise InvalidInput("error.bad_role")
        if role is Role.HANDLER and not department_id:
            raise InvalidInput("error.department_required")
        if department_id is not None and not self.repo.department_name(department_id):
            raise InvalidInput("error.unknown_department", department=department_id)
        now = self.clock.now()
        code = _new_code()
        expires = now + timedelta(days=self.invite_days)
        by = who(actor, via)
        self.repo.create_invite(code, role.value, department_id, by, now, expires)
        # the code itself stays out of the audit log: it is a credential until used
        self.repo.audit(AuditEntry(now, by, None, "invite",
                                   f"{role.value}/{department_id or '-'} {code[:3]}… until {expires.isoformat()}"))
        return Invite(code, role.value, department_id, by, now, expires, None, None)

    def invites(self, actor: Actor) -> list[Invite]:
        self._require_supervisor(actor)
        return self.repo.invites()

    def revoke_invite(self, actor: Actor, code: str, via: str = "") -> None:
        self._require_supervisor(actor)
        now = self.clock.now()
        code = code.strip()
        if not self.repo.revoke_invite(code, now, AuditEntry(now, who(actor, via), None, "revoke_invite",
                                                             f"{code[:3]}…")):
            raise InvalidInput("error.invite_not_open")

    def log(self, actor: Actor, user_id: int | None = None, limit: int = 100) -> list[AuditEntry]:
        self._require_supervisor(actor)
        return self.repo.audit_log(user_id, limit)

    # ---- bootstrap ------------------------------------------------------------------------------
    def bootstrap(self) -> list[AuditEntry]:
        """At start: WANQI_SUPERVISORS ids become supervisors; ids taken out of it lose that role.

        A supervisor whose role was granted otherwise (invite, set-role) keeps it; a member removed
        by a supervisor is not re-granted by the environment until a supervisor grants them again.
        The center is never left without a supervisor: an id taken out of the variable that is the last
        active supervisor (e.g. a start with the variable unset) keeps the role. Either way the start
        logs one warning line naming the ids the variable no longer lists.
        """
        now = self.clock.now()
        changes: list[AuditEntry] = []
        for user_id in sorted(self.supervisors):
            known = self.repo.staff_member(user_id)
            if known is not None and (known.role == Role.SUPERVISOR or known.removed_at is not None):
                continue
            user = self.repo.get_user(user_id)
            entry = AuditEntry(now, "env", user_id, "bootstrap_grant",
                               f"{(user.role if user else None) or '-'} -> supervisor")
            self.repo.change_staff(user_id, role=Role.SUPERVISOR.value, department_id=None, source=SOURCE_ENV,
                                   removed_at=None, entry=entry)
            changes.append(entry)
        revoked: list[int] = []
        kept: list[int] = []
        for member in self.repo.staff():
            if member.role != Role.SUPERVISOR or member.source != SOURCE_ENV or member.id in self.supervisors:
                continue
            if self._supervisor_count() <= 1:
                kept.append(member.id)  # the last one: nobody could manage staff or grant the role again
                continue
            entry = AuditEntry(now, "env", member.id, "bootstrap_revoke", "no longer in WANQI_SUPERVISORS")
            # not a removal by a person: putting the id back into the environment grants the role again
            self.repo.change_staff(member.id, role=None, department_id=None, source=None, removed_at=None,
                                   entry=entry)
            changes.append(entry)
            revoked.append(member.id)
        for entry in changes:
            log.info("bootstrap: %s %s", entry.action, entry.user_id)
        if revoked or kept:
            log.warning("WANQI_SUPERVISORS no longer lists supervisor(s) %s: %s%s",
                        ", ".join(map(str, revoked + kept)),
                        f"role withdrawn from {', '.join(map(str, revoked))}" if revoked else "",
                        ("; " if revoked else "") + f"{', '.join(map(str, kept))} kept as the center's last "
                        "supervisor (grant another with `wanqi staff set-role`, then restart)" if kept else "")
        return changes

    def _supervisor_count(self) -> int:
        return sum(1 for m in self.repo.staff() if m.role == Role.SUPERVISOR)


