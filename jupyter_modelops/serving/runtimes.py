"""Runtimes: what turns a dict of input arrays into a dict of named output arrays.

The server picks the first runtime, in the order onnx > torchscript > native,
for which the model directory has an artifact (``choose_runtime``). Each
runtime takes and returns arrays whose first axis is the batch, so that the
batcher can merge requests and split the answers back.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._optional import require
from ..exceptions import ValidationError
from .modeldir import NUMPY_TO_V2, RUNTIME_PREFERENCE, ModelSpec, TensorSpec

# ONNX element types -> V2 datatypes
_ORT_TO_V2 = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(float16)": "FP16",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(int16)": "INT16",
    "tensor(int8)": "INT8",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(bool)": "BOOL",
    "tensor(string)": "BYTES",
}


@dataclass
class RuntimeSettings:
    """How a runtime runs: threads and execution providers (from the hardware profile)."""

    threads: int = 1
    providers: tuple[str, ...] = ("CPUExecutionProvider",)

    @classmethod
    def from_env(cls) -> "RuntimeSettings":
        threads = int(os.environ.get("MODELOPS_SERVING_THREADS", "0") or 0) or int(
            os.environ.get("OMP_NUM_THREADS", "1") or 1
        )
        providers = tuple(
            p for p in os.environ.get("MODELOPS_SERVING_PROVIDERS", "CPUExecutionProvider").split(",") if p
        )
        return cls(threads=max(1, threads), providers=providers)


class Runtime:
    """Base class: ``predict(inputs) -> outputs``, both dicts of arrays (batch first)."""

    #: short name shown in metadata and metrics
    name = "runtime"
    #: the V2 metadata "platform"
    platform = "unknown"

    def __init__(self, spec: ModelSpec, inputs: list[TensorSpec], outputs: list[TensorSpec]) -> None:
        self.spec = spec
        self.inputs = inputs
        self.outputs = outputs

    def predict(self, inputs: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def input_error(self, exc: BaseException, inputs: dict[str, Any]) -> str | None:
        """One sentence when ``exc``, raised by :meth:`predict`, was caused by the request's values.

        The server answers such a failure with 400 for that request and does not
        count it towards the circuit breaker. The default blames the request when
        a ``ValueError`` or an arithmetic error meets NaN, infinite values or
        values beyond the FP32 range (which many models compute in); anything
        else is the model's own failure.
        """
        if not isinstance(exc, (ValueError, ArithmeticError)):
            return None
        import numpy as np

        for name, arr in inputs.items():
            if getattr(arr, "dtype", None) is None or arr.dtype.kind != "f" or not arr.size:
                continue
            with np.errstate(all="ignore"):
                if not np.isfinite(arr).all():
                    return (
                        f"Input '{name}' holds NaN or infinite values, which model '{self.spec.name}' cannot "
                        f"take ({_first_line(exc)}); send finite values, or impute the missing ones first."
                    )
                if float(np.abs(arr).max()) > _FP32_MAX:
                    return (
                        f"Input '{name}' holds values beyond {_FP32_MAX:.3g}, which model '{self.spec.name}' "
                        f"cannot take ({_first_line(exc)}); send values in the range it was trained on."
                    )
        return None

    def describe(self) -> dict:
        return {"runtime": self.name, "platform": self.platform}


_FP32_MAX = 3.4028234663852886e38


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return (line[:197] + "...") if len(line) > 200 else line.rstrip(".")


def _default_output_names(n: int, classifier: bool) -> list[str]:
    if classifier and n == 2:
        return ["label", "probabilities"]
    if n == 1:
        return ["predictions"]
    return [f"output_{i}" for i in range(n)]


class OnnxRuntime(Runtime):
    """onnxruntime ``InferenceSession``; providers and threads from the settings."""

    name = "onnxruntime"
    platform = "onnxruntime_onnx"

    def __init__(self, spec: ModelSpec, path: Path, settings: RuntimeSettings) -> None:
        ort = require("onnxruntime", purpose="serve an ONNX model")
        import numpy as np

        so = ort.SessionOptions()
        so.intra_op_num_threads = settings.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3
        available = set(ort.get_available_providers())
        providers = [p for p in settings.providers if p in available] or ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path), sess_options=so, providers=providers)
        sess_in = self.session.get_inputs()
        sess_out = self.session.get_outputs()
        self._in_names = [i.name for i in sess_in]
        self._in_dtypes = [np.dtype(_v2_numpy(_ORT_TO_V2.get(i.type, "FP32"))) for i in sess_in]
        self._out_names = [o.name for o in sess_out]
        # the signature names the request's inputs; otherwise the session's names are used
        if spec.inputs and len(spec.inputs) == len(sess_in):
            inputs = list(spec.inputs)
        else:
            inputs = [TensorSpec(i.name, _ORT_TO_V2.get(i.type, "FP32"), _ort_shape(i.shape)) for i in sess_in]
        lower = [n.lower() for n in self._out_names]
        classifier = len(sess_out) == 2 and "label" in lower[0] and "prob" in lower[1]
        if spec.outputs and len(spec.outputs) == len(sess_out):
            names = [o.name for o in spec.outputs]
        elif classifier:
            names = ["label", "probabilities"]
        else:
            names = list(self._out_names)
        outputs = [TensorSpec(n, _ORT_TO_V2.get(o.type, "FP32"), _ort_shape(o.shape)) for n, o in zip(names, sess_out)]
        # the signature's datatypes win when the session's differ only in width (skl2onnx computes
        # probabilities in FP32 where the registry, and the native runtime, say FP64): cast on output
        self._casts = []
        if spec.outputs and len(spec.outputs) == len(outputs):
            for i, (declared, got) in enumerate(zip(spec.outputs, outputs)):
                if declared.datatype != got.datatype and _same_family(declared.datatype, got.datatype):
                    outputs[i] = TensorSpec(got.name, declared.datatype, got.shape)
                    self._casts.append((got.name, np.dtype(_v2_numpy(declared.datatype))))
        super().__init__(spec, inputs, outputs)
        # a per-column input of a skl2onnx export is [N, 1]; the signature sends each column as [N]
        ranks = [len(i.shape) if isinstance(i.shape, (list, tuple)) else None for i in sess_in]
        self._pairs = list(zip([i.name for i in inputs], self._in_names, self._in_dtypes, ranks))
        self._out_public = names
        self.providers = self.session.get_providers()

    def predict(self, inputs: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        feed = {}
        for public, internal, dtype, rank in self._pairs:
            arr = inputs[public]
            if rank == 2 and arr.ndim == 1:
                arr = arr.reshape(-1, 1)
            if dtype.kind == "O" and arr.dtype.kind == "O":
                # BYTES arrive as bytes; a string tensor fed bytes sees "b'x'", a category it never saw
                arr = np.array(
                    [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in arr.ravel()], dtype=object
                ).reshape(arr.shape)
            feed[internal] = arr if arr.dtype == dtype else arr.astype(dtype)
        results = dict(zip(self._out_public, self.session.run(None, feed)))
        for name, dtype in self._casts:
            results[name] = results[name].astype(dtype)
        return results

    def describe(self) -> dict:
        return {"runtime": self.name, "platform": self.platform, "providers": self.providers}


class TorchScriptRuntime(Runtime):
    """A TorchScript module, run under ``torch.inference_mode()``."""

    name = "torchscript"
    platform = "pytorch_torchscript"

    def __init__(self, spec: ModelSpec, path: Path, settings: RuntimeSettings) -> None:
        torch = require("torch", purpose="serve a TorchScript model")
        torch.set_num_threads(settings.threads)
        self._torch = torch
        self.module = torch.jit.load(str(path), map_location="cpu")
        self.module.eval()
        if not spec.inputs:
            raise ValidationError(
                f"The TorchScript model '{spec.name}' has no input signature in its model directory.",
                hint="Snapshot it with example inputs so that the signature is recorded.",
            )
        outputs = list(spec.outputs) or [TensorSpec("predictions", "FP32", (-1,))]
        super().__init__(spec, list(spec.inputs), outputs)

    def predict(self, inputs: dict[str, Any]) -> dict[str, Any]:
        torch = self._torch
        import numpy as np

        args = [torch.from_numpy(np.ascontiguousarray(inputs[i.name])) for i in self.inputs]
        with torch.inference_mode():
            out = self.module(*args)
        if isinstance(out, dict):
            return {k: v.detach().numpy() for k, v in out.items()}
        if isinstance(out, (tuple, list)):
            return {o.name: v.detach().numpy() for o, v in zip(self.outputs, out)}
        return {self.outputs[0].name: out.detach().numpy()}


# Classifiers whose predict() is exactly classes_[argmax(predict_proba())]
_ARGMAX_CLASSIFIERS = {
    "HistGradientBoostingClassifier",
    "GradientBoostingClassifier",
    "RandomForestClassifier",
    "ExtraTreesClassifier",
    "DecisionTreeClassifier",
    "ExtraTreeClassifier",
    "KNeighborsClassifier",
    "GaussianNB",
    "MultinomialNB",
    "BernoulliNB",
    "ComplementNB",
    "CategoricalNB",
    "MLPClassifier",
}


class SklearnRuntime(Runtime):
    """The native scikit-learn model (skops, joblib, or pickle when the source is trusted)."""

    name = "sklearn"
    platform = "sklearn"

    def __init__(
        self, spec: ModelSpec, path: Path, fmt: str, settings: RuntimeSettings, *, role: str | None = None
    ) -> None:
        import numpy as np

        try:  # OpenMP threads of scikit-learn (HistGradientBoosting...) follow the settings
            from threadpoolctl import threadpool_limits

            self._limits = threadpool_limits(limits=settings.threads)
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            self._limits = None
        self.model = load_native(spec, path, fmt, role=role)
        model = self.model
        final = model.steps[-1][1] if hasattr(model, "steps") else model
        self._proba = hasattr(model, "predict_proba") and hasattr(final, "classes_")
        self._argmax = self._proba and type(final).__name__ in _ARGMAX_CLASSIFIERS
        self._classes = np.asarray(final.classes_) if self._proba else None
        n_features = getattr(model, "n_features_in_", None)
        if spec.inputs:
            inputs = list(spec.inputs)
        else:
            inputs = [TensorSpec("input", "FP64", (-1, int(n_features) if n_features else -1))]
        if self._proba:
            label_dt = NUMPY_TO_V2.get(self._classes.dtype.name, "BYTES")
            default = [
                TensorSpec("label", label_dt, (-1,)),
                TensorSpec("probabilities", "FP64", (-1, len(self._classes))),
            ]
        else:
            default = [TensorSpec("predictions", "FP64", (-1,))]
        if spec.outputs and len(spec.outputs) == len(default):
            outputs = [TensorSpec(s.name, d.datatype, d.shape) for s, d in zip(spec.outputs, default)]
        else:
            outputs = default
        super().__init__(spec, inputs, outputs)
        self._names = [o.name for o in outputs]
        self._columns = spec.feature_names
        self._frame = self._needs_frame()

    def _needs_frame(self) -> bool:
        """Models with column-name selectors need a DataFrame; plain arrays are faster."""
        import numpy as np

        if not self._columns or not hasattr(self.model, "feature_names_in_"):
            return False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.model.predict(np.zeros((1, len(self._columns))))
            return False
        except Exception:
            return True

    def _matrix(self, inputs: dict[str, Any]):
        import numpy as np

        if len(self.inputs) == 1:
            X = inputs[self.inputs[0].name]
            if X.ndim == 1:
                X = X.reshape(-1, 1)
        else:  # one tensor per column
            X = np.column_stack([inputs[i.name].reshape(len(inputs[i.name]), -1) for i in self.inputs])
        if self._frame:
            import pandas as pd

            X = pd.DataFrame(X, columns=self._columns)
        return X

    def predict(self, inputs: dict[str, Any]) -> dict[str, Any]:
        X = self._matrix(inputs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "X does not have valid feature names"
            if self._proba:
                proba = self.model.predict_proba(X)
                if self._argmax:
                    label = self._classes.take(proba.argmax(axis=1))
                else:
                    label = self.model.predict(X)
                return {self._names[0]: label, self._names[1]: proba}
            return {self._names[0]: self.model.predict(X)}

    def input_error(self, exc: BaseException, inputs: dict[str, Any]) -> str | None:
        """Also blames the request for scikit-learn's own input checks (``check_array`` and friends)."""
        why = super().input_error(exc, inputs)
        if why is None and isinstance(exc, ValueError) and _SKLEARN_INPUT_CHECK.search(str(exc)):
            why = (
                f"Model '{self.spec.name}' refused the request's values ({_first_line(exc)}); "
                "send values like those it was trained on."
            )
        return why


# messages of scikit-learn's input validation (sklearn.utils.validation), which blame the data sent
_SKLEARN_INPUT_CHECK = re.compile(
    r"^(Input (X |y )?contains|Found array with|Expected 2D array|X has \d+ features|Found input variables|"
    r"could not convert|Complex data not supported|dtype='numeric' is not compatible)"
)


def load_native(spec: ModelSpec, path: Path, fmt: str, *, role: str | None = None) -> Any:
    """Deserialize a scikit-learn artifact as far as the model directory's ``trust`` section allows.

    skops: only skops' default types plus those listed for ``role``. joblib and
    pickle run code from the file: only when the directory is marked trusted.

    Raises
    ------
    ValidationError
        One sentence naming what is not trusted; nothing of the file was run.
    """
    where = f"The model directory of '{spec.name}' ({spec.directory})"
    hint = (
        "If you trust where the version came from, run jupyter_modelops.trust(ref) and materialize or deploy it again."
    )
    if fmt == "skops":
        from ..registry._skops import load_skops

        types = spec.trusted_types(role) if role else []
        try:
            return load_skops(path, types, what=f"{where}: its file {path.name}")
        except ValidationError as exc:
            raise ValidationError(exc.message, hint=hint) from None
    if not spec.trusted:
        raise ValidationError(
            f"{where} holds a {fmt} file ({path.name}), which runs code when loaded, and is not "
            "marked trusted, so it was not loaded.",
            hint=hint,
        )
    if fmt == "joblib":
        joblib = require("joblib", purpose="load a joblib model", extra="sklearn")
        return joblib.load(path)
    import pickle

    with open(path, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - the registry marked this directory trusted


def _import_skops() -> Any:
    """Import ``skops.io`` fast (see :func:`jupyter_modelops.registry._skops.import_skops`)."""
    from ..registry._skops import import_skops

    return import_skops()


def _v2_numpy(datatype: str) -> str:
    from .modeldir import V2_TO_NUMPY

    return V2_TO_NUMPY[datatype]


def _same_family(a: str, b: str) -> bool:
    """Both floating point, or both integers: a cast between them keeps the meaning."""
    floats, ints = ("FP16", "FP32", "FP64"), ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
    return (a in floats and b in floats) or (a in ints and b in ints)


def _ort_shape(shape: Any) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (shape or []))


def choose_runtime(spec: ModelSpec, *, prefer: str | None = None, settings: RuntimeSettings | None = None) -> Runtime:
    """Load the preferred runtime the model directory has an artifact for.

    Parameters
    ----------
    spec : ModelSpec
        The model directory.
    prefer : {"onnx", "torchscript", "native"}, optional
        Force one runtime instead of the order onnx > torchscript > native.
    settings : RuntimeSettings, optional
        Threads and providers; default from the environment.
    """
    settings = settings or RuntimeSettings.from_env()
    order = RUNTIME_PREFERENCE
    if prefer:
        if prefer not in RUNTIME_PREFERENCE:
            raise ValidationError(f"runtime={prefer!r} is not known; expected one of {', '.join(RUNTIME_PREFERENCE)}.")
        order = (prefer,)
    for runtime in order:
        found = spec.artifact(runtime)
        if found is None:
            continue
        _role, path, fmt = found
        if runtime == "onnx":
            return OnnxRuntime(spec, path, settings)
        if runtime == "torchscript":
            return TorchScriptRuntime(spec, path, settings)
        return SklearnRuntime(spec, path, fmt, settings, role=_role)
    have = ", ".join(f"{r} ({a.get('format')})" for r, a in spec.artifacts.items())
    want = "a " + prefer + " artifact" if prefer else "an onnx, torchscript, skops, joblib or pickle artifact"
    raise ValidationError(
        f"The model directory of '{spec.name}' has no artifact this server can run (it has: {have}); expected {want}."
    )
