"""evaluate_predictions(..., data=...) and evaluate(model, data, "target"): streamed results equal the in-memory ones.

Exact (to float rounding) for confusion counts and the metrics built from them, log loss, Brier score,
calibration error and regression point values; within the stated tolerance for ROC AUC, average
precision and KS (score cells as ties). Batches are made small so every input is read in several.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import jupyter_modelops as mo
from jupyter_modelops.evaluation import _stream
from jupyter_modelops.exceptions import ValidationError

EXACT = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "log_loss",
    "brier_score_loss",
    "calibration_error",
)
BINNED = ("roc_auc", "pr_auc", "ks_statistic")


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(_stream, "BATCH_ROWS", 3000)


def _binary_data(n=12_000, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 3, n)
    y = (rng.random(n) < p).astype(np.int64)
    w = rng.lognormal(0.0, 0.7, n)
    return y, p, w


def _assert_same(a, b, exact, binned=(), rtol=1e-12):
    for k in exact:
        assert b.metrics[k].value == pytest.approx(a.metrics[k].value, rel=rtol, abs=1e-15), k
    for k in binned:
        assert abs(b.metrics[k].value - a.metrics[k].value) <= _stream.BINNED_TOL, k


def _widths_close(a, b, names, lo=0.75, hi=1.33):
    for k in names:
        wa = a.metrics[k].high - a.metrics[k].low
        wb = b.metrics[k].high - b.metrics[k].low
        assert lo < wb / wa < hi, (k, wa, wb)


@pytest.mark.parametrize("weighted", [False, True])
def test_binary_parquet_folder_equals_in_memory(tmp_path, weighted):
    y, p, w = _binary_data()
    folder = tmp_path / "scores"
    folder.mkdir()
    for i in range(3):  # three files, each read in batches
        sl = slice(i * 4000, (i + 1) * 4000)
        pq.write_table(pa.table({"label": y[sl], "proba": p[sl], "wt": w[sl]}), folder / f"part-{i}.parquet")
    a = mo.evaluate_predictions(y, y_score=p, sample_weight=w if weighted else None, n_boot=1000)
    b = mo.evaluate_predictions(
        "label", y_score="proba", sample_weight="wt" if weighted else None, data=folder, n_boot=1000
    )
    assert b.n_rows == len(y) and b.task == "binary" and b.classes == [0, 1] and b.pos_label == 1
    assert b.model["columns"] == {
        "y_true": "label",
        "y_score": "proba",
        **({"sample_weight": "wt"} if weighted else {}),
    }
    _assert_same(a, b, EXACT, BINNED)
    np.testing.assert_allclose(b.confusion["matrix"], a.confusion["matrix"], rtol=1e-12)
    assert a.method == b.method == "multinomial"
    _widths_close(a, b, EXACT[:5] + ("log_loss", "brier_score_loss", "roc_auc"))
    assert any("Streamed" in n for n in b.notes) and any(f"{_stream.BINNED_TOL:g}" in n for n in b.notes)
    # the threshold is an exact cell edge: another threshold still gives the exact confusion counts
    c = mo.evaluate_predictions(y, y_score=p, threshold=0.3, n_boot=0)
    d = mo.evaluate_predictions("label", y_score="proba", data=folder, threshold=0.3, n_boot=0)
    _assert_same(c, d, EXACT)


def test_binary_pyarrow_dataset_and_table_keep_string_labels_and_pos_label(tmp_path):
    y, p, _ = _binary_data(6000, seed=3)
    labels = np.where(y == 1, "churn", "stay")
    table = pa.table({"truth": labels, "score": p})
    pq.write_table(table, tmp_path / "t.parquet")
    a = mo.evaluate_predictions(labels, y_score=p, pos_label="churn", n_boot=0)
    for data in (table, ds.dataset(tmp_path / "t.parquet"), table.to_reader(max_chunksize=1000)):
        b = mo.evaluate_predictions("truth", y_score="score", pos_label="churn", data=data, n_boot=0)
        assert b.classes == ["churn", "stay"] and b.pos_label == "churn"
        _assert_same(a, b, EXACT, BINNED)


def test_binary_decision_scores_and_clipped_probabilities():
    y, p, _ = _binary_data(5000, seed=4)
    z = np.log(p) - np.log1p(-p)  # logits: decision scores, the threshold moves to logit(0.5) = 0
    a = mo.evaluate_predictions(y, y_score=z, n_boot=0)
    b = mo.evaluate_predictions("y", y_score="z", data=pd.DataFrame({"y": y, "z": z}), n_boot=0)
    _assert_same(a, b, EXACT[:5], BINNED)
    assert "log_loss" not in b.metrics and b.alerts and "DECISION SCORES" in b.alerts[0]
    q = p.copy()
    q[:3] = 1.0 + 1e-12  # rounding: clipped with a note, still probabilities
    c = mo.evaluate_predictions(y, y_score=q, n_boot=0)
    d = mo.evaluate_predictions("y", y_score="q", data=pl.DataFrame({"y": y, "q": q}), n_boot=0)
    _assert_same(c, d, EXACT, BINNED)
    assert not d.alerts and any("clipped" in n for n in d.notes)


@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_polars_lazyframe_equals_in_memory(weighted):
    rng = np.random.default_rng(5)
    n, K = 9000, 4
    P = rng.dirichlet(np.ones(K) * 0.7, n)
    y = np.array([rng.choice(K, p=row) for row in P])
    names = np.array(["a", "b", "c", "d"])
    w = rng.lognormal(0.0, 0.5, n)
    lf = pl.DataFrame({"y": names[y], "w": w, **{f"p_{c}": P[:, i] for i, c in enumerate(names)}}).lazy()
    a = mo.evaluate_predictions(names[y], y_score=P, sample_weight=w if weighted else None, n_boot=300)
    b = mo.evaluate_predictions(
        "y", y_score=[f"p_{c}" for c in names], sample_weight="w" if weighted else None, data=lf, n_boot=300
    )
    assert b.task == "multiclass" and b.classes == list(names)
    exact = [k for k in a.metrics if k not in ("roc_auc", "pr_auc")]
    _assert_same(a, b, exact, ("roc_auc", "pr_auc"))
    np.testing.assert_allclose(b.confusion["matrix"], a.confusion["matrix"], rtol=1e-12)
    _widths_close(a, b, ("accuracy", "f1_macro", "log_loss", "brier_score_loss", "roc_auc"))


def test_labels_only_binary_and_multiclass_from_a_reader():
    rng = np.random.default_rng(6)
    n = 8000
    for K in (2, 3):
        y = rng.integers(0, K, n)
        pred = np.where(rng.random(n) < 0.7, y, rng.integers(0, K, n))
        w = rng.lognormal(0.0, 0.5, n)
        a = mo.evaluate_predictions(y, y_pred=pred, sample_weight=w, n_boot=300)
        reader = pa.table({"y": y, "yhat": pred, "w": w}).to_reader(max_chunksize=2500)
        b = mo.evaluate_predictions("y", y_pred="yhat", sample_weight="w", data=reader, n_boot=300)
        assert a.task == b.task
        _assert_same(a, b, list(a.metrics))
        np.testing.assert_allclose(b.confusion["matrix"], a.confusion["matrix"], rtol=1e-12)
        _widths_close(a, b, ("accuracy",))


@pytest.mark.parametrize("weighted", [False, True])
def test_regression_parquet_equals_in_memory(tmp_path, weighted):
    rng = np.random.default_rng(7)
    n = 15_000
    y = rng.normal(100.0, 5.0, n)
    yhat = y + rng.standard_t(3, n)  # heavy-tailed residuals
    w = rng.lognormal(0.0, 0.7, n)
    pq.write_table(pa.table({"target": y, "pred": yhat, "w": w}), tmp_path / "r.parquet", row_group_size=4000)
    a = mo.evaluate_predictions(y, y_pred=yhat, sample_weight=w if weighted else None, n_boot=1000)
    b = mo.evaluate_predictions(
        "target", y_pred="pred", sample_weight="w" if weighted else None, data=tmp_path / "r.parquet", n_boot=1000
    )
    assert b.task == "regression" and a.method == b.method == "moments"
    _assert_same(a, b, list(a.metrics), rtol=1e-9)
    _widths_close(a, b, ("mean_absolute_error", "mean_squared_error", "r2", "mean_absolute_percentage_error"))
    assert b.residuals["mean"] == pytest.approx(float(np.mean(y - yhat)), rel=1e-9)


def test_evaluate_applies_the_model_batch_by_batch(tmp_path):
    from sklearn.linear_model import LogisticRegression, Ridge

    rng = np.random.default_rng(8)
    n = 10_000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    y = (X["a"] - 0.5 * X["b"] + rng.normal(size=n) > 0).astype(int)
    model = LogisticRegression().fit(X[:2000], y[:2000])
    pq.write_table(pa.Table.from_pandas(X.assign(target=y), preserve_index=False), tmp_path / "x.parquet")
    a = mo.evaluate(model, X, y, n_boot=200)
    b = mo.evaluate(model, tmp_path / "x.parquet", "target", n_boot=200)
    assert b.model["output"] == "predict_proba" and b.n_rows == n
    assert b.model["columns"] == {"y_true": "target", "features": ["a", "b", "c"]}
    _assert_same(a, b, EXACT, BINNED, rtol=1e-9)
    # a regressor without feature names: the other columns, in order
    yr = X["a"] * 2 + rng.normal(size=n)
    reg = Ridge().fit(X.to_numpy()[:2000], yr[:2000])
    c = mo.evaluate(reg, X.to_numpy(), yr.to_numpy(), n_boot=0)
    d = mo.evaluate(reg, pa.Table.from_pandas(X.assign(t=yr), preserve_index=False), "t", n_boot=0)
    _assert_same(c, d, list(c.metrics), rtol=1e-9)


def test_bad_columns_and_inputs_get_one_sentence(tmp_path):
    y, p, _ = _binary_data(1000)
    pq.write_table(pa.table({"label": y, "proba": p}), tmp_path / "s.parquet")
    with pytest.raises(ValidationError, match=r"no column 'probaa' \(given as y_score\).*Did you mean: proba"):
        mo.evaluate_predictions("label", y_score="probaa", data=tmp_path / "s.parquet")
    with pytest.raises(ValidationError, match="no column 'lbl'"):
        mo.evaluate_predictions("lbl", y_score="proba", data=tmp_path / "s.parquet")
    with pytest.raises(ValidationError, match="no data= was given"):
        mo.evaluate_predictions("label", y_score=p)
    with pytest.raises(ValidationError, match="expected a Parquet file or folder path"):
        mo.evaluate_predictions("label", y_score="proba", data=[1, 2, 3])
    with pytest.raises(ValidationError, match="name of its target column"):
        mo.evaluate(lambda X: X[:, 0], tmp_path / "s.parquet", y)
    with pytest.raises(ValidationError, match="does not exist"):
        mo.evaluate_predictions("label", y_score="proba", data=tmp_path / "missing.parquet")
    with pytest.raises(ValidationError, match="sums to 0"):
        mo.evaluate_predictions("y", y_score="p", sample_weight="w", data=pd.DataFrame({"y": y, "p": p, "w": 0.0}))
    with pytest.raises(ValidationError, match="negative weights"):
        mo.evaluate_predictions("y", y_score="p", sample_weight="w", data=pd.DataFrame({"y": y, "p": p, "w": -1.0}))
    with pytest.raises(ValidationError, match="Column 'p' has 1 missing values"):
        mo.evaluate_predictions("y", y_score="p", data=pa.table({"y": [0, 1, 1], "p": [0.2, None, 0.7]}))
    reader = pa.table({"y": [0, 1, 2], "a": [0.2, 0.3, 0.5], "b": [0.3, 0.3, 0.4], "c": [0.5, 0.4, 0.1]}).to_reader()
    with pytest.raises(ValidationError, match="RecordBatchReader can be read only once.*pass labels="):
        mo.evaluate_predictions("y", y_score=["a", "b", "c"], data=reader)
    with pytest.raises(ValidationError, match="3 classes"):
        mo.evaluate_predictions("y", y_score="p", data=pd.DataFrame({"y": [0, 1, 2, 1], "p": [0.1, 0.9, 0.5, 0.2]}))


def test_in_memory_call_too_large_points_to_data(monkeypatch):
    monkeypatch.setattr(_stream, "MAX_IN_MEMORY_ROWS", 100)
    y, p, _ = _binary_data(500)
    with pytest.raises(ValidationError, match=r"more than the 100 evaluated in memory; pass the table as data="):
        mo.evaluate_predictions(y, y_score=p)
    X = np.column_stack([p, p])
    with pytest.raises(ValidationError, match="pass X as a table holding the target"):
        mo.evaluate(lambda X: X[:, 0], X, y)
    # ... and the same rows as data= are evaluated
    rep = mo.evaluate_predictions("y", y_score="p", data=pd.DataFrame({"y": y, "p": p}), n_boot=0)
    assert rep.n_rows == 500


def test_streamed_intervals_cover_known_truths():
    """Scores p ~ U(0, 1), labels ~ Bernoulli(p): accuracy 3/4, Brier 1/6, log loss 1/2, ROC AUC 5/6."""
    truth = {"accuracy": 0.75, "brier_score_loss": 1 / 6, "log_loss": 0.5, "roc_auc": 5 / 6}
    reps = 60
    hits = dict.fromkeys(truth, 0)
    for r in range(reps):
        rng = np.random.default_rng(100 + r)
        p = rng.random(4000)
        y = (rng.random(4000) < p).astype(int)
        rep = mo.evaluate_predictions("y", y_score="p", data=pd.DataFrame({"y": y, "p": p}), n_boot=200, random_state=r)
        for k, t in truth.items():
            hits[k] += rep.metrics[k].low <= t <= rep.metrics[k].high
    coverage = {k: v / reps for k, v in hits.items()}
    assert all(0.85 <= c <= 1.0 for c in coverage.values()), coverage


def test_scores_packed_into_few_cells_are_read_again_with_split_cells():
    rng = np.random.default_rng(9)
    n = 20_000
    p = 0.5 + rng.normal(0.0, 1e-4, n)  # every score within a few grid cells of 0.5
    y = (rng.random(n) < 0.5 + (p - 0.5) * 1000).astype(int)
    a = mo.evaluate_predictions(y, y_score=p, n_boot=0)
    b = mo.evaluate_predictions("y", y_score="p", data=pd.DataFrame({"y": y, "p": p}), n_boot=0)
    assert any("read 2 times" in n for n in b.notes)
    _assert_same(a, b, EXACT, BINNED)
    # a reader is read once: the report states how far off ROC AUC may be
    c = mo.evaluate_predictions("y", y_score="p", data=pa.table({"y": y, "p": p}).to_reader(), n_boot=0)
    note = next(n for n in c.notes if "packed into few cells: ROC AUC is within" in n)
    bound = float(note.split("within ")[1].split(" ")[0])
    assert abs(c.metrics["roc_auc"].value - a.metrics["roc_auc"].value) <= bound
    _assert_same(a, c, EXACT)


def test_streamed_regression_intervals_cover_known_truths():
    """Residuals ~ N(0, 1) with lognormal weights independent of them: MSE 1, MAE sqrt(2 / pi), mean residual 0."""
    truth = {"mean_squared_error": 1.0, "mean_absolute_error": float(np.sqrt(2 / np.pi)), "mean_residual": 0.0}
    reps = 40
    hits = dict.fromkeys(truth, 0)
    for r in range(reps):
        rng = np.random.default_rng(500 + r)
        y = rng.normal(20.0, 3.0, 5000)
        df = pd.DataFrame({"y": y, "yhat": y + rng.normal(0.0, 1.0, 5000), "w": rng.lognormal(0.0, 0.5, 5000)})
        rep = mo.evaluate_predictions("y", y_pred="yhat", sample_weight="w", data=df, n_boot=200, random_state=r)
        for k, t in truth.items():
            hits[k] += rep.metrics[k].low <= t <= rep.metrics[k].high
    coverage = {k: v / reps for k, v in hits.items()}
    assert all(0.8 <= c <= 1.0 for c in coverage.values()), coverage
