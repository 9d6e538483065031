"""spaCy components of the embedded backend: ``appeal_textcat`` (our own trainable text classifier)
and ``appeal_entities`` (the rule entities). Importing this module registers both factories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import srsly
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example as SpacyExample
from spacy.util import filter_spans

from appeals.ports import Entity
from nlu.entities import EntityExtractor
from nlu.linear_model import FeatureConfig, LinearTextModel, TrainConfig, analyze, train

if not Doc.has_extension("appeal_entities"):
    Doc.set_extension("appeal_entities", default=())


class AppealTextCategorizer:
    """Sets ``doc.cats`` to calibrated probabilities from a TF-IDF + linear SVM model (nlu.linear_model).

    Trained in one pass by ``initialize`` (or ``fit``) rather than by ``update`` steps: the model is
    convex, so there is nothing to gain from epochs.
    """

    def __init__(self, nlp: Language, name: str, features: dict[str, Any], training: dict[str, Any]) -> None:
        self.name = name
        self.features = FeatureConfig(**features)
        settings: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in training.items()}
        self.training = TrainConfig(**settings)
        self.model: LinearTextModel | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.model.labels) if self.model else ()

    def __call__(self, doc: Doc) -> Doc:
        if self.model is None:
            raise ValueError(f"{self.name}: the model is not trained")
        feats = analyze(doc.text, [t.text for t in doc], self.features)
        probs = self.model.predict_proba(feats)
        doc.cats = {label: float(p) for label, p in zip(self.model.labels, probs, strict=True)}
        return doc

    def initialize(self, get_examples: Callable[[], Iterable[SpacyExample]], *, nlp: Language | None = None,
                   progress: Callable[[str], None] | None = None) -> None:
        """Train on examples whose reference docs carry one-hot ``cats``."""
        docs, labels = [], []
        for eg in get_examples():
            cats = eg.reference.cats
            if cats:
                docs.append(eg.predicted)
                labels.append(max(cats, key=lambda k: cats[k]))
        self.fit(docs, labels, progress)

    def fit(self, docs: Iterable[Doc], labels: Iterable[str],
            progress: Callable[[str], None] | None = None) -> None:
        """Train from tokenized docs and their labels."""
        analyzed = [analyze(d.text, [t.text for t in d], self.features) for d in docs]
        self.model = train(analyzed, list(labels), self.features, self.training, progress)

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        if self.model is None:
            raise ValueError(f"{self.name}: nothing to save, the model is not trained")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_msgpack(path / "model.msgpack", self.model.to_bytes_dict())

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> AppealTextCategorizer:
        self.model = LinearTextModel.from_bytes_dict(srsly.read_msgpack(Path(path) / "model.msgpack"))
        self.features = self.model.features
        return self


@Language.factory(
    "appeal_textcat",
    default_config={
        "features": {"char_min": 1, "char_max": 3, "words": False, "fold_digits": False, "min_df": 1,
                     "max_features": 400_000},
        "training": {"c_grid": [1.0, 3.0, 10.0], "char_max_grid": [2, 3], "sublinear_grid": [False, True],
                     "folds": 5, "large_n": 1000, "class_weight": "balanced", "seed": 0, "n_jobs": 1},
    },
)
def make_appeal_textcat(nlp: Language, name: str, features: dict[str, Any],
                        training: dict[str, Any]) -> AppealTextCategorizer:
    return AppealTextCategorizer(nlp, name, features, training)


class AppealEntities:
    """Puts rule entities in ``doc._.appeal_entities`` (exact character offsets) and ``doc.ents``."""

    def __init__(self, name: str, departments: list[str]) -> None:
        self.name = name
        from nlu.entities import department_aliases

        self.extractor = EntityExtractor(department_aliases(departments) if departments else None)

    def __call__(self, doc: Doc) -> Doc:
        found: tuple[Entity, ...] = self.extractor.extract(doc.text)
        doc._.appeal_entities = found
        spans = [doc.char_span(e.start, e.end, label=e.label, alignment_mode="expand") for e in found]
        doc.ents = filter_spans([s for s in spans if s is not None])
        return doc


@Language.factory("appeal_entities", default_config={"departments": []})
def make_appeal_entities(nlp: Language, name: str, departments: list[str]) -> AppealEntities:
    return AppealEntities(name, departments)
