"""scikit-learn estimators and pipelines to ONNX through skl2onnx."""

from __future__ import annotations

import sys
from typing import Any, Callable, Iterator, Mapping

from .._optional import require
from ..exceptions import ExportError, ValidationError
from ._base import Artifact, Exporter, Sample, _first_line, quiet
from ._onnx import OnnxMixin, check, opset_of


def _is_sklearn(model: Any) -> bool:
    base = sys.modules.get("sklearn.base")
    if base is not None and isinstance(model, base.BaseEstimator):
        return True
    return any(c.__module__.split(".")[0] == "sklearn" for c in type(model).__mro__)


def _walk(model: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Leaf estimators of a (nested) pipeline, column transformer or feature union, with their path."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline

    if isinstance(model, Pipeline):
        for name, step in model.steps:
            yield from _walk(step, f"{path}{name}/")
    elif isinstance(model, ColumnTransformer):
        for name, trans, _cols in getattr(model, "transformers_", model.transformers):
            yield from _walk(trans, f"{path}{name}/")
    elif isinstance(model, FeatureUnion):
        for name, trans in model.transformer_list:
            yield from _walk(trans, f"{path}{name}/")
    elif isinstance(model, str) or model is None:  # "drop", "passthrough"
        return
    else:
        yield path.rstrip("/") or type(model).__name__, model


def _has_column_transformer(model: Any) -> bool:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(model, ColumnTransformer):
        return True
    if isinstance(model, Pipeline):
        return any(_has_column_transformer(s) for _, s in model.steps)
    return False


def _unsupported(model: Any) -> list[tuple[str, str]]:
    from skl2onnx._supported_operators import sklearn_operator_name_map

    return [(path, type(est).__name__) for path, est in _walk(model) if type(est) not in sklearn_operator_name_map]


class SklearnOnnxExporter(OnnxMixin, Exporter):
    """scikit-learn -> ONNX (skl2onnx); classifiers output ``label`` and a ``probabilities`` tensor."""

    name = "sklearn-onnx"
    format = "onnx"
    flavor = "sklearn"

    @classmethod
    def accepts(cls, model: Any) -> bool:
        return _is_sklearn(model) and hasattr(model, "predict")

    @staticmethod
    def _is_classifier(model: Any) -> bool:
        from sklearn.base import is_classifier

        return bool(is_classifier(model)) and hasattr(model, "predict_proba")

    # -- sample -------------------------------------------------------------------------
    def prepare_sample(self, model: Any, sample: Any, *, signature: Mapping | None = None,
                       source: str = "sample") -> Sample:
        import numpy as np
        import pandas as pd

        where = "sample" if source == "sample" else f"registry's {source}"
        n_in = getattr(model, "n_features_in_", None)
        names_in = getattr(model, "feature_names_in_", None)
        if isinstance(sample, pd.Series):
            sample = sample.to_frame().T
        if not isinstance(sample, pd.DataFrame):
            try:
                arr = np.asarray(sample)
            except Exception as exc:
                raise ValidationError(f"The {where} could not be read as an array ({type(sample).__name__}).",
                                      hint="Pass a pandas DataFrame or a 2-D numeric array.") from exc
            if arr.ndim != 2:
                raise ValidationError(
                    f"The {where} must be 2-D (rows x features), got shape {arr.shape}.",
                    hint="For one row use X.reshape(1, -1); for one feature use X.reshape(-1, 1).")
            if names_in is not None and signature and _has_column_transformer(model):
                sample = pd.DataFrame(arr, columns=list(names_in))
            else:
                if arr.dtype.kind not in "biuf":
                    raise ValidationError(
                        f"The {where} has dtype {arr.dtype}, but an array sample must be numeric.",
                        hint="Pass a pandas DataFrame for string or categorical columns.")
                if n_in is not None and arr.shape[1] != n_in:
                    raise ValidationError(
                        f"The {where} has {arr.shape[1]} features, but the model expects {n_in}.",
                        hint="Pass rows with the same columns the model was trained on.")
                return self._tensor_sample(arr, arr, source)
        df = sample
        if len(df) == 0:
            raise ValidationError(f"The {where} has no rows.", hint="Pass at least one row.")
        if names_in is not None:
            missing = [c for c in names_in if c not in df.columns]
            if missing:
                raise ValidationError(
                    f"The {where} lacks the column(s) {', '.join(map(str, missing[:8]))} the model was trained on.",
                    hint=f"Pass a DataFrame with the columns {', '.join(map(str, list(names_in)[:12]))}.")
            df = df[list(names_in)]
        elif n_in is not None and df.shape[1] != n_in:
            raise ValidationError(f"The {where} has {df.shape[1]} columns, but the model expects {n_in}.",
                                  hint="Pass rows with the same columns the model was trained on.")
        numeric = all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in df.dtypes)
        if numeric and not _has_column_transformer(model):
            return self._tensor_sample(df, df.to_numpy(dtype=np.float64), source)
        return self._column_sample(df, source)

    @staticmethod
    def _tensor_sample(native: Any, arr: Any, source: str) -> Sample:
        import numpy as np

        feeds = {"input": np.ascontiguousarray(arr, dtype=np.float32)}
        inputs = [{"name": "input", "datatype": "FP32", "shape": [-1, int(arr.shape[1])]}]

        def take(s: Sample, idx: Any) -> Sample:
            nat = s.native.iloc[idx] if hasattr(s.native, "iloc") else s.native[idx]
            f = {k: v[idx] for k, v in s.feeds.items()}
            return Sample(nat, f, s.inputs, len(f["input"]), s.take_fn, s.source)

        return Sample(native, feeds, inputs, int(arr.shape[0]), take, source)

    @staticmethod
    def _column_sample(df: Any, source: str) -> Sample:
        import numpy as np
        import pandas as pd

        feeds, inputs = {}, []
        for col in df.columns:
            s = df[col]
            name = str(col)
            if pd.api.types.is_bool_dtype(s.dtype):
                feeds[name], dt = s.to_numpy(dtype=np.int64).reshape(-1, 1), "INT64"
            elif pd.api.types.is_integer_dtype(s.dtype):
                if s.isna().any():
                    feeds[name], dt = s.to_numpy(dtype=np.float32, na_value=np.nan).reshape(-1, 1), "FP32"
                else:
                    feeds[name], dt = s.to_numpy(dtype=np.int64).reshape(-1, 1), "INT64"
            elif pd.api.types.is_numeric_dtype(s.dtype):
                feeds[name], dt = s.to_numpy(dtype=np.float32, na_value=np.nan).reshape(-1, 1), "FP32"
            else:
                vals = s.astype(object).where(s.notna(), "").map(str)
                feeds[name], dt = vals.to_numpy(dtype=object).reshape(-1, 1), "BYTES"
            inputs.append({"name": name, "datatype": dt, "shape": [-1, 1]})

        def take(smp: Sample, idx: Any) -> Sample:
            f = {k: v[idx] for k, v in smp.feeds.items()}
            return Sample(smp.native.iloc[idx], f, smp.inputs, len(smp.native.iloc[idx]), smp.take_fn, smp.source)

        return Sample(df, feeds, inputs, len(df), take, source)

    # -- original -----------------------------------------------------------------------
    def reference(self, model: Any, sample: Sample) -> dict[str, Any]:
        import numpy as np

        if self._is_classifier(model):
            return {"label": np.asarray(model.predict(sample.native)),
                    "probabilities": np.asarray(model.predict_proba(sample.native))}
        pred = np.asarray(model.predict(sample.native))
        return {"variable": pred.reshape(sample.n_rows, -1)}

    def original_runner(self, model: Any) -> Callable[[Sample], Any]:
        if self._is_classifier(model):
            return lambda s: model.predict_proba(s.native)
        return lambda s: model.predict(s.native)

    # -- the export ---------------------------------------------------------------------
    def _export(self, model: Any, sample: Sample, *, opset: int | None, dynamic_batch: bool) -> Artifact:
        require("skl2onnx", purpose="export scikit-learn models to ONNX")
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

        bad = _unsupported(model)
        if bad:
            path, cls = bad[0]
            raise ExportError(
                f"The step '{path}' ({cls}) has no ONNX converter in skl2onnx, so the model cannot be exported.",
                hint="Replace the step with a supported one, or register a converter with "
                     "skl2onnx.update_registered_converter().")
        types = {"FP32": FloatTensorType, "INT64": Int64TensorType, "BYTES": StringTensorType}
        batch = None if dynamic_batch else sample.n_rows
        initial = [(i["name"], types[i["datatype"]]([batch, i["shape"][1]])) for i in sample.inputs]
        options = {id(model): {"zipmap": False}} if self._is_classifier(model) else None
        try:
            with quiet():
                proto = convert_sklearn(model, initial_types=initial, options=options, target_opset=opset)
        except Exception as exc:
            raise ExportError(f"skl2onnx could not convert the {type(model).__name__}: {_first_line(exc)}.",
                              hint="Check that every step is supported by skl2onnx (and the opset, if given).") \
                from exc
        data = proto.SerializeToString()
        checked = check(data, what="ONNX export")
        return Artifact(role="onnx", format="onnx", data=data, opset=opset_of(checked),
                        method=f"skl2onnx {_version('skl2onnx')}")


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:  # pragma: no cover
        return "?"
