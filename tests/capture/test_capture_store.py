"""The capture writer, layout, reading, labels and retention, in this process (no server)."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import numpy as np
import pytest

from jupyter_modelops.capture.store import CaptureStore, resolve_location
from jupyter_modelops.capture.writer import CaptureWriter, Item
from jupyter_modelops.exceptions import ModelOpsError, ValidationError
from jupyter_modelops.serving.modeldir import TensorSpec

INPUTS = [TensorSpec("input", "FP64", (-1, 2))]
OUTPUTS = [
    TensorSpec("label", "INT64", (-1,)),
    TensorSpec("embedding", "FP32", (-1, 3)),
    TensorSpec("tag", "BYTES", (-1,)),
]
HOUR = 3600.0


def _writer(store, **kw) -> CaptureWriter:
    w = CaptureWriter(str(store) if isinstance(store, Path) else store, **kw)
    w.register("m", "1", INPUTS, OUTPUTS, ["a", "b"])
    return w


def _item(rid: str, ts: float, n: int = 1, status: int = 200) -> Item:
    x = np.arange(n * 2, dtype=np.float64).reshape(n, 2) + len(rid)
    outs = (
        {
            "label": np.arange(n),
            "embedding": np.ones((n, 3), np.float32) * n,
            "tag": np.array([f"t{rid}".encode()] * n, dtype=object),
        }
        if status == 200
        else None
    )
    return Item("m", "1", rid, ts, 1.0, status, n, {"input": x}, outs)


def test_layout_schema_and_failed_requests(tmp_path):
    import pyarrow.parquet as pq

    from jupyter_modelops import captures

    w = _writer(tmp_path)
    now = time.time()
    w.record(_item("ok", now, 2))
    w.record(_item("boom", now, 1, status=504))
    w.close()
    files = list(tmp_path.glob("model=m/version=1/hour=*/part-*.parquet"))
    assert len(files) == 1
    t = pq.read_table(files[0])
    assert t.column_names[:8] == ["request_id", "row", "ts", "latency_ms", "status", "deployment", "cluster", "pod"]
    assert [str(t.schema.field(c).type) for c in ("a", "b", "label", "embedding", "tag")] == [
        "double",
        "double",
        "int64",
        "fixed_size_list<element: float>[3]",
        "binary",
    ]
    df = captures("m:1", store=str(tmp_path), since="1h").set_index(["request_id", "row"])
    assert df.loc[("ok", 1), "b"] == 5.0 and df.loc[("ok", 1), "tag"] == b"tok"
    assert df.loc[("boom", 0), "status"] == 504 and df.loc[("boom", 0), "a"] == 4.0
    assert df.loc[("boom", 0), "label"] is None or np.isnan(df.loc[("boom", 0), "label"])


def test_only_the_window_partitions_and_the_asked_columns_are_read(tmp_path):
    from jupyter_modelops import captures

    w = _writer(tmp_path)
    now = time.time()
    for h in range(6):
        w.record(_item(f"h{h}", now - h * HOUR))
    w.close()
    # a corrupt file in an old partition: reading it would fail, so the window must skip it
    old = sorted(tmp_path.glob("model=m/version=1/hour=*"))[0]
    (old / "part-corrupt.parquet").write_bytes(b"not parquet at all")
    df = captures("m:1", store=str(tmp_path), since="2h", columns=["a", "label"], labels=False)
    assert set(df["request_id"]) == {"h0", "h1"}
    assert set(df.columns) == {"request_id", "row", "ts", "a", "label", "version"}
    with pytest.raises(ModelOpsError, match="could not be read"):
        captures("m:1", store=str(tmp_path), since=None)
    with pytest.raises(ValidationError, match="do not have"):
        captures("m:1", store=str(tmp_path), since="1h", columns=["nope"])


def test_the_writer_rolls_by_rows_and_drops_when_the_queue_is_full(tmp_path):
    w = _writer(tmp_path, roll_rows=10, max_queue_rows=25)
    now = time.time()
    accepted = sum(w.record(_item(f"r{i}", now)) for i in range(40))  # no thread drains before close
    assert (accepted, w.dropped["queue_full"]) == (25, 15)
    w.close()
    assert w.written == 25 and w.files == 3
    assert 'modelops_capture_dropped_total{reason="queue_full"} 15' in w.metrics_lines()


class _FailingStore(CaptureStore):
    """A store whose filesystem is full while ``full`` is set (ENOSPC at the write)."""

    full = True

    def write_table(self, table, folder, name, **kwargs):
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write_table(table, folder, name, **kwargs)


def test_writer_survives_enospc_and_resumes(tmp_path, caplog):
    store = _FailingStore(str(tmp_path))
    w = _writer(store, roll_seconds=0.05).start()
    now = time.time()
    for i in range(5):
        assert w.record(_item(f"lost{i}", now))
    assert w.flush()
    assert w.dropped["write_error"] == 5 and w.written == 0
    assert "No space left on device" in caplog.text and caplog.text.count("capture: dropped") == 1
    store.full = False
    for i in range(5):
        w.record(_item(f"kept{i}", now))
    w.close()
    assert w.written == 5 and w.dropped["write_error"] == 5
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


def test_labels_validate_their_input(tmp_path):
    from jupyter_modelops import log_labels

    w = _writer(tmp_path)
    w.record(_item("a", time.time()))
    w.close()
    s = str(tmp_path)
    for ids, labels, match in (
        ([], [], "empty"),
        (["a"], [1, 2], "one label per id"),
        (["a"], [float("nan")], "finite"),
        (["a", "a"], ["x", 1], "mixes"),
        (["x" * 300], [1], "1 to 256"),
        ("a", [1], "must be a list"),
    ):
        with pytest.raises(ValidationError, match=match):
            log_labels("m", ids, labels, store=s)
    with pytest.raises(ValidationError, match="non-negative"):
        log_labels("m", ["a"], [1], rows=[-1], store=s)
    assert log_labels("m", ["a"], [1], store=s).unknown == 0
    with pytest.raises(ValidationError, match="are numbers; got strings"):
        log_labels("m", ["a"], ["cat"], store=s)


def test_locations_and_names_from_outside_are_checked(tmp_path):
    for bad in ("http://example.org/x", "ssh://host/x", "/tmp/a\nb", "", 3):
        with pytest.raises(ValidationError):
            resolve_location(bad)
    assert resolve_location(f"file://{tmp_path}") == f"file://{tmp_path}"
    store = CaptureStore(f"file://{tmp_path}")
    with pytest.raises(ValidationError, match="cannot name a capture partition"):
        store.partition_dir("../etc", "1", "2026-01-01T00")
    with pytest.raises(ValidationError):
        store.version_dir("m", "1/../../x")
    with pytest.raises(ValidationError, match="capture_rate"):
        CaptureWriter(str(tmp_path), rate=0)
    from jupyter_modelops import captures

    with pytest.raises(ValidationError, match="expected a duration"):
        captures("m", store=str(tmp_path), since="yesterday")


def test_gc_removes_expired_partitions_but_never_one_being_written(tmp_path):
    from jupyter_modelops.capture import gc_captures

    w = _writer(tmp_path)
    now = time.time()
    for days in (40, 35, 1):
        w.record(_item(f"d{days}", now - days * 86400))
    w.close()
    parts = sorted(tmp_path.glob("model=m/version=1/hour=*"))
    assert len(parts) == 3
    old, older = parts[1], parts[0]
    for p in (old, older):  # files written long ago
        for f in p.iterdir():
            os.utime(f, (now - 30 * 86400, now - 30 * 86400))
    (older / ".part-x.parquet.tmp").write_bytes(b"a writer is still flushing this hour")
    r = gc_captures("30d", store=str(tmp_path))
    assert (r["removed_partitions"], r["kept_active"]) == (1, 1) and r["freed_bytes"] > 0
    assert not old.exists() and older.exists() and parts[2].exists()
    with pytest.raises(ValidationError, match="captures_older_than"):
        gc_captures("a month", store=str(tmp_path))


def test_registry_gc_expires_captures_under_modelops_home():
    import jupyter_modelops as mo
    from jupyter_modelops.config import subdir

    root = subdir("captures")
    w = _writer(root)
    now = time.time()
    w.record(_item("old", now - 40 * 86400))
    w.record(_item("new", now))
    w.close()
    old = min(root.glob("model=m/version=1/hour=*"))
    for f in old.iterdir():
        os.utime(f, (now - 40 * 86400, now - 40 * 86400))
    with pytest.raises(ValidationError, match="captures_older_than"):
        mo.gc(captures_older_than="soon")
    r = mo.gc(captures_older_than="30d")
    assert r.captures["removed_partitions"] == 1 and "1 expired capture partitions" in repr(r)
    assert not old.exists() and len(list(root.glob("model=m/version=1/hour=*"))) == 1
    assert "captures" not in mo.gc().to_dict()


def test_the_packed_path_splits_hours_and_refuses_arrays_that_do_not_fit(tmp_path):
    from jupyter_modelops import captures

    w = CaptureWriter(str(tmp_path))
    w.register(
        "p",
        "1",
        [TensorSpec("input", "FP64", (-1, 2))],
        [TensorSpec("label", "INT64", (-1,)), TensorSpec("score", "FP32", (-1, 2))],
    )
    now = time.time()
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    good = [x, np.array([7, 8]), np.array([[0.5, 0.5], [0.25, 0.75]], np.float32)]
    p = w.packer("p", "1")
    assert w.record_packed(p, "now", now, 1.0, 200, 2, good) is True
    assert w.record_packed(p, "old", now - 2 * HOUR, 1.0, 200, 1, [x[:1], good[1][:1], good[2][:1]]) is True
    assert w.record_packed(p, "f16", now, 1.0, 200, 2, [x.astype(np.float16), *good[1:]]) is None
    assert w.record_packed(p, "short", now, 1.0, 200, 2, [x[:1], *good[1:]]) is None
    assert w.packer("nope", "1") is None
    w.register("b", "1", [TensorSpec("input", "BYTES", (-1,))], [TensorSpec("label", "INT64", (-1,))])
    assert w.packer("b", "1") is None  # bytes have no fixed width: the tuple path takes them
    w.close()
    assert len(list(tmp_path.glob("model=p/version=1/hour=*"))) == 2
    df = captures("p:1", store=str(tmp_path), since="3h").set_index(["request_id", "row"])
    assert df.loc[("now", 1), "label"] == 8 and list(df.loc[("now", 1), "input"]) == [3.0, 4.0]
    assert list(df.loc[("now", 1), "score"]) == [0.25, 0.75] and df.loc[("old", 0), "label"] == 7


def test_labels_from_a_file(tmp_path):
    import pandas as pd

    from jupyter_modelops import captures
    from jupyter_modelops.capture import log_labels_file

    w = _writer(tmp_path / "store")
    now = time.time()
    w.record(_item("a", now, 2))
    w.record(_item("b", now))
    w.close()
    f = tmp_path / "labels.csv"
    pd.DataFrame({"request": ["a", "a", "b", "zz"], "r": [0, 1, 0, 0], "truth": [1, 0, 1, 0]}).to_csv(f, index=False)
    r = log_labels_file(
        "m", str(f), id_column="request", label_column="truth", row_column="r", store=str(tmp_path / "store")
    )
    assert (r.written, r.unknown, r.unknown_ids) == (4, 1, ["zz"])
    df = captures("m", store=str(tmp_path / "store"), since="1h").set_index(["request_id", "row"])
    assert [df.loc[k, "y_true"] for k in (("a", 0), ("a", 1), ("b", 0))] == [1, 0, 1]
    with pytest.raises(ValidationError, match="has no column 'label'"):
        log_labels_file("m", str(f), id_column="request", label_column="label", store=str(tmp_path / "store"))


def test_whole_batches_are_captured_row_for_row_sampled_and_split_when_they_do_not_fit(tmp_path):
    from jupyter_modelops import captures

    w = CaptureWriter(str(tmp_path))
    w.register(
        "p",
        "1",
        [TensorSpec("input", "FP64", (-1, 2))],
        [TensorSpec("label", "INT64", (-1,)), TensorSpec("score", "FP32", (-1, 2))],
    )
    rng = np.random.default_rng(1)
    now, mono = time.time(), time.monotonic()
    x = rng.normal(size=(6, 2))
    label = np.arange(6, dtype=np.int64) * 10
    score = rng.random((6, 2), dtype=np.float32)
    # two batches of the packed form: requests of 1, 3 and 2 rows, then one of 2 rows
    assert w.record_batch(
        "p", "1", ["a", "b", "c"], [1, 3, 2], 6, now, mono + 0.5, [mono, mono + 0.1, mono + 0.2], [x, label, score]
    )
    assert w.record_batch("p", "1", ["d"], [2], 2, now, mono + 1.0, [mono], [x[:2], label[:2], score[:2]])
    # sampled: only "f" is kept; and a batch whose input has another dtype goes through the general path
    assert w.record_batch(
        "p", "1", ["e", "f"], [1, 1], 2, now, mono, [mono, mono], [x[:2], label[:2], score[:2]], [False, True]
    )
    assert w.record_batch("p", "1", ["g"], [1], 1, now, mono, [mono], [x[:1].astype(np.float32), label[:1], score[:1]])
    w.close()
    assert w.queued_rows == w.drained_rows == 11 and w.written == 10 and w.dropped["queue_full"] == 0
    df = captures("p:1", store=str(tmp_path), since="1h").set_index(["request_id", "row"]).sort_index()
    assert sorted(set(df.index.get_level_values(0))) == ["a", "b", "c", "d", "f", "g"]
    rows = {"a": [0], "b": [1, 2, 3], "c": [4, 5], "d": [0, 1], "f": [1], "g": [0]}
    for rid, src in rows.items():
        got = df.loc[rid]
        assert list(got.index) == list(range(len(src)))
        np.testing.assert_array_equal(
            np.stack(got["input"].to_numpy()), x[src].astype(np.float32) if rid == "g" else x[src]
        )
        np.testing.assert_array_equal(got["label"].to_numpy(), label[src])
        np.testing.assert_array_equal(np.stack(got["score"].to_numpy()), score[src])
    lat = df["latency_ms"].groupby(level=0).first()
    assert lat["a"] == pytest.approx(500.0) and lat["b"] == pytest.approx(400.0) and lat["d"] == pytest.approx(1000.0)
    assert (df["status"] == 200).all()


def test_a_full_queue_drops_whole_batches_and_counts_their_rows(tmp_path):
    w = CaptureWriter(str(tmp_path), max_queue_rows=4)
    w.register("p", "1", [TensorSpec("input", "FP64", (-1, 2))], [TensorSpec("label", "INT64", (-1,))])
    x, y = np.zeros((3, 2)), np.zeros(3, np.int64)
    assert w.record_batch("p", "1", ["a"], [3], 3, time.time(), 1.0, [0.5], [x, y]) is True
    assert w.record_batch("p", "1", ["b", "c"], [1, 2], 3, time.time(), 1.0, [0.5, 0.5], [x, y]) is False
    assert w.dropped["queue_full"] == 3
    w.close()
    assert w.written == 3


def test_a_lazy_window_streams_into_profile_and_drift_without_reading_other_hours(tmp_path):
    from jupyter_modelops import captures, drift, profile

    w = _writer(tmp_path)
    now = time.time()
    for h in range(6):
        w.record(_item(f"h{h}", now - h * HOUR, n=50))
    w.close()
    old = sorted(tmp_path.glob("model=m/version=1/hour=*"))[0]
    (old / "part-corrupt.parquet").write_bytes(b"not parquet at all")
    dset = captures("m:1", store=str(tmp_path), since="2h", columns=["a", "b"], lazy=True)
    assert type(dset).__name__ == "FileSystemDataset"
    t = dset.to_table()
    assert set(t.column("request_id").to_pylist()) == {"h0", "h1"} and t.num_rows == 100
    assert set(t.column_names) == {"request_id", "row", "ts", "version", "hour", "a", "b"}
    assert set(t.column("version").to_pylist()) == {"1"}
    eager = captures("m:1", store=str(tmp_path), since="2h", columns=["a", "b"], labels=False)
    prof = profile(captures("m:1", store=str(tmp_path), since="2h", columns=["a", "b"], lazy=True))
    assert prof.n_rows == 100
    assert prof.columns["a"]["mean"] == pytest.approx(float(eager["a"].mean()))
    rep = drift(eager[["a", "b"]], dset.to_table(columns=["a", "b"]))
    assert rep.drifted == []
    with pytest.raises(ValidationError, match="no rows in this window"):
        captures("m:1", store=str(tmp_path), since="30h", until="20h", lazy=True)
    with pytest.raises(ValidationError, match="do not have"):
        captures("m:1", store=str(tmp_path), since="2h", columns=["nope"], lazy=True)
    with pytest.raises(ValidationError, match="exclude each other"):
        captures("m:1", store=str(tmp_path), summary=True, lazy=True)
