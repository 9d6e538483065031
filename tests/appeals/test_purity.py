"""The domain core stays pure: appeals/ and policies/ import no framework, database or NLU library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

FORBIDDEN = frozenset({"aiogram", "sqlite_utils", "spacy", "rasa", "apscheduler"})
# Dependencies point one way: bot -> appeals, policies, nlu, storage; storage -> appeals.
FORBIDDEN_OURS = frozenset({"bot", "storage", "nlu", "web", "cli", "config", "texts", "demo", "reports", "bootstrap"})
PURE = ("appeals", "policies")


def imported_roots(source: str) -> set[str]:
    """Top-level names of every module imported anywhere in ``source`` (nested, lazy and TYPE_CHECKING too)."""
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call):  # importlib.import_module("x") / __import__("x")
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
                roots.add(str(node.args[0].value).split(".")[0])
    return roots


def sources() -> list[Path]:
    files = [p for pkg in PURE for p in sorted((ROOT / pkg).rglob("*.py"))]
    assert len(files) >= 10  # the packages are really there
    return files


def test_the_checker_sees_every_kind_of_import() -> None:
    planted = (
        "import aiogram.types\nfrom sqlite_utils import Database\n"
        "def f():\n    import spacy\n    from rasa.nlu import x\n"
        "if TYPE_CHECKING:\n    from apscheduler.schedulers import y\n"
        "importlib.import_module('bot.config')\n__import__('storage')\nfrom . import sibling\n"
    )
    assert imported_roots(planted) == {"aiogram", "sqlite_utils", "spacy", "rasa", "apscheduler", "bot", "storage"}


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_forbidden_imports(path: Path) -> None:
    roots = imported_roots(path.read_text(encoding="utf-8"))
    assert not roots & FORBIDDEN, f"{path.relative_to(ROOT)} imports {sorted(roots & FORBIDDEN)}"
    assert not roots & FORBIDDEN_OURS, f"{path.relative_to(ROOT)} imports {sorted(roots & FORBIDDEN_OURS)}"


def test_importing_the_core_loads_none_of_them() -> None:
    """Transitively too: import every module of the core in a fresh interpreter and look at sys.modules."""
    modules = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in sources()]
    modules = [m.removesuffix(".__init__") for m in modules]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n    importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN | FORBIDDEN_OURS)!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
