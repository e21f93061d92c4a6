"""Drift on the wire: a real model server process, real traffic from a real V2 client (tritonclient)."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FEATURES = [f"f{i}" for i in range(5)]
ROWS = 400  # the server's drift window (and the alarm's window size)


@pytest.fixture(scope="module")
def reference():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=4000, n_features=5, n_informative=3, random_state=1)
    return pd.DataFrame(X, columns=FEATURES), y


@pytest.fixture(scope="module")
def profiled_dir(reference, tmp_path_factory):
    """A model directory with the version's reference profile (inputs and predicted scores), as materialize writes."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_modelops import profile
    from jupyter_modelops.serving.modeldir import write_model_dir

    X, y = reference
    model = LogisticRegression().fit(X, y)
    d = write_model_dir(model, tmp_path_factory.mktemp("models") / "lr", name="lr", version=4, feature_names=FEATURES)
    return _with_profile(d, profile(X, model=model).to_dict())


def _with_profile(d: Path, doc: dict, *, path: str = "drift-profile.json") -> Path:
    f = d / "drift-profile.json"
    f.write_text(json.dumps(doc))
    spec = json.loads((d / "modelops-model.json").read_text())
    spec["artifacts"]["drift-profile"] = {
        "path": path,
        "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
        "format": "json",
    }
    (d / "modelops-model.json").write_text(json.dumps(spec))
    return d


def _gauges(server) -> dict[str, float]:
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("modelops_") and "drift" in line:
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def _wait_for_alarm(server, timeout: float = 120.0) -> dict[str, float]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        g = _gauges(server)
        if any(k.startswith("modelops_drift_threshold") for k in g):
            return g
        time.sleep(0.2)
    raise AssertionError("the drift alarm was not calibrated in time")


def _send(server, X: np.ndarray, *, rows_per_request: int = 8) -> None:
    import tritonclient.http as th

    client = th.InferenceServerClient(server.url.replace("http://", ""), connection_timeout=30, network_timeout=30)
    try:
        for start in range(0, len(X), rows_per_request):
            part = np.ascontiguousarray(X[start : start + rows_per_request])
            inp = th.InferInput("input", list(part.shape), "FP64")
            inp.set_data_from_numpy(part, binary_data=True)
            res = client.infer("lr", [inp])
            assert res.as_numpy("probabilities").shape == (len(part), 2)
    finally:
        client.close()


def _labels(name: str, feature: str | None = None) -> str:
    lab = 'model="lr",version="4"'
    return f'{name}{{{lab},feature="{feature}"}}' if feature else f"{name}{{{lab}}}"


def test_gauges_stay_put_on_stable_traffic_and_move_when_it_drifts(profiled_dir, reference, start_server):
    X, _ = reference
    rng = np.random.default_rng(7)
    server = start_server(profiled_dir, "--live-drift-rows", str(ROWS))
    g = _wait_for_alarm(server)
    assert g[_labels("modelops_drift_window_rows")] == 0
    assert g[_labels("modelops_drift_alarm")] == 0
    threshold = g[_labels("modelops_drift_threshold")]
    assert threshold > 0

    # stable: rows drawn from the reference distribution (a fresh sample of it, 3 windows)
    stable = X.to_numpy()[rng.choice(len(X), 3 * ROWS, replace=False)]
    _send(server, stable)
    g = _gauges(server)
    assert ROWS <= g[_labels("modelops_drift_window_rows")] <= ROWS + ROWS // 8 + 8  # whole chunks of rows
    for f in FEATURES:
        assert g[_labels("modelops_feature_drift_psi", f)] < 0.1, (f, g)
        assert g[_labels("modelops_feature_drift_js", f)] < 0.15, (f, g)
    assert g[_labels("modelops_prediction_drift_psi")] < 0.1
    assert g[_labels("modelops_drift_alarm")] == 0
    assert g[_labels("modelops_drift_statistic")] < threshold
    assert g[_labels("modelops_drift_seconds_since_reset")] > 0

    # drifted: f0 moves by 1.5 standard deviations, the others stay
    drifted = X.to_numpy()[rng.choice(len(X), 3 * ROWS, replace=False)].copy()
    drifted[:, 0] += 1.5 * X["f0"].std()
    _send(server, drifted)
    g2 = _gauges(server)
    assert g2[_labels("modelops_feature_drift_psi", "f0")] > 0.5
    assert g2[_labels("modelops_feature_drift_js", "f0")] > 0.2
    for f in FEATURES[1:]:
        assert g2[_labels("modelops_feature_drift_psi", f)] < 0.1, (f, g2)
    assert g2[_labels("modelops_drift_alarm")] == 1
    assert g2[_labels("modelops_drift_statistic")] >= threshold
    assert ROWS <= g2[_labels("modelops_drift_window_rows")] <= ROWS + ROWS // 8 + 8


def test_the_window_slides_by_time(profiled_dir, reference, start_server):
    X, _ = reference
    server = start_server(profiled_dir, "--live-drift-rows", str(ROWS), "--live-drift-seconds", "1.5")
    _send(server, X.to_numpy()[:80])
    assert _gauges(server)[_labels("modelops_drift_window_rows")] == 80
    time.sleep(2.0)
    assert _gauges(server)[_labels("modelops_drift_window_rows")] == 0


def test_off_by_setting_and_absent_without_profile(profiled_dir, reference, start_server, tmp_path):
    X, _ = reference
    for server in (
        start_server(profiled_dir, "--no-live-drift"),
        start_server(profiled_dir, env={"MODELOPS_SERVING_LIVE_DRIFT": "0"}),
    ):
        _send(server, X.to_numpy()[:40])
        assert _gauges(server) == {}
    plain = tmp_path / "plain"
    shutil.copytree(profiled_dir, plain)
    spec = json.loads((plain / "modelops-model.json").read_text())
    del spec["artifacts"]["drift-profile"]
    (plain / "modelops-model.json").write_text(json.dumps(spec))
    server = start_server(plain)
    _send(server, X.to_numpy()[:40])
    assert _gauges(server) == {}


def test_a_profile_that_is_not_one_is_refused_and_the_model_still_serves(
    profiled_dir, reference, start_server, tmp_path
):
    X, _ = reference
    bad = tmp_path / "bad"
    shutil.copytree(profiled_dir, bad)
    _with_profile(bad, {"kind": "something else", "columns": []})
    server = start_server(bad)
    _send(server, X.to_numpy()[:40])
    assert _gauges(server) == {}


def test_a_profile_path_outside_the_model_directory_is_not_read(profiled_dir, tmp_path):
    from jupyter_modelops.serving.livedrift import read_profile
    from jupyter_modelops.serving.modeldir import read_model_dir

    outside = tmp_path / "elsewhere"
    shutil.copytree(profiled_dir, outside)
    spec = read_model_dir(outside)
    assert read_profile(spec) is not None
    spec.artifacts["drift-profile"] = {**spec.artifacts["drift-profile"], "path": "../lr/drift-profile.json"}
    (tmp_path / "lr").mkdir()
    shutil.copy(outside / "drift-profile.json", tmp_path / "lr" / "drift-profile.json")
    assert read_profile(spec) is None


def test_bad_live_drift_settings_stop_the_server_with_one_sentence(profiled_dir):
    import subprocess
    import sys

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_modelops.serving",
            "--model-dir",
            str(profiled_dir),
            "--port",
            "0",
            "--live-drift-rows",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "--live-drift-rows is 3" in r.stderr and "Traceback" not in r.stderr


def test_binning_all_columns_at_once_equals_a_search_per_column():
    from jupyter_modelops.serving.livedrift import _Merged

    rng = np.random.default_rng(1)
    scales = [10.0 ** int(k) for k in rng.integers(-3, 4, size=21)]
    edges = [np.sort(rng.normal(size=9)) * scales[j] for j in range(20)] + [np.array([0.5])]
    v = np.column_stack([rng.normal(size=500) * scales[j] for j in range(21)])
    v[:5] = [e[2] if e.size > 2 else e[0] for e in edges]  # values exactly on an edge
    v[7, 3], v[8, 4], v[9, 5] = np.nan, 1e300, -1e300
    got = _Merged(edges).bins(v, 99)
    want = np.column_stack([np.searchsorted(e, v[:, j], side="left") for j, e in enumerate(edges)])
    want[7, 3] = 99
    assert np.array_equal(got, want)


def test_named_scalar_inputs_categories_and_a_regressor_in_process():
    # a signature of one tensor per column (numbers and strings) and a regressor's output, fed as batches
    from jupyter_modelops import profile
    from jupyter_modelops.serving.livedrift import LiveDrift
    from jupyter_modelops.serving.modeldir import TensorSpec

    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"age": rng.normal(40, 10, 3000), "plan": rng.choice(["a", "b", "c"], 3000)})
    prof = profile(ref).to_dict()
    prof["prediction"] = profile(pd.DataFrame({"y": rng.normal(size=3000)})).to_dict()["columns"]["y"]
    inputs = [TensorSpec("age", "FP64", (-1,)), TensorSpec("plan", "BYTES", (-1,))]
    outputs = [TensorSpec("variable", "FP64", (-1, 1))]
    live = LiveDrift("m", "1", prof, inputs, outputs, rows=400, calibrate="off")
    assert [c.name for c in live.cols] == ["age", "plan"] and live.pred is not None

    def batch(n, plans, shift=0.0):
        ins = {
            "age": rng.normal(40 + shift, 10, n),
            "plan": np.array([p.encode() for p in rng.choice(plans, n)], dtype=object),
        }
        return ins, {"variable": rng.normal(size=(n, 1))}

    for _ in range(30):
        live.observe(*batch(20, ["a", "b", "c"]), 20)
    s = live.snapshot()
    assert 400 <= s["rows"] <= 450 and s["features"]["age"][0] < 0.1 and s["features"]["plan"][0] < 0.05
    assert s["prediction_psi"] < 0.1
    for _ in range(30):
        live.observe(*batch(20, ["c", "d"], shift=15.0), 20)  # 'd' was never seen: the unseen-category bin
    s = live.snapshot()
    assert s["features"]["age"][0] > 1.0 and s["features"]["plan"][0] > 1.0 and s["prediction_psi"] < 0.1
    # a request whose tensor has another shape than the signature's is skipped, not binned wrongly
    before = live.seen
    live.observe(
        {"age": np.ones((5, 2)), "plan": np.array([b"a"] * 5, dtype=object)}, {"variable": np.zeros((5, 1))}, 5
    )
    live.flush()
    assert live.seen == before
