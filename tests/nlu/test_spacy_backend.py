"""The embedded backend: training on a tiny corpus, saving, loading, parsing, determinism."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from appeals.ports import ClassifierUnavailable
from nlu.spacy_backend import SpacyClassifier, train_model
from tests.nlu.corpus import TOPICS, split


def test_trained_model_classifies_held_out_phrasings(tiny_model: Path) -> None:
    classifier = SpacyClassifier(tiny_model)
    _, test = split()
    correct = sum(classifier.parse(ex.text).top.category == ex.label for ex in test)  # type: ignore[union-attr]
    assert correct / len(test) >= 0.9


def test_ranking_is_sorted_calibrated_and_complete(tiny_model: Path) -> None:
    result = SpacyClassifier(tiny_model).parse("增值税专用发票开不出来，电话13800138000")
    confidences = [s.confidence for s in result.ranking]
    assert {s.category for s in result.ranking} == set(TOPICS)
    assert confidences == sorted(confidences, reverse=True)
    assert math.isclose(sum(confidences), 1.0, abs_tol=1e-4)
    assert result.top is not None and result.top.category == "tax"
    assert 0.25 < result.top.confidence < 1.0
    assert [(e.label, e.value) for e in result.entities] == [("phone", "13800138000")]


def test_spacy_pipeline_shape(tiny_model: Path) -> None:
    nlp = SpacyClassifier(tiny_model).nlp
    assert nlp.pipe_names == ["appeal_textcat", "appeal_entities"]
    assert nlp.config["nlp"]["tokenizer"]["segmenter"] == "jieba"
    doc = nlp("端州区的工厂拖欠工资")
    assert [t.text for t in doc][:2] == ["端州区", "的"]
    assert [(e.text, e.label_) for e in doc.ents] == [("端州区", "district")]


def test_same_seed_same_model(tmp_path: Path) -> None:
    train, test = split()
    a = SpacyClassifier(train_model(train, tmp_path / "a", seed=7, progress=False))
    b = SpacyClassifier(train_model(train, tmp_path / "b", seed=7, progress=False))
    assert (tmp_path / "a/appeal_textcat/model.msgpack").read_bytes() == \
        (tmp_path / "b/appeal_textcat/model.msgpack").read_bytes()
    assert [a.parse(ex.text) for ex in test] == [b.parse(ex.text) for ex in test]


def test_missing_model_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ClassifierUnavailable):
        SpacyClassifier(tmp_path / "nothing")


def test_one_label_is_refused(tmp_path: Path) -> None:
    train, _ = split()
    with pytest.raises(ValueError, match="two"):
        train_model([ex for ex in train if ex.label == "tax"], tmp_path / "m", progress=False)
