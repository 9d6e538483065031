"""`wanqi` starts fast: commands that do not talk to Telegram never import aiogram, and `--version` /
`--help` import neither the settings model (pydantic) nor SQLite code. Checked in a fresh interpreter per
command, run from a folder outside the checkout (the time itself is measured in benchmarks/startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import create_database, write_config

PROBE = """
import json, sys
from cli.main import main
code = main(sys.argv[1:], standalone_mode=False)
print(json.dumps({"code": code, "loaded": sorted(m for m in ("aiogram", "pydantic", "sqlite_utils", "numpy", "openpyxl")
                                                if m in sys.modules)}))
"""


def _loaded(cwd: Path, *args: str) -> list[str]:
    run = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "WANQI_LANG": "zh-CN"})
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["code"] == 0, run.stderr
    return list(result["loaded"])


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("staff", "--help"), ("nlu", "--help"),
                                  ("db", "--help"), ()])
def test_help_and_version_load_no_settings_and_no_database_code(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert _loaded(tmp_path, *args) == []


def test_tools_that_do_not_talk_to_telegram_never_import_aiogram(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    create_database(config)
    c = str(config)
    for args in (("staff", "list"), ("staff", "log"), ("staff", "invites"), ("report", "--out", "r.xlsx"),
                 ("db", "backup", "b.db"), ("db", "migrate"), ("policies", "validate"), ("policies", "stats"),
                 ("api-key", "list"), ("inbox", "list"), ("nlu", "template", "t.xlsx")):
        assert "aiogram" not in _loaded(tmp_path, "--config", c, *args), args
