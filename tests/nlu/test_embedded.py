"""The embedded backend: numpy-only loading, normalised input, modest confidences for short texts,
the stored threshold, determinism."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from appeals.ports import ClassifierUnavailable
from nlu.embedded import EmbeddedClassifier, train_model
from nlu.normalize import normalize
from tests.nlu.corpus import TOPICS, split


def test_trained_model_classifies_held_out_phrasings(tiny_model: Path) -> None:
    classifier = EmbeddedClassifier(tiny_model)
    _, test = split()
    correct = sum(classifier.parse(ex.text).top.category == ex.label for ex in test)  # type: ignore[union-attr]
    assert correct / len(test) >= 0.9


def test_ranking_is_sorted_calibrated_and_complete(tiny_model: Path) -> None:
    result = EmbeddedClassifier(tiny_model).parse("增值税专用发票开不出来，电话13800138000")
    confidences = [s.confidence for s in result.ranking]
    assert {s.category for s in result.ranking} == set(TOPICS)
    assert confidences == sorted(confidences, reverse=True)
    assert math.isclose(sum(confidences), 1.0, abs_tol=1e-4)
    assert result.top is not None and result.top.category == "tax"
    assert 0.25 < result.top.confidence < 1.0
    assert [(e.label, e.value) for e in result.entities] == [("phone", "13800138000")]
    assert result.is_appeal and result.threshold is not None and 0 < result.threshold <= 1


def test_traditional_and_full_width_read_like_simplified(tiny_model: Path) -> None:
    classifier = EmbeddedClassifier(tiny_model)
    simplified = classifier.parse("我们公司的增值税专用发票问题一直没解决,很着急 abc")
    for variant in ("我們公司的增值稅專用發票問題一直沒解決，很着急 ＡＢＣ",
                    "我们公司的增值税专用发票问题一直没解决，很着急　ａｂｃ"):
        assert classifier.parse(variant).ranking == simplified.ranking
    assert normalize("臺灣ＡＢＣ１２３，　發票") == "台湾abc123, 发票"


def test_one_word_is_never_certain(tiny_model: Path) -> None:
    classifier = EmbeddedClassifier(tiny_model)
    for word in ("发票", "社保", "环评", "贷款"):
        top = classifier.parse(word).top
        assert top is not None and top.confidence < 0.7


def test_threshold_is_stored_from_out_of_fold_scores(tiny_model: Path) -> None:
    meta = json.loads((tiny_model / "model.json").read_text(encoding="utf-8"))
    assert meta["report"]["folds"] == 5 and meta["report"]["target_precision"] == 0.95
    assert meta["threshold"] == EmbeddedClassifier(tiny_model).threshold
    assert meta["report"]["oof_auto_route_precision"] >= 0.95 or meta["report"]["oof_auto_route_coverage"] == 0


def test_loading_imports_no_heavy_modules(tiny_model: Path) -> None:
    code = ("import sys; from nlu.factory import build_classifier; "
            f"c = build_classifier('embedded', {str(tiny_model)!r}); c.parse('增值税发票开不出来'); "
            "print(sorted(m for m in ('aiogram', 'spacy', 'jieba', 'sklearn', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_same_seed_same_model(tmp_path: Path) -> None:
    train, test = split()
    a = EmbeddedClassifier(train_model(train, tmp_path / "a", seed=7, gate=False))
    b = EmbeddedClassifier(train_model(train, tmp_path / "b", seed=7, gate=False))
    assert (tmp_path / "a/model.npz").read_bytes() == (tmp_path / "b/model.npz").read_bytes()
    assert [a.parse(ex.text) for ex in test] == [b.parse(ex.text) for ex in test]


def test_missing_model_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ClassifierUnavailable):
        EmbeddedClassifier(tmp_path / "nothing")


def test_one_label_is_refused(tmp_path: Path) -> None:
    train, _ = split()
    with pytest.raises(ValueError, match="two"):
        train_model([ex for ex in train if ex.label == "tax"], tmp_path / "m")


def test_texts_sharing_a_sentence_share_a_cv_group() -> None:
    from nlu.linear_model import shared_sentence_groups

    texts = ["您好。增值税专用发票开不出来怎么办。谢谢", "增值税专用发票开不出来怎么办。另外社保怎么交",
             "排污许可证到期了要重新监测吗", "您好。员工的养老保险断缴两个月了"]
    texts += [f"第{i}个互不相干的问题描述文本" for i in range(20)]
    groups = shared_sentence_groups(texts)
    assert groups is not None and groups[0] == groups[1]
    assert len(set(groups[2:].tolist())) == len(texts) - 2  # 您好 is too short to join anything
    assert shared_sentence_groups(texts[2:]) is None
