"""Random journeys through the service by every kind of actor: refusals change nothing, moves keep invariants.

WALK_SEEDS=300 runs more journeys than the default 12.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from datetime import timedelta

import pytest

from appeals.errors import AppealError
from appeals.lifecycle import Status
from appeals.model import Appeal

from .conftest import World

WHO = ["ent_a", "ent_b", "tax", "finance", "dispatcher", "supervisor"]
CATEGORIES = ["tax", "finance", "other", "nonexistent"]


def operations(w: World, rng: random.Random, appeal_id: int) -> dict[str, Callable[[str], object]]:
    s = w.svc
    return {
        "dispatch": lambda who: s.dispatch(w.actors[who], appeal_id, rng.choice(CATEGORIES)),
        "accept": lambda who: s.accept(w.actors[who], appeal_id),
        "return": lambda who: s.return_(w.actors[who], appeal_id, rng.choice(["", "不属于本局职责"])),
        "reply": lambda who: s.reply(w.actors[who], appeal_id, rng.choice(["", "已办理完毕"])),
        "close": lambda who: s.close(w.actors[who], appeal_id),
        "rate": lambda who: s.rate(w.actors[who], appeal_id, rng.randint(0, 6)),
        "withdraw": lambda who: s.withdraw(w.actors[who], appeal_id),
        "extend": lambda who: s.request_extension(w.actors[who], appeal_id, rng.randint(0, 6), "需要核查"),
        "decide": lambda who: s.decide_extension(w.actors[who], appeal_id, rng.random() < 0.5),
        "message": lambda who: s.message(w.actors[who], appeal_id, "进展如何？", internal=rng.random() < 0.3),
        "scan": lambda who: s.sla_scan(),
        "auto_close": lambda who: s.auto_close(),
    }


def check_invariants(a: Appeal, poor_ratings: int) -> None:
    if a.status in (Status.DISPATCHED, Status.ACCEPTED, Status.REOPENED):
        assert a.department_id and a.dispatched_at and a.accept_due and a.reply_due
        assert a.dispatched_at <= a.accept_due <= a.reply_due
    if a.status is Status.REPLIED:
        assert a.replied_at and a.rating_due and a.rating_due > a.replied_at
    if a.status in (Status.CLOSED, Status.WITHDRAWN):
        assert a.closed_at is not None
    if a.status is Status.SUBMITTED:
        assert a.department_id is None
    if a.extension_status is not None:
        assert a.status in (Status.ACCEPTED, Status.REPLIED, Status.CLOSED, Status.WITHDRAWN, Status.RETURNED)
    assert a.reopen_count == poor_ratings
    assert a.alert_level in (None, "yellow", "red")


@pytest.mark.parametrize("seed", range(int(os.environ.get("WALK_SEEDS", "12"))))
def test_random_journeys(world: World, seed: int) -> None:
    w = world
    rng = random.Random(seed)
    confident = rng.random() < 0.6
    appeal = w.file(ranking=(("tax", 0.9 if confident else 0.2), ("finance", 0.1)))
    ops = operations(w, rng, appeal.id)
    poor = 0
    for _ in range(60):
        name = rng.choice(list(ops))
        who = rng.choice(WHO)
        before = (w.repo.get_appeal(appeal.id), w.repo.events(appeal.id), w.repo.feedback_examples())
        try:
            ops[name](who)
        except AppealError:
            after = (w.repo.get_appeal(appeal.id), w.repo.events(appeal.id), w.repo.feedback_examples())
            assert after == before, f"refused {name} by {who} changed the appeal"
        else:
            now = w.repo.get_appeal(appeal.id)
            assert now is not None and before[0] is not None
            events = w.repo.events(appeal.id)
            if name not in ("scan", "auto_close"):
                assert len(events) == len(before[1]) + 1
            if name == "rate" and now.status is Status.REOPENED:
                poor += 1
            new = events[len(before[1]):]
            assert all(e.from_status == before[0].status.value for e in new[:1])
            if new:
                assert new[-1].to_status == now.status.value
            if who == "ent_b" and name not in ("scan", "auto_close"):
                pytest.fail(f"enterprise B managed to {name} enterprise A's appeal")
            check_invariants(now, poor)
        w.clock.advance(hours=rng.choice([1, 5, 20]))
    assert w.repo.get_appeal(appeal.id) is not None


def test_time_only_moves_forward_in_history(world: World) -> None:
    w = world
    a = w.file()
    steps: list[Callable[[], object]] = [lambda: w.svc.accept(w.actors["tax"], a.id),
                                         lambda: w.svc.reply(w.actors["tax"], a.id, "已办理"),
                                         lambda: w.svc.rate(w.actors["ent_a"], a.id, 5)]
    for step in steps:
        w.clock.advance(minutes=7)
        step()
    times = [e.at for e in w.repo.events(a.id)]
    assert times == sorted(times) and times[-1] - times[0] == timedelta(minutes=21)
