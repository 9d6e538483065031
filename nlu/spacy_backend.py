"""The embedded backend: a blank Chinese spaCy pipeline (jieba) with our text classifier and rule
entities, trained from examples, saved with ``nlp.to_disk`` and loaded in-process."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jieba
import numpy as np
import spacy
from spacy.language import Language
from tqdm import tqdm

from appeals.ports import CategoryScore, ClassifierUnavailable, ParseResult
from nlu.components import AppealTextCategorizer  # importing registers our spaCy factories
from nlu.data_io import Example
from nlu.linear_model import cv_folds

log = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)  # jieba prints its dictionary loading to stderr at DEBUG otherwise

TEXTCAT = "appeal_textcat"
ENTITIES = "appeal_entities"


def blank_pipeline(departments: Sequence[str] = (), seed: int = 0,
                   features: dict[str, Any] | None = None) -> Language:
    """An untrained pipeline: jieba tokenizer, ``appeal_textcat``, ``appeal_entities``."""
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    textcat_config: dict[str, Any] = {"training": {"seed": seed}}
    if features:
        textcat_config["features"] = features
    nlp.add_pipe(TEXTCAT, config=textcat_config)
    nlp.add_pipe(ENTITIES, config={"departments": list(departments)})
    return nlp


def train_model(examples: Sequence[Example], out_dir: str | Path, *, seed: int = 0,
                departments: Sequence[str] = (), features: dict[str, Any] | None = None,
                progress: bool = True) -> Path:
    """Train on ``examples`` and save the pipeline to ``out_dir``; returns the directory."""
    if len({ex.label for ex in examples}) < 2:
        raise ValueError("training needs examples of at least two categories")
    random.seed(seed)
    np.random.seed(seed)
    nlp = blank_pipeline(departments, seed, features)
    textcat = _textcat(nlp)
    bar_examples = tqdm(examples, desc="分词 tokenize", unit="条", disable=not progress)
    docs = [nlp.make_doc(ex.text) for ex in bar_examples]
    labels = [ex.label for ex in examples]
    folds = cv_folds(labels, textcat.training)
    folds = folds if folds >= 2 else 0
    with tqdm(total=folds + 2, desc="训练 train", unit="步", disable=not progress) as bar:
        textcat.fit(docs, labels, progress=lambda _m: bar.update(1))
        bar.n = bar.total
        bar.refresh()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    nlp.meta["name"] = "appeals"
    nlp.meta["version"] = "0.1.0"
    nlp.meta["description"] = "Wanqi appeal classifier: TF-IDF char n-grams + linear SVM, calibrated"
    nlp.meta["labels"] = {TEXTCAT: list(textcat.labels)}
    nlp.meta["wanqi"] = {"seed": seed, "n_examples": len(examples),
                         **(textcat.model.report if textcat.model else {})}
    nlp.to_disk(out)
    log.info("NLU model trained on %d examples (%d categories), saved to %s",
             len(examples), len(textcat.labels), out)
    return out


def _textcat(nlp: Language) -> AppealTextCategorizer:
    pipe = nlp.get_pipe(TEXTCAT)
    assert isinstance(pipe, AppealTextCategorizer)
    return pipe


def load_pipeline(model_dir: str | Path) -> Language:
    """Load a saved pipeline; ``ClassifierUnavailable`` when the directory holds no model."""
    path = Path(model_dir)
    if not (path / "config.cfg").exists():
        raise ClassifierUnavailable(f"no NLU model in {path}; train one with `wanqi nlu train`")
    return spacy.load(path)


class SpacyClassifier:
    """``appeals.ports.Classifier`` over a saved embedded pipeline."""

    def __init__(self, model_dir: str | Path) -> None:
        self.model_dir = Path(model_dir)
        self.nlp = load_pipeline(self.model_dir)
        self.labels: tuple[str, ...] = _textcat(self.nlp).labels

    def parse(self, text: str) -> ParseResult:
        doc = self.nlp(text)
        ranking = sorted(doc.cats.items(), key=lambda kv: (-kv[1], kv[0]))
        return ParseResult(ranking=tuple(CategoryScore(c, round(p, 6)) for c, p in ranking),
                           entities=tuple(doc._.appeal_entities))
