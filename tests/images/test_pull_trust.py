"""Pulled versions are not trusted, and pulling the same artifact twice creates nothing new.

A real OCI registry (Debian's docker-registry) on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ValidationError
from jupyter_modelops.images import pull, push
from jupyter_modelops.images.artifacts import ARTIFACT_LAYER_TYPE, _checked_layers

TESTS = Path(__file__).resolve().parents[1]


def test_pulling_twice_gives_the_same_version_and_one_record(registry, tmp_path, monkeypatch):
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=100, n_features=4, random_state=0)
    mv = mo.snapshot(LogisticRegression().fit(X, y), "churn")
    sent = push(mv.ref, f"{registry.host}/models/churn", progress=False)
    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "machine-b"))
    first = pull(f"{registry.host}/models/churn:1", progress=False)
    again = pull(f"{registry.host}/models/churn:1", progress=False)
    assert first.ref == again.ref == "churn:1"
    assert mo.versions("churn").numbers() == [1]
    assert [r["data"]["digest"] for r in mo.records("churn:1", kind="oci-pull")] == [sent.digest]
    pulled = mo.get("churn:1")
    assert not pulled.trusted and pulled.origin == "bundle"
    assert mo.load("churn:1").predict(X[:3]).shape == (3,)  # skops' default types need no trust


def test_a_pulled_pickle_is_not_loaded_until_trusted(registry, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    from registry.sideeffect import ReduceMarker

    marker = tmp_path / "pulled-pickle-ran"
    mv = mo.snapshot(ReduceMarker(marker), "evil", flavor="joblib")
    push(mv.ref, f"{registry.host}/models/evil", progress=False)
    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "machine-b"))
    pull(f"{registry.host}/models/evil:1", progress=False)
    with pytest.raises(ValidationError, match="came from outside"):
        mo.load("evil:1")
    assert not marker.exists()
    mo.trust("evil:1")
    mo.load("evil:1")
    assert marker.exists()


@pytest.mark.parametrize(
    "layer",
    [
        {"mediaType": ARTIFACT_LAYER_TYPE, "digest": "sha256:../../escape", "size": 1},
        {"mediaType": ARTIFACT_LAYER_TYPE, "digest": "sha256:" + "a" * 64 + "\n", "size": 1},
        {"mediaType": ARTIFACT_LAYER_TYPE, "digest": "sha256:" + "a" * 64, "size": -1},
    ],
)
def test_layer_descriptors_of_a_pulled_manifest_are_checked(layer):
    manifest = {"config": {"digest": "sha256:" + "b" * 64}, "layers": [layer]}
    with pytest.raises(ValidationError, match="expected sha256: with 64 hex digits"):
        _checked_layers(manifest, "127.0.0.1:5000/models/x:1")


def test_pulled_manifests_over_the_limits_are_refused(monkeypatch):
    layers = [{"mediaType": ARTIFACT_LAYER_TYPE, "digest": f"sha256:{i:064x}", "size": 10} for i in range(3)]
    monkeypatch.setenv("MODELOPS_BUNDLE_MAX_FILES", "2")
    with pytest.raises(ValidationError, match="more than the limit of 2"):
        _checked_layers({"config": {"digest": "sha256:" + "b" * 64}, "layers": layers}, "r/x:1")
    monkeypatch.delenv("MODELOPS_BUNDLE_MAX_FILES")
    monkeypatch.setenv("MODELOPS_BUNDLE_MAX_BYTES", "29")
    with pytest.raises(ValidationError, match="30 bytes of files, more than the limit of 29"):
        _checked_layers({"config": {"digest": "sha256:" + "b" * 64}, "layers": layers}, "r/x:1")
