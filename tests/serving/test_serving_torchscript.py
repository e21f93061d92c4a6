"""The TorchScript runtime, through the real server and the official V2 client."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit

import numpy as np
import tritonclient.http as triton


def test_torchscript_model_is_served_exactly(start_server, tmp_path):
    import torch

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 3)

        def forward(self, x):
            logits = self.lin(x)
            return logits.argmax(dim=1), torch.softmax(logits, dim=1)

    net = torch.jit.script(Net().eval())
    d = tmp_path / "ts"
    d.mkdir()
    net.save(str(d / "model.pt"))
    sha = hashlib.sha256((d / "model.pt").read_bytes()).hexdigest()
    (d / "modelops-model.json").write_text(
        json.dumps(
            {
                "schema": 1,
                "name": "net",
                "version": "2",
                "flavor": "torch",
                "signature": {
                    "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
                    "outputs": [
                        {"name": "label", "datatype": "INT64", "shape": [-1]},
                        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]},
                    ],
                },
                "artifacts": {"torchscript": {"path": "model.pt", "sha256": sha, "format": "torchscript"}},
            }
        )
    )
    server = start_server(d)
    X = np.random.RandomState(1).randn(5, 4).astype(np.float32)
    client = triton.InferenceServerClient(urlsplit(server.url).netloc)
    assert client.get_model_metadata("net")["platform"] == "pytorch_torchscript"
    inp = triton.InferInput("x", [5, 4], "FP32")
    inp.set_data_from_numpy(X)
    res = client.infer("net", [inp])
    with torch.inference_mode():
        label, proba = net(torch.from_numpy(X))
    np.testing.assert_array_equal(res.as_numpy("label"), label.numpy())
    np.testing.assert_array_equal(res.as_numpy("probabilities"), proba.numpy())
