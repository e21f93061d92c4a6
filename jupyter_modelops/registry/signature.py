"""What a version records about its inputs, data, metrics and environment.

Input signatures use the tensor datatypes of the Open Inference Protocol
(KServe V2): ``BOOL``, ``UINT8`` ... ``UINT64``, ``INT8`` ... ``INT64``,
``FP16``, ``FP32``, ``FP64`` and ``BYTES``. A table whose columns share one
numeric type is one input tensor ``input`` of shape ``[-1, n_features]``; a
table with mixed column types is one input per column, each of shape ``[-1]``.
The batch dimension is always ``-1``.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from typing import Any, Mapping

from .._html import to_jsonable

ONNX_TYPES = {
    1: "FP32",
    2: "UINT8",
    3: "INT8",
    4: "UINT16",
    5: "INT16",
    6: "INT32",
    7: "INT64",
    8: "BYTES",
    9: "BOOL",
    10: "FP16",
    11: "FP64",
    12: "UINT32",
    13: "UINT64",
}
SAMPLE_ROWS = 5
ENV_PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "skops",
    "joblib",
    "torch",
    "onnx",
    "onnxruntime",
    "skl2onnx",
    "xgboost",
    "lightgbm",
    "catboost",
    "jupyter-modelops",
)


def v2_datatype(dtype: Any) -> str:
    """The V2 datatype of a numpy/pandas dtype (strings, objects, dates -> ``BYTES``)."""
    import numpy as np

    try:
        dt = np.dtype(dtype)
    except TypeError:
        return "BYTES"  # pandas extension types such as category or string
    if dt.kind == "b":
        return "BOOL"
    if dt.kind in "iu":
        return f"{'UINT' if dt.kind == 'u' else 'INT'}{dt.itemsize * 8}"
    if dt.kind == "f":
        return f"FP{dt.itemsize * 8}"
    return "BYTES"


def _is_frame(x: Any) -> bool:
    return hasattr(x, "columns") and hasattr(x, "dtypes") and hasattr(x, "iloc")


def _as_array(x: Any) -> Any:
    import numpy as np

    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        return x.detach().cpu().numpy()
    if hasattr(x, "to_numpy"):
        return x.to_numpy()
    return np.asarray(x)


def input_signature(data: Any) -> dict:
    """Inputs, feature names and column schema of a DataFrame, array or tensor sample."""
    if _is_frame(data):
        names = [str(c) for c in data.columns]
        types = [v2_datatype(t) for t in data.dtypes]
        columns = [{"name": n, "datatype": t, "dtype": str(d)} for n, t, d in zip(names, types, data.dtypes)]
        if len(set(types)) == 1 and types[0] != "BYTES":
            inputs = [{"name": "input", "datatype": types[0], "shape": [-1, len(names)]}]
        else:
            inputs = [{"name": n, "datatype": t, "shape": [-1]} for n, t in zip(names, types)]
        return {"inputs": inputs, "feature_names": names, "columns": columns}
    arr = _as_array(data)
    shape = [-1, *list(arr.shape[1:])] if arr.ndim else [-1]
    return {
        "inputs": [{"name": "input", "datatype": v2_datatype(arr.dtype), "shape": shape}],
        "feature_names": [],
        "columns": [],
    }


def output_signature(outputs: Any, *, name: str = "output") -> list[dict]:
    if isinstance(outputs, dict):
        return [o for k, v in outputs.items() for o in output_signature(v, name=k)]
    if isinstance(outputs, (list, tuple)) and outputs and hasattr(outputs[0], "shape"):
        return [o for i, v in enumerate(outputs) for o in output_signature(v, name=f"{name}_{i}")]
    arr = _as_array(outputs)
    return [{"name": name, "datatype": v2_datatype(arr.dtype), "shape": [-1, *list(arr.shape[1:])]}]


def sample_input(data: Any, rows: int = SAMPLE_ROWS) -> dict:
    """The first rows of the data, JSON-ready: ``{"feature_names", "data"}``."""
    if _is_frame(data):
        head = data.iloc[:rows]
        return {
            "feature_names": [str(c) for c in head.columns],
            "data": to_jsonable(head.astype(object).where(head.notna(), None).to_numpy().tolist()),
        }
    arr = _as_array(data)[:rows]
    return {"feature_names": [], "data": to_jsonable(arr.tolist()), "dtype": str(arr.dtype)}


def bounded_sample(data: Any, rows: int, max_bytes: int) -> dict | None:
    """Up to ``rows`` first rows as :func:`sample_input` JSON, cut to at most ``max_bytes`` when encoded.

    Kept as the version's ``sample`` artifact: the rows an export's parity check runs on when no
    sample is passed (the 5 rows in the version's metadata are only a preview).
    """
    import json

    n = min(int(rows), len(data) if hasattr(data, "__len__") else rows)
    while n > SAMPLE_ROWS:
        out = sample_input(data, rows=n)
        if len(json.dumps(out).encode()) <= max_bytes:
            return {**out, "rows": len(out["data"])}
        n //= 2
    return None


def take_rows(data: Any, rows: int = SAMPLE_ROWS) -> Any:
    if _is_frame(data):
        return data.iloc[:rows]
    return data[:rows]


def fingerprint(data: Any) -> dict:
    """Hash, shape and schema of a data set."""
    h = hashlib.sha256()
    if _is_frame(data):
        import pandas as pd

        h.update(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes())
        h.update("|".join(f"{c}:{t}" for c, t in zip(data.columns, data.dtypes)).encode())
        out: dict[str, Any] = {
            "sha256": h.hexdigest(),
            "shape": list(data.shape),
            "rows": int(data.shape[0]),
            "schema": {str(c): str(t) for c, t in zip(data.columns, data.dtypes)},
        }
    else:
        import numpy as np

        arr = _as_array(data)
        if arr.dtype == object:
            h.update(repr(arr.tolist()).encode())
        else:
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(f"{arr.dtype}{arr.shape}".encode())
        out = {
            "sha256": h.hexdigest(),
            "shape": list(arr.shape),
            "rows": int(arr.shape[0]) if arr.ndim else 1,
            "schema": {"dtype": str(arr.dtype)},
        }
    return out


def drift_profile(data: Any, model: Any = None) -> dict | None:
    """:func:`jupyter_modelops.drift_detection.profile` of the data (with the model's predictions
    when it can make them) as a dict, or None when unavailable."""
    try:
        from ..drift_detection import profile
    except Exception:
        return None
    for kwargs in ({"model": model} if model is not None else {}, {}):
        try:
            result = profile(data, **kwargs)
            return to_jsonable(result.to_dict() if hasattr(result, "to_dict") else result)
        except Exception:
            continue
    return None


def report_metrics(report: Any) -> tuple[dict[str, dict], dict]:
    """Metrics with intervals from an evaluation report (duck-typed on ``to_dict()``).

    Returns ``({metric: {"value", "low", "high"}}, extra)`` where ``extra``
    keeps the report's scalar top-level fields (task, rows, confidence...).
    Understands ``{"metrics": {name: value}}``,
    ``{"metrics": {name: {"value"|"estimate", "low"|"ci_low"|"lower", "high"|...|"ci": [lo, hi]}}}``
    and ``{"metrics": [{"name", "value", ...}]}``.
    """
    d = report.to_dict() if hasattr(report, "to_dict") else report
    if not isinstance(d, dict):
        from ..exceptions import ValidationError

        raise ValidationError(
            f"The argument 'report' must be an EvaluationReport (or have to_dict()); got {type(report).__name__}."
        )
    raw = d.get("metrics", {})
    if isinstance(raw, list):
        raw = {str(m.get("name")): m for m in raw if isinstance(m, dict) and "name" in m}
    metrics: dict[str, dict] = {}
    for name, val in (raw or {}).items():
        entry = _metric_entry(val)
        if entry is not None:
            metrics[str(name)] = entry
    extra = {k: v for k, v in d.items() if k != "metrics" and isinstance(v, (str, int, float, bool)) and v is not None}
    return metrics, to_jsonable(extra)


def _num(v: Any) -> float | None:
    try:
        if isinstance(v, bool) or v is None:
            return None
        return float(v)
    except (TypeError, ValueError):
        return None


def _metric_entry(val: Any) -> dict | None:
    if not isinstance(val, dict):
        v = _num(val)
        return None if v is None else {"value": v, "low": None, "high": None}
    value = next((_num(val[k]) for k in ("value", "estimate", "point", "mean") if k in val), None)
    if value is None:
        return None
    low = next((_num(val[k]) for k in ("low", "ci_low", "lower", "lo") if k in val), None)
    high = next((_num(val[k]) for k in ("high", "ci_high", "upper", "hi") if k in val), None)
    ci = val.get("ci") or val.get("interval")
    if isinstance(ci, dict):
        low = _num(ci.get("low", ci.get("lower")))
        high = _num(ci.get("high", ci.get("upper")))
    elif isinstance(ci, (list, tuple)) and len(ci) == 2:
        low, high = _num(ci[0]), _num(ci[1])
    out: dict[str, Any] = {"value": value, "low": low, "high": high}
    if isinstance(val.get("lower_is_better"), bool):
        out["lower_is_better"] = val["lower_is_better"]
    return out


@functools.lru_cache(maxsize=None)
def _installed(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def _module_dists() -> Mapping[str, list[str]]:
    from importlib import metadata

    return metadata.packages_distributions()


_KNOWN_DISTS = {"sklearn": "scikit-learn", "torch": "torch", "onnx": "onnx", "skops": "skops", "numpy": "numpy"}


def environment(extra_packages: dict[str, str] | None = None, *, model: Any = None) -> dict:
    """Python, platform and an environment lock of the relevant packages.

    Versions are read once per process.
    """
    packages = {}
    for name in ENV_PACKAGES:
        v = _installed(name)
        if v:
            packages[name] = v
    top = (type(model).__module__ or "").split(".")[0] if model is not None else ""
    if top and top not in ("__main__", "builtins") and _KNOWN_DISTS.get(top) not in packages:
        try:  # the distribution that provides the model's class
            for dist in _module_dists().get(top, [])[:1]:
                v = _installed(dist)
                if v:
                    packages[dist] = v
        except Exception:
            pass
    packages.update(extra_packages or {})
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "packages": dict(sorted(packages.items())),
    }


def user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no user database entry
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def git_info(cwd: str | None = None) -> dict | None:
    """Commit and dirtiness of the repository around ``cwd`` (None outside one)."""
    git = shutil.which("git")
    if not git:
        return None
    try:
        commit = subprocess.run([git, "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=3)
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            [git, "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, timeout=3
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def notebook_path() -> str | None:
    """The notebook being run, when that can be told (best effort, never raises)."""
    for var in ("JPY_SESSION_NAME", "MODELOPS_NOTEBOOK"):
        value = os.environ.get(var)
        if value:
            return value
    ipy = sys.modules.get("IPython")
    if ipy is None:
        return None
    try:
        shell = ipy.get_ipython()
        if shell is None:
            return None
        value = shell.user_ns.get("__vsc_ipynb_file__") or shell.user_ns.get("__session__")
        return str(value) if value else None
    except Exception:
        return None
