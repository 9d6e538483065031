"""One vocabulary (docs/glossary.md): the retired words, the ISO week and the old date style appear in no
catalogue, console template or workbook text; role ids appear in no Chinese text the bot or console shows."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import ROOT

GLOSSARY = ROOT / "docs" / "glossary.md"


def retired() -> dict[str, str]:
    """The 不用 → 改用 table at the end of the glossary."""
    section = GLOSSARY.read_text(encoding="utf-8").split("## 不再使用的词", 1)[1]
    rows = re.findall(r"^\| (\S+) \| (\S+) \|$", section, flags=re.M)
    return {old: new for old, new in rows if old not in ("不用", "---")}


def surfaces() -> list[Path]:
    """Everything people read: both catalogues, the console's templates, the workbook, the default config."""
    return [*sorted((ROOT / "texts").glob("*/*.yml")), *sorted((ROOT / "web" / "templates").glob("*.html")),
            ROOT / "reports" / "workbook.py", ROOT / "reports" / "templates.py", ROOT / "config" / "default_config.yml"]


def test_the_glossary_lists_the_retired_words() -> None:
    words = retired()
    assert {"答复时限", "签收期限", "注册", "管理员"} <= set(words)
    assert all(new in GLOSSARY.read_text(encoding="utf-8").split("## 不再使用的词")[0] for new in words.values())


def test_no_surface_uses_a_retired_word() -> None:
    found = [f"{path.relative_to(ROOT)}:{n}: {old} (say {new})"
             for path in surfaces()
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             for old, new in retired().items() if old in line]
    assert not found, "\n".join(found)


def test_dates_are_written_one_way() -> None:
    """No "12 月 15 日" and no "2026-W50": a day is 2026-12-15, a week its Monday and Sunday."""
    patterns = [re.compile(r"\d+ ?月 ?\d+ ?日|\{month_name\}"), re.compile(r"\d{4}-W\d{2}|iso_week\(")]
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in surfaces() if path.suffix in (".yml", ".html")
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if any(p.search(line) for p in patterns)]
    assert not found, "\n".join(found)


def test_chinese_texts_do_not_show_role_ids() -> None:
    """What the bot and the console show in Chinese names roles in Chinese (the command line's options may
    take the ids: cli.yml and help.yml are its texts)."""
    ids = re.compile(r"\b(handler|dispatcher|supervisor)\b")
    found = [f"{path.name}:{n}: {line.strip()}"
             for path in sorted((ROOT / "texts" / "zh-CN").glob("*.yml")) if path.stem not in ("cli", "help")
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if not line.lstrip().startswith("#") and ids.search(line.split(":", 1)[1] if ":" in line else line)]
    assert not found, "\n".join(found)
