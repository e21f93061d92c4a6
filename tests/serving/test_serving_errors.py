"""Bad requests get a 4xx with one sentence that names the input and what was expected."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest


def call(server, method, path, body=b"", headers=None):
    u = urlsplit(server.url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def infer(server, doc, **kw):
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return call(server, "POST", "/v2/models/hgb/infer", body, **kw)


def one(data=None, **over):
    entry = {"name": "input", "datatype": "FP64", "shape": [1, 20], "data": data if data is not None else [0.5] * 20}
    entry.update(over)
    return {"inputs": [entry]}


CASES = [
    ("malformed json", b'{"inputs": [', 400, "not valid JSON"),
    ("not an object", b"[1, 2]", 400, "JSON object"),
    ("no inputs", {"outputs": []}, 400, "no 'inputs'"),
    ("wrong shape", one(shape=[1, 19], data=[0.5] * 19), 400, "expects [-1, 20]"),
    ("count mismatch", one(shape=[2, 20]), 400, "shape needs 40"),
    ("negative dim", one(shape=[-1, 20]), 400, "non-negative integers"),
    ("wrong datatype", one(datatype="BYTES", data=["a"] * 20), 400, "model expects FP64"),
    ("unknown datatype", one(datatype="FLOAT"), 400, "datatype 'FLOAT'"),
    ("strings in FP64 data", one(data=["x"] * 20), 400, "holds strings"),
    ("floats for INT64", one(datatype="INT64", data=[0.5] * 20), 400, "floating-point"),
    ("ragged data", one(data=[[0.5] * 19, [0.5]]), 400, "regular array"),
    ("null values", one(data=[None] * 20), 400, "non-numeric"),
    ("data not a list", one(data="abc"), 400, "must be a list"),
    ("no data", {"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 20]}]}, 400, "has no 'data'"),
    ("unknown output", {**one(), "outputs": [{"name": "proba"}]}, 400, "outputs are 'label', 'probabilities'"),
    ("binary size without header", one(parameters={"binary_data_size": 160}), 400, "Inference-Header-Content-Length"),
]


@pytest.mark.parametrize("label,doc,status,needle", CASES, ids=[c[0] for c in CASES])
def test_bad_request_is_4xx_with_message(onnx_server, label, doc, status, needle):
    got, headers, body = infer(onnx_server, doc)
    assert got == status, body
    msg = json.loads(body)["error"]
    assert needle in msg, msg
    assert headers["content-type"] == "application/json"


def test_two_inputs_on_a_one_input_model(onnx_server):
    doc = one()
    doc["inputs"].append({"name": "other", "datatype": "FP64", "shape": [1], "data": [1.0]})
    status, _, body = infer(onnx_server, doc)
    assert status == 400 and "model's inputs are 'input'" in json.loads(body)["error"]


def test_unknown_model_and_version_get_404_with_suggestion(onnx_server):
    status, _, body = call(onnx_server, "POST", "/v2/models/hbg/infer", b"{}")
    assert status == 404 and "Did you mean: hgb" in json.loads(body)["error"]
    status, _, body = call(onnx_server, "GET", "/v2/models/hgb/versions/7")
    assert status == 404 and "no version '7'" in json.loads(body)["error"]
    status, _, body = call(onnx_server, "GET", "/nope")
    assert status == 404 and "/v2/health/live" in json.loads(body)["error"]


def test_wrong_method_is_405(onnx_server):
    status, headers, _ = call(onnx_server, "GET", "/v2/models/hgb/infer")
    assert status == 405 and headers["allow"] == "POST"


def test_binary_header_larger_than_body(onnx_server):
    status, _, body = infer(onnx_server, b'{"inputs": []}', headers={"Inference-Header-Content-Length": "999"})
    assert status == 400 and "Inference-Header-Content-Length is 999" in json.loads(body)["error"]


def test_binary_size_not_matching_shape(onnx_server):
    raw = b"\0" * 80
    head = json.dumps(one(parameters={"binary_data_size": 80})).encode()
    doc = json.loads(head)
    del doc["inputs"][0]["data"]
    head = json.dumps(doc).encode()
    status, _, body = infer(onnx_server, head + raw, headers={"Inference-Header-Content-Length": str(len(head))})
    assert status == 400 and "needs 160" in json.loads(body)["error"]


def test_payload_limit_is_413(start_server, model_dir):
    server = start_server(model_dir, "--max-body-bytes", "2000")
    status, _, body = infer(server, one(shape=[20, 20], data=[0.25] * 400))
    assert status == 413 and "at most 2000" in json.loads(body)["error"]
    # a small request still works afterwards
    assert infer(server, one())[0] == 200


def test_corrupt_gzip_is_400(onnx_server):
    status, _, body = infer(onnx_server, b"not gzip", headers={"Content-Encoding": "gzip"})
    assert status == 400 and "corrupt" in json.loads(body)["error"]
