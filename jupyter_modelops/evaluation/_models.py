"""Getting predictions out of a model: scikit-learn API, torch modules, callables, files."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import is_torch_module, require
from .._validation import as_2d_or_1d, check_finite, check_numeric, describe
from ..exceptions import ValidationError

TORCH_BATCH = 65_536


@dataclass
class Outputs:
    """What a model gave: ``kind`` is "proba", "decision", "label" or "value"."""

    kind: str
    values: np.ndarray
    classes: np.ndarray | None = None
    source: str = ""
    clipped: int = 0  # probabilities brought back into [0, 1] (rounding)


#: Probabilities may leave [0, 1] by this much through rounding; they are clipped back (with a note).
ROUNDING_TOL = 1e-9


def as_probabilities(vals: np.ndarray) -> tuple[np.ndarray | None, int]:
    """``(vals clipped to [0, 1], number clipped)`` when every value lies within
    :data:`ROUNDING_TOL` of [0, 1]; ``(None, 0)`` when some value is clearly outside."""
    if vals.size == 0:
        return vals, 0
    lo, hi = float(vals.min()), float(vals.max())
    if lo < -ROUNDING_TOL or hi > 1.0 + ROUNDING_TOL:
        return None, 0
    if lo >= 0.0 and hi <= 1.0:
        return vals, 0
    out = np.clip(vals, 0.0, 1.0)
    return out, int(((vals < 0.0) | (vals > 1.0)).sum())


def describe_scores(vals: np.ndarray, name: str) -> str:
    """The loud sentence of a report whose scores were read as decision values."""
    return (
        f"{name} has values outside [0, 1] (from {float(np.min(vals)):.6g} to {float(np.max(vals)):.6g}), so it "
        "was read as DECISION SCORES, not probabilities: the threshold applies to logit(threshold) on that "
        "scale, and log loss, Brier score and calibration are not computed. If these are probabilities, "
        "fix the values outside [0, 1] (clip or renormalise) and evaluate again."
    )


def _is_classifier_output_2d(a: np.ndarray) -> bool:
    return a.ndim == 2 and a.shape[1] >= 2


def interpret(raw: Any, *, task: str, name: str = "the model's output") -> Outputs:
    """Turn a raw array (callable or torch output) into Outputs.

    Floats in [0, 1] with one column or rows summing to 1 are probabilities
    (values off by at most :data:`ROUNDING_TOL`, rounding, are clipped);
    other floats with several columns are logits (softmax applied); other
    floats with one column are a decision score (classification) or values
    (regression); integers, booleans and strings are labels.
    """
    arr = as_2d_or_1d(raw, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if task == "regression":
        vals = check_numeric(arr, name)
        if vals.ndim != 1:
            raise ValidationError(f"{name} has shape {arr.shape}; expected one value per row for regression.")
        check_finite(vals, name)
        return Outputs("value", vals)
    if arr.dtype.kind in "biuUSO":
        if arr.ndim != 1:
            raise ValidationError(f"{name} has shape {arr.shape}; expected one label per row.")
        return Outputs("label", arr)
    vals = check_numeric(arr, name)
    check_finite(vals, name)
    if vals.ndim == 2:
        probs, clipped = as_probabilities(vals)
        if probs is not None and np.allclose(probs.sum(axis=1), 1.0, atol=1e-6):
            return Outputs("proba", probs, clipped=clipped)
        z = vals - vals.max(axis=1, keepdims=True)
        e = np.exp(z)
        return Outputs("proba", e / e.sum(axis=1, keepdims=True))
    probs, clipped = as_probabilities(vals)
    if probs is not None:
        return Outputs("proba", probs, clipped=clipped)
    return Outputs("decision", vals)


@contextlib.contextmanager
def _eval_mode(module):
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def _torch_predict(model, X) -> np.ndarray:
    torch = require("torch", purpose="evaluate a torch model")
    if isinstance(X, torch.Tensor):
        t = X
    else:
        arr = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
        arr = check_numeric(arr, "X")
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    try:
        param = next(model.parameters())
        t = t.to(device=param.device, dtype=param.dtype if param.is_floating_point() else t.dtype)
    except StopIteration:
        pass
    outs = []
    with _eval_mode(model), torch.no_grad():
        for start in range(0, t.shape[0], TORCH_BATCH):
            o = model(t[start : start + TORCH_BATCH])
            if isinstance(o, (tuple, list)):
                o = o[0]
            outs.append(o.detach().float().cpu().numpy())
    return np.concatenate(outs, axis=0)


def predict(model: Any, X: Any, *, task: str) -> Outputs:
    """Call the most informative prediction method the model has."""
    if model is None:
        raise ValidationError("model is None; expected a fitted model, a torch module or a callable.")
    if is_torch_module(model):
        return _with_source(interpret(_torch_predict(model, X), task=task), "torch")
    has = {m: callable(getattr(model, m, None)) for m in ("predict_proba", "decision_function", "predict")}
    classes = getattr(model, "classes_", None)
    classes = None if classes is None else np.asarray(classes)
    try:
        if task != "regression" and has["predict_proba"]:
            out = np.asarray(model.predict_proba(X))
            if out.ndim == 2 and out.shape[1] == 1:
                out = out[:, 0]
            check_finite(check_numeric(out, "predict_proba output"), "predict_proba output")
            return Outputs("proba", out.astype(np.float64, copy=False), classes, "predict_proba")
        if task != "regression" and has["decision_function"]:
            out = check_numeric(np.asarray(model.decision_function(X)), "decision_function output")
            check_finite(out, "decision_function output")
            if out.ndim == 2 and out.shape[1] > 1:  # multiclass decision: fall back to labels
                if has["predict"]:
                    return Outputs("label", np.asarray(model.predict(X)), classes, "predict")
            return Outputs("decision", out.ravel() if out.ndim == 2 else out, classes, "decision_function")
        if has["predict"]:
            out = np.asarray(model.predict(X))
            o = interpret(out, task=task, name="predict output")
            if (
                o.kind in ("proba", "decision")
                and task != "regression"
                and getattr(model, "_estimator_type", "") == "classifier"
            ):
                o = Outputs("label", out)
            o.classes, o.source = classes, "predict"
            return o
    except ValidationError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValidationError(
            f"The model could not predict on X ({describe(X)}): {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            hint="Check that X has the columns and types the model was trained on.",
        ) from exc
    if callable(model):
        return _with_source(interpret(model(X), task=task), "callable")
    raise ValidationError(
        f"model ({type(model).__name__}) has no predict_proba, decision_function or predict method and is not "
        "callable; expected a fitted scikit-learn-style model, a torch.nn.Module or a function of X.",
    )


def _with_source(o: Outputs, source: str) -> Outputs:
    o.source = source
    return o


def estimator_type(model: Any) -> str | None:
    t = getattr(model, "_estimator_type", None)
    if t is None:
        try:
            tags = model.__sklearn_tags__()
            t = getattr(tags, "estimator_type", None)
        except Exception:
            t = None
    return t


# ---------------------------------------------------------------------- files


class OnnxModel:
    """An ONNX model run with onnxruntime, with ``predict`` / ``predict_proba``.

    Classifier exports from skl2onnx (a label output and a probability output,
    as a tensor or a list of maps) and single-output models are understood.
    """

    def __init__(self, path: str | Path) -> None:
        ort = require("onnxruntime", purpose="evaluate an ONNX model")
        self.path = str(path)
        try:
            self.session = ort.InferenceSession(self.path, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ValidationError(f"Could not load the ONNX model '{path}': {exc}.") from exc
        self.inputs = self.session.get_inputs()
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.classes_ = self._classlabels()
        prob = [o for o in self.outputs if "prob" in o.lower()]
        self._prob = prob[0] if prob else (self.outputs[1] if len(self.outputs) > 1 else None)

    def _classlabels(self):
        try:
            onnx = require("onnx", purpose="read class labels of an ONNX model")
            m = onnx.load(self.path)
        except Exception:
            return None
        for node in m.graph.node:
            for a in node.attribute:
                if a.name == "classlabels_ints" and a.ints:
                    return np.array(list(a.ints))
                if a.name == "classlabels_strings" and a.strings:
                    return np.array([s.decode() for s in a.strings])
        return None

    def _feed(self, X):
        if len(self.inputs) == 1:
            arr = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
            t = self.inputs[0].type
            dtype = {
                "tensor(float)": np.float32,
                "tensor(double)": np.float64,
                "tensor(int64)": np.int64,
                "tensor(string)": object,
            }.get(t, np.float32)
            if dtype is not object:
                arr = check_numeric(arr, "X")
            return {self.inputs[0].name: arr.astype(dtype)}
        if not hasattr(X, "columns"):
            raise ValidationError(
                f"The ONNX model has {len(self.inputs)} inputs ({', '.join(i.name for i in self.inputs)}); "
                "expected X as a table with a column for each."
            )
        feed = {}
        for i in self.inputs:
            if i.name not in X.columns:
                raise ValidationError(f"The ONNX model needs the input column '{i.name}', which X does not have.")
            col = X[[i.name]].to_numpy()
            feed[i.name] = col.astype(np.float32) if i.type == "tensor(float)" else col
        return feed

    def predict(self, X):
        out = self.session.run([self.outputs[0]], self._feed(X))[0]
        return np.asarray(out).ravel()

    def predict_proba(self, X):
        if self._prob is None:
            raise AttributeError("predict_proba")
        out = self.session.run([self._prob], self._feed(X))[0]
        if isinstance(out, list):  # ZipMap: list of {class: prob}
            keys = list(out[0].keys()) if out else []
            if self.classes_ is None:
                self.classes_ = np.array(keys)
            out = np.array([[row[k] for k in keys] for row in out])
        return np.asarray(out, dtype=np.float64)

    def __getattribute__(self, item):
        if item == "predict_proba" and object.__getattribute__(self, "_prob") is None:
            raise AttributeError(item)
        return object.__getattribute__(self, item)


def load_model(path: str | Path, *, trusted: bool = False) -> Any:
    """Load a model file: skops (``.skops``), ONNX (``.onnx``), TorchScript (``.pt``, ``.ts``), joblib/pickle.

    The same rule as ``snapshot`` of a file (:func:`jupyter_modelops.registry.api.read_model_file`):
    a file from elsewhere is untrusted until the user says otherwise.

    Parameters
    ----------
    path : str or Path
        The model file.
    trusted : bool, default=False
        joblib and pickle files can run arbitrary code when loaded; they are
        refused unless ``trusted=True``. skops files load only the types
        skops trusts by default (not a tree ensemble's ``Tree``/``TreePredictor``)
        unless ``trusted=True``.
    """
    from ..registry.api import read_model_file

    model = read_model_file(path, trusted=trusted, trust_flag="--trust")
    return OnnxModel(model) if isinstance(model, str) else model
