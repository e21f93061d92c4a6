"""Capture in a real model server process, driven by a real V2 client (tritonclient)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from .conftest import FEATURES, infer

FAST_ROLL = {"MODELOPS_SERVING_CAPTURE_ROLL_SECONDS": "0.3"}


def _client(server):
    import tritonclient.http as th

    return th.InferenceServerClient(server.url.replace("http://", ""), connection_timeout=30, network_timeout=30)


def _partial_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name.startswith(".")]


def _post(url: str, doc) -> tuple[int, dict]:
    req = urllib.request.Request(
        url, data=json.dumps(doc).encode() if not isinstance(doc, bytes) else doc, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_captured_rows_equal_what_was_sent_and_returned(model_dir, data, start_server, tmp_path):
    import pyarrow.parquet as pq

    from jupyter_modelops import captures

    store = tmp_path / "captures"
    server = start_server(model_dir, "--capture", str(store), env=FAST_ROLL)
    X, _ = data
    local = threading.local()
    n_requests = 2000

    def one(i: int):
        if not hasattr(local, "client"):
            local.client = _client(server)
        rows = 1 + i % 3
        start = (i * 7) % (len(X) - rows)
        x = X[start : start + rows]
        sent_id = f"client-{i}" if i % 4 == 0 else ""
        rid, label, proba = infer(local.client, x, binary=i % 2 == 0, request_id=sent_id)
        return sent_id, rid, x, label, proba

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, range(n_requests)))
    assert server.stop() == 0
    for sent_id, rid, *_ in results:  # the client's id comes back; else a generated one
        assert rid == sent_id if sent_id else (len(rid) == 32 and int(rid, 16) >= 0)
    assert len({r[1] for r in results}) == n_requests
    assert not _partial_files(store)

    df = captures("lr:2", store=str(store), since=None)
    total = sum(len(r[2]) for r in results)
    assert len(df) == total
    expected = pd.DataFrame(
        {
            "request_id": np.repeat([r[1] for r in results], [len(r[2]) for r in results]),
            "row": np.concatenate([np.arange(len(r[2])) for r in results]).astype("int32"),
        }
    )
    features = np.concatenate([r[2] for r in results])
    labels = np.concatenate([r[3] for r in results])
    probas = np.concatenate([r[4] for r in results])
    got = expected.merge(df, on=["request_id", "row"], how="left", validate="one_to_one")
    np.testing.assert_array_equal(got[FEATURES].to_numpy(), features)
    np.testing.assert_array_equal(got["label"].to_numpy(), labels)
    np.testing.assert_array_equal(np.stack(got["probabilities"].to_numpy()), probas)
    assert (got["status"] == 200).all() and (got["latency_ms"] > 0).all()
    assert set(got["version"]) == {"2"} and set(got["cluster"]) == {"local"}

    files = sorted(store.rglob("*.parquet"))
    schema = pq.read_schema(files[0])
    assert str(schema.field("f0").type) == "double" and str(schema.field("label").type) == "int64"
    assert str(schema.field("probabilities").type) == "fixed_size_list<element: float>[2]"
    assert all(p.parent.name.startswith("hour=") and p.parent.parent.name == "version=2" for p in files)
    # other tools read the store directly (Hive partitions)
    assert len(pd.read_parquet(store)) == total


def test_sigterm_during_load_leaves_every_answered_request_in_a_complete_file(model_dir, data, start_server, tmp_path):
    import pyarrow.parquet as pq

    from jupyter_modelops import captures

    store = tmp_path / "captures"
    server = start_server(model_dir, "--capture", str(store))  # default roll (60 s): the drain must flush
    X, _ = data
    answered: list[str] = []
    lock = threading.Lock()

    def load(k: int) -> None:
        client = _client(server)
        i = 0
        while True:
            try:
                rid, _, _ = infer(client, X[(k * 31 + i) % len(X)][None, :], binary=bool(i % 2))
            except Exception:  # noqa: BLE001 - the server stopped
                return
            with lock:
                answered.append(rid)
            i += 1

    threads = [threading.Thread(target=load, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    end = time.monotonic() + 30
    while len(answered) < 400 and time.monotonic() < end:
        time.sleep(0.05)
    server.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(60)
    assert server.proc.wait(60) == 0
    assert len(answered) >= 400
    assert not _partial_files(store)
    for p in store.rglob("*.parquet"):  # every visible file is complete
        assert pq.read_table(p).num_rows > 0
    df = captures("lr", store=str(store), since=None)
    missing = set(answered) - set(df["request_id"])
    assert not missing, f"{len(missing)} answered requests were not captured"


def _mount_tmpfs(path: Path) -> bool:
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def test_full_disk_keeps_answering_counts_drops_and_resumes(model_dir, data, start_server, tmp_path):
    from jupyter_modelops import captures

    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt):
        pytest.skip("cannot mount a tmpfs here; test_writer_survives_enospc covers the injected ENOSPC")
    try:
        store = mnt / "captures"
        server = start_server(model_dir, "--capture", str(store), env=FAST_ROLL)
        client = _client(server)
        X, _ = data
        filler = mnt / "filler"
        with open(filler, "wb") as fh:  # fill the filesystem
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        for i in range(60):
            infer(client, X[i : i + 1], binary=True)  # raises unless the server answers 200
        end = time.monotonic() + 20
        while server.metric('modelops_capture_dropped_total{reason="write_error"}') == 0 and time.monotonic() < end:
            infer(client, X[:1], binary=True)
            time.sleep(0.1)
        assert server.metric('modelops_capture_dropped_total{reason="write_error"}') > 0
        filler.unlink()  # space returns
        written = server.metric("modelops_capture_rows_total")
        after = [infer(client, X[i : i + 1], binary=False, request_id=f"after-{i}")[0] for i in range(50)]
        end = time.monotonic() + 20
        while server.metric("modelops_capture_rows_total") < written + 50 and time.monotonic() < end:
            time.sleep(0.1)
        assert server.metric("modelops_capture_rows_total") >= written + 50
        assert server.stop() == 0
        assert not _partial_files(store)
        df = captures("lr:2", store=str(store), since=None)
        assert set(after) <= set(df["request_id"])
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_labels_from_the_server_and_the_api_join_the_right_rows(model_dir, data, start_server, tmp_path):
    from jupyter_modelops import captures, log_labels

    store = tmp_path / "captures"
    server = start_server(model_dir, "--capture", str(store))
    client = _client(server)
    X, y = data
    ids = [infer(client, X[i : i + 1], binary=i % 2 == 0)[0] for i in range(12)]
    multi = infer(client, X[20:23], binary=True, request_id="multi")[0]
    url = f"{server.url}/v2/models/lr/labels"
    status, body = _post(url, {"ids": ids[:5] + ["ghost"], "labels": [int(v) for v in y[:5]] + [1]})
    assert status == 200 and body["written"] == 6 and body["unknown"] == 1 and body["unknown_ids"] == ["ghost"]
    status, body = _post(url, {"labels": [{"id": ids[5], "label": int(y[5])}]})
    assert status == 200 and body["unknown"] == 0
    # bad bodies get one sentence and a 400
    for bad in (b"not json", {"ids": ["a"]}, {"ids": ["a", "b"], "labels": [1]}, {"ids": [1], "labels": [1]}):
        status, body = _post(url, bad)
        assert status == 400 and body["error"].endswith(".")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=10)
    assert err.value.code == 405
    assert server.stop() == 0

    r = log_labels("lr", ids[6:9], [int(v) for v in y[6:9]], store=str(store))
    assert (r.written, r.unknown) == (3, 0)
    r = log_labels("lr:2", [ids[0]], [1 - int(y[0])], store=str(store))  # a correction: the latest wins
    assert r.written == 1
    r = log_labels("lr", ["multi"] * 3, [5, 6, 7], rows=[0, 1, 2], store=str(store))
    assert r.unknown == 0

    df = captures("lr", store=str(store), since=None).set_index(["request_id", "row"])
    assert df.loc[(ids[0], 0), "y_true"] == 1 - y[0]
    for i in range(1, 9):
        assert df.loc[(ids[i], 0), "y_true"] == y[i]
    for i in range(9, 12):
        assert pd.isna(df.loc[(ids[i], 0), "y_true"])
    assert [df.loc[(multi, k), "y_true"] for k in range(3)] == [5, 6, 7]
    s = captures("lr", store=str(store), since=None, summary=True)
    assert (s.rows, s.requests, s.labelled) == (15, 13, 12)
    assert s.labelled_share == pytest.approx(12 / 15)
    assert s.to_dict()["sampling"] == [1.0]
    hourly = s.by_hour()
    assert hourly["requests"].sum() == 13 and hourly["rows"].sum() == 15 and (hourly["errors"] == 0).all()
    assert (hourly["p50_ms"] <= hourly["p99_ms"]).all()


def test_object_storage_round_trip(model_dir, data, start_server, s3_server, monkeypatch):
    import s3fs

    from jupyter_modelops import captures, log_labels

    for k, v in s3_server.items():
        monkeypatch.setenv(k, v)
    fs = s3fs.S3FileSystem()
    fs.mkdir("captures-bucket")
    url = "s3://captures-bucket/prod"
    server = start_server(model_dir, "--capture", url, "--capture-rate", "1", env={**FAST_ROLL, **s3_server})
    client = _client(server)
    X, _ = data
    sent = [infer(client, X[i : i + 2], binary=i % 2 == 0) for i in range(150)]
    assert server.stop() == 0
    assert fs.find("captures-bucket/prod", withdirs=False) and not any(
        p.rsplit("/", 1)[-1].startswith(".") for p in fs.find("captures-bucket/prod")
    )
    df = captures("lr:2", store=url, since="1h")
    assert len(df) == 300 and set(df["request_id"]) == {s[0] for s in sent}
    got = df.set_index(["request_id", "row"])
    for rid, label, proba in sent[:20]:
        assert [got.loc[(rid, k), "label"] for k in range(2)] == list(label)
        np.testing.assert_array_equal(np.stack([got.loc[(rid, k), "probabilities"] for k in range(2)]), proba)
    r = log_labels("lr", [sent[0][0]], [1], store=url)
    assert (r.written, r.unknown) == (1, 0)
    assert captures("lr", store=url, since="1h", summary=True).labelled == 1


def test_bad_capture_settings_stop_the_server_with_one_sentence(model_dir):
    for args, words in (
        (["--capture", "ftp://host/x"], "scheme 'ftp://'"),
        (["--capture", "/tmp/x", "--capture-rate", "1.5"], "--capture-rate is 1.5"),
    ):
        r = subprocess.run(
            [sys.executable, "-m", "jupyter_modelops.serving", "--model-dir", str(model_dir), "--port", "0", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr


def test_an_overlong_request_id_is_refused(model_dir, start_server, tmp_path):
    server = start_server(model_dir, "--capture", str(tmp_path / "c"))
    body = {"id": "x" * 300, "inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 5], "data": [0.0] * 5}]}
    status, doc = _post(f"{server.url}/v2/models/lr/infer", body)
    assert status == 400 and "at most 256" in doc["error"]


def test_serve_with_capture_records_into_modelops_home(model_dir, data):
    from jupyter_modelops import captures, predict, serve, stop
    from jupyter_modelops.config import home

    X, _ = data
    dep = serve(model_dir, name="lr-captured", capture=True, capture_rate=1.0)
    try:
        for i in range(5):
            predict(dep, X[i : i + 1])
    finally:
        stop(dep)
    df = captures(dep, since="1h")
    assert len(df) == 5 and set(df["deployment"]) == {"lr-captured"}
    assert list((home() / "captures").glob("model=lr/version=2/hour=*/*.parquet"))
    assert dep.state["capture"] == str(home() / "captures")


def test_the_labels_endpoint_takes_the_same_bearer_token_as_infer(model_dir, data, start_server, tmp_path):
    import secrets

    import tritonclient.http as th

    token = secrets.token_urlsafe(24)
    tf = tmp_path / "token"
    tf.write_text(token + "\n")
    tf.chmod(0o600)
    server = start_server(model_dir, "--capture", str(tmp_path / "c"), "--token-file", str(tf))
    X, _ = data
    client = th.InferenceServerClient(server.url.replace("http://", ""))
    inp = th.InferInput("input", [1, 5], "FP64")
    inp.set_data_from_numpy(X[:1])
    rid = client.infer("lr", [inp], headers={"Authorization": f"Bearer {token}"}).get_response()["id"]
    url = f"{server.url}/v2/models/lr/labels"
    body = json.dumps({"ids": [rid], "labels": [1]}).encode()
    for headers in ({}, {"Authorization": "Bearer wrong-token"}):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST", headers=headers), timeout=10)
        assert err.value.code == 401
    req = urllib.request.Request(url, data=body, method="POST", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert json.loads(r.read()) == {
            "model": "lr",
            "written": 1,
            "unknown": 0,
            "unknown_ids": [],
            "duplicates_in_call": 0,
        }
