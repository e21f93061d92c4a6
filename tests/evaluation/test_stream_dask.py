"""Evaluation on Dask: a real LocalCluster with 2 worker processes gives the single-machine results.

Each partition is reduced to cell statistics on its worker and merged on the client; the order of the
partitions does not change the result.
"""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ValidationError

EXACT = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "log_loss", "brier_score_loss")


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(11)
    n = 12_000
    p = rng.beta(2, 3, n)
    y = (rng.random(n) < p).astype(np.int64)
    w = rng.lognormal(0.0, 0.7, n)
    target = rng.normal(50.0, 4.0, n)
    return pd.DataFrame({"y": y, "p": p, "w": w, "t": target, "that": target + rng.standard_t(3, n)})


def _close(a, b, names, rtol=1e-12):
    for k in names:
        assert b.metrics[k].value == pytest.approx(a.metrics[k].value, rel=rtol, abs=1e-15), k


def test_dask_binary_equals_single_machine_and_in_memory(dask_client, frame):
    ddf = dd.from_pandas(frame, npartitions=4)
    local = mo.evaluate_predictions("y", y_score="p", sample_weight="w", data=frame, n_boot=500)
    dist = mo.evaluate_predictions("y", y_score="p", sample_weight="w", data=ddf, n_boot=500)
    memory = mo.evaluate_predictions(frame.y.to_numpy(), y_score=frame.p.to_numpy(), sample_weight=frame.w, n_boot=0)
    assert any("4 partitions" in n for n in dist.notes)
    assert len(dask_client.scheduler_info()["workers"]) == 2
    _close(local, dist, list(local.metrics))  # same cells, same draws
    for k in local.metrics:
        assert dist.metrics[k].low == pytest.approx(local.metrics[k].low, rel=1e-9, abs=1e-12), k
        assert dist.metrics[k].high == pytest.approx(local.metrics[k].high, rel=1e-9, abs=1e-12), k
    _close(memory, dist, EXACT + ("calibration_error",))
    for k in ("roc_auc", "pr_auc", "ks_statistic"):
        assert abs(dist.metrics[k].value - memory.metrics[k].value) <= 1e-3


def test_partition_order_does_not_matter(dask_client, frame):
    ddf = dd.from_pandas(frame, npartitions=5)
    backwards = dd.concat([ddf.partitions[i] for i in reversed(range(ddf.npartitions))])
    # binary: fixed score cells, so even the intervals are the same
    a = mo.evaluate_predictions("y", y_score="p", sample_weight="w", data=ddf, n_boot=300)
    b = mo.evaluate_predictions("y", y_score="p", sample_weight="w", data=backwards, n_boot=300)
    _close(a, b, list(a.metrics), rtol=1e-9)
    for k in a.metrics:
        assert (b.metrics[k].low, b.metrics[k].high) == pytest.approx((a.metrics[k].low, a.metrics[k].high), rel=1e-9)
    # regression: exact point values; the interval cells' edges come from the first partition, so the
    # intervals agree up to Monte Carlo error
    a = mo.evaluate_predictions("t", y_pred="that", data=ddf, n_boot=1000)
    b = mo.evaluate_predictions("t", y_pred="that", data=backwards, n_boot=1000)
    _close(a, b, list(a.metrics), rtol=1e-9)
    for k in a.metrics:
        wa = a.metrics[k].high - a.metrics[k].low
        wb = b.metrics[k].high - b.metrics[k].low
        assert wb == pytest.approx(wa, rel=0.15), k


def test_dask_series_directly_and_regression(dask_client, frame):
    ddf = dd.from_pandas(frame, npartitions=3)
    a = mo.evaluate_predictions(ddf.y, y_score=ddf.p, n_boot=0)
    b = mo.evaluate_predictions(frame.y.to_numpy(), y_score=frame.p.to_numpy(), n_boot=0)
    _close(b, a, EXACT)
    r = mo.evaluate_predictions(ddf.t, y_pred=ddf.that, sample_weight=ddf.w, n_boot=0)
    m = mo.evaluate_predictions(frame.t.to_numpy(), y_pred=frame.that.to_numpy(), sample_weight=frame.w, n_boot=0)
    _close(m, r, list(m.metrics), rtol=1e-9)
    with pytest.raises(ValidationError, match="y_score is not a Dask Series while y_true is"):
        mo.evaluate_predictions(ddf.y, y_score=frame.p.to_numpy())


def test_model_on_dask_partitions(dask_client, frame):
    from sklearn.linear_model import LogisticRegression

    X = frame[["p", "w"]]
    model = LogisticRegression().fit(X[:3000], frame.y[:3000])
    ddf = dd.from_pandas(frame[["p", "w", "y"]], npartitions=4)
    a = mo.evaluate(model, X, frame.y, n_boot=0)
    b = mo.evaluate(model, ddf, "y", n_boot=0)  # the model is pickled to the workers
    _close(a, b, EXACT, rtol=1e-9)
    with pytest.raises(ValidationError, match="no column 'label' \\(given as y\\)"):
        mo.evaluate(model, ddf, "label")


def test_dask_multiclass_reads_the_classes_first(dask_client):
    rng = np.random.default_rng(12)
    n, K = 6000, 3
    P = rng.dirichlet(np.ones(K), n)
    y = np.array([rng.choice(K, p=row) for row in P])
    frame = pd.DataFrame({"y": np.array(["x", "y", "z"])[y], **{f"p{k}": P[:, k] for k in range(K)}})
    a = mo.evaluate_predictions(frame.y.to_numpy(), y_score=P, n_boot=0)
    b = mo.evaluate_predictions("y", y_score=["p0", "p1", "p2"], data=dd.from_pandas(frame, npartitions=3), n_boot=0)
    assert b.classes == ["x", "y", "z"]
    _close(a, b, [k for k in a.metrics if k not in ("roc_auc", "pr_auc")])
    for k in ("roc_auc", "pr_auc"):
        assert abs(b.metrics[k].value - a.metrics[k].value) <= 1e-3
