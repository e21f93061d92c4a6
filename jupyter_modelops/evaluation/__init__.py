"""Evaluation: metrics of a model, each with a bootstrap confidence interval.

``evaluate(model, X, y)`` and ``evaluate_predictions(y_true, y_pred, y_score)``
return an :class:`EvaluationReport`. The bootstrap engine that makes the
intervals fast lives in :mod:`jupyter_modelops.evaluation.bootstrap` and is
reusable by other capabilities (paired intervals for robustness and drift).
"""

from ._models import load_model
from .core import evaluate, evaluate_predictions
from .report import EvaluationReport, Metric

__all__ = ["evaluate", "evaluate_predictions", "EvaluationReport", "Metric", "load_model"]
