"""Batch scoring: a registered version over a Parquet file, folder or dataset, resumable by partition.

``predict_batch(ref, source, output, engine="local" | "dask" | "kubernetes")``
runs the version's best runtime (the model server's: ONNX when exported, else
native) over the source in batches and writes Parquet predictions with the
input's id columns and the model version. Heavy packages (pyarrow, dask,
kubernetes) are imported inside the functions that use them.
"""

from __future__ import annotations

from .api import ENGINES, BatchResult, predict_batch

__all__ = ["predict_batch", "BatchResult", "ENGINES"]
