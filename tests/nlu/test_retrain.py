"""wanqi nlu retrain: data + the desk's feedback, old and new scored on the same test set, swap only if
not worse, previous model kept for --rollback (CliRunner, a real SQLite file)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml
from click.testing import CliRunner

from cli.main import main
from nlu.data_io import load_examples, write_rasa_yaml
from storage.db import open_db
from tests.nlu.corpus import split
from tests.support import create_database, write_config


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    config = write_config(tmp_path)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    train, test = split()
    write_rasa_yaml(train, tmp_path / "train")
    write_rasa_yaml(test, tmp_path / "test")
    data["nlu"].update(model_dir=str(tmp_path / "models/appeals"), train_data=str(tmp_path / "train"))
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    create_database(config)
    return config, tmp_path / "models/appeals"


def _retrain(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), "nlu", "retrain", *args], catch_exceptions=False,
                                env={"WANQI_LANG": "en"})
    assert result.exit_code == 0, result.output
    return result.stdout


def _feedback(tmp_path: Path, rows: list[tuple[str, str]]) -> None:
    db = open_db(tmp_path / "wanqi.db")
    now = datetime.now(UTC).isoformat()
    db["feedback"].insert_all([{"text": t, "category": c, "source": "correction", "created_at": now} for t, c in rows])
    db.close()


def test_retrain_swaps_only_when_not_worse_and_rolls_back(tmp_path: Path) -> None:
    config, model = _setup(tmp_path)
    test_dir = str(tmp_path / "test")
    out = _retrain(config, "--test", test_dir)
    assert "Model in use: none" in out and "New model: macro-F1" in out and "New model in use" in out
    first = (model / "model.npz").read_bytes()

    # poisoned feedback: every tax text of the training data "corrected" to labor -> worse: kept
    train, _ = split()
    _feedback(tmp_path, [(ex.text, "labor") for ex in train if ex.label == "tax"])
    out = _retrain(config, "--test", test_dir)
    assert "Model in use: macro-F1" in out and "Kept the model in use" in out
    assert (model / "model.npz").read_bytes() == first
    assert not model.with_name("appeals.candidate").exists()

    # the desk undoes it: the same texts back to tax, plus new phrasings -> not worse: swapped, old kept
    _feedback(tmp_path, [(ex.text, "tax") for ex in train if ex.label == "tax"]
              + [("增值税专用发票作废以后怎么重开", "tax"), ("员工的养老保险转移接续怎么办", "labor")])
    out = _retrain(config, "--test", test_dir)
    assert "New model in use" in out
    assert (model.with_name("appeals.previous") / "model.npz").read_bytes() == first
    assert (model / "model.npz").read_bytes() != first

    assert "Previous model restored" in _retrain(config, "--rollback")
    assert (model / "model.npz").read_bytes() == first


def test_retrain_scores_on_the_shipped_test_set_from_any_folder() -> None:
    """Outside the checkout a relative nlu/data/test does not exist: the default is the installed copy."""
    import cli.nlu

    option = next(p for p in cli.nlu.retrain.params if p.name == "test_data")
    assert option.default == cli.nlu.DEFAULT_TEST and Path(str(option.default)).is_absolute()
    assert load_examples(str(option.default))
