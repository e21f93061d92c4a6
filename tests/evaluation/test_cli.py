"""modelops evaluate as a real subprocess: model files (skops, joblib, ONNX), CSV/Parquet, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest


def modelops(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory, binary_data):
    import joblib
    import skops.io as sio

    d = tmp_path_factory.mktemp("cli")
    model, X, y = binary_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    df["label"] = y
    df.to_csv(d / "test.csv", index=False)
    df.to_parquet(d / "test.parquet")
    sio.dump(model, d / "model.skops")
    joblib.dump(model, d / "model.joblib")
    return d


def test_skops_csv_json_gate_pass(files, binary_data):
    model, X, y = binary_data
    out = modelops(
        "evaluate",
        "--model",
        str(files / "model.skops"),
        "--data",
        str(files / "test.csv"),
        "--target",
        "label",
        "--json",
        "--n-boot",
        "200",
        "--check",
        "roc_auc>=0.6",
    )
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    from sklearn.metrics import roc_auc_score

    assert abs(d["metrics"]["roc_auc"]["value"] - roc_auc_score(y, model.predict_proba(X)[:, 1])) <= 1e-12
    assert d["metrics"]["roc_auc"]["low"] < d["metrics"]["roc_auc"]["value"]
    assert d["gates"]["passed"] is True
    assert "bootstrap" not in out.stderr  # no progress bar with --json


def test_parquet_html_and_failed_gate_exit_1(files, tmp_path):
    html = tmp_path / "report.html"
    out = modelops(
        "evaluate",
        "--model",
        str(files / "model.skops"),
        "--data",
        str(files / "test.parquet"),
        "--target",
        "label",
        "--n-boot",
        "200",
        "--check",
        "roc_auc>=0.6",
        "--check",
        "f1>=0.999",
        "--html",
        str(html),
    )
    assert out.returncode == 1, out.stderr
    assert "PASS  roc_auc >= 0.6" in out.stdout and "FAIL  f1 >= 0.999" in out.stdout
    assert str(html) in out.stdout and "data:image/svg+xml;base64," in html.read_text()


def test_joblib_needs_trust(files):
    args = [
        "evaluate",
        "--model",
        str(files / "model.joblib"),
        "--data",
        str(files / "test.csv"),
        "--target",
        "label",
        "--n-boot",
        "0",
    ]
    out = modelops(*args)
    assert out.returncode == 2
    assert "pickle" in out.stderr and "--trust" in out.stderr and "Traceback" not in out.stderr
    from jupyter_modelops.cli import main

    assert main([*args, "--trust"]) == 0


def test_a_skops_file_is_read_by_the_registry_rule(files, binary_data, tmp_path, capsys):
    # the same rule as `snapshot FILE` and a bundle from elsewhere: only the types skops trusts by
    # default load without --trust (a tree ensemble's TreePredictor is not one of them)
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier

    from jupyter_modelops.cli import main

    _, X, y = binary_data
    sio.dump(HistGradientBoostingClassifier(max_iter=5).fit(X, y), tmp_path / "hgb.skops")
    args = ["evaluate", "--model", str(tmp_path / "hgb.skops"), "--data", str(files / "test.csv")]
    args += ["--target", "label", "--n-boot", "0"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "types that are not trusted" in err and "TreePredictor" in err and "--trust " in err
    assert err.count("\n") <= 2 and "Traceback" not in err
    assert main([*args, "--trust"]) == 0
    (tmp_path / "broken.skops").write_bytes(b"not a zip")
    assert main(["evaluate", "--model", str(tmp_path / "broken.skops"), *args[3:]]) == 2
    err = capsys.readouterr().err
    assert "Could not load the skops model" in err and "Traceback" not in err


def test_onnx_model(files, binary_data, tmp_path):
    from skl2onnx import to_onnx

    model, X, y = binary_data
    onx = to_onnx(model, X[:1].astype(np.float32), options={"zipmap": False})
    path = tmp_path / "model.onnx"
    path.write_bytes(onx.SerializeToString())
    out = modelops(
        "evaluate",
        "--model",
        str(path),
        "--data",
        str(files / "test.csv"),
        "--target",
        "label",
        "--json",
        "--n-boot",
        "0",
    )
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    from sklearn.metrics import roc_auc_score

    # float32 inference: close to, not equal to, the float64 model
    assert abs(d["metrics"]["roc_auc"]["value"] - roc_auc_score(y, model.predict_proba(X)[:, 1])) < 1e-3
    assert d["classes"] == [0, 1]


# The router's error handling is the same in process; these run main() directly to keep the suite quick.
@pytest.mark.parametrize(
    "args, message",
    [
        (["--target", "nope"], "The target column 'nope' is not in the data"),
        (["--target", "label", "--ci", "2"], "ci must be in (0.0, 1.0); got 2.0"),
        (["--target", "label", "--check", "f1 about 0.8"], "Could not read the gate"),
    ],
)
def test_bad_input_exit_2(files, args, message, capsys):
    from jupyter_modelops.cli import main

    code = main(
        ["evaluate", "--model", str(files / "model.skops"), "--data", str(files / "test.csv"), "--n-boot", "0", *args]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert err.startswith("modelops evaluate: error: ") and err.count("\n") == 1


def test_missing_files_and_unknown_format(files, tmp_path, capsys):
    from jupyter_modelops.cli import main

    assert (
        main(
            [
                "evaluate",
                "--model",
                str(tmp_path / "nope.skops"),
                "--data",
                str(files / "test.csv"),
                "--target",
                "label",
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "m.txt").write_text("x")
    assert (
        main(["evaluate", "--model", str(tmp_path / "m.txt"), "--data", str(files / "test.csv"), "--target", "label"])
        == 2
    )
    assert "not a known model format" in capsys.readouterr().err
    (tmp_path / "d.xlsx").write_text("x")
    assert (
        main(
            ["evaluate", "--model", str(files / "model.skops"), "--data", str(tmp_path / "d.xlsx"), "--target", "label"]
        )
        == 2
    )
    assert "not a known table format" in capsys.readouterr().err


def test_debug_raises_with_traceback(files):
    from jupyter_modelops.cli import main
    from jupyter_modelops.exceptions import ValidationError

    with pytest.raises(ValidationError):
        main(
            [
                "evaluate",
                "--model",
                str(files / "model.skops"),
                "--data",
                str(files / "test.csv"),
                "--target",
                "nope",
                "--debug",
            ]
        )


def test_a_torchscript_file_evaluates_from_the_command_line(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from jupyter_modelops.cli import main

    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    y = (X[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(int)
    net = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Sigmoid())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[4.0, 0.0, 0.0]]))
        net[0].bias.zero_()
    torch.jit.save(torch.jit.script(net), str(tmp_path / "net.pt"))
    pd.DataFrame(X, columns=["a", "b", "c"]).assign(label=y).to_csv(tmp_path / "d.csv", index=False)
    args = ["evaluate", "--model", str(tmp_path / "net.pt"), "--data", str(tmp_path / "d.csv")]
    assert main([*args, "--target", "label", "--n-boot", "0", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["metrics"]["accuracy"]["value"] == pytest.approx(
        float(np.mean((X[:, 0] > 0).astype(int) == y)), abs=1e-9
    )


def test_a_skops_file_with_an_untrusted_type_runs_nothing_until_trusted(files, tmp_path, capsys):
    # the refusal happens before skops restores anything: the object's __setstate__ never runs
    import skops.io as sio

    from jupyter_modelops.cli import main
    from registry.sideeffect import SetstateMarker

    marker = tmp_path / "setstate-ran"
    sio.dump(SetstateMarker(marker), tmp_path / "m.skops")
    args = ["evaluate", "--model", str(tmp_path / "m.skops"), "--data", str(files / "test.csv"), "--target", "label"]
    assert main(args) == 2
    assert "registry.sideeffect.SetstateMarker" in capsys.readouterr().err and not marker.exists()
    main([*args, "--trust"])  # positive control: trusted, the file is read (then fails as a model)
    assert marker.exists()
