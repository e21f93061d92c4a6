"""A tiny classifier for governance tests: it can be slow and it raises on demand.

It is pickled into a model directory; the server process imports this module
(the tests put this folder on its PYTHONPATH).
"""

import time

import numpy as np


class SlowModel:
    """p(class 1) = sigmoid(sum of the row); sleeps ``delay`` s per call; raises when a row starts with -999."""

    def __init__(self, n_features: int = 4, delay: float = 0.0) -> None:
        self.n_features_in_ = n_features
        self.classes_ = np.array([0, 1])
        self.delay = delay

    def predict_proba(self, X):
        X = np.asarray(X, dtype=float)
        if (X[:, 0] == -999).any():
            raise RuntimeError("deliberate failure for row starting with -999")
        if self.delay:
            time.sleep(self.delay)
        p = 1.0 / (1.0 + np.exp(-X.sum(axis=1)))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.classes_.take(self.predict_proba(X).argmax(axis=1))
