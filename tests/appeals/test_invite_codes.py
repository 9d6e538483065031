"""Invite codes are typed after `wanqi staff revoke` and `/join`: none may start with a dash."""

from __future__ import annotations

import itertools

import pytest

from appeals import staff


def test_a_code_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = itertools.chain(["-x1y2z3a4b5c6", "-q"], itertools.repeat("Ab3dE5fG7hJ9"))
    monkeypatch.setattr(staff.secrets, "token_urlsafe", lambda n: next(drawn))
    assert staff._new_code() == "Ab3dE5fG7hJ9"


def test_real_codes_are_url_safe_and_dashless_at_the_start() -> None:
    codes = {staff._new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert not any(c.startswith("-") for c in codes)
