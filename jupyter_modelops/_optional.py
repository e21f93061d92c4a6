"""Import heavy or optional dependencies late, failing with the fix."""

from __future__ import annotations

import importlib
from types import ModuleType

from .exceptions import MissingDependencyError

# module name -> extra that installs it
EXTRAS = {
    "torch": "torch",
    "onnx": "onnx",
    "onnxruntime": "onnx",
    "skl2onnx": "onnx",
    "onnxconverter_common": "onnx",
    "kubernetes": "k8s",
    "papermill": "reports",
    "nbconvert": "reports",
    "nbformat": "reports",
    "matplotlib": "plots",
    "skops": "sklearn",
    "joblib": "sklearn",
    "pyarrow": "parquet",
    "ipywidgets": "notebook",
    "orjson": "serve",
}


def require(module: str, *, purpose: str | None = None, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise MissingDependencyError(top, extra or EXTRAS.get(top, "all"), purpose=purpose) from exc


def is_torch_module(obj: object) -> bool:
    """True if ``obj`` is a torch.nn.Module, without importing torch."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return False
    return isinstance(obj, torch.nn.Module)


def is_torch_tensor(obj: object) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)
