"""`wanqi policies template` and `wanqi nlu template` write workbooks that their import commands accept."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from cli.main import main
from policies.importer import TEMPLATE_HEADERS
from policies.model import TOPICS
from tests.support import create_database, write_config


def _wanqi(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), *args], env={"WANQI_LANG": ""})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_policy_template_has_every_header_explains_them_and_imports(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    create_database(config)  # importing reads and changes the center's data
    out = tmp_path / "政策模板.xlsx"
    assert "已写入示例表格" in _wanqi(config, "policies", "template", str(out))
    book = load_workbook(out)
    policies, notes = book.worksheets
    assert [c.value for c in policies[1]] == list(TEMPLATE_HEADERS)
    explained = {row[0]: row[1] for row in notes.iter_rows(min_row=2, values_only=True)}
    assert set(explained) == set(TEMPLATE_HEADERS)
    assert "zq-2026-fin-001" in explained["政策编号"] and all(t in explained["主题"] for t in TOPICS)
    assert "新增 1 条" in _wanqi(config, "policies", "import", "--dry-run", str(out))


def test_the_nlu_template_lists_the_categories_and_imports(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    out = tmp_path / "samples.xlsx"
    _wanqi(config, "nlu", "template", str(out))
    notes = {row[0]: row[1] for row in load_workbook(out).worksheets[1].iter_rows(min_row=2, values_only=True)}
    assert notes["tax"] == "税费与发票" and notes["other"] == "其他"
    _wanqi(config, "nlu", "import", str(out), "--out", str(tmp_path / "imported.yml"))
    data = yaml.safe_load((tmp_path / "imported.yml").read_text(encoding="utf-8"))
    assert {entry["intent"] for entry in data["nlu"]} == {"tax", "utilities"}


def test_a_template_is_an_xlsx_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(write_config(tmp_path)), "policies", "template",
                                       str(tmp_path / "t.csv")], env={"WANQI_LANG": ""})
    assert result.exit_code == 1 and "应以 .xlsx 结尾" in result.stderr
