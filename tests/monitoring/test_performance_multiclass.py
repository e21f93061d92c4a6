"""Performance without labels for a multiclass classifier: known worlds, hand-computed expectations, flags, monitor()."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

import jupyter_modelops as mo
from jupyter_modelops import PerformanceEstimator
from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.monitoring.performance import realized_multiclass_metrics

D, K = 5, 4


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class World:
    """Four classes from a fixed softmax law of the inputs; shifts move the inputs only (covariate shift).

    ``model(x, t)`` is that law's probabilities sharpened by ``t``: ``t = 1`` is a calibrated model, ``t = 2`` an
    overconfident one.
    """

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.w = self.rng.normal(size=(D, K))
        self.b = self.rng.normal(size=K) * 0.3

    def law(self, x):
        return softmax(x @ self.w + self.b)

    def draw(self, n: int, shift: float = 0.0, *, concept: bool = False):
        x = self.rng.normal(size=(n, D))
        x[:, :2] += shift
        p = self.law(x)
        if concept:  # P(y | x) changes: the classes' roles rotate
            p = p[:, [1, 2, 3, 0]]
        y = np.minimum((self.rng.random((n, 1)) > p.cumsum(axis=1)).sum(axis=1), K - 1)
        return x, y

    def model(self, x, t: float = 1.0):
        return softmax(t * (x @ self.w + self.b))


@pytest.fixture(scope="module")
def world():
    return World(0)


@pytest.fixture(scope="module")
def estimator(world):
    xr, yr = world.draw(20_000)
    return PerformanceEstimator(world.model(xr), yr)


def test_realized_metrics_match_scikit_learn():
    rng = np.random.default_rng(1)
    s = softmax(rng.normal(size=(600, K)) * 1.5)
    s[:50] = np.round(s[:50], 1)  # ties included
    s /= s.sum(axis=1, keepdims=True)
    y = np.minimum((rng.random((600, 1)) > s.cumsum(axis=1)).sum(axis=1), K - 1)
    got = realized_multiclass_metrics(y, s)
    pred = s.argmax(axis=1)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert got["f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert got["precision"] == pytest.approx(precision_score(y, pred, average="macro"))
    assert got["recall"] == pytest.approx(recall_score(y, pred, average="macro"))
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, s, multi_class="ovr", average="macro"), abs=1e-12)


def test_intervals_cover_realized_metrics_under_covariate_shift(world, estimator):
    covered = {"accuracy": 0, "f1": 0, "roc_auc": 0}
    err = {k: [] for k in covered}
    windows = 40
    for i in range(windows):
        x, y = world.draw(1000, 1.5 * i / (windows - 1))
        s = world.model(x)
        est = estimator.estimate(s)
        real = realized_multiclass_metrics(y, s)
        for k in covered:
            m = est.metrics[k]
            covered[k] += m["low"] <= real[k] <= m["high"]
            err[k].append(abs(m["estimate"] - real[k]))
        assert not [f for f in est.flags if f["code"] != "extrapolation"]
    # nominal 95%: 40 windows give >= 36 unless the intervals are really short
    assert covered["accuracy"] >= 36 and covered["f1"] >= 36, covered
    # realized accuracy of 1,000 rows scatters by about 0.015 around its expectation: that bounds the error
    assert np.mean(err["accuracy"]) < 0.02 and np.mean(err["f1"]) < 0.025, err


def test_an_estimator_that_trusts_overconfident_scores_fails_the_same_check(world):
    # the model is overconfident (t = 2); an estimator whose reference labels follow the model's own scores
    # believes them: its intervals miss the realized accuracy. Calibrated on real labels, ours does not.
    xr, yr = world.draw(10_000)
    sr = world.model(xr, 2.0)
    trusting = PerformanceEstimator(sr, np.minimum((world.rng.random((10_000, 1)) > sr.cumsum(1)).sum(1), K - 1))
    ours = PerformanceEstimator(sr, yr)
    hits = {"trusting": 0, "ours": 0}
    for i in range(20):
        x, y = world.draw(1000, 1.5 * i / 19)
        s = world.model(x, 2.0)
        real = realized_multiclass_metrics(y, s)["accuracy"]
        for name, est in (("trusting", trusting), ("ours", ours)):
            a = est.estimate(s).accuracy
            hits[name] += a["low"] <= real <= a["high"]
    assert hits["trusting"] <= 5 and hits["ours"] >= 14, hits


def test_point_estimates_equal_hand_computed_expectations(estimator, world):
    x, _ = world.draw(60, 0.5)
    s = world.model(x)
    s[:6] = np.round(s[:6], 1)  # ties in the scores
    p = estimator.probabilities(s)
    assert p.shape == (60, K) and np.allclose(p.sum(axis=1), 1.0)
    est = estimator.estimate(s)
    pred = s.argmax(axis=1)
    assert est.accuracy["estimate"] == pytest.approx(np.mean([p[i, pred[i]] for i in range(60)]))
    prec, rec, f1, auc = [], [], [], []
    for c in range(K):
        tp = sum(p[i, c] for i in range(60) if pred[i] == c)
        n_pred = sum(pred == c)
        pos = p[:, c].sum()
        prec.append(tp / n_pred if n_pred else 0.0)
        rec.append(tp / pos)
        f1.append(2 * tp / (n_pred + pos))
        num = den = 0.0
        for i in range(60):  # i a positive of class c, j a negative, weighted by their probabilities
            for j in range(60):
                if i != j:
                    w = p[i, c] * (1 - p[j, c])
                    den += w
                    num += w * (1.0 if s[i, c] > s[j, c] else 0.5 if s[i, c] == s[j, c] else 0.0)
        auc.append(num / den)
    assert est.precision["estimate"] == pytest.approx(np.mean(prec))
    assert est.recall["estimate"] == pytest.approx(np.mean(rec))
    assert est.f1["estimate"] == pytest.approx(np.mean(f1))
    assert est.roc_auc["estimate"] == pytest.approx(np.mean(auc))


def test_concept_shift_is_flagged_once_labels_arrive(world, estimator):
    x, y = world.draw(1000, concept=True)
    s = world.model(x)
    assert not [f for f in estimator.estimate(s).flags if f["code"] == "calibration"]
    labels = np.where(np.arange(1000) < 300, y, None)  # 30% of the labels have arrived
    est = estimator.estimate(s, labels=labels)
    lab = est.labelled
    assert "calibration" in {f["code"] for f in est.flags} and lab["n"] == 300
    assert max(abs(z) for z in lab["calibration_z"].values()) > lab["calibration_z_limit"] > 3
    assert sum(lab["counts"].values()) == 300 and "realized" in est.metrics["f1"]
    assert "realized_outside" in {f["code"] for f in estimator.estimate(s, labels=y).flags}
    # a stable window with its labels raises nothing, and its realized metrics are the labelled rows' own
    x, y = world.draw(1000)
    s = world.model(x)
    stable = estimator.estimate(s, labels=y)
    assert stable.flags == [] and stable.accuracy["realized"] == pytest.approx(np.mean(s.argmax(1) == y))


def test_scores_beyond_the_reference_are_flagged(world, estimator):
    x, _ = world.draw(1000, 6.0)
    assert "extrapolation" in {f["code"] for f in estimator.estimate(world.model(x)).flags}


def test_named_classes_result_object_and_shorthand(world):
    names = np.array(["bird", "cat", "dog", "fish"])
    xr, yr = world.draw(3000)
    x, y = world.draw(400)
    order = ["fish", "cat", "dog", "bird"]  # a model's classes_ need not be sorted
    cols = [list(names).index(c) for c in order]
    e = mo.estimate_performance(
        world.model(xr)[:, cols], names[yr], world.model(x)[:, cols], labels=names[y], classes=order
    )
    same = mo.estimate_performance(world.model(xr), names[yr], world.model(x), labels=names[y])
    assert e.accuracy["realized"] == pytest.approx(same.accuracy["realized"])
    assert e.accuracy["estimate"] == pytest.approx(same.accuracy["estimate"], abs=0.01)
    d = json.loads(e.to_json())
    assert d["classes"] == order and d["average"] == "macro" and set(d["labelled"]["counts"]) == set(order)
    for m in d["metrics"].values():
        assert m["low"] <= m["estimate"] <= m["high"]
    assert (
        "PerformanceEstimate n=400" in repr(e)
        and "4 classes, precision, recall, F1 and ROC AUC are macro" in e._repr_html_()
    )


def test_bad_multiclass_input_gets_one_clear_sentence(world, estimator):
    x, y = world.draw(200)
    s = world.model(x)
    with pytest.raises(ValidationError, match=r"with 4 columns \(one per class\); got shape \(200, 3\)"):
        estimator.estimate(s[:, :3])
    with pytest.raises(ValidationError, match="NaN or infinite"):
        estimator.estimate(np.r_[s[:-1], [[np.nan] * K]])
    assert estimator.estimate(3 * s).n == 200  # rows need not sum to 1: they are scores
    with pytest.raises(ValidationError, match="holds 7, which is not one of the classes"):
        estimator.estimate(s[:3], labels=[0, 1, 7])
    with pytest.raises(ValidationError, match="regression is not estimated"):
        PerformanceEstimator(s, np.random.default_rng(0).normal(size=200))
    with pytest.raises(ValidationError, match="at least 10 rows of each class"):
        PerformanceEstimator(s, np.r_[np.zeros(195, int), [1, 2, 3, 1, 2]])
    with pytest.raises(ValidationError, match="Pass classes= when the reference lacks a class"):
        PerformanceEstimator(s, y, classes=["a", "b", "c", "d"])
    with pytest.raises(ValidationError, match="pos_label applies to binary classifiers"):
        PerformanceEstimator(s, y, pos_label=1)
    with pytest.raises(ValidationError, match="has 5 values for 200 scores"):
        PerformanceEstimator(s, y[:5])
    with pytest.raises(ValidationError, match="hold 3 classes but reference_scores has 4 columns; pass classes="):
        PerformanceEstimator(s, np.minimum(y, 2))


HOUR = 3600.0


def test_monitor_estimates_and_realizes_multiclass_windows(world, estimator, tmp_path):
    """12 hourly windows of 200 rows captured as a K-probability list column; labels for the first 6 hours."""
    import pandas as pd

    from jupyter_modelops.capture.writer import CaptureWriter, Item
    from jupyter_modelops.serving.modeldir import TensorSpec

    feats = [f"x{j}" for j in range(D)]
    writer = CaptureWriter(str(tmp_path))
    writer.register("mc", "1", [TensorSpec("input", "FP64", (-1, D))], [TensorSpec("proba", "FP64", (-1, K))], feats)
    start = (time.time() // HOUR - 13) * HOUR
    ids, labels = [], []
    for h in range(12):
        for k in range(20):
            x, y = world.draw(10, 0.1 * h)
            rid = f"r{h}-{k}"
            writer.record(
                Item("mc", "1", rid, start + h * HOUR + 60 * k, 2.0, 200, 10, {"input": x}, {"proba": world.model(x)})
            )
            if h < 6:
                ids += [rid] * 10
                labels += y.tolist()
    writer.close()
    mo.log_labels("mc", ids, labels, rows=list(range(10)) * (len(ids) // 10), store=str(tmp_path))
    xr, _ = world.draw(3000)
    prof = mo.profile(pd.DataFrame(xr, columns=feats))
    span = {
        "since": pd.Timestamp(start, unit="s", tz="UTC").isoformat(),
        "until": pd.Timestamp(start + 12 * HOUR, unit="s", tz="UTC").isoformat(),
        "every": "1h",
        "reference": prof,
        "store": str(tmp_path),
    }
    rep = mo.monitor("mc:1", performance=estimator, score_column="proba", **span)
    ws = rep.windows
    assert len(ws) == 12 and all(w["rows"] == 200 for w in ws)
    assert all(set(w["estimated"]) == {"accuracy", "roc_auc", "f1", "precision", "recall"} for w in ws)
    for w in ws[:6]:
        r = w["realized"]
        assert r["n"] == 200 and r["accuracy"]["low"] <= r["accuracy"]["value"] <= r["accuracy"]["high"]
    assert all("accuracy" not in w["realized"] for w in ws[6:])
    est = np.mean([w["estimated"]["accuracy"]["estimate"] for w in ws[:6]])
    real = np.mean([w["realized"]["accuracy"]["value"] for w in ws[:6]])
    assert abs(est - real) < 0.04
    # without an estimator, integer labels are the columns' indices: the same realized metrics
    bare = mo.monitor("mc:1", score_column="proba", **span)
    assert bare.windows[0]["realized"]["f1"]["value"] == pytest.approx(ws[0]["realized"]["f1"]["value"])
    # a binary estimator is refused for a four-probability column
    rng = np.random.default_rng(0)
    binary = PerformanceEstimator(rng.uniform(size=500), rng.random(500) < 0.5)
    with pytest.raises(ValidationError, match="holds 4 class probabilities per row"):
        mo.monitor("mc:1", performance=binary, score_column="proba", **span)
