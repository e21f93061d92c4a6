"""mo.report(ref) without data: the monitoring template reads the captures of its window (a real kernel)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ValidationError


def _infer(url: str, X: np.ndarray) -> str:
    body = {"inputs": [{"name": "input", "datatype": "FP64", "shape": list(X.shape), "data": X.ravel().tolist()}]}
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        doc = json.loads(r.read())
        assert r.headers["X-Request-Id"] == doc["id"]
    return doc["id"]


@pytest.fixture
def captured_world():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        data.data, data.target, test_size=0.4, random_state=0, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X_tr, y_tr)
    mo.snapshot(model, "cancer", data=X_tr, alias="production")
    dep = mo.serve("cancer@production", capture=True)
    try:
        X, y = X_te.to_numpy()[:100], y_te.to_numpy()[:100]
        ids = [_infer(dep.infer_url, X[i : i + 5]) for i in range(0, 100, 5)]
    finally:
        mo.stop(dep)
    return dep, ids, y


def test_report_without_data_reads_the_window_of_captures(captured_world):
    dep, ids, y = captured_world
    labelled = ids[:12]  # 60 of the 100 rows get their label "later"
    r = mo.log_labels(
        dep,
        [i for i in labelled for _ in range(5)],
        [int(v) for v in y[:60]],
        rows=[k for _ in labelled for k in range(5)],
    )
    assert (r.written, r.unknown) == (60, 0)
    run = mo.report("cancer@production", window="1h")
    assert run.status == "succeeded", run.error
    m = run.metrics
    assert m["requests"] == 20 and m["error_rate"] == 0 and m["capture_dropped"] == 0
    assert 0 < m["latency_p50_ms"] <= m["latency_p99_ms"]
    assert m["labelled_share"] == pytest.approx(0.6)
    assert 0.5 < m["roc_auc"]["low"] <= m["roc_auc"]["value"] <= m["roc_auc"]["high"] <= 1
    assert "drift_share" in m
    html = Path(run.html).read_text()
    assert "Traffic, latency and errors" in html and "captured requests of the last 1h" in html


def test_report_window_is_checked_before_any_kernel(captured_world):
    with pytest.raises(ValidationError, match="expected a duration"):
        mo.report("cancer@production", window="forever")
    run = mo.report("cancer@production", window="1s", params={"title": "empty window"})
    assert run.status == "failed" and "no captured requests" in run.error
