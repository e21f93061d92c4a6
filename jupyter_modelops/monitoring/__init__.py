"""Live monitoring statistics: sequential drift alarms and performance estimated without labels.

:class:`SequentialDrift` raises a drift alarm only when evidence accumulated
over repeated checks crosses a threshold calibrated to a false-alarm budget
over a horizon (all columns together); :func:`estimate_performance` estimates a
classifier's metrics on unlabelled windows from its calibrated scores, with
intervals.
"""

from .alarms import AlarmStatus, SequentialDrift
from .performance import PerformanceEstimate, PerformanceEstimator, estimate_performance

__all__ = ["SequentialDrift", "AlarmStatus", "estimate_performance", "PerformanceEstimator", "PerformanceEstimate"]
