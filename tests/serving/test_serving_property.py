"""Property test against the real server process: whatever the request, no 5xx (no shedding is
configured here, so any 5xx would be a bug), and the server stays up."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DATATYPES = ["FP64", "FP32", "FP16", "INT64", "INT32", "INT8", "UINT8", "BOOL", "BYTES", "float", "", "STRING"]
scalars = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-2**70, 2**70), st.booleans(),
                    st.text(max_size=5), st.none())
data = st.one_of(
    st.lists(st.floats(-1e6, 1e6), min_size=20, max_size=20),
    st.lists(scalars, max_size=45),
    st.lists(st.lists(scalars, max_size=21), max_size=3),
    scalars,
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
)
shape = st.one_of(st.just([1, 20]), st.just([2, 20]), st.just([20]),
                  st.lists(st.integers(-3, 10**9), max_size=4), st.text(max_size=3), st.none())
entry = st.fixed_dictionaries(
    {"name": st.sampled_from(["input", "x", ""]), "datatype": st.sampled_from(DATATYPES), "shape": shape,
     "data": data},
    optional={"parameters": st.one_of(st.none(), st.fixed_dictionaries(
        {"binary_data_size": st.one_of(st.integers(-5, 400), st.text(max_size=3))}))},
)
outputs = st.lists(st.fixed_dictionaries({"name": st.sampled_from(["label", "probabilities", "nope", 3]),
                                          "parameters": st.fixed_dictionaries({"binary_data": st.booleans()})}),
                   max_size=3)
document = st.one_of(
    st.fixed_dictionaries({"inputs": st.lists(entry, max_size=3)},
                          optional={"outputs": outputs, "id": st.one_of(st.text(max_size=8), st.integers()),
                                    "parameters": st.fixed_dictionaries({"binary_data_output": st.booleans()})}),
    st.dictionaries(st.text(max_size=6), scalars, max_size=3),
    st.lists(scalars, max_size=3),
)
bodies = st.one_of(document.map(lambda d: json.dumps(d).encode()), st.binary(max_size=200))
header_len = st.one_of(st.none(), st.integers(-10, 600), st.text(alphabet="0123456789 -+.xe", max_size=4),
                       st.sampled_from(["\x1f", "1 2", "0x10"]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
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
