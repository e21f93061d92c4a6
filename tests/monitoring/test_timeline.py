"""monitor(): captured traffic (real Parquet partitions written by the capture writer) as windows over time."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import jupyter_modelops as mo
from jupyter_modelops.capture.writer import CaptureWriter, Item
from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.serving.modeldir import TensorSpec

HOUR = 3600.0
FEATURES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """48 hourly windows of 300 rows, ending an hour ago; feature 'a' shifts by 0.6 sd from hour 30 on."""
    rng = np.random.default_rng(0)
    w = np.array([1.5, -1.0, 0.5])

    def draw(n, shift=0.0):
        x = rng.normal(size=(n, 3))
        x[:, 0] += shift
        return x, (rng.random(n) < 1 / (1 + np.exp(-(x @ w)))).astype(int)

    x_tr, y_tr = draw(4000)
    model = LogisticRegression().fit(x_tr, y_tr)
    x_ref, y_ref = draw(5000)
    store = tmp_path_factory.mktemp("captures")
    writer = CaptureWriter(str(store))
    writer.register("m", "1", [TensorSpec("input", "FP64", (-1, 3))], [TensorSpec("proba", "FP64", (-1,))], FEATURES)
    start = (time.time() // HOUR - 49) * HOUR
    ids, labels = [], []
    for h in range(48):
        for k in range(30):  # 30 requests of 10 rows per hour
            x, y = draw(10, 0.6 if h >= 30 else 0.0)
            rid = f"r{h}-{k}"
            status = 503 if (h == 5 and k < 3) else 200
            outs = {"proba": model.predict_proba(x)[:, 1]} if status == 200 else None
            writer.record(Item("m", "1", rid, start + h * HOUR + 60 * k, 2.0 + h % 3, status, 10, {"input": x}, outs))
            if h < 12 and status == 200:  # labels arrived for the first 12 hours only
                ids += [rid] * 10
                labels += y.tolist()
    writer.close()
    mo.log_labels("m", ids, labels, rows=list(range(10)) * (len(ids) // 10), store=str(store))
    est = mo.PerformanceEstimator(model.predict_proba(x_ref)[:, 1], y_ref)
    import pandas as pd

    return {
        "store": str(store),
        "start": start,
        "profile": mo.profile(pd.DataFrame(x_ref, columns=FEATURES)),
        "estimator": est,
    }


def test_monitor_reports_traffic_drift_alarm_and_performance_per_window(world):
    import pandas as pd

    prof = world["profile"]
    since = pd.Timestamp(world["start"], unit="s", tz="UTC").isoformat()
    until = pd.Timestamp(world["start"] + 48 * HOUR, unit="s", tz="UTC").isoformat()
    rep = mo.monitor(
        "m:1",
        since=since,
        until=until,
        every="1h",
        reference=prof,
        performance=world["estimator"],
        score_column="proba",
        store=world["store"],
    )
    ws = rep.windows
    assert len(ws) == 48 and all(w["rows"] == 300 for w in ws)
    assert ws[5]["error_rate"] == pytest.approx(3 / 30) and ws[4]["error_rate"] == 0
    assert ws[0]["latency_p50_ms"] == 2.0 and ws[1]["latency_p95_ms"] == 3.0
    # no alarm on the stable hours, an alarm within two windows of the shift, on the shifted feature
    assert not any(w["alarm"] for w in ws[:30])
    first = next(i for i, w in enumerate(ws) if w["alarm"])
    assert 30 <= first <= 31 and rep.data["first_alarm"] == ws[first]["start"]
    assert abs(ws[first]["drift"]["a"]["z"]) > 4 > max(abs(ws[first]["drift"][c]["z"]) for c in ("b", "c"))
    # estimated performance everywhere, realized (with an interval) where labels arrived
    assert all("estimated" in w for w in ws)
    for w in ws[:12]:
        real = w["realized"]["accuracy"]
        assert w["realized"]["n"] in (270, 300) and real["low"] <= real["value"] <= real["high"]
    assert all("accuracy" not in w["realized"] for w in ws[12:])
    est = np.array([w["estimated"]["accuracy"]["estimate"] for w in ws[:12]])
    real = np.array([w["realized"]["accuracy"]["value"] for w in ws[:12]])
    assert abs(est.mean() - real.mean()) < 0.03
    d = json.loads(rep.to_json())
    assert d["threshold"] == rep.data["threshold"] and len(d["windows"]) == 48
    html = rep._repr_html_()
    assert html.count("data:image/svg+xml") >= 4 and "<script" not in html
    assert len(rep.frame()) == 48
    figs = rep.figures()
    assert len(figs) == 4


def test_monitor_refuses_what_it_cannot_use(world):
    with pytest.raises(ValidationError, match="none of the reference profile's columns"):
        mo.monitor(
            "m:1", since="3d", reference=mo.profile(np.zeros((10, 2)) + np.arange(10)[:, None]), store=world["store"]
        )
    with pytest.raises(ValidationError, match="needs score_column"):
        mo.monitor("m:1", since="3d", reference=world["profile"], performance=world["estimator"], store=world["store"])
    with pytest.raises(ValidationError, match="too many"):
        mo.monitor("m:1", since="3000d", every="1m", reference=world["profile"], store=world["store"])
    with pytest.raises(ValidationError, match="No request of m:1 was captured"):
        mo.monitor(
            "m:1",
            since="2000-01-01T00:00:00",
            until="2000-01-02T00:00:00",
            reference=world["profile"],
            store=world["store"],
        )
    with pytest.raises(ValidationError, match="every is"):
        mo.monitor("m:1", every="often", reference=world["profile"], store=world["store"])


def test_monitor_reads_what_a_real_server_captured(tmp_path):
    # a real model server process with capture on, a real V2 client, labels logged later
    import pandas as pd
    import tritonclient.http as httpclient
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=3000, n_features=4, n_informative=3, n_redundant=0, random_state=1)
    cols = ["f0", "f1", "f2", "f3"]
    X_tr, X_ref, X_live = pd.DataFrame(X[:1000], columns=cols), X[1000:2500], X[2500:]
    y_tr, y_ref, y_live = y[:1000], y[1000:2500], y[2500:]
    model = LogisticRegression().fit(X_tr, y_tr)
    mo.snapshot(model, "live", data=X_tr, alias="production")
    dep = mo.serve("live@production", capture=True)
    try:
        client = httpclient.InferenceServerClient(dep.url.split("://", 1)[1])
        ids = []
        for i in range(0, 500, 25):
            inp = httpclient.InferInput("input", [25, 4], "FP64")
            inp.set_data_from_numpy(X_live[i : i + 25].astype(np.float64))
            res = client.infer("live", [inp], request_id=f"req-{i}")
            ids.append(res.get_response()["id"])
        client.close()
    finally:
        mo.stop(dep)
    mo.log_labels(
        dep, [i for i in ids for _ in range(25)], [int(v) for v in y_live], rows=[k for _ in ids for k in range(25)]
    )
    est = mo.PerformanceEstimator(model.predict_proba(pd.DataFrame(X_ref, columns=cols))[:, 1], y_ref)
    rep = mo.monitor("live:1", since="1h", every="20m", performance=est)
    ws = [w for w in rep.windows if w["rows"]]
    assert sum(w["rows"] for w in ws) == 500 and sum(w["requests"] for w in ws) == 20
    assert all(w["error_rate"] == 0 and w["latency_p50_ms"] > 0 for w in ws)
    assert set(rep.data["features"]) == set(cols) and not any(w["alarm"] for w in rep.windows)
    real = [w["realized"] for w in ws if "accuracy" in w["realized"]]
    assert sum(r["n"] for r in real) >= 450  # every row got its label; windows under 20 labelled rows show none
    for w in ws:
        if "accuracy" in w["realized"]:
            r, e = w["realized"]["accuracy"], w["estimated"]["accuracy"]
            assert r["low"] <= r["value"] <= r["high"]
            if w["realized"]["n"] >= 200:  # (a 20-minute boundary may cut the traffic into a large and a small window)
                assert abs(e["estimate"] - r["value"]) < 0.08
