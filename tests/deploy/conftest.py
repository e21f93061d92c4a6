"""Fixtures of the deploy tests: a fake API server, model versions, the pinned KServe CRD."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8s_fake import FakeKube

# the pinned KServe CRD and samples, vendored with their licence (see tests/data/kserve/README.md)
KSERVE_DIR = Path(__file__).resolve().parents[1] / "data" / "kserve"
IMAGE = "registry.example/churn@sha256:" + "a" * 64


@pytest.fixture(autouse=True)
def no_real_cluster(monkeypatch):
    """Tests never reach a real cluster: not the one a CI pod runs in, not the user's kubeconfig."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    monkeypatch.setenv("KUBECONFIG", "kubeconfig-of-the-test-only")


@pytest.fixture
def fake_kube(tmp_path):
    """A started FakeKube (with KServe) and a kubeconfig whose context 'fake' points at it (``.cfg``)."""
    with FakeKube(kserve=True) as kube:
        kube.cfg = str(kube.kubeconfig(tmp_path / "kubeconfig"))
        yield kube
    # the fake's own failures (its request handlers and controllers) must not hide behind a passing test
    assert [r for r in kube.requests if r[0] in ("SERVER-ERROR", "CONTROLLER-ERROR")] == []


@pytest.fixture
def refs():
    """Two versions of model 'churn' in the test's registry (pickled dicts: deploy never loads them)."""
    from jupyter_modelops import registry

    return [registry.snapshot({"w": i}, "churn", trusted=True).ref for i in (1, 2)]


@pytest.fixture(scope="session")
def kserve_dir() -> Path:
    assert (KSERVE_DIR / "inferenceservice-crd.yaml").is_file(), "tests/data/kserve/ is part of the repository"
    return KSERVE_DIR
