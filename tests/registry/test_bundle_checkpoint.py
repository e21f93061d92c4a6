"""Bundles between two registries, and torch training checkpoints."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ModelNotFoundError, ValidationError
from jupyter_modelops.registry import EnvironmentMismatchWarning, export_bundle, import_bundle


def test_bundle_moves_versions_between_registries(sk_pipeline, churn_data, tmp_path, monkeypatch):
    X_train, X_test, _, _ = churn_data
    mo.snapshot(sk_pipeline, "churn", data=X_train, params={"C": 1.0}, alias="production")
    mo.snapshot(sk_pipeline, "churn", notes="same bytes, second version")
    mo.attach_artifact("churn:2", "onnx", b"pretend onnx", metadata={"format": "onnx"})
    mo.add_record("churn:1", "deployment", {"target": "local"})
    info = export_bundle(["churn:1", "churn:2"], tmp_path / "churn.mobundle")
    assert info.refs == ["churn:1", "churn:2"] and info.size > 0
    with tarfile.open(tmp_path / "churn.mobundle") as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json"
    shared = mo.get("churn:1").artifacts["model"]["sha256"]
    assert names.count(f"blobs/{shared}") == 1  # identical files travel once

    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "other-home"))
    with pytest.raises(ModelNotFoundError):
        mo.get("churn")
    mo.snapshot(sk_pipeline, "churn")  # the target registry already has churn:1
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error", EnvironmentMismatchWarning)  # same environment: no warning
        got = import_bundle(tmp_path / "churn.mobundle")
    assert [v.ref for v in got.versions] == ["churn:2", "churn:3"] and got.warnings == []
    first = mo.get("churn:2")
    assert first.params == {"C": 1.0} and first.meta["origin"]["ref"] == "churn:1"
    assert mo.get("churn:3").artifacts["onnx"]["format"] == "onnx"
    assert [r["data"]["target"] for r in mo.records("churn:2", kind="deployment")] == ["local"]
    np.testing.assert_array_equal(mo.load("churn:2").predict_proba(X_test), sk_pipeline.predict_proba(X_test))
    renamed = import_bundle(tmp_path / "churn.mobundle", name="churn-copy")
    assert renamed.refs == ["churn-copy:1", "churn-copy:2"]


def _rewrite_manifest(src, dst, change):
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for m in tin:
            data = tin.extractfile(m).read()
            if m.name == "manifest.json":
                doc = json.loads(data)
                change(doc)
                data = json.dumps(doc).encode()
            m.size = len(data)
            tout.addfile(m, io.BytesIO(data))


def test_import_warns_of_environment_mismatch(sk_pipeline, tmp_path):
    mo.snapshot(sk_pipeline, "churn")
    export_bundle("churn", tmp_path / "a.mobundle")

    def older(doc):
        meta = doc["versions"][0]["meta"]
        meta["frameworks"]["scikit-learn"] = "0.24.2"
        meta["frameworks"]["notapackage"] = "1.0"
        meta["environment"]["python"] = "3.6.15"

    _rewrite_manifest(tmp_path / "a.mobundle", tmp_path / "b.mobundle", older)
    with pytest.warns(EnvironmentMismatchWarning) as caught:
        got = import_bundle(tmp_path / "b.mobundle")
    text = " ".join(got.warnings)
    assert "scikit-learn 0.24.2" in text and "notapackage 1.0 to load" in text and "Python 3.6.15" in text
    assert len(caught) == 3


def test_corrupted_or_foreign_bundles_import_nothing(sk_pipeline, tmp_path):
    mo.snapshot(sk_pipeline, "churn")
    export_bundle("churn", tmp_path / "ok.mobundle")
    raw = bytearray((tmp_path / "ok.mobundle").read_bytes())
    with tarfile.open(tmp_path / "ok.mobundle") as tar:
        blob = next(m for m in tar if m.name.startswith("blobs/"))
    raw[blob.offset_data + blob.size // 2] ^= 0xFF  # inside a blob
    (tmp_path / "bad.mobundle").write_bytes(bytes(raw))
    with pytest.raises(ValidationError, match="corrupted"):
        import_bundle(tmp_path / "bad.mobundle")
    assert mo.versions("churn").numbers() == [1]
    evil = tmp_path / "evil.mobundle"
    with tarfile.open(evil, "w") as tar:
        data = b"x"
        ti = tarfile.TarInfo("../../escape.txt")
        ti.size = 1
        tar.addfile(ti, io.BytesIO(data))
    with pytest.raises(ValidationError, match="not manifest.json"):
        import_bundle(evil)
    assert not (tmp_path.parent / "escape.txt").exists()
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(ValidationError, match="not a model bundle"):
        import_bundle(tmp_path / "plain.txt")
    with pytest.raises(ValidationError, match="does not exist"):
        import_bundle(tmp_path / "missing.mobundle")


def test_pickle_from_a_bundle_needs_trust(tmp_path, monkeypatch):
    mo.snapshot({"k": 1}, "blob", trusted=True)
    export_bundle("blob", tmp_path / "p.mobundle")
    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "h2"))
    import_bundle(tmp_path / "p.mobundle")
    with pytest.raises(ValidationError, match="trusted=True"):
        mo.load("blob")
    assert mo.load("blob", trusted=True) == {"k": 1}


def test_checkpoint_and_restore(tmp_path):
    import torch

    from registry.nets import SmallNet

    torch.manual_seed(0)
    net = SmallNet(n_in=4, hidden=8)
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    x, y = torch.randn(64, 4), torch.randint(0, 2, (64,))
    for step in range(3):
        opt.zero_grad()
        torch.nn.functional.nll_loss(torch.log(net(x)), y).backward()
        opt.step()
        mv = mo.checkpoint(net, "trainer", step=step, optimizer=opt, extra={"loss": 0.5 - step / 10})
    assert mv.version == 3 and mv.tags["step"] == "2" and set(mv.artifacts) == {"model", "optimizer"}
    assert mv.parent == "trainer:2"
    with torch.no_grad():
        expected = net(x)
    fresh = SmallNet(n_in=4, hidden=8)
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=0.01)
    ck = mo.restore_checkpoint("trainer", model=fresh, optimizer=fresh_opt)
    assert ck.step == 2 and ck.extra == {"loss": pytest.approx(0.3)} and ck.model is fresh
    with torch.no_grad():
        assert torch.equal(fresh(x), expected)
    assert fresh_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    # training continues identically from the restored state
    for m, o in ((net, opt), (fresh, fresh_opt)):
        o.zero_grad()
        torch.nn.functional.nll_loss(torch.log(m(x)), y).backward()
        o.step()
    with torch.no_grad():
        assert torch.equal(net(x), fresh(x))
    rebuilt = mo.restore_checkpoint("trainer:1")
    assert rebuilt.step == 0 and type(rebuilt.model).__name__ == "SmallNet"
    # non-JSON extra state goes through torch.save
    mo.checkpoint(net, "trainer", step=9, extra={"ema": torch.ones(3)})
    assert torch.equal(mo.restore_checkpoint("trainer").extra["ema"], torch.ones(3))
    with pytest.raises(ValidationError, match="does not fit"):
        mo.restore_checkpoint("trainer:1", model=SmallNet(n_in=5, hidden=8))
    with pytest.raises(ValidationError, match="step"):
        mo.checkpoint(net, "trainer", step=-1)
    with pytest.raises(ValidationError, match="torch.nn.Module"):
        mo.checkpoint(object(), "trainer", step=1)
    mo.snapshot(net, "plain")
    with pytest.raises(ValidationError, match="not a checkpoint"):
        mo.restore_checkpoint("plain")
