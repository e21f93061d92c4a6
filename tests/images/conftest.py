"""Fixtures of the image tests: a real registry on loopback, a model directory, a Python base image.

Slow things are cached for the session and across sessions in
``$MODELOPS_TEST_CACHE`` (default ``~/.cache/jupyter-modelops-tests``): the
dependency layer (pip for the target platform) and the debootstrap base.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from realparts import free_port, need_tool, require_real

from ._registry import Registry


def test_cache() -> Path:
    root = Path(os.environ.get("MODELOPS_TEST_CACHE") or Path.home() / ".cache" / "jupyter-modelops-tests")
    root.mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(autouse=True)
def _image_cache(monkeypatch):
    """Share the dependency-layer cache between tests (pip resolves it once per machine)."""
    monkeypatch.setenv("MODELOPS_IMAGE_CACHE", str(test_cache() / "images"))


@pytest.fixture
def start_registry(tmp_path):
    """Factory: ``start_registry(users={"alice": "pw"})`` -> a running :class:`Registry`; all stopped after."""
    exe = need_tool("docker-registry", "the real OCI registry the image tests push to")
    started: list[Registry] = []

    def start(*, users: dict[str, str] | None = None) -> Registry:
        htpasswd = need_tool("htpasswd", "htpasswd files for registry auth") if users else None
        reg = Registry(exe, tmp_path / f"registry{len(started)}", free_port(), users=users, htpasswd=htpasswd)
        started.append(reg)
        return reg

    yield start
    for reg in started:
        reg.stop()


@pytest.fixture
def registry(start_registry):
    return start_registry()


@pytest.fixture
def docker_config(tmp_path, monkeypatch):
    """An empty ``$DOCKER_CONFIG`` folder; tests write ``config.json`` into it."""
    d = tmp_path / "docker-config"
    d.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(d))
    return d


def write_model_dir(
    path: Path, *, with_onnx: bool = True, name: str = "toy", version: int = 1, weights_mb: int = 0
) -> Path:
    """A model directory as the registry writes it: a small logistic regression exported to ONNX."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    path.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    if with_onnx:
        from skl2onnx import to_onnx

        onx = to_onnx(model, X[:1].astype(np.float64), options={id(model): {"zipmap": False}})
        data = onx.SerializeToString()
        (path / "model.onnx").write_bytes(data)
        artifacts["onnx"] = {"path": "model.onnx", "sha256": hashlib.sha256(data).hexdigest(), "format": "onnx"}
    import skops.io as sio

    native = sio.dumps(model)
    (path / "model.skops").write_bytes(native)
    artifacts["native"] = {"path": "model.skops", "sha256": hashlib.sha256(native).hexdigest(), "format": "skops"}
    if weights_mb:
        blob = np.random.default_rng(1).bytes(weights_mb << 20)
        (path / "weights.bin").write_bytes(blob)
        artifacts["weights"] = {"path": "weights.bin", "sha256": hashlib.sha256(blob).hexdigest(), "format": "raw"}
    spec = {
        "schema": 1,
        "name": name,
        "version": version,
        "flavor": "sklearn",
        "signature": {
            "inputs": [{"name": "X", "datatype": "FP64", "shape": [-1, 4]}],
            "outputs": [
                {"name": "label", "datatype": "INT64", "shape": [-1]},
                {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
            ],
            "feature_names": ["a", "b", "c", "d"],
        },
        "artifacts": artifacts,
    }
    (path / "modelops-model.json").write_text(json.dumps(spec, indent=2))
    return path


@pytest.fixture(scope="session")
def session_model_dir(tmp_path_factory) -> Path:
    return write_model_dir(tmp_path_factory.mktemp("model") / "toy")


@pytest.fixture(scope="session")
def python_base(tmp_path_factory) -> Path:
    """An OCI layout holding Debian bookworm minbase + python3 (3.11), made with debootstrap once and cached."""
    from jupyter_modelops.images.oci import Layout, layout_from_rootfs

    if os.geteuid() != 0:
        msg = "the end-to-end image test needs root (debootstrap, chroot)"
        if require_real():
            pytest.fail(msg)
        pytest.skip(msg)
    cache = test_cache() / "bookworm-python3"
    layout = cache / "oci-slim"
    if (layout / "index.json").is_file() and Layout(layout).tags():
        return layout
    rootfs = cache / "rootfs"
    if not (rootfs / "usr" / "bin" / "python3").exists():
        exe = need_tool("debootstrap", "a Python base image for the end-to-end test")
        tmp = cache / "rootfs.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [exe, "--variant=minbase", "--include=python3", "bookworm", str(tmp)], check=True, capture_output=True
        )
        shutil.rmtree(rootfs, ignore_errors=True)
        tmp.rename(rootfs)
    _slim(rootfs)
    partial = cache / "oci.partial"
    shutil.rmtree(partial, ignore_errors=True)
    layout_from_rootfs(rootfs, partial, "bookworm-python3")
    shutil.rmtree(layout, ignore_errors=True)
    partial.rename(layout)
    return layout


def _slim(rootfs: Path) -> None:
    """Drop what slim images drop (downloaded .debs, apt lists, docs, man pages, locales): ~140 MB less to move."""
    for rel in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale"):
        d = rootfs / rel
        if not d.is_dir():
            continue
        for child in d.iterdir():
            if child.is_dir() and not child.is_symlink():
                if rel == "var/cache/apt/archives" and child.name == "partial":
                    continue
                shutil.rmtree(child)
            elif child.name != "lock":
                child.unlink()


def skopeo(*args: str) -> subprocess.CompletedProcess:
    exe = need_tool("skopeo", "reads back what was pushed")
    return subprocess.run([exe, *args], capture_output=True, text=True, check=True)


def python() -> str:
    return sys.executable
