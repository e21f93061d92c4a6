"""Exports of registry versions: artifacts attached, an "export" record, reuse, the stored sample."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import jupyter_modelops as mo
from jupyter_modelops import registry
from jupyter_modelops.exceptions import ValidationError


@pytest.fixture
def churn_v1(churn, churn_pipeline):
    X, _ = churn
    return registry.snapshot(churn_pipeline, "churn", data=X)


def test_export_a_version_with_its_stored_sample(churn_v1):
    result = mo.export("churn:1", benchmark=False)  # no sample: the registry's own
    assert result.ref == "churn:1" and not result.reused
    assert list(result.parity["onnx"]) == ["stored sample"]
    assert result.parity["onnx"]["stored sample"]["rows"] == churn_v1.artifacts["sample"]["metadata"]["rows"] == 400
    assert result.parity["onnx"]["stored sample"]["max_abs_diff"] <= 1e-5
    mv = registry.get("churn:1")
    art = mv.artifacts["onnx"]
    assert art["format"] == "onnx"
    meta = art["metadata"]
    assert meta["opset"] == result.artifacts["onnx"]["opset"] and meta["size_bytes"] == art["size"]
    assert meta["parity_passed"] is True and meta["parity"]["stored sample"]["passed"] is True
    assert [i["name"] for i in meta["inputs"]] == ["tenure", "plan", "calls", "region", "spend"]
    path = registry.artifact_path("churn:1", "onnx")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == art["sha256"] == result.artifacts["onnx"]["sha256"]
    assert str(result.path) == str(path)
    recs = registry.records("churn:1", kind="export")
    assert len(recs) == 1 and recs[0]["data"]["artifacts"]["onnx"]["sha256"] == art["sha256"]


def test_same_options_reuse_the_export_and_new_options_do_not(churn_v1):
    first = mo.export("churn:1", benchmark=False)
    again = mo.export("churn", benchmark=False)  # "churn" is churn:1, the latest
    assert again.reused and not first.reused
    assert again.artifacts["onnx"]["sha256"] == first.artifacts["onnx"]["sha256"]
    assert again.parity == json.loads(json.dumps(first.parity))
    assert len(registry.records("churn:1", kind="export")) == 1
    other = mo.export("churn:1", opset=15, benchmark=False)
    assert not other.reused and other.artifacts["onnx"]["opset"] <= 15
    assert len(registry.records("churn:1", kind="export")) == 2


def test_a_given_sample_and_the_stored_sample_are_both_checked(churn, churn_v1):
    X, _ = churn
    result = mo.export(churn_v1, sample=X.iloc[100:160], benchmark=False)
    assert set(result.parity["onnx"]) == {"sample", "stored sample"}
    assert result.parity["onnx"]["sample"]["rows"] == 60
    assert all(r["passed"] for r in result.parity["onnx"].values())


def test_the_model_directory_carries_the_export(churn_v1, tmp_path):
    mo.export("churn:1", benchmark=False)
    folder = registry.materialize("churn:1", tmp_path / "model")
    spec = json.loads((folder / "modelops-model.json").read_text())
    onnx_entry = spec["artifacts"]["onnx"]
    assert onnx_entry["format"] == "onnx"
    data = (folder / onnx_entry["path"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == onnx_entry["sha256"]


def test_a_version_without_a_stored_sample_asks_for_one(churn_pipeline):
    registry.snapshot(churn_pipeline, "bare")
    with pytest.raises(ValidationError) as info:
        mo.export("bare:1")
    text = str(info.value)
    assert "\n" not in text and text.startswith("bare:1 has no stored sample, and a sample input is needed")
    assert "sample=" in text


def test_torch_version_onnx_and_int8_attached():
    import torch

    from .nets import ChurnNet

    torch.manual_seed(0)
    net = ChurnNet()
    X = torch.randn(64, 20, generator=torch.Generator().manual_seed(1))
    registry.snapshot(net, "net", data=X)
    result = mo.export(
        "net:1", quantize="int8", atol=0.05, rtol=0.0, onnx_exporter="torchscript", sample=X[:32], benchmark=False
    )
    mv = registry.get("net:1")
    assert {"onnx", "onnx-int8"} <= set(mv.artifacts)
    assert mv.artifacts["onnx-int8"]["metadata"]["parity"]["sample"]["passed"] is True
    assert mv.artifacts["onnx-int8"]["size"] < mv.artifacts["onnx"]["size"]
    assert set(result.parity["onnx-int8"]) == {"sample", "stored sample"}
    sess = result.load("onnx-int8")
    probs = sess.run(None, {"input": X[:4].numpy()})[0]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    ts = mo.export("net:1", "torchscript", benchmark=False)  # the stored sample suffices
    assert ts.artifacts["torchscript"]["method"] == "torch.jit.script"
    assert [r["data"]["format"] for r in registry.records("net:1", kind="export")] == ["onnx", "torchscript"]


def test_a_failed_parity_gate_attaches_nothing():
    import torch

    from jupyter_modelops.exceptions import ParityError

    from .nets import ChurnNet

    torch.manual_seed(0)
    X = torch.randn(32, 20, generator=torch.Generator().manual_seed(2)) * 20
    registry.snapshot(ChurnNet(), "tight", data=X)
    with pytest.raises(ParityError, match="onnx-fp16 export differs"):
        mo.export("tight:1", quantize="fp16", atol=1e-7, rtol=0.0, onnx_exporter="torchscript", benchmark=False)
    mv = registry.get("tight:1")
    assert not {"onnx", "onnx-fp16"} & set(mv.artifacts)
    assert registry.records("tight:1", kind="export") == []


def test_the_model_server_runs_the_attached_export(churn, churn_v1, tmp_path):
    """export -> materialize -> the server's ONNX runtime, on a mixed-dtype pipeline (one input per column)."""
    from jupyter_modelops.serving.modeldir import read_model_dir
    from jupyter_modelops.serving.runtimes import OnnxRuntime, choose_runtime

    X, _ = churn
    mo.export("churn:1", benchmark=False)
    runtime = choose_runtime(read_model_dir(registry.materialize("churn:1", tmp_path / "model")))
    assert isinstance(runtime, OnnxRuntime)
    rows = X.iloc[:16]
    inputs = {c: rows[c].to_numpy(object if rows[c].dtype.kind not in "iuf" else None) for c in rows.columns}
    out = runtime.predict(inputs)
    proba = [v for k, v in out.items() if "prob" in k][0]
    np.testing.assert_allclose(proba, churn_v1.load().predict_proba(rows), atol=1e-5)
