"""Data and models shared by the export tests (small, fitted once per module)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def churn_frame(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Mixed dtypes: float, int and string columns, like a customer table."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "tenure": rng.gamma(2.0, 12.0, n),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
            "calls": rng.integers(0, 12, n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "spend": rng.normal(60.0, 20.0, n),
        }
    )
    logit = -0.04 * df.tenure + 0.3 * df.calls + 0.8 * (df.plan == "basic") - 0.01 * df.spend + rng.normal(0, 0.5, n)
    return df, (logit > np.median(logit)).astype(int).to_numpy()


def numeric(n: int = 600, d: int = 20, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] * X[:, 3] + rng.normal(0, 0.3, n) > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def churn():
    return churn_frame()


@pytest.fixture(scope="module")
def churn_pipeline(churn):
    """ColumnTransformer (scaling + one-hot categoricals) -> LogisticRegression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = churn
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), ["tenure", "calls", "spend"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
        ]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500))]).fit(X, y)


@pytest.fixture(scope="module")
def numeric_data():
    return numeric()


def mlp(d_in: int = 20, hidden: int = 64, d_out: int = 3, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(d_in, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(hidden, d_out)
    )
