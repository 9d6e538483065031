"""Building the configured classifier, and training the embedded model on first use."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from appeals.ports import Classifier, ClassifierUnavailable

log = logging.getLogger(__name__)

BACKENDS = ("embedded", "spacy", "rasa")  # "spacy": the embedded backend's earlier name, still accepted


def build_classifier(backend: str, model_dir: str | Path, rasa_url: str = "http://127.0.0.1:5005",
                     timeout: float = 5.0) -> Classifier:
    """The classifier for ``backend``: the embedded model in ``model_dir`` or the Rasa server."""
    if backend in ("embedded", "spacy"):
        from nlu.embedded import EmbeddedClassifier

        return EmbeddedClassifier(model_dir)
    if backend == "rasa":
        from nlu.rasa_client import RasaClassifier

        return RasaClassifier(rasa_url, timeout=timeout)
    raise ValueError(f"unknown NLU backend {backend!r}; use one of {', '.join(BACKENDS)}")


def has_model(model_dir: str | Path) -> bool:
    """Whether ``model_dir`` holds a saved embedded model."""
    from nlu.embedded import has_model as embedded_model

    return embedded_model(model_dir)


def ensure_model(model_dir: str | Path, train_data: str | Path, *, seed: int = 0,
                 departments: Sequence[str] = (), target_precision: float = 0.95) -> Path:
    """The embedded model directory, training it from ``train_data`` first if it is missing."""
    model_dir = Path(model_dir)
    if has_model(model_dir):
        return model_dir
    from nlu.data_io import load_examples
    from nlu.embedded import train_model

    examples = load_examples(train_data)
    if not examples:
        raise ClassifierUnavailable(f"no training examples in {train_data}")
    log.warning("no NLU model in %s: training one from %s (%d examples), this takes a few seconds",
                model_dir, train_data, len(examples))
    tmp = model_dir.with_name(f"{model_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    train_model(examples, tmp, seed=seed, departments=departments, target_precision=target_precision)
    if has_model(model_dir):  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        model_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(model_dir, ignore_errors=True)
        os.replace(tmp, model_dir)
    log.info("NLU model ready in %s", model_dir)
    return model_dir
