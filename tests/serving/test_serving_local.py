"""Local deployments: serve a registry version, query it with the V2 client, replace it with a new
version while requests keep coming (none may fail), stop it."""

from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import urlsplit

import numpy as np
import pytest

from jupyter_modelops.exceptions import DeployError, ModelNotFoundError, ValidationError


@pytest.fixture(scope="module")
def table():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    d = load_breast_cancer(as_frame=True)
    return train_test_split(d.data, d.target, test_size=0.3, random_state=0)


def _fit(table, C):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, _, y_train, _ = table
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000)).fit(X_train, y_train)


def test_serve_predict_replace_without_dropping_requests_and_stop(table):
    import jupyter_modelops as jm

    X_test = table[1]
    m1, m2 = _fit(table, 1.0), _fit(table, 0.01)
    jm.snapshot(m1, "bc", data=table[0])  # v1 is served by the native runtime (skops)
    jm.snapshot(m2, "bc", data=table[0])
    from skl2onnx import to_onnx  # v2 also has an ONNX export: the server prefers onnxruntime
    from skl2onnx.common.data_types import DoubleTensorType

    onx = to_onnx(
        m2,
        initial_types=[("input", DoubleTensorType([None, 30]))],
        options={id(m2): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    jm.attach_artifact("bc:2", "onnx", onx.SerializeToString())
    dep = jm.serve("bc:1")
    try:
        assert dep.status()["ready"] and dep.url.startswith("http://127.0.0.1:")
        pred = jm.predict(dep, X_test.iloc[:25])
        np.testing.assert_array_equal(pred["predict"], m1.predict(X_test.iloc[:25]))
        np.testing.assert_array_equal(pred["predict_proba"], m1.predict_proba(X_test.iloc[:25]))
        # columns in another order are put back in the model's order
        shuffled = X_test.iloc[:5, ::-1]
        np.testing.assert_array_equal(jm.predict(dep, shuffled)["predict_proba"], m1.predict_proba(X_test.iloc[:5]))
        assert jm.get("bc:1").ref in [r["ref"] for r in jm.records(kind="deployment")] or jm.records(
            "bc:1", "deployment"
        )

        u = urlsplit(dep.url)
        row = X_test.iloc[:1].to_numpy()
        body = json.dumps(
            {"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 30], "data": row.ravel().tolist()}]}
        ).encode()
        seen, failures, stop_flag = [], [], threading.Event()

        def hammer():
            while not stop_flag.is_set():
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                try:
                    c.request("POST", "/v2/models/bc/infer", body)
                    r = c.getresponse()
                    out = r.read()
                    if r.status != 200:
                        failures.append((r.status, out[:200]))
                    else:
                        seen.append(json.loads(out)["model_version"])
                except Exception as exc:  # noqa: BLE001 - a refused or reset connection is a failure
                    failures.append(repr(exc))
                finally:
                    c.close()

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        dep2 = jm.serve("bc:2")
        time.sleep(0.5)
        stop_flag.set()
        for t in threads:
            t.join(30)
        assert failures == []
        assert seen[0] == "1" and seen[-1] == "2" and set(seen) == {"1", "2"}
        assert dep2.url == dep.url and dep2.status()["version"] == "2"
        got = jm.predict(dep2, X_test)
        np.testing.assert_array_equal(got["predict"], m2.predict(X_test))
        np.testing.assert_allclose(got["predict_proba"], m2.predict_proba(X_test), atol=1e-9)
        assert [d.name for d in jm.serving.deployments()] == ["bc"]
    finally:
        final = dep.stop()
    assert final["running"] is False and final["status"] == "stopped"
    with pytest.raises(DeployError, match="Could not reach"):
        jm.predict(dep, X_test.iloc[:1])


def test_bad_arguments_get_one_sentence(table, model_dir):
    import jupyter_modelops as jm
    from jupyter_modelops.serving.local import get_deployment

    with pytest.raises(ValidationError, match="workers must be a positive integer"):
        jm.serve(model_dir, workers=0)
    with pytest.raises(ValidationError, match="port must be an integer"):
        jm.serve(model_dir, port=70000)
    with pytest.raises(ValidationError, match="ref must be a model reference"):
        jm.serve(3.5)
    with pytest.raises(ModelNotFoundError):
        jm.serve("no-such-model:1")
    with pytest.raises(ModelNotFoundError, match="no local deployment named 'hbg'"):
        get_deployment("hbg")
    with pytest.raises(ValidationError, match="Name the deployment"):
        jm.stop()
    with pytest.raises(ValidationError, match="not an http:// or https:// URL"):
        jm.predict("ftp://127.0.0.1:1", np.zeros((1, 20)))


def test_model_that_cannot_load_fails_the_deployment(tmp_path):
    from slowmodel import SlowModel

    import jupyter_modelops as jm
    from conftest import write_pickle_dir

    d = write_pickle_dir(tmp_path / "broken", SlowModel())
    (d / "model.pkl").write_bytes(b"not a pickle")
    spec = json.loads((d / "modelops-model.json").read_text())
    spec["artifacts"]["model"]["sha256"] = ""
    (d / "modelops-model.json").write_text(json.dumps(spec))
    with pytest.raises(DeployError, match="could not start|stopped while starting"):
        jm.serve(d, timeout=60)
    assert jm.serving.deployments()[0].status()["running"] is False


def test_dead_worker_is_replaced_and_a_restart_keeps_the_url(model_dir):
    import os
    import signal

    import jupyter_modelops as jm

    dep = jm.serve(model_dir, name="crashy")
    try:
        url, (worker,) = dep.url, dep.status()["worker_pids"]
        os.kill(worker, signal.SIGKILL)
        end = time.monotonic() + 60
        while time.monotonic() < end:
            st = dep.status()
            if st["ready"] and st["worker_pids"] and st["worker_pids"] != [worker]:
                break
            time.sleep(0.1)
        assert st["ready"] and st["worker_pids"] != [worker] and dep.state["restarts"] == 1
        assert jm.predict(dep, np.zeros((1, 20)))["label"].shape == (1,)
    finally:
        dep.stop()
    again = jm.serve(model_dir, name="crashy")
    try:
        assert again.url == url
    finally:
        again.stop()
