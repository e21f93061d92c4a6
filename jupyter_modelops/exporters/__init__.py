"""Export models to ONNX and TorchScript, with a parity gate and optional quantization.

:func:`export` picks an :class:`Exporter` for the model and format from the
holder :data:`exporters` (built-ins: scikit-learn -> ONNX via skl2onnx, torch ->
ONNX via ``torch.onnx.export``, torch -> TorchScript), loads the export back,
compares its outputs with the original's and refuses an export that differs
beyond tolerance (:class:`~jupyter_modelops.exceptions.ParityError`). Given a
registry reference, the artifacts are attached to that version and an
``"export"`` record is written; the same export of the same version is reused.

Plugins add exporters with :func:`register` or the ``jupyter_modelops.exporters``
entry point group (the value is an :class:`Exporter` subclass).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..exceptions import ValidationError, suggest
from ._base import FORMATS, QUANTIZE, Artifact, Exporter, Exporters, Sample, exporters, register
from .result import ExportResult

__all__ = ["export", "ExportResult", "Exporter", "Exporters", "Sample", "Artifact", "exporters", "register", "ROLES"]

ROLES = {"onnx": "onnx", "torchscript": "torchscript", "int8": "onnx-int8", "fp16": "onnx-fp16"}
_FILENAMES = {
    "onnx": "model.onnx",
    "onnx-int8": "model.int8.onnx",
    "onnx-fp16": "model.fp16.onnx",
    "torchscript": "model.torchscript.pt",
}
_ENGINES = ("auto", "dynamo", "torchscript")
PRECISIONS = ("float32", "float64")


def _register_builtins() -> None:
    from ._sklearn import SklearnOnnxExporter
    from ._torch import TorchOnnxExporter, TorchScriptExporter

    for cls in (SklearnOnnxExporter, TorchOnnxExporter, TorchScriptExporter):
        if cls.name not in exporters.names():
            exporters.register(cls.name, cls)


def export(
    model_or_ref: Any,
    format: str = "onnx",
    *,
    sample: Any = None,
    opset: int | None = None,
    dynamic_batch: bool = True,
    quantize: str | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    allow_mismatch: bool = False,
    benchmark: bool = True,
    onnx_exporter: str = "auto",
    precision: str = "float32",
) -> ExportResult:
    """Export a model to ONNX or TorchScript and prove the export gives the same outputs.

    Parameters
    ----------
    model_or_ref : object, str or ModelVersion
        A fitted scikit-learn estimator or pipeline, a ``torch.nn.Module``, or a
        registry reference (``"churn"``, ``"churn:3"``, ``"churn@production"``).
    format : {"onnx", "torchscript"}, default="onnx"
    sample : DataFrame, array, tensor or tuple of tensors, optional
        Rows the model accepts. They fix the input types (a DataFrame with
        mixed dtypes gives one ONNX input per column, a numeric one a single
        float tensor) and are the data parity is checked on. Optional for a
        registry reference that stores a sample (``snapshot(..., data=X)``);
        that stored sample is checked as well when both exist.
    opset : int, optional
        ONNX opset (default: the converter's; 18 for torch's dynamo exporter).
    dynamic_batch : bool, default=True
        Leave the batch dimension free.
    quantize : {None, "int8", "fp16"}, default=None
        Also produce a dynamic-int8 (onnxruntime) or float16 (onnxconverter-common)
        variant, parity-checked with the same tolerances.
    rtol, atol : float, default=1e-4, 1e-5
        An output passes when ``|export - original| <= atol + rtol * |original|``;
        labels must agree except on ties of the original's probabilities.
    allow_mismatch : bool, default=False
        Keep (and store) an export that fails parity instead of raising.
    benchmark : bool, default=True
        Time the original and each export in process (single row and batch,
        one thread, at most 300 calls or 0.75 s each).
    onnx_exporter : {"auto", "dynamo", "torchscript"}, default="auto"
        For torch -> ONNX: torch's dynamo exporter (needs onnxscript), the
        TorchScript-based one, or dynamo with a fallback.
    precision : {"float32", "float64"}, default="float32"
        Floating-point type of a scikit-learn model's ONNX inputs and graph. ``"float64"`` keeps
        double precision where float32 would round features across a tree's split thresholds
        (the parity gate then refuses the float32 export and suggests this).

    Returns
    -------
    ExportResult

    Raises
    ------
    ValidationError
        Bad arguments, no sample, or a sample of the wrong shape or dtype.
    ExportError
        Unsupported model type, step or operator; a module that neither scripts nor traces.
    ParityError
        The export's outputs differ beyond tolerance (``allow_mismatch=False``).
    MissingDependencyError
        onnx, onnxruntime, skl2onnx or torch is missing.

    Examples
    --------
    >>> result = export(pipeline, "onnx", sample=X_test[:200])  # doctest: +SKIP
    >>> result.max_abs_diff() < 1e-5, result.path.name  # doctest: +SKIP
    (True, '....onnx')
    >>> export("churn:3", quantize="int8", atol=0.05)  # doctest: +SKIP
    """
    _check_args(format, opset, dynamic_batch, quantize, rtol, atol, allow_mismatch, onnx_exporter)
    if precision not in PRECISIONS:
        raise ValidationError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}.")
    if precision != "float32" and quantize is not None:
        raise ValidationError(
            f"quantize={quantize!r} applies to float32 exports, but precision is {precision!r}.",
            hint="Drop quantize, or export with precision='float32'.",
        )
    _register_builtins()
    version, model = _resolve(model_or_ref)
    exporter = exporters.find(model, format)
    if precision != "float32" and exporter.name != "sklearn-onnx":
        raise ValidationError(
            f"precision={precision!r} applies to scikit-learn ONNX exports; this is a {exporter.name} export.",
            hint="Drop precision.",
        )
    if hasattr(exporter, "options"):
        exporter.options = {"onnx_exporter": onnx_exporter, "precision": precision}
    stored = _stored_sample(version, exporter.flavor) if version is not None else None
    extra: list = []
    sample_name = "sample"
    if sample is None:
        sample, sample_name = stored, "stored sample"
    elif stored is not None:
        extra.append(("stored sample", stored, None))
    if sample is None:
        what = f"{version.ref} has no stored sample, and a" if version is not None else "A"
        raise ValidationError(
            f"{what} sample input is needed to export a {exporter.flavor} model: it fixes the input types "
            f"and the parity check runs on it.",
            hint="Pass sample= with a few rows the model accepts (e.g. sample=X_test[:100]), "
            "or snapshot the model with data=X so the registry keeps one.",
        )
    source = version.ref if version is not None else type(model).__name__
    options = {
        "format": format,
        "opset": opset,
        "dynamic_batch": dynamic_batch,
        "quantize": quantize,
        "rtol": rtol,
        "atol": atol,
        "allow_mismatch": allow_mismatch,
        "onnx_exporter": onnx_exporter,
        "exporter": exporter.name,
        **({"precision": precision} if precision != "float32" else {}),
    }
    key = None
    if version is not None:
        with exporter.frozen(model) as ready:
            fp = exporter.prepare_sample(ready, sample, signature=version.signature).fingerprint()
        key = hashlib.sha256(json.dumps({**options, "sample": fp}, sort_keys=True).encode()).hexdigest()
        previous = _reuse(version, key)
        if previous is not None:
            return previous
    result = exporter.export(
        model,
        sample,
        opset=opset,
        dynamic_batch=dynamic_batch,
        quantize=quantize,
        rtol=rtol,
        atol=atol,
        allow_mismatch=allow_mismatch,
        extra_samples=extra,
        benchmark=benchmark,
        source=source,
        sample_name=sample_name,
        signature=version.signature if version is not None else None,
    )
    result.key = key
    result.options.update(onnx_exporter=onnx_exporter, exporter=exporter.name, precision=precision)
    if version is not None:
        _attach(version, result)
    else:
        _store_local(result)
    return result


def _check_args(
    format: Any,
    opset: Any,
    dynamic_batch: Any,
    quantize: Any,
    rtol: Any,
    atol: Any,
    allow_mismatch: Any,
    onnx_exporter: Any,
) -> None:
    if format not in FORMATS:
        raise ValidationError(
            f"format must be one of {', '.join(FORMATS)}; got {format!r}.{suggest(str(format), FORMATS)}"
        )
    if quantize not in QUANTIZE:
        raise ValidationError(f"quantize must be None, 'int8' or 'fp16'; got {quantize!r}.")
    if quantize is not None and format != "onnx":
        raise ValidationError(
            f"quantize={quantize!r} applies to ONNX exports, but format is {format!r}.",
            hint="Use format='onnx' with quantize, or drop quantize.",
        )
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int) or not 7 <= opset <= 30):
        raise ValidationError(f"opset must be an integer between 7 and 30; got {opset!r}.")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValidationError(f"{name} must be a number >= 0; got {value!r}.")
    for name, value in (("dynamic_batch", dynamic_batch), ("allow_mismatch", allow_mismatch)):
        if not isinstance(value, bool):
            raise ValidationError(f"{name} must be True or False; got {value!r}.")
    if onnx_exporter not in _ENGINES:
        raise ValidationError(f"onnx_exporter must be one of {', '.join(_ENGINES)}; got {onnx_exporter!r}.")


def _is_version(obj: Any) -> bool:
    return type(obj).__name__ == "ModelVersion" and hasattr(obj, "ref") and hasattr(obj, "artifacts")


def _resolve(model_or_ref: Any) -> tuple[Any, Any]:
    """(ModelVersion or None, model object)."""
    if isinstance(model_or_ref, str) or _is_version(model_or_ref):
        from .. import registry

        version = registry.get(model_or_ref)
        return version, registry.load(version)
    if model_or_ref is None:
        raise ValidationError("model_or_ref is None; pass a fitted model or a registry reference such as 'churn:3'.")
    return None, model_or_ref


def _stored_sample(version: Any, flavor: str) -> Any:
    """The sample input the registry kept at snapshot time, as the model's own input type.

    The ``sample`` artifact (up to 1,000 rows) when the version has one, else the 5-row preview.
    """
    stored = version.sample_input
    if "sample" in (version.artifacts or {}):
        from .. import registry

        try:
            stored = json.loads(registry.artifact_path(version, "sample").read_bytes())
        except (OSError, ValueError):  # a missing or unreadable blob: fall back to the preview
            stored = version.sample_input
    if not stored or not stored.get("data"):
        return None
    import numpy as np

    names = stored.get("feature_names") or []
    if names:
        import pandas as pd

        df = pd.DataFrame(stored["data"], columns=names)
        for col in version.signature.get("columns") or []:
            name, dtype = col.get("name"), col.get("dtype")
            if name in df.columns and dtype:
                try:
                    df[name] = df[name].astype(dtype)
                except (TypeError, ValueError):
                    pass
        return df
    arr = np.asarray(stored["data"], dtype=stored.get("dtype") or None)
    return arr


def _reuse(version: Any, key: str) -> ExportResult | None:
    from .. import registry

    current = registry.get(version.ref)
    for rec in reversed(registry.records(version.ref, kind="export")):
        data = rec["data"]
        if data.get("key") != key:
            continue
        arts = data.get("artifacts") or {}
        if all(
            role in current.artifacts and current.artifacts[role]["sha256"] == a.get("sha256")
            for role, a in arts.items()
        ):
            for role, a in arts.items():
                a["path"] = str(registry.artifact_path(current, role))
            return ExportResult.from_dict(data, artifacts=arts, reused=True)
    return None


def _attach(version: Any, result: ExportResult) -> None:
    from .. import registry

    for role, meta in result.artifacts.items():
        info = {
            "format": meta["format"],
            "filename": _FILENAMES.get(role, f"{role}.bin"),
            "opset": meta["opset"],
            "method": meta["method"],
            "size_bytes": meta["size_bytes"],
            "parity_passed": meta["parity_passed"],
            "max_abs_diff": meta["max_abs_diff"],
            "inputs": result.inputs,
            "outputs": result.outputs,
            "parity": {
                ds: {k: rep[k] for k in ("rows", "passed", "max_abs_diff", "label_agreement")}
                for ds, rep in result.parity[role].items()
            },
        }
        mv = registry.attach_artifact(version.ref, role, result.payloads[role], metadata=info)
        meta["path"] = str(registry.artifact_path(mv, role))
    result.ref = version.ref
    registry.add_record(version.ref, "export", _jsonable(result.to_dict()))


def _store_local(result: ExportResult) -> None:
    """In-memory models: artifacts go to ``MODELOPS_HOME/exports/<sha256><suffix>``."""
    from ..config import subdir

    folder = subdir("exports")
    for role, meta in result.artifacts.items():
        suffix = ".onnx" if meta["format"] == "onnx" else ".pt"
        path = folder / f"{meta['sha256']}{suffix}"
        if not path.exists():
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_bytes(result.payloads[role])
            tmp.replace(path)
        meta["path"] = str(path)


def _jsonable(obj: Any) -> Any:
    from .._html import to_jsonable

    return to_jsonable(obj)
