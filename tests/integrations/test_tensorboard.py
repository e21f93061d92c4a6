"""tensorboard(): event files read back with TensorBoard's own reader (event_accumulator)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ValidationError

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing import event_accumulator as ea  # noqa: E402

HOUR = 3600.0
FEATURES = ["a", "b", "c"]


def _read(logdir) -> ea.EventAccumulator:
    acc = ea.EventAccumulator(str(logdir), size_guidance={ea.SCALARS: 0, ea.GRAPH: 1})
    acc.Reload()
    return acc


@pytest.fixture
def watched(tmp_path):
    """A version with metrics, two report runs and six hours of captured traffic; 'a' shifts from hour 3."""
    from sklearn.linear_model import LogisticRegression

    from jupyter_modelops.capture.writer import CaptureWriter, Item
    from jupyter_modelops.serving.modeldir import TensorSpec

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(2000, 3)), columns=FEATURES)
    y = (X["a"] - X["b"] + rng.normal(size=2000) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    mv = mo.snapshot(model, "m", data=X, report=mo.evaluate(model, X, y, n_boot=50, progress=False))
    for i, auc in enumerate([0.91, 0.87]):
        mo.add_record(
            mv.ref,
            "report",
            {
                "status": "succeeded",
                "finished": f"2026-01-0{i + 1}T00:00:00+00:00",
                "gates_passed": i == 0,
                "duration_s": 3.0,
                "metrics": {"roc_auc": {"value": auc, "low": auc - 0.02, "high": auc + 0.02}},
            },
        )
    store = tmp_path / "captures"
    writer = CaptureWriter(str(store))
    writer.register("m", "1", [TensorSpec("input", "FP64", (-1, 3))], [TensorSpec("proba", "FP64", (-1,))], FEATURES)
    # ten minutes into the hourly windows that monitor() cuts back from now, whatever the clock says
    # (hour-aligned data split across two windows when a run started in the first minutes of an hour)
    start = time.time() - 7 * HOUR + 600
    for h in range(6):
        for k in range(10):
            x = rng.normal(size=(10, 3))
            x[:, 0] += 1.5 if h >= 3 else 0.0
            writer.record(
                Item(
                    "m",
                    "1",
                    f"r{h}-{k}",
                    start + h * HOUR + 60 * k,
                    5.0 + h,
                    200,
                    10,
                    {"input": x},
                    {"proba": model.predict_proba(pd.DataFrame(x, columns=FEATURES))[:, 1]},
                )
            )
    writer.close()
    return mv, str(store)


def test_metrics_reports_and_monitoring_are_scalars_tensorboard_reads(watched, tmp_path):
    mv, store = watched
    log = mo.tensorboard(mv.ref, tmp_path / "tb", since="8h", store=store)
    assert log.reports == 2 and log.windows >= 6 and "monitoring" not in log.skipped
    acc = _read(tmp_path / "tb")
    scalars = set(acc.Tags()["scalars"])
    auc = mv.metrics["roc_auc"]
    [value], [low], [high] = (
        acc.Scalars(t) for t in ("metrics/roc_auc", "metrics/roc_auc/low", "metrics/roc_auc/high")
    )
    assert (value.value, low.value, high.value) == pytest.approx((auc["value"], auc["low"], auc["high"]))
    history = acc.Scalars("report/roc_auc")
    assert [e.step for e in history] == [0, 1] and [e.value for e in history] == pytest.approx([0.91, 0.87])
    assert [e.value for e in acc.Scalars("report/gates_passed")] == [1.0, 0.0]
    latency = [e.value for e in acc.Scalars("monitoring/latency_p50_ms") if e.value == e.value]
    assert latency[-6:] == pytest.approx([5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    drift_a = [e.value for e in acc.Scalars("monitoring/drift/a/z")][-6:]
    drift_b = [e.value for e in acc.Scalars("monitoring/drift/b/z")][-6:]
    assert min(abs(v) for v in drift_a[3:]) > max(abs(v) for v in drift_b[3:])
    assert {"monitoring/rows", "monitoring/error_rate", "monitoring/alarm_statistic"} <= scalars
    from tensorboard.plugins.custom_scalar import layout_pb2

    [config] = acc.Tensors("custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(config.tensor_proto.string_val[0])
    margins = {c.title: c.margin.series[0] for cat in layout.category for c in cat.chart}
    assert margins["metrics/roc_auc"].lower == "metrics/roc_auc/low"
    assert margins["report/roc_auc"].upper == "report/roc_auc/high"


def test_a_version_without_traffic_says_why_monitoring_was_skipped(watched, tmp_path):
    mv, _ = watched
    log = mo.tensorboard(mv.ref, tmp_path / "tb", store=str(tmp_path / "empty"))
    assert log.windows == 0 and "captured" in log.skipped["monitoring"]
    assert "metrics/accuracy/high" in _read(tmp_path / "tb").Tags()["scalars"]


def test_torch_versions_get_their_graph(tmp_path):
    torch = pytest.importorskip("torch")
    from registry.nets import SmallNet

    net = SmallNet(n_in=4, hidden=3)
    mv = mo.snapshot(net, "net", data=torch.randn(20, 4))
    log = mo.tensorboard(mv.ref, tmp_path / "tb")
    assert log.graph
    graph = _read(tmp_path / "tb" / "graph").Graph()
    ops = {n.op for n in graph.node}
    assert any("linear" in op.lower() or "addmm" in op.lower() for op in ops)


def test_a_logdir_that_is_a_file_is_refused(watched, tmp_path):
    mv, _ = watched
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValidationError, match="not a folder"):
        mo.tensorboard(mv.ref, f)
    assert f.read_text() == "x"
