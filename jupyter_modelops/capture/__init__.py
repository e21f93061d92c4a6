"""Inference capture: what a deployed model actually sees, and the labels that arrive later.

Turn it on with ``serve(ref, capture=True)`` (or ``--capture URL`` on the model
server): sampled requests are written as Parquet partitioned by model, version
and hour (:mod:`.store`), through a bounded queue that never slows or fails a
request (:mod:`.writer`). Read them with :func:`captures`, add ground truth
with :func:`log_labels` (or ``POST /v2/models/{name}/labels``), expire old
partitions with ``gc(captures_older_than="30d")``. Nothing heavy is imported
until used.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "captures": "jupyter_modelops.capture.read",
    "log_labels": "jupyter_modelops.capture.read",
    "log_labels_file": "jupyter_modelops.capture.read",
    "CaptureSummary": "jupyter_modelops.capture.read",
    "LabelsResult": "jupyter_modelops.capture.labels",
    "CaptureStore": "jupyter_modelops.capture.store",
    "CaptureWriter": "jupyter_modelops.capture.writer",
    "gc_captures": "jupyter_modelops.capture.retention",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_modelops.capture' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
