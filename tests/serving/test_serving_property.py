"""Property test against the real server processes (onnxruntime and the native scikit-learn runtime):
whatever the request, no 5xx (no shedding is configured here, so any 5xx would be a bug), and the
server stays up."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DATATYPES = ["FP64", "FP32", "FP16", "INT64", "INT32", "INT8", "UINT8", "BOOL", "BYTES", "float", "", "STRING"]
scalars = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.text(max_size=5),
    st.none(),
)
data = st.one_of(
    st.lists(st.floats(-1e6, 1e6), min_size=20, max_size=20),
    st.lists(scalars, max_size=45),
    st.lists(st.lists(scalars, max_size=21), max_size=3),
    scalars,
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
)
shape = st.one_of(
    st.just([1, 20]),
    st.just([2, 20]),
    st.just([20]),
    st.lists(st.integers(-3, 10**9), max_size=4),
    st.text(max_size=3),
    st.none(),
)
entry = st.fixed_dictionaries(
    {"name": st.sampled_from(["input", "x", ""]), "datatype": st.sampled_from(DATATYPES), "shape": shape, "data": data},
    optional={
        "parameters": st.one_of(
            st.none(), st.fixed_dictionaries({"binary_data_size": st.one_of(st.integers(-5, 400), st.text(max_size=3))})
        )
    },
)
outputs = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["label", "probabilities", "nope", 3]),
            "parameters": st.fixed_dictionaries({"binary_data": st.booleans()}),
        }
    ),
    max_size=3,
)
document = st.one_of(
    st.fixed_dictionaries(
        {"inputs": st.lists(entry, max_size=3)},
        optional={
            "outputs": outputs,
            "id": st.one_of(st.text(max_size=8), st.integers()),
            "parameters": st.fixed_dictionaries({"binary_data_output": st.booleans()}),
        },
    ),
    st.dictionaries(st.text(max_size=6), scalars, max_size=3),
    st.lists(scalars, max_size=3),
)
bodies = st.one_of(document.map(lambda d: json.dumps(d).encode()), st.binary(max_size=200))
header_len = st.one_of(
    st.none(),
    st.integers(-10, 600),
    st.text(alphabet="0123456789 -+.xe", max_size=4),
    st.sampled_from(["\x1f", "1 2", "0x10"]),
)


special = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 3.5e38, -3.5e38, 1e-320, float("nan"), float("inf"), -float("inf")]),
)


@st.composite
def binary_tensors(draw):
    """A well-formed binary tensor request whose values may be NaN, infinite, huge or tiny; rows may be 0."""
    dtype = draw(st.sampled_from(["FP64", "FP32"]))
    rows = draw(st.integers(0, 3))
    values = draw(st.lists(special, min_size=rows * 20, max_size=rows * 20))
    with np.errstate(all="ignore"):
        raw = np.array(values, dtype=np.float64).astype(np.float32 if dtype == "FP32" else np.float64).tobytes()
    head = json.dumps(
        {
            "inputs": [
                {"name": "input", "datatype": dtype, "shape": [rows, 20], "parameters": {"binary_data_size": len(raw)}}
            ]
        }
    ).encode()
    return head + raw, len(head)


json_specials = st.lists(special, min_size=20, max_size=40).map(
    lambda v: json.dumps(
        {"inputs": [{"name": "input", "datatype": "FP64", "shape": [len(v) // 20, 20], "data": v[: len(v) // 20 * 20]}]}
    ).encode()
)


def _post(server, body, headers):
    u = urlsplit(server.url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request("POST", "/v2/models/hgb/infer", body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(body=bodies, hlen=header_len, tail=st.binary(max_size=200))
def test_no_5xx_for_any_request(onnx_server, body, hlen, tail):
    u = urlsplit(onnx_server.url)
    headers = {}
    if hlen is not None:
        headers["Inference-Header-Content-Length"] = str(hlen)
        body = body + tail
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request("POST", "/v2/models/hgb/infer", body=body, headers=headers)
        r = c.getresponse()
        payload = r.read()
    finally:
        c.close()
    assert r.status < 500, (r.status, payload, body[:300])
    if r.status != 200:
        # a message, always: ours in JSON, or the HTTP parser's own for a malformed header
        assert json.loads(payload)["error"] if payload.startswith(b"{") else payload.strip()


def test_server_survived_the_property_run(onnx_server):
    assert onnx_server.proc.poll() is None


@pytest.mark.parametrize("server_fixture", ["native_server", "onnx_server"])
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(case=st.one_of(binary_tensors(), json_specials.map(lambda b: (b, None)), bodies.map(lambda b: (b, None))))
def test_no_5xx_for_special_values_and_empty_batches(request, server_fixture, case):
    """NaN, +-Inf, 1e308, subnormals and empty batches, in binary FP64/FP32 and JSON: a 4xx, or 200
    when the model takes them (HistGradientBoosting takes NaN and infinities), never a 5xx."""
    server = request.getfixturevalue(server_fixture)
    body, hlen = case
    status, payload = _post(server, body, {} if hlen is None else {"Inference-Header-Content-Length": str(hlen)})
    assert status < 500, (status, payload[:300], body[:300])


def test_native_server_survived_and_its_breaker_stayed_closed(native_server):
    assert native_server.proc.poll() is None
    u = urlsplit(native_server.url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    assert 'modelops_circuit_open{model="hgb"} 0' in text
    assert 'kind="model"' not in text  # no request was blamed on the model
