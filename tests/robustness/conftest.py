from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def mixed():
    """A pipeline on a DataFrame with numeric and categorical columns; x0 matters most."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    n = 3000
    df = pd.DataFrame(
        {
            "x0": rng.normal(10, 3, n),
            "x1": rng.normal(0, 1, n),
            "x2": rng.normal(100, 20, n),
            "city": rng.choice(["a", "b", "c"], n),
        }
    )
    logit = 1.5 * (df.x0 - 10) / 3 + 0.3 * df.x1 + (df.city == "a") * 1.0
    y = (logit + rng.logistic(size=n) > 0.3).astype(int).to_numpy()
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["x0", "x1", "x2"]), ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"])]
    )
    model = make_pipeline(pre, LogisticRegression()).fit(df, y)
    return model, df, y
