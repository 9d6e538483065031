"""Learning from the desk: retrain on the training data plus the feedback, compare old and new on the same
test set, and swap only if the new model is not worse; the previous model is kept for a rollback."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlu.data_io import Example
from nlu.embedded import EmbeddedClassifier, has_model, train_model
from nlu.evaluate import evaluate


@dataclass(frozen=True)
class Retrained:
    old: dict[str, Any] | None   # evaluate() figures of the model in use (None: there was none)
    new: dict[str, Any]
    swapped: bool


def previous_dir(model_dir: Path) -> Path:
    return model_dir.with_name(model_dir.name + ".previous")


def with_feedback(examples: Sequence[Example], feedback: Sequence[tuple[str, str, str]]) -> list[Example]:
    """Training examples plus feedback (text, category, source); the last decision on a text wins, and it
    replaces a training example with the same text."""
    latest: dict[str, str] = {}
    for text, category, _source in feedback:
        latest[text] = category
    return [ex for ex in examples if ex.text not in latest] + [Example(t, c) for t, c in latest.items()]


def retrain(examples: Sequence[Example], test: Sequence[Example], model_dir: str | Path, *, seed: int = 0,
            departments: Sequence[str] = (), target_precision: float = 0.95,
            echo: Callable[[str], None] = lambda _m: None) -> Retrained:
    """Train a candidate next to ``model_dir``, score both on ``test``; the candidate replaces the model when
    its macro-F1 is at least the old one's (the old one moves to ``<model_dir>.previous``)."""
    model_dir = Path(model_dir)
    candidate = model_dir.with_name(model_dir.name + ".candidate")
    shutil.rmtree(candidate, ignore_errors=True)
    echo(f"training on {len(examples)} examples")
    train_model(examples, candidate, seed=seed, departments=departments, target_precision=target_precision)
    new = evaluate(EmbeddedClassifier(candidate), test, progress=False, only_known=False)
    old = evaluate(EmbeddedClassifier(model_dir), test, progress=False, only_known=False) \
        if has_model(model_dir) else None
    if old is not None and new["macro_f1"] < old["macro_f1"]:
        shutil.rmtree(candidate, ignore_errors=True)
        return Retrained(old, new, swapped=False)
    if old is not None:
        shutil.rmtree(previous_dir(model_dir), ignore_errors=True)
        os.replace(model_dir, previous_dir(model_dir))
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    os.replace(candidate, model_dir)
    return Retrained(old, new, swapped=True)


def rollback(model_dir: str | Path) -> None:
    """Swap the model in use and the previous one (a second rollback undoes the first)."""
    model_dir = Path(model_dir)
    previous = previous_dir(model_dir)
    if not has_model(previous):
        raise FileNotFoundError(f"no previous model in {previous}")
    swap = model_dir.with_name(model_dir.name + ".swap")
    shutil.rmtree(swap, ignore_errors=True)
    os.replace(model_dir, swap)
    os.replace(previous, model_dir)
    os.replace(swap, previous)
