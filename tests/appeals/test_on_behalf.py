"""Filing on an enterprise's behalf (partner systems, staff taking a call): channel, idempotency, unknown codes."""

from __future__ import annotations

import pytest

from appeals.errors import InvalidInput, NotAllowed
from appeals.lifecycle import Status
from appeals.model import Actor, Role

from .conftest import CODE_A, World

UNKNOWN = "91441200MA4UXXXX0U"


def partner(world: World) -> Actor:
    uid = world.repo.identity_user("open311", "key:hotline", "12345热线", world.clock.now())
    return Actor(user_id=uid, role=Role.PARTNER, name="12345热线")


def test_a_partner_files_for_a_known_enterprise_and_a_retry_returns_the_same_appeal(world: World) -> None:
    who = partner(world)
    assert who.user_id < 0  # never a Telegram id
    first = world.svc.file_on_behalf(who, credit_code=CODE_A.lower(), text="增值税发票领用受限，请税务局协调",
                                     channel="open311", idempotency_key="open311:1:abc")
    assert first.appeal.channel == "open311" and first.appeal.status is Status.DISPATCHED
    assert first.appeal.enterprise_id == world.repo.find_enterprise(CODE_A).id  # type: ignore[union-attr]
    again = world.svc.file_on_behalf(who, credit_code=CODE_A, text="增值税发票领用受限，请税务局协调",
                                     channel="open311", idempotency_key="open311:1:abc")
    assert again.duplicate and again.appeal.id == first.appeal.id
    # the department is told exactly as for a Telegram appeal
    assert [n.kind for n in first.notices] == ["card"]


def test_an_unknown_code_creates_an_unverified_enterprise(world: World) -> None:
    sub = world.svc.file_on_behalf(world.actors["dispatcher"], credit_code=UNKNOWN, text="厂区道路需要报装用水",
                                   channel="console", enterprise_name="肇庆丙公司", category="utilities")
    ent = world.repo.get_enterprise(sub.appeal.enterprise_id)
    assert ent is not None and not ent.verified and ent.name == "肇庆丙公司" and ent.owner_id == 0
    assert sub.appeal.department_id == "urban"  # the chosen category, no model involved
    world.repo.verify_enterprise(ent.id)
    assert world.repo.get_enterprise(ent.id).verified  # type: ignore[union-attr]


def test_who_may_file_on_behalf_and_what_is_checked(world: World) -> None:
    with pytest.raises(NotAllowed):
        world.svc.file_on_behalf(world.actors["tax"], credit_code=CODE_A, text="代企业反映问题", channel="console")
    with pytest.raises(NotAllowed):
        world.svc.file_on_behalf(world.actors["ent_a"], credit_code=CODE_A, text="代企业反映问题", channel="console")
    with pytest.raises(InvalidInput):
        world.svc.file_on_behalf(partner(world), credit_code="123", text="代企业反映问题", channel="open311")
    with pytest.raises(InvalidInput):
        world.svc.file_on_behalf(partner(world), credit_code=CODE_A, text="代企业反映问题", channel="open311",
                                 category="nonsense")


def test_telegram_users_keep_their_ids_as_identities(world: World) -> None:
    assert world.repo.identity_user("telegram", "101", "x", world.clock.now()) == 101
