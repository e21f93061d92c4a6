"""A robustness report shows what the run measured, and no empty sections."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

import jupyter_modelops as mo


def _model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] > 0).astype(int)
    return LogisticRegression().fit(X, y), X, y


def test_without_labels_or_sensitivity_there_is_no_metric_column_nor_sensitivity_section():
    model, X, _ = _model()
    html = mo.robustness(model, X, perturbations="noise", n_boot=50, sensitivity=False).to_html()
    assert "flip rate" in html and "Degradation curves" in html
    assert "drop [" not in html and "increase [" not in html and "sensitivity" not in html.lower()


def test_with_labels_and_sensitivity_both_are_shown():
    model, X, y = _model()
    html = mo.robustness(model, X, y, perturbations="noise", n_boot=50).to_html()
    assert "accuracy drop [" in html and "Degradation curves and sensitivity" in html
