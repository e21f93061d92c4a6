"""Governance on a real server process: batching, shedding, rate limits, timeouts, the circuit
breaker, a model that raises, access logs and graceful shutdown."""

from __future__ import annotations

import json
import re
import signal
import threading
import time

import numpy as np
from slowmodel import SlowModel
from test_serving_errors import call

from conftest import write_pickle_dir


def body(rows):
    rows = np.asarray(rows, dtype=float)
    return json.dumps(
        {"inputs": [{"name": "input", "datatype": "FP64", "shape": list(rows.shape), "data": rows.ravel().tolist()}]}
    ).encode()


def post(server, rows, **kw):
    return call(server, "POST", "/v2/models/slow/infer", body(rows), **kw)


def parallel(fn, args_list):
    results = [None] * len(args_list)

    def run(i, a):
        results[i] = fn(*a)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
        time.sleep(0.01)
    for t in threads:
        t.join(30)
    return results


def metric(server, name, labels=""):
    text = call(server, "GET", "/metrics")[2].decode()
    pat = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" ([0-9.e+-]+)"
    m = re.search(pat, text)
    return float(m.group(1)) if m else 0.0


def test_concurrent_requests_are_batched_and_split_back_exactly(start_server, tmp_path):
    server = start_server(write_pickle_dir(tmp_path / "slow", SlowModel(delay=0.3)), "--max-batch-size", "16")
    rows = [np.full((1, 4), i / 10.0) for i in range(6)] + [np.full((2, 4), -0.3)]
    results = parallel(lambda r: post(server, r), [(r,) for r in rows])
    for r, (status, _, out) in zip(rows, results):
        assert status == 200, out
        by = {o["name"]: o for o in json.loads(out)["outputs"]}
        want = SlowModel().predict_proba(r)
        assert by["probabilities"]["shape"] == [len(r), 2]
        assert np.array_equal(np.array(by["probabilities"]["data"]).reshape(-1, 2), want)
        assert by["label"]["data"] == SlowModel().predict(r).tolist()
    calls = metric(server, "modelops_batch_size_count", 'model="slow"')
    rows_total = metric(server, "modelops_batch_size_sum", 'model="slow"')
    assert rows_total == 8 and calls < 7  # fewer runtime calls than requests: they were merged


def test_full_queue_sheds_with_503_and_retry_after(start_server, tmp_path):
    server = start_server(
        write_pickle_dir(tmp_path / "slow", SlowModel(delay=0.4)), "--max-batch-size", "1", "--max-queue", "1"
    )
    results = parallel(lambda: post(server, np.zeros((1, 4))), [()] * 6)
    statuses = [r[0] for r in results]
    assert 200 in statuses and 503 in statuses, statuses
    shed = next(r for r in results if r[0] == 503)
    assert shed[1]["retry-after"] == "1" and "overloaded" in json.loads(shed[2])["error"]
    assert metric(server, "modelops_shed_total", 'reason="queue_full"') == statuses.count(503)


def test_rate_limit_per_client_is_429(start_server, tmp_path):
    server = start_server(write_pickle_dir(tmp_path / "slow", SlowModel()), "--rate-limit", "1", "--rate-burst", "2")
    statuses = [post(server, np.zeros((1, 4)), headers={"X-Client-Id": "alice"})[0] for _ in range(4)]
    assert statuses[:2] == [200, 200] and statuses[2:] == [429, 429]
    status, headers, out = post(server, np.zeros((1, 4)), headers={"X-Client-Id": "alice"})
    assert status == 429 and int(headers["retry-after"]) >= 1 and "alice" in json.loads(out)["error"]
    assert post(server, np.zeros((1, 4)), headers={"X-Client-Id": "bob"})[0] == 200  # another client


def test_request_waiting_too_long_gets_504(start_server, tmp_path):
    server = start_server(
        write_pickle_dir(tmp_path / "slow", SlowModel(delay=0.5)), "--max-batch-size", "1", "--timeout-ms", "200"
    )
    statuses = sorted(r[0] for r in parallel(lambda: post(server, np.zeros((1, 4))), [()] * 3))
    assert statuses[0] == 200 and 504 in statuses, statuses


def test_model_that_raises_opens_the_breaker_then_recovers(start_server, tmp_path):
    server = start_server(
        write_pickle_dir(tmp_path / "slow", SlowModel()),
        env={"MODELOPS_SERVING_BREAKER_THRESHOLD": "2", "MODELOPS_SERVING_BREAKER_COOLDOWN_S": "1"},
    )
    bad = np.full((1, 4), -999.0)
    for _ in range(2):
        status, _, out = post(server, bad)
        assert status == 500 and "deliberate failure" in json.loads(out)["error"]
    status, headers, out = post(server, np.zeros((1, 4)))  # even a good request: fast 503 while open
    assert status == 503 and "circuit breaker is open" in json.loads(out)["error"] and "retry-after" in headers
    assert metric(server, "modelops_circuit_open", 'model="slow"') == 1
    assert call(server, "GET", "/v2/health/live")[0] == 200  # the process is fine
    time.sleep(1.1)
    assert post(server, np.zeros((1, 4)))[0] == 200  # half-open probe succeeds, breaker closes
    assert post(server, np.ones((1, 4)))[0] == 200
    assert metric(server, "modelops_circuit_open", 'model="slow"') == 0


def test_one_failing_request_in_a_batch_fails_alone(start_server, tmp_path):
    server = start_server(write_pickle_dir(tmp_path / "slow", SlowModel(delay=0.3)))
    rows = [np.zeros((1, 4)), np.zeros((1, 4)), np.full((1, 4), -999.0), np.ones((1, 4))]
    statuses = [r[0] for r in parallel(lambda r: post(server, r), [(r,) for r in rows])]
    assert statuses == [200, 200, 500, 200]


def test_access_log_is_json_lines(start_server, tmp_path):
    server = start_server(write_pickle_dir(tmp_path / "slow", SlowModel()), "--access-log")
    assert post(server, np.zeros((1, 4)))[0] == 200
    assert server.stop() == 0
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    hit = [x for x in lines if x["path"] == "/v2/models/slow/infer"]
    assert hit and hit[0]["status"] == 200 and hit[0]["model"] == "slow" and hit[0]["ms"] >= 0


def test_sigterm_drains_in_flight_requests(start_server, tmp_path):
    server = start_server(write_pickle_dir(tmp_path / "slow", SlowModel(delay=1.0)))
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", post(server, np.ones((1, 4)))))
    t.start()
    time.sleep(0.3)  # the request is now inside the model
    server.proc.send_signal(signal.SIGTERM)
    t.join(20)
    assert out["r"][0] == 200
    assert server.proc.wait(20) == 0


def test_unloadable_model_exits_with_code_3(start_server, tmp_path):
    d = write_pickle_dir(tmp_path / "broken", SlowModel())
    (d / "model.pkl").write_bytes(b"not a pickle")
    spec = json.loads((d / "modelops-model.json").read_text())
    spec["artifacts"]["model"]["sha256"] = ""  # skip the checksum: the file itself is bad
    (d / "modelops-model.json").write_text(json.dumps(spec))
    server = start_server(d, wait_ready=False)
    assert server.proc.wait(60) == 3
    assert "could not load the model" in server.output()


def test_client_errors_do_not_open_the_breaker_for_other_clients(start_server, tmp_path, data):
    """Four attack loops send what a LogisticRegression cannot take (NaN, infinities, empty batches,
    1e308): each gets a 4xx or 200, never a 5xx, the breaker stays closed, and a victim client gets
    every one of its answers."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_modelops.serving.modeldir import write_model_dir

    X, y = data
    lr = LogisticRegression(max_iter=500).fit(X, y)
    d = write_model_dir(lr, tmp_path / "lr", name="lr", version=1, onnx=False, native_format="joblib")
    server = start_server(
        d,
        "--runtime",
        "native",
        env={"MODELOPS_SERVING_BREAKER_THRESHOLD": "2", "MODELOPS_SERVING_BREAKER_COOLDOWN_S": "5"},
    )

    def doc(rows, data):
        return json.dumps(
            {"inputs": [{"name": "input", "datatype": "FP64", "shape": [rows, X.shape[1]], "data": data}]}
        ).encode()

    def binary(arr):
        arr = np.ascontiguousarray(arr, dtype=np.float64)
        head = json.dumps(
            {
                "inputs": [
                    {
                        "name": "input",
                        "datatype": "FP64",
                        "shape": list(arr.shape),
                        "parameters": {"binary_data_size": arr.nbytes},
                    }
                ]
            }
        ).encode()
        return head + arr.tobytes(), {"Inference-Header-Content-Length": str(len(head))}

    attacks = [
        binary(np.full((1, 20), np.nan)),
        binary(np.full((1, 20), np.inf)),
        binary(np.full((2, 20), -np.inf)),
        (doc(0, []), {}),
        (doc(1, [1e308] * 20), {}),
        (doc(1, [float("nan")] * 20), {}),
    ]
    stop = threading.Event()
    seen: list[int] = []

    def attack(k):
        i = k
        while not stop.is_set():
            b, h = attacks[i % len(attacks)]
            seen.append(call(server, "POST", "/v2/models/lr/infer", b, headers=h)[0])
            i += 1

    loops = [threading.Thread(target=attack, args=(k,)) for k in range(4)]
    for t in loops:
        t.start()
    victim = []
    try:
        for i in range(40):
            status, _, out = call(server, "POST", "/v2/models/lr/infer", doc(1, X[i].tolist()))
            victim.append(status)
            if status == 200:
                assert json.loads(out)["outputs"][0]["data"] == lr.predict(X[i : i + 1]).tolist()
    finally:
        stop.set()
        for t in loops:
            t.join(30)
    assert victim == [200] * 40
    assert len(seen) >= 24 and all(s < 500 for s in seen), sorted(set(seen))
    assert 400 in seen
    status, _, out = call(
        server,
        "POST",
        "/v2/models/lr/infer",
        binary(np.full((1, 20), np.nan))[0],
        headers=binary(np.full((1, 20), np.nan))[1],
    )
    assert status == 400 and "NaN or infinite" in json.loads(out)["error"]
    assert metric(server, "modelops_circuit_open", 'model="lr"') == 0
    assert metric(server, "modelops_errors_total", 'model="lr",kind="bad_request"') >= 1
    assert metric(server, "modelops_errors_total", 'model="lr",kind="model"') == 0


def test_metrics_render_before_the_app_reports_queues_and_breakers():
    from jupyter_modelops.serving.governance import Metrics

    m = Metrics()  # the app sets queue_depth and breaker_state only once its models are loaded
    m.request("m", "infer", 200, 0.002)
    text = m.render().decode()
    assert 'modelops_requests_total{model="m",endpoint="infer",code="200"} 1' in text
    assert "# TYPE modelops_queue_depth gauge" in text and "modelops_queue_depth{" not in text
