"""The registry's core API with real models: snapshot, get, load, aliases, files, records."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ConflictError, ModelNotFoundError, ModelOpsError, ValidationError
from jupyter_modelops.registry import alias_history, load_model_dir
from jupyter_modelops.registry import store as store_mod


class FakeReport:
    """Duck-typed like EvaluationReport: only to_dict() is read."""

    def __init__(self, f1, low, high):
        self._d = {
            "task": "binary",
            "n": 171,
            "metrics": {"f1_score": {"value": f1, "low": low, "high": high}, "accuracy_score": 0.9},
        }

    def to_dict(self):
        return self._d


def blob_files(home):
    return sorted(p for p in (home / "registry" / "blobs").rglob("*") if p.is_file())


def test_sklearn_pipeline_round_trip_with_metadata(sk_pipeline, churn_data):
    X_train, X_test, _, _ = churn_data
    mv = mo.snapshot(
        sk_pipeline,
        "churn",
        data=X_train,
        report=FakeReport(0.95, 0.92, 0.97),
        params={"C": 1.0},
        tags=["baseline"],
        notes="first try",
    )
    assert (mv.name, mv.version, mv.ref, mv.flavor) == ("churn", 1, "churn:1", "sklearn")
    assert mv.signature["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 30]}]
    assert mv.signature["feature_names"] == [str(c) for c in X_train.columns]
    assert {o["name"] for o in mv.signature["outputs"]} == {"predict", "predict_proba"}
    assert mv.metrics["f1_score"] == {"value": 0.95, "low": 0.92, "high": 0.97}
    assert mv.metrics["accuracy_score"]["value"] == 0.9
    assert mv.params == {"C": 1.0} and mv.tags == {"baseline": ""} and mv.notes == "first try"
    assert mv.data["shape"] == list(X_train.shape) and len(mv.data["sha256"]) == 64
    assert len(mv.sample_input["data"]) == 5 and mv.sample_input["feature_names"][0] == str(X_train.columns[0])
    env = mv.environment
    assert env["packages"]["scikit-learn"] and env["python"].count(".") == 2
    assert mv.meta["frameworks"]["skops"]
    assert mv.artifacts["model"]["format"] == "skops"
    loaded = mo.load("churn")
    assert type(loaded) is type(sk_pipeline)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), sk_pipeline.predict_proba(X_test))
    html = mv._repr_html_()
    assert "churn:1" in html and "f1_score" in html and "<script" not in html


def test_versions_refs_and_aliases(sk_pipeline, churn_data):
    X_train = churn_data[0]
    for _ in range(3):
        mo.snapshot(sk_pipeline, "churn", data=X_train)
    assert mo.get("churn").version == 3
    assert mo.get("churn:2").version == 2
    mo.alias("churn:2", "production")
    assert mo.get("churn@production").version == 2
    assert mo.get("churn@latest").version == 3
    mo.alias("churn:3", "production")  # moves
    assert mo.get("churn@production").version == 3
    assert mo.get("churn:3").aliases == ["production"] and mo.get("churn:2").aliases == []
    history = alias_history("churn")
    assert [(h["previous"], h["version"]) for h in history] == [(None, 2), (2, 3)]
    vl = mo.versions("churn")
    assert vl.numbers() == [3, 2, 1] and vl.rows[0]["aliases"] == ["production"]
    assert "<table" in vl._repr_html_() and "Alias history" in vl._repr_html_()  # with or without inline styles
    ml = mo.models()
    assert ml.names() == ["churn"] and ml.rows[0]["versions"] == 3 and ml.rows[0]["aliases"] == {"production": 3}
    assert "churn" in ml._repr_html_()
    snap = mo.snapshot(sk_pipeline, "churn", alias="staging")
    assert snap.aliases == ["staging"] and snap.parent == "churn:3"


def test_identical_model_is_stored_once(sk_pipeline, modelops_home):
    a = mo.snapshot(sk_pipeline, "churn")
    before = blob_files(modelops_home)
    b = mo.snapshot(sk_pipeline, "churn-copy")
    assert a.artifacts["model"]["sha256"] == b.artifacts["model"]["sha256"]
    assert blob_files(modelops_home) == before


def test_lineage_follows_load(sk_pipeline):
    mo.snapshot(sk_pipeline, "base")
    model = mo.load("base:1")
    child = mo.snapshot(model, "tuned")
    assert child.parent == "base:1"
    assert mo.snapshot(sk_pipeline, "tuned").parent == "tuned:1"


def test_corrupted_artifact_is_refused(sk_pipeline, modelops_home):
    mv = mo.snapshot(sk_pipeline, "churn")
    blob = modelops_home / "registry" / "blobs" / mv.artifacts["model"]["sha256"][:2] / mv.artifacts["model"]["sha256"]
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(ModelOpsError, match="corrupted"):
        mo.load("churn")
    with pytest.raises(ModelOpsError, match="corrupted"):
        mo.materialize("churn", modelops_home.parent / "out")
    blob.unlink()
    with pytest.raises(ModelOpsError, match="missing"):
        mo.artifact_path("churn", "model")


def test_skops_trusts_exactly_what_it_recorded(churn_data, modelops_home):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from registry.skmodels import ClippedScaler

    X_train, X_test, y_train, _ = churn_data
    model = make_pipeline(ClippedScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    mv = mo.snapshot(model, "custom")
    assert mv.artifacts["model"]["metadata"]["trusted_types"] == ["registry.skmodels.ClippedScaler"]
    np.testing.assert_array_equal(mo.load("custom").predict(X_test), model.predict(X_test))
    # a registry entry that does not list the type (as if the file had been swapped) is refused
    s = store_mod.default_store()
    with s.write() as con:
        con.execute("UPDATE artifacts SET meta = ? WHERE role = 'model'", (json.dumps({"trusted_types": []}),))
    with pytest.raises(ModelOpsError, match="ClippedScaler"):
        mo.load("custom")


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", "a\\b", ".hidden", "-x", "a..b", "x" * 129, "sp ace", "é"])
def test_bad_names_are_refused(sk_pipeline, bad, modelops_home):
    with pytest.raises(ValidationError, match="not valid|must be"):
        mo.snapshot(sk_pipeline, bad)
    assert not any(p.name.startswith("etc") for p in modelops_home.rglob("*"))


@pytest.mark.parametrize("ref", ["churn:0", "churn:x", "churn:-1", "churn@", "churn@12", "../x:1"])
def test_bad_refs_are_refused(ref):
    with pytest.raises(ValidationError):
        mo.get(ref)


def test_unknown_refs_suggest_close_names(sk_pipeline):
    mo.snapshot(sk_pipeline, "churn")
    mo.alias("churn:1", "production")
    with pytest.raises(ModelNotFoundError, match="Did you mean: churn"):
        mo.get("chrun")
    with pytest.raises(ModelNotFoundError, match="has no version 7; it has versions 1"):
        mo.get("churn:7")
    with pytest.raises(ModelNotFoundError, match="Did you mean: production"):
        mo.get("churn@prodution")
    with pytest.raises(ModelNotFoundError):
        mo.versions("nothing")


def test_delete_refuses_aliased_and_frees_files(sk_pipeline, churn_data, modelops_home):
    from sklearn.tree import DecisionTreeClassifier

    X_train, _, y_train, _ = churn_data
    mo.snapshot(sk_pipeline, "churn", alias="production")
    tree = mo.snapshot(DecisionTreeClassifier(random_state=0).fit(X_train, y_train), "churn")
    with pytest.raises(ValidationError, match="needs a version"):
        mo.delete("churn")
    with pytest.raises(ConflictError, match="production"):
        mo.delete("churn:1")
    assert mo.get("churn:1").version == 1
    tree_blob = tree.artifacts["model"]["sha256"]
    out = mo.delete("churn:2")
    assert out["deleted"] == "churn:2" and out["freed_bytes"] > 0
    assert tree_blob not in {p.name for p in blob_files(modelops_home)}
    out = mo.delete("churn@production", force=True)
    assert out["aliases_removed"] == ["production"]
    with pytest.raises(ModelNotFoundError):
        mo.get("churn")
    assert mo.snapshot(sk_pipeline, "churn").version == 3  # numbers are never reused


def test_delete_removes_the_versions_records_only(sk_pipeline):
    mo.snapshot(sk_pipeline, "churn")
    mo.snapshot(sk_pipeline, "churn")
    mo.snapshot(sk_pipeline, "other")
    mo.add_record("churn:1", "export", {"format": "onnx"})
    mo.add_record("churn:1", "deployment", {"target": "local"})
    mo.add_record("churn:2", "export", {"format": "onnx"})
    mo.add_record("other:1", "export", {"format": "onnx"})
    out = mo.delete("churn:1")
    assert out["records_removed"] == 2
    assert [r["ref"] for r in mo.records()] == ["churn:2", "other:1"]
    assert mo.delete("churn:2")["records_removed"] == 1 and mo.records("churn") == []
    mo.snapshot(sk_pipeline, "churn")  # churn:3 starts with a clean history
    assert mo.records("churn:3") == []


def test_attach_artifact_and_materialize(sk_pipeline, churn_data, tmp_path):
    X_train = churn_data[0]
    mo.snapshot(sk_pipeline, "churn", data=X_train)
    src = tmp_path / "model.onnx"
    src.write_bytes(b"not really onnx but bytes")
    mv = mo.attach_artifact("churn", "onnx", src, metadata={"opset": 17})
    assert mv.artifacts["onnx"]["format"] == "onnx" and mv.artifacts["onnx"]["metadata"] == {"opset": 17}
    mv = mo.attach_artifact("churn:1", "onnx-int8", b"\x00\x01", metadata={"format": "onnx", "filename": "int8.onnx"})
    assert mo.artifact_path("churn", "onnx-int8").read_bytes() == b"\x00\x01"
    with pytest.raises(ConflictError):
        mo.attach_artifact("churn", "model", b"x")
    with pytest.raises(ValidationError):
        mo.attach_artifact("churn", "Bad Role", b"x")
    with pytest.raises(ModelNotFoundError, match="Did you mean: onnx"):
        mo.artifact_path("churn", "onx")
    d = mo.materialize("churn", tmp_path / "model-dir")
    doc = json.loads((d / "modelops-model.json").read_text())
    assert doc["schema"] == 1 and doc["name"] == "churn" and doc["version"] == 1 and doc["flavor"] == "sklearn"
    assert doc["signature"]["inputs"][0] == {"name": "input", "datatype": "FP64", "shape": [-1, 30]}
    assert len(doc["signature"]["feature_names"]) == 30
    assert set(doc["artifacts"]) == {"model", "drift-profile", "sample", "onnx", "onnx-int8"}
    import hashlib

    for a in doc["artifacts"].values():
        assert hashlib.sha256((d / a["path"]).read_bytes()).hexdigest() == a["sha256"]
    assert doc["artifacts"]["model"]["format"] == "skops" and doc["artifacts"]["onnx-int8"]["path"] == "int8.onnx"
    again = load_model_dir(d)
    np.testing.assert_array_equal(again.predict(X_train), sk_pipeline.predict(X_train))


def test_records(sk_pipeline):
    mo.snapshot(sk_pipeline, "churn")
    mo.snapshot(sk_pipeline, "churn")
    r = mo.add_record("churn:1", "export", {"format": "onnx", "parity": 1e-7})
    assert r["ref"] == "churn:1" and r["kind"] == "export" and r["data"]["format"] == "onnx"
    mo.add_record("churn", "deployment", {"target": "local"})
    assert [x["ref"] for x in mo.records("churn")] == ["churn:1", "churn:2"]
    assert [x["kind"] for x in mo.records("churn:2")] == ["deployment"]
    assert [x["kind"] for x in mo.records(kind="export")] == ["export"]
    with pytest.raises(ValidationError):
        mo.add_record("churn", "export", {"x": object()})
    with pytest.raises(ValidationError):
        mo.add_record("churn", "export", ["not", "a", "dict"])


class Custom:
    def __init__(self, k):
        self.k = k

    def predict(self, X):
        return np.asarray(X).sum(axis=1) * self.k


def test_pickle_only_when_trusted():
    with pytest.raises(ValidationError, match="trusted=True"):
        mo.snapshot(Custom(2), "custom")
    with pytest.raises(ValidationError, match="trusted=True"):
        mo.snapshot(Custom(2), "custom", flavor="pickle")
    mv = mo.snapshot(Custom(2), "custom", trusted=True, data=np.ones((3, 2)))
    assert mv.flavor == "pickle" and mv.meta["trusted"] is True
    assert mv.signature["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 2]}]
    assert mo.load("custom").predict([[1.0, 2.0]])[0] == 6.0


def test_joblib_on_request(sk_pipeline, churn_data):
    X_test = churn_data[1]
    mv = mo.snapshot(sk_pipeline, "churn", flavor="joblib")
    assert mv.flavor == "joblib" and mv.artifacts["model"]["format"] == "joblib"
    np.testing.assert_array_equal(mo.load("churn").predict_proba(X_test), sk_pipeline.predict_proba(X_test))
    with pytest.raises(ValidationError, match="Unknown flavor 'jobib'. Did you mean: joblib"):
        mo.snapshot(sk_pipeline, "churn", flavor="jobib")


def test_diff_metrics_params_environment(sk_pipeline):
    mo.snapshot(sk_pipeline, "churn", report=FakeReport(0.80, 0.78, 0.82), params={"C": 1.0, "penalty": "l2"})
    mo.snapshot(sk_pipeline, "churn", report=FakeReport(0.90, 0.88, 0.92), params={"C": 0.1, "penalty": "l2"})
    mo.snapshot(sk_pipeline, "churn", report=FakeReport(0.81, 0.79, 0.83))
    d = mo.diff("churn:1", "churn:2")
    f1 = next(m for m in d.metrics if m["metric"] == "f1_score")
    assert f1["delta"] == pytest.approx(0.10) and f1["overlap"] is False
    assert d.params == {"C": [1.0, 0.1]}
    assert d.identical_model and d.environment == {}
    d13 = mo.diff("churn:1", "churn:3")
    assert next(m for m in d13.metrics if m["metric"] == "f1_score")["overlap"] is True
    assert "significant" in d._repr_html_() and "intervals overlap" in d13._repr_html_()
    assert json.loads(d.to_json())["a"] == "churn:1"


def test_gc_cleans_orphans_and_dead_staging(sk_pipeline, modelops_home):
    import subprocess
    import sys

    mo.snapshot(sk_pipeline, "churn")
    s = store_mod.default_store()
    orphan = s.blob_path("ab" * 32)
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"orphan")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (s.tmp / f"{dead.pid}-deadbeef").mkdir()
    (s.tmp / f"{dead.pid}-deadbeef" / "model.skops").write_bytes(b"partial")
    live = s.tmp / f"{os.getpid()}-live"
    live.mkdir()
    report = mo.gc()
    assert report.removed_blobs == 1 and report.freed_bytes == 6 and report.removed_staging == 1
    assert not orphan.exists() and live.exists()
    assert mo.load("churn") is not None


def test_pickled_registry_objects_are_plain_data(sk_pipeline):
    mv = mo.snapshot(sk_pipeline, "churn")
    assert pickle.loads(pickle.dumps(mv.to_dict()))["ref"] == "churn:1"
    assert json.loads(mv.to_json())["artifacts"]["model"]["format"] == "skops"


def test_bad_data_and_unloadable_models_get_one_sentence(sk_pipeline, tmp_path, monkeypatch):
    import sys

    with pytest.raises(ValidationError, match="'data' must be a DataFrame"):
        mo.snapshot(sk_pipeline, "churn", data="X_train.csv")
    with pytest.raises(ValidationError, match="'report' must be an EvaluationReport"):
        mo.snapshot(sk_pipeline, "churn", report=42)
    with pytest.raises(ValidationError, match="'params' must be a dict"):
        mo.snapshot(sk_pipeline, "churn", params=[1, 2])
    (tmp_path / "vanishing_mod.py").write_text("class Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import vanishing_mod

    mo.snapshot(vanishing_mod.Thing(), "thing", trusted=True)
    monkeypatch.delitem(sys.modules, "vanishing_mod")
    (tmp_path / "vanishing_mod.py").unlink()
    with pytest.raises(ModelOpsError, match="thing:1 could not be loaded .*ModuleNotFoundError") as info:
        mo.load("thing")
    assert "model's own classes" in str(info.value)


def test_real_evaluation_report_metrics_and_diff(sk_pipeline, churn_data):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, y_train, y_test = churn_data
    report = mo.evaluate(sk_pipeline, X_test, y_test, n_boot=200)
    mv = mo.snapshot(sk_pipeline, "churn", report=report, data=X_train)
    expected = report.to_dict()["metrics"]
    assert set(mv.metrics) == set(expected) and "roc_auc" in mv.metrics
    auc = mv.metrics["roc_auc"]
    assert auc["value"] == expected["roc_auc"]["value"] and auc["low"] <= auc["value"] <= auc["high"]
    assert mv.meta["report"]["task"] == "binary" and mv.meta["report"]["n_rows"] == len(X_test)
    weak = make_pipeline(StandardScaler(), LogisticRegression(C=1e-4, max_iter=1000)).fit(X_train.iloc[:, :2], y_train)
    mo.snapshot(
        weak, "churn", report=mo.evaluate(weak, X_test.iloc[:, :2], y_test, n_boot=200), data=X_train.iloc[:, :2]
    )
    d = mo.diff("churn:1", "churn:2")
    row = next(m for m in d.metrics if m["metric"] == "roc_auc")
    assert row["delta"] < 0 and row["better"] is False
    assert len(d.signature["removed_features"]) == 28
    assert "worse" in d._repr_html_()
