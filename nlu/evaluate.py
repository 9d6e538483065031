"""Score a classifier on held-out examples: accuracy, macro-F1, per-class report, confusion matrix,
auto-route coverage at a target precision (and the threshold giving it), parse latency."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from appeals.ports import Classifier
from nlu.data_io import Example


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


def report(gold: Sequence[str], predicted: Sequence[str], confidences: Sequence[float],
           latencies_ms: Sequence[float], target_precision: float = 0.95) -> dict[str, Any]:
    """All figures as one JSON-ready dict."""
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
    coverage, threshold, precision_at = coverage_at_precision(confidences, correct, target_precision)
    lat = np.asarray(latencies_ms, dtype=np.float64) if len(latencies_ms) else np.zeros(1)
    return {
        "n": len(gold),
        "accuracy": round(float(np.mean(correct)) if correct else 0.0, 4),
        "macro_f1": round(float(np.mean([c["f1"] for c in per_class.values()])) if per_class else 0.0, 4),
        "target_precision": target_precision,
        "auto_route_coverage": round(coverage, 4),
        "threshold": round(threshold, 4),
        "precision_at_threshold": round(precision_at, 4),
        "p50_ms": round(float(np.percentile(lat, 50)), 3),
        "p95_ms": round(float(np.percentile(lat, 95)), 3),
        "per_class": per_class,
        "confusion": {"labels": labels, "matrix": matrix.tolist()},
    }


def evaluate(classifier: Classifier, examples: Sequence[Example], target_precision: float = 0.95,
             progress: bool = True) -> dict[str, Any]:
    """Parse every example with ``classifier`` and score the top category."""
    if not examples:
        raise ValueError("no examples to evaluate")
    classifier.parse(examples[0].text)  # warm-up: first-call costs are not latency
    predicted, confidences, latencies = [], [], []
    for ex in tqdm(examples, desc="评估 evaluate", unit="条", disable=not progress):
        start = time.perf_counter()
        result = classifier.parse(ex.text)
        latencies.append((time.perf_counter() - start) * 1000)
        top = result.top
        predicted.append(top.category if top else "")
        confidences.append(top.confidence if top else 0.0)
    return report([ex.label for ex in examples], predicted, confidences, latencies, target_precision)


def format_report(result: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """A readable text version of ``report``'s dict."""
    names = names or {}
    lines = [
        f"样本数 examples: {result['n']}",
        f"准确率 accuracy: {result['accuracy']:.4f}",
        f"宏平均F1 macro-F1: {result['macro_f1']:.4f}",
        f"自动分拨覆盖率 auto-route coverage at precision ≥ {result['target_precision']:.2f}: "
        f"{result['auto_route_coverage']:.2%} (threshold {result['threshold']:.4f}, "
        f"precision {result['precision_at_threshold']:.4f})",
        f"解析耗时 parse latency: p50 {result['p50_ms']:.2f} ms, p95 {result['p95_ms']:.2f} ms",
        "",
        f"{'category':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}  name",
    ]
    for label, c in result["per_class"].items():
        lines.append(f"{label:<16}{c['precision']:>10.3f}{c['recall']:>10.3f}{c['f1']:>10.3f}"
                     f"{c['support']:>9}  {names.get(label, '')}")
    labels = result["confusion"]["labels"]
    lines += ["", "混淆矩阵 confusion (rows = true, columns = predicted):",
              " " * 14 + "".join(f"{i:>5}" for i in range(len(labels)))]
    for i, (label, row) in enumerate(zip(labels, result["confusion"]["matrix"], strict=True)):
        lines.append(f"{i:>2} {label[:11]:<11}" + "".join(f"{v:>5}" for v in row))
    lines.append(f"\n建议阈值 recommended nlu.threshold: {result['threshold']:.4f}")
    return "\n".join(lines)
