"""Data and models shared by the evaluation tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def binary_data():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=1600, n_features=8, flip_y=0.1, random_state=1)
    model = LogisticRegression(max_iter=500).fit(X[:800], y[:800])
    return model, X[800:], y[800:]


@pytest.fixture(scope="session")
def multiclass_data():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=1200, n_features=10, n_informative=6, n_classes=4, flip_y=0.1, random_state=2)
    model = LogisticRegression(max_iter=1000).fit(X[:600], y[:600])
    return model, X[600:], y[600:]


@pytest.fixture(scope="session")
def regression_data():
    from sklearn.datasets import make_regression
    from sklearn.linear_model import Ridge

    X, y = make_regression(n_samples=1000, n_features=6, noise=15.0, random_state=3)
    y = y + 300.0  # keep MAPE meaningful
    model = Ridge().fit(X[:500], y[:500])
    return model, X[500:], y[500:]


@pytest.fixture(scope="session")
def tied_scores():
    """Binary labels and scores with many ties (rounded probabilities) and weights."""
    rng = np.random.default_rng(5)
    n = 700
    y = rng.integers(0, 2, n)
    p = np.clip(0.35 * y + rng.random(n) * 0.65, 0, 1).round(2)
    w = rng.uniform(0.2, 3.0, n)
    return y, p, w
