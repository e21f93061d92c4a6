"""Data drift: compare current data (or predictions) with a reference, column by column.

:func:`drift` reports PSI, Kolmogorov-Smirnov, Wasserstein, Jensen-Shannon and
chi-squared per column, with the thresholds and a dataset-level verdict;
:func:`profile` summarizes a reference compactly so it can be stored and
compared later without the raw data.
"""

from .core import METHODS, drift
from .profile import Profile, merge_profiles, profile
from .report import THRESHOLDS, DriftReport

__all__ = ["drift", "profile", "merge_profiles", "Profile", "DriftReport", "METHODS", "THRESHOLDS"]
