"""The Dockerfile context, the magic and CLI faces, and a build from a real registry version."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.images import build, dockerfile
from jupyter_modelops.images.oci import Layout

from .conftest import skopeo

# These tests build on base="scratch" on purpose: layouts, digests and pushes do not depend on a base,
# and the tests stay offline. Such an image cannot start (build() warns; test_scratch.py covers that).
pytestmark = pytest.mark.filterwarnings("ignore::jupyter_modelops.exceptions.ModelOpsWarning")


def _layer_names(layout: Path, digest: str) -> set[str]:
    blob = Layout(layout).blob_path(digest)
    with tarfile.open(blob) as tar:
        return {m.name for m in tar.getmembers() if m.isfile()}


def test_dockerfile_context_matches_the_image(session_model_dir, tmp_path):
    ctx = dockerfile(session_model_dir, tmp_path / "ctx", base="python:3.11-slim-bookworm")
    root = Path(ctx.path)
    text = (root / "Dockerfile").read_text()
    assert text == ctx.dockerfile
    img = build(session_model_dir, base="scratch", progress=False)
    config = json.loads(Layout(Path(img.layout)).read_blob(img.config_digest))["config"]
    assert "FROM docker.io/library/python:3.11-slim-bookworm" in text
    assert f"ENTRYPOINT {json.dumps(config['Entrypoint'])}" in text and f"CMD {json.dumps(config['Cmd'])}" in text
    assert "USER 65532:65532" in text and "WORKDIR /opt/model" in text and "EXPOSE 8080/tcp" in text
    assert '"io.jupyter-modelops.artifact.onnx.sha256"' in text
    for name in ("modelops-model.json", "model.onnx", "model.skops"):
        assert filecmp.cmp(session_model_dir / name, root / "model" / name, shallow=False)
    # deps/ holds exactly the files of the image's dependency layer
    dep = next(la for la in img.layers if la["role"] == "dependencies")
    in_layer = {n.removeprefix("opt/modelops/deps/") for n in _layer_names(Path(img.layout), dep["digest"])}
    in_ctx = {p.relative_to(root / "deps").as_posix() for p in (root / "deps").rglob("*") if p.is_file()}
    assert in_layer == in_ctx and any(n.startswith("onnxruntime/") for n in in_ctx)
    assert (root / "app" / "jupyter_modelops" / "serving" / "__main__.py").is_file()
    assert set((root / "requirements.txt").read_text().split()) == set(img.requirements)


def test_dockerfile_refuses_a_full_folder_and_a_layout_base(session_model_dir, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    with pytest.raises(ValidationError, match="not empty"):
        dockerfile(session_model_dir, tmp_path / "full")
    assert (tmp_path / "full" / "x").read_text() == "keep me"
    with pytest.raises(ValidationError, match="OCI layout"):
        dockerfile(session_model_dir, tmp_path / "ctx", base=f"oci:{tmp_path}")


def test_gpu_profile_swaps_the_runtime_and_base():
    from types import SimpleNamespace

    from jupyter_modelops.images.build import DEFAULT_BASE, DEFAULT_GPU_BASE, choose_base
    from jupyter_modelops.images.deps import requirements_for

    assert choose_base(DEFAULT_BASE, "gpu-t4") == (DEFAULT_GPU_BASE, True)
    assert choose_base(DEFAULT_BASE, SimpleNamespace(name="big", gpu=1)) == (DEFAULT_GPU_BASE, True)
    assert choose_base("my/base:1", "gpu-t4") == ("my/base:1", True)
    assert choose_base(DEFAULT_BASE, "cpu-small") == (DEFAULT_BASE, False)
    from jupyter_modelops.deployment.profiles import HardwareProfile

    t4 = HardwareProfile(name="t4-node", limits={"nvidia.com/gpu": 1})
    assert choose_base(DEFAULT_BASE, t4) == (DEFAULT_GPU_BASE, True)
    gpu = requirements_for("onnx", gpu=True)
    cpu = requirements_for("onnx")
    assert any(r.startswith("onnxruntime-gpu") for r in gpu) and not any(r.startswith("onnxruntime==") for r in gpu)
    assert any(r.startswith("onnxruntime==") for r in cpu)
    assert "cuda" in DEFAULT_GPU_BASE


def _shell():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "jupyter_modelops")
    return shell


def test_magic_build_and_errors(session_model_dir, registry):
    from IPython.core.error import UsageError

    shell = _shell()
    img = shell.run_line_magic(
        "modelops", f"build {session_model_dir} --base scratch --no-progress --push {registry.host}/magic/toy -o img"
    )
    assert shell.user_ns["img"] is img and img.pushed.startswith(f"{registry.host}/magic/toy:1@sha256:")
    html = img._repr_html_()
    assert img.digest in html and "dependencies" in html and "reused" in html
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("modelops", f"build {session_model_dir} --base scratch --push 'Bad Ref'")
    assert "malformed" in str(info.value) and "Traceback" not in str(info.value)


def test_cli_build_json_and_exit_codes(session_model_dir, tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "jupyter_modelops.cli",
        "build",
        str(session_model_dir),
        "--base",
        "scratch",
        "--no-progress",
        "--json",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["digest"].startswith("sha256:") and [la["role"] for la in doc["layers"]] == [
        "dependencies",
        "app",
        "model",
    ]
    bad = subprocess.run(cmd[:-1] + ["--push", "127.0.0.1:5000/UPPER"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "malformed repository" in bad.stderr
    text = subprocess.run(cmd[:-1], capture_output=True, text=True, timeout=900).stdout
    assert "3 reused" in text and "dependencies" in text


def test_build_from_a_registry_version_records_the_image(registry, tmp_path):
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    import jupyter_modelops.registry as reg

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    mv = reg.snapshot(model, "churn", data=X)
    with pytest.raises(ValidationError, match="no exported artifact.*export"):
        build(mv.ref, base="scratch", progress=False)
    onx = to_onnx(model, X[:1], options={id(model): {"zipmap": False}})
    reg.attach_artifact(mv.ref, "onnx", onx.SerializeToString(), metadata={"format": "onnx", "filename": "model.onnx"})
    img = build("churn:1", base="scratch", push=f"{registry.host}/churn", progress=False)
    assert img.name == "churn" and img.version == 1 and img.tag == "1" and img.layout_name == "churn:1"
    recs = reg.records("churn:1", kind="image")
    assert recs and recs[-1]["data"]["digest"] == img.digest and recs[-1]["data"]["pushed"] is True
    assert recs[-1]["data"]["reference"] == img.pushed
    local = build("churn:1", base="scratch", tag="local", progress=False)
    rec = reg.records("churn:1", kind="image")[-1]["data"]
    assert (
        rec["pushed"] is False
        and rec["reference"] == f"churn:local@{local.digest}"
        and rec["location"] == local.location
    )
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/churn:1").stdout)
    assert info["Digest"] == img.digest


def test_a_builder_waiting_for_the_dependency_cache_reuses_the_entry_another_process_completed(tmp_path, monkeypatch):
    """Concurrent builds share the dependency-layer cache: one builds an entry, the others wait and reuse it.

    Before, a builder that found no entry, then saw another process's fresh entry appear, removed it as
    "damaged" while that process was still reading it (the build test failed under load)."""
    import fcntl
    import io
    import os
    import threading

    from jupyter_modelops.images import deps
    from jupyter_modelops.images.oci import tree_entries, write_layer

    monkeypatch.setenv("MODELOPS_IMAGE_CACHE", str(tmp_path / "cache"))
    reqs = ["this is not a requirement pip could resolve"]  # pip fails at once if the builder runs it
    key = deps.cache_key(reqs, "linux/amd64", "3.11")
    folder = deps.cache_root() / "deps" / key
    folder.parent.mkdir(parents=True)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.py").write_text("x = 1\n")
    buf = io.BytesIO()
    diff_id, digest, size = write_layer(tree_entries(tmp_path / "src", "opt/deps"), buf, compress=True)
    ready = tmp_path / "ready"
    ready.mkdir()
    (ready / "layer.tar.gz").write_bytes(buf.getvalue())
    (ready / "layer.json").write_text(json.dumps({"digest": digest, "diff_id": diff_id, "size": size, "files": 2}))
    got: list = []
    with open(folder.parent / f".{key}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another builder is at work on this entry
        waiter = threading.Thread(
            target=lambda: got.append(deps.dependency_layer(reqs, platform="linux/amd64", python_version="3.11"))
        )
        waiter.start()
        waiter.join(1.0)
        assert waiter.is_alive() and got == []  # it waits instead of running pip beside the other builder
        os.rename(ready, folder)  # the other builder completes the entry...
        fcntl.flock(lock, fcntl.LOCK_UN)  # ...and lets go
    waiter.join(60)
    assert not waiter.is_alive()
    layer, blob = got[0]
    assert layer.reused and layer.descriptor.digest == digest and blob == folder / "layer.tar.gz" and blob.is_file()
