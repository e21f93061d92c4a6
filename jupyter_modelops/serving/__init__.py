"""The model server: Open Inference Protocol (KServe V2) REST with batching and governance.

Run it with ``python -m jupyter_modelops.serving --model-dir DIR``; start and
manage local deployments with :func:`serve`, query any V2 server with
:func:`predict`. Nothing heavy is imported until used.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "serve": "jupyter_modelops.serving.local",
    "stop": "jupyter_modelops.serving.local",
    "deploy_local": "jupyter_modelops.serving.local",
    "deployments": "jupyter_modelops.serving.local",
    "LocalDeployment": "jupyter_modelops.serving.local",
    "predict": "jupyter_modelops.serving.client",
    "Prediction": "jupyter_modelops.serving.client",
    "read_model_dir": "jupyter_modelops.serving.modeldir",
    "write_model_dir": "jupyter_modelops.serving.modeldir",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_modelops.serving' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
