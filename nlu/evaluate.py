"""Score a classifier on held-out examples: accuracy, macro-F1, per-class report, confusion matrix,
auto-route coverage and precision at the model's own threshold, parse latency."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from appeals.ports import Classifier
from nlu.data_io import Example

log = logging.getLogger(__name__)


def coverage_at_precision(confidences: Sequence[float], correct: Sequence[bool],
                          target: float) -> tuple[float, float, float]:
    """(coverage, threshold, precision): the largest share of items with confidence >= threshold
    whose precision is >= ``target``. Nothing qualifies: (0.0, 1.0, 0.0)."""
    if not confidences:
        return 0.0, 1.0, 0.0
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    order = np.argsort(-conf, kind="stable")
    conf, ok = conf[order], ok[order]
    hits = np.cumsum(ok)
    best = (0.0, 1.0, 0.0)
    n = len(conf)
    for k in range(1, n + 1):
        if k < n and conf[k] == conf[k - 1]:
            continue  # a threshold takes all items of equal confidence together
        precision = hits[k - 1] / k
        if precision >= target:
            best = (k / n, float(conf[k - 1]), float(precision))
    return best


def at_threshold(confidences: Sequence[float], correct: Sequence[bool], threshold: float) -> tuple[float, float]:
    """(coverage, precision) of auto-routing the items with confidence >= ``threshold``."""
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    routed = conf >= threshold
    if not len(conf) or not routed.any():
        return 0.0, 0.0
    return float(routed.mean()), float(ok[routed].mean())


def report(gold: Sequence[str], predicted: Sequence[str], confidences: Sequence[float],
           latencies_ms: Sequence[float], threshold: float | None = None,
           target_precision: float = 0.95) -> dict[str, Any]:
    """All figures as one JSON-ready dict: macro-F1 over the gold labels, auto-route coverage and precision
    at ``threshold`` (the model's own), and in hindsight the threshold this data would have wanted."""
    labels = sorted(set(gold) | set(predicted))
    index = {lb: i for i, lb in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for g, p in zip(gold, predicted, strict=True):
        matrix[index[g], index[p]] += 1
    per_class: dict[str, dict[str, float | int]] = {}
    for lb in sorted(set(gold)):
        i = index[lb]
        tp = int(matrix[i, i])
        predicted_n, support = int(matrix[:, i].sum()), int(matrix[i, :].sum())
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[lb] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                         "support": support}
    correct = [g == p for g, p in zip(gold, predicted, strict=True)]
    hindsight = coverage_at_precision(confidences, correct, target_precision)
    coverage, precision_at = at_threshold(confidences, correct, threshold) if threshold is not None else (0.0, 0.0)
    lat = np.asarray(latencies_ms, dtype=np.float64) if len(latencies_ms) else np.zeros(1)
    return {
        "n": len(gold),
        "accuracy": round(float(np.mean(correct)) if correct else 0.0, 4),
        "macro_f1": round(float(np.mean([c["f1"] for c in per_class.values()])) if per_class else 0.0, 4),
        "threshold": None if threshold is None else round(threshold, 4),
        "auto_route_coverage": round(coverage, 4),
        "auto_route_precision": round(precision_at, 4),
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p95_ms": round(float(np.percentile(lat, 95)), 3),
        "hindsight": {"target_precision": target_precision, "threshold": round(hindsight[1], 4),
                      "coverage": round(hindsight[0], 4), "precision": round(hindsight[2], 4)},
        "per_class": per_class,
        "confusion": {"labels": labels, "matrix": matrix.tolist()},
    }


def model_labels(classifier: Classifier, probe: str) -> set[str]:
    """The categories a classifier knows: its ``labels`` attribute, else the ranking of one parse."""
    known = getattr(classifier, "labels", None)
    if known:
        return set(known)
    return {s.category for s in classifier.parse(probe).ranking}


def evaluate(classifier: Classifier, examples: Sequence[Example], threshold: float | None = None,
             target_precision: float = 0.95, progress: bool = True, only_known: bool = True) -> dict[str, Any]:
    """Parse every example with ``classifier`` and score the top category. ``threshold`` defaults to the
    classifier's own. Examples whose gold label the model does not know are left out (and counted in
    ``unknown_labels``): they would add classes with F1 0 that no model trained on these labels can get.
    ``only_known=False`` scores them too (comparing two models on one test set)."""
    if not examples:
        raise ValueError("no examples to evaluate")
    classifier.parse(examples[0].text)  # warm-up: first-call costs are not latency
    known = model_labels(classifier, examples[0].text)
    unknown = Counter(ex.label for ex in examples if ex.label not in known)
    if unknown and only_known:
        log.warning("%d examples have labels the model does not know (%s): scored over the model's labels only",
                    sum(unknown.values()), ", ".join(f"{lb} ×{n}" for lb, n in unknown.most_common(5)))
    scored = [ex for ex in examples if ex.label in known or not only_known]
    if not scored:
        raise ValueError("no example has a label the model knows: wrong label column?")
    if threshold is None:
        threshold = getattr(classifier, "threshold", None)
    predicted, confidences, latencies = [], [], []
    for ex in tqdm(scored, unit="", disable=not progress):  # a bare counter: no words in either language
        start = time.perf_counter()
        result = classifier.parse(ex.text)
        latencies.append((time.perf_counter() - start) * 1000)
        top = result.top
        predicted.append(top.category if top else "")
        confidences.append(top.confidence if top else 0.0)
    out = report([ex.label for ex in scored], predicted, confidences, latencies, threshold, target_precision)
    out["unknown_labels"] = dict(unknown)
    return out
