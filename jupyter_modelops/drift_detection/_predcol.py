"""The model's predictions as one more column to watch (prediction drift)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._columns import CATEGORICAL, NUMERIC, to_table


def prediction_column(model: Any, X: Any, *, what: str) -> tuple[np.ndarray, str]:
    """Scores (numeric) for binary classifiers and regressors, labels (categorical) for multiclass."""
    from ..robustness_testing._model import Predictor

    tab = to_table(X, what=what)
    out = Predictor(model).predict(X, tab.n_rows)
    if out.proba is not None and out.proba.shape[1] > 2:
        return np.asarray(out.labels).astype(object), CATEGORICAL
    if out.proba is None and out.labels.dtype.kind not in "f":
        return np.asarray(out.labels).astype(object), CATEGORICAL
    return np.asarray(out.score, dtype=np.float64), NUMERIC
