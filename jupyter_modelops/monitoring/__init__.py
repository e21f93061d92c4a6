"""Live monitoring statistics: sequential drift alarms and performance estimated without labels.

:class:`SequentialDrift` raises a drift alarm only when evidence accumulated
over repeated checks crosses a threshold calibrated to a false-alarm budget
over a horizon (all columns together); :func:`estimate_performance` estimates a
classifier's metrics on unlabelled windows from its calibrated scores, with
intervals; :func:`monitor` cuts a deployment's captured traffic into windows
with traffic, latency, errors, drift, alarm state and performance.
"""

from .alarms import AlarmStatus, SequentialDrift, alarm
from .performance import PerformanceEstimate, PerformanceEstimator, estimate_performance
from .timeline import MonitorReport, monitor

__all__ = [
    "SequentialDrift",
    "AlarmStatus",
    "alarm",
    "estimate_performance",
    "PerformanceEstimator",
    "PerformanceEstimate",
    "monitor",
    "MonitorReport",
]
