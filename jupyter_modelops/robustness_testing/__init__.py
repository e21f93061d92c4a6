"""Robustness: how the model behaves when its inputs are not what it was trained on.

:func:`robustness` perturbs the inputs (noise, missing values, category flips,
shifts and unit errors, out-of-range extremes, feature dropout, FGSM/PGD for
torch models, or your own callables) at several severities and reports the
metric drop and prediction flip rate with paired bootstrap intervals;
:func:`slices` finds the segments where the model is significantly worse.
"""

from .core import robustness
from .perturbations import Perturbation, register_perturbation, registry
from .report import RobustnessReport
from .slices import SliceReport, slices

__all__ = [
    "robustness",
    "RobustnessReport",
    "slices",
    "SliceReport",
    "register_perturbation",
    "Perturbation",
    "registry",
]
