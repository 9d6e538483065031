"""The appeal text model: TF-IDF over character n-grams (and optionally words), a linear SVM, and
softmax calibration with a temperature fitted on out-of-fold scores. The tf scheme (raw or
sublinear) and C are chosen per data set by stratified cross-validation on the training data.

Training uses scikit-learn; prediction is plain numpy over the stored vocabulary, idf and weights,
so a saved model loads fast and needs no pickles.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

_HALF_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_DIGIT_FOLD = str.maketrans("0123456789", "0000000000")


@dataclass
class FeatureConfig:
    """Which features the model sees."""

    char_min: int = 1
    char_max: int = 3
    words: bool = False          # add segmenter words (w:...) as features
    fold_digits: bool = False    # True maps every digit to 0 (measured: no gain)
    min_df: int = 1
    max_features: int | None = 400_000


@dataclass
class TrainConfig:
    """How the model is fitted; the grids are searched by cross-validation on the training data."""

    c_grid: tuple[float, ...] = (1.0, 3.0, 10.0)      # C=0.3 measured worst in every run: dropped
    char_max_grid: tuple[int, ...] = (2, 3)            # longest character n-gram, up to FeatureConfig's
    sublinear_grid: tuple[bool, ...] = (False, True)  # raw or 1 + log(tf)
    folds: int = 5
    large_n: int = 1000          # above this many examples, at most 3 folds
    class_weight: str | None = "balanced"
    seed: int = 0
    n_jobs: int = 1              # >1 runs CV fits in threads: faster, but liblinear's shared RNG then
                                 # makes the result vary from run to run


def normalize(text: str, fold_digits: bool) -> str:
    """Half-width, lower case, collapsed spaces, digits folded to 0 when asked."""
    text = " ".join(text.translate(_HALF_WIDTH).lower().split())
    return text.translate(_DIGIT_FOLD) if fold_digits else text


def analyze(text: str, words: Sequence[str], cfg: FeatureConfig) -> list[str]:
    """The features of one text: character n-grams, then ``w:``-prefixed words."""
    norm = normalize(text, cfg.fold_digits)
    feats = [norm[i:i + n] for n in range(cfg.char_min, cfg.char_max + 1) for i in range(len(norm) - n + 1)]
    if cfg.words:
        feats.extend("w:" + normalize(w, cfg.fold_digits) for w in words if w.strip())
    return feats


@dataclass
class LinearTextModel:
    """A trained model: vocabulary, idf, weights (classes x features), bias and temperature."""

    labels: list[str]
    vocab: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    temperature: float
    sublinear_tf: bool = False
    features: FeatureConfig = field(default_factory=FeatureConfig)
    report: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._coef_t = np.ascontiguousarray(self.coef.T)  # features x classes: rows gather fast
        self.coef = self._coef_t.T  # a view, so the weights are held once

    def scores(self, feats: Iterable[str]) -> np.ndarray:
        """Raw decision scores for one text's features."""
        counts = Counter(j for f in feats if (j := self.vocab.get(f)) is not None)
        if not counts:
            return self.intercept.copy()
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.sublinear_tf:
            tf = 1.0 + np.log(tf)
        vals = tf * self.idf[idx]
        vals /= np.linalg.norm(vals)
        return np.asarray(vals @ self._coef_t[idx] + self.intercept)

    def predict_proba(self, feats: Iterable[str]) -> np.ndarray:
        """Calibrated class probabilities for one text's features (order of ``labels``)."""
        return softmax(self.scores(feats) / self.temperature)

    def to_bytes_dict(self) -> dict[str, Any]:
        """A msgpack-friendly dict (strings, lists and numpy arrays)."""
        vocab_list = [""] * len(self.vocab)
        for term, j in self.vocab.items():
            vocab_list[j] = term
        return {"labels": self.labels, "vocab": vocab_list, "idf": self.idf.astype(np.float32),
                "coef": self.coef.astype(np.float32), "intercept": self.intercept.astype(np.float32),
                "temperature": self.temperature, "sublinear_tf": self.sublinear_tf,
                "features": asdict(self.features), "report": self.report}

    @classmethod
    def from_bytes_dict(cls, data: dict[str, Any]) -> LinearTextModel:
        return cls(labels=list(data["labels"]), vocab={t: j for j, t in enumerate(data["vocab"])},
                   idf=np.asarray(data["idf"], dtype=np.float64),
                   coef=np.asarray(data["coef"], dtype=np.float32),
                   intercept=np.asarray(data["intercept"], dtype=np.float64),
                   temperature=float(data["temperature"]), sublinear_tf=bool(data.get("sublinear_tf")),
                   features=FeatureConfig(**data["features"]),
                   report=dict(data.get("report") or {}))


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax along the last axis."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimizing the cross-entropy of softmax(scores / T) against targets smoothed
    as in Platt scaling (true class 1 - 1/(n+2)), so separable data does not give T -> 0."""
    from scipy.optimize import minimize_scalar

    n, k = scores.shape
    eps = 1.0 / (n + 2)
    targets = np.full((n, k), eps / max(k - 1, 1))
    targets[np.arange(n), y] = 1.0 - eps

    def loss(log_t: float) -> float:
        p = softmax(scores / math.exp(log_t))
        return float(-np.mean(np.sum(targets * np.log(p + 1e-12), axis=1)))

    res = minimize_scalar(loss, bounds=(math.log(0.01), math.log(10.0)), method="bounded")
    return float(math.exp(res.x))


def _svm(c: float, cfg: TrainConfig) -> Any:
    from sklearn.svm import LinearSVC

    return LinearSVC(C=c, class_weight=cfg.class_weight, random_state=cfg.seed, max_iter=5000)


def _decision(model: Any, x: Any, n_classes: int) -> np.ndarray:
    d = np.asarray(model.decision_function(x), dtype=np.float64)
    return np.column_stack([-d, d]) / 2 if n_classes == 2 and d.ndim == 1 else d


def cv_folds(labels: Sequence[str], config: TrainConfig) -> int:
    """How many CV folds training uses (fewer for large data sets, at most the smallest class size)."""
    n_folds = config.folds if len(labels) <= config.large_n else min(config.folds, 3)
    return min(n_folds, min(Counter(labels).values()))


def _view(counts: Any, vocab: dict[str, int], char_max: int) -> tuple[Any, dict[str, int]]:
    """The count columns of n-grams up to ``char_max`` characters (words kept), re-indexed."""
    keep = sorted(j for t, j in vocab.items() if t.startswith("w:") or len(t) <= char_max)
    new_index = {j: i for i, j in enumerate(keep)}
    return counts[:, keep], {t: new_index[j] for t, j in vocab.items() if j in new_index}


def train(docs: Sequence[list[str]], labels: Sequence[str], features: FeatureConfig | None = None,
          config: TrainConfig | None = None,
          progress: Callable[[str], None] | None = None) -> LinearTextModel:
    """Fit the model on analyzed documents (n-grams up to ``features.char_max``); picks the n-gram
    length, the tf scheme and C by stratified CV, then the temperature on the out-of-fold scores."""
    from joblib import Parallel, delayed
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    features = features or FeatureConfig()
    config = config or TrainConfig()
    step = progress or (lambda _msg: None)
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError("training needs at least two labels")
    y = np.array([classes.index(lb) for lb in labels])
    counter = CountVectorizer(analyzer=_identity, min_df=features.min_df, max_features=features.max_features,
                              dtype=np.float64)
    all_counts = counter.fit_transform(docs)
    char_maxes = sorted({m for m in config.char_max_grid if features.char_min <= m < features.char_max}
                        | {features.char_max})
    views = {m: _view(all_counts, counter.vocabulary_, m) for m in char_maxes}
    weights = {(m, sub): TfidfTransformer(sublinear_tf=sub).fit(views[m][0])
               for m in char_maxes for sub in config.sublinear_grid}
    xs = {key: w.transform(views[key[0]][0]) for key, w in weights.items()}
    step("vectorized")
    folds = cv_folds(labels, config)
    grid = [(m, sub, c) for (m, sub) in xs for c in config.c_grid]
    oof = {g: np.zeros((len(y), len(classes))) for g in grid}
    cv_f1: dict[tuple[int, bool, float], float] = {}
    if folds >= 2:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)

        def fit_one(g: tuple[int, bool, float], tr: np.ndarray, va: np.ndarray) -> np.ndarray:
            x = xs[g[:2]]
            return _decision(_svm(g[2], config).fit(x[tr], y[tr]), x[va], len(classes))

        with Parallel(n_jobs=config.n_jobs, prefer="threads") as parallel:
            for tr, va in splitter.split(all_counts, y):
                for g, d in zip(grid, parallel(delayed(fit_one)(g, tr, va) for g in grid), strict=True):
                    oof[g][va] = d
                step("fold")
        cv_f1 = {g: float(f1_score(y, oof[g].argmax(1), average="macro")) for g in grid}
        # ties go to the shorter n-grams, raw tf and C nearest 1 (the simpler model)
        best = max(grid, key=lambda g: (round(cv_f1[g], 4), -g[0], not g[1], -abs(math.log(g[2]))))
        temperature = fit_temperature(oof[best], y)
    else:
        best = (features.char_max, config.sublinear_grid[0], 1.0 if 1.0 in config.c_grid else config.c_grid[0])
        temperature = 1.0
    char_max, sublinear, best_c = best
    final = _svm(best_c, config).fit(xs[(char_max, sublinear)], y)
    step("fitted")
    coef = np.asarray(final.coef_, dtype=np.float64)
    intercept = np.asarray(final.intercept_, dtype=np.float64)
    if len(classes) == 2 and coef.shape[0] == 1:
        coef, intercept = np.vstack([-coef, coef]) / 2, np.array([-intercept[0], intercept[0]]) / 2
    return LinearTextModel(
        labels=classes, vocab=views[char_max][1], idf=np.asarray(weights[(char_max, sublinear)].idf_),
        coef=coef, intercept=intercept, temperature=temperature, sublinear_tf=sublinear,
        features=replace(features, char_max=char_max),
        report={"char_ngrams": f"{features.char_min}-{char_max}", "sublinear_tf": sublinear, "C": best_c,
                "folds": folds, "temperature": temperature, "best_cv_macro_f1": cv_f1.get(best),
                "cv_macro_f1": {f"char{features.char_min}-{m} {'sublinear' if sub else 'raw'} C={c}": f
                                for (m, sub, c), f in cv_f1.items()},
                "n_train": len(y), "n_features": len(views[char_max][1])})


def _identity(doc: list[str]) -> list[str]:
    return doc
