"""Datatypes on the wire: the declared signature is what every runtime answers (checked with tritonclient),
and rows with missing values (NaN) reach a model that takes them, end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_serving_errors import call

from conftest import N_FEATURES, Server
from jupyter_modelops.serving.errors import InvalidInput


@pytest.fixture(scope="module")
def frame(data):
    X, y = data
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(N_FEATURES)]), y


def _with_nan(X: pd.DataFrame) -> pd.DataFrame:
    X = X.iloc[:12].copy()
    X.iloc[0, 0] = np.nan
    X.iloc[3, 4:9] = np.nan
    X.iloc[7, :] = np.nan
    X.iloc[9, 2] = np.inf
    return X


def test_onnx_and_native_answer_the_signature_datatypes(frame, tmp_path):
    import tritonclient.http as httpclient
    from sklearn.ensemble import HistGradientBoostingClassifier

    import jupyter_modelops as mo

    X, y = frame
    hgb = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(X, y)
    mo.snapshot(hgb, "dt", data=X)
    mo.export("dt:1", "onnx")
    declared = {o["name"]: o["datatype"] for o in mo.get("dt:1").signature["outputs"]}
    assert declared["predict_proba"] == "FP64"
    d = mo.materialize("dt:1", tmp_path / "dt")
    rows = X.to_numpy()[:6]
    for runtime in ("onnx", "native"):
        s = Server(d, "--runtime", runtime)
        try:
            client = httpclient.InferenceServerClient(s.url.split("//")[1])
            meta = client.get_model_metadata("dt")
            assert {o["name"]: o["datatype"] for o in meta["outputs"]} == declared, runtime
            for binary in (True, False):
                inp = httpclient.InferInput(meta["inputs"][0]["name"], list(rows.shape), "FP64")
                inp.set_data_from_numpy(rows, binary_data=binary)
                res = client.infer("dt", [inp])
                for o in res.get_response()["outputs"]:
                    assert o["datatype"] == declared[o["name"]], (runtime, binary, o)
                proba = res.as_numpy("predict_proba")
                assert proba.dtype == np.float64
                np.testing.assert_allclose(proba, hgb.predict_proba(X.iloc[:6]), atol=1e-5)
                assert res.as_numpy("predict").tolist() == hgb.predict(X.iloc[:6]).tolist()
            client.close()
        finally:
            s.stop()


def test_rows_with_missing_values_end_to_end(frame):
    from sklearn.ensemble import HistGradientBoostingClassifier

    import jupyter_modelops as mo

    X, y = frame
    hgb = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(X, y)
    mo.snapshot(hgb, "nan", data=X)
    rows = _with_nan(X)
    want = hgb.predict(rows)
    dep = mo.serve("nan:1")
    try:
        for binary in (False, True):  # the client sends NaN rows as binary tensors either way
            pred = mo.predict(dep, rows, binary=binary)
            assert pred["predict"].tolist() == want.tolist()
            np.testing.assert_allclose(pred["predict_proba"], hgb.predict_proba(rows), atol=1e-9)
        # a client writing NaN/Infinity tokens in JSON is understood too
        doc = {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "FP64",
                    "shape": list(rows.shape),
                    "data": rows.to_numpy().ravel().tolist(),
                }
            ]
        }
        body = json.dumps(doc).encode()
        assert b"NaN" in body and b"Infinity" in body

        class _S:
            url = dep.url

        status, _, out = call(_S, "POST", f"/v2/models/{dep.model}/infer", body)
        assert status == 200, out
        outs = {o["name"]: o for o in json.loads(out)["outputs"]}
        assert outs["predict"]["data"] == want.tolist()
        bad = json.dumps(
            {
                "inputs": [
                    {
                        "name": "input",
                        "datatype": "INT64",
                        "shape": [1, N_FEATURES],
                        "data": [float("nan")] * N_FEATURES,
                    }
                ]
            }
        ).encode()
        status, _, out = call(_S, "POST", f"/v2/models/{dep.model}/infer", bad)
        assert status == 400 and "INT64" in json.loads(out)["error"]
    finally:
        dep.stop()


def test_json_nan_tokens_only_in_floating_inputs():
    from jupyter_modelops.serving.codec import decode_request
    from jupyter_modelops.serving.modeldir import TensorSpec

    specs = [TensorSpec("x", "FP32", (-1, 2)), TensorSpec("n", "INT64", (-1,))]
    body = (
        b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [NaN, -Infinity]},'
        b' {"name": "n", "datatype": "INT64", "shape": [1], "data": [3]}]}'
    )
    req = decode_request(body, None, specs, ["y"])
    assert np.isnan(req.inputs["x"][0, 0]) and req.inputs["x"][0, 1] == -np.inf and req.inputs["x"].dtype == np.float32
    for bad in (
        b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]},'
        b' {"name": "n", "datatype": "INT64", "shape": [1], "data": [NaN]}]}',
        b'{"inputs": [{"name": "x", "datatype": "BOOL", "shape": [1, 2], "data": [NaN, true]}]}',
        b'{"inputs": NaNa}',
        b"[" * 100_000 + b"NaN" + b"]" * 100_000,
    ):
        with pytest.raises(InvalidInput):
            decode_request(bad, None, specs, ["y"])
