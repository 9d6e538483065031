"""Loading Rasa YAML, CSV and Excel; writing Rasa YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from appeals.ports import Entity
from nlu.data_io import DataError, Example, load_examples, rasa_yaml, strip_markup, write_rasa_yaml

YAML = '''version: "3.1"
nlu:
- intent: tax
  examples: |
    - 发票[1200万元](money)开不出来
    - [端州区]{"entity": "district", "value": "端州区"}税务局电话[0758-2345678](phone)打不通
- synonym: 市税务局
  examples: |
    - 税务局
- intent: labor
  examples: |
    - 拖欠工资[两万五](money:25000)
'''


def test_strip_markup_gives_plain_text_and_spans() -> None:
    text, ents = strip_markup('[端州]{"entity": "district", "value": "端州区"}的厂子欠[两万五](money:25000)')
    assert text == "端州的厂子欠两万五"
    assert [(e.label, text[e.start:e.end], e.value) for e in ents] == [
        ("district", "端州", "端州区"), ("money", "两万五", "25000")]


def test_brackets_that_are_not_markup_stay() -> None:
    assert strip_markup("见[附件] (二)")[0] == "见[附件] (二)"


def test_load_yaml_file_and_directory(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(YAML, encoding="utf-8")
    examples = load_examples(tmp_path / "a.yml")
    assert [(e.label, e.text) for e in examples] == [
        ("tax", "发票1200万元开不出来"), ("tax", "端州区税务局电话0758-2345678打不通"), ("labor", "拖欠工资两万五")]
    assert examples[0].entities == (Entity("money", "1200万元", 2, 8, "1200万元"),)
    (tmp_path / "b.yaml").write_text('version: "3.1"\nnlu:\n- intent: finance\n  examples: |\n    - 贷款难\n',
                                     encoding="utf-8")
    assert len(load_examples(tmp_path)) == 4


def test_yaml_round_trip(tmp_path: Path) -> None:
    examples = [Example("发票1200万元开不出来", "tax", (Entity("money", "1200万元", 2, 8, "12000000"),)),
                Example("第一段\n第二段", "other")]
    written = write_rasa_yaml(examples, tmp_path / "out")
    assert sorted(p.name for p in written) == ["other.yml", "tax.yml"]
    back = load_examples(tmp_path / "out")
    assert {(e.label, e.text) for e in back} == {("tax", "发票1200万元开不出来"), ("other", "第一段 第二段")}
    assert next(e for e in back if e.label == "tax").entities[0].value == "12000000"
    assert "- intent: tax" in rasa_yaml(examples)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text('内容,类别,备注\n"发票开不出来，怎么办",税务,x\n拖欠工资,人社,\n,空,\n', encoding=encoding)
    examples = load_examples(path, text_column="内容", label_column="类别")
    assert [(e.text, e.label) for e in examples] == [("发票开不出来，怎么办", "税务"), ("拖欠工资", "人社")]


def test_missing_column_names_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("text,category\n你好,other\n", encoding="utf-8")
    with pytest.raises(DataError, match="category"):
        load_examples(path)


def test_excel(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["编号", "诉求内容", "分类"])
    ws.append([1, "第一段\n第二段：环评批复", "环保"])
    ws.append([2, None, "环保"])
    wb.save(tmp_path / "t.xlsx")
    examples = load_examples(tmp_path / "t.xlsx", text_column="诉求内容", label_column="分类")
    assert [(e.text, e.label) for e in examples] == [("第一段\n第二段：环评批复", "环保")]


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


REAL_CSV = ('text,label\r\n'
            '"您好，领导：我司反映的""稳岗补贴""问题，\r\n已经三个月了，仍未到账。",labor\r\n'
            '"税务局说""发票""有问题, 请尽快处理",tax\r\n'
            'plain line without quotes,tax\r\n'
            '"another ""quoted"" one, with, commas",labor\r\n')


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "utf-16"])
def test_csv_is_read_as_excel_writes_it(tmp_path: Path, encoding: str) -> None:
    """Doubled quotes, commas and line breaks inside quoted fields, BOM, GBK: four rows, two labels."""
    path = _write(tmp_path / "real.csv", REAL_CSV, encoding)
    examples = load_examples(path)
    assert [ex.label for ex in examples] == ["labor", "tax", "tax", "labor"]
    assert examples[0].text == '您好，领导：我司反映的"稳岗补贴"问题，\r\n已经三个月了，仍未到账。'
    assert examples[1].text == '税务局说"发票"有问题, 请尽快处理'
    assert examples[3].text == 'another "quoted" one, with, commas'


def test_semicolon_and_tab_delimiters_come_from_the_header(tmp_path: Path) -> None:
    semi = _write(tmp_path / "s.csv", 'text;label\n"a; b ""c""";tax\nplain, with comma;labor\n')
    assert [(e.text, e.label) for e in load_examples(semi)] == [('a; b "c"', "tax"), ("plain, with comma", "labor")]
    tab = _write(tmp_path / "t.tsv", 'text\tlabel\n"多行\n文本"\ttax\n')
    assert [(e.text, e.label) for e in load_examples(tab)] == [("多行\n文本", "tax")]


def test_excel_cells_as_written(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["内容", "类别"])
    ws.append(['第一行\n第二行 "引号", 逗号', 3])
    ws.append([None, None])
    ws.append(["短", "税务"])
    wb.save(tmp_path / "x.xlsx")
    examples = load_examples(tmp_path / "x.xlsx", "内容", "类别")
    assert [(e.text, e.label) for e in examples] == [('第一行\n第二行 "引号", 逗号', "3"), ("短", "税务")]
