"""Call a model on a table, in batches, whatever kind of model it is.

Supports scikit-learn style estimators (``predict_proba``, ``decision_function``,
``predict``), ``torch.nn.Module`` (batches under ``no_grad``, train/eval mode
restored) and plain callables. Inputs are rebuilt in the form the user passed
(DataFrame, NumPy array or torch tensor) so that pipelines see what they expect.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from .._optional import is_torch_module, is_torch_tensor
from ..drift._columns import CATEGORICAL, Table
from ..exceptions import ValidationError

BATCH = 65_536


@dataclass
class Output:
    """Predictions on one table."""

    labels: np.ndarray          # predicted class labels, or regression values
    proba: np.ndarray | None    # (n, k) class probabilities when available
    score: np.ndarray           # (n,) a scalar score per row (positive-class probability, decision value or prediction)


class Former:
    """Rebuild the user's input form (DataFrame / ndarray / tensor) from a :class:`Table`."""

    def __init__(self, X: Any, table: Table) -> None:
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
            arr = np.column_stack([table.columns[n] for n in self.names])
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


@contextlib.contextmanager
def eval_mode(module: Any) -> Iterator[None]:
    """Put a torch module in eval mode and restore its previous mode afterwards."""
    was_training = bool(getattr(module, "training", False))
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


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
                return "classification" if (hasattr(model, "predict_proba") or is_torch_module(model)
                                            or hasattr(model, "classes_")) else "regression"
            return "regression"
    if hasattr(model, "predict_proba") or hasattr(model, "classes_"):
        return "classification"
    return "auto"


class Predictor:
    """Batched predictions of any supported model."""

    def __init__(self, model: Any, *, task: str = "auto", batch_size: int = BATCH) -> None:
        self.model = model
        self.task = task
        self.batch_size = batch_size
        self.is_torch = is_torch_module(model)
        if not self.is_torch and not callable(model) and not any(
                hasattr(model, m) for m in ("predict_proba", "decision_function", "predict")):
            raise ValidationError(
                f"The model ({type(model).__name__}) has no predict, predict_proba or decision_function method "
                "and is not callable.",
                hint="Pass a fitted scikit-learn style estimator, a torch.nn.Module or a function of X.",
            )

    @property
    def classes(self) -> np.ndarray | None:
        return getattr(self.model, "classes_", None)

    def _rows(self, X: Any, sl: slice) -> Any:
        if hasattr(X, "iloc"):
            return X.iloc[sl]
        return X[sl]

    def _batched(self, fn, X: Any, n: int) -> np.ndarray:
        if n <= self.batch_size:
            return np.asarray(fn(X))
        parts = [np.asarray(fn(self._rows(X, slice(i, i + self.batch_size)))) for i in range(0, n, self.batch_size)]
        return np.concatenate(parts, axis=0)

    def predict(self, X: Any, n: int) -> Output:
        if self.is_torch:
            return self._torch(X, n)
        m = self.model
        if self.task != "regression" and hasattr(m, "predict_proba"):
            proba = self._batched(m.predict_proba, X, n).astype(np.float64, copy=False)
            if proba.ndim == 1:
                proba = np.column_stack([1 - proba, proba])
            classes = self.classes if self.classes is not None else np.arange(proba.shape[1])
            labels = np.asarray(classes)[np.argmax(proba, axis=1)]
            score = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
            return Output(labels, proba, score)
        if hasattr(m, "predict"):
            labels = self._batched(m.predict, X, n)
            if self.task != "regression" and hasattr(m, "decision_function"):
                dec = self._batched(m.decision_function, X, n).astype(np.float64)
                score = dec if dec.ndim == 1 else dec.max(axis=1)
                return Output(labels, None, score)
            score = labels.astype(np.float64) if labels.dtype.kind in "biuf" else np.zeros(len(labels))
            return Output(labels.ravel() if labels.ndim > 1 and labels.shape[1] == 1 else labels, None, score.ravel())
        out = self._batched(m, X, n)
        return self._from_array(out)

    def _from_array(self, out: np.ndarray) -> Output:
        out = np.asarray(out)
        if out.ndim == 2 and out.shape[1] > 1:
            proba = out.astype(np.float64)
            labels = np.argmax(proba, axis=1)
            classes = self.classes
            if classes is not None:
                labels = np.asarray(classes)[labels]
            score = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
            return Output(labels, proba, score)
        out = out.reshape(-1)
        if self.task == "classification" and out.dtype.kind == "f" and np.all((out >= 0) & (out <= 1)):
            proba = np.column_stack([1 - out, out])
            return Output((out >= 0.5).astype(np.int64), proba, out.astype(np.float64))
        score = out.astype(np.float64) if out.dtype.kind in "biuf" else np.zeros(out.size)
        return Output(out, None, score)

    def _torch(self, X: Any, n: int) -> Output:
        import torch

        t = X if is_torch_tensor(X) else torch.as_tensor(np.asarray(X, dtype=np.float32))
        param = next(iter(self.model.parameters()), None)
        if param is not None:
            t = t.to(dtype=param.dtype, device=param.device)
        outs = []
        with eval_mode(self.model), torch.no_grad():
            for i in range(0, n, self.batch_size):
                outs.append(self.model(t[i:i + self.batch_size]).detach().cpu().numpy())
        raw = np.concatenate(outs, axis=0).astype(np.float64)
        return self.torch_output(raw)

    def torch_output(self, raw: np.ndarray) -> Output:
        """Interpret raw network outputs: logits -> softmax (k > 1), one logit -> sigmoid for classification."""
        if raw.ndim == 2 and raw.shape[1] > 1:
            z = raw - raw.max(axis=1, keepdims=True)
            e = np.exp(z)
            proba = e / e.sum(axis=1, keepdims=True)
            labels = np.argmax(proba, axis=1)
            score = proba[:, 1] if proba.shape[1] == 2 else proba.max(axis=1)
            return Output(labels, proba, score)
        raw = raw.reshape(-1)
        if self.task == "classification":
            p = 1.0 / (1.0 + np.exp(-raw))
            return Output((p >= 0.5).astype(np.int64), np.column_stack([1 - p, p]), p)
        return Output(raw, None, raw)
