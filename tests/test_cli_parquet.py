"""The command line streams a Parquet file or folder into evaluate, robustness and drift (the core reads it
batch by batch) instead of reading it into memory first; CSV is still read. Real subprocesses, real files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest


def modelops(*args):
    return subprocess.run(
        [sys.executable, "-m", "jupyter_modelops.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import skops.io as sio
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    d = tmp_path_factory.mktemp("cli-parquet")
    X, y = make_classification(n_samples=3000, n_features=5, flip_y=0.1, random_state=4)
    cols = [f"f{i}" for i in range(5)]
    model = LogisticRegression().fit(pd.DataFrame(X[:1000], columns=cols), y[:1000])
    df = pd.DataFrame(X[1000:], columns=cols).assign(label=y[1000:])
    (d / "folder").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(df)), 3)):  # three files: a dataset, not one frame
        df.iloc[rows].to_parquet(d / "folder" / f"part-{i}.parquet", index=False)
    df.to_csv(d / "test.csv", index=False)
    sio.dump(model, d / "model.skops")
    return d, model, df


def _json(out):
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_evaluate_streams_a_parquet_folder_to_the_same_metrics_as_the_csv(files):
    d, model, df = files
    args = ["--model", str(d / "model.skops"), "--target", "label", "--json", "--n-boot", "200"]
    streamed = _json(modelops("evaluate", "--data", str(d / "folder"), *args))
    read = _json(modelops("evaluate", "--data", str(d / "test.csv"), *args))
    assert streamed["n_rows"] == read["n_rows"] == len(df)
    for name in ("accuracy", "f1", "log_loss", "brier_score_loss"):  # exact on both paths
        assert streamed["metrics"][name]["value"] == pytest.approx(read["metrics"][name]["value"], abs=1e-12)
    assert streamed["metrics"]["roc_auc"]["value"] == pytest.approx(read["metrics"]["roc_auc"]["value"], abs=1e-3)
    bad = modelops("evaluate", "--data", str(d / "folder"), *args[:2], "--target", "labl")
    assert bad.returncode == 2 and "labl" in bad.stderr and "Traceback" not in bad.stderr


def test_robustness_streams_a_parquet_folder(files):
    d, model, df = files
    out = _json(
        modelops(
            "robustness",
            "--model",
            str(d / "model.skops"),
            "--data",
            str(d / "folder"),
            "--target",
            "label",
            "--perturb",
            "shift",
            "--json",
            "--n-boot",
            "100",
        )
    )
    assert out["n_rows"] == len(df)
    assert any(r["perturbation"] == "shift" for r in out["rows"])


def test_drift_streams_parquet_and_drops_the_target_from_the_schema(files):
    d, model, df = files
    shifted = df.assign(f0=df["f0"] + 1.0)
    shifted.to_parquet(d / "shifted.parquet", index=False)
    out = _json(
        modelops(
            "drift",
            "--reference",
            str(d / "folder"),
            "--current",
            str(d / "shifted.parquet"),
            "--target",
            "label",
            "--json",
        )
    )
    assert [c["column"] for c in out["columns"]] == [f"f{i}" for i in range(5)]  # label left out
    assert out["drifted"] == ["f0"]
