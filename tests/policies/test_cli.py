"""``wanqi policies``: validate, import (report), match, digest --dry-run, stats."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner

from cli.main import main
from storage.db import open_db
from storage.outbox import Outbox
from tests.policies.dbseed import add_enterprise
from tests.support import create_database, write_config

HEADERS = ["政策编号", "标题", "发文单位", "摘要", "发布日期", "生效日期", "适用行业", "适用区县", "关键词", "主题"]


def config(tmp_path: Path) -> Path:
    cfg = write_config(tmp_path, "w.db")
    create_database(cfg)
    return cfg


def run(cfg: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(cfg), "policies", *args], env={"WANQI_BOT_TOKEN": ""})
    assert result.exit_code == 0, result.output
    return result.output


def test_validate_import_match_digest_and_stats(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert "条政策均有效" in run(cfg, "validate")
    sheet = tmp_path / "center.csv"
    with sheet.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        w.writerow(["cli-001", "模具技改补贴", "市工信局", "支持模具企业技改", "2026-01-05", "2026-01-05", "C",
                    "端州区、四会市", "模具，技改", "科技创新"])
        w.writerow(["cli-002", "坏记录", "市工信局", "摘要", "明天", "2026-01-05", "C", "", "", "科技创新"])
    out = run(cfg, "import", str(sheet))
    assert "新增 1 条" in out and "拒绝 1 条" in out and "第 3 行 cli-002" in out and "发布日期" in out
    assert "未变 1 条" in run(cfg, "import", str(sheet))

    db = open_db(tmp_path / "w.db")
    add_enterprise(db, 1, business="精密模具制造", credit_code="91441200MA4W000XX1")
    add_enterprise(db, 2, industry="A", district="怀集县", business="")
    db.conn.close()
    out = run(cfg, "match", "--enterprise", "1", "--on", "2026-03-01")
    assert "cli-001 模具技改补贴" in out and "符合：端州区 · 制造业 · 相关：模具\n" in out
    assert "示例" in out  # the YAML sample catalogue is synced too
    assert "cli-001" in run(cfg, "match", "--credit-code", "91441200MA4W000XX1", "--on", "2026-03-01")

    dry = run(cfg, "digest", "--dry-run")
    assert "用户 100" in dry and " 至 " in dry and "-W" not in dry
    db = open_db(tmp_path / "w.db")
    assert Outbox(db).stats() == {}  # a dry run sends and records nothing
    db.conn.close()
    assert "合计：—" in run(cfg, "stats", "--weeks", "1")


def test_validate_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("policies:\n  - id: X\n    title: t\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(config(tmp_path)), "policies", "validate", str(bad)])
    assert result.exit_code != 0
    assert "bad.yml: policies[0] (X): id:" in result.output and "issuer: 必填" in result.output
