"""Property tests of the validators: credit codes, phones, names, ids (hypothesis)."""

from __future__ import annotations

import contextlib
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appeals.credit_code import ALPHABET, check_char
from appeals.errors import InvalidInput
from appeals.inputs import MAX_ID, clean_name, display_name, has_hidden, parse_id
from appeals.registration import check_credit_code, check_name, check_phone

HIDDEN = "\u202e\u202d\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u2060\ufeff\x00\x07\x1b\u00ad"
# Digits of other scripts: int() reads them, GB 32100 and phone numbers do not.
FOREIGN_DIGITS = st.characters(categories=("Nd",)).filter(lambda c: not c.isascii())


def _refused(fn: object, value: str) -> str:
    with pytest.raises(InvalidInput) as err:
        fn(value)  # type: ignore[operator]
    return err.value.key


@given(st.text(st.sampled_from(ALPHABET), min_size=17, max_size=17))
def test_every_well_formed_code_is_accepted_in_any_width_and_case(first17: str) -> None:
    if not first17[2:8].isdigit():  # the 6-digit administrative-division part
        first17 = first17[:2] + "441200" + first17[8:]
    code = first17 + check_char(first17)
    assert check_credit_code(code) == code
    assert check_credit_code(" " + code.lower() + " ") == code
    assert check_credit_code("".join(chr(ord(c) + 0xFEE0) for c in code)) == code


@given(st.text(st.sampled_from(ALPHABET), min_size=17, max_size=17), st.integers(0, 17), FOREIGN_DIGITS)
def test_a_foreign_digit_anywhere_is_refused_never_an_exception(first17: str, at: int, digit: str) -> None:
    code = first17 + check_char(first17)
    bad = code[:at] + digit + code[at + 1:]
    assert _refused(check_credit_code, bad).startswith("error.credit_code_")


@given(st.text(max_size=30))
def test_credit_code_check_never_raises_anything_else(raw: str) -> None:
    with contextlib.suppress(InvalidInput):
        check_credit_code(raw)


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_mobile_numbers_pass_and_foreign_digits_do_not(phone: str) -> None:
    assert check_phone(phone) == phone
    assert check_phone(f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}") == phone
    arabic = "".join(chr(0x0660 + int(c)) for c in phone)
    assert _refused(check_phone, arabic) == "error.bad_phone"


@given(st.text(max_size=40))
def test_phone_check_never_raises_anything_else(raw: str) -> None:
    with contextlib.suppress(InvalidInput):
        assert check_phone(raw).isascii()


@given(st.text(min_size=1, max_size=60), st.sampled_from(HIDDEN), st.integers(0, 60))
def test_a_name_with_any_hidden_character_is_refused(name: str, hidden: str, at: int) -> None:
    assert _refused(check_name, name[:at] + hidden + name[at:]) in ("error.bad_name_chars", "error.bad_name")


@settings(max_examples=200)
@given(st.text(max_size=120))
def test_accepted_names_are_normalised_and_clean(raw: str) -> None:
    try:
        name = check_name(raw)
    except InvalidInput:
        return
    assert not has_hidden(name) and name == unicodedata.normalize("NFKC", name) and 2 <= len(name) <= 100
    assert clean_name(name) == name  # idempotent


@given(st.text(max_size=80))
def test_display_names_drop_hidden_characters(raw: str) -> None:
    shown = display_name(raw)
    assert not has_hidden(shown) and len(shown) <= 64


@given(st.one_of(st.text(max_size=30), st.integers()))
def test_ids_parse_strictly_or_refuse(raw: str | int) -> None:
    try:
        value = parse_id(raw)
    except InvalidInput as err:
        assert err.key == "error.bad_id"
        return
    assert 0 < value < MAX_ID
    assert isinstance(raw, int) or raw.strip().isascii()
