"""jupyter-modelops: from the notebook cell where a model was trained to production, and watching it there.

The public API is imported lazily: ``import jupyter_modelops`` loads no
numpy, scikit-learn, torch, onnx, kubernetes, matplotlib or papermill. Each
name below is resolved on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .exceptions import ModelOpsError

# public name -> module that defines it (kept sorted by capability)
_API = {
    # evaluation
    "evaluate": "jupyter_modelops.evaluation",
    "evaluate_predictions": "jupyter_modelops.evaluation",
    "EvaluationReport": "jupyter_modelops.evaluation",
    # robustness and drift
    "robustness": "jupyter_modelops.robustness_testing",
    "RobustnessReport": "jupyter_modelops.robustness_testing",
    "slices": "jupyter_modelops.robustness_testing",
    "SliceReport": "jupyter_modelops.robustness_testing",
    "register_perturbation": "jupyter_modelops.robustness_testing",
    "drift": "jupyter_modelops.drift_detection",
    "DriftReport": "jupyter_modelops.drift_detection",
    "profile": "jupyter_modelops.drift_detection",
    "Profile": "jupyter_modelops.drift_detection",
    "merge_profiles": "jupyter_modelops.drift_detection",
    # monitoring statistics (sequential alarms, performance without labels)
    "SequentialDrift": "jupyter_modelops.monitoring",
    "AlarmStatus": "jupyter_modelops.monitoring",
    "alarm": "jupyter_modelops.monitoring",
    "estimate_performance": "jupyter_modelops.monitoring",
    "PerformanceEstimator": "jupyter_modelops.monitoring",
    "PerformanceEstimate": "jupyter_modelops.monitoring",
    "monitor": "jupyter_modelops.monitoring",
    "MonitorReport": "jupyter_modelops.monitoring",
    # registry
    "snapshot": "jupyter_modelops.registry",
    "get": "jupyter_modelops.registry",
    "load": "jupyter_modelops.registry",
    "models": "jupyter_modelops.registry",
    "versions": "jupyter_modelops.registry",
    "alias": "jupyter_modelops.registry",
    "diff": "jupyter_modelops.registry",
    "delete": "jupyter_modelops.registry",
    "gc": "jupyter_modelops.registry",
    "attach_artifact": "jupyter_modelops.registry",
    "artifact_path": "jupyter_modelops.registry",
    "add_record": "jupyter_modelops.registry",
    "records": "jupyter_modelops.registry",
    "materialize": "jupyter_modelops.registry",
    "trust": "jupyter_modelops.registry",
    "ModelVersion": "jupyter_modelops.registry",
    "checkpoint": "jupyter_modelops.registry",
    "restore_checkpoint": "jupyter_modelops.registry",
    "export_bundle": "jupyter_modelops.registry",
    "import_bundle": "jupyter_modelops.registry",
    # export
    "export": "jupyter_modelops.exporters",
    "ExportResult": "jupyter_modelops.exporters",
    # serving
    "serve": "jupyter_modelops.serving",
    "predict": "jupyter_modelops.serving",
    "stop": "jupyter_modelops.serving",
    "LocalDeployment": "jupyter_modelops.serving",
    "Prediction": "jupyter_modelops.serving",
    # batch scoring
    "predict_batch": "jupyter_modelops.batch",
    "BatchResult": "jupyter_modelops.batch",
    # images
    "build": "jupyter_modelops.images",
    "dockerfile": "jupyter_modelops.images",
    "push": "jupyter_modelops.images",
    "pull": "jupyter_modelops.images",
    "Image": "jupyter_modelops.images",
    # deploy
    "deploy": "jupyter_modelops.deployment",
    "promote": "jupyter_modelops.deployment",
    "rollback": "jupyter_modelops.deployment",
    "status": "jupyter_modelops.deployment",
    "undeploy": "jupyter_modelops.deployment",
    "deployments": "jupyter_modelops.deployment",
    "profiles": "jupyter_modelops.deployment",
    "clusters": "jupyter_modelops.deployment",
    "Deployment": "jupyter_modelops.deployment",
    "HardwareProfile": "jupyter_modelops.deployment",
    "CanaryAnalysis": "jupyter_modelops.deployment.analysis",
    # acting on monitoring: watch policies, Grafana
    "watch": "jupyter_modelops.monitoring.watch",
    "watches": "jupyter_modelops.monitoring.watch",
    "unwatch": "jupyter_modelops.monitoring.watch",
    "run_watch": "jupyter_modelops.monitoring.watch",
    "grafana_dashboard": "jupyter_modelops.monitoring.grafana",
    # capture (what a deployed model sees) and delayed labels
    "captures": "jupyter_modelops.capture",
    "log_labels": "jupyter_modelops.capture",
    "CaptureSummary": "jupyter_modelops.capture",
    "LabelsResult": "jupyter_modelops.capture",
    # reports
    "report": "jupyter_modelops.reports",
    "report_history": "jupyter_modelops.reports",
    "schedule": "jupyter_modelops.reports",
    "schedules": "jupyter_modelops.reports",
    "unschedule": "jupyter_modelops.reports",
    "ReportRun": "jupyter_modelops.reports",
    # the tools teams already run: MLflow and TensorBoard
    "to_mlflow": "jupyter_modelops.integrations",
    "from_mlflow": "jupyter_modelops.integrations",
    "tensorboard": "jupyter_modelops.integrations",
    # settings of this process
    "configure": "jupyter_modelops.config",
}

__all__ = ["__version__", "ModelOpsError", *sorted(_API)]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_modelops' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_modelops`` registers the ``%modelops`` magic."""
    from .magics import ModelOpsMagics

    ipython.register_magics(ModelOpsMagics)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (the ModelOps side panel)."""
    return [{"src": "labextension", "dest": "jupyter-modelops"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The jupyter_server extension (REST API under ``/jupyter-modelops/api/``)."""
    return [{"module": "jupyter_modelops"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the REST handlers and the job runner on the server's web app."""
    from .server import setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("jupyter-modelops server extension loaded (API under /jupyter-modelops/api/)")
