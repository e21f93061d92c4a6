"""Call a model on a table, in batches, whatever kind of model it is.

Supports scikit-learn style estimators (``predict_proba``, ``decision_function``,
``predict``), ``torch.nn.Module`` (batches under ``no_grad``, train/eval mode
restored) and plain callables. Inputs are rebuilt in the form the user passed
(DataFrame, NumPy array or torch tensor) so that pipelines see what they expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._optional import is_torch_module
from ..drift_detection._columns import CATEGORICAL, Table
from ..exceptions import ValidationError

BATCH = 262_144


@dataclass
class Output:
    """Predictions on one table."""

    labels: np.ndarray  # predicted class labels, or regression values
    proba: np.ndarray | None  # (n, k) class probabilities when available
    score: np.ndarray  # (n,) a scalar score per row (positive-class probability, decision value or prediction)


class Former:
    """Rebuild the user's input form (DataFrame / ndarray / tensor) from a :class:`Table`.

    An all-numeric NumPy result is written into a buffer that is reused by the
    next call of the same shape: use it (predict on it) before calling again.
    """

    def __init__(self, X: Any, table: Table) -> None:
        self._buffers: dict = {}
        self.kind = table.source
        self.names = table.names
        self.orig_columns = None
        self.dtypes: dict = {}
        self.np_dtype = None
        self.torch_dtype = None
        if self.kind == "pandas":
            self.orig_columns = list(X.columns)
            self.dtypes = {str(c): X[c].dtype for c in X.columns}
        elif self.kind == "torch":
            self.torch_dtype = X.dtype
        else:
            self.np_dtype = np.asarray(X).dtype if not hasattr(X, "dtype") else X.dtype
            self.one_d = np.ndim(X) == 1

    def _buffer(self, n_rows: int, dtype: Any) -> np.ndarray:
        key = (n_rows, len(self.names), np.dtype(dtype).str)
        arr = self._buffers.get(key)
        if arr is None:
            arr = self._buffers[key] = np.empty(key[:2], dtype=dtype, order="F")
        return arr

    def block(self, table: Table) -> dict[str, np.ndarray] | None:
        """Column views of the reused input buffer, for perturbations to write into directly
        (float64 NumPy inputs only), or None."""
        if (
            self.kind != "numpy"
            or self.np_dtype is None
            or self.np_dtype != np.float64
            or any(k == CATEGORICAL for k in table.kinds.values())
        ):
            return None
        arr = self._buffer(table.n_rows, np.float64)
        return {n: arr[:, j] for j, n in enumerate(self.names)}

    def __call__(self, table: Table) -> Any:
        if self.kind == "pandas":
            import pandas as pd

            data = {}
            for orig, name in zip(self.orig_columns, self.names):
                col = table.columns[name]
                dt = self.dtypes[name]
                if table.kinds[name] == CATEGORICAL and isinstance(dt, pd.CategoricalDtype):
                    col = pd.Categorical(col, categories=dt.categories)
                elif table.kinds[name] == CATEGORICAL and dt.kind == "b":
                    col = pd.array(col, dtype="boolean") if any(v is None for v in col) else col.astype(bool)
                data[orig] = col
            return pd.DataFrame(data, copy=False)
        if table.kinds and all(k != CATEGORICAL for k in table.kinds.values()):
            # column-major: each column is one contiguous copy (np.column_stack writes with a stride)
            dtype = self.np_dtype if self.np_dtype is not None and self.np_dtype.kind == "f" else np.float64
            # One reused buffer per shape: the model reads it before the next perturbation is written,
            # and a fresh 100+ MB array per run costs more in page faults than the copy itself.
            arr = self._buffer(table.n_rows, dtype)
            for j, n in enumerate(self.names):
                src, dst = table.columns[n], arr[:, j]
                if src.dtype != dst.dtype or src.ctypes.data != dst.ctypes.data:  # perturbations may write in place
                    dst[...] = src
            if self.kind == "torch":
                import torch

                return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).to(self.torch_dtype)
            return arr
        else:
            arr = np.empty((table.n_rows, len(self.names)), dtype=object)
            for i, n in enumerate(self.names):
                arr[:, i] = table.columns[n]
        if self.kind == "torch":
            import torch

            return torch.as_tensor(np.asarray(arr, dtype=np.float32)).to(self.torch_dtype)
        if self.np_dtype is not None and self.np_dtype.kind == "f" and arr.dtype != self.np_dtype:
            arr = arr.astype(self.np_dtype)
        return arr


def infer_task(model: Any, y: np.ndarray | None) -> str:
    """``"classification"`` or ``"regression"`` from the labels (when given) and the model."""
    if y is not None:
        yk = np.asarray(y)
        if yk.dtype.kind in "OUSb":
            return "classification"
        if yk.dtype.kind in "iu":
            return "classification" if np.unique(yk).size <= 50 else "regression"
        if yk.dtype.kind == "f":
            finite = yk[np.isfinite(yk)]
            if finite.size and np.all(finite == np.round(finite)) and np.unique(finite).size <= 20:
                return (
                    "classification"
                    if (hasattr(model, "predict_proba") or is_torch_module(model) or hasattr(model, "classes_"))
                    else "regression"
                )
            return "regression"
    if hasattr(model, "predict_proba") or hasattr(model, "classes_"):
        return "classification"
    return "auto"


class Predictor:
    """Batched predictions of any supported model, on top of the evaluation core's ``predict``.

    Rows are sent in batches of ``batch_size`` (never one by one) and the
    outputs are put in one shape: labels, class probabilities when the model
    gives them, and one scalar score per row.
    """

    def __init__(self, model: Any, *, task: str = "auto", batch_size: int = BATCH) -> None:
        self.model = model
        self.task = task
        self.batch_size = batch_size
        self.is_torch = is_torch_module(model)
        if model is None or (
            not self.is_torch
            and not callable(model)
            and not any(callable(getattr(model, m, None)) for m in ("predict_proba", "decision_function", "predict"))
        ):
            raise ValidationError(
                f"model ({type(model).__name__}) has no predict, predict_proba or decision_function method "
                "and is not callable; expected a fitted scikit-learn style estimator, a torch.nn.Module or a "
                "function of X.",
            )

    def _rows(self, X: Any, sl: slice) -> Any:
        if hasattr(X, "iloc"):
            return X.iloc[sl]
        return X[sl]

    def predict(self, X: Any, n: int) -> Output:
        from ..evaluation._models import predict

        task = "regression" if self.task == "regression" else "classification"
        if n <= self.batch_size or self.is_torch:  # torch batches inside the evaluation core
            outs = [predict(self.model, X, task=task)]
        else:
            outs = [
                predict(self.model, self._rows(X, slice(i, i + self.batch_size)), task=task)
                for i in range(0, n, self.batch_size)
            ]
        values = np.concatenate([np.asarray(o.values) for o in outs], axis=0)
        return self._convert(outs[0].kind, values, outs[0].classes)

    def _convert(self, kind: str, values: np.ndarray, classes: np.ndarray | None) -> Output:
        if kind == "proba":
            proba = values.astype(np.float64, copy=False)
            if proba.ndim == 1:
                proba = np.column_stack([1.0 - proba, proba])
            cls = (
                np.asarray(classes)
                if classes is not None and len(classes) == proba.shape[1]
                else np.arange(proba.shape[1])
            )
            if proba.shape[1] == 2:  # argmax of two columns without the slow small-axis reduction
                labels = cls[(proba[:, 1] > proba[:, 0]).astype(np.intp)]
            else:
                labels = cls[np.argmax(proba, axis=1)]
            score = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
            return Output(labels, proba, score)
        if kind == "decision":
            score = values.astype(np.float64, copy=False)
            cls = np.asarray(classes) if classes is not None and len(classes) == 2 else np.array([0, 1])
            return Output(cls[(score > 0).astype(np.int64)], None, score)
        if kind == "label":
            score = values.astype(np.float64) if values.dtype.kind in "biuf" else np.zeros(values.shape[0])
            return Output(values, None, score)
        vals = values.astype(np.float64, copy=False)
        return Output(vals, None, vals)
