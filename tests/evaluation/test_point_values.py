"""Point values equal scikit-learn's (and scipy's KS) to 1e-12, for every metric and task."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

import jupyter_modelops as mo

TOL = 1e-12


def _ece(y, p, w=None):
    """Expected calibration error from scikit-learn's calibration_curve (uniform, 10 bins)."""
    assert w is None
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], p), minlength=10)
    counts = counts[counts > 0]
    return float(np.sum(counts / len(p) * np.abs(prob_true - prob_pred)))


def _binary_expected(y, p, thr=0.5, w=None):
    pred = (p >= thr).astype(int)
    out = {
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred, sample_weight=w),
        "precision": skm.precision_score(y, pred, sample_weight=w, zero_division=0),
        "recall": skm.recall_score(y, pred, sample_weight=w, zero_division=0),
        "f1": skm.f1_score(y, pred, sample_weight=w, zero_division=0),
        "roc_auc": skm.roc_auc_score(y, p, sample_weight=w),
        "pr_auc": skm.average_precision_score(y, p, sample_weight=w),
        "log_loss": skm.log_loss(y, p, sample_weight=w),
        "brier_score_loss": skm.brier_score_loss(y, p, sample_weight=w),
    }
    if w is None:
        out["ks_statistic"] = ks_2samp(p[y == 1], p[y == 0]).statistic
        out["calibration_error"] = _ece(y, p)
    return out


def _assert_close(report, expected):
    for name, want in expected.items():
        got = report.metrics[name].value
        assert abs(got - want) <= TOL, (name, got, want)


def test_binary_model_equals_sklearn(binary_data):
    model, X, y = binary_data
    rep = mo.evaluate(model, X, y, n_boot=0)
    p = model.predict_proba(X)[:, 1]
    _assert_close(rep, _binary_expected(y, p))
    assert rep.task == "binary"
    assert set(_binary_expected(y, p)) <= set(rep.metrics)
    # threshold 0.5 on probabilities reproduces the model's own predict
    assert rep.confusion["matrix"] == skm.confusion_matrix(y, model.predict(X)).tolist()


@pytest.mark.parametrize("thr", [0.3, 0.5, 0.71])
def test_binary_ties_and_thresholds(tied_scores, thr):
    y, p, _ = tied_scores
    rep = mo.evaluate_predictions(y, y_score=p, threshold=thr, n_boot=0)
    _assert_close(rep, _binary_expected(y, p, thr))
    assert rep.confusion["matrix"] == skm.confusion_matrix(y, (p >= thr).astype(int)).tolist()


def test_binary_with_sample_weight(tied_scores):
    y, p, w = tied_scores
    rep = mo.evaluate_predictions(y, y_score=p, sample_weight=w, n_boot=0)
    _assert_close(rep, _binary_expected(y, p, w=w))


def test_binary_string_labels_and_pos_label(binary_data):
    model, X, y = binary_data
    p = model.predict_proba(X)[:, 1]
    labels = np.where(y == 1, "churn", "stay")
    rep = mo.evaluate_predictions(labels, y_score=np.column_stack([p, 1 - p]), n_boot=0)
    # columns follow the sorted classes ("churn", "stay"); the positive class is "stay" (column 1 = 1 - p)
    assert rep.pos_label == "stay"
    assert abs(rep.metrics["roc_auc"].value - skm.roc_auc_score(labels == "stay", 1 - p)) <= TOL
    rep2 = mo.evaluate_predictions(
        labels, y_score=np.column_stack([p, 1 - p]), labels=["churn", "stay"], pos_label="churn", n_boot=0
    )
    assert abs(rep2.metrics["roc_auc"].value - skm.roc_auc_score(y, p)) <= TOL
    assert (
        abs(rep2.metrics["f1"].value - skm.f1_score(labels, np.where(p >= 0.5, "churn", "stay"), pos_label="churn"))
        <= TOL
    )


def test_decision_function_model_threshold_maps_to_logit():
    from sklearn.datasets import make_classification
    from sklearn.svm import LinearSVC

    X, y = make_classification(600, random_state=4)
    model = LinearSVC().fit(X[:300], y[:300])
    rep = mo.evaluate(model, X[300:], y[300:], n_boot=0)
    d = model.decision_function(X[300:])
    assert abs(rep.metrics["roc_auc"].value - skm.roc_auc_score(y[300:], d)) <= TOL
    assert abs(rep.metrics["pr_auc"].value - skm.average_precision_score(y[300:], d)) <= TOL
    # threshold 0.5 -> decision 0 -> the model's own predictions
    assert abs(rep.metrics["accuracy"].value - skm.accuracy_score(y[300:], model.predict(X[300:]))) <= TOL
    assert "log_loss" not in rep.metrics and rep.notes


def test_labels_only_predictions(binary_data):
    model, X, y = binary_data
    pred = model.predict(X)
    rep = mo.evaluate_predictions(y, pred, n_boot=0)
    assert abs(rep.metrics["f1"].value - skm.f1_score(y, pred)) <= TOL
    assert "roc_auc" not in rep.metrics


def test_multiclass_equals_sklearn(multiclass_data):
    model, X, y = multiclass_data
    rep = mo.evaluate(model, X, y, n_boot=0)
    P = model.predict_proba(X)
    pred = model.predict(X)
    Y = np.eye(4)[y]
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "roc_auc": skm.roc_auc_score(y, P, multi_class="ovr", average="macro"),
        "pr_auc": skm.average_precision_score(Y, P, average="macro"),
        "log_loss": skm.log_loss(y, P),
        "brier_score_loss": skm.brier_score_loss(y, P),
    }
    for avg in ("macro", "weighted"):
        expected[f"precision_{avg}"] = skm.precision_score(y, pred, average=avg, zero_division=0)
        expected[f"recall_{avg}"] = skm.recall_score(y, pred, average=avg, zero_division=0)
        expected[f"f1_{avg}"] = skm.f1_score(y, pred, average=avg, zero_division=0)
    _assert_close(rep, expected)
    assert rep.task == "multiclass"
    assert rep.confusion["matrix"] == skm.confusion_matrix(y, pred).tolist()
    conf = P.max(axis=1)
    bins = np.searchsorted(np.linspace(0, 1, 11)[1:-1], conf)
    ece = sum(abs((conf[bins == b] - (pred == y)[bins == b]).sum()) for b in range(10)) / len(y)
    assert abs(rep.metrics["calibration_error"].value - ece) <= TOL


def test_regression_equals_sklearn(regression_data):
    model, X, y = regression_data
    rep = mo.evaluate(model, X, y, n_boot=0)
    yh = model.predict(X)
    expected = {
        "mean_absolute_error": skm.mean_absolute_error(y, yh),
        "mean_squared_error": skm.mean_squared_error(y, yh),
        "root_mean_squared_error": skm.root_mean_squared_error(y, yh),
        "r2": skm.r2_score(y, yh),
        "mean_absolute_percentage_error": skm.mean_absolute_percentage_error(y, yh),
        "max_error": skm.max_error(y, yh),
    }
    _assert_close(rep, expected)
    assert rep.task == "regression"
    assert rep.residuals["quantiles"]["0.5"] == pytest.approx(np.median(y - yh))


def test_regression_weighted(regression_data):
    model, X, y = regression_data
    w = np.random.default_rng(0).uniform(0.5, 2, len(y))
    rep = mo.evaluate(model, X, y, sample_weight=w, n_boot=0)
    yh = model.predict(X)
    for name, fn in (
        ("mean_absolute_error", skm.mean_absolute_error),
        ("mean_squared_error", skm.mean_squared_error),
        ("r2", skm.r2_score),
        ("mean_absolute_percentage_error", skm.mean_absolute_percentage_error),
    ):
        assert abs(rep.metrics[name].value - fn(y, yh, sample_weight=w)) <= TOL, name


def test_torch_module_batches_and_restores_mode():
    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=500) > 0).astype(int)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1), torch.nn.Sigmoid())
    net.train()
    rep = mo.evaluate(net, X, y, n_boot=0)
    assert net.training  # mode restored
    net.eval()
    with torch.no_grad():
        p = net(torch.from_numpy(X)).numpy()[:, 0].astype(np.float64)
    assert abs(rep.metrics["roc_auc"].value - skm.roc_auc_score(y, p)) <= TOL  # eval mode: dropout off
    assert rep.model["output"] == "torch"


def test_callable_model_logits_multiclass(multiclass_data):
    model, X, y = multiclass_data
    rep = mo.evaluate(lambda A: model.decision_function(A), X, y, n_boot=0)  # logits -> softmax
    z = model.decision_function(X)
    P = np.exp(z - z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    assert abs(rep.metrics["log_loss"].value - skm.log_loss(y, P)) <= 1e-9
    assert abs(rep.metrics["accuracy"].value - skm.accuracy_score(y, model.predict(X))) <= TOL


def test_pos_label_first_class(binary_data):
    model, X, y = binary_data
    P = model.predict_proba(X)
    # a model's 1-D or 2-D output: the score of class 0 is used for pos_label=0
    rep = mo.evaluate(model, X, y, pos_label=0, n_boot=0)
    assert abs(rep.metrics["roc_auc"].value - skm.roc_auc_score(y == 0, P[:, 0])) <= TOL
    assert abs(rep.metrics["f1"].value - skm.f1_score(y, np.where(P[:, 0] >= 0.5, 0, 1), pos_label=0)) <= TOL
    # a user's 1-D y_score is the score of the positive class, whichever it is
    rep = mo.evaluate_predictions(y, y_score=P[:, 0], pos_label=0, n_boot=0)
    assert abs(rep.metrics["pr_auc"].value - skm.average_precision_score(y == 0, P[:, 0])) <= TOL
    sig = lambda A: 1 / (1 + np.exp(-model.decision_function(A)))  # noqa: E731  callable, 1-D, class 1
    rep = mo.evaluate(sig, X, y, pos_label=0, n_boot=0)
    assert abs(rep.metrics["log_loss"].value - skm.log_loss(y == 0, 1 - sig(X))) <= 1e-12
