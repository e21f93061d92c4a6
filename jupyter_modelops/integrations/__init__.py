"""Work with the tools teams already run: MLflow (tracking, model registry) and TensorBoard.

:func:`to_mlflow` logs a registry version to an MLflow tracking server and
registers it there; :func:`from_mlflow` imports an MLflow model into this
registry (untrusted until :func:`jupyter_modelops.trust`); :func:`tensorboard`
writes a version's report history and monitoring series as TensorBoard event
files. Nothing here imports mlflow or tensorboard until a function runs.
"""

from __future__ import annotations

from .mlflow import MlflowPull, MlflowPush, from_mlflow, log_to_active_run, mlflow_command, to_mlflow
from .tensorboard import TensorBoardLog, tensorboard

__all__ = [
    "to_mlflow",
    "from_mlflow",
    "log_to_active_run",
    "mlflow_command",
    "MlflowPush",
    "MlflowPull",
    "tensorboard",
    "TensorBoardLog",
]
