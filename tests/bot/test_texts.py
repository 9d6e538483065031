"""The zh-CN and en catalogues agree: same keys, same placeholders and tags, labels for every domain value."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
import yaml

from appeals import credit_code
from appeals.errors import AppealError
from appeals.lifecycle import Action, Status
from appeals.model import Role
from appeals.registration import check_credit_code
from texts import DEFAULT, catalogue

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ROOT / "texts"
# Files translated here; policies.yml has its own owner and tests.
FILES = ("action", "appeal", "cli", "common", "error", "light", "rating", "register", "role", "staff", "status",
         "console")
EN_ONLY = ("category", "department")  # zh-CN takes these names from config.yml
HAN = re.compile(r"[\u3400-\u9fff]")
EN_MAY_HOLD_CHINESE = {"common.lang_choose"}  # shown before a language is chosen: bilingual on purpose
TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def _strings(locale: str, stems: tuple[str, ...] = FILES) -> dict[str, str]:
    return {k: v for k, v in catalogue(locale).items() if k.split(".", 1)[0] in stems}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _config() -> dict:
    return yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))


ZH, EN = _strings(DEFAULT), _strings("en")


def test_files_exist_in_both_locales() -> None:
    for stem in FILES:
        assert (TEXTS / DEFAULT / f"{stem}.yml").is_file(), stem
        assert (TEXTS / "en" / f"{stem}.yml").is_file(), stem
    for stem in EN_ONLY:
        assert (TEXTS / "en" / f"{stem}.yml").is_file(), stem
        assert not (TEXTS / DEFAULT / f"{stem}.yml").exists(), f"zh-CN {stem} names belong in config.yml"


def test_every_zh_key_has_english() -> None:
    assert len(ZH) > 100
    assert sorted(set(ZH) - set(EN)) == []


def test_english_has_no_stray_keys() -> None:
    extra = set(catalogue("en")) - set(catalogue(DEFAULT))
    stray = sorted(k for k in extra if k.split(".", 1)[0] not in (*EN_ONLY, "policies"))
    assert stray == []
    assert sorted(set(EN) - set(ZH)) == []


@pytest.mark.parametrize("key", sorted(ZH))
def test_same_placeholders(key: str) -> None:
    assert _fields(EN.get(key, ZH[key])) == _fields(ZH[key])  # a missing key fails the test above


@pytest.mark.parametrize("key", sorted(ZH))
def test_same_html_tags(key: str) -> None:
    assert sorted(TAG.findall(EN.get(key, ZH[key]))) == sorted(TAG.findall(ZH[key]))


def test_english_strings_are_english() -> None:
    english = {**_strings("en", (*FILES, *EN_ONLY))}
    chinese = sorted(k for k, v in english.items() if HAN.search(v) and k not in EN_MAY_HOLD_CHINESE)
    assert chinese == []


@pytest.mark.parametrize("locale", [DEFAULT, "en"])
def test_every_status_action_and_role_has_a_label(locale: str) -> None:
    texts = catalogue(locale)
    missing = [f"status.{s.value}" for s in Status if not texts.get(f"status.{s.value}")]
    missing += [f"action.{a.value}" for a in Action if not texts.get(f"action.{a.value}")]
    missing += [f"role.{r.value}" for r in Role if not texts.get(f"role.{r.value}")]
    assert missing == []


def test_every_category_and_department_has_an_english_name() -> None:
    config, en = _config(), catalogue("en")
    categories = [c["id"] for c in config["categories"]]
    departments = [d["id"] for d in config["departments"]]
    assert len(categories) == 14 and len(departments) == 12
    assert [c for c in categories if not en.get(f"category.{c}")] == []
    assert [d for d in departments if not en.get(f"department.{d}")] == []
    assert len({en[f"category.{c}"] for c in categories}) == len(categories)
    assert len({en[f"department.{d}"] for d in departments}) == len(departments)
    known = {f"category.{c}" for c in categories} | {f"department.{d}" for d in departments}
    assert sorted(k for k in en if k.split(".", 1)[0] in EN_ONLY and k not in known) == []


def _error_keys() -> tuple[set[str], set[str]]:
    """Message keys in appeals/: literal ``InvalidInput("…")`` and class ``key = "…"``; f-string keys as regexes."""
    literal: set[str] = set()
    patterns: set[str] = set()
    for path in sorted((ROOT / "appeals").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node, "func", None) and getattr(node.func, "id", getattr(node.func, "attr", None))
            if isinstance(node, ast.Call) and name == "InvalidInput":
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    literal.add(arg.value)
                elif isinstance(arg, ast.JoinedStr):
                    patterns.add("".join(re.escape(part.value) if isinstance(part, ast.Constant) else r"\w+"
                                         for part in arg.values))
            elif isinstance(node, ast.ClassDef):
                for stmt in node.body:
                    if (isinstance(stmt, ast.Assign) and any(getattr(t, "id", None) == "key" for t in stmt.targets)
                            and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)):
                        literal.add(stmt.value.value)
    return literal, patterns


def test_every_domain_error_key_has_a_text() -> None:
    literal, patterns = _error_keys()
    zh = catalogue(DEFAULT)
    assert len(literal) >= 20 and {c.key for c in AppealError.__subclasses__() if "key" in vars(c)} <= literal
    assert sorted(k for k in literal if k not in zh) == []
    assert sorted(p for p in patterns if not any(re.fullmatch(p, k) for k in zh)) == []


@pytest.mark.parametrize(("raw", "problem"), [("12345", "length"), ("91441200MA4UXXXXIO", "chars"), (None, "check")])
def test_every_credit_code_problem_has_a_text(raw: str | None, problem: str) -> None:
    if raw is None:  # a well-shaped code with the wrong check character
        body = "91441200MA4UQ9P1X"
        raw = body + next(c for c in credit_code.ALPHABET if c != credit_code.check_char(body))
    with pytest.raises(AppealError) as caught:
        check_credit_code(raw)
    assert caught.value.key == f"error.credit_code_{problem}"
    assert caught.value.key in catalogue(DEFAULT) and caught.value.key in catalogue("en")


def test_every_literal_key_in_the_adapters_has_a_text() -> None:
    stems = "|".join(p.stem for p in (TEXTS / DEFAULT).glob("*.yml"))
    quoted = re.compile(rf"""["']((?:{stems})\.[a-z0-9_]+(?:\.[a-z0-9_]+)*)["']""")
    adapters = ("bot", "web", "cli", "demo", "reports")
    used = {m.group(1) for pkg in adapters for path in (ROOT / pkg).rglob("*.py")
            for m in quoted.finditer(path.read_text(encoding="utf-8"))
            if not m.group(1).endswith((".yml", ".html", "_"))
            and not (ROOT / m.group(1).replace(".", "/")).with_suffix(".py").is_file()}  # a module's name
    assert len(used) > 100
    assert sorted(used - set(catalogue(DEFAULT))) == []
