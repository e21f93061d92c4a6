"""The registry's faces: %modelops verbs in a real IPython shell, modelops verbs in real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from IPython.core.error import UsageError


@pytest.fixture
def ip(sk_pipeline, churn_data):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "jupyter_modelops")
    shell.user_ns.update(model=sk_pipeline, X_train=churn_data[0], X_test=churn_data[1])
    yield shell
    for k in ("model", "X_train", "X_test", "m2", "mv"):
        shell.user_ns.pop(k, None)


def test_magic_verbs(ip, sk_pipeline, churn_data, tmp_path):
    mv = ip.run_line_magic(
        "modelops",
        "snapshot model --name churn --data X_train --alias staging "
        "--param C 1.0 --tag team=risk --notes 'first one' -o mv",
    )
    assert mv.ref == "churn:1" and ip.user_ns["mv"] is mv and mv.aliases == ["staging"]
    assert mv.params == {"C": 1.0} and mv.tags == {"team": "risk"} and mv.notes == "first one"
    ip.run_line_magic("modelops", "snapshot model --name churn")
    assert "churn" in ip.run_line_magic("modelops", "models")._repr_html_()
    assert ip.run_line_magic("modelops", "versions churn").numbers() == [2, 1]
    assert ip.run_line_magic("modelops", "alias churn:2 production").aliases == ["production"]
    ip.run_line_magic("modelops", "load churn@production -o m2")
    X_test = churn_data[1]
    np.testing.assert_array_equal(ip.user_ns["m2"].predict(X_test), sk_pipeline.predict(X_test))
    d = ip.run_line_magic("modelops", "diff churn:1 churn:2")
    assert d.params == {"C": [1.0, None]}
    target = tmp_path / "c.mobundle"
    info = ip.run_line_magic("modelops", f"bundle export churn:1 {target}")
    assert info.refs == ["churn:1"] and target.exists()
    assert ip.run_line_magic("modelops", f"bundle import {target} --name churn-copy").refs == ["churn-copy:1"]
    with pytest.raises(UsageError, match="production"):
        ip.run_line_magic("modelops", "delete churn:2")
    assert ip.run_line_magic("modelops", "delete churn:2 --force")["deleted"] == "churn:2"
    assert ip.run_line_magic("modelops", "gc").removed_blobs == 0


def test_magic_errors_are_one_line(ip):
    ip.run_line_magic("modelops", "snapshot model --name churn")
    for line, pattern in [
        ("load chrun", "Did you mean: churn"),
        ("snapshot model --name ../etc", "not valid"),
        ("snapshot nomodel --name churn", "not defined"),
        ("versions churn:2", "not valid"),
        ("bundle export churn:1", "one or more versions and then the bundle file"),
        ("alias churn:9 production", "has no version 9"),
    ]:
        with pytest.raises(UsageError, match=pattern) as info:
            ip.run_line_magic("modelops", line)
        assert "\n" not in str(info.value) and "Traceback" not in str(info.value)


def cli(*argv, home, check=True):
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.cli", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "MODELOPS_HOME": str(home)},
        timeout=300,
    )
    if check and out.returncode != 0:
        raise AssertionError(f"modelops {' '.join(argv)} exited {out.returncode}: {out.stderr}")
    return out


def test_cli_verbs(sk_pipeline, churn_data, tmp_path, modelops_home):
    from skl2onnx import to_onnx

    X_train, X_test, _, _ = churn_data
    onnx_path = tmp_path / "churn.onnx"
    onnx_path.write_bytes(
        to_onnx(sk_pipeline, X_train.to_numpy()[:1], target_opset=17, options={"zipmap": False}).SerializeToString()
    )
    data_path = tmp_path / "train.csv"
    X_train.to_csv(data_path, index=False)
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps({"metrics": {"f1_score": {"value": 0.9, "low": 0.85, "high": 0.94}}}))
    out = json.loads(
        cli(
            "snapshot",
            str(onnx_path),
            "--name",
            "churn",
            "--data",
            str(data_path),
            "--report",
            str(report_path),
            "--alias",
            "staging",
            "--param",
            "C",
            "1",
            "--json",
            home=modelops_home,
        ).stdout
    )
    assert out["ref"] == "churn:1" and out["flavor"] == "onnx" and out["aliases"] == ["staging"]
    assert out["metrics"]["f1_score"]["low"] == 0.85 and out["params"] == {"C": 1}
    assert out["signature"]["feature_names"][0] == str(X_train.columns[0])
    cli("snapshot", str(onnx_path), "--name", "churn", home=modelops_home)
    listing = json.loads(cli("models", "--json", home=modelops_home).stdout)
    assert listing["models"][0]["name"] == "churn" and listing["models"][0]["versions"] == 2
    vers = json.loads(cli("versions", "churn", "--json", home=modelops_home).stdout)
    assert [v["version"] for v in vers["versions"]] == [2, 1]
    assert "churn:2" in cli("versions", "churn", home=modelops_home).stdout
    cli("alias", "churn:1", "production", home=modelops_home)
    d = json.loads(
        cli("diff", "churn:1", "churn:2", "--json", "--html", str(tmp_path / "d.html"), home=modelops_home).stdout
    )
    assert d["params"] == {"C": [1, None]} and "model" not in d["artifacts"] and (tmp_path / "d.html").exists()
    out = json.loads(
        cli("load", "churn@production", "--to", str(tmp_path / "dir"), "--json", home=modelops_home).stdout
    )
    doc = json.loads((tmp_path / "dir" / "modelops-model.json").read_text())
    assert out["ref"] == "churn:1" and doc["artifacts"]["model"]["format"] == "onnx"
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "dir" / doc["artifacts"]["model"]["path"]))
    np.testing.assert_array_equal(
        sess.run(None, {sess.get_inputs()[0].name: X_test.to_numpy()})[0], sk_pipeline.predict(X_test)
    )
    cli("bundle", "export", "churn:1", "churn:2", str(tmp_path / "b.mobundle"), home=modelops_home)
    imp = json.loads(
        cli("bundle", "import", str(tmp_path / "b.mobundle"), "--name", "other", "--json", home=modelops_home).stdout
    )
    assert imp["versions"] == ["other:1", "other:2"] and imp["warnings"] == []
    bad = cli("delete", "churn:1", home=modelops_home, check=False)
    assert bad.returncode == 4 and "production" in bad.stderr and "Traceback" not in bad.stderr
    assert json.loads(cli("delete", "churn:2", "--json", home=modelops_home).stdout)["deleted"] == "churn:2"
    assert json.loads(cli("gc", "--json", home=modelops_home).stdout)["removed_blobs"] == 0
    # errors: one line, the exit code of the error class
    missing = cli("load", "chrun", "--to", str(tmp_path / "x"), home=modelops_home, check=False)
    assert missing.returncode == 3 and "Did you mean: churn" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    badname = cli("snapshot", str(onnx_path), "--name", "a/b", home=modelops_home, check=False)
    assert badname.returncode == 2 and "not valid" in badname.stderr
    pkl = tmp_path / "m.pkl"
    pkl.write_bytes(b"\x80\x05K\x01.")
    untrusted = cli("snapshot", str(pkl), "--name", "p", home=modelops_home, check=False)
    assert untrusted.returncode == 2 and "--trusted" in untrusted.stderr


def test_magic_trust_load_trusted_and_bundle_limits(ip, tmp_path):
    import jupyter_modelops as mo

    mo.snapshot({"k": 1}, "blob", trusted=True)
    b = tmp_path / "blob.mobundle"
    ip.run_line_magic("modelops", f"bundle export blob:1 {b}")
    with pytest.raises(UsageError, match="more bytes than|more than the limit of 10 ") as info:
        ip.run_line_magic("modelops", f"bundle import {b} --name copy --max-bytes 10")
    assert "\n" not in str(info.value)
    info = ip.run_line_magic("modelops", f"bundle import {b} --name copy --max-files 10 --max-bytes 10000000")
    assert info.refs == ["copy:1"] and info.existing == []
    again = ip.run_line_magic("modelops", f"bundle import {b} --name copy")
    assert again.existing == ["copy:1"] and "already there" in again.to_text()
    with pytest.raises(UsageError, match="trust"):
        ip.run_line_magic("modelops", "load copy:1")
    assert ip.run_line_magic("modelops", "load copy:1 --trusted") == {"k": 1}
    assert not mo.get("copy:1").trusted  # --trusted is for that one load, not a record
    mv = ip.run_line_magic("modelops", "trust copy:1 --by alice -o mv")
    assert ip.user_ns["mv"] is mv and bool(mv.trusted) and mv.trusted.by == "alice"
    assert mv.to_dict()["trusted"]["by"] == "alice" and "alice" in mv._repr_html_()
    assert ip.run_line_magic("modelops", "load copy:1") == {"k": 1}
    with pytest.raises(UsageError, match="'by'"):
        ip.run_line_magic("modelops", "trust copy:1 --by ''")


def test_cli_trust_load_trusted_delete_records_and_gc_captures(tmp_path, modelops_home):
    import jupyter_modelops as mo

    mo.snapshot({"k": 1}, "blob", trusted=True)
    mo.export_bundle(["blob:1"], tmp_path / "blob.mobundle")
    imp = json.loads(
        cli(
            "bundle",
            "import",
            str(tmp_path / "blob.mobundle"),
            "--name",
            "copy",
            "--max-files",
            "50",
            "--json",
            home=modelops_home,
        ).stdout
    )
    assert imp["versions"] == ["copy:1"] and imp["existing"] == []
    again = cli("bundle", "import", str(tmp_path / "blob.mobundle"), "--name", "copy", home=modelops_home)
    assert "copy:1 already there" in again.stdout
    over = cli(
        "bundle",
        "import",
        str(tmp_path / "blob.mobundle"),
        "--name",
        "x",
        "--max-files",
        "0",
        home=modelops_home,
        check=False,
    )
    assert over.returncode == 2 and len(over.stderr.strip().splitlines()) == 1 and "max" in over.stderr
    # --to writes the model directory with this registry's decision: untrusted unless --trusted
    cli("load", "copy:1", "--to", str(tmp_path / "plain"), home=modelops_home)
    assert json.loads((tmp_path / "plain" / "modelops-model.json").read_text())["trust"]["trusted"] is False
    cli("load", "copy:1", "--to", str(tmp_path / "forced"), "--trusted", home=modelops_home)
    assert json.loads((tmp_path / "forced" / "modelops-model.json").read_text())["trust"]["trusted"] is True
    text = cli("versions", "copy", home=modelops_home).stdout
    assert "copy:1" in text
    out = json.loads(cli("trust", "copy:1", "--by", "alice", "--json", home=modelops_home).stdout)
    assert out["trusted"]["trusted"] is True and out["trusted"]["by"] == "alice" and out["trusted"]["at"]
    shown = cli("trust", "copy:1", "--by", "bob", home=modelops_home).stdout
    assert shown.startswith("copy:1 trusted (") and " by bob, " in shown
    cli("load", "copy:1", "--to", str(tmp_path / "after"), home=modelops_home)
    assert json.loads((tmp_path / "after" / "modelops-model.json").read_text())["trust"]["trusted"] is True
    bad = cli("trust", "copy:9", home=modelops_home, check=False)
    assert bad.returncode == 3 and len(bad.stderr.strip().splitlines()) == 1
    # delete says how many records went with the version
    from jupyter_modelops.registry import add_record, records

    add_record("copy:1", "note", {"x": 1})
    add_record("copy:1", "note", {"x": 2})
    n = len(records(ref="copy:1"))
    assert n >= 2
    line = cli("delete", "copy:1", home=modelops_home).stdout
    assert line.startswith("deleted copy:1") and f", {n} records removed" in line and "freed" in line
    assert records(ref="copy", kind="note") == []
    # gc --captures-older-than reaches the capture retention (an empty store: nothing removed)
    gc = json.loads(cli("gc", "--captures-older-than", "30d", "--json", home=modelops_home).stdout)
    assert gc["captures"]["removed_partitions"] == 0 and "removed_blobs" in gc
    badage = cli("gc", "--captures-older-than", "soon", home=modelops_home, check=False)
    assert badage.returncode == 2 and "soon" in badage.stderr
