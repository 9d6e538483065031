"""Registration: credit codes, phones, ownership claims, one-time staff invites, supervisors from env."""

from __future__ import annotations

import random

import pytest

from appeals import credit_code
from appeals.errors import InvalidInput, NotAllowed, NotFound
from appeals.model import Role
from appeals.registration import RegistrationService, check_credit_code, check_phone, mask_phone
from config import load_settings

from .conftest import CODE_A, ROOT, SUPERVISOR_ID, World, draft

CODE_C = "92441203MA5X0AB1CP"

# GB 32100-2015, written out again here so the test does not trust the module under test.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def reference_check(first17: str) -> str:
    c = 31 - sum(ALPHABET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True)) % 31
    return ALPHABET[c % 31]


# ---- credit codes ------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [CODE_A, "91441202MA5123456T", CODE_C])
def test_valid_codes(code: str) -> None:
    assert credit_code.is_valid(code)
    assert check_credit_code(code) == code


@pytest.mark.parametrize(("raw", "expected"), [
    ("91350100m000100y43", CODE_A),
    ("９１３５０１００Ｍ０００１００Ｙ４３", CODE_A),
    ("９１３５０１００ｍ０００１００ｙ４３", CODE_A),
    (" 9135 0100 M000 100Y 43\n", CODE_A),
    ("9135\u30000100M000100Y43", CODE_A),  # ideographic space
])
def test_codes_are_normalized(raw: str, expected: str) -> None:
    assert check_credit_code(raw) == expected


@pytest.mark.parametrize("last", [ch for ch in ALPHABET if ch != "3"])
def test_every_wrong_check_character_is_refused(last: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_credit_code(CODE_A[:17] + last)
    assert err.value.key == "error.credit_code_check"


@pytest.mark.parametrize("raw", [CODE_A[:17], CODE_A + "0", "", "9135", None])
def test_wrong_length(raw: str | None) -> None:
    with pytest.raises(InvalidInput) as err:
        check_credit_code(raw)
    assert err.value.key == "error.credit_code_length"
    assert err.value.params["length"] == len(credit_code.normalize(raw or ""))


@pytest.mark.parametrize("letter", list("IOSVZ"))
@pytest.mark.parametrize("position", [0, 9, 17])
def test_forbidden_letters(letter: str, position: int) -> None:
    code = CODE_A[:position] + letter + CODE_A[position + 1:]
    with pytest.raises(InvalidInput) as err:
        check_credit_code(code)
    assert err.value.key == "error.credit_code_chars"


@pytest.mark.parametrize("code", ["91350100M000100Y4!", "91350100M000100Y4-", "9135O100M000100Y43",
                                  "913501A0M000100Y43"])  # the region code (3rd-8th) is digits
def test_bad_characters(code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_credit_code(code)
    assert err.value.key == "error.credit_code_chars"


def test_check_character_matches_the_standard_on_random_codes() -> None:
    rng = random.Random(32100)
    letters = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for _ in range(500):
        first17 = (rng.choice("9N") + rng.choice("123") + "".join(rng.choice("0123456789") for _ in range(6))
                   + "".join(rng.choice(letters) for _ in range(9)))
        expected = reference_check(first17)
        assert credit_code.check_char(first17) == expected
        assert credit_code.is_valid(first17 + expected)
        wrong = letters[(letters.index(expected) + rng.randrange(1, 31)) % 31]
        assert not credit_code.is_valid(first17 + wrong)


# ---- phones and names -------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "clean"), [
    ("13800138000", "13800138000"), ("+86 138 0013 8000", "13800138000"), ("199 1234 5678", "19912345678"),
    ("0758-2281234", "0758-2281234"), ("(0758)22812345", "075822812345"), ("（0758）2281234", "07582281234"),
    ("020-12345678", "020-12345678"),
])
def test_good_phones(raw: str, clean: str) -> None:
    assert check_phone(raw) == clean


@pytest.mark.parametrize("raw", ["", None, "12345678901", "1380013800", "138001380001", "abc", "10086",
                                 "+1 415 555 0100", "0758-12345"])
def test_bad_phones(raw: str | None) -> None:
    with pytest.raises(InvalidInput) as err:
        check_phone(raw)
    assert err.value.key == "error.bad_phone"


def test_mask_phone() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert "0013" not in mask_phone("13800138000")


@pytest.mark.parametrize(("field", "value", "key"), [
    ("name", "甲", "error.bad_name"), ("name", "12345", "error.bad_name"), ("contact", "", "error.bad_name"),
    ("phone", "12345", "error.bad_phone"), ("credit_code", "91350100M000100Y44", "error.credit_code_check"),
    ("industry", "Z", "error.bad_choice"), ("scale", "巨型", "error.bad_choice"),
    ("district", "天河区", "error.bad_choice"),
])
def test_register_validates_every_field(world: World, field: str, value: str, key: str) -> None:
    form = draft("肇庆丙公司", CODE_C)
    form[field] = value
    with pytest.raises(InvalidInput) as err:
        world.reg.register(world.reg.actor(600), form)
    assert err.value.key == key
    assert world.repo.find_enterprise(CODE_C) is None
    assert world.reg.actor(600).enterprise_id is None


# ---- registration, ownership and claims -------------------------------------------------------------

def test_first_registrant_owns_the_enterprise(world: World) -> None:
    w = world
    result = w.reg.register(w.reg.actor(600, "丙"), draft("肇庆丙科技有限公司", "92441203ma5x0ab1cp",
                                                          phone="+86 139 0000 1111", industry="I"))
    assert result.owner and result.claim_id is None
    e = result.enterprise
    assert (e.name, e.credit_code, e.phone, e.industry, e.owner_id) == (
        "肇庆丙科技有限公司", CODE_C, "13900001111", "I", 600)
    me = w.reg.actor(600)
    assert me.role is Role.ENTERPRISE and me.enterprise_id == e.id
    with pytest.raises(InvalidInput) as err:
        w.reg.register(me, draft("肇庆丙科技有限公司", CODE_C))
    assert err.value.key == "error.already_registered"


def test_second_user_claims_and_waits_for_the_owner(world: World) -> None:
    w = world
    appeal = w.file("ent_a")
    claimant = w.reg.actor(700, "甲公司新同事")
    result = w.reg.register(claimant, draft("随便填的名字", CODE_A))
    assert not result.owner and result.claim_id is not None
    assert result.enterprise.id == w.actors["ent_a"].enterprise_id
    # waiting: sees nothing, files nothing
    waiting = w.reg.actor(700)
    assert waiting.enterprise_id is None and waiting.role is None
    with pytest.raises(NotAllowed):
        w.svc.submit(waiting, "我也想反映问题")
    with pytest.raises(NotFound):
        w.svc.view(waiting, appeal.id)
    # asking again does not pile up claims
    assert w.reg.register(waiting, draft("随便填的名字", CODE_A)).claim_id == result.claim_id
    # a stranger (another enterprise's owner, or a handler) cannot decide
    for stranger in (w.actors["ent_b"], w.actors["tax"], w.reg.actor(701)):
        with pytest.raises(NotAllowed):
            w.reg.decide_claim(stranger, result.claim_id, True)
    assert w.reg.actor(700).enterprise_id is None
    claimant_id, enterprise = w.reg.decide_claim(w.actors["ent_a"], result.claim_id, True)
    assert claimant_id == 700 and enterprise.id == w.actors["ent_a"].enterprise_id
    member = w.reg.actor(700)
    assert member.role is Role.ENTERPRISE and member.enterprise_id == enterprise.id
    assert w.svc.view(member, appeal.number).appeal.id == appeal.id
    assert [a.id for a in w.svc.listing(member)] == [appeal.id]
    assert 700 in w.repo.enterprise_user_ids(enterprise.id)
    # a member may follow up, but only the filer or the owner withdraws
    w.svc.message(member, appeal.id, "补充材料已准备好")
    with pytest.raises(NotAllowed):
        w.svc.withdraw(member, appeal.id)
    # the claim is decided once
    with pytest.raises(NotFound):
        w.reg.decide_claim(w.actors["ent_a"], result.claim_id, False)


def test_supervisor_approves_and_owner_denies(world: World) -> None:
    w = world
    first = w.reg.register(w.reg.actor(710), draft("x公司", CODE_A)).claim_id
    second = w.reg.register(w.reg.actor(711), draft("x公司", CODE_A)).claim_id
    assert first is not None and second is not None and first != second
    w.reg.decide_claim(w.actors["supervisor"], first, True)
    w.reg.decide_claim(w.actors["ent_a"], second, False)
    assert w.reg.actor(710).enterprise_id == w.actors["ent_a"].enterprise_id
    denied = w.reg.actor(711)
    assert denied.enterprise_id is None and denied.role is None
    # a denied user may ask again
    third = w.reg.register(denied, draft("x公司", CODE_A)).claim_id
    assert third not in (None, second)


def test_unknown_claim(world: World) -> None:
    with pytest.raises(NotFound):
        world.reg.decide_claim(world.actors["supervisor"], 9999, True)


def test_staff_do_not_register_enterprises(world: World) -> None:
    for who in ("tax", "dispatcher", "supervisor"):
        with pytest.raises(NotAllowed):
            world.reg.register(world.actors[who], draft("肇庆丙公司", CODE_C))
    assert world.repo.find_enterprise(CODE_C) is None


# ---- staff invites ------------------------------------------------------------------------------------

def test_invites_are_one_time(world: World) -> None:
    w = world
    code = w.reg.create_invite(Role.HANDLER, "eco", "supervisor:900")
    assert len(code) >= 12
    joined = w.reg.join(w.reg.actor(800, "环保局小王"), f"  {code} ")
    assert (joined.role, joined.department_id) == (Role.HANDLER, "eco")
    again = w.reg.actor(800)
    assert (again.role, again.department_id, again.enterprise_id) == (Role.HANDLER, "eco", None)
    with pytest.raises(InvalidInput) as err:
        w.reg.join(w.reg.actor(801), code)
    assert err.value.key == "error.bad_invite"
    assert w.reg.actor(801).role is None
    with pytest.raises(InvalidInput):
        w.reg.join(w.reg.actor(801), "no-such-code")
    assert w.repo.user_ids(Role.HANDLER.value, "eco") == [800]


def test_invite_codes_differ(world: World) -> None:
    codes = {world.reg.create_invite(Role.DISPATCHER, None, "cli") for _ in range(20)}
    assert len(codes) == 20


def test_invite_rules(world: World) -> None:
    w = world
    with pytest.raises(InvalidInput) as err:
        w.reg.create_invite(Role.HANDLER, None, "cli")
    assert err.value.key == "error.department_required"
    for role in (Role.ENTERPRISE, Role.SYSTEM):
        with pytest.raises(InvalidInput):
            w.reg.create_invite(role, None, "cli")
    code = w.reg.create_invite(Role.SUPERVISOR, None, "cli")
    with pytest.raises(InvalidInput) as err:
        w.reg.join(w.actors["ent_a"], code)
    assert err.value.key == "error.enterprise_cannot_join"
    assert w.reg.actor(101).role is Role.ENTERPRISE
    # the code was not spent by the refused attempt
    assert w.reg.join(w.reg.actor(820), code).role is Role.SUPERVISOR


# ---- supervisors from the environment --------------------------------------------------------------

def test_supervisors_from_env_become_supervisors(world: World) -> None:
    settings = load_settings(ROOT / "config.yml", env={"WANQI_SUPERVISORS": "901, 902，903"})
    assert settings.supervisors == frozenset({901, 902, 903})
    reg = RegistrationService(world.repo, world.clock, settings.supervisors)
    assert reg.actor(902).role is None  # roles from the environment are applied at start, not per update
    reg.seed_supervisors()
    boss = reg.actor(902, "局长")
    assert boss.role is Role.SUPERVISOR and boss.enterprise_id is None
    assert world.repo.get_user(902).role == "supervisor"  # type: ignore[union-attr]
    assert reg.actor(904).role is None
    # SUPERVISOR_ID is not in this start's list: it loses the role the environment gave it
    assert world.reg.actor(SUPERVISOR_ID).role is None
    assert sorted(world.repo.user_ids("supervisor")) == [901, 902, 903]


def test_bad_supervisor_env_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        load_settings(ROOT / "config.yml", env={"WANQI_SUPERVISORS": "900,@boss"})


@pytest.mark.parametrize("meanwhile", ["registered", "joined"])
def test_claim_of_someone_who_moved_on_cannot_be_approved(world: World, meanwhile: str) -> None:
    """A claimant who registered an enterprise of their own, or joined the staff, keeps that account."""
    w = world
    claim_id = w.reg.register(w.reg.actor(720), draft("x公司", CODE_A)).claim_id
    assert claim_id is not None
    if meanwhile == "registered":
        own = w.reg.register(w.reg.actor(720), draft("肇庆丙科技有限公司", CODE_C)).enterprise
        expected: tuple[Role, int | None] = (Role.ENTERPRISE, own.id)
    else:
        w.reg.join(w.reg.actor(720), w.reg.create_invite(Role.DISPATCHER, None, "cli"))
        expected = (Role.DISPATCHER, None)
    with pytest.raises(NotFound):
        w.reg.decide_claim(w.actors["ent_a"], claim_id, True)
    me = w.reg.actor(720)
    assert (me.role, me.enterprise_id) == expected
    assert w.repo.get_claim(claim_id)["status"] == "denied"  # type: ignore[index]
