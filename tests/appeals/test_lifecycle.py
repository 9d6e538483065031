"""The transition table, exhaustively: every state x every move, against the moves DESIGN.md asks for."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from appeals.errors import InvalidTransition
from appeals.lifecycle import OPEN, TERMINAL, TRANSITIONS, TRIAGE, Action, Status, allowed_actions, next_status
from appeals.service import Outcome

from .conftest import World

S, A = Status, Action

# The specification, written out independently of appeals/lifecycle.py (DESIGN.md "Appeal lifecycle").
SPEC: dict[tuple[Status, Action], Status] = {
    # submitted -> dispatched (by NLU or a dispatcher); a correction before 签收 re-dispatches
    (S.SUBMITTED, A.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, A.DISPATCH): S.DISPATCHED,
    # dispatched|accepted -> returned (退回) -> dispatched; a reopened appeal may be returned too
    (S.DISPATCHED, A.RETURN): S.RETURNED,
    (S.ACCEPTED, A.RETURN): S.RETURNED,
    (S.REOPENED, A.RETURN): S.RETURNED,
    (S.RETURNED, A.DISPATCH): S.DISPATCHED,
    # 签收, 答复
    (S.DISPATCHED, A.ACCEPT): S.ACCEPTED,
    (S.REOPENED, A.ACCEPT): S.ACCEPTED,
    (S.ACCEPTED, A.REPLY): S.REPLIED,
    # replied -> closed (rated 5/4/3, or 办结 / unrated after the window); 2/1 reopen
    (S.REPLIED, A.CLOSE): S.CLOSED,
    (S.REPLIED, A.RATE_GOOD): S.CLOSED,
    (S.REPLIED, A.RATE_POOR): S.REOPENED,
    # a rating may still arrive after 办结
    (S.CLOSED, A.RATE_GOOD): S.CLOSED,
    (S.CLOSED, A.RATE_POOR): S.REOPENED,
    # withdrawn before a reply
    (S.SUBMITTED, A.WITHDRAW): S.WITHDRAWN,
    (S.DISPATCHED, A.WITHDRAW): S.WITHDRAWN,
    (S.ACCEPTED, A.WITHDRAW): S.WITHDRAWN,
    (S.RETURNED, A.WITHDRAW): S.WITHDRAWN,
    # extension: requested and decided while the appeal is being handled; the state stays
    (S.ACCEPTED, A.REQUEST_EXTENSION): S.ACCEPTED,
    (S.ACCEPTED, A.APPROVE_EXTENSION): S.ACCEPTED,
    (S.ACCEPTED, A.DENY_EXTENSION): S.ACCEPTED,
}

REQUIRED = [
    (S.SUBMITTED, A.DISPATCH, S.DISPATCHED),
    (S.DISPATCHED, A.RETURN, S.RETURNED),
    (S.ACCEPTED, A.RETURN, S.RETURNED),
    (S.RETURNED, A.DISPATCH, S.DISPATCHED),
    (S.DISPATCHED, A.ACCEPT, S.ACCEPTED),
    (S.ACCEPTED, A.REPLY, S.REPLIED),
    (S.REPLIED, A.RATE_GOOD, S.CLOSED),
    (S.REPLIED, A.CLOSE, S.CLOSED),
    (S.REPLIED, A.RATE_POOR, S.REOPENED),
    (S.REOPENED, A.ACCEPT, S.ACCEPTED),
    (S.SUBMITTED, A.WITHDRAW, S.WITHDRAWN),
    (S.DISPATCHED, A.WITHDRAW, S.WITHDRAWN),
    (S.ACCEPTED, A.WITHDRAW, S.WITHDRAWN),
    (S.ACCEPTED, A.REQUEST_EXTENSION, S.ACCEPTED),
    (S.ACCEPTED, A.APPROVE_EXTENSION, S.ACCEPTED),
    (S.ACCEPTED, A.DENY_EXTENSION, S.ACCEPTED),
]


@pytest.mark.parametrize(("status", "action"), list(itertools.product(Status, Action)),
                         ids=lambda v: str(v))
def test_every_state_and_move(status: Status, action: Action) -> None:
    expected = SPEC.get((status, action))
    if expected is None:
        with pytest.raises(InvalidTransition) as err:
            next_status(status, action)
        assert (err.value.status, err.value.action) == (status.value, action.value)
        assert action not in allowed_actions(status)
    else:
        assert next_status(status, action) is expected
        assert action in allowed_actions(status)


def test_table_has_nothing_beyond_the_spec() -> None:
    assert set(TRANSITIONS) == set(SPEC)


@pytest.mark.parametrize(("before", "action", "after"), REQUIRED, ids=lambda v: str(v))
def test_design_moves_exist(before: Status, action: Action, after: Status) -> None:
    assert next_status(before, action) is after


def test_withdrawal_and_reply_are_final_for_the_enterprise() -> None:
    assert allowed_actions(S.WITHDRAWN) == frozenset()
    for status in (S.REPLIED, S.CLOSED, S.REOPENED, S.WITHDRAWN):
        with pytest.raises(InvalidTransition):
            next_status(status, A.WITHDRAW)


def test_every_state_is_reachable_from_submitted() -> None:
    seen, frontier = {S.SUBMITTED}, [S.SUBMITTED]
    while frontier:
        here = frontier.pop()
        for action in allowed_actions(here):
            there = next_status(here, action)
            if there not in seen:
                seen.add(there)
                frontier.append(there)
    assert seen == set(Status)


def test_state_sets() -> None:
    assert {S.CLOSED, S.WITHDRAWN} == TERMINAL
    assert OPEN.isdisjoint(TERMINAL) and set(Status) == OPEN | TERMINAL
    assert {S.SUBMITTED, S.RETURNED} == TRIAGE


# ---- through the service: an illegal move raises and writes nothing ---------------------------------

def _snapshot(world: World, appeal_id: int) -> tuple[object, int]:
    appeal = world.repo.get_appeal(appeal_id)
    return appeal, world.event_count(appeal_id)


def test_illegal_moves_through_the_service_change_nothing(world: World) -> None:
    w = world
    appeal = w.file()
    assert appeal.status is S.DISPATCHED
    before = _snapshot(w, appeal.id)
    illegal: list[Callable[[], object]] = [
        lambda: w.svc.reply(w.actors["tax"], appeal.id, "已经处理完毕，请查收"),  # not accepted yet
        lambda: w.svc.close(w.actors["tax"], appeal.id),
        lambda: w.svc.rate(w.actors["ent_a"], appeal.id, 5),
        lambda: w.svc.request_extension(w.actors["tax"], appeal.id, 3, "需要现场核查"),
    ]
    for attempt in illegal:
        with pytest.raises(InvalidTransition):
            attempt()
        assert _snapshot(w, appeal.id) == before

    w.svc.accept(w.actors["tax"], appeal.id)
    w.svc.reply(w.actors["tax"], appeal.id, "已为贵司办理发票增量，请查收")
    before = _snapshot(w, appeal.id)
    again: list[Callable[[], object]] = [
        lambda: w.svc.accept(w.actors["tax"], appeal.id),
        lambda: w.svc.withdraw(w.actors["ent_a"], appeal.id),
        lambda: w.svc.reply(w.actors["tax"], appeal.id, "再答复一次可以吗"),
        lambda: w.svc.dispatch(w.actors["supervisor"], appeal.id, "finance"),
    ]
    for attempt in again:
        with pytest.raises(InvalidTransition):
            attempt()
        assert _snapshot(w, appeal.id) == before


def test_every_legal_move_appends_one_event(world: World) -> None:
    w = world
    appeal = w.file(ranking=(("tax", 0.2),))
    assert appeal.status is S.SUBMITTED
    steps: list[Callable[[], Outcome]] = [
        lambda: w.svc.dispatch(w.actors["dispatcher"], appeal.id, "tax"),
        lambda: w.svc.accept(w.actors["tax"], appeal.id),
        lambda: w.svc.return_(w.actors["tax"], appeal.id, "不属于本局职责"),
        lambda: w.svc.dispatch(w.actors["dispatcher"], appeal.id, "tax"),
        lambda: w.svc.accept(w.actors["tax"], appeal.id),
        lambda: w.svc.reply(w.actors["tax"], appeal.id, "已办理，请查收"),
        lambda: w.svc.rate(w.actors["ent_a"], appeal.id, 1),
        lambda: w.svc.accept(w.actors["tax"], appeal.id),
        lambda: w.svc.reply(w.actors["tax"], appeal.id, "重新办理完毕"),
        lambda: w.svc.rate(w.actors["ent_a"], appeal.id, 4),
    ]
    expected = [S.DISPATCHED, S.ACCEPTED, S.RETURNED, S.DISPATCHED, S.ACCEPTED, S.REPLIED,
                S.REOPENED, S.ACCEPTED, S.REPLIED, S.CLOSED]
    for step, status in zip(steps, expected, strict=True):
        count = w.event_count(appeal.id)
        before = w.repo.get_appeal(appeal.id)
        assert before is not None
        outcome = step()
        assert outcome.appeal.status is status
        events = w.repo.events(appeal.id)
        assert len(events) == count + 1
        last = events[-1]
        assert (last.from_status, last.to_status) == (before.status.value, status.value)
        assert last.at == w.clock.now()
        w.clock.advance(hours=1)
