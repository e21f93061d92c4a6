"""Honest fast paths: small, seeded versions of the coverage bench (bench/coverage) and one test per audit finding.

Spreads are compared as the standard deviation of the bootstrap replicates
against that of a naive row bootstrap on the same data (less noisy than
percentile widths at a few hundred replicates); the tolerances allow for the
Monte Carlo error of both sides.
"""

from __future__ import annotations

import numpy as np
import pytest

import jupyter_modelops as mo


def _naive_sd(stat, n: int, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.std([stat(rng.integers(0, n, n)) for _ in range(n_boot)], axis=0)


# ------------------------------------------------------------------ weighted multinomial draws
def test_weighted_multinomial_spread_matches_naive_bootstrap():
    """Audit: with lognormal weights the multinomial path was ~40% too narrow (mean weight per cell)."""
    rng = np.random.default_rng(0)
    n = 20_000
    p = np.round(rng.uniform(0.05, 0.95, n), 2)
    y = (rng.random(n) < p).astype(int)
    w = rng.lognormal(0.0, 1.0, n)
    rep = mo.evaluate_predictions(y, y_score=p, sample_weight=w, n_boot=1000)  # 2e7 > rows budget
    assert rep.method == "multinomial" and not rep.binned

    def stat(i):
        ww, yy, pp = w[i], y[i], p[i]
        return [
            np.average((pp >= 0.5) == yy, weights=ww),
            np.average((pp - yy) ** 2, weights=ww),
            np.average(-np.log(np.where(yy == 1, pp, 1 - pp)), weights=ww),
        ]

    naive = _naive_sd(stat, n, 300, 1)
    ours = np.array([np.std(rep._dists[k]) for k in ("accuracy", "brier_score_loss", "log_loss")])
    ratio = ours / naive
    assert np.all((ratio > 0.85) & (ratio < 1.15)), ratio


def test_weighted_multinomial_cell_draw_has_the_weight_variance():
    """One cell of k rows: the drawn weight has mean k*mean(w) and variance k*var(w), not 0."""
    from jupyter_modelops.evaluation.bootstrap import resample_cells

    rng = np.random.default_rng(2)
    n = 5000
    w = rng.lognormal(0.0, 1.0, n)
    cells = (rng.random(n) < 0.3).astype(np.intp)
    W = np.concatenate(list(resample_cells(cells, 2, n_boot=4000, weights=w, method="multinomial", random_state=3)))
    tot = W.sum(axis=1)
    expected_sd = np.sqrt(n) * w.std()  # sd of the sum of n weights drawn with replacement
    assert abs(tot.mean() / w.sum() - 1) < 0.01
    assert 0.9 < tot.std() / expected_sd < 1.1


# ------------------------------------------------------------------ large-data regression
@pytest.mark.parametrize("weighted", [False, True])
def test_binned_regression_heavy_tails_spread_matches_naive_bootstrap(weighted):
    """Audit: binned regression dropped within-cell variance (MSE 0.25-0.56 of naive, MAPE coverage 0.49)."""
    rng = np.random.default_rng(4)
    n = 30_000
    y = 10.0 + 2.0 * rng.normal(size=n)
    yh = y + rng.standard_t(2.5, size=n)
    w = rng.lognormal(0.0, 1.0, n) if weighted else np.ones(n)
    rep = mo.evaluate_predictions(y, yh, sample_weight=w if weighted else None, n_boot=1000)
    assert rep.method == "moments" and rep.binned and any("within-cell variance kept" in s for s in rep.notes)
    r = y - yh

    def stat(i):
        ww, rr, yy = w[i], r[i], y[i]
        return [
            np.average(rr**2, weights=ww),
            np.average(np.abs(rr) / np.abs(yy), weights=ww),
            np.average(np.abs(rr), weights=ww),
        ]

    naive = _naive_sd(stat, n, 300, 5)
    ours = np.array(
        [np.std(rep._dists[k]) for k in ("mean_squared_error", "mean_absolute_percentage_error", "mean_absolute_error")]
    )
    ratio = ours / naive
    assert np.all((ratio > 0.8) & (ratio < 1.25)), ratio


def test_moments_bootstrap_reproduces_a_sum_of_draws():
    """bootstrap_moments: the spread of a mean equals sd/sqrt(n) whatever the cells."""
    from jupyter_modelops.evaluation.bootstrap import bootstrap_moments, moment_roots

    rng = np.random.default_rng(6)
    x = rng.exponential(size=4000)
    cell = (x > np.median(x)).astype(int)
    counts = np.bincount(cell).astype(float)
    G = np.stack([np.ones_like(x), x], axis=1)
    means = np.stack([G[cell == c].mean(axis=0) for c in (0, 1)])
    roots = moment_roots(np.stack([np.cov(G[cell == c].T, bias=True) for c in (0, 1)]))
    res = bootstrap_moments(lambda S: {"mean": S[:, 1] / S[:, 0]}, counts, means, roots, n_boot=4000, random_state=7)
    assert res.point["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert 0.93 < res.distributions["mean"].std() / (x.std() / np.sqrt(len(x))) < 1.07


# ------------------------------------------------------------------ probabilities and decision scores
def test_probability_off_by_rounding_is_clipped_not_read_as_decision_score():
    """Audit: one probability of 1 + 1e-12 switched to decision-score mode (threshold 0, accuracy 0.80 -> 0.28)."""
    rng = np.random.default_rng(8)
    p = rng.uniform(size=2000)
    y = (rng.random(2000) < p).astype(int)
    q = p.copy()
    q[np.argmax(q)] = 1.0 + 1e-12
    ref = mo.evaluate_predictions(y, y_score=np.clip(q, 0.0, 1.0), n_boot=0)
    rep = mo.evaluate_predictions(y, y_score=q, n_boot=0)
    assert rep.model["output"] == "proba" and not rep.alerts
    assert rep.metrics["accuracy"].value == ref.metrics["accuracy"].value
    assert rep.metrics["accuracy"].value == mo.evaluate_predictions(y, y_score=p, n_boot=0).metrics["accuracy"].value
    assert rep.metrics["log_loss"].value == ref.metrics["log_loss"].value
    assert "brier_score_loss" in rep.metrics and "calibration_error" in rep.metrics
    assert any("clipped" in s for s in rep.notes)
    # the same through evaluate() on a callable
    X = np.zeros((2000, 1))
    rep2 = mo.evaluate(lambda X: q, X, y, n_boot=0)
    assert rep2.metrics["accuracy"].value == ref.metrics["accuracy"].value and "log_loss" in rep2.metrics
    assert any("clipped" in s for s in rep2.notes)


def test_scores_clearly_outside_unit_interval_are_said_loudly():
    rng = np.random.default_rng(9)
    p = rng.uniform(size=500)
    y = (rng.random(500) < p).astype(int)
    p[0] = 1.5
    rep = mo.evaluate_predictions(y, y_score=p, n_boot=0)
    assert len(rep.alerts) == 1 and "DECISION SCORES" in rep.alerts[0] and "1.5" in rep.alerts[0]
    assert "log_loss" not in rep.metrics
    text = rep.to_text().splitlines()
    assert text[1].startswith("WARNING:")  # right under the summary line
    html = rep.to_html()
    assert html.index("Warning:") < html.index("<table")
    assert rep.to_dict()["alerts"] == rep.alerts


def test_model_decision_function_is_not_an_alert(binary_data):
    from sklearn.svm import LinearSVC

    model, X, y = binary_data
    svm = LinearSVC().fit(X, y)
    rep = mo.evaluate(svm, X, y, n_boot=0)
    assert rep.model["output"] == "decision_function" and not rep.alerts


# ------------------------------------------------------------------ positive label
@pytest.mark.parametrize(
    "labels, expected",
    [([1, 0], 1), ([0, 1], 1), ([-1, 1], 1), ([1, -1], 1), (["yes", "no"], "yes"), ([3, 7], 7), ([7, 3], 7)],
)
def test_default_positive_label(labels, expected):
    """Audit: with labels=[1, 0] the default positive label was 0 (the docstring said 'the larger')."""
    from sklearn.metrics import precision_score, roc_auc_score

    rng = np.random.default_rng(10)
    y01 = rng.integers(0, 2, 300)
    neg = [v for v in labels if v != expected][0]
    y = np.where(y01 == 1, expected, neg)
    s = np.clip(y01 * 0.3 + rng.uniform(size=300) * 0.7, 0, 1)
    rep = mo.evaluate_predictions(y, y_score=s, labels=labels, n_boot=0)
    assert rep.pos_label == expected
    assert rep.metrics["roc_auc"].value == pytest.approx(roc_auc_score(y01, s), abs=1e-12)
    assert rep.metrics["precision"].value == pytest.approx(
        precision_score(y, np.where(s >= 0.5, expected, neg), pos_label=expected), abs=1e-12
    )


def test_two_column_scores_follow_labels_order():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 400)
    p1 = np.clip(0.3 * y + 0.7 * rng.uniform(size=400), 0, 1)
    P = np.stack([p1, 1 - p1], axis=1)  # columns in the order of labels=[1, 0]
    rep = mo.evaluate_predictions(y, y_score=P, labels=[1, 0], n_boot=0)
    assert rep.pos_label == 1
    assert rep.metrics["roc_auc"].value == pytest.approx(roc_auc_score(y, p1), abs=1e-12)


# ------------------------------------------------------------------ r2 on a constant target
@pytest.mark.parametrize("n_boot", [0, 200, 1000])
def test_r2_constant_target_as_scikit_learn(n_boot):
    """Audit: r2 was missing for a constant y_true (scikit-learn: 1.0 for a perfect fit, else 0.0)."""
    from sklearn.metrics import r2_score

    n = 12_000  # n_boot=1000: the moments path
    y = np.full(n, 3.0)
    perfect = mo.evaluate_predictions(y, y.copy(), task="regression", n_boot=n_boot)
    off = mo.evaluate_predictions(y, y + np.linspace(-1, 1, n), task="regression", n_boot=n_boot)
    assert perfect.metrics["r2"].value == r2_score(y, y) == 1.0
    assert off.metrics["r2"].value == r2_score(y, y + np.linspace(-1, 1, n)) == 0.0
    if n_boot:
        assert perfect.metrics["r2"].low == perfect.metrics["r2"].high == 1.0
        assert off.metrics["r2"].low == off.metrics["r2"].high == 0.0


# ------------------------------------------------------------------ KS and ECE: biased estimators
def test_ks_and_ece_intervals_cover_known_truths_at_small_n():
    """Audit: KS coverage 0.77 at n=100; ECE coverage 0 for a calibrated model.

    Scores ~ U(0, 1), y ~ Bernoulli(score): a calibrated model (ECE 0), KS 0.5
    and ROC AUC 5/6 exactly.
    """
    hits = {"ks_statistic": [], "calibration_error": [], "roc_auc": []}
    truth = {"ks_statistic": 0.5, "calibration_error": 0.0, "roc_auc": 5 / 6}
    for i in range(80):
        rng = np.random.default_rng([12, i])
        p = rng.uniform(size=100)
        y = (rng.random(100) < p).astype(int)
        rep = mo.evaluate_predictions(y, y_score=p, n_boot=300, random_state=i)
        for k in hits:
            m = rep.metrics[k]
            hits[k].append(m.low <= truth[k] <= m.high)
    cov = {k: float(np.mean(v)) for k, v in hits.items()}
    assert cov["ks_statistic"] >= 0.85 and cov["calibration_error"] >= 0.85 and cov["roc_auc"] >= 0.85, cov
    assert rep.interval_notes == {"ks_statistic": "bias-corrected", "calibration_error": "bias-corrected"}
    assert "bias-corrected" in rep.to_text() and any("biased upward" in s for s in rep.notes)


def test_bias_correction_moves_the_interval_below_the_replicates():
    from jupyter_modelops.evaluation.bootstrap import BootstrapResult, bias_correct

    dist = np.linspace(0.2, 0.4, 101)  # replicates centred at 0.3 while the point is 0.25: bias 0.05
    res = BootstrapResult(
        point={"ks_statistic": 0.25},
        low={"ks_statistic": 0.205},
        high={"ks_statistic": 0.395},
        distributions={"ks_statistic": dist},
    )
    assert bias_correct(res, ["ks_statistic"]) == ["ks_statistic"]
    assert res.low["ks_statistic"] == pytest.approx(0.105) and res.high["ks_statistic"] == pytest.approx(0.295)
