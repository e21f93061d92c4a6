"""Round trips of a torch module and an ONNX model through the registry: identical predictions."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ValidationError


@pytest.fixture
def net():
    import torch

    from registry.nets import SmallNet

    torch.manual_seed(0)
    return SmallNet(n_in=30, hidden=8)


def test_torch_module_round_trip(net, churn_data, tmp_path):
    import torch

    X_test = churn_data[1].to_numpy(np.float32)
    net.train()  # snapshot must not change the caller's mode
    mv = mo.snapshot(net, "net", data=X_test[:50])
    assert net.training is True
    assert mv.flavor == "torch" and mv.artifacts["model"]["format"] == "state_dict"
    assert mv.artifacts["torchscript"]["format"] == "torchscript"
    assert mv.artifacts["model"]["metadata"]["class"] == "registry.nets:SmallNet"
    assert mv.signature["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 30]}]
    assert mv.signature["outputs"] == [{"name": "predict", "datatype": "FP32", "shape": [-1, 2]}]
    assert mv.meta["frameworks"]["torch"].startswith("2.")
    x = torch.from_numpy(X_test)
    net.eval()
    with torch.no_grad():
        expected = net(x).numpy()
    loaded = mo.load("net")
    assert type(loaded).__name__ == "SmallNet" and loaded.training is False
    with torch.no_grad():
        np.testing.assert_array_equal(loaded(x).numpy(), expected)
        np.testing.assert_array_equal(mo.load("net", format="torchscript")(x).numpy(), expected)
    # a model directory carries both files; the TorchScript one loads without the class
    d = mo.materialize("net", tmp_path / mo.get("net").ref.replace(":", "-"))
    import torch.jit

    ts = torch.jit.load(str(d / "model.torchscript.pt"))
    with torch.no_grad():
        np.testing.assert_array_equal(ts(x).numpy(), expected)


def test_torch_without_importable_class_falls_back_to_torchscript(tmp_path, modelops_home):
    # the module's class lives in a script that the loading process cannot import
    script = tmp_path / "make.py"
    script.write_text(
        "import torch, jupyter_modelops as mo\n"
        "class Local(torch.nn.Module):\n"
        "    def __init__(self, w):\n"
        "        super().__init__(); self.lin = torch.nn.Linear(4, w)\n"
        "    def forward(self, x):\n"
        "        return self.lin(x) * 2\n"
        "torch.manual_seed(1)\n"
        "m = Local(3)\n"
        "mo.snapshot(m, 'local')\n"
        "torch.save(m(torch.ones(2, 4)).detach(), 'expected.pt')\n"
    )
    subprocess.run([sys.executable, str(script)], cwd=tmp_path, check=True, capture_output=True)
    import torch

    loaded = mo.load("local")
    with torch.no_grad():
        np.testing.assert_array_equal(loaded(torch.ones(2, 4)).numpy(), torch.load(tmp_path / "expected.pt").numpy())


def test_onnx_model_round_trip(sk_pipeline, churn_data, tmp_path):
    import onnx
    import onnxruntime as ort
    from skl2onnx import to_onnx

    X_test = churn_data[1].to_numpy(np.float64)
    proto = to_onnx(sk_pipeline, X_test[:1], target_opset=17, options={"zipmap": False})
    mv = mo.snapshot(proto, "churn-onnx")
    assert mv.flavor == "onnx" and mv.artifacts["model"]["format"] == "onnx"
    assert mv.signature["inputs"][0]["datatype"] == "FP64" and mv.signature["inputs"][0]["shape"][1] == 30
    assert {o["name"] for o in mv.signature["outputs"]} == {"label", "probabilities"}
    loaded = mo.load("churn-onnx")
    assert isinstance(loaded, onnx.ModelProto)

    def run(model):
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, {sess.get_inputs()[0].name: X_test})

    for a, b in zip(run(proto), run(loaded)):
        np.testing.assert_array_equal(a, b)
    # from a path and from bytes, same content -> same blob
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    by_path = mo.snapshot(str(path), "churn-onnx")
    by_bytes = mo.snapshot(proto.SerializeToString(), "churn-onnx", flavor="onnx")
    assert (
        by_path.artifacts["model"]["sha256"] == mv.artifacts["model"]["sha256"] == by_bytes.artifacts["model"]["sha256"]
    )


def test_invalid_onnx_is_refused():
    with pytest.raises(ValidationError, match="ONNX"):
        mo.snapshot(b"definitely not a protobuf", "bad", flavor="onnx")
    with pytest.raises(ValidationError, match="does not exist"):
        mo.snapshot("missing.onnx", "bad")


def test_custom_flavor_registration(tmp_path):
    import json

    from jupyter_modelops.registry import Flavor, register
    from jupyter_modelops.registry.flavors import Saved, flavors

    class Recipe:
        def __init__(self, steps):
            self.steps = steps

    class RecipeFlavor(Flavor):
        def detect(self, model):
            return isinstance(model, Recipe)

        def save(self, model, directory, *, sample=None):
            (directory / "recipe.json").write_text(json.dumps(model.steps))
            return Saved(model={"file": "recipe.json", "format": "json", "metadata": {}})

        def load(self, files, artifacts, *, prefer=None):
            return Recipe(json.loads(files["model"].read_text()))

    register("recipe", RecipeFlavor)
    try:
        mv = mo.snapshot(Recipe(["a", "b"]), "recipe")
        assert mv.flavor == "recipe" and mo.load("recipe").steps == ["a", "b"]
    finally:
        flavors._flavors.pop("recipe")
