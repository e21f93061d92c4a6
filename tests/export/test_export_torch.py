"""torch -> TorchScript and ONNX round trips: loaded back, run, parity asserted; the module left as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ExportError, ParityError, ValidationError
from jupyter_modelops.exporters._torch import ExportWarning

from .conftest import mlp


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_torchscript_scripted_round_trip_leaves_the_module_alone():
    net = mlp()
    net.train()  # the user is mid-training: export must not leave it in eval mode
    before = _state(net)
    x = torch.randn(64, 20)
    result = mo.export(net, "torchscript", sample=x, benchmark=False)
    assert net.training and all(m.training for m in net.modules())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    art = result.artifacts["torchscript"]
    assert art["method"] == "torch.jit.script" and art["format"] == "torchscript"
    rep = result.parity["torchscript"]["sample"]
    assert rep["passed"] and rep["max_abs_diff"] <= 1e-6  # dropout is off in both: eval mode
    loaded = result.load()
    other = torch.randn(7, 20)
    net.eval()
    try:
        np.testing.assert_allclose(loaded(other).detach().numpy(), net(other).detach().numpy(), atol=1e-6)
    finally:
        net.train()


class NumpyScale(torch.nn.Module):
    """Scripting fails on the numpy call; tracing records it as a constant."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(6, 2)

    def forward(self, x):
        import numpy

        return self.lin(x) * float(numpy.sqrt(4.0))


def test_trace_fallback_warns_what_tracing_cannot_capture():
    model = NumpyScale()
    x = torch.randn(16, 6)
    with pytest.warns(ExportWarning, match="traced instead: tracing records only the operations the sample ran"):
        result = mo.export(model, "torchscript", sample=x, benchmark=False)
    art = result.artifacts["torchscript"]
    assert art["method"] == "torch.jit.trace"
    assert any("could not be scripted" in n for n in art["notes"])
    assert result.parity["torchscript"]["sample"]["passed"]
    np.testing.assert_allclose(result.load()(x[:3]).detach().numpy(), model(x[:3]).detach().numpy(), atol=1e-6)


class Unexportable(torch.nn.Module):
    """Scripting rejects the import; tracing rejects the dict output (strict mode)."""

    def forward(self, x):
        import numpy

        return {"logits": x * 2, "shifted": x + float(numpy.pi)}


def test_a_module_that_neither_scripts_nor_traces_is_one_sentence():
    with pytest.raises(ExportError) as info:
        mo.export(Unexportable(), "torchscript", sample=torch.randn(2, 3), benchmark=False)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith("The Unexportable module can neither be scripted (")
    assert "nor traced (" in text


def test_onnx_torchscript_exporter_dynamic_batch_round_trip():
    import onnx

    net = mlp()
    net.train()
    result = mo.export(net, "onnx", sample=torch.randn(32, 20), onnx_exporter="torchscript")
    assert net.training
    art = result.artifacts["onnx"]
    assert art["method"] == "torch.onnx.export(dynamo=False)" and art["opset"] == 17
    assert result.parity["onnx"]["sample"]["max_abs_diff"] <= 1e-5
    proto = onnx.load_from_string(result.path.read_bytes())
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a free batch axis
    sess = result.load()
    net.eval()
    for n in (1, 9):
        x = torch.randn(n, 20)
        np.testing.assert_allclose(sess.run(None, {"input": x.numpy()})[0], net(x).detach().numpy(), atol=1e-5)
    net.train()
    assert result.speed["onnx"]["single_row_us"] > 0 and result.speed["original"]["single_row_us"] > 0


@pytest.mark.slow
def test_onnx_dynamo_exporter_round_trip():
    """torch's default exporter (torch.export + onnxscript), as onnx_exporter='auto' uses it."""
    net = mlp(d_in=8, hidden=16, d_out=2)
    x = torch.randn(10, 8)
    result = mo.export(net, "onnx", sample=x, onnx_exporter="dynamo", benchmark=False)
    art = result.artifacts["onnx"]
    assert art["method"] == "torch.onnx.export(dynamo=True)" and art["opset"] >= 18
    assert result.parity["onnx"]["sample"]["max_abs_diff"] <= 1e-5
    sess = result.load()
    net.eval()
    x5 = torch.randn(5, 8)
    np.testing.assert_allclose(sess.run(None, {"input": x5.numpy()})[0], net(x5).detach().numpy(), atol=1e-5)


def test_int8_quantization_has_its_own_parity_report():
    net = mlp(hidden=256)
    x = torch.randn(200, 20, generator=torch.Generator().manual_seed(0))
    result = mo.export(
        net, "onnx", sample=x, quantize="int8", atol=0.3, rtol=0.0, onnx_exporter="torchscript", benchmark=False
    )
    assert set(result.artifacts) == {"onnx", "onnx-int8"}
    fp32, int8 = result.parity["onnx"]["sample"], result.parity["onnx-int8"]["sample"]
    assert fp32["max_abs_diff"] <= 1e-5
    assert 1e-5 < int8["max_abs_diff"] <= 0.3  # quantized: really different, within the loose tolerance
    assert int8["label_agreement"] is not None and int8["label_agreement"] > 0.8
    assert result.artifacts["onnx-int8"]["size_bytes"] < result.artifacts["onnx"]["size_bytes"] / 2
    assert any("quantized nodes" in n for n in result.artifacts["onnx-int8"]["notes"])


def test_fp16_with_a_tight_tolerance_is_blocked_and_passes_when_loosened():
    net = mlp()
    x = torch.randn(100, 20) * 10
    with pytest.raises(ParityError, match=r"The onnx-fp16 export differs from the original on the sample"):
        mo.export(net, "onnx", sample=x, quantize="fp16", onnx_exporter="torchscript", benchmark=False)
    result = mo.export(
        net, "onnx", sample=x, quantize="fp16", atol=5e-2, rtol=1e-2, onnx_exporter="torchscript", benchmark=False
    )
    assert result.parity["onnx-fp16"]["sample"]["passed"]
    assert result.parity["onnx-fp16"]["sample"]["max_abs_diff"] > result.parity["onnx"]["sample"]["max_abs_diff"]


class Cummax(torch.nn.Module):
    def forward(self, x):
        return torch.cummax(x, 1)[0]


def test_an_unsupported_operator_is_named():
    with pytest.raises(ExportError) as info:
        mo.export(Cummax(), "onnx", sample=torch.randn(4, 5), onnx_exporter="torchscript", benchmark=False)
    text = str(info.value)
    assert "\n" not in text and "aten::cummax" in text and "format='torchscript'" in text


def test_samples_of_the_wrong_shape_or_dtype():
    net = mlp()
    with pytest.raises(ValidationError) as info:
        mo.export(net, "torchscript", sample=torch.randn(4, 7), benchmark=False)
    text = str(info.value)
    assert "\n" not in text and text.startswith("The model could not run on the sample: RuntimeError")
    assert "input FP32[-1, 7]" in text
    with pytest.raises(ValidationError, match="could not run on the sample"):
        mo.export(net, "torchscript", sample=torch.ones(4, 20, dtype=torch.int64), benchmark=False)
    with pytest.raises(ValidationError, match="needs a batch dimension"):
        mo.export(net, "torchscript", sample=torch.tensor(1.0), benchmark=False)
    with pytest.raises(ValidationError, match="must be numeric"):
        mo.export(net, "onnx", sample=np.array([["a"] * 20]), benchmark=False)
    # numpy float64 rows are accepted and cast to the module's dtype
    ok = mo.export(net, "torchscript", sample=np.random.default_rng(0).normal(size=(5, 20)), benchmark=False)
    assert ok.inputs == [{"name": "input", "datatype": "FP32", "shape": [-1, 20]}]


def test_auto_falls_back_to_the_torchscript_exporter_without_onnxscript(monkeypatch):
    """A user without onnxscript still gets an ONNX file, with a warning saying which exporter ran."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxscript" else real(name, *a))
    net = mlp(d_in=8, hidden=16, d_out=2)
    with pytest.warns(ExportWarning, match=r"dynamo ONNX exporter did not work \(onnxscript is not installed\)"):
        result = mo.export(net, "onnx", sample=torch.randn(6, 8), benchmark=False)
    assert result.artifacts["onnx"]["method"] == "torch.onnx.export(dynamo=False)"
    assert result.parity["onnx"]["sample"]["passed"]
    from jupyter_modelops.exceptions import MissingDependencyError

    with pytest.raises(MissingDependencyError, match=r"pip install 'jupyter-modelops\[onnx\]'"):
        mo.export(net, "onnx", sample=torch.randn(6, 8), onnx_exporter="dynamo", benchmark=False)


def test_a_fixed_batch_size_onnx():
    net = mlp()
    result = mo.export(net, "onnx", sample=torch.randn(8, 20), dynamic_batch=False, onnx_exporter="torchscript")
    assert result.inputs == [{"name": "input", "datatype": "FP32", "shape": [8, 20]}]
    sess = result.load()
    assert sess.get_inputs()[0].shape == [8, 20]
    assert result.passed and result.speed["onnx"]["single_row_us"] is None
