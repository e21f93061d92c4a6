"""Trust: nothing that came from outside is deserialized until the user trusts it.

Every refusal is proved with a file whose deserialization would leave a marker
(``registry/sideeffect.py``): the marker must not appear. Each positive control
(after ``trust``) shows the marker does appear, so the refusal is what stopped it.
Server refusals run a real ``python -m jupyter_modelops.serving`` process.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import jupyter_modelops as mo
from jupyter_modelops.exceptions import ModelNotFoundError, ModelOpsWarning, ValidationError
from jupyter_modelops.registry import export_bundle, import_bundle

TESTS = Path(__file__).resolve().parents[1]


# -- helpers ------------------------------------------------------------------
def _elsewhere(tmp_path: Path, monkeypatch, ref: str, *, edit=None, name: str = "b.mobundle"):
    """Export ``ref`` as a bundle (optionally rewriting its manifest) and import it into a fresh home."""
    bundle = tmp_path / name
    export_bundle(ref, bundle)
    if edit is not None:
        bundle = _rewrite(bundle, edit)
    monkeypatch.setenv("MODELOPS_HOME", str(tmp_path / "other-machine"))
    return bundle


def _members(bundle: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(bundle) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar]  # type: ignore[union-attr]


def _tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    return path


def _rewrite(bundle: Path, edit) -> Path:
    members = _members(bundle)
    manifest = json.loads(members[0][1])
    edit(manifest)
    out = bundle.with_name("edited-" + bundle.name)
    return _tar(out, [("manifest.json", json.dumps(manifest).encode())] + members[1:])


def _serve_once(model_dir: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run the real model server on a model directory it must refuse; it exits by itself."""
    from realparts import free_port

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_modelops.serving",
            "--model-dir",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(free_port()),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def start_server_proc():
    """Start a real model server on a model directory and wait until it is ready; stopped by pid after."""
    import signal
    import time
    import urllib.request

    from realparts import free_port

    procs = []

    def start(model_dir: Path):
        port = free_port()
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_modelops.serving",
                "--model-dir",
                str(model_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        end = time.monotonic() + 180
        while time.monotonic() < end:
            assert proc.poll() is None, proc.stderr.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1) as r:
                    if r.status == 200:
                        proc.port = port  # type: ignore[attr-defined]
                        return proc
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the model server did not become ready")

    yield start
    for proc in procs:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(60)


@pytest.fixture
def markers(tmp_path):
    d = tmp_path / "markers"
    d.mkdir()
    return d


# -- 1. pickles from outside run nowhere --------------------------------------
def test_joblib_version_from_a_bundle_is_refused_by_load_materialize_and_the_server(tmp_path, monkeypatch, markers):
    from registry.sideeffect import ReduceMarker

    marker = markers / "joblib-ran"
    mo.snapshot(ReduceMarker(marker), "evil", flavor="joblib")
    assert not marker.exists()
    import_bundle(_elsewhere(tmp_path, monkeypatch, "evil"))
    mv = mo.get("evil")
    assert not mv.trusted and mv.trusted.by is None and mv.to_dict()["trusted"]["trusted"] is False
    with pytest.raises(ValidationError, match=r"came from outside .* runs code .* trust\('evil:1'\)"):
        mo.load("evil")
    with pytest.warns(ModelOpsWarning, match=r"a model server will refuse its joblib file; run trust\('evil:1'\)"):
        d = mo.materialize("evil", tmp_path / "dir")
    spec = json.loads((d / "modelops-model.json").read_text())
    assert spec["trust"]["trusted"] is False
    from jupyter_modelops.registry import load_model_dir

    with pytest.raises(ValidationError, match="not marked trusted"):
        load_model_dir(d)
    run = _serve_once(d)
    assert run.returncode == 3, run.stderr
    assert "not marked trusted, so it was not loaded" in run.stderr and "Traceback" not in run.stderr
    assert not marker.exists()
    # positive control: once trusted, the same file is deserialized (and the marker appears)
    mo.load("evil", trusted=True)
    assert marker.exists()


def test_pickle_flavor_from_a_bundle_loads_only_after_trust_which_is_recorded(tmp_path, monkeypatch, markers):
    from registry.sideeffect import ReduceMarker

    marker = markers / "pickle-ran"
    mo.snapshot(ReduceMarker(marker), "pk", trusted=True)
    import_bundle(_elsewhere(tmp_path, monkeypatch, "pk"))
    with pytest.raises(ValidationError, match="runs code"):
        mo.load("pk:1")
    assert not marker.exists()
    mv = mo.trust("pk:1", by="alice")
    assert mv.trusted and mv.trusted.by == "alice" and mv.trusted.how == "user" and mv.trusted.at is not None
    assert mo.get("pk:1").trusted.by == "alice"  # recorded in the registry, not on the object
    assert [r["data"]["by"] for r in mo.records("pk:1", kind="trust")] == ["alice"]
    mo.load("pk:1")
    assert marker.exists()
    d = mo.materialize("pk:1", tmp_path / "trusted-dir")
    assert json.loads((d / "modelops-model.json").read_text())["trust"]["by"] == "alice"


def test_local_snapshots_are_trusted_with_who_and_when(sk_pipeline):
    mv = mo.snapshot(sk_pipeline, "churn")
    assert mv.trusted and mv.trusted.how == "snapshot" and mv.trusted.by == mv.user
    assert mv.to_dict()["trusted"]["at"] is not None


def test_trust_checks_its_arguments():
    with pytest.raises(ModelNotFoundError):
        mo.trust("nothing:1")
    mo.snapshot({"a": 1}, "obj", trusted=True)
    for bad in ("", "x\ny", "z" * 201, 3):
        with pytest.raises(ValidationError, match="'by'"):
            mo.trust("obj", by=bad)


def test_import_refuses_a_version_whose_flavor_and_format_disagree(tmp_path, monkeypatch, sk_pipeline):
    mo.snapshot(sk_pipeline, "churn", flavor="joblib")

    def as_sklearn(manifest):
        manifest["versions"][0]["flavor"] = "sklearn"  # the model file stays joblib

    bundle = _elsewhere(tmp_path, monkeypatch, "churn", edit=as_sklearn)
    with pytest.raises(ValidationError, match="stores its model file as 'joblib'.*flavor and format disagree"):
        import_bundle(bundle)
    with pytest.raises(ModelNotFoundError):
        mo.get("churn")


def test_server_refuses_a_hand_written_joblib_dir_without_a_trust_section(tmp_path, markers):
    import hashlib

    import joblib

    from registry.sideeffect import ReduceMarker

    marker = markers / "hand-joblib-ran"
    d = tmp_path / "hand"
    d.mkdir()
    joblib.dump(ReduceMarker(marker), d / "model.joblib")
    sha = hashlib.sha256((d / "model.joblib").read_bytes()).hexdigest()
    (d / "modelops-model.json").write_text(
        json.dumps(
            {
                "schema": 1,
                "name": "hand",
                "version": "1",
                "flavor": "sklearn",
                "signature": {"inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, 2]}]},
                "artifacts": {"model": {"path": "model.joblib", "sha256": sha, "format": "joblib"}},
            }
        )
    )
    run = _serve_once(d)
    assert run.returncode == 3 and "not marked trusted" in run.stderr and "Traceback" not in run.stderr
    assert not marker.exists()


# -- 2. artifact file names ----------------------------------------------------
@pytest.mark.parametrize("bad", ["/../../../x", "../x", "..", "a/b", "a\\b", "a\x00b", ".hidden", "x\n"])
def test_import_refuses_artifact_file_names_that_are_not_one_plain_name(tmp_path, monkeypatch, sk_pipeline, bad):
    mo.snapshot(sk_pipeline, "churn")

    def rename(manifest):
        manifest["versions"][0]["artifacts"]["model"]["filename"] = bad

    bundle = _elsewhere(tmp_path, monkeypatch, "churn", edit=rename)
    with pytest.raises(ValidationError, match="is not one plain file name"):
        import_bundle(bundle)
    with pytest.raises(ModelNotFoundError):
        mo.get("churn")


def test_materialize_refuses_a_stored_name_that_would_escape(tmp_path, sk_pipeline, modelops_home):
    mv = mo.snapshot(sk_pipeline, "churn")
    # a registry written by an older release may hold such a name: materialize checks again at write time
    con = sqlite3.connect(modelops_home / "registry" / "registry.db")
    con.execute("UPDATE artifacts SET filename = ? WHERE role = 'model'", ("../../../escaped.skops",))
    con.commit()
    con.close()
    out = tmp_path / "deep" / "a" / "b" / "dir"
    with pytest.raises(ValidationError, match="not a plain file name"):
        mo.materialize(mv.ref, out)
    assert not list(tmp_path.rglob("escaped.skops")) and not list(modelops_home.parent.rglob("escaped.skops"))
    with pytest.raises(ValidationError, match="not a plain file name"):
        mo.attach_artifact(mv.ref, "notes", b"x", metadata={"filename": ".."})


def test_server_refuses_an_artifact_path_outside_its_directory(tmp_path, sk_pipeline):
    mo.snapshot(sk_pipeline, "churn")
    d = mo.materialize("churn", tmp_path / "md")
    outside = tmp_path / "outside.skops"
    outside.write_bytes((d / "model.skops").read_bytes())
    spec = json.loads((d / "modelops-model.json").read_text())
    spec["artifacts"]["model"]["path"] = "../outside.skops"
    (d / "modelops-model.json").write_text(json.dumps(spec))
    from jupyter_modelops.serving.modeldir import read_model_dir

    with pytest.raises(ValidationError, match="outside"):
        read_model_dir(d)


# -- 3 and 4. skops types: only what this registry recorded --------------------
def test_skops_types_listed_by_a_bundle_are_not_trusted(tmp_path, monkeypatch, markers):
    from registry.sideeffect import SetstateMarker

    marker = markers / "setstate-ran"
    mv = mo.snapshot(SetstateMarker(marker), "custom", flavor="sklearn")
    assert mv.artifacts["model"]["metadata"]["trusted_types"] == ["registry.sideeffect.SetstateMarker"]
    marker.unlink(missing_ok=True)
    import_bundle(_elsewhere(tmp_path, monkeypatch, "custom"))  # the manifest lists the class as trusted
    imported = mo.get("custom")
    assert "trusted_types" not in imported.artifacts["model"]["metadata"]
    with pytest.raises(ValidationError, match=r"not trust by default \(registry.sideeffect.SetstateMarker\)"):
        mo.load("custom")
    assert not marker.exists()
    # the model directory says the same, and the real server refuses it
    d = mo.materialize("custom", tmp_path / "md")
    assert json.loads((d / "modelops-model.json").read_text())["trust"]["trusted_types"] == {"model": []}
    run = _serve_once(d)
    assert run.returncode == 3, run.stderr
    assert "registry.sideeffect.SetstateMarker" in run.stderr and "not loaded" in run.stderr
    assert "Traceback" not in run.stderr and not marker.exists()
    # positive control: trusted, the exact type is recorded and the object is restored
    mo.trust("custom")
    assert mo.load("custom").marker == str(marker) and marker.exists()


def test_server_trusts_exactly_the_types_of_the_trust_section(tmp_path, markers):
    from registry.sideeffect import SetstateMarker

    marker = markers / "dir-setstate-ran"
    mo.snapshot(SetstateMarker(marker), "custom", flavor="sklearn")
    marker.unlink(missing_ok=True)
    d = mo.materialize("custom", tmp_path / "md")
    spec = json.loads((d / "modelops-model.json").read_text())
    assert spec["trust"]["trusted_types"] == {"model": ["registry.sideeffect.SetstateMarker"]}
    # a directory that lists other types (or none) does not load the class
    spec["trust"]["trusted_types"] = {"model": ["sklearn.preprocessing._data.StandardScaler"]}
    (d / "modelops-model.json").write_text(json.dumps(spec))
    run = _serve_once(d)
    assert run.returncode == 3 and "registry.sideeffect.SetstateMarker" in run.stderr
    assert not marker.exists()


def test_an_imported_model_is_served_only_once_trusted(tmp_path, monkeypatch, start_server_proc):
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    mo.snapshot(HistGradientBoostingClassifier(max_iter=5).fit(X, y), "hgb", data=X)
    import_bundle(_elsewhere(tmp_path, monkeypatch, "hgb"))
    run = _serve_once(mo.materialize("hgb", tmp_path / "untrusted"))
    assert run.returncode == 3 and "TreePredictor" in run.stderr  # a type skops does not trust by default
    mo.trust("hgb")
    server = start_server_proc(mo.materialize("hgb", tmp_path / "trusted"))
    import numpy as np
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    meta = client.get_model_metadata("hgb")
    inp = httpclient.InferInput(meta["inputs"][0]["name"], [2, 6], "FP64")
    inp.set_data_from_numpy(X[:2].astype(np.float64))
    res = client.infer("hgb", [inp])
    assert res.as_numpy(res.get_response()["outputs"][0]["name"]).shape[0] == 2


def test_torch_class_path_from_a_bundle_must_be_a_module_class(tmp_path, monkeypatch, markers):
    from registry.nets import SmallNet

    marker = markers / "popen-ran"
    mo.snapshot(SmallNet(n_in=4, hidden=3), "net")

    def hostile(manifest):
        entry = manifest["versions"][0]
        entry["artifacts"].pop("torchscript", None)
        entry["meta"]["flavor_roles"] = ["model"]
        entry["artifacts"]["model"]["metadata"] = {
            "class": "subprocess:run",
            "init_kwargs": {"args": ["touch", str(marker)]},
        }

    import_bundle(_elsewhere(tmp_path, monkeypatch, "net", edit=hostile))
    with pytest.raises(mo.ModelOpsError, match="is not a torch.nn.Module class"):
        mo.load("net")
    assert not marker.exists()


# -- 6. names end where they end ----------------------------------------------
def test_names_with_a_trailing_newline_are_refused_everywhere(sk_pipeline, tmp_path):
    with pytest.raises(ValidationError, match="model name"):
        mo.snapshot(sk_pipeline, "churn\n")
    mv = mo.snapshot(sk_pipeline, "churn")
    with pytest.raises(ValidationError, match="alias"):
        mo.alias(mv, "production\n")
    with pytest.raises(ValidationError, match="artifact role"):
        mo.attach_artifact(mv, "onnx\n", b"x")
    with pytest.raises(ValidationError, match="record kind"):
        mo.add_record(mv, "report\n", {})
    from jupyter_modelops.images.build import _check_options
    from jupyter_modelops.images.reference import parse_reference

    with pytest.raises(ValidationError, match="tag"):
        _check_options("linux/amd64", "v1\n", None)
    digest = "sha256:" + "a" * 64
    for ref in (
        f"127.0.0.1:5000/models/churn:v1\n@{digest}",
        "127.0.0.1:5000/models/churn\n:v1",
        "reg.example.com\n/models/churn:v1",
    ):
        with pytest.raises(ValidationError):
            parse_reference(ref)
    from jupyter_modelops.serving.local import serve

    with pytest.raises(ValidationError, match="deployment name"):
        serve(mv.ref, name="svc\n", wait=False)
    from jupyter_modelops.deployment.clusters import get_cluster
    from jupyter_modelops.deployment.profiles import get_profile

    with pytest.raises(ValidationError, match="Unknown profile"):
        get_profile("cpu-small\n")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "dev",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    with pytest.raises(ValidationError, match="Unknown cluster"):
        get_cluster("dev\n", kubeconfig=kubeconfig)
    assert get_cluster("dev", kubeconfig=kubeconfig).name == "dev"


# -- the trust record in the store ---------------------------------------------
def test_a_schema_1_registry_gains_the_trust_table_and_keeps_its_versions_trusted(modelops_home):
    import shutil

    fixture = TESTS / "data" / "registry-v1" / "registry"
    reg = modelops_home / "registry"
    reg.mkdir(parents=True)
    shutil.copyfile(fixture / "registry.db", reg / "registry.db")
    shutil.copytree(fixture / "blobs", reg / "blobs")
    names = [row["name"] for row in mo.models()]
    assert names
    mv = mo.get(names[0])
    assert mv.trusted and mv.trusted.how == "snapshot"  # written by that registry itself
    con = sqlite3.connect(reg / "registry.db")
    assert con.execute("SELECT COUNT(*) FROM trust").fetchone() == (0,)
    con.close()
    assert mo.trust(mv.ref, by="carol").trusted.by == "carol"


def test_deleting_a_trusted_version_drops_its_trust_and_a_reimport_starts_untrusted(tmp_path, monkeypatch, sk_pipeline):
    mo.snapshot(sk_pipeline, "churn")
    bundle = _elsewhere(tmp_path, monkeypatch, "churn")
    import_bundle(bundle)
    mo.trust("churn:1")
    mo.delete("churn:1")
    again = import_bundle(bundle)
    assert again.refs == ["churn:2"] and not mo.get("churn:2").trusted
