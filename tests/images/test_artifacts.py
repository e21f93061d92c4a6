"""push/pull of registry versions as OCI artifacts through the real registry, between two homes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from jupyter_modelops.exceptions import ModelNotFoundError, ValidationError
from jupyter_modelops.images import build, pull, push
from jupyter_modelops.images.artifacts import ARTIFACT_LAYER_TYPE, ARTIFACT_TYPE

from .conftest import skopeo

# These tests build on base="scratch" on purpose: layouts, digests and pushes do not depend on a base,
# and the tests stay offline. Such an image cannot start (build() warns; test_scratch.py covers that).
pytestmark = pytest.mark.filterwarnings("ignore::jupyter_modelops.exceptions.ModelOpsWarning")


def _version():
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    import jupyter_modelops.registry as reg

    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 5))
    model = LogisticRegression().fit(X, (X[:, 1] > 0).astype(int))
    mv = reg.snapshot(model, "churn", data=X)
    onx = to_onnx(model, X[:1], options={id(model): {"zipmap": False}})
    reg.attach_artifact(mv.ref, "onnx", onx.SerializeToString(), metadata={"format": "onnx", "filename": "model.onnx"})
    return reg.get(mv.ref), model, X


def test_push_then_pull_on_another_machine(registry, tmp_path, monkeypatch):
    import jupyter_modelops.registry as reg

    mv, model, X = _version()
    sent = push(mv.ref, f"{registry.host}/models/churn", progress=False)
    assert sent.remote == f"{registry.host}/models/churn:1@{sent.digest}"
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/models/churn:1").stdout
    assert "sha256:" + hashlib.sha256(raw.encode()).hexdigest() == sent.digest
    manifest = json.loads(raw)
    assert manifest["artifactType"] == ARTIFACT_TYPE
    digests = {la["digest"] for la in manifest["layers"]}
    assert all(la["mediaType"] == ARTIFACT_LAYER_TYPE for la in manifest["layers"])
    assert digests == {"sha256:" + a["sha256"] for a in mv.artifacts.values()}  # one layer per file, its own sha256

    # an unchanged version sends no blob again
    mark = registry.mark()
    again = push(mv.ref, f"{registry.host}/models/churn", progress=False)
    reqs = registry.since(mark)
    assert again.digest == sent.digest
    assert not [r for r in reqs if r["method"] in ("POST", "PUT", "PATCH")]

    # another machine: a fresh home pulls it and gets the same model
    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "machine-b"))
    with pytest.raises(ModelNotFoundError):
        reg.get("churn:1")
    got = pull(f"{registry.host}/models/churn:1", progress=False)
    assert got.ref == "churn:1" and got.digest == sent.digest
    pulled = reg.get("churn:1")
    assert {r: a["sha256"] for r, a in pulled.artifacts.items()} == {r: a["sha256"] for r, a in mv.artifacts.items()}
    np.testing.assert_array_equal(reg.load("churn:1").predict_proba(X), model.predict_proba(X))
    assert reg.records("churn:1", kind="oci-pull")[-1]["data"]["digest"] == sent.digest
    # and can build its image from it
    img = build("churn:1", base="scratch", progress=False)
    assert img.labels["io.jupyter-modelops.artifact.onnx.sha256"] == mv.artifacts["onnx"]["sha256"]


def test_cli_push_and_pull(registry, tmp_path):
    mv, _, _ = _version()
    env = dict(os.environ)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_modelops.cli",
            "push",
            mv.ref,
            f"{registry.host}/cli/churn:v1",
            "--no-progress",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    digest = json.loads(out.stdout)["digest"]
    env["MODELOPS_HOME"] = str(tmp_path / "other-home")
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.cli", "pull", f"{registry.host}/cli/churn:v1", "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "churn:1" in out.stdout and digest in out.stdout


def test_pull_refuses_what_is_not_a_model(registry, session_model_dir):
    build(session_model_dir, base="scratch", push=f"{registry.host}/images/toy:1", progress=False)
    with pytest.raises(ValidationError, match="is not a model pushed by jupyter_modelops.push"):
        pull(f"{registry.host}/images/toy:1", progress=False)


def test_pull_of_a_missing_tag(registry):
    from jupyter_modelops.exceptions import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="404"):
        pull(f"{registry.host}/models/nothing:1", progress=False)


def test_magic_push_and_pull(registry):
    from IPython.core.error import UsageError

    from .test_dockerfile_and_faces import _shell

    mv, _, _ = _version()
    shell = _shell()
    sent = shell.run_line_magic("modelops", f"push {mv.ref} {registry.host}/magic/churn --no-progress")
    got = shell.run_line_magic("modelops", f"pull {registry.host}/magic/churn:1 --no-progress -o pulled")
    assert shell.user_ns["pulled"] is got and got.digest == sent.digest
    assert got.ref == "churn:1"  # the same files: the version this registry already has, not a new one
    assert "churn:1" in got._repr_html_() and sent.digest in got._repr_html_()
    with pytest.raises(UsageError, match="404"):
        shell.run_line_magic("modelops", f"pull {registry.host}/magic/churn:9 --no-progress")
