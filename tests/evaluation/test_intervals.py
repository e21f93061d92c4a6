"""Bootstrap intervals agree with a naive per-resample scikit-learn bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

import jupyter_modelops as mo
from jupyter_modelops.evaluation.bootstrap import bootstrap_cells, percentile_interval

N_BOOT = 150


def _naive(n, n_boot, seed, fns):
    """The textbook loop: resample rows with numpy, call scikit-learn on each replicate."""
    rng = np.random.default_rng(seed)
    dists = {k: [] for k in fns}
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        for k, fn in fns.items():
            try:
                dists[k].append(fn(idx))
            except ValueError:  # a replicate with one class: undefined, skipped
                dists[k].append(np.nan)
    return {k: percentile_interval(np.array(v), 0.95) for k, v in dists.items()}


def _assert_agree(rep, naive, tol=1e-3):
    for k, (lo, hi) in naive.items():
        m = rep.metrics[k]
        assert abs(m.low - lo) <= tol and abs(m.high - hi) <= tol, (k, (m.low, m.high), (lo, hi))
        assert m.low <= m.value <= m.high or k == "calibration_error", k


def test_binary_intervals_match_naive_sklearn_bootstrap(binary_data):
    model, X, y = binary_data
    X, y = X[:300], y[:300]
    p = model.predict_proba(X)[:, 1]
    pred = (p >= 0.5).astype(int)
    fns = {
        "accuracy": lambda i: skm.accuracy_score(y[i], pred[i]),
        "balanced_accuracy": lambda i: skm.balanced_accuracy_score(y[i], pred[i]),
        "precision": lambda i: skm.precision_score(y[i], pred[i], zero_division=0),
        "recall": lambda i: skm.recall_score(y[i], pred[i], zero_division=0),
        "f1": lambda i: skm.f1_score(y[i], pred[i], zero_division=0),
        "roc_auc": lambda i: skm.roc_auc_score(y[i], p[i]),
        "pr_auc": lambda i: skm.average_precision_score(y[i], p[i]),
        "log_loss": lambda i: skm.log_loss(y[i], p[i]),
        "brier_score_loss": lambda i: skm.brier_score_loss(y[i], p[i]),
    }
    rep = mo.evaluate(model, X, y, n_boot=N_BOOT, random_state=7)
    assert rep.method == "rows" and not rep.binned
    _assert_agree(rep, _naive(len(y), N_BOOT, 7, fns))


def test_binary_weighted_intervals_match_naive(tied_scores):
    y, p, w = tied_scores
    fns = {
        "roc_auc": lambda i: skm.roc_auc_score(y[i], p[i], sample_weight=w[i]),
        "pr_auc": lambda i: skm.average_precision_score(y[i], p[i], sample_weight=w[i]),
        "f1": lambda i: skm.f1_score(y[i], (p[i] >= 0.5).astype(int), sample_weight=w[i]),
        "log_loss": lambda i: skm.log_loss(y[i], p[i], sample_weight=w[i]),
    }
    rep = mo.evaluate_predictions(y, y_score=p, sample_weight=w, n_boot=N_BOOT, random_state=3)
    _assert_agree(rep, _naive(len(y), N_BOOT, 3, fns))


def test_multiclass_intervals_match_naive(multiclass_data):
    model, X, y = multiclass_data
    X, y = X[:300], y[:300]
    P = model.predict_proba(X)
    pred = P.argmax(1)
    fns = {
        "accuracy": lambda i: skm.accuracy_score(y[i], pred[i]),
        "f1_macro": lambda i: skm.f1_score(y[i], pred[i], average="macro", zero_division=0),
        "roc_auc": lambda i: skm.roc_auc_score(y[i], P[i], multi_class="ovr", labels=[0, 1, 2, 3]),
        "log_loss": lambda i: skm.log_loss(y[i], P[i], labels=[0, 1, 2, 3]),
        "brier_score_loss": lambda i: skm.brier_score_loss(y[i], P[i], labels=[0, 1, 2, 3]),
    }
    rep = mo.evaluate(model, X, y, n_boot=120, random_state=11)
    _assert_agree(rep, _naive(len(y), 120, 11, fns))


def test_regression_intervals_match_naive(regression_data):
    model, X, y = regression_data
    yh = model.predict(X)
    fns = {
        "mean_absolute_error": lambda i: skm.mean_absolute_error(y[i], yh[i]),
        "root_mean_squared_error": lambda i: skm.root_mean_squared_error(y[i], yh[i]),
        "r2": lambda i: skm.r2_score(y[i], yh[i]),
        "mean_absolute_percentage_error": lambda i: skm.mean_absolute_percentage_error(y[i], yh[i]),
        "max_error": lambda i: skm.max_error(y[i], yh[i]),
    }
    rep = mo.evaluate(model, X, y, n_boot=N_BOOT, random_state=5)
    naive = _naive(len(y), N_BOOT, 5, fns)
    for k, (lo, hi) in naive.items():  # relative tolerance: errors are in the units of y
        m = rep.metrics[k]
        scale = max(1.0, abs(m.value))
        assert abs(m.low - lo) <= 1e-3 * scale and abs(m.high - hi) <= 1e-3 * scale, (k, m, lo, hi)


def test_binned_multinomial_agrees_with_exact_rows_bootstrap():
    """Large-data path (score bins + multinomial draws + bias shift) vs the exact per-row bootstrap."""
    from jupyter_modelops.evaluation import _binary

    rng = np.random.default_rng(0)
    n = 20_000
    y = rng.integers(0, 2, n)
    p = 1 / (1 + np.exp(-(1.6 * (2 * y - 1) + rng.normal(size=n) * 1.8)))
    lv = _binary.make_levels(y.astype(bool), p, None)
    point = _binary.point_values(lv, 0.5, True)
    # exact: one cell per (label, distinct score), rows drawn as a naive loop would
    stat, _ = _binary.level_stat(lv, 0.5, True)
    cell = y * len(lv.score) + lv.level_of_row
    exact = bootstrap_cells(stat, cell, 2 * len(lv.score), n_boot=400, random_state=1, method="rows")
    g, G, stat_b, binned = _binary.cells(lv, 0.5, True, rows_mode=False)
    assert binned and G < 600
    cell_b = y * G + g[lv.level_of_row]
    approx = bootstrap_cells(stat_b, cell_b, 2 * G, n_boot=400, random_state=2, point=point, method="multinomial")
    # per-cell counts without row ids draw exactly the same replicates
    via_counts = bootstrap_cells(
        stat_b, None, 2 * G, n_boot=400, random_state=2, point=point, counts=np.bincount(cell_b, minlength=2 * G)
    )
    np.testing.assert_array_equal(via_counts.distributions["roc_auc"], approx.distributions["roc_auc"])
    for k in ("roc_auc", "pr_auc", "ks_statistic", "f1", "log_loss", "calibration_error"):
        width = exact.high[k] - exact.low[k]
        # different random draws: agree up to Monte Carlo error of 400 replicates (~10% of the width)
        assert abs(approx.low[k] - exact.low[k]) <= 0.15 * width + 1e-4, k
        assert abs(approx.high[k] - exact.high[k]) <= 0.15 * width + 1e-4, k
        assert approx.point[k] == pytest.approx(exact.point[k], abs=1e-12)


def test_rows_method_reproduces_naive_draws():
    y = np.array([0, 1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1])
    pred = np.array([0, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0])

    def acc(W):
        return {"accuracy": (W[:, 0] + W[:, 3]) / W.sum(axis=1)}

    res = bootstrap_cells(acc, y * 2 + pred, 4, n_boot=50, random_state=9, method="rows")
    rng = np.random.default_rng(9)
    naive = [np.mean(y[i] == pred[i]) for i in (rng.integers(0, 12, 12) for _ in range(50))]
    np.testing.assert_allclose(res.distributions["accuracy"], naive, atol=1e-15)


def test_no_bootstrap_gives_point_values_only(binary_data):
    model, X, y = binary_data
    rep = mo.evaluate(model, X, y, n_boot=0)
    assert all(m.low is None and m.high is None for m in rep.metrics.values())


def test_ci_level_changes_width(binary_data):
    model, X, y = binary_data
    a = mo.evaluate(model, X, y, n_boot=200, ci=0.8).metrics["roc_auc"]
    b = mo.evaluate(model, X, y, n_boot=200, ci=0.99).metrics["roc_auc"]
    assert (b.high - b.low) > (a.high - a.low)


def test_progress_bar_only_when_asked_or_long(capsys):
    y = np.tile([0, 1], 2000)
    p = np.linspace(0.01, 0.99, 4000)
    mo.evaluate_predictions(y, y_score=p, n_boot=50, progress=True)
    assert "bootstrap" in capsys.readouterr().err  # tqdm writes to stderr outside notebooks
    mo.evaluate_predictions(y, y_score=p, n_boot=3000)  # long, but stderr is not a terminal here
    assert "bootstrap" not in capsys.readouterr().err


def test_large_multiclass_and_regression_paths():
    """Binned cells for multiclass and regression: exact points, sane intervals, notes."""
    from sklearn.metrics import log_loss, max_error, mean_absolute_error, roc_auc_score

    rng = np.random.default_rng(0)
    n, K = 12_000, 3
    y = rng.integers(0, K, n)
    z = rng.normal(size=(n, K))
    z[np.arange(n), y] += 1.0
    P = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    rep = mo.evaluate_predictions(y, y_score=P, n_boot=1000)  # 12k x 1000 > rows budget
    assert rep.method == "multinomial" and rep.binned and any("cells" in s for s in rep.notes)
    auc = rep.metrics["roc_auc"]
    assert auc.value == pytest.approx(roc_auc_score(y, P, multi_class="ovr"), abs=1e-12)
    assert auc.low < auc.value < auc.high and auc.high - auc.low < 0.03
    ll = rep.metrics["log_loss"]
    assert ll.value == pytest.approx(log_loss(y, P), abs=1e-12) and ll.low < ll.value < ll.high

    yt = rng.normal(size=n) * 10
    yh = yt + rng.standard_t(3, size=n)
    rep = mo.evaluate_predictions(yt, yh, n_boot=1000)
    assert rep.binned
    mae, mx = rep.metrics["mean_absolute_error"], rep.metrics["max_error"]
    assert mae.value == pytest.approx(mean_absolute_error(yt, yh), abs=1e-12) and mae.low < mae.value < mae.high
    # the bootstrap max is the data max only when its row is drawn (~63% of replicates)
    a = np.sort(np.abs(yt - yh))[::-1]
    assert mx.value == max_error(yt, yh) and mx.high == a[0] and a[4] <= mx.low < a[0]


def test_row_draws_on_many_rows_use_binned_cells():
    """Few replicates on many rows: row draws, but cells stay bounded (memory), points exact."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    rng = np.random.default_rng(1)
    n, K = 30_000, 6
    y = rng.integers(0, K, n)
    z = rng.normal(size=(n, K))
    z[np.arange(n), y] += 1.0
    P = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    rep = mo.evaluate_predictions(y, y_score=P, n_boot=20)
    assert rep.method == "rows" and rep.binned
    assert rep.metrics["accuracy"].value == pytest.approx(accuracy_score(y, P.argmax(1)), abs=1e-12)
    assert rep.metrics["roc_auc"].value == pytest.approx(roc_auc_score(y, P, multi_class="ovr"), abs=1e-12)
    assert rep.metrics["accuracy"].low < rep.metrics["accuracy"].value < rep.metrics["accuracy"].high
