"""`wanqi nlu import`: labels never share a file and survive a YAML round trip; the entity extractor is bounded."""

from __future__ import annotations

import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.main import main
from nlu.data_io import Example, load_examples, write_rasa_yaml
from nlu.entities import extract


def test_labels_that_slug_alike_keep_their_own_files(tmp_path: Path) -> None:
    table = tmp_path / "history.csv"
    table.write_text("内容,类别\n发票开不出来,税务/发票\n增值税专票抵扣,税务_发票\n同意办理,yes\n两个都要,\"[a, b]\"\n",
                     encoding="utf-8")
    out = tmp_path / "imported"
    result = CliRunner().invoke(main, ["nlu", "import", str(table), "--out", str(out), "--text-column", "内容",
                                       "--label-column", "类别"])
    assert result.exit_code == 0, result.output
    back = {(ex.text, ex.label) for ex in load_examples(out)}
    assert back == {("发票开不出来", "税务/发票"), ("增值税专票抵扣", "税务_发票"), ("同意办理", "yes"),
                    ("两个都要", "[a, b]")}
    assert len(list(out.glob("*.yml"))) == 4


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)
                .map(str.strip).filter(bool), min_size=1, max_size=6, unique=True))
def test_any_labels_round_trip_through_one_file_per_intent(labels: list[str]) -> None:
    out = Path(tempfile.mkdtemp()) / "data"
    examples = [Example(f"第{i}条诉求内容", label) for i, label in enumerate(labels)]
    files = write_rasa_yaml(examples, out)
    assert len(set(files)) == len(labels)
    assert sorted((ex.text, ex.label) for ex in load_examples(out)) == sorted((e.text, e.label) for e in examples)


def test_a_4301_digit_amount_does_not_break_extraction() -> None:
    assert extract("申请贷款" + "9" * 5000 + "元") == ()
    assert extract("申请贷款" + "一" * 5000 + "元") == ()
    assert [e.value for e in extract("申请贷款五十万元，另需1,200.50元")] == ["500000", "1200.5"]


@settings(max_examples=300, deadline=None)
@given(st.text(st.one_of(st.characters(exclude_categories=("Cs",)),
                         st.sampled_from("0123456789元万亿一二十百年月日号区县")), max_size=300))
def test_the_extractor_never_raises_and_spans_are_honest(text: str) -> None:
    for entity in extract(text):
        assert 0 <= entity.start < entity.end <= len(text) and text[entity.start:entity.end] == entity.text
