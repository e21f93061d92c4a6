"""Confusion matrices hold whole counts as integers; weighted sums stay floats."""

from __future__ import annotations

import json

import numpy as np
from sklearn.linear_model import LogisticRegression

import jupyter_modelops as mo


def _fit(n_classes):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = np.digitize(X[:, 0], np.quantile(X[:, 0], np.linspace(0, 1, n_classes + 1)[1:-1]))
    return LogisticRegression(max_iter=500).fit(X, y), X, y


def test_counts_are_integers_binary_and_multiclass():
    for k in (2, 3):
        model, X, y = _fit(k)
        cm = mo.evaluate(model, X, y, n_boot=0).to_dict()["confusion_matrix"]["matrix"]
        assert all(type(v) is int for row in cm for v in row) and sum(map(sum, cm)) == len(y)
        assert ".0" not in json.dumps(cm)


def test_weighted_counts_stay_floats():
    model, X, y = _fit(2)
    w = np.full(len(y), 0.3)
    cm = mo.evaluate(model, X, y, n_boot=0, sample_weight=w).to_dict()["confusion_matrix"]["matrix"]
    assert abs(sum(map(sum, cm)) - 90.0) < 1e-9 and all(type(v) is float for row in cm for v in row)
