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

    def __init__(self, **options: Any) -> None:
        self.options = options

    @property
    def _double(self) -> bool:
        return self.options.get("precision") == "float64"

    def parity_hint(self) -> str:
        if self._double:
            return (
                "ONNX tree ensembles compare features in float32 even in a double graph: bring large features "
                "to a small range before the trees (e.g. subtract an offset), loosen rtol/atol, or pass "
                "allow_mismatch=True to keep it anyway."
            )
        return (
            "A float32 ONNX graph rounds features, which can send rows down other branches of a tree or "
            "change large values: export with precision='float64' (a double-precision graph), loosen "
            "rtol/atol, or pass allow_mismatch=True to keep it anyway."
        )

    @classmethod
    def accepts(cls, model: Any) -> bool:
        return _is_sklearn(model) and hasattr(model, "predict")

    @staticmethod
    def _is_classifier(model: Any) -> bool:
        from sklearn.base import is_classifier

        return bool(is_classifier(model)) and hasattr(model, "predict_proba")

    # -- sample -------------------------------------------------------------------------
    def prepare_sample(
        self, model: Any, sample: Any, *, signature: Mapping | None = None, source: str = "sample"
    ) -> Sample:
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
                raise ValidationError(
                    f"The {where} could not be read as an array ({type(sample).__name__}).",
                    hint="Pass a pandas DataFrame or a 2-D numeric array.",
                ) from exc
            if arr.ndim != 2:
                raise ValidationError(
                    f"The {where} must be 2-D (rows x features), got shape {arr.shape}.",
                    hint="For one row use X.reshape(1, -1); for one feature use X.reshape(-1, 1).",
                )
            if names_in is not None and signature and _has_column_transformer(model):
                sample = pd.DataFrame(arr, columns=list(names_in))
            else:
                if arr.dtype.kind not in "biuf":
                    raise ValidationError(
                        f"The {where} has dtype {arr.dtype}, but an array sample must be numeric.",
                        hint="Pass a pandas DataFrame for string or categorical columns.",
                    )
                if n_in is not None and arr.shape[1] != n_in:
                    raise ValidationError(
                        f"The {where} has {arr.shape[1]} features, but the model expects {n_in}.",
                        hint="Pass rows with the same columns the model was trained on.",
                    )
                return self._tensor_sample(arr, arr, source, double=self._double)
        df = sample
        if len(df) == 0:
            raise ValidationError(f"The {where} has no rows.", hint="Pass at least one row.")
        if names_in is not None:
            missing = [c for c in names_in if c not in df.columns]
            if missing:
                raise ValidationError(
                    f"The {where} lacks the column(s) {', '.join(map(str, missing[:8]))} the model was trained on.",
                    hint=f"Pass a DataFrame with the columns {', '.join(map(str, list(names_in)[:12]))}.",
                )
            df = df[list(names_in)]
        elif n_in is not None and df.shape[1] != n_in:
            raise ValidationError(
                f"The {where} has {df.shape[1]} columns, but the model expects {n_in}.",
                hint="Pass rows with the same columns the model was trained on.",
            )
        numeric = all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in df.dtypes)
        if numeric and not _has_column_transformer(model):
            return self._tensor_sample(df, df.to_numpy(dtype=np.float64), source, double=self._double)
        return self._column_sample(df, source, double=self._double)

    @staticmethod
    def _tensor_sample(native: Any, arr: Any, source: str, *, double: bool = False) -> Sample:
        import numpy as np

        feeds = {"input": np.ascontiguousarray(arr, dtype=np.float64 if double else np.float32)}
        inputs = [{"name": "input", "datatype": "FP64" if double else "FP32", "shape": [-1, int(arr.shape[1])]}]

        def take(s: Sample, idx: Any) -> Sample:
            nat = s.native.iloc[idx] if hasattr(s.native, "iloc") else s.native[idx]
            f = {k: v[idx] for k, v in s.feeds.items()}
            return Sample(nat, f, s.inputs, len(f["input"]), s.take_fn, s.source)

        return Sample(native, feeds, inputs, int(arr.shape[0]), take, source)

    @staticmethod
    def _column_sample(df: Any, source: str, *, double: bool = False) -> Sample:
        import numpy as np
        import pandas as pd

        ftype, fname = (np.float64, "FP64") if double else (np.float32, "FP32")
        feeds, inputs = {}, []
        for col in df.columns:
            s = df[col]
            name = str(col)
            if pd.api.types.is_bool_dtype(s.dtype):
                feeds[name], dt = s.to_numpy(dtype=np.int64).reshape(-1, 1), "INT64"
            elif pd.api.types.is_integer_dtype(s.dtype):
                if s.isna().any():
                    feeds[name], dt = s.to_numpy(dtype=ftype, na_value=np.nan).reshape(-1, 1), fname
                else:
                    feeds[name], dt = s.to_numpy(dtype=np.int64).reshape(-1, 1), "INT64"
            elif pd.api.types.is_numeric_dtype(s.dtype):
                feeds[name], dt = s.to_numpy(dtype=ftype, na_value=np.nan).reshape(-1, 1), fname
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
            return {
                "label": np.asarray(model.predict(sample.native)),
                "probabilities": np.asarray(model.predict_proba(sample.native)),
            }
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
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType, StringTensorType

        bad = _unsupported(model)
        if bad:
            path, cls = bad[0]
            raise ExportError(
                f"The step '{path}' ({cls}) has no ONNX converter in skl2onnx, so the model cannot be exported.",
                hint="Replace the step with a supported one, or register a converter with "
                "skl2onnx.update_registered_converter().",
            )
        types = {"FP32": FloatTensorType, "FP64": DoubleTensorType, "INT64": Int64TensorType, "BYTES": StringTensorType}
        batch = None if dynamic_batch else sample.n_rows
        initial = [(i["name"], types[i["datatype"]]([batch, i["shape"][1]])) for i in sample.inputs]
        convertible = _with_string_missing_values(model)
        options = {id(convertible): {"zipmap": False}} if self._is_classifier(model) else None
        try:
            with quiet():
                proto = convert_sklearn(convertible, initial_types=initial, options=options, target_opset=opset)
        except Exception as exc:
            step = _failing_step(exc, convertible)
            where = f"the step '{step[0]}' ({step[1]})" if step else f"the {type(model).__name__}"
            raise ExportError(
                f"skl2onnx could not convert {where}: {_first_line(exc)}.", hint=_conversion_hint(exc, step)
            ) from exc
        if self._double:
            _float_trees_to_double(proto)
        data = proto.SerializeToString()
        checked = check(data, what="ONNX export")
        return Artifact(
            role="onnx", format="onnx", data=data, opset=opset_of(checked), method=f"skl2onnx {_version('skl2onnx')}"
        )


def _with_string_missing_values(model: Any) -> Any:
    """The model to convert: a copy whose string imputers look for ``""`` instead of NaN.

    A missing string reaches the ONNX graph as ``""`` (a string tensor holds no NaN), while
    scikit-learn's ``SimpleImputer`` on an object column looks for NaN, which skl2onnx refuses
    ("missing values are string not float"). The user's model is never changed; the parity
    check proves the copy agrees with the original on the sample, missing values included.
    """
    import copy
    import math

    from sklearn.impute import SimpleImputer

    def string_imputer(est: Any) -> bool:
        if not isinstance(est, SimpleImputer):
            return False
        stats, mv = getattr(est, "statistics_", None), est.missing_values
        return getattr(getattr(stats, "dtype", None), "kind", None) == "O" and isinstance(mv, float) and math.isnan(mv)

    if not any(string_imputer(est) for _, est in _walk(model)):
        return model
    clone = copy.deepcopy(model)
    for _, est in _walk(clone):
        if string_imputer(est):
            est.missing_values = ""
    return clone


def _float_trees_to_double(proto: Any) -> None:
    """Make a double-precision graph valid where ONNX tree ensembles only produce float.

    ``TreeEnsembleClassifier``/``Regressor`` take double inputs but always output float; skl2onnx
    declares their outputs double in a double graph, which onnx.checker and onnxruntime refuse.
    Each float output gets a Cast to double under its original name, so the preprocessing before
    the trees (where float32 rounding of large features flips splits) stays in double.
    """
    from onnx import TensorProto, helper

    nodes = list(proto.graph.node)
    out_nodes = []
    for node in nodes:
        out_nodes.append(node)
        if node.domain != "ai.onnx.ml" or node.op_type not in ("TreeEnsembleClassifier", "TreeEnsembleRegressor"):
            continue
        float_outputs = [1] if node.op_type == "TreeEnsembleClassifier" else [0]
        for i in float_outputs:
            if i >= len(node.output) or not node.output[i]:
                continue
            name = node.output[i]
            node.output[i] = f"{name}_float"
            out_nodes.append(
                helper.make_node(
                    "Cast",
                    [f"{name}_float"],
                    [name],
                    to=TensorProto.DOUBLE,
                    name=f"{node.name or node.op_type}_{i}_to_double",
                )
            )
    del proto.graph.node[:]
    proto.graph.node.extend(out_nodes)


def _failing_step(exc: BaseException, model: Any) -> tuple[str, str] | None:
    """(path, class) of the pipeline step whose converter raised, read from the traceback."""
    by_id = {id(est): path for path, est in _walk(model)}
    tb = exc.__traceback__
    found = None
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            raw = getattr(value, "raw_operator", None)
            if raw is not None and id(raw) in by_id:
                found = (by_id[id(raw)], type(raw).__name__)
        tb = tb.tb_next
    return found


def _conversion_hint(exc: BaseException, step: tuple[str, str] | None) -> str:
    text = str(exc)
    if "missing values" in text and "string" in text:
        return (
            "An imputer on a string column must look for a string: use SimpleImputer(missing_values=None "
            "or '') on string columns, or impute them before the pipeline."
        )
    if step:
        return (
            f"Check that skl2onnx supports the {step[1]} with these options (and the opset, if given), or "
            f"replace that step."
        )
    return "Check that every step is supported by skl2onnx (and the opset, if given)."


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:  # pragma: no cover
        return "?"
