"""Monitoring reports: parameterized papermill notebooks, run now or on a schedule, that alert."""

from .history import ReportHistory, report_history
from .run import ReportRun, report, templates
from .scheduling import Schedule, ScheduleList, schedule, schedules, unschedule
from .summary import publish_summary

__all__ = [
    "report",
    "ReportRun",
    "report_history",
    "ReportHistory",
    "schedule",
    "schedules",
    "unschedule",
    "Schedule",
    "ScheduleList",
    "templates",
    "publish_summary",
]
