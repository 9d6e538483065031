"""AppealService use cases over a real in-memory SQLite: routing, authorization, rating, SLA timers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import pytest

from appeals.errors import AppealError, InvalidInput, InvalidTransition, NotAllowed, NotFound
from appeals.lifecycle import Status
from appeals.model import Actor, Attachment, Role
from appeals.notices import Audience, Notice
from appeals.ports import ParseResult
from appeals.service import AppealService
from appeals.sla import Light
from config import Settings

from .conftest import TZ, World


def local(y: int, m: int, d: int, hh: int = 23, mm: int = 59, ss: int = 59) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=TZ)


def state(w: World, appeal_id: int) -> tuple[object, int]:
    return w.repo.get_appeal(appeal_id), w.event_count(appeal_id)


def replied(w: World) -> int:
    appeal = w.file()
    w.svc.accept(w.actors["tax"], appeal.id)
    w.svc.reply(w.actors["tax"], appeal.id, "已为贵司办理发票增量，请查收")
    return appeal.id


# ---- intake and routing -------------------------------------------------------------------------

def test_confident_appeal_is_dispatched_to_its_department(world: World) -> None:
    w = world
    sub = w.svc.submit(w.actors["ent_a"], "  增值税专用发票开不出来  ",
                       attachments=[Attachment("photo", "AgAD-photo-1")])
    a = sub.appeal
    assert a.id > 0 and a.number == "ZQ20261125-0001"
    assert a.status is Status.DISPATCHED and a.department_id == "tax" and a.category == "tax"
    assert a.text == "增值税专用发票开不出来"
    assert a.dispatched_at == w.clock.now()
    assert a.accept_due == local(2026, 11, 26) and a.reply_due == local(2026, 12, 2)
    assert a.attachments == (Attachment("photo", "AgAD-photo-1"),)
    assert sub.decision.automatic and not sub.duplicate
    assert sub.notices == (Notice(Audience.DEPARTMENT, "card", a.id),)
    history = w.repo.events(a.id)
    assert [(e.action, e.from_status, e.to_status) for e in history] == [
        ("submit", None, "submitted"), ("dispatch", "submitted", "dispatched")]
    # committed: a second repository over the same connection sees it
    assert w.repo.find_appeal("ZQ20261125-0001") == a


def test_threshold_is_inclusive(world: World, settings: Settings) -> None:
    threshold = settings.routing.threshold_for(ParseResult(()))
    a = world.file(ranking=(("tax", threshold), ("finance", 0.3)))
    assert a.status is Status.DISPATCHED and a.department_id == "tax"


def test_below_threshold_goes_to_the_dispatcher_queue_with_suggestions(world: World, settings: Settings) -> None:
    w = world
    below = settings.routing.threshold_for(ParseResult(())) - 0.01
    w.classifier.answer(("tax", below), ("other", 0.2), ("finance", 0.15), ("labor", 0.1), ("land", 0.05))
    sub = w.svc.submit(w.actors["ent_a"], "有个问题想咨询一下")
    a = sub.appeal
    assert a.status is Status.SUBMITTED
    assert a.department_id is None and a.dispatched_at is None and a.reply_due is None
    assert a.category == "tax"  # the best guess is kept for the dispatcher
    assert not sub.decision.automatic
    # top three suggestions that have a department ("other" has none)
    assert [s.category for s in sub.decision.suggestions] == ["tax", "finance", "labor"]
    assert sub.notices == (Notice(Audience.DISPATCHERS, "triage", a.id),)
    assert [e.to_status for e in w.repo.events(a.id)] == ["submitted"]
    assert [x.id for x in w.svc.listing(w.actors["dispatcher"])] == [a.id]


def test_category_without_department_goes_to_the_queue(world: World) -> None:
    a = world.file(ranking=(("other", 0.97), ("tax", 0.02)))
    assert a.status is Status.SUBMITTED and a.department_id is None and a.category == "other"


def test_unknown_categories_from_the_model_are_ignored(world: World) -> None:
    a = world.file(ranking=(("weather", 0.99), ("finance", 0.8)))
    assert a.status is Status.DISPATCHED and a.department_id == "finance"


def test_classifier_down_still_saves_the_appeal_to_the_queue(world: World) -> None:
    w = world
    w.classifier.down = True
    sub = w.svc.submit(w.actors["ent_a"], "贷款审批太慢了，能否加快", source_update_id=77)
    saved = w.repo.get_appeal(sub.appeal.id)
    assert saved is not None and saved.status is Status.SUBMITTED
    assert saved.category is None and saved.department_id is None
    assert sub.notices == (Notice(Audience.DISPATCHERS, "triage", saved.id),)
    assert w.repo.find_by_update(77) == saved


def test_submit_is_idempotent_per_update_id(world: World) -> None:
    w = world
    first = w.svc.submit(w.actors["ent_a"], "增值税发票问题", source_update_id=1001)
    again = w.svc.submit(w.actors["ent_a"], "增值税发票问题", source_update_id=1001)
    assert again.duplicate and again.appeal.id == first.appeal.id and again.notices == ()
    assert again.decision.department_id == "tax"
    assert len(w.classifier.calls) == 1
    assert len(w.repo.list_appeals(enterprise_id=w.actors["ent_a"].enterprise_id)) == 1
    other = w.svc.submit(w.actors["ent_a"], "增值税发票问题", source_update_id=1002)
    assert other.appeal.number == "ZQ20261125-0002"


@pytest.mark.parametrize(("text", "key"), [
    ("", "error.empty_text"), ("   \n ", "error.empty_text"), (None, "error.empty_text"),
    ("😀😀🙏", "error.no_words"), ("？！", "error.no_words"),
    ("税" * 10_001, "error.text_too_long"),
])
def test_bad_text_is_refused_and_nothing_is_saved(world: World, text: str | None, key: str) -> None:
    with pytest.raises(InvalidInput) as err:
        world.svc.submit(world.actors["ent_a"], text, source_update_id=5)
    assert err.value.key == key
    assert world.repo.list_appeals() == [] and world.repo.find_by_update(5) is None


def test_exactly_the_limit_is_accepted(world: World) -> None:
    assert len(world.file(text="税" * 10_000).text) == 10_000


@pytest.mark.parametrize("who", ["tax", "dispatcher", "supervisor", "stranger"])
def test_only_registered_enterprises_file(world: World, who: str) -> None:
    actor = world.reg.actor(555) if who == "stranger" else world.actors[who]
    with pytest.raises(NotAllowed):
        world.svc.submit(actor, "我要反映一个问题")
    assert world.repo.list_appeals() == []


# ---- authorization --------------------------------------------------------------------------------

def test_enterprise_cannot_see_or_touch_another_enterprises_appeal(world: World) -> None:
    w = world
    a = w.file("ent_a")
    b = w.actors["ent_b"]
    before = state(w, a.id)
    attempts: list[Callable[[], object]] = [
        lambda: w.svc.view(b, a.id), lambda: w.svc.view(b, a.number), lambda: w.svc.view(b, str(a.id)),
        lambda: w.svc.message(b, a.id, "请问进展如何"), lambda: w.svc.withdraw(b, a.id),
        lambda: w.svc.rate(b, a.id, 1), lambda: w.svc.dispatch(b, a.id, "finance"),
    ]
    for attempt in attempts:
        with pytest.raises(NotFound) as err:
            attempt()
        # the same answer as for an appeal that does not exist
        with pytest.raises(NotFound) as missing:
            w.svc.view(b, a.id + 999)
        assert (type(err.value), err.value.key) == (type(missing.value), missing.value.key)
    assert state(w, a.id) == before
    assert w.svc.listing(b) == []
    with pytest.raises(NotFound):
        w.svc.view(b, "ZQ20991231-0001")


def test_handler_of_another_department_cannot_accept(world: World) -> None:
    w = world
    a = w.file()  # tax
    before = state(w, a.id)
    with pytest.raises(NotFound):
        w.svc.accept(w.actors["finance"], a.id)
    with pytest.raises(NotFound):
        w.svc.view(w.actors["finance"], a.id)
    assert state(w, a.id) == before
    assert w.svc.listing(w.actors["finance"]) == []
    assert [x.id for x in w.svc.listing(w.actors["tax"])] == [a.id]


@pytest.mark.parametrize("who", ["ent_a", "dispatcher"])
def test_only_handlers_and_supervisors_accept(world: World, who: str) -> None:
    w = world
    a = w.file()
    before = state(w, a.id)
    with pytest.raises(NotAllowed):
        w.svc.accept(w.actors[who], a.id)
    assert state(w, a.id) == before
    assert w.svc.accept(w.actors["supervisor"], a.id).appeal.status is Status.ACCEPTED


def test_dispatcher_cannot_reroute_a_dispatched_appeal(world: World) -> None:
    w = world
    a = w.file()
    before = state(w, a.id)
    with pytest.raises(NotAllowed):
        w.svc.dispatch(w.actors["dispatcher"], a.id, "finance")
    assert state(w, a.id) == before
    moved = w.svc.dispatch(w.actors["supervisor"], a.id, "finance").appeal
    assert moved.department_id == "finance" and moved.status is Status.DISPATCHED


def test_dispatch_to_a_category_without_department_is_refused(world: World) -> None:
    w = world
    a = w.file(ranking=(("tax", 0.1),))
    before = state(w, a.id)
    with pytest.raises(InvalidInput):
        w.svc.dispatch(w.actors["dispatcher"], a.id, "other")
    with pytest.raises(InvalidInput) as err:  # a forged category is bad input, not a missing appeal
        w.svc.dispatch(w.actors["dispatcher"], a.id, "no-such-category")
    assert err.value.key == "error.bad_category"
    assert state(w, a.id) == before


def test_dispatcher_routes_a_queued_appeal(world: World) -> None:
    w = world
    a = w.file(ranking=(("tax", 0.1),))
    out = w.svc.dispatch(w.actors["dispatcher"], a.id, "finance")
    assert out.appeal.status is Status.DISPATCHED and out.appeal.department_id == "finance"
    assert out.appeal.accept_due == local(2026, 11, 26)
    # the department gets the card; the enterprise hears where the center sent its appeal
    assert out.notices == (Notice(Audience.DEPARTMENT, "card", a.id), Notice(Audience.ENTERPRISE, "routed", a.id))
    assert w.repo.feedback_examples() == [(a.text, "finance", "dispatch")]


@pytest.mark.parametrize("who", ["tax", "dispatcher", "ent_a"])
def test_only_supervisors_decide_extensions(world: World, who: str) -> None:
    w = world
    a = w.file()
    w.svc.accept(w.actors["tax"], a.id)
    w.svc.request_extension(w.actors["tax"], a.id, 3, "需要现场核查")
    before = state(w, a.id)
    for approve in (True, False):
        with pytest.raises(NotAllowed):
            w.svc.decide_extension(w.actors[who], a.id, approve)
    assert state(w, a.id) == before


def test_enterprise_cannot_post_internal_notes(world: World) -> None:
    a = world.file()
    with pytest.raises(NotAllowed):
        world.svc.message(world.actors["ent_a"], a.id, "内部备注", internal=True)


# ---- the department's work ----------------------------------------------------------------------

@pytest.mark.parametrize("reason", [None, "", "   ", "。", "😀"])
def test_return_requires_a_reason(world: World, reason: str | None) -> None:
    w = world
    a = w.file()
    before = state(w, a.id)
    with pytest.raises(InvalidInput) as err:
        w.svc.return_(w.actors["tax"], a.id, reason)
    assert err.value.key == "error.reason_required"
    assert state(w, a.id) == before


def test_return_goes_back_to_the_queue_and_redispatch_writes_feedback(world: World) -> None:
    w = world
    a = w.file()
    out = w.svc.return_(w.actors["tax"], a.id, "属于金融局职责")
    assert out.appeal.status is Status.RETURNED
    assert out.event.note == "属于金融局职责"
    assert out.notices == (Notice(Audience.DISPATCHERS, "triage", a.id),)
    assert [x.id for x in w.svc.listing(w.actors["dispatcher"])] == [a.id]
    again = w.svc.dispatch(w.actors["dispatcher"], a.id, "finance")
    assert again.appeal.department_id == "finance"
    assert w.repo.feedback_examples() == [(a.text, "finance", "return")]


def test_enterprise_correction_writes_feedback_and_is_closed_after_acceptance(world: World) -> None:
    w = world
    a = w.file()
    out = w.svc.dispatch(w.actors["ent_a"], a.id, "finance")
    assert out.appeal.department_id == "finance" and out.appeal.status is Status.DISPATCHED
    assert w.repo.feedback_examples() == [(a.text, "finance", "correction")]
    w.svc.accept(w.actors["finance"], a.id)
    before = state(w, a.id)
    with pytest.raises(InvalidInput):
        w.svc.dispatch(w.actors["ent_a"], a.id, "tax")
    assert state(w, a.id) == before
    assert len(w.repo.feedback_examples()) == 1


def test_reply_sets_the_rating_window_and_tells_the_enterprise(world: World) -> None:
    w = world
    appeal_id = replied(w)
    a = w.repo.get_appeal(appeal_id)
    assert a is not None and a.status is Status.REPLIED
    assert a.replied_at == w.clock.now() and a.rating_due == local(2026, 11, 30)
    last = w.repo.events(appeal_id)[-1]
    assert last.action == "reply" and last.note == "已为贵司办理发票增量，请查收" and not last.internal


# ---- 好差评 -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("score", [5, 4, 3])
def test_good_rating_closes(world: World, score: int) -> None:
    w = world
    appeal_id = replied(w)
    w.clock.advance(hours=2)
    out = w.svc.rate(w.actors["ent_a"], appeal_id, score)
    assert out.appeal.status is Status.CLOSED and out.appeal.rating == score
    assert out.appeal.closed_at == w.clock.now() and out.appeal.reopen_count == 0
    assert out.notices == (Notice(Audience.DEPARTMENT, "rated", appeal_id),)


@pytest.mark.parametrize("score", [2, 1])
def test_poor_rating_reopens_with_new_deadlines(world: World, score: int) -> None:
    w = world
    appeal_id = replied(w)
    old = w.repo.get_appeal(appeal_id)
    assert old is not None
    w.clock.current = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)  # Friday
    out = w.svc.rate(w.actors["ent_a"], appeal_id, score)
    a = out.appeal
    assert a.status is Status.REOPENED and a.rating == score and a.reopen_count == 1
    assert a.closed_at is None and a.replied_at is None
    assert a.dispatched_at == w.clock.now()
    assert a.accept_due == local(2026, 11, 30)  # next working day after Friday is Monday
    assert a.reply_due == local(2026, 12, 4)
    assert a.reply_due != old.reply_due
    assert Notice(Audience.SUPERVISORS, "poor_rating", appeal_id) in out.notices
    assert Notice(Audience.DEPARTMENT, "card", appeal_id) in out.notices
    # 重办: the handler works it again and the enterprise rates again
    w.svc.accept(w.actors["tax"], appeal_id)
    w.svc.reply(w.actors["tax"], appeal_id, "重新核查后已办理")
    final = w.svc.rate(w.actors["ent_a"], appeal_id, 5).appeal
    assert final.status is Status.CLOSED and final.rating == 5 and final.reopen_count == 1


def test_rating_twice_is_refused(world: World) -> None:
    w = world
    appeal_id = replied(w)
    w.svc.rate(w.actors["ent_a"], appeal_id, 5)
    before = state(w, appeal_id)
    for score in (4, 1):
        with pytest.raises(InvalidInput) as err:
            w.svc.rate(w.actors["ent_a"], appeal_id, score)
        assert err.value.key == "error.already_rated"
    assert state(w, appeal_id) == before


@pytest.mark.parametrize("score", [0, 6, -1])
def test_rating_out_of_range(world: World, score: int) -> None:
    w = world
    appeal_id = replied(w)
    before = state(w, appeal_id)
    with pytest.raises(InvalidInput):
        w.svc.rate(w.actors["ent_a"], appeal_id, score)
    assert state(w, appeal_id) == before


def test_rating_before_a_reply_is_refused(world: World) -> None:
    a = world.file()
    with pytest.raises(InvalidTransition):
        world.svc.rate(world.actors["ent_a"], a.id, 5)


def test_a_handler_closed_appeal_can_still_be_rated_once(world: World) -> None:
    w = world
    appeal_id = replied(w)
    w.svc.close(w.actors["tax"], appeal_id)
    out = w.svc.rate(w.actors["ent_a"], appeal_id, 4)
    assert out.appeal.status is Status.CLOSED and out.appeal.rating == 4
    with pytest.raises(InvalidInput):
        w.svc.rate(w.actors["ent_a"], appeal_id, 3)


def test_rerated_after_reopen_and_handler_close(world: World) -> None:
    """A poor rating, 重办, a new reply and 办结: the enterprise rates the new reply."""
    w = world
    appeal_id = replied(w)
    w.clock.advance(hours=1)
    w.svc.rate(w.actors["ent_a"], appeal_id, 1)
    w.clock.advance(hours=1)
    w.svc.accept(w.actors["tax"], appeal_id)
    w.svc.reply(w.actors["tax"], appeal_id, "重新办理完毕")
    w.clock.advance(hours=1)
    w.svc.close(w.actors["tax"], appeal_id)
    w.clock.advance(hours=1)
    out = w.svc.rate(w.actors["ent_a"], appeal_id, 5)
    assert out.appeal.status is Status.CLOSED and out.appeal.rating == 5


# ---- the enterprise's side -----------------------------------------------------------------------

def test_withdraw_before_reply(world: World) -> None:
    w = world
    a = w.file()
    w.svc.accept(w.actors["tax"], a.id)
    out = w.svc.withdraw(w.actors["ent_a"], a.id)
    assert out.appeal.status is Status.WITHDRAWN and out.appeal.closed_at == w.clock.now()
    assert out.notices == (Notice(Audience.DEPARTMENT, "withdrawn", a.id),)


def test_withdraw_after_reply_is_refused(world: World) -> None:
    w = world
    appeal_id = replied(w)
    before = state(w, appeal_id)
    with pytest.raises(InvalidTransition):
        w.svc.withdraw(w.actors["ent_a"], appeal_id)
    assert state(w, appeal_id) == before


def test_handler_cannot_withdraw(world: World) -> None:
    a = world.file()
    with pytest.raises(NotAllowed):
        world.svc.withdraw(world.actors["tax"], a.id)


def test_follow_up_messages_reach_the_right_people(world: World) -> None:
    w = world
    a = w.file()
    out = w.svc.message(w.actors["ent_a"], a.id, "补充一下：发票号码是 No.123")
    assert out.notices == (Notice(Audience.DEPARTMENT, "message", a.id),)
    back = w.svc.message(w.actors["tax"], a.id, "收到，正在核查")
    assert back.notices == (Notice(Audience.ENTERPRISE, "message", a.id),)
    queued = w.file(ranking=(("tax", 0.1),))
    q = w.svc.message(w.actors["ent_a"], queued.id, "请尽快分派")
    assert q.notices == (Notice(Audience.DISPATCHERS, "message", queued.id),)
    notes = [e.note for e in w.repo.events(a.id) if e.action == "message"]
    assert notes == ["补充一下：发票号码是 No.123", "收到，正在核查"]


def test_follow_up_on_a_closed_appeal_is_refused(world: World) -> None:
    w = world
    appeal_id = replied(w)
    w.svc.rate(w.actors["ent_a"], appeal_id, 5)
    before = state(w, appeal_id)
    with pytest.raises(InvalidInput) as err:
        w.svc.message(w.actors["ent_a"], appeal_id, "还有一个问题")
    assert err.value.key == "error.appeal_finished"
    assert state(w, appeal_id) == before


def test_internal_notes_are_hidden_from_the_enterprise(world: World) -> None:
    w = world
    a = w.file()
    note = w.svc.message(w.actors["tax"], a.id, "内部：该企业上月已反映过类似问题", internal=True)
    assert note.notices == () and note.event.internal
    enterprise_view = w.svc.view(w.actors["ent_a"], a.number)
    staff_view = w.svc.view(w.actors["tax"], a.id)
    assert all("内部" not in e.note for e in enterprise_view.events)
    assert any(e.note == "内部：该企业上月已反映过类似问题" for e in staff_view.events)
    assert len(staff_view.events) == len(enterprise_view.events) + 1
    assert enterprise_view.enterprise.name == "肇庆甲制造有限公司"
    assert enterprise_view.light is Light.GREEN


def test_listing_is_scoped(world: World) -> None:
    w = world
    a1 = w.file("ent_a")
    b1 = w.file("ent_b", ranking=(("finance", 0.9),))
    q = w.file("ent_b", ranking=(("tax", 0.1),))
    assert [x.id for x in w.svc.listing(w.actors["ent_a"])] == [a1.id]
    assert [x.id for x in w.svc.listing(w.actors["ent_b"])] == [q.id, b1.id]
    assert [x.id for x in w.svc.listing(w.actors["finance"])] == [b1.id]
    assert [x.id for x in w.svc.listing(w.actors["dispatcher"])] == [q.id]
    assert {x.id for x in w.svc.listing(w.actors["supervisor"])} == {a1.id, b1.id, q.id}
    with pytest.raises(NotAllowed):
        w.svc.listing(w.reg.actor(777))


# ---- timers ------------------------------------------------------------------------------------------

def test_sla_scan_yellow_then_red_each_once(world: World) -> None:
    w = world
    a = w.file()  # dispatched Wed 10:00, accept due Thu 23:59:59
    assert w.svc.sla_scan() == []
    w.clock.current = datetime(2026, 11, 26, 12, 0, tzinfo=TZ)  # 26 h of 38 h: still green
    assert w.svc.sla_scan() == []
    w.clock.current = datetime(2026, 11, 26, 17, 0, tzinfo=TZ)  # 31 h of 38 h: over 80 %
    alerts = w.svc.sla_scan()
    assert [(x.appeal.id, x.light) for x in alerts] == [(a.id, Light.YELLOW)]
    assert alerts[0].notices == (Notice(Audience.DEPARTMENT, "sla_yellow", a.id),)
    assert w.svc.sla_scan() == []
    w.clock.current = datetime(2026, 11, 27, 0, 30, tzinfo=TZ)
    alerts = w.svc.sla_scan()
    assert [(x.appeal.id, x.light) for x in alerts] == [(a.id, Light.RED)]
    assert set(alerts[0].notices) == {Notice(Audience.DEPARTMENT, "sla_red", a.id),
                                      Notice(Audience.SUPERVISORS, "sla_red", a.id)}
    w.clock.advance(days=3)
    assert w.svc.sla_scan() == []
    kinds = [(e.action, e.internal) for e in w.repo.events(a.id) if e.action in ("remind", "escalate")]
    assert kinds == [("remind", True), ("escalate", True)]
    assert all(e.action not in ("remind", "escalate") for e in w.svc.view(w.actors["ent_a"], a.id).events)


def test_sla_scan_straight_to_red(world: World) -> None:
    w = world
    a = w.file()
    w.clock.current = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
    assert [x.light for x in w.svc.sla_scan()] == [Light.RED]
    assert w.svc.sla_scan() == []
    assert w.repo.get_appeal(a.id).alert_level == "red"  # type: ignore[union-attr]


def test_reply_deadline_gets_its_own_reminder_after_acceptance(world: World) -> None:
    w = world
    a = w.file()
    w.clock.current = datetime(2026, 11, 26, 17, 0, tzinfo=TZ)
    assert [x.light for x in w.svc.sla_scan()] == [Light.YELLOW]  # accept deadline near
    w.svc.accept(w.actors["tax"], a.id)
    w.clock.current = datetime(2026, 12, 2, 12, 0, tzinfo=TZ)  # reply due Wed 2 Dec 23:59:59
    assert [x.light for x in w.svc.sla_scan()] == [Light.YELLOW]
    w.clock.current = datetime(2026, 12, 3, 9, 0, tzinfo=TZ)
    assert [x.light for x in w.svc.sla_scan()] == [Light.RED]


def test_extension_moves_reply_due_once(world: World) -> None:
    w = world
    a = w.file()
    w.svc.accept(w.actors["tax"], a.id)
    for days in (0, 6):
        with pytest.raises(InvalidInput):
            w.svc.request_extension(w.actors["tax"], a.id, days, "需要现场核查")
    with pytest.raises(InvalidInput):
        w.svc.request_extension(w.actors["tax"], a.id, 3, "  ")
    req = w.svc.request_extension(w.actors["tax"], a.id, 3, "需要现场核查")
    assert req.appeal.extension_status == "requested" and req.appeal.reply_due == local(2026, 12, 2)
    assert req.notices == (Notice(Audience.SUPERVISORS, "extension_request", a.id),)
    with pytest.raises(InvalidInput):
        w.svc.request_extension(w.actors["tax"], a.id, 2, "再延一次")
    ok = w.svc.decide_extension(w.actors["supervisor"], a.id, True)
    assert ok.appeal.extension_status == "approved"
    assert ok.appeal.reply_due == local(2026, 12, 7)  # Wed 2 Dec + 3 working days
    assert ok.notices == (Notice(Audience.DEPARTMENT, "extension_decided", a.id),)
    late: list[Callable[[], object]] = [lambda: w.svc.decide_extension(w.actors["supervisor"], a.id, True),
                                        lambda: w.svc.request_extension(w.actors["tax"], a.id, 3, "还需要时间")]
    for attempt in late:
        with pytest.raises(InvalidInput):
            attempt()
    assert w.repo.get_appeal(a.id).reply_due == local(2026, 12, 7)  # type: ignore[union-attr]


def test_denied_extension_keeps_the_deadline(world: World) -> None:
    w = world
    a = w.file()
    w.svc.accept(w.actors["tax"], a.id)
    w.svc.request_extension(w.actors["tax"], a.id, 5, "需要多部门会商")
    out = w.svc.decide_extension(w.actors["supervisor"], a.id, False)
    assert out.appeal.extension_status == "denied" and out.appeal.reply_due == local(2026, 12, 2)
    with pytest.raises(InvalidInput):
        w.svc.request_extension(w.actors["tax"], a.id, 2, "再申请一次")


def test_auto_close_after_the_rating_window(world: World) -> None:
    w = world
    appeal_id = replied(w)  # rating due Mon 30 Nov 23:59:59
    rated_id = replied(w)
    w.svc.rate(w.actors["ent_a"], rated_id, 4)
    w.clock.current = datetime(2026, 11, 30, 20, 0, tzinfo=TZ)
    assert w.svc.auto_close() == []
    w.clock.current = datetime(2026, 12, 1, 0, 5, tzinfo=TZ)
    out = w.svc.auto_close()
    assert [(o.appeal.id, o.appeal.status) for o in out] == [(appeal_id, Status.CLOSED)]
    assert out[0].event.note == "unrated" and out[0].event.actor_role == Role.SYSTEM
    assert out[0].appeal.rating is None and out[0].appeal.closed_at == w.clock.now()
    assert w.svc.auto_close() == []


def test_errors_carry_message_keys(world: World) -> None:
    """Every refusal the bot shows has a key for the text catalogue."""
    for err in (NotFound("x"), NotAllowed("x"), InvalidTransition("closed", "accept"), InvalidInput("error.k")):
        assert isinstance(err, AppealError) and err.key.startswith("error.")


def test_actor_without_role_is_refused(world: World) -> None:
    a = world.file()
    nobody = Actor(user_id=12345)
    with pytest.raises(NotFound):
        world.svc.view(nobody, a.id)


def test_per_category_deadlines_apply_on_dispatch_and_on_reopen(world: World) -> None:
    """config.yml may give a category its own accept/reply days; 重办 restarts with the same limits."""
    w = world
    cats = tuple(replace(c, accept_days=2, reply_days=3) if c.id == "policy" else c
                 for c in w.settings.routing.categories)
    svc = AppealService(w.repo, w.classifier, replace(w.settings.routing, categories=cats), w.settings.sla,
                        w.svc.calendar, TZ, w.clock)
    w.classifier.answer(("policy", 0.9))
    a = svc.submit(w.actors["ent_a"], "高新技术企业补贴什么时候兑现").appeal  # Wed 25 Nov
    assert (a.department_id, a.accept_due, a.reply_due) == ("data", local(2026, 11, 27), local(2026, 11, 30))
    data = w.staff(303, Role.HANDLER, "data")
    svc.accept(data, a.id)
    svc.reply(data, a.id, "补贴将于下月发放")
    w.clock.current = datetime(2026, 11, 30, 9, 0, tzinfo=TZ)  # Monday
    again = svc.rate(w.actors["ent_a"], a.id, 2).appeal
    assert (again.accept_due, again.reply_due) == (local(2026, 12, 2), local(2026, 12, 3))


def test_follow_up_on_a_returned_appeal_reaches_the_dispatchers(world: World) -> None:
    """Once returned, the appeal is back with the dispatchers; the department that returned it is done."""
    w = world
    a = w.file()
    w.svc.return_(w.actors["tax"], a.id, "不属于本局职责")
    out = w.svc.message(w.actors["ent_a"], a.id, "那应该找哪个部门？")
    assert out.notices == (Notice(Audience.DISPATCHERS, "message", a.id),)


def test_automatic_dispatch_is_recorded_as_the_systems_act(world: World) -> None:
    """History must tell an NLU dispatch from an enterprise correction (both are "dispatch")."""
    w = world
    a = w.file()
    submit, dispatch = w.repo.events(a.id)
    assert (submit.actor_role, submit.actor_id) == (Role.ENTERPRISE, 101)
    assert (dispatch.actor_role, dispatch.note) == (Role.SYSTEM, "auto")
    w.svc.dispatch(w.actors["ent_a"], a.id, "finance")
    assert w.repo.events(a.id)[-1].actor_role == Role.ENTERPRISE


@pytest.mark.parametrize("decided", [True, False])
def test_redispatch_after_return_starts_a_fresh_extension_allowance(world: World, decided: bool) -> None:
    """An extension belongs to one department's round: after 退回 and re-dispatch it neither carries over
    (blocking the new department) nor stays pending for a supervisor to approve against the new deadline."""
    w = world
    a = w.file()
    w.svc.accept(w.actors["tax"], a.id)
    w.svc.request_extension(w.actors["tax"], a.id, 5, "需要多部门会商")
    if decided:
        w.svc.decide_extension(w.actors["supervisor"], a.id, True)
    w.svc.return_(w.actors["tax"], a.id, "应由金融局办理")
    again = w.svc.dispatch(w.actors["dispatcher"], a.id, "finance").appeal
    assert (again.extension_status, again.extension_days, again.extension_reason) == (None, None, None)
    w.svc.accept(w.actors["finance"], a.id)
    with pytest.raises(InvalidInput):
        w.svc.decide_extension(w.actors["supervisor"], a.id, True)
    out = w.svc.request_extension(w.actors["finance"], a.id, 2, "需要补充材料")
    assert out.appeal.extension_status == "requested"
