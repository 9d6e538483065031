"""Appeal use cases: file, route, work, rate, follow. Authorization is checked here, not in the bot."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Literal

from appeals.calendar import WorkCalendar
from appeals.errors import AppealError, InvalidInput, NotAllowed, NotFound
from appeals.inputs import display_name
from appeals.lifecycle import OPEN, TRIAGE, Action, Status, next_status
from appeals.model import SYSTEM, Actor, Appeal, AppealEvent, Attachment, Enterprise, Role
from appeals.notices import Audience, Notice, notices_for, readers
from appeals.ports import (
    CategoryScore,
    Classifier,
    ClassifierUnavailable,
    Clock,
    Outbox,
    Outgoing,
    ParseResult,
    Repository,
)
from appeals.registration import check_credit_code
from appeals.routing import Intake, RouteDecision, Routing
from appeals.sla import Light, SlaPolicy, add_working_days, light
from appeals.snapshot import dump_view

log = logging.getLogger(__name__)

MAX_TEXT = 10_000  # characters; longer appeals are asked to be split or attached as a file
_MEANINGFUL = re.compile(r"[0-9A-Za-z\u4e00-\u9fff]")

# Who may fire which action (the owner / department checks come on top).
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ENTERPRISE: frozenset({Action.DISPATCH, Action.WITHDRAW, Action.RATE_GOOD, Action.RATE_POOR}),
    Role.HANDLER: frozenset({
        Action.ACCEPT, Action.RETURN, Action.REPLY, Action.CLOSE, Action.REQUEST_EXTENSION,
    }),
    Role.DISPATCHER: frozenset({Action.DISPATCH}),
    # 好差评 is the enterprise's own voice: nobody rates on its behalf.
    Role.SUPERVISOR: frozenset(Action) - {Action.RATE_GOOD, Action.RATE_POOR},
    Role.SYSTEM: frozenset({Action.DISPATCH, Action.CLOSE}),
    Role.PARTNER: frozenset(),
}
# Who may file on an enterprise's behalf (a partner system through its key, or center staff in the console).
ON_BEHALF = frozenset({Role.PARTNER, Role.DISPATCHER, Role.SUPERVISOR})
RATINGS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
POOR = frozenset({1, 2})


@dataclass(frozen=True, slots=True)
class Outcome:
    """The appeal after a step, the history row written, and who should be told."""

    appeal: Appeal
    event: AppealEvent
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True, slots=True)
class Submission:
    appeal: Appeal
    decision: RouteDecision
    notices: tuple[Notice, ...]
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class AppealView:
    appeal: Appeal
    enterprise: Enterprise
    events: tuple[AppealEvent, ...]
    light: Light | None


Repeat = Literal["ask", "include", "skip"]  # what 督办 does with an appeal urged within the interval


@dataclass(frozen=True, slots=True)
class Supervision:
    """What a 督办 did: the appeals urged, and those left out with why (finished | undispatched | recent)."""

    urged: tuple[Outcome, ...]
    skipped: tuple[tuple[Appeal, str], ...] = ()


class RepeatSupervision(AppealError):
    """Some appeals were urged within the interval: the person confirms, or leaves them out. Nothing written."""

    key = "error.supervise_repeat"

    def __init__(self, recent: list[tuple[Appeal, datetime]], skipped: list[tuple[Appeal, str]], hours: int) -> None:
        super().__init__("urged within the interval", hours=hours, count=len(recent))
        self.recent = tuple(recent)
        self.skipped = tuple(skipped)


@dataclass(frozen=True, slots=True)
class SlaAlert:
    appeal: Appeal
    light: Light
    notices: tuple[Notice, ...]


def check_text(text: str | None) -> str:
    """A usable appeal or message text, or :class:`InvalidInput` saying what is wrong."""
    text = (text or "").strip()
    if not text:
        raise InvalidInput("error.empty_text")
    if len(text) > MAX_TEXT:
        raise InvalidInput("error.text_too_long", limit=MAX_TEXT, length=len(text))
    if len(_MEANINGFUL.findall(text)) < 2:
        raise InvalidInput("error.no_words")
    return text


class AppealService:
    """The appeal use cases. With an ``outbox``, every step writes its notices (one row per reader)
    in the same transaction as the change and its history row: whoever calls a service, the people
    concerned are told, and a crash can lose neither the step nor its notices."""

    def __init__(
        self, repo: Repository, classifier: Classifier, routing: Routing, sla: SlaPolicy,
        calendar: WorkCalendar, tz: tzinfo, clock: Clock, outbox: Outbox | None = None,
    ) -> None:
        self.repo = repo
        self.classifier = classifier
        self.routing = routing
        self.sla = sla
        self.calendar = calendar
        self.tz = tz
        self.clock = clock
        self.outbox = outbox

    # ---- intake -------------------------------------------------------------------------
    def _classify(self, text: str) -> ParseResult:
        try:
            return self.classifier.parse(text)
        except ClassifierUnavailable:
            log.warning("classifier unavailable: appeal goes to the dispatcher queue")
            return ParseResult(ranking=())

    def intake(self, actor: Actor, text: str | None) -> tuple[Intake, ParseResult]:
        """What to do with a message before filing it (nothing is written): dialogue, ask for more,
        confirm several topics, or file. Without a classifier everything is filed."""
        if actor.role is not Role.ENTERPRISE or actor.enterprise_id is None:
            raise NotAllowed("only a registered enterprise may file an appeal")
        text = check_text(text)  # empty, emoji-only and too long texts are refused as before
        result = self._classify(text)
        return self.routing.triage(text, result), result

    def submit(
        self, actor: Actor, text: str | None, attachments: Iterable[Attachment] = (),
        source_update_id: int | None = None, *, parsed: ParseResult | None = None,
        topics: tuple[str, ...] = (), chosen: str | None = None,
    ) -> Submission:
        """File an appeal for the actor's enterprise, classify it and route it; committed before return.

        ``parsed`` reuses a classification made by :meth:`intake`; ``topics`` (several categories the
        enterprise filed together) sends the appeal to the dispatcher with the categories noted; ``chosen`` is
        the category the enterprise picked among several, routed as such.
        """
        if actor.role is not Role.ENTERPRISE or actor.enterprise_id is None:
            raise NotAllowed("only a registered enterprise may file an appeal")
        if source_update_id is not None and (seen := self.repo.find_by_update(source_update_id)):
            return Submission(seen, self._decision_of(seen), (), duplicate=True)
        return self._file(actor, actor.enterprise_id, text, attachments, source_update_id=source_update_id,
                          parsed=parsed, topics=topics, category=chosen)

    def file_on_behalf(
        self, actor: Actor, *, credit_code: str | None, text: str | None, channel: str,
        idempotency_key: str | None = None, enterprise_name: str = "", contact: str = "", phone: str = "",
        category: str | None = None, attachments: Iterable[Attachment] = (),
    ) -> Submission:
        """File for an enterprise found by its credit code (a partner system, or staff taking a call).

        An unknown code creates an unverified enterprise record the center confirms later. ``category``
        given skips the NLU; ``idempotency_key`` makes a retried request return the first appeal.
        Raises NotAllowed for other roles and InvalidInput for a bad code, text or category.
        """
        if actor.role not in ON_BEHALF:
            raise NotAllowed("only partners and center staff file on an enterprise's behalf")
        if idempotency_key is not None and (seen := self.repo.find_by_key(idempotency_key)):
            return Submission(seen, self._decision_of(seen), (), duplicate=True)
        code = check_credit_code(credit_code)
        text = check_text(text)
        if category is not None and not self.routing.knows(category):
            raise InvalidInput("error.unknown_category", category=category)
        enterprise = self.repo.find_enterprise(code)
        if enterprise is None:
            # a partner's free text: no control, bidi or zero-width characters in what staff will read
            name = display_name(enterprise_name, 100) or f"未核实企业 {code}"
            enterprise = self.repo.create_unverified_enterprise(
                {"name": name, "credit_code": code, "contact": display_name(contact, 50), "phone": phone[:30]},
                self.clock.now())
            log.info("unverified enterprise %s created by %s", enterprise.id, channel)
        return self._file(actor, enterprise.id, text, attachments, idempotency_key=idempotency_key,
                          channel=channel, category=category)

    def _file(
        self, actor: Actor, enterprise_id: int, text: str | None, attachments: Iterable[Attachment], *,
        source_update_id: int | None = None, idempotency_key: str | None = None, channel: str = "telegram",
        category: str | None = None, parsed: ParseResult | None = None, topics: tuple[str, ...] = (),
    ) -> Submission:
        text = check_text(text)
        if parsed is not None:
            result = parsed
        elif category is not None:
            result = ParseResult(ranking=(CategoryScore(category, 1.0),))
        else:
            result = self._classify(text)
        decision = self.routing.decide(result)
        if category is not None:  # chosen by a person: dispatched whatever the model's threshold
            dept = self.routing.category(category).department_id
            decision = RouteDecision(category, 1.0, dept, decision.suggestions)
        elif topics:  # several problems in one appeal: the dispatcher splits or routes it
            decision = dataclasses.replace(decision, department_id=None)
        now = self.clock.now()
        appeal = Appeal(
            id=0, number="", enterprise_id=enterprise_id, user_id=actor.user_id, text=text,
            status=Status.SUBMITTED, created_at=now, category=decision.category,
            confidence=decision.confidence, ranking=result.ranking, entities=result.entities,
            attachments=tuple(attachments), channel=channel,
        )
        note = " ".join(topics) if topics else ("" if channel == "telegram" else channel)
        events = [self._event(actor, 0, "submit", None, Status.SUBMITTED, now, note)]
        if decision.department_id:
            # routed by the NLU, not by the person filing: history must tell it from a correction
            appeal, ev = self._dispatched(appeal, SYSTEM if category is None else actor, decision.category or "",
                                          now, note="auto" if category is None else "")
            events.append(ev)
        with self.repo.transaction():
            saved = self.repo.create_appeal(appeal, events, source_update_id, idempotency_key)
            notices = tuple(notices_for(saved, Action.DISPATCH if decision.department_id else None))
            # the filer in the chat gets the acknowledgement; other channels answer their caller themselves
            ack = (Notice(Audience.FILER, "filed", saved.id),) if channel == "telegram" else ()
            self._tell(saved, (*ack, *notices), automatic=decision.automatic)
        log.info("appeal %s filed via %s: %s", saved.id, channel, saved.status)
        return Submission(saved, decision, notices)

    def _decision_of(self, appeal: Appeal) -> RouteDecision:
        return RouteDecision(appeal.category, appeal.confidence or 0.0,
                             appeal.department_id if appeal.status is not Status.SUBMITTED else None,
                             appeal.ranking[: self.routing.suggestions])

    def _dispatched(
        self, appeal: Appeal, actor: Actor, category: str, now: datetime, note: str = ""
    ) -> tuple[Appeal, AppealEvent]:
        cat = self.routing.category(category)
        if cat.department_id is None:
            raise InvalidInput("error.category_without_department", category=cat.name)
        new = dataclasses.replace(
            appeal, status=next_status(appeal.status, Action.DISPATCH), category=category,
            department_id=cat.department_id, dispatched_at=now,
            accept_due=add_working_days(now, cat.accept_days, self.calendar, self.tz),
            reply_due=add_working_days(now, cat.reply_days, self.calendar, self.tz),
            alert_level=None, accepted_at=None,
            # fresh deadlines for the (new) department: an extension of an earlier round no longer applies
            extension_status=None, extension_days=None, extension_reason=None,
        )
        note = note or category
        return new, self._event(actor, appeal.id, Action.DISPATCH, appeal.status, new.status, now, note)

    def dispatch(self, actor: Actor, appeal_id: int, category: str) -> Outcome:
        """A dispatcher routes (or re-routes) an appeal; the enterprise may correct the category before 签收."""
        appeal = self._get(actor, appeal_id, Action.DISPATCH)
        if not self.routing.knows(category):
            raise InvalidInput("error.bad_category")
        if appeal.status is Status.DISPATCHED and category == appeal.category:
            # nothing would change but the deadlines (and a red light would vanish): refused
            raise InvalidInput("error.same_category", category=self.routing.category(category).name)
        if actor.role is Role.ENTERPRISE and appeal.status not in (Status.SUBMITTED, Status.DISPATCHED):
            raise InvalidInput("error.too_late_to_correct")
        if appeal.status is Status.DISPATCHED and actor.role is Role.DISPATCHER and (
                not appeal.department_id or self.repo.user_ids(Role.HANDLER.value, appeal.department_id)):
            # a department with nobody to act is the exception: its appeals came to the dispatchers
            raise NotAllowed("dispatchers re-route only queued or returned appeals")
        now = self.clock.now()
        predicted = appeal.category
        was_returned = appeal.status is Status.RETURNED
        new, event = self._dispatched(appeal, actor, category, now)
        source = "correction" if actor.role is Role.ENTERPRISE else ("return" if was_returned else "dispatch")
        feedback = (source, category) if category != predicted or was_returned else None
        with self.repo.transaction():
            saved = self.repo.save(new, event, feedback)
            notices = notices_for(saved, Action.DISPATCH)
            if actor.role is not Role.ENTERPRISE:  # the center routed it: the enterprise hears where it went
                notices.append(Notice(Audience.ENTERPRISE, "routed", saved.id))
            self._tell(saved, notices)
        return Outcome(saved, event, tuple(notices))

    # ---- the department's work ------------------------------------------------------------
    def accept(self, actor: Actor, appeal_id: int) -> Outcome:
        # The light now runs against the reply deadline: its reminders start afresh.
        return self._move(actor, appeal_id, Action.ACCEPT, alert_level=None, accepted_at=self.clock.now())

    def return_(self, actor: Actor, appeal_id: int, reason: str | None) -> Outcome:
        reason = (reason or "").strip()
        if len(_MEANINGFUL.findall(reason)) < 2:
            raise InvalidInput("error.reason_required")
        appeal = self._get(actor, appeal_id, Action.RETURN)
        return self._move(actor, appeal_id, Action.RETURN, note=reason[:1000], accepted_at=None,
                          return_count=appeal.return_count + 1)

    def reply(self, actor: Actor, appeal_id: int, text: str | None) -> Outcome:
        text = check_text(text)
        now = self.clock.now()
        due = add_working_days(now, self.sla.rating_days, self.calendar, self.tz)
        return self._move(actor, appeal_id, Action.REPLY, note=text, replied_at=now, rating_due=due)

    def close(self, actor: Actor, appeal_id: int, reason: str | None = None) -> Outcome:
        """办结 by staff after the reply, with the reason on the record (the rating still counts if it comes)."""
        note = check_text(reason)[:1000] if reason is not None else ""
        return self._move(actor, appeal_id, Action.CLOSE, note=note, closed_at=self.clock.now())

    def request_extension(self, actor: Actor, appeal_id: int, days: int, reason: str | None) -> Outcome:
        appeal = self._get(actor, appeal_id, Action.REQUEST_EXTENSION)
        if appeal.extension_status is not None:
            raise InvalidInput("error.extension_once")
        if not 1 <= days <= self.sla.extension_max_days:
            raise InvalidInput("error.extension_days", max=self.sla.extension_max_days)
        reason = (reason or "").strip()
        if len(_MEANINGFUL.findall(reason)) < 2:
            raise InvalidInput("error.reason_required")
        return self._move(actor, appeal_id, Action.REQUEST_EXTENSION, note=f"{days}|{reason[:500]}",
                          extension_status="requested", extension_days=days, extension_reason=reason[:500])

    def decide_extension(self, actor: Actor, appeal_id: int, approve: bool) -> Outcome:
        action = Action.APPROVE_EXTENSION if approve else Action.DENY_EXTENSION
        appeal = self._get(actor, appeal_id, action)
        if appeal.extension_status != "requested":
            raise InvalidInput("error.no_extension_request")
        changes: dict[str, object] = {"extension_status": "approved" if approve else "denied"}
        if approve and appeal.reply_due is not None:
            changes["reply_due"] = add_working_days(appeal.reply_due, appeal.extension_days or 0,
                                                    self.calendar, self.tz)
            changes["alert_level"] = None
        return self._move(actor, appeal_id, action, "", None, **changes)

    def supervise(self, actor: Actor, appeal_ids: Iterable[int], note: str | None, *,
                  repeat: Repeat = "ask") -> Supervision:
        """督办: a supervisor presses departments on open appeals (one or a 热点 group) with one note.

        Each appeal urged gets an internal history row; each department is told once, on its first appeal,
        with the numbers of all of its appeals in the note. Appeals that cannot be urged (finished, or not yet
        with a department) are skipped and returned with the reason; alone, such an appeal raises
        InvalidInput. An appeal urged within the last ``sla.supervise_interval_hours`` is a repeat: with
        ``repeat="ask"`` the step raises :class:`RepeatSupervision` (nothing written) so the person can
        confirm ("include") or leave the repeats out ("skip"). Raises NotAllowed for other roles.
        """
        if actor.role is not Role.SUPERVISOR:
            raise NotAllowed("督办 is for supervisors")
        note = check_text(note)[:1000]
        appeals = [self._visible(actor, i) for i in dict.fromkeys(appeal_ids)]
        skipped: list[tuple[Appeal, str]] = []
        for appeal in appeals:
            if appeal.status not in OPEN:
                skipped.append((appeal, "finished"))
            elif appeal.department_id is None or appeal.status in TRIAGE:
                skipped.append((appeal, "undispatched"))
        if len(appeals) == 1 and skipped:
            raise InvalidInput("error.cannot_supervise", number=appeals[0].number)
        left = [a for a in appeals if all(a is not s for s, _ in skipped)]
        now = self.clock.now()
        window = timedelta(hours=self.sla.supervise_interval_hours)
        last = self.repo.last_supervised([a.id for a in left]) if window else {}
        recent = [(a, last[a.id]) for a in left if a.id in last and now - last[a.id] < window]
        if recent and repeat == "ask":
            raise RepeatSupervision(recent, skipped, self.sla.supervise_interval_hours)
        if repeat == "skip":
            skipped += [(a, "recent") for a, _ in recent]
            left = [a for a in left if all(a is not r for r, _ in recent)]
        if not left:
            raise InvalidInput("error.nothing_to_supervise")
        by_dept: dict[str, list[Appeal]] = {}
        for appeal in left:
            by_dept.setdefault(appeal.department_id or "", []).append(appeal)
        out = []
        with self.repo.transaction():  # one 督办, one commit: every history row and notice, or none
            for group in by_dept.values():
                numbers = "、".join(a.number for a in group)
                text = note if len(group) == 1 else f"{note}（同类诉求 {len(group)} 件：{numbers}）"
                for i, appeal in enumerate(group):
                    event = self._event(actor, appeal.id, "supervise", appeal.status, appeal.status, now, text, True)
                    told = (Notice(Audience.DEPARTMENT, "supervise", appeal.id),) if i == 0 else ()
                    self.repo.add_event(event)
                    self._tell(appeal, told)
                    out.append(Outcome(appeal, event, told))
        log.info("督办 on %d appeal(s) by %s, %d skipped", len(out), actor.user_id, len(skipped))
        return Supervision(tuple(out), tuple(skipped))

    # ---- the enterprise's side ------------------------------------------------------------
    def withdraw(self, actor: Actor, appeal_id: int, reason: str | None = None) -> Outcome:
        """撤回 by the enterprise, or by a supervisor with a recorded reason the enterprise is told."""
        note = ""
        if actor.is_staff:
            self._get(actor, appeal_id, Action.WITHDRAW)  # not found / not allowed come before the reason
            note = (reason or "").strip()[:1000]
            if len(_MEANINGFUL.findall(note)) < 2:
                raise InvalidInput("error.withdraw_reason_required")

        def adjust(event: AppealEvent, notices: list[Notice]) -> list[Notice]:
            told = list(notices)
            if event.from_status == Status.RETURNED:  # its old department had already let it go
                told = [n for n in told if n.audience is not Audience.DEPARTMENT]
            if actor.is_staff:
                told.append(Notice(Audience.ENTERPRISE, "withdrawn_by_center", appeal_id))
            return told

        return self._move(actor, appeal_id, Action.WITHDRAW, note=note, adjust=adjust, closed_at=self.clock.now())

    def rate(self, actor: Actor, appeal_id: int, score: int) -> Outcome:
        """好差评: 5/4/3 close the appeal, 2/1 reopen it for 重办 and tell supervisors."""
        if score not in RATINGS:
            raise InvalidInput("error.bad_rating")
        appeal = self._get(actor, appeal_id, Action.RATE_GOOD)
        # A rating given before a later reply (差评 -> 重办 -> new reply) does not count against this one.
        rated_this_reply = appeal.rated_at is not None and (
            appeal.replied_at is None or appeal.rated_at >= appeal.replied_at)
        if appeal.status is Status.CLOSED and rated_this_reply:
            raise InvalidInput("error.already_rated")
        now = self.clock.now()
        if appeal.rating_due is not None and now > appeal.rating_due:
            raise InvalidInput("error.rating_window_over", number=appeal.number)
        if score in POOR:
            cat = self.routing.category(appeal.category) if appeal.category else None
            days = cat.reply_days if cat else self.sla.reply_days
            accept_days = cat.accept_days if cat else self.sla.accept_days  # as on dispatch
            return self._move(
                actor, appeal_id, Action.RATE_POOR, note=RATINGS[score], rating=score, rated_at=now,
                reopen_count=appeal.reopen_count + 1, closed_at=None, replied_at=None, rating_due=None,
                dispatched_at=now, accept_due=add_working_days(now, accept_days, self.calendar, self.tz),
                reply_due=add_working_days(now, days, self.calendar, self.tz), alert_level=None, accepted_at=None,
                extension_status=None, extension_days=None, extension_reason=None,
            )
        return self._move(actor, appeal_id, Action.RATE_GOOD, note=RATINGS[score], rating=score,
                          rated_at=now, closed_at=appeal.closed_at or now)

    def message(self, actor: Actor, appeal_id: int, text: str | None, *, internal: bool = False) -> Outcome:
        """A follow-up from the enterprise, a message from the handler, or an internal note."""
        text = check_text(text)
        appeal = self._visible(actor, appeal_id)
        if internal and not actor.is_staff:
            raise NotAllowed("internal notes are for staff")
        if appeal.status not in OPEN and not internal:
            raise InvalidInput("error.appeal_finished", number=appeal.number)
        now = self.clock.now()
        kind = "note" if internal else "message"
        event = self._event(actor, appeal.id, kind, appeal.status, appeal.status, now, text, internal)
        audience = () if internal else notices_for(appeal, None, message_from=actor.role)
        with self.repo.transaction():
            self.repo.add_event(event)
            self._tell(appeal, audience)
        return Outcome(appeal, event, tuple(audience))

    def add_files(self, actor: Actor, appeal_id: int, attachments: Iterable[Attachment]) -> Outcome:
        """补充材料: the enterprise adds photos or files to an open appeal; the department receives them."""
        files = tuple(attachments)
        appeal = self._visible(actor, appeal_id)
        if actor.role is not Role.ENTERPRISE:
            raise NotAllowed("only the enterprise adds files to its appeal")
        if appeal.status not in OPEN:
            raise InvalidInput("error.appeal_finished", number=appeal.number)
        now = self.clock.now()
        event = self._event(actor, appeal.id, "files", appeal.status, appeal.status, now, str(len(files)))
        # a returned appeal is back with the dispatchers: the department that returned it gets nothing more
        target = Audience.DEPARTMENT if appeal.department_id and appeal.status not in TRIAGE \
            else Audience.DISPATCHERS
        notices = (Notice(target, "files", appeal.id),)
        with self.repo.transaction():
            self.repo.add_attachments(appeal.id, files, now, event)
            saved = self.repo.get_appeal(appeal.id) or appeal
            self._tell(saved, notices)
        return Outcome(saved, event, notices)

    # ---- reading ------------------------------------------------------------------------------
    def view(self, actor: Actor, ref: int | str) -> AppealView:
        appeal = self._visible(actor, self._resolve(ref))
        enterprise = self.repo.get_enterprise(appeal.enterprise_id)
        assert enterprise is not None
        events = self.repo.events(appeal.id)
        if not (actor.is_staff or actor.role is Role.SYSTEM):  # the system composes staff notices too
            events = [e for e in events if not e.internal]
        return AppealView(appeal, enterprise, tuple(events), self.light(appeal))

    def listing(self, actor: Actor, *, open_only: bool = True, limit: int = 30) -> list[Appeal]:
        """/my for an enterprise, /queue for staff: what this person is responsible for."""
        statuses = OPEN if open_only else None
        if actor.role is Role.ENTERPRISE and actor.enterprise_id is not None:
            return self.repo.list_appeals(enterprise_id=actor.enterprise_id, limit=limit)
        if actor.role is Role.HANDLER and actor.department_id:
            work = frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.REOPENED, Status.REPLIED})
            return self.repo.list_appeals(department_id=actor.department_id, statuses=work, limit=limit)
        if actor.role is Role.DISPATCHER:
            return self.repo.list_appeals(statuses=TRIAGE, limit=limit)
        if actor.role is Role.SUPERVISOR:
            return self.repo.list_appeals(statuses=statuses, limit=limit)
        raise NotAllowed("not registered")

    def report(self, actor: Actor, since: datetime) -> tuple[list[Appeal], dict[int, str]]:
        """Every appeal filed since ``since`` with its enterprise's name: for supervisors only."""
        if actor.role not in (Role.SUPERVISOR, Role.SYSTEM):
            raise NotAllowed("reports are for supervisors")
        appeals = self.repo.list_appeals(since=since, limit=1_000_000)
        return appeals, self.repo.enterprise_names(a.enterprise_id for a in appeals)

    def light(self, appeal: Appeal) -> Light | None:
        if appeal.status not in (Status.DISPATCHED, Status.ACCEPTED, Status.REOPENED):
            return None
        due = appeal.accept_due if appeal.status is not Status.ACCEPTED else appeal.reply_due
        if due is None or appeal.dispatched_at is None:
            return None
        return light(appeal.dispatched_at, due, self.clock.now(), self.sla.yellow_ratio)

    # ---- timers ---------------------------------------------------------------------------------
    def department_digest(self) -> dict[str, list[tuple[Appeal, Light | None]]]:
        """Each department's open work with its light, most urgent first: the daily 待办 digest."""
        work = frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.REOPENED, Status.REPLIED})
        order = {Light.RED: 0, Light.YELLOW: 1, Light.GREEN: 2, None: 3}
        out: dict[str, list[tuple[Appeal, Light | None]]] = {}
        for appeal in self.repo.list_appeals(statuses=work, limit=100_000):
            if appeal.department_id:
                out.setdefault(appeal.department_id, []).append((appeal, self.light(appeal)))
        for items in out.values():
            items.sort(key=lambda pair: (order[pair[1]], pair[0].id))
        return out

    def sla_scan(self) -> list[SlaAlert]:
        """Yellow reminds the department, red escalates to supervisors (督办); each level once."""
        alerts = []
        running = frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.REOPENED})
        for appeal in self.repo.list_appeals(statuses=running, limit=100_000):
            level = self.light(appeal)
            if level is None or level is Light.GREEN or appeal.alert_level == level.value:
                continue
            if appeal.alert_level == Light.RED.value:
                continue
            now = self.clock.now()
            action = "escalate" if level is Light.RED else "remind"
            event = self._event(SYSTEM, appeal.id, action, appeal.status, appeal.status, now, level.value, True)
            # the level is recorded with its alerts' outbox rows: an alert counts as sent once committed
            with self.repo.transaction():
                saved = self.repo.save(dataclasses.replace(appeal, alert_level=level.value), event)
                notices = tuple(notices_for(saved, None, alert=level))
                self._tell(saved, notices)
            alerts.append(SlaAlert(saved, level, notices))
        return alerts

    def auto_close(self) -> list[Outcome]:
        """Replied appeals the enterprise did not rate within the rating window close as unrated."""
        now = self.clock.now()
        out = []
        for appeal in self.repo.list_appeals(statuses=frozenset({Status.REPLIED}), limit=100_000):
            if appeal.rating_due is not None and appeal.rating_due < now:
                out.append(self._move(SYSTEM, appeal.id, Action.CLOSE, note="unrated", closed_at=now))
        return out

    # ---- internals ------------------------------------------------------------------------------
    def _resolve(self, ref: int | str) -> int:
        if isinstance(ref, int):
            return ref
        ref = ref.strip().upper()
        if ref.isascii() and ref.isdigit():  # "²" and "٣" are digits to str.isdigit, not to int()
            if len(ref) > 15:  # beyond any row id (and SQLite's integers): simply not found
                raise NotFound("no such appeal", ref=ref[:20])
            return int(ref)
        if len(ref) > 40:
            raise NotFound("no such appeal", ref=ref[:20])
        appeal = self.repo.find_appeal(ref)
        if appeal is None:
            raise NotFound("no such appeal", ref=ref)
        return appeal.id

    def _visible(self, actor: Actor, appeal_id: int) -> Appeal:
        """The appeal if this actor may see it; someone else's appeal looks exactly like a missing one."""
        appeal = self.repo.get_appeal(appeal_id)
        if appeal is None or not self._can_see(actor, appeal):
            raise NotFound("no such appeal", ref=appeal_id)
        return appeal

    @staticmethod
    def _can_see(actor: Actor, appeal: Appeal) -> bool:
        if actor.role in (Role.SUPERVISOR, Role.SYSTEM, Role.DISPATCHER):
            return True
        if actor.role is Role.ENTERPRISE:
            return actor.enterprise_id is not None and appeal.enterprise_id == actor.enterprise_id
        if actor.role is Role.HANDLER:
            # once returned, the appeal belongs to the dispatchers until it is dispatched again
            return actor.department_id is not None and appeal.department_id == actor.department_id \
                and appeal.status is not Status.RETURNED
        return False

    def _get(self, actor: Actor, appeal_id: int, action: Action) -> Appeal:
        appeal = self._visible(actor, appeal_id)
        if actor.role is None or action not in ROLE_ACTIONS.get(actor.role, frozenset()):
            raise NotAllowed(f"{actor.role} may not {action}")
        if actor.role is Role.ENTERPRISE and appeal.user_id != actor.user_id and action is Action.WITHDRAW:
            owner = self.repo.get_enterprise(appeal.enterprise_id)
            if owner is None or owner.owner_id != actor.user_id:
                raise NotAllowed("only the filer or the enterprise's owner may withdraw")
        return appeal

    def _move(
        self, actor: Actor, appeal_id: int, action: Action, note: str = "",
        adjust: Callable[[AppealEvent, list[Notice]], list[Notice]] | None = None, **changes: object,
    ) -> Outcome:
        """Apply one lifecycle step; the change, its event and its notices commit together.

        ``adjust`` may change who is told, before anything is written."""
        appeal = self._get(actor, appeal_id, action)
        new_status = next_status(appeal.status, action)  # raises before anything is written
        now = self.clock.now()
        new = dataclasses.replace(appeal, status=new_status, **changes)  # type: ignore[arg-type]
        event = self._event(actor, appeal.id, action, appeal.status, new_status, now, note)
        with self.repo.transaction():
            saved = self.repo.save(new, event)
            told = notices_for(saved, action)
            notices = tuple(adjust(event, told) if adjust is not None else told)
            self._tell(saved, notices)
        log.info("appeal %s: %s -> %s (%s)", saved.id, appeal.status, new_status, action)
        return Outcome(saved, event, notices)

    def announce(self, notices: Iterable[Notice]) -> int:
        """Queue notices outside a lifecycle step (e.g. the handover of a removed handler's appeals),
        each appeal's in one transaction with the appeal as it is now; returns the appeals told."""
        by_appeal: dict[int, list[Notice]] = {}
        for notice in notices:
            by_appeal.setdefault(notice.appeal_id, []).append(notice)
        for appeal_id, told in by_appeal.items():
            with self.repo.transaction():
                appeal = self.repo.get_appeal(appeal_id)
                if appeal is not None:
                    self._tell(appeal, told)
        return len(by_appeal)

    def _tell(self, appeal: Appeal, notices: Iterable[Notice], **extra: object) -> None:
        """Write one outbox row per notice and reader (inside the caller's transaction).

        The payload is the appeal as it is now, with its history (staff see internal notes, the
        enterprise does not); cards and 补充材料 notices are followed by their files, one row each.
        """
        notices = list(notices)
        if self.outbox is None or not notices:
            return
        event_id = self.repo.last_event_id()
        enterprise = self.repo.get_enterprise(appeal.enterprise_id)
        assert enterprise is not None
        events = tuple(self.repo.events(appeal.id))
        full = AppealView(appeal, enterprise, events, self.light(appeal))
        views = {True: dump_view(full),
                 False: dump_view(dataclasses.replace(full, events=tuple(e for e in events if not e.internal)))}
        langs: dict[int, str] = {}
        out: list[Outgoing] = []
        for notice in notices:
            audience, users, reason = readers(notice, appeal, self.repo)
            staff = audience not in (Audience.FILER, Audience.ENTERPRISE)
            payload = {"audience": audience.value, "view": views[staff], **extra}
            if reason is not None:  # shown on the message: why the center, not the department, hears of it
                payload["reason"] = reason
            files: tuple[Attachment, ...] = ()
            if notice.kind == "card":
                files = appeal.attachments
            elif notice.kind == "files":
                added = next((int(e.note or 0) for e in reversed(events) if e.action == "files"), 0)
                files = appeal.attachments[-added:] if added else ()
            for user_id in users:
                if user_id not in langs:
                    user = self.repo.get_user(user_id)
                    langs[user_id] = user.lang if user else "zh-CN"
                lang = langs[user_id]
                out.append(Outgoing(user_id, notice.kind, payload, lang, appeal.id, event_id))
                out += [Outgoing(user_id, "attachment", {"type": f.kind, "file_id": f.file_id,
                                                         "caption": appeal.number}, lang, appeal.id, event_id)
                        for f in files if f.kind in ("photo", "document")]  # a partner's media_url stays a link
        self.outbox.add(out)

    @staticmethod
    def _event(
        actor: Actor, appeal_id: int, action: str, before: Status | None, after: Status | None,
        now: datetime, note: str = "", internal: bool = False,
    ) -> AppealEvent:
        return AppealEvent(
            appeal_id=appeal_id, at=now, actor_id=actor.user_id, actor_role=actor.role or "",
            action=str(action), from_status=before.value if before else None,
            to_status=after.value if after else None, note=note, internal=internal,
        )
