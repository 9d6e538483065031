"""Fixtures: a tiny embedded model trained once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.nlu.corpus import split


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nlu.embedded import train_model

    train, _ = split()
    return train_model(train, tmp_path_factory.mktemp("nlu") / "model", seed=0, progress=False)
