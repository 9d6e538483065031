"""wanqi nlu train / evaluate / parse / import through click's CliRunner, with CSV and Excel data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from cli.main import main
from nlu.data_io import load_examples
from tests.nlu.corpus import split

CONFIG = str(Path(__file__).resolve().parents[2] / "config.yml")
NAMES = {"tax": "税务", "labor": "人社", "environment": "环保", "finance": "金融"}


def write_csv(path: Path, examples: list, encoding: str = "utf-8-sig") -> None:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["编号", "诉求内容", "类别"])
        for i, ex in enumerate(examples):
            writer.writerow([i, ex.text, NAMES[ex.label]])


def write_xlsx(path: Path, examples: list) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["诉求内容", "类别"])
    for ex in examples:
        ws.append([ex.text, NAMES[ex.label]])
    wb.save(path)


def run(*args: str) -> str:
    result = CliRunner().invoke(main, ["--config", CONFIG, "nlu", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_csv_train_then_evaluate_json(tmp_path: Path) -> None:
    train, test = split()
    write_csv(tmp_path / "train.csv", train)
    write_csv(tmp_path / "test.csv", test, encoding="gbk")
    cols = ["--text-column", "诉求内容", "--label-column", "类别"]
    run("train", "--data", str(tmp_path / "train.csv"), "--out", str(tmp_path / "m"), "--allow-unknown", *cols)
    out = run("evaluate", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "test.csv"), "--json", *cols)
    result = json.loads(out)
    assert {"accuracy", "macro_f1", "threshold", "auto_route_coverage", "auto_route_precision", "p50_ms", "p95_ms",
            "per_class", "confusion"} <= result.keys()
    assert result["accuracy"] >= 0.9
    assert set(result["per_class"]) == set(NAMES.values())
    stored = json.loads((tmp_path / "m" / "model.json").read_text(encoding="utf-8"))["threshold"]
    assert result["threshold"] == round(stored, 4)  # the model's own, chosen at training


def test_evaluate_scores_only_the_models_labels_and_says_so(tmp_path: Path) -> None:
    train, test = split()
    write_csv(tmp_path / "train.csv", train)
    rows = [*test, *[type(test[0])(f"一段被拆错的文本碎片{i}", "tax") for i in range(3)]]
    with (tmp_path / "test.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["诉求内容", "类别"])
        writer.writerows([[ex.text, NAMES[ex.label]] for ex in test])
        writer.writerows([["碎片文本", "多余的类别"], ["另一段碎片", "又一个类别"]])
    cols = ["--text-column", "诉求内容", "--label-column", "类别"]
    run("train", "--data", str(tmp_path / "train.csv"), "--out", str(tmp_path / "m"), "--allow-unknown", *cols)
    result = CliRunner().invoke(main, ["--config", CONFIG, "nlu", "evaluate", "--model", str(tmp_path / "m"),
                                       "--data", str(tmp_path / "test.csv"), "--json", *cols])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == len(test) and set(report["per_class"]) == set(NAMES.values())
    assert report["unknown_labels"] == {"多余的类别": 1, "又一个类别": 1}
    assert "类别模型不认识（多余的类别, 又一个类别）" in result.stderr
    assert rows  # the fragments above are what a mis-read CSV looked like


def test_parse_json_says_whether_to_file_and_route(tiny_model: Path) -> None:
    keys = {"category", "confidence", "ranking", "entities", "is_appeal", "auto_route"}
    text = "我们公司的增值税专用发票问题一直没解决，很着急"
    appeal = json.loads(run("parse", "--json", "--model", str(tiny_model), text))
    assert keys <= appeal.keys() and appeal["is_appeal"] and appeal["category"] == "tax"
    for chat in ("你好", "转人工", "测试一下", "謝謝"):
        parsed = json.loads(run("parse", "--json", "--model", str(tiny_model), chat))
        assert parsed["is_appeal"] is False and parsed["auto_route"] is False, chat
    word = json.loads(run("parse", "--json", "--model", str(tiny_model), "发票"))
    assert word["confidence"] < 0.7 and word["auto_route"] is False


def test_excel_train_and_readable_report(tmp_path: Path) -> None:
    train, test = split()
    write_xlsx(tmp_path / "train.xlsx", train)
    write_xlsx(tmp_path / "test.xlsx", test)
    cols = ["--text-column", "诉求内容", "--label-column", "类别"]
    run("train", "--data", str(tmp_path / "train.xlsx"), "--out", str(tmp_path / "m"), "--seed", "3",
        "--allow-unknown", *cols)
    out = run("evaluate", "--model", str(tmp_path / "m"), "--data", str(tmp_path / "test.xlsx"), *cols)
    assert "macro-F1" in out and "混淆矩阵" in out and "覆盖" in out and "auto-route" not in out


def test_parse_shows_category_names_and_entities(tiny_model: Path) -> None:
    out = run("parse", "环评批复一直没下来，罚款一百二十万元，电话0758-2345678", "--model", str(tiny_model))
    first = out.splitlines()[out.splitlines().index("类别：") + 1]
    assert "environment" in first and "环保审批与执法" in first
    assert "money" in out and "1200000" in out and "0758-2345678" in out


def test_import_csv_to_rasa_yaml(tmp_path: Path) -> None:
    train, _ = split()
    write_csv(tmp_path / "t.csv", train)
    run("import", str(tmp_path / "t.csv"), "--out", str(tmp_path / "yaml"),
        "--text-column", "诉求内容", "--label-column", "类别")
    back = load_examples(tmp_path / "yaml")
    assert sorted((e.label, e.text) for e in back) == sorted((NAMES[e.label], e.text) for e in train)


def test_bad_column_is_a_clear_error(tmp_path: Path) -> None:
    write_csv(tmp_path / "t.csv", split()[0])
    result = CliRunner().invoke(main, ["nlu", "train", "--data", str(tmp_path / "t.csv"), "--out",
                                       str(tmp_path / "m")])
    assert result.exit_code != 0 and "诉求内容" in result.output
