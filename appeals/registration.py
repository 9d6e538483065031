"""Enterprise registration, ownership claims, and staff joining with one-time invite codes."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Protocol

from appeals import credit_code
from appeals.errors import InvalidInput, NotAllowed, NotFound
from appeals.inputs import clean_name, display_name, normalize
from appeals.model import SYSTEM, Actor, Enterprise, Role
from appeals.ports import Clock, Outbox, Outgoing, Repository
from appeals.reference import DISTRICTS, INDUSTRIES, SCALES
from appeals.staff import StaffRepository, StaffService

log = logging.getLogger(__name__)

_PHONE = re.compile(r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$")  # ASCII digits only


class RegistrationRepository(Repository, StaffRepository, Protocol):
    """People, enterprises and staff: what registration and joining need from storage."""


def check_name(name: str | None) -> str:
    """An enterprise or person's name: NFKC, no control, bidi or zero-width characters, 2-100 characters."""
    name = clean_name(name)
    if not 2 <= len(name) <= 100 or not re.search(r"[\u4e00-\u9fffA-Za-z]", name):
        raise InvalidInput("error.bad_name")
    return name


def check_credit_code(raw: str | None) -> str:
    code = credit_code.normalize(raw or "")
    problem = credit_code.problem(code)
    if problem is not None:
        raise InvalidInput(f"error.credit_code_{problem}", length=len(code))
    return code


def check_phone(raw: str | None) -> str:
    phone = re.sub(r"[\s()（）]", "", normalize(raw))
    if phone.startswith("+86"):
        phone = phone[3:]
    if not _PHONE.match(phone):
        raise InvalidInput("error.bad_phone")
    return phone


def mask_phone(phone: str) -> str:
    """For logs and cards shown beyond the enterprise: 138****8000."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


@dataclass(frozen=True, slots=True)
class Registration:
    """The result of finishing the registration steps."""

    enterprise: Enterprise
    owner: bool  # False: the code belongs to someone else; a claim waits for approval
    claim_id: int | None = None


class RegistrationService:
    def __init__(self, repo: RegistrationRepository, clock: Clock, supervisors: frozenset[int] = frozenset(),
                 invite_days: int = 7, outbox: Outbox | None = None) -> None:
        self.repo = repo
        self.clock = clock
        self.staff = StaffService(repo, clock, supervisors, invite_days)
        self.outbox = outbox  # claim requests and decisions are told through it, in the claim's transaction

    def _tell(self, user_ids: list[int], kind: str, payload: dict[str, object]) -> None:
        if self.outbox is None:
            return
        users = [(uid, self.repo.get_user(uid)) for uid in dict.fromkeys(user_ids)]
        self.outbox.add(Outgoing(uid, kind, dict(payload), user.lang if user else "zh-CN") for uid, user in users)

    def actor(self, user_id: int, name: str = "", lang: str = "zh-CN") -> Actor:
        """Who this Telegram user is for the domain, read afresh on every update.

        The role is the one recorded now: a member removed a moment ago resolves to no role at all.
        """
        user = self.repo.ensure_user(user_id, display_name(name), lang, self.clock.now())
        role = Role(user.role) if user.role else None
        return Actor(user_id=user_id, role=role, enterprise_id=user.enterprise_id,
                     department_id=user.department_id, lang=user.lang, name=user.name)

    def has_pending_claim(self, user_id: int) -> bool:
        """The user asked to join an enterprise and waits for the owner's or a supervisor's decision."""
        return self.repo.pending_claim(user_id) is not None

    def enterprise_of(self, actor: Actor) -> Enterprise | None:
        """The actor's own enterprise (None for staff and unregistered users)."""
        return self.repo.get_enterprise(actor.enterprise_id) if actor.enterprise_id is not None else None

    def seed_supervisors(self) -> None:
        """At start: WANQI_SUPERVISORS ids become supervisors, ids taken out of it lose the role."""
        self.staff.bootstrap()

    def set_lang(self, actor: Actor, lang: str) -> None:
        self.repo.set_user(actor.user_id, lang=lang)

    def register(self, actor: Actor, draft: dict[str, str]) -> Registration:
        """Create the enterprise (the first registrant owns it) or file a claim on an existing one."""
        if actor.role is not None and actor.role is not Role.ENTERPRISE:
            raise NotAllowed("staff accounts do not register enterprises")
        if actor.enterprise_id is not None:
            raise InvalidInput("error.already_registered")
        clean = {
            "name": check_name(draft.get("name")),
            "credit_code": check_credit_code(draft.get("credit_code")),
            "contact": check_name(draft.get("contact")),
            "phone": check_phone(draft.get("phone")),
            "industry": draft.get("industry", ""),
            "scale": draft.get("scale", ""),
            "district": draft.get("district", ""),
        }
        if clean["industry"] not in INDUSTRIES or clean["scale"] not in SCALES \
                or clean["district"] not in DISTRICTS:
            raise InvalidInput("error.bad_choice")
        now = self.clock.now()
        existing = self.repo.find_enterprise(clean["credit_code"])
        if existing is not None:
            with self.repo.transaction():
                claim_id = self.repo.create_claim(existing.id, actor.user_id, now)
                # the owner and every supervisor may decide
                self._tell([existing.owner_id, *self.repo.user_ids(Role.SUPERVISOR.value)], "claim_request",
                           {"user": actor.name or str(actor.user_id), "enterprise": existing.name,
                            "claim_id": claim_id})
            log.info("claim %s filed on enterprise %s", claim_id, existing.id)
            return Registration(existing, owner=False, claim_id=claim_id)
        enterprise = self.repo.create_enterprise(dict[str, object](clean), actor.user_id, now)
        log.info("enterprise %s registered", enterprise.id)
        return Registration(enterprise, owner=True)

    def verify_enterprise(self, actor: Actor, enterprise_id: int) -> Enterprise:
        """Center staff confirm an enterprise a partner or a dispatcher filed for by its credit code alone."""
        if actor.role not in (Role.SUPERVISOR, Role.DISPATCHER):
            raise NotAllowed("supervisors and dispatchers confirm enterprises")
        enterprise = self.repo.get_enterprise(enterprise_id)
        if enterprise is None:
            raise NotFound("no such enterprise", ref=enterprise_id)
        self.repo.verify_enterprise(enterprise_id)
        log.info("enterprise %s confirmed by %s", enterprise_id, actor.user_id)
        return enterprise

    def decide_claim(self, actor: Actor, claim_id: int, approve: bool) -> tuple[int, Enterprise]:
        """The owner or a supervisor approves or denies a second user's claim; returns (claimant, enterprise)."""
        claim = self.repo.get_claim(claim_id)
        if claim is None or claim["status"] != "pending":
            raise NotFound("no pending claim", ref=claim_id)
        enterprise = self.repo.get_enterprise(int(str(claim["enterprise_id"])))
        assert enterprise is not None
        if actor.role is not Role.SUPERVISOR and enterprise.owner_id != actor.user_id:
            raise NotAllowed("only the owner or a supervisor decides")
        claimant = self.repo.get_user(int(str(claim["user_id"])))
        if approve and (claimant is None or claimant.role is not None):
            # Registered an enterprise of their own or joined the staff meanwhile: approving would
            # overwrite that account, so the stale claim is closed instead.
            self.repo.decide_claim(claim_id, False, actor.user_id, self.clock.now())
            raise NotFound("the claimant's account has changed; claim closed", ref=claim_id)
        with self.repo.transaction():
            self.repo.decide_claim(claim_id, approve, actor.user_id, self.clock.now())
            self._tell([int(str(claim["user_id"]))], "claim_decided",
                       {"approved": approve, "enterprise": enterprise.name})
        return int(str(claim["user_id"])), enterprise

    def create_invite(self, role: Role, department_id: str | None, created_by: str) -> str:
        """A one-time code a staff member sends as ``/join CODE`` (expires; see :class:`StaffService`)."""
        return self.staff.create_invite(SYSTEM, role, department_id, via=created_by).code

    def join(self, actor: Actor, code: str) -> Actor:
        """Use an invite code: the user becomes staff of the invite's role and department."""
        if actor.role is Role.ENTERPRISE:
            raise InvalidInput("error.enterprise_cannot_join")
        invite = self.repo.use_invite(code.strip(), actor.user_id, self.clock.now())
        if invite is None:
            raise InvalidInput("error.bad_invite")
        role = Role(str(invite["role"]))
        dept = invite.get("department_id")
        log.info("user joined as %s of %s", role, dept)
        return Actor(actor.user_id, role, None, str(dept) if dept else None, actor.lang, actor.name)
