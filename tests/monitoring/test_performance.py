"""Performance without labels: estimates against realized metrics under covariate shift, coverage, flags."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from jupyter_modelops import PerformanceEstimator, estimate_performance
from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.monitoring.performance import expected_auc, realized_metrics

D = 8


class World:
    """Binary labels from a fixed logistic law of the inputs; shifts move the inputs only (covariate shift)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.w = self.rng.normal(size=D)
        x, y = self.draw(8000)
        self.model = LogisticRegression().fit(x, y)

    def draw(self, n: int, shift: float = 0.0, *, concept: bool = False):
        x = self.rng.normal(size=(n, D))
        x += shift * self.w / np.linalg.norm(self.w)  # along the decision direction: performance changes
        logit = x @ self.w - 0.3
        if concept:
            logit = -0.5 * logit
        return x, self.rng.random(n) < 1 / (1 + np.exp(-logit))

    def scores(self, x):
        return self.model.predict_proba(x)[:, 1]


@pytest.fixture(scope="module")
def world():
    return World(0)


@pytest.fixture(scope="module")
def estimator(world):
    xr, yr = world.draw(10_000)
    return PerformanceEstimator(world.scores(xr), yr)


def test_realized_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    s = np.round(rng.uniform(size=700), 2)  # ties included
    y = rng.random(700) < s
    got = realized_metrics(y, s, threshold=0.5)
    pred = s >= 0.5
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert got["f1"] == pytest.approx(f1_score(y, pred))
    assert got["precision"] == pytest.approx(precision_score(y, pred))
    assert got["recall"] == pytest.approx(recall_score(y, pred))
    # with certain labels (p = y) the expected AUC is the realized one
    assert expected_auc(s, y.astype(float)) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_estimates_follow_realized_metrics_under_covariate_shift(world, estimator):
    err = {"accuracy": [], "roc_auc": [], "f1": []}
    covered = {k: 0 for k in err}
    chunks = 60
    for i in range(chunks):
        shift = 1.5 * i / (chunks - 1)
        x, y = world.draw(1000, shift)
        s = world.scores(x)
        est = estimator.estimate(s)
        real = realized_metrics(y, s, threshold=0.5)
        for k in err:
            m = est.metrics[k]
            err[k].append(abs(m["estimate"] - real[k]))
            covered[k] += m["low"] <= real[k] <= m["high"]
        assert not est.flags or est.flags[0]["code"] == "extrapolation"
    # realized metrics of 1,000 rows scatter by about 0.012 around their expectation: that bounds the error
    assert np.mean(err["accuracy"]) < 0.015 and np.mean(err["roc_auc"]) < 0.015 and np.mean(err["f1"]) < 0.02
    # the nominal 95% intervals cover the realized metric (60 chunks: >= 53 unless coverage is really short)
    assert all(c >= 53 for c in covered.values()), covered


def test_the_estimate_moves_with_the_shift(world, estimator):
    # covariate shift changes the real accuracy; the estimate must follow it, not stay at the reference's
    x, y = world.draw(20_000, 1.5)
    s = world.scores(x)
    est = estimator.estimate(s)
    real = realized_metrics(y, s, threshold=0.5)
    ref = est.metrics["accuracy"]["reference"]
    assert abs(real["accuracy"] - ref) > 0.02
    assert abs(est.metrics["accuracy"]["estimate"] - real["accuracy"]) < 0.3 * abs(real["accuracy"] - ref)


def test_concept_shift_is_flagged_once_labels_arrive(world, estimator):
    x, y = world.draw(1000, concept=True)
    s = world.scores(x)
    est = estimator.estimate(s)
    assert not [f for f in est.flags if f["code"] == "calibration"]  # without labels it cannot be seen
    labels = np.where(np.arange(1000) < 400, y, None)  # 40% of the labels have arrived
    est = estimator.estimate(s, labels=labels)
    codes = {f["code"] for f in est.flags}
    assert "calibration" in codes and est.labelled["n"] == 400 and abs(est.labelled["calibration_z"]) > 3
    assert "realized" in est.metrics["accuracy"]
    full = estimator.estimate(s, labels=y)
    assert "realized_outside" in {f["code"] for f in full.flags}
    # a stable window with its labels raises nothing
    x, y = world.draw(1000)
    assert estimator.estimate(world.scores(x), labels=y).flags == []


def test_scores_beyond_the_reference_are_flagged(world, estimator):
    x, _ = world.draw(1000, 4.0)
    est = estimator.estimate(world.scores(x))
    assert any(f["code"] == "extrapolation" for f in est.flags)


def test_result_object_and_shorthand(world):
    xr, yr = world.draw(3000)
    x, _ = world.draw(500)
    est = estimate_performance(world.scores(xr), np.where(yr, "churn", "stay"), world.scores(x), pos_label="churn")
    d = json.loads(est.to_json())
    assert set(d["metrics"]) == {"accuracy", "roc_auc", "f1", "precision", "recall"}
    for m in d["metrics"].values():
        assert m["low"] <= m["estimate"] <= m["high"] or m["estimate"] is None
    assert "PerformanceEstimate n=500" in repr(est) and "<table" in est._repr_html_()
    assert est.roc_auc["estimate"] == d["metrics"]["roc_auc"]["estimate"]


def test_bad_input_gets_one_clear_sentence(world):
    rng = np.random.default_rng(0)
    s = rng.uniform(size=300)
    # three classes need the three columns of predict_proba; regression is refused
    with pytest.raises(ValidationError, match="hold 3 classes but the scores are one column"):
        PerformanceEstimator(s, rng.integers(0, 3, 300))
    with pytest.raises(ValidationError, match="regression is not estimated"):
        PerformanceEstimator(s, rng.normal(size=300))
    with pytest.raises(ValidationError, match="two classes or more"):
        PerformanceEstimator(s, np.ones(300))
    with pytest.raises(ValidationError, match="has 10 values for 300 scores"):
        PerformanceEstimator(s, [0, 1] * 5)
    with pytest.raises(ValidationError, match="NaN or infinite"):
        PerformanceEstimator(np.r_[s[:-1], np.nan], rng.integers(0, 2, 300))
    with pytest.raises(ValidationError, match="at least 10 rows of each class"):
        PerformanceEstimator(s, np.r_[np.ones(295), np.zeros(5)])
    est = PerformanceEstimator(s, rng.random(300) < s)
    with pytest.raises(ValidationError, match="not one of the reference's labels"):
        est.estimate(s[:3], labels=[0, 1, 7])
    with pytest.raises(ValidationError, match="non-empty 1-D"):
        est.estimate([])
