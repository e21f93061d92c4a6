"""Exporters are plugins: register() and the jupyter_modelops.exporters entry point group."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import numpy as np
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exporters import Artifact, Exporter, Sample, exporters, register
from jupyter_modelops.exporters._base import ENTRY_POINT_GROUP, Exporters
from jupyter_modelops.exporters._onnx import OnnxMixin, opset_of


class LinearScorer:
    """A model type no built-in exporter knows: y = X @ w."""

    def __init__(self, w):
        self.w = np.asarray(w, dtype=np.float64)

    def predict(self, X):
        return np.asarray(X, dtype=np.float64) @ self.w


class LinearScorerExporter(OnnxMixin, Exporter):
    """Only the format-specific hooks: the base class adds parity, quantization and timing."""

    name = "linear-scorer-onnx"
    flavor = "linear-scorer"

    @classmethod
    def accepts(cls, model):
        return isinstance(model, LinearScorer)

    def prepare_sample(self, model, sample, *, signature=None, source="sample"):
        arr = np.asarray(sample, dtype=np.float64)
        return Sample(
            arr,
            {"x": arr.astype(np.float32)},
            [{"name": "x", "datatype": "FP32", "shape": [-1, arr.shape[1]]}],
            len(arr),
            lambda s, i: Sample(s.native[i], {"x": s.feeds["x"][i]}, s.inputs, len(s.native[i]), s.take_fn, s.source),
            source,
        )

    def reference(self, model, sample):
        return {"y": model.predict(sample.native).reshape(-1, 1)}

    def _export(self, model, sample, *, opset, dynamic_batch):
        from onnx import TensorProto, helper, numpy_helper

        w = numpy_helper.from_array(model.w.astype(np.float32).reshape(-1, 1), "w")
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["x", "w"], ["y"])],
            "linear",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, len(model.w)])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
            [w],
        )
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset or 17)])
        return Artifact(
            role="onnx", format="onnx", data=proto.SerializeToString(), opset=opset_of(proto), method="onnx.helper"
        )


class Unloadable:
    pass


@pytest.fixture
def fresh_registry(monkeypatch):
    holder = Exporters()
    monkeypatch.setattr("jupyter_modelops.exporters.exporters", holder)
    monkeypatch.setattr("jupyter_modelops.exporters._base.exporters", holder)
    return holder


def test_register_adds_an_exporter_that_gets_parity_and_quantization(fresh_registry):
    rng = np.random.default_rng(0)
    model = LinearScorer(rng.normal(size=64))
    X = rng.normal(size=(50, 64))
    with pytest.raises(mo.exceptions.ExportError, match="No onnx exporter handles a model of type"):
        mo.export(model, sample=X)
    register("linear-scorer-onnx", LinearScorerExporter)
    result = mo.export(model, sample=X, quantize="int8", atol=2.0, benchmark=False)
    assert result.exporter == "linear-scorer-onnx" and result.flavor == "linear-scorer"
    assert result.parity["onnx"]["sample"]["max_abs_diff"] <= 1e-4
    assert "onnx-int8" in result.artifacts and result.parity["onnx-int8"]["sample"]["passed"]
    assert result.parity["onnx-int8"]["sample"]["max_abs_diff"] > 1e-3  # really quantized
    got = result.load().run(None, {"x": X[:3].astype(np.float32)})[0].ravel()
    np.testing.assert_allclose(got, model.predict(X[:3]), rtol=1e-4)


def test_entry_points_are_loaded_and_a_broken_plugin_only_warns(fresh_registry, monkeypatch, numeric_data):
    good = EntryPoint(name="linear-scorer-onnx", value=f"{__name__}:LinearScorerExporter", group=ENTRY_POINT_GROUP)
    broken = EntryPoint(name="broken", value="no_such_module_anywhere:Exporter", group=ENTRY_POINT_GROUP)
    monkeypatch.setattr(
        "importlib.metadata.entry_points", lambda group=None: [good, broken] if group == ENTRY_POINT_GROUP else []
    )
    with pytest.warns(UserWarning, match="Could not load the exporter plugin 'broken'"):
        result = mo.export(LinearScorer([1.0, 2.0]), sample=np.eye(2), benchmark=False)
    assert result.exporter == "linear-scorer-onnx"
    # the built-ins are still there beside the plugin
    from sklearn.linear_model import LogisticRegression

    X, y = numeric_data
    assert mo.export(LogisticRegression(max_iter=200).fit(X, y), sample=X[:20], benchmark=False).passed
    assert set(fresh_registry.names()) >= {"linear-scorer-onnx", "sklearn-onnx", "torch-onnx", "torch-torchscript"}


def test_register_refuses_what_is_not_an_exporter():
    with pytest.raises(mo.exceptions.ValidationError, match="exporter must be an Exporter subclass"):
        exporters.register("nope", Unloadable)


def test_export_is_the_function_and_the_package_is_a_plain_module():
    import subprocess
    import sys

    code = (
        "import types, jupyter_modelops as mo\n"
        "f = mo.export\n"
        "import jupyter_modelops.exporters as pkg\n"
        "assert mo.export is f and f.__name__ == 'export' and f.__module__ == 'jupyter_modelops.exporters'\n"
        "assert type(pkg) is types.ModuleType and pkg.register is not None and pkg.export is f\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
