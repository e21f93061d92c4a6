"""Conformance: the real server process, the official V2 client (tritonclient) in binary and JSON
modes, and raw HTTP; answers equal in-process predictions exactly."""

from __future__ import annotations

import gzip
import http.client
import json
from urllib.parse import urlsplit

import numpy as np
import pytest
import tritonclient.http as triton

from jupyter_modelops.serving.modeldir import read_model_dir
from jupyter_modelops.serving.runtimes import RuntimeSettings, choose_runtime


def _inprocess(model_dir, runtime, X):
    rt = choose_runtime(read_model_dir(model_dir), prefer=runtime, settings=RuntimeSettings(threads=1))
    return rt.predict({"input": X})


def _client(server):
    return triton.InferenceServerClient(urlsplit(server.url).netloc)


def _raw(server, method, path, body=None, headers=None):
    u = urlsplit(server.url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
@pytest.mark.parametrize("runtime", ["onnx", "native"])
def test_tritonclient_matches_inprocess(request, model_dir, data, hgb, binary, runtime):
    server = request.getfixturevalue("onnx_server" if runtime == "onnx" else "native_server")
    X = data[0][:7]
    client = _client(server)
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("hgb")
    inp = triton.InferInput("input", list(X.shape), "FP64")
    inp.set_data_from_numpy(X, binary_data=binary)
    outs = [
        triton.InferRequestedOutput("label", binary_data=binary),
        triton.InferRequestedOutput("probabilities", binary_data=binary),
    ]
    res = client.infer("hgb", [inp], outputs=outs)
    want = _inprocess(model_dir, runtime, X)
    label, proba = res.as_numpy("label"), res.as_numpy("probabilities")
    assert label.dtype == want["label"].dtype and proba.dtype == want["probabilities"].dtype
    np.testing.assert_array_equal(label, want["label"])
    np.testing.assert_array_equal(proba, want["probabilities"])
    # and the labels are the model's own predictions
    np.testing.assert_array_equal(label, hgb.predict(X))
    if runtime == "native":
        np.testing.assert_array_equal(proba, hgb.predict_proba(X))


def test_tritonclient_default_outputs_and_versioned_url(onnx_server, data, model_dir):
    X = data[0][:3]
    client = _client(onnx_server)
    inp = triton.InferInput("input", list(X.shape), "FP64")
    inp.set_data_from_numpy(X)  # default: binary input, outputs not named
    res = client.infer("hgb", [inp], model_version="1")
    want = _inprocess(model_dir, "onnx", X)
    np.testing.assert_array_equal(res.as_numpy("probabilities"), want["probabilities"])
    assert res.get_response()["model_version"] == "1"


def test_tritonclient_compressed_request(onnx_server, data, model_dir):
    X = data[0][:4]
    client = _client(onnx_server)
    inp = triton.InferInput("input", list(X.shape), "FP64")
    inp.set_data_from_numpy(X, binary_data=False)
    res = client.infer("hgb", [inp], request_compression_algorithm="gzip")
    np.testing.assert_array_equal(res.as_numpy("label"), _inprocess(model_dir, "onnx", X)["label"])


def test_metadata_from_signature(onnx_server):
    client = _client(onnx_server)
    meta = client.get_model_metadata("hgb")
    assert meta["name"] == "hgb" and meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 20]}]
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert meta["platform"] == "onnxruntime_onnx"
    server = client.get_server_metadata()
    assert "binary_tensor_data" in server["extensions"]
    assert client.get_model_repository_index() == [{"name": "hgb", "version": "1", "state": "READY", "reason": ""}]
    cfg = client.get_model_config("hgb")
    assert cfg["max_batch_size"] >= 1 and cfg["input"][0]["name"] == "input"


def test_raw_http_json_without_content_type(onnx_server, data, model_dir):
    X = data[0][:2]
    body = json.dumps(
        {"id": "req-1", "inputs": [{"name": "input", "datatype": "FP64", "shape": [2, 20], "data": X.ravel().tolist()}]}
    ).encode()
    status, headers, out = _raw(onnx_server, "POST", "/v2/models/hgb/infer", body)  # no Content-Type at all
    assert status == 200, out
    doc = json.loads(out)
    assert doc["id"] == "req-1" and doc["model_name"] == "hgb"
    want = _inprocess(model_dir, "onnx", X)
    by_name = {o["name"]: o for o in doc["outputs"]}
    assert by_name["label"]["data"] == want["label"].tolist()
    assert np.array_equal(
        np.array(by_name["probabilities"]["data"], dtype=np.float32).reshape(2, 2), want["probabilities"]
    )


def test_raw_http_nested_data_int_values_and_one_row_shape(onnx_server, model_dir):
    rows = [[1, 0, 2, 0, 1, 0, 0, 3, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 1]]
    body = json.dumps({"inputs": [{"name": "input", "datatype": "INT64", "shape": [1, 20], "data": rows}]})
    status, _, out = _raw(onnx_server, "POST", "/v2/models/hgb/infer", body)
    assert status == 200, out
    want = _inprocess(model_dir, "onnx", np.array(rows, dtype=np.float64))
    assert json.loads(out)["outputs"][0]["data"] == want["label"].tolist()


def test_raw_http_binary_request_and_binary_output(onnx_server, data, model_dir):
    X = np.ascontiguousarray(data[0][:3])
    raw = X.tobytes()
    head = json.dumps(
        {
            "inputs": [
                {"name": "input", "datatype": "FP64", "shape": [3, 20], "parameters": {"binary_data_size": len(raw)}}
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    ).encode()
    status, headers, out = _raw(
        onnx_server, "POST", "/v2/models/hgb/infer", head + raw, {"Inference-Header-Content-Length": str(len(head))}
    )
    assert status == 200, out
    n = int(headers["inference-header-content-length"])
    doc = json.loads(out[:n])
    (o,) = doc["outputs"]
    assert o["name"] == "probabilities" and o["parameters"]["binary_data_size"] == 3 * 2 * 4
    got = np.frombuffer(out[n:], dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(got, _inprocess(model_dir, "onnx", X)["probabilities"])


def test_health_and_metrics_endpoints(onnx_server):
    assert _raw(onnx_server, "GET", "/v2/health/live")[0] == 200
    assert _raw(onnx_server, "GET", "/v2/health/ready")[0] == 200
    assert _raw(onnx_server, "GET", "/v2/models/hgb/versions/1/ready")[0] == 200
    _raw(onnx_server, "POST", "/v2/models/hgb/infer", b"{")  # one bad request, counted
    status, headers, body = _raw(onnx_server, "GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    text = body.decode()
    for name in (
        "modelops_requests_total",
        "modelops_request_duration_seconds_bucket",
        "modelops_batch_size_bucket",
        "modelops_queue_depth",
        "modelops_errors_total",
        "modelops_shed_total",
    ):
        assert name in text, name
    assert 'modelops_errors_total{model="hgb",kind="bad_request"}' in text


def test_gzip_body_raw(onnx_server, data):
    X = data[0][:1]
    body = gzip.compress(
        json.dumps(
            {"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 20], "data": X.ravel().tolist()}]}
        ).encode()
    )
    status, _, out = _raw(onnx_server, "POST", "/v2/models/hgb/infer", body, {"Content-Encoding": "gzip"})
    assert status == 200, out
