"""The staff and database tools, driven through the `wanqi` command line."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

from click.testing import CliRunner
from sqlite_utils import Database

from cli.main import main
from config import load_settings, parse_supervisors
from tests.support import ROOT, create_database, write_config


def _config(tmp_path: Path) -> Path:
    config = write_config(tmp_path, "cli.db")
    create_database(config)
    return config


def test_staff_invite_prints_one_time_codes(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = CliRunner().invoke(main, ["--config", str(config), "staff", "invite", "--role", "handler",
                                       "--department", "tax", "--count", "2"])
    assert result.exit_code == 0, result.output
    codes = re.findall(r"/join (\S+)", result.output)
    assert len(codes) == 2 and codes[0] != codes[1]
    rows = list(Database(tmp_path / "cli.db").query("SELECT role, department_id, used_by FROM invites"))
    assert rows == [{"role": "handler", "department_id": "tax", "used_by": None}] * 2


def test_staff_invite_refuses_unknown_departments_and_handlers_without_one(tmp_path: Path) -> None:
    config = _config(tmp_path)
    bad = CliRunner().invoke(main, ["--config", str(config), "staff", "invite", "--role", "handler",
                                    "--department", "police"])
    assert bad.exit_code != 0 and "没有部门「police」" in bad.output
    missing = CliRunner().invoke(main, ["--config", str(config), "staff", "invite", "--role", "handler"])
    assert missing.exit_code != 0 and "必须指定部门" in missing.output


def test_db_migrate_and_backup(tmp_path: Path) -> None:
    config = write_config(tmp_path, "cli.db")
    first = CliRunner().invoke(main, ["--config", str(config), "db", "migrate"])
    assert first.exit_code == 0 and "m001_core" in first.output
    again = CliRunner().invoke(main, ["--config", str(config), "db", "migrate"])
    assert "已应用 0 个迁移" in again.output
    Database(tmp_path / "cli.db").execute("INSERT INTO departments (id, name) VALUES ('x', '测试部门')")
    backup = CliRunner().invoke(main, ["--config", str(config), "db", "backup", str(tmp_path / "copy.db")])
    assert backup.exit_code == 0
    assert list(Database(tmp_path / "copy.db").query("SELECT name FROM departments")) == [{"name": "测试部门"}]


def test_run_without_a_token_explains_what_is_missing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("WANQI_BOT_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["--config", str(_config(tmp_path)), "run"])
    assert result.exit_code != 0 and "没有设置 WANQI_BOT_TOKEN" in result.output


def test_settings_take_secrets_only_from_the_environment(tmp_path: Path) -> None:
    shutil.copy(ROOT / "config.yml", tmp_path / "config.yml")
    settings = load_settings(tmp_path / "config.yml", env={"WANQI_BOT_TOKEN": "1:abc", "WANQI_SUPERVISORS": "7, 8",
                                                           "WANQI_API_BASE": "http://127.0.0.1:8081"})
    assert settings.bot_token == "1:abc" and settings.supervisors == {7, 8}
    assert settings.telegram.api_base == "http://127.0.0.1:8081"
    assert "1:abc" not in repr(settings)
    assert settings.routing.category("tax").department_id == "tax"
    assert settings.routing.category("policy").reply_days == 3
    try:
        parse_supervisors("7,abc")
    except ValueError as exc:
        assert "abc" in str(exc)
    else:
        raise AssertionError("a bad supervisor id must be refused")


async def test_supervisor_gets_an_excel_report_and_others_do_not(tmp_path: Path) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    from tests.bot.harness import SUPERVISOR, Role, build_harness

    h = build_harness(tmp_path)
    try:
        await h.register(101)
        await h.join(201, Role.HANDLER, "tax")
        await h.file(101, "发票开不出来")
        await h.file(101, "园区门口的路灯坏了一周")
        assert "没有办理该事项的权限" in (await h.send(201, "/report"))[-1].text
        sent = (await h.send(SUPERVISOR, "/report 7"))[-1]
        assert sent.method == "sendDocument" and "共 2 件" in sent.text
        call = [c for c in h.session.calls if c.__api_method__ == "sendDocument"][-1]
        book = load_workbook(BytesIO(call.document.data))
        rows = list(book["部门汇总"].iter_rows(values_only=True))
        tax = next(r for r in rows if r and r[0] == "市税务局")
        assert tax[1:3] == (1, 1)
        assert [r[0] for r in book["诉求明细"].iter_rows(min_row=2, values_only=True)] == sorted(
            r["number"] for r in h.db.query("SELECT number FROM appeals"))[::-1]
        # the figures of appeals.metrics: the same in the caption and the workbook's sheets
        assert "受理 2 件" in sent.text and "按时签收率" in sent.text
        dept = {r[0]: r for r in book["部门指标"].iter_rows(min_row=2, values_only=True)}
        assert dept["合计"][1] == 2 and dept["市税务局"][1] == 1
        trend = book["周趋势"]
        assert trend._charts and sum(r[1] for r in trend.iter_rows(min_row=2, values_only=True)) == 2
        # numbers stay numbers and times are dates, formatted for people (sortable and summable in Excel)
        filed_at = book["诉求明细"]["F2"]
        assert isinstance(filed_at.value, datetime) and filed_at.number_format == "yyyy-mm-dd hh:mm"
        total = book["部门指标"]["C" + str(book["部门指标"].max_row)]  # 按时签收率 of 合计
        assert total.number_format == "0.0%" and (total.value is None or isinstance(total.value, float))
        assert isinstance(trend["A2"].value, datetime) and trend["A2"].number_format == "yyyy-mm-dd"
    finally:
        await h.app.close()


def test_wanqi_report_writes_the_workbook(tmp_path: Path) -> None:
    config = _config(tmp_path)
    out = tmp_path / "report.xlsx"
    assert CliRunner().invoke(main, ["--config", str(config), "db", "migrate"]).exit_code == 0
    result = CliRunner().invoke(main, ["--config", str(config), "report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    from openpyxl import load_workbook

    assert load_workbook(out).sheetnames == ["部门汇总", "诉求明细", "部门指标", "分类指标", "周趋势", "红黄灯", "督办"]
    assert "受理 0 件" in result.output
    assert out.stat().st_mode & 0o777 == 0o600  # enterprise data: the owner's only
    out.chmod(0o644)
    assert CliRunner().invoke(main, ["--config", str(config), "report", "--out", str(out)]).exit_code == 0
    assert out.stat().st_mode & 0o777 == 0o600  # an existing file too
