"""build_classifier and ensure_model (train on first use)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from nlu.data_io import write_rasa_yaml
from nlu.factory import build_classifier, ensure_model, has_model
from tests.nlu.corpus import split


def test_ensure_model_trains_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "train"
    write_rasa_yaml(split()[0], data)
    model_dir = tmp_path / "models" / "appeals"
    with caplog.at_level(logging.INFO):
        assert ensure_model(model_dir, data) == model_dir
    assert has_model(model_dir)
    assert any("training" in r.getMessage() for r in caplog.records)
    stamp = (model_dir / "model.npz").stat().st_mtime_ns
    caplog.clear()
    ensure_model(model_dir, data)
    assert (model_dir / "model.npz").stat().st_mtime_ns == stamp
    assert not any("training" in r.getMessage() for r in caplog.records)
    assert not list((tmp_path / "models").glob("*.tmp-*"))
    top = build_classifier("spacy", model_dir, "http://127.0.0.1:1", 1.0).parse("排污许可证到期了").top
    assert top is not None and top.category == "environment"


def test_unknown_backend(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="backend"):
        build_classifier("keywords", tmp_path, "", 1.0)


def test_a_model_of_an_older_format_is_trained_again(tmp_path: Path) -> None:
    data = tmp_path / "train"
    write_rasa_yaml(split()[0], data)
    model_dir = tmp_path / "models" / "appeals"
    ensure_model(model_dir, data)
    meta = model_dir / "model.json"
    meta.write_text(meta.read_text(encoding="utf-8").replace('"format": 3', '"format": 2'), encoding="utf-8")
    assert not has_model(model_dir)
    ensure_model(model_dir, data)
    assert has_model(model_dir) and '"format": 3' in meta.read_text(encoding="utf-8")
