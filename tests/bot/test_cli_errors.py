"""Every expected failure of `wanqi` is one line on stderr, exit 1 (failed) or 2 (usage), and no traceback."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from cli.main import main
from tests.support import ROOT, create_database, write_config

QUIET = {"WANQI_LANG": "", "WANQI_DATABASE": "", "WANQI_SUPERVISORS": "", "WANQI_CONFIG": "", "WANQI_DEBUG": ""}


def wanqi(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={**QUIET, **(env or {})})


def one_line(result: Result, code: int, *needles: str) -> str:
    """The run failed with ``code`` and said exactly one line holding every needle; no traceback anywhere."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def edited_config(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    path = write_config(tmp_path, "cli.db")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_a_missing_config_file(tmp_path: Path) -> None:
    one_line(wanqi("--config", str(tmp_path / "nope.yml"), "db", "migrate"), 1, "文件不存在", "nope.yml")
    one_line(wanqi("db", "migrate", env={"WANQI_CONFIG": str(tmp_path / "gone.yml")}), 1, "WANQI_CONFIG", "gone.yml")


def test_invalid_yaml_and_a_config_that_is_not_a_mapping(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("center:\n  name: [unclosed\n", encoding="utf-8")
    one_line(wanqi("--config", str(bad), "db", "migrate"), 1, "bad.yml", "不是有效的 YAML", "第 ")
    plain = tmp_path / "plain.yml"
    plain.write_text("just a sentence\n", encoding="utf-8")
    one_line(wanqi("--config", str(plain), "db", "migrate"), 1, "plain.yml", "str")


@pytest.mark.parametrize(("edit", "needles"), [
    (lambda d: d["categories"][0].update(department="police"), ("categories[0].department", "police", "不存在的部门")),
    (lambda d: d["sla"].update(accept_days="one"), ("sla.accept_days", "应为整数", "one")),
    (lambda d: d["nlu"].update(threshold=5), ("nlu.threshold", "不能大于 1")),
    (lambda d: d["nlu"].update(threshold=-0.1), ("nlu.threshold", "不能小于 0")),
    (lambda d: d["center"].update(timezone="Asia/Zhaoqing"), ("center.timezone", "Asia/Zhaoqing")),
    (lambda d: d["policies"].update(digest_cron="every monday"), ("policies.digest_cron", "cron")),
    (lambda d: d["nlu"].update(backend="bert"), ("nlu.backend", "bert")),
    (lambda d: d["sla"].update(acept_days=2), ("sla.acept_days", "不认识的设置项")),
    (lambda d: d["departments"].append({"id": "tax", "name": "又一个税务局"}), ("departments[12].id", "重复")),
    (lambda d: d.update(push="fast"), ("push", "键: 值")),
])
def test_every_setting_is_checked_with_one_line_naming_the_key(tmp_path: Path, edit, needles) -> None:  # type: ignore[no-untyped-def]
    config = edited_config(tmp_path, edit)
    for command in (["db", "migrate"], ["policies", "validate"], ["staff", "invite", "--role", "dispatcher"]):
        one_line(wanqi("--config", str(config), *command), 1, "配置有误", *needles)
    assert not (tmp_path / "cli.db").exists()


def test_environment_values_are_checked_and_named(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, "cli.db"))
    one_line(wanqi("--config", config, "db", "migrate", env={"WANQI_SUPERVISORS": "abc"}), 1,
             "WANQI_SUPERVISORS", "「abc」不是 Telegram 用户 id")
    one_line(wanqi("--config", config, "db", "migrate", env={"WANQI_DATABASE": str(tmp_path / "no" / "x.db")}), 1,
             "WANQI_DATABASE", "不存在")
    one_line(wanqi("--config", config, "db", "migrate", env={"WANQI_NLU__THRESHOLD": "high"}), 1,
             "WANQI_NLU__THRESHOLD", "nlu.threshold", "应为数字")
    ok = wanqi("--config", config, "db", "migrate", env={"WANQI_NLU__THRESHOLD": "0.7"})
    assert ok.exit_code == 0, ok.output


def test_english_with_wanqi_lang(tmp_path: Path) -> None:
    config = edited_config(tmp_path, lambda d: d["nlu"].update(threshold=5))
    line = one_line(wanqi("--config", str(config), "db", "migrate", env={"WANQI_LANG": "en"}), 1,
                    "Configuration problem", "nlu.threshold", "must be at most 1")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in line.split("(", 1)[1].split(")", 1)[1])


def test_db_backup_needs_an_existing_database_and_folder(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, "cli.db"))
    one_line(wanqi("--config", config, "db", "backup", str(tmp_path / "copy.db")), 1, "数据库不存在", "cli.db")
    assert not (tmp_path / "cli.db").exists() and not (tmp_path / "copy.db").exists()
    assert wanqi("--config", config, "db", "migrate").exit_code == 0
    one_line(wanqi("--config", config, "db", "backup", str(tmp_path / "missing" / "copy.db")), 1,
             "文件夹不存在", "missing")


def test_report_refuses_what_it_cannot_do_well(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, "cli.db"))
    one_line(wanqi("--config", config, "report", "--out", str(tmp_path / "r.xlsx")), 1, "数据库不存在")
    assert not (tmp_path / "cli.db").exists()
    assert wanqi("--config", config, "db", "migrate").exit_code == 0
    one_line(wanqi("--config", config, "report", "--out", str(tmp_path / "nowhere" / "r.xlsx")), 1, "文件夹不存在")
    one_line(wanqi("--config", config, "report", "--out", str(tmp_path / "r.csv")), 1, "r.csv", ".xlsx")
    one_line(wanqi("--config", config, "report", "--days", "-5", "--out", str(tmp_path / "r.xlsx")), 2,
             "用法错误", "--days")
    done = wanqi("--config", config, "report", "--days", "7", "--out", str(tmp_path / "r.xlsx"))
    assert done.exit_code == 0 and "已写入 0 件诉求" in done.output


@pytest.mark.parametrize("count", ["0", "-2"])
def test_staff_invite_counts_must_be_positive(tmp_path: Path, count: str) -> None:
    config = str(write_config(tmp_path, "cli.db"))
    one_line(wanqi("--config", config, "staff", "invite", "--role", "dispatcher", "--count", count), 2,
             "用法错误", "--count")


def test_staff_invite_speaks_one_language(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, "cli.db"))
    create_database(Path(config))
    zh = wanqi("--config", config, "staff", "invite", "--role", "handler", "--department", "tax")
    assert zh.exit_code == 0 and "以「承办人」身份加入（市税务局）" in zh.stderr
    en = wanqi("--config", config, "staff", "invite", "--role", "handler", "--department", "tax",
               env={"WANQI_LANG": "en"})
    assert en.exit_code == 0 and 'join as "Handler" (市税务局)' in en.stderr


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_policies_import_failures(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, "cli.db"))
    create_database(Path(config))
    fake = tmp_path / "policies.xlsx"
    fake.write_text("政策编号,标题\n", encoding="utf-8")
    one_line(wanqi("--config", config, "policies", "import", str(fake)), 1, "policies.xlsx", "无法读取", ".xlsx")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    one_line(wanqi("--config", config, "policies", "import", str(empty)), 1, "没有数据行")
    unknown = _csv(tmp_path / "unknown.csv", [["name", "text"], ["a", "b"]])
    one_line(wanqi("--config", config, "policies", "import", str(unknown)), 1, "不认识表头", "name、text",
             "政策编号", "标题", "wanqi policies template")
    rejected = _csv(tmp_path / "rejected.csv", [["政策编号", "标题"], ["X1", ""], ["", "只有标题"]])
    result = wanqi("--config", config, "policies", "import", str(rejected))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "拒绝 2 条" in result.stdout and result.stderr.strip().endswith("未导入任何政策（原因见上）")


def test_nlu_parse_needs_text(tmp_path: Path) -> None:
    one_line(wanqi("--config", str(write_config(tmp_path)), "nlu", "parse", "  "), 2, "用法错误：TEXT 为空")


def test_run_with_a_malformed_token(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, "cli.db"))
    one_line(wanqi("--config", config, "run", env={"WANQI_BOT_TOKEN": "not a token"}), 1, "WANQI_BOT_TOKEN", "格式不对")
    one_line(wanqi("--config", config, "run", env={"WANQI_BOT_TOKEN": ""}), 1, "没有设置 WANQI_BOT_TOKEN")


def test_unexpected_errors_are_one_line_unless_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    import storage.db

    monkeypatch.setattr(storage.db, "open_db", boom)
    config = str(write_config(tmp_path, "cli.db"))
    one_line(wanqi("--config", config, "db", "migrate"), 1, "内部错误", "RuntimeError: disk on fire", "--debug")
    loud = wanqi("--debug", "--config", config, "db", "migrate")
    assert loud.exit_code == 1 and "Traceback" in loud.stderr and "disk on fire" in loud.stderr


def test_usage_errors_exit_2_in_one_line_in_one_language() -> None:
    one_line(wanqi("staff", "invite"), 2, "用法错误：缺少 --role", "wanqi staff invite --help")
    one_line(wanqi("no-such-command"), 2, "用法错误：没有命令 no-such-command")
    one_line(wanqi("staff", "invite", "--bogus"), 2, "没有选项 --bogus")
    zh = one_line(wanqi("staff", "invite", "--role", "boss"), 2, "--role 的值不对：应为以下之一：handler, dispatcher")
    assert "is not one of" not in zh
    en = one_line(wanqi("staff", "invite", "--role", "handler", "--count", "0", env={"WANQI_LANG": "en"}), 2,
                  "Usage error: invalid value for --count: must be between 1 and 100")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in en)
    assert wanqi("--help").exit_code == 0


def test_exit_codes_are_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "0 成功，1 失败，2 用法错误" in wanqi("--help").output
    assert "0 ok, 1 failed, 2 usage" in wanqi("--help", env={"WANQI_LANG": "en"}).output
    assert "| 2 |" in readme and "| 1 |" in readme


def test_policies_validate_names_a_broken_yaml_file_in_chinese(tmp_path: Path) -> None:
    folder = tmp_path / "catalogue"
    folder.mkdir()
    (folder / "broken.yml").write_text("policies:\n  - id: [unclosed\n", encoding="utf-8")
    result = wanqi("--config", str(write_config(tmp_path)), "policies", "validate", str(folder))
    assert result.exit_code == 1 and "Traceback" not in result.output
    problem, summary = result.stderr.strip().splitlines()
    assert "broken.yml" in problem and "不是有效的 YAML（第 " in problem and "while parsing" not in problem
    assert summary == "政策库有 1 处问题（见上）"


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, "cli.db"))
    (tmp_path / "cli.db").write_text("这不是数据库" * 200, encoding="utf-8")
    one_line(wanqi("--config", config, "db", "migrate"), 1, "数据库错误", "cli.db")


def test_export_feedback_with_nothing_to_export(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, "cli.db"))
    assert wanqi("--config", config, "db", "migrate").exit_code == 0
    one_line(wanqi("--config", config, "nlu", "export-feedback", "--out", str(tmp_path / "f.yml")), 1,
             "还没有反馈")


STALE_INSTALL = """
import sys

class Missing:  # what an install made before web/ and bootstrap.py existed sees
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"web", "bootstrap"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, Missing())
from cli.main import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("args", [("policies", "validate"), ("web", "link", "--user", "1"), ("staff", "list")])
def test_an_install_older_than_the_code_is_one_line_from_anywhere(tmp_path: Path, args: tuple[str, ...]) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("WANQI_")}
    env.update(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path / "data"), WANQI_LANG="zh-CN")
    run = subprocess.run([sys.executable, "-c", STALE_INSTALL, *args], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert "Traceback" not in run.stdout + run.stderr
    if args == ("policies", "validate"):  # the bot's tools do not need the web side at all
        assert run.returncode == 0 and "条政策均有效" in run.stdout, run.stderr
        return
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1 and len(lines) == 1, run.stderr
    assert "找不到模块" in lines[0] and "pip install -e" in lines[0]


def test_api_key_create_checks_its_name_and_rate(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, "cli.db"))
    create_database(Path(config))
    one_line(wanqi("--config", config, "api-key", "create", "--name", "  "), 2, "--name 的值不对", "不含空格")
    one_line(wanqi("--config", config, "api-key", "create", "--name", "a b"), 2, "--name 的值不对")
    for rate in ("0", "-5", "99999999999999999999"):
        one_line(wanqi("--config", config, "api-key", "create", "--name", "hotline", "--rate", rate), 2,
                 "--rate 的值不对", "1 到 100000")
    ok = wanqi("--config", config, "api-key", "create", "--name", "hotline", "--rate", "30")
    assert ok.exit_code == 0 and ok.stdout.startswith("wq_")
    listed = wanqi("--config", config, "api-key", "list").stdout
    assert "30/分钟" in listed
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo("Asia/Shanghai"))  # the center's time, as `wanqi staff` shows it (not UTC)
    assert any(f"创建 {(now - timedelta(minutes=m)):%Y-%m-%d %H:%M}" in listed for m in (0, 1, 2)), listed


def test_nlu_train_refuses_too_few_examples_unknown_categories_and_text_named_xlsx(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, "cli.db"))
    two = _csv(tmp_path / "two.csv", [["text", "label"], ["增值税发票开不出来", "tax"], ["社保断缴怎么补", "labor"]])
    out = str(tmp_path / "m")
    one_line(wanqi("--config", config, "nlu", "train", "--data", str(two), "--out", out), 1,
             "至少要 5 条样本", "tax (1)", "labor (1)")
    odd = _csv(tmp_path / "odd.csv", [["text", "label"], *[[f"发票问题{i}", "发票"] for i in range(6)],
                                      *[[f"社保问题{i}", "labor"] for i in range(6)]])
    one_line(wanqi("--config", config, "nlu", "train", "--data", str(odd), "--out", out), 1,
             "config.yml 没有的类别：发票", "tax")
    fake = tmp_path / "labels.xlsx"
    fake.write_text("text,label\n发票,tax\n", encoding="utf-8")
    for command in (("train", "--data", str(fake), "--out", out), ("import", str(fake), "--out", out)):
        one_line(wanqi("--config", config, "nlu", *command), 1, "labels.xlsx", "不是 Excel 文件")
    assert not Path(out).exists()


def test_no_arguments_print_the_help_and_the_debug_hint_names_the_command_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bare = wanqi()
    assert bare.exit_code == 0 and "用法错误：" not in bare.output
    assert bare.output.startswith("用法：") and "\n  staff " in bare.output and "\n  db " in bare.output
    group = wanqi("staff")
    assert group.exit_code == 0 and "\n  invite " in group.output
    import storage.db

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(storage.db, "open_db", boom)
    config = str(write_config(tmp_path, "cli.db"))
    line = one_line(wanqi("--config", config, "db", "migrate"), 1, "内部错误")
    assert f"wanqi --debug --config {config} db migrate" in line and "wanqi --debug wanqi" not in line


def test_help_speaks_the_operators_language() -> None:
    zh = wanqi("staff", "invite", "--help").output
    assert "生成一次性邀请码" in zh and "部门编号" in zh and "[必填]" in zh and "Show this message" not in zh
    en = wanqi("staff", "invite", "--help", env={"WANQI_LANG": "en"}).output
    assert "Create one-time invite codes" in en and not any("\u4e00" <= ch <= "\u9fff" for ch in en)
    for group in ((), ("staff",), ("db",), ("nlu",), ("policies",), ("web",), ("api-key",), ("inbox",)):
        english = wanqi(*group, "--help", env={"WANQI_LANG": "en"}).output
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in english), (group, english)
        chinese = wanqi(*group, "--help").output
        assert "Show this message" not in chinese and "Usage:" not in chinese, (group, chinese)


def test_addresses_ids_and_ranges_that_are_input_errors(tmp_path: Path) -> None:
    config = str(write_config(tmp_path, "cli.db"))
    create_database(Path(config))
    one_line(wanqi("--config", config, "web", env={"WANQI_WEB_LISTEN": "127.0.0.1:99999"}), 1,
             "WANQI_WEB_LISTEN", "web.listen", "127.0.0.1:99999", "1-65535")
    one_line(wanqi("--config", config, "web", "--listen", "bad"), 2, "--listen 的值不对", "「bad」")
    one_line(wanqi("--config", config, "demo", "--console", "--listen", "bad"), 2, "--listen 的值不对")
    one_line(wanqi("--config", config, "demo", "--console", "--listen", "0.0.0.0:8080"), 2, "127.0.0.1")
    one_line(wanqi("--config", config, "staff", "list", env={"WANQI_SUPERVISORS": "9" * 20}), 1,
             "WANQI_SUPERVISORS", "不是 Telegram 用户 id")
    one_line(wanqi("--config", config, "policies", "stats", "--weeks", "200000"), 2, "--weeks", "1 到 520")
    one_line(wanqi("--config", config, "policies", "match"), 1, "--enterprise")
    one_line(wanqi("--config", config, "policies", "match", "--enterprise", "77"), 1, "没有编号为 77 的企业")


def test_a_broken_catalogue_stops_the_console_with_every_problem_on_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "catalogue"
    folder.mkdir()
    (folder / "broken.yml").write_text("policies:\n  - id: [unclosed\n", encoding="utf-8")
    (folder / "odd.yml").write_text("policies: 3\n", encoding="utf-8")
    config = edited_config(tmp_path, lambda d: (d["policies"].update(catalogue=str(folder)),
                                                d["web"].update(listen="127.0.0.1:1")))
    line = one_line(wanqi("--config", str(config), "web"), 1, "政策库有 2 处问题", "broken.yml", "odd.yml")
    assert "内部错误" not in line
