"""The appeal text model: TF-IDF over character n-grams of the normalised text, a linear SVM, and softmax
calibration with a temperature fitted on out-of-fold scores.

Training (scikit-learn) picks the n-gram length, the tf scheme and C by stratified 5-fold cross-validation
on the training data, then the auto-route threshold from the same out-of-fold scores for a target precision,
and stores it with the model. Serving is a plain numpy forward pass over the stored vocabulary, idf and
float32 weights (``model.npz`` + ``model.json``): no scikit-learn, scipy, spaCy or jieba at load time.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nlu.normalize import normalize

MODEL_FILE = "model.npz"
META_FILE = "model.json"
FORMAT = 3


@dataclass
class FeatureConfig:
    """Which features the model sees: character n-grams of the normalised text."""

    char_min: int = 1
    char_max: int = 3
    min_df: int = 1
    max_features: int | None = 400_000


@dataclass
class TrainConfig:
    """How the model is fitted; the grids are searched by cross-validation on the training data."""

    c_grid: tuple[float, ...] = (0.5, 1.0, 3.0)
    char_max_grid: tuple[int, ...] = (2, 3)            # longest character n-gram, up to FeatureConfig's
    large_n: int = 1000          # from this many examples on only char_max is tried (long texts: 1-3 wins)
    large_c_grid: tuple[float, ...] = (0.5, 1.0)  # and C up to 1: C=3 fits slowest and lost on our long data
    sublinear_grid: tuple[bool, ...] = (False, True)   # raw or 1 + log(tf)
    folds: int = 5                                      # fold spread (~0.016) exceeds config differences
    tolerance: float = 0.004     # configs within this much of the best CV macro-F1 count as equal
    class_weight: str | None = "balanced"
    target_precision: float = 0.95   # the stored threshold auto-routes at this out-of-fold precision
    short_prior: float = 4.0     # pseudo-characters of "no evidence": short texts get modest confidences
    seed: int = 0


def ngrams(norm: str, char_min: int, char_max: int) -> list[str]:
    """Character n-grams of an already normalised text."""
    return [norm[i:i + n] for n in range(char_min, char_max + 1) for i in range(len(norm) - n + 1)]


_NOT_WORD = re.compile(r"[\W_]+")


def evidence(norm: str) -> int:
    """How many meaningful characters (letters, digits, CJK) a normalised text has."""
    return len(_NOT_WORD.sub("", norm))


def shrink(probs: np.ndarray, n_chars: int | np.ndarray, prior: float) -> np.ndarray:
    """Mix calibrated probabilities with the uniform distribution by ``n / (n + prior)``: a one-word
    text never gets confidence 1.000, a 200-character message is almost unchanged."""
    n = np.asarray(n_chars, dtype=np.float64)
    alpha = (n / (n + prior))[..., None] if n.ndim else n / (n + prior)
    return np.asarray(alpha * probs + (1 - alpha) / probs.shape[-1])


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax along the last axis."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


_BITS = 21  # a Unicode code point + 1 fits in 21 bits, so an n-gram of up to 3 characters is one uint64


def gram_key(term: str) -> int:
    """The integer key of an n-gram (n <= 3): its code points + 1, 21 bits each."""
    key = 0
    for ch in term:
        key = (key << _BITS) | (ord(ch) + 1)
    return key


@dataclass
class LinearTextModel:
    """A trained model: sorted n-gram keys (the vocabulary), idf and weights (features x classes) in the same
    order, bias, temperature and threshold. Looking a text up is one ``searchsorted``: no Python dict of
    hundreds of thousands of strings to build at load time or hold in memory."""

    labels: list[str]
    keys: np.ndarray         # uint64, sorted
    idf: np.ndarray
    weights: np.ndarray      # features x classes, float32, rows gathered per text
    intercept: np.ndarray
    temperature: float
    threshold: float = 0.5
    sublinear_tf: bool = False
    short_prior: float = 4.0
    features: FeatureConfig = field(default_factory=FeatureConfig)
    report: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_vocabulary(cls, vocab: dict[str, int], idf: np.ndarray, weights: np.ndarray,
                        **kwargs: Any) -> LinearTextModel:
        """A model from a term -> column vocabulary (as scikit-learn gives it), rows re-ordered by key."""
        terms = sorted(vocab, key=gram_key)
        cols = np.fromiter((vocab[t] for t in terms), dtype=np.int64, count=len(terms))
        keys = np.fromiter((gram_key(t) for t in terms), dtype=np.uint64, count=len(terms))
        return cls(keys=keys, idf=np.asarray(idf, dtype=np.float64)[cols],
                   weights=np.ascontiguousarray(np.asarray(weights)[cols], dtype=np.float32), **kwargs)

    def lookup(self, norm: str) -> list[np.ndarray]:
        """Vocabulary rows of the n-grams of a normalised text, one array per n-gram length (index = start
        position, -1 = not in the vocabulary), so spans of the text can be scored without looking up again."""
        codes = np.frombuffer(norm.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64) + np.uint64(1)
        lengths = range(self.features.char_min, self.features.char_max + 1)
        counts = [max(len(codes) - n + 1, 0) for n in lengths]
        parts = []
        for n, count in zip(lengths, counts, strict=True):
            key = codes[:count].copy()
            for k in range(1, n):
                key = (key << np.uint64(_BITS)) | codes[k:k + count]
            parts.append(key)
        keys = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)
        if not len(self.keys) or not len(keys):
            return [np.full(c, -1, dtype=np.int64) for c in counts]
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        rows = np.where(self.keys[pos] == keys, pos, -1)
        return np.split(rows, np.cumsum(counts)[:-1])

    def span_scores(self, ids: list[np.ndarray], start: int = 0, end: int | None = None) -> np.ndarray:
        """Raw decision scores of the text between ``start`` and ``end`` from :meth:`lookup`'s ids."""
        parts = []
        for k, row in enumerate(ids):
            stop = len(row) if end is None else max(end - (self.features.char_min + k) + 1, start)
            parts.append(row[start:stop])
        found = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        found = found[found >= 0]
        if not len(found):
            return np.asarray(self.intercept, dtype=np.float64)
        cols, tf = np.unique(found, return_counts=True)
        vals = (1.0 + np.log(tf)) if self.sublinear_tf else tf.astype(np.float64)
        vals = vals * self.idf[cols]
        vals /= np.linalg.norm(vals)
        return np.asarray(vals @ self.weights[cols] + self.intercept, dtype=np.float64)

    def spans_scores(self, ids: list[np.ndarray], spans: Sequence[tuple[int, int]]) -> np.ndarray:
        """Raw decision scores of several non-overlapping spans (start, end) at once (spans x classes)."""
        out = np.tile(np.asarray(self.intercept, dtype=np.float64), (len(spans), 1))
        if not spans:
            return out
        starts = np.array([a for a, _ in spans])
        ends = np.array([b for _, b in spans])
        rows_all, span_all = [], []
        for k, row in enumerate(ids):
            n = self.features.char_min + k
            pos = np.arange(len(row))
            which = np.searchsorted(starts, pos, side="right") - 1
            inside = (which >= 0) & (row >= 0)
            inside[inside] &= pos[inside] + n <= ends[which[inside]]
            rows_all.append(row[inside])
            span_all.append(which[inside])
        rows = np.concatenate(rows_all)
        which = np.concatenate(span_all)
        if not len(rows):
            return out
        size = np.int64(len(self.keys))
        combined, tf = np.unique(which * size + rows, return_counts=True)
        which, rows = combined // size, combined % size
        vals = (1.0 + np.log(tf)) if self.sublinear_tf else tf.astype(np.float64)
        vals = vals * self.idf[rows]
        vals /= np.sqrt(np.bincount(which, vals * vals, minlength=len(spans)))[which]
        first = np.flatnonzero(np.r_[True, which[1:] != which[:-1]])
        out[which[first]] += np.add.reduceat(vals[:, None] * self.weights[rows], first, axis=0)
        return out

    def proba_of_scores(self, scores: np.ndarray, n_chars: int | np.ndarray) -> np.ndarray:
        return shrink(softmax(scores / self.temperature), n_chars, self.short_prior)

    def scores(self, norm: str) -> np.ndarray:
        """Raw decision scores for one normalised text."""
        return self.span_scores(self.lookup(norm))

    def predict_proba(self, norm: str) -> np.ndarray:
        """Calibrated class probabilities for one normalised text (order of ``labels``)."""
        return self.proba_of_scores(self.scores(norm), evidence(norm))

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        np.savez(path / MODEL_FILE, keys=self.keys.astype(np.uint64), idf=self.idf.astype(np.float32),
                 weights=self.weights.astype(np.float32), intercept=self.intercept.astype(np.float32))
        meta = {"format": FORMAT, "labels": self.labels, "temperature": self.temperature,
                "threshold": self.threshold, "sublinear_tf": self.sublinear_tf, "short_prior": self.short_prior,
                "features": asdict(self.features), "report": self.report, **(extra or {})}
        (path / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> LinearTextModel:
        path = Path(path)
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: model format {meta.get('format')}, expected {FORMAT}: train it again")
        with np.load(path / MODEL_FILE, allow_pickle=False) as data:
            return cls(labels=list(meta["labels"]), keys=data["keys"], idf=data["idf"].astype(np.float64),
                       weights=np.ascontiguousarray(data["weights"]), intercept=data["intercept"].astype(np.float64),
                       temperature=float(meta["temperature"]), threshold=float(meta["threshold"]),
                       sublinear_tf=bool(meta["sublinear_tf"]), short_prior=float(meta.get("short_prior", 0.0)),
                       features=FeatureConfig(**meta["features"]), report=dict(meta.get("report") or {}))


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

    return LinearSVC(C=c, class_weight=cfg.class_weight, random_state=cfg.seed, max_iter=5000, dual=True)


def _decision(model: Any, x: Any, n_classes: int) -> np.ndarray:
    d = np.asarray(model.decision_function(x), dtype=np.float64)
    return np.column_stack([-d, d]) / 2 if n_classes == 2 and d.ndim == 1 else d


def cv_folds(labels: Sequence[str], config: TrainConfig) -> int:
    """How many CV folds training uses: ``config.folds``, at most the smallest class size."""
    from collections import Counter

    return min(config.folds, min(Counter(labels).values()))


def _view(counts: Any, vocab: dict[str, int], char_max: int) -> tuple[Any, dict[str, int]]:
    """The count columns of n-grams up to ``char_max`` characters, re-indexed."""
    keep = sorted(j for t, j in vocab.items() if len(t) <= char_max)
    new_index = {j: i for i, j in enumerate(keep)}
    return counts[:, keep], {t: new_index[j] for t, j in vocab.items() if j in new_index}


_SENTENCE_END = re.compile(r"[。!?;\n\r]+|\.(?!\d)")


def shared_sentence_groups(norms: Sequence[str], min_chars: int = 10, max_docs: int = 5,
                           max_share: float = 0.1) -> np.ndarray | None:
    """Group ids joining texts that share a sentence (a repeated complaint, an example reused in a longer
    message), so cross-validation never scores a text against a near-copy of itself. Sentences found in
    more than ``max_docs`` texts are boilerplate and join nothing. None when every text is on its own, or
    when one group would hold more than ``max_share`` of the texts."""
    where: dict[str, list[int]] = {}
    for i, norm in enumerate(norms):
        for sentence in set(_SENTENCE_END.split(norm)):
            if len(sentence.strip()) >= min_chars:
                where.setdefault(sentence.strip(), []).append(i)
    parent = list(range(len(norms)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    joined = False
    for docs in where.values():
        if 2 <= len(docs) <= max_docs:
            for other in docs[1:]:
                a, b = root(docs[0]), root(other)
                if a != b:
                    parent[b] = a
                    joined = True
    if not joined:
        return None
    groups = np.array([root(i) for i in range(len(norms))])
    if np.bincount(groups).max() > max_share * len(norms):
        return None  # chained boilerplate: one group would swallow a fold; plain stratified folds instead
    return groups


def _preference(g: tuple[int, bool, float]) -> tuple[bool, bool, float]:
    """Among configurations that score the same: char 1-3 (the reference's features), raw tf, C nearest 1."""
    return (g[0] == 3, not g[1], -abs(math.log(g[2])))


def train(texts: Sequence[str], labels: Sequence[str], features: FeatureConfig | None = None,
          config: TrainConfig | None = None, progress: Callable[[str], None] | None = None) -> LinearTextModel:
    """Fit the model on raw texts (normalised here). Picks n-gram length, tf scheme and C by stratified
    CV, the temperature and the auto-route threshold on the out-of-fold scores of the chosen one."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    from nlu.evaluate import coverage_at_precision

    features = features or FeatureConfig()
    config = config or TrainConfig()
    step = progress or (lambda _msg: None)
    if features.char_max > 3:
        raise ValueError("n-grams of up to 3 characters (each is one 64-bit key)")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError("training needs at least two labels")
    y = np.array([classes.index(lb) for lb in labels])
    norms = [normalize(t) for t in texts]
    n_chars = np.array([evidence(t) for t in norms])
    counter = CountVectorizer(analyzer=lambda t: ngrams(t, features.char_min, features.char_max),
                              min_df=features.min_df, max_features=features.max_features, dtype=np.float64)
    all_counts = counter.fit_transform(norms)
    vocabulary = dict(counter.vocabulary_)
    del counter  # its stop_words_ set holds every n-gram cut by max_features
    shorter = () if len(y) >= config.large_n else config.char_max_grid
    char_maxes = sorted({m for m in shorter if features.char_min <= m < features.char_max} | {features.char_max})
    views = {m: _view(all_counts, vocabulary, m) for m in char_maxes}
    del all_counts, vocabulary
    weights = {(m, sub): TfidfTransformer(sublinear_tf=sub).fit(views[m][0])
               for m in char_maxes for sub in config.sublinear_grid}
    xs = {key: w.transform(views[key[0]][0]) for key, w in weights.items()}
    step("vectorized")
    folds = cv_folds(labels, config)
    c_grid = config.large_c_grid if len(y) >= config.large_n else config.c_grid
    grid = [(m, sub, c) for (m, sub) in xs for c in c_grid]
    cv_f1: dict[tuple[int, bool, float], float] = {}
    fold_f1: dict[tuple[int, bool, float], list[float]] = {g: [] for g in grid}
    grouped = False
    if folds >= 2:
        oof = {g: np.zeros((len(y), len(classes))) for g in grid}
        groups = shared_sentence_groups(norms)
        grouped = groups is not None
        splitter = (StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed) if groups is None
                    else StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=config.seed))
        for tr, va in splitter.split(np.zeros(len(y)), y, groups):
            for g in grid:
                x = xs[g[:2]]
                oof[g][va] = _decision(_svm(g[2], config).fit(x[tr], y[tr]), x[va], len(classes))
                fold_f1[g].append(float(f1_score(y[va], oof[g][va].argmax(1), average="macro")))
            step("fold")
        cv_f1 = {g: float(f1_score(y, oof[g].argmax(1), average="macro")) for g in grid}
        top = max(cv_f1.values())
        best = max((g for g in grid if cv_f1[g] >= top - config.tolerance), key=_preference)
        temperature = fit_temperature(oof[best], y)
        probs = shrink(softmax(oof[best] / temperature), n_chars, config.short_prior)
        correct = probs.argmax(1) == y
        coverage, threshold, precision = coverage_at_precision(probs.max(1).tolist(), correct.tolist(),
                                                               config.target_precision)
        del oof
    else:
        best = (features.char_max, config.sublinear_grid[0], 1.0 if 1.0 in c_grid else c_grid[0])
        temperature, coverage, threshold, precision = 1.0, 0.0, 0.5, 0.0
    char_max, sublinear, best_c = best
    final = _svm(best_c, config).fit(xs[(char_max, sublinear)], y)
    step("fitted")
    coef = np.asarray(final.coef_, dtype=np.float64)
    intercept = np.asarray(final.intercept_, dtype=np.float64)
    if len(classes) == 2 and coef.shape[0] == 1:
        coef, intercept = np.vstack([-coef, coef]) / 2, np.array([-intercept[0], intercept[0]]) / 2

    def name(g: tuple[int, bool, float]) -> str:
        return f"char{features.char_min}-{g[0]} {'sublinear' if g[1] else 'raw'} C={g[2]}"

    return LinearTextModel.from_vocabulary(
        views[char_max][1], np.asarray(weights[(char_max, sublinear)].idf_), coef.T,
        labels=classes, intercept=intercept, temperature=temperature,
        threshold=threshold, sublinear_tf=sublinear, short_prior=config.short_prior,
        features=FeatureConfig(features.char_min, char_max, features.min_df, features.max_features),
        report={"char_ngrams": f"{features.char_min}-{char_max}", "sublinear_tf": sublinear, "C": best_c,
                "folds": folds, "grouped_cv": grouped, "temperature": round(temperature, 4),
                "best_cv_macro_f1": cv_f1.get(best),
                "cv_fold_std": float(np.std(fold_f1[best])) if fold_f1[best] else None,
                "cv_macro_f1": {name(g): round(f, 4) for g, f in cv_f1.items()},
                "target_precision": config.target_precision, "oof_auto_route_coverage": round(coverage, 4),
                "oof_auto_route_precision": round(precision, 4),
                "n_train": len(y), "n_features": len(views[char_max][1])})
