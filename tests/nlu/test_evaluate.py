"""Evaluation figures: coverage at target precision, macro-F1, confusion matrix."""

from __future__ import annotations

import pytest

from nlu.evaluate import coverage_at_precision, report


def test_coverage_picks_the_largest_share_meeting_the_target() -> None:
    conf = [0.99, 0.95, 0.9, 0.8, 0.7, 0.6]
    correct = [True, True, True, False, True, False]
    assert coverage_at_precision(conf, correct, 1.0) == (0.5, 0.9, 1.0)
    cov, t, p = coverage_at_precision(conf, correct, 0.8)
    assert (cov, t, p) == (pytest.approx(5 / 6), 0.7, pytest.approx(0.8))


def test_ties_are_taken_together() -> None:
    assert coverage_at_precision([0.9, 0.9, 0.5], [True, False, True], 1.0) == (0.0, 1.0, 0.0)


def test_report_figures() -> None:
    gold = ["a", "a", "b", "b"]
    pred = ["a", "b", "b", "b"]
    r = report(gold, pred, [0.9, 0.6, 0.8, 0.7], [1.0, 2.0, 3.0, 4.0], threshold=0.65, target_precision=0.95)
    assert r["accuracy"] == 0.75
    assert r["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(0.6667, abs=1e-4),
                                   "support": 2}
    assert r["macro_f1"] == pytest.approx((0.6667 + 0.8) / 2, abs=1e-3)
    assert r["confusion"] == {"labels": ["a", "b"], "matrix": [[1, 1], [0, 2]]}
    # at the model's threshold 0.65: three of four routed, all correct
    assert (r["threshold"], r["auto_route_coverage"], r["auto_route_precision"]) == (0.65, 0.75, 1.0)
    assert (r["hindsight"]["coverage"], r["hindsight"]["threshold"]) == (0.75, 0.7)
    assert r["p50_ms"] == 2.5
