"""The embedded backend: our text model, the dialogue gate and the rule entities, in-process.

Loading needs numpy, OpenCC and the model files only (no scikit-learn, spaCy, jieba or aiogram), so a bot,
``wanqi nlu parse`` and the benchmarks start fast and stay small.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from appeals.ports import CategoryScore, ClassifierUnavailable, ParseResult
from nlu.data_io import Example
from nlu.dialogue import APPEAL, DialogueGate, train_gate
from nlu.entities import EntityExtractor, department_aliases
from nlu.linear_model import FORMAT, META_FILE, MODEL_FILE, FeatureConfig, LinearTextModel, TrainConfig, evidence, train
from nlu.normalize import normalize

log = logging.getLogger(__name__)

SEGMENT_MIN_CHARS = 8       # sentences shorter than this do not count as a topic of their own
SEGMENT_MIN_CONFIDENCE = 0.6
_SENTENCE = re.compile(r"[^。!?;\n\r]+")  # sentences of a normalised text (full-width marks are half-width)


def has_model(model_dir: str | Path) -> bool:
    """Whether ``model_dir`` holds a saved embedded model of the current format (an older one is retrained
    on first use)."""
    path = Path(model_dir)
    if not (path / MODEL_FILE).is_file() or not (path / META_FILE).is_file():
        return False
    try:
        return bool(json.loads((path / META_FILE).read_text(encoding="utf-8")).get("format") == FORMAT)
    except (OSError, ValueError):
        return False


def train_model(examples: Sequence[Example], out_dir: str | Path, *, seed: int = 0, departments: Sequence[str] = (),
                target_precision: float = 0.95, gate: bool = True,
                progress: Callable[[str], None] | None = None) -> Path:
    """Train on ``examples`` (with the dialogue gate) and save to ``out_dir``; returns the directory."""
    if len({ex.label for ex in examples}) < 2:
        raise ValueError("training needs examples of at least two categories")
    texts = [ex.text for ex in examples]
    model = train(texts, [ex.label for ex in examples], FeatureConfig(),
                  TrainConfig(seed=seed, target_precision=target_precision), progress)
    out = Path(out_dir)
    model.save(out, extra={"seed": seed, "n_examples": len(examples), "departments": list(departments)})
    if gate:
        train_gate(texts, out, seed=seed)
    log.info("NLU model trained on %d examples (%d categories), threshold %.4f, saved to %s",
             len(examples), len(model.labels), model.threshold, out)
    return out


class EmbeddedClassifier:
    """``appeals.ports.Classifier`` over a saved embedded model."""

    def __init__(self, model_dir: str | Path) -> None:
        self.model_dir = Path(model_dir)
        if not has_model(self.model_dir):
            raise ClassifierUnavailable(f"no NLU model in {self.model_dir}; train one with `wanqi nlu train`")
        try:
            self.model = LinearTextModel.load(self.model_dir)
        except (ValueError, KeyError, OSError) as exc:
            raise ClassifierUnavailable(str(exc)) from exc
        self.gate = DialogueGate.load(self.model_dir)
        meta = json.loads((self.model_dir / META_FILE).read_text(encoding="utf-8"))
        departments = meta.get("departments") or []
        self.extractor = EntityExtractor(department_aliases(departments) if departments else None)
        self.labels: tuple[str, ...] = tuple(self.model.labels)

    @property
    def threshold(self) -> float:
        """The model's own auto-route threshold (chosen on out-of-fold scores at training)."""
        return self.model.threshold

    def parse(self, text: str) -> ParseResult:
        norm = normalize(text)
        ids = self.model.lookup(norm)
        probs = self.model.proba_of_scores(self.model.span_scores(ids), evidence(norm))
        order = np.argsort(-probs, kind="stable")
        ranking = tuple(CategoryScore(self.labels[i], round(float(probs[i]), 6)) for i in order)
        act = self.gate.act(text, norm)
        return ParseResult(ranking=ranking, entities=tuple(self.extractor.extract(text)), is_appeal=act == APPEAL,
                           act=act, candidates=self._candidates(norm, ids, ranking) if act == APPEAL else (),
                           threshold=self.model.threshold)

    def _candidates(self, norm: str, ids: list[np.ndarray], ranking: Sequence[CategoryScore]) -> tuple[str, ...]:
        """The categories a message clearly covers: the top ones of its sentences that are confident on their
        own (at least two such categories, else nothing), in the order of the whole message's ranking."""
        spans = [m.span() for m in _SENTENCE.finditer(norm) if evidence(m.group()) >= SEGMENT_MIN_CHARS]
        if len(spans) < 2:
            return ()
        found: set[str] = set()
        floor = max(SEGMENT_MIN_CONFIDENCE, self.model.threshold)
        chars = np.array([evidence(norm[start:end]) for start, end in spans])
        probs = self.model.proba_of_scores(self.model.spans_scores(ids, spans), chars)
        for best, p in zip(probs.argmax(axis=1), probs.max(axis=1), strict=True):
            if p >= floor:
                found.add(self.labels[int(best)])
        if len(found) < 2:
            return ()
        return tuple(s.category for s in ranking if s.category in found)
