"""Fixtures of the batch scoring tests: a registered classifier (with its ONNX export) and Parquet sources."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

FEATURES = ["a", "b", "c", "d"]


def frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=FEATURES)
    df.insert(0, "customer_id", np.arange(n, dtype=np.int64) + 1000)
    return df


@pytest.fixture
def model():
    from sklearn.linear_model import LogisticRegression

    df = frame(400, seed=1)
    y = (df.a + 0.5 * df.b > 0).astype(int)
    return LogisticRegression().fit(df[FEATURES], y)


@pytest.fixture
def version(model):
    """churn:1 snapshotted here with its signature, exported to ONNX (so batch scoring runs onnxruntime)."""
    import jupyter_modelops as mo

    v = mo.snapshot(model, "churn", data=frame(50)[FEATURES])
    mo.export(v.ref, "onnx")
    return v.ref


@pytest.fixture
def source(tmp_path):
    """A folder of two Parquet files (3000 + 2000 rows, row groups of 1000) and the frame they hold."""
    df = frame(5000, seed=2)
    d = tmp_path / "src"
    d.mkdir()
    df.iloc[:3000].to_parquet(d / "day=1.parquet", row_group_size=1000, index=False)
    df.iloc[3000:].to_parquet(d / "day=2.parquet", row_group_size=1000, index=False)
    return d, df
