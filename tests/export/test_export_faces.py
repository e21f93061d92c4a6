"""%modelops export in a real IPython shell, and the modelops CLI in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from IPython.core.error import UsageError

import jupyter_modelops as mo
from jupyter_modelops import registry


@pytest.fixture
def ip():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "jupyter_modelops")
    yield shell
    for name in ("pipe", "X", "exported", "fromref"):
        shell.user_ns.pop(name, None)


def test_magic_exports_a_variable_with_a_sample(ip, churn, churn_pipeline):
    X, _ = churn
    ip.user_ns.update(pipe=churn_pipeline, X=X.iloc[:50])
    result = ip.run_line_magic("modelops", "export pipe --format onnx --sample X --no-benchmark -o exported")
    assert isinstance(result, mo.ExportResult) and ip.user_ns["exported"] is result
    assert result.passed and result.parity["onnx"]["sample"]["rows"] == 50
    assert result.options["opset"] is None and result.speed is None


def test_magic_exports_a_registry_reference(ip, churn, churn_pipeline):
    X, _ = churn
    registry.snapshot(churn_pipeline, "churn", data=X)
    result = ip.run_line_magic("modelops", "export churn:1 --opset 15 --no-benchmark -o fromref")
    assert result.ref == "churn:1" and result.options["opset"] == 15
    assert "onnx" in registry.get("churn:1").artifacts


def test_magic_errors_are_one_line(ip, churn_pipeline):
    ip.user_ns["pipe"] = churn_pipeline
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("modelops", "export pipe")
    assert "\n" not in str(info.value) and "A sample input is needed" in str(info.value)
    with pytest.raises(UsageError, match="There is no model named 'nothere'"):
        ip.run_line_magic("modelops", "export nothere:1")
    with pytest.raises(UsageError, match="The sample 'Xs' is not defined"):
        ip.run_line_magic("modelops", "export pipe --sample Xs")


def _cli(*args, home):
    env = {**os.environ, "MODELOPS_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.cli", "export", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_exports_a_version_as_json_and_exit_codes(churn, churn_pipeline, modelops_home, tmp_path, capsys):
    X, _ = churn
    registry.snapshot(churn_pipeline, "churn", data=X)
    sample = tmp_path / "sample.csv"
    X.iloc[:40].to_csv(sample, index=False)
    out = _cli("churn:1", "--format", "onnx", "--sample", str(sample), "--no-benchmark", "--json", home=modelops_home)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["ref"] == "churn:1" and data["passed"] is True
    assert set(data["parity"]["onnx"]) == {"sample", "stored sample"}
    assert data["parity"]["onnx"]["sample"]["rows"] == 40
    assert registry.get("churn:1").artifacts["onnx"]["sha256"] == data["artifacts"]["onnx"]["sha256"]
    # the rest in process, through the same router the console script calls
    from jupyter_modelops.cli import main

    assert main(["export", "churn:1", "--sample", str(sample), "--no-benchmark"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("ExportResult churn:1 onnx -> churn:1: parity ok") and "reused" in first
    assert main(["export", "nosuch:3"]) == 3
    err = capsys.readouterr().err
    assert "There is no model named 'nosuch'" in err and "Traceback" not in err
    registry.snapshot(churn_pipeline, "bare")
    assert main(["export", "bare:1"]) == 2
    assert "sample input is needed" in capsys.readouterr().err


def test_precision_flag_on_the_magic_and_the_cli(ip, modelops_home, tmp_path, capsys):
    import numpy as np
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(1)
    X = np.column_stack([1.7e9 + rng.integers(0, 1000, 300).astype(float), rng.normal(size=300)])
    model = LinearRegression().fit(X, (X[:, 0] - 1.7e9) * 0.01 + X[:, 1])
    ip.user_ns.update(pipe=model, X=X)
    with pytest.raises(UsageError, match="precision='float64'"):  # float32 rounds the large offsets
        ip.run_line_magic("modelops", "export pipe --sample X --no-benchmark")
    result = ip.run_line_magic("modelops", "export pipe --sample X --precision float64 --no-benchmark")
    assert result.passed and result.inputs[0]["datatype"] == "FP64" and result.options["precision"] == "float64"
    with pytest.raises(UsageError, match="invalid choice: 'float16'"):
        ip.run_line_magic("modelops", "export pipe --sample X --precision float16")
    registry.snapshot(model, "offsets", data=X[:50])
    np.save(tmp_path / "sample.npy", X[:50])
    from jupyter_modelops.cli import main

    assert (
        main(
            [
                "export",
                "offsets:1",
                "--sample",
                str(tmp_path / "sample.npy"),
                "--precision",
                "float64",
                "--no-benchmark",
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is True and data["options"]["precision"] == "float64"
    assert main(["export", "offsets:1", "--precision", "float64", "--quantize", "int8", "--no-benchmark"]) == 2
    assert "float32" in capsys.readouterr().err
