"""A deployed model's captured traffic as a time series of windows: requests, latency, errors, drift per
feature, a sequential drift alarm calibrated to a false-alarm budget, and performance per window
(estimated before labels with a PerformanceEstimator, realized once labels arrive).

Examples: {prog} monitor churn@production --since 7d --every 1h
          {prog} monitor churn:3 --since 30d --every 1d --alpha 0.01 --html monitor.html
"""

from ._spec import Float, Int, Param, Path, Ref, Text, Variable, Verb


def run(face, *, ref, since, every, until, alpha, horizon, window_rows, score_column, store, performance=None):
    from ..monitoring import monitor

    return monitor(
        ref,
        since,
        every,
        until=until,
        performance=performance,
        score_column=score_column,
        alpha=alpha,
        horizon=horizon,
        window_rows=window_rows,
        store=store,
    )


VERB = Verb(
    "monitor",
    "captured traffic over time: drift per window, a calibrated drift alarm, performance",
    doc=__doc__,
    run=run,
    html=True,
    faces=("magic", "cli", "rest"),
    params=[
        Param("ref", Ref(), positional=True, help="the served version whose captures to read (churn:3, churn@prod)"),
        Param("since", Text(), default="30d", help="start: a duration before now (24h, 30d) or an ISO time"),
        Param("every", Text(), default="1h", help="window length (15m, 1h, 1d)"),
        Param("until", Text(), help="end: a duration before now or an ISO time (default now)"),
        Param("alpha", Float(), default=0.05, help="the drift alarm's false-alarm probability over the horizon"),
        Param(
            "horizon",
            Int(),
            help="windows the alarm's guarantee spans (default: 30 days of windows, or the period if longer)",
        ),
        Param(
            "window_rows",
            Int(),
            metavar="N",
            help="rows per window the alarm is calibrated for (default: the median window)",
        ),
        Param(
            "score_column",
            Text(),
            metavar="C",
            help="captured output with the positive class's score or the class probabilities",
        ),
        Param(
            "performance",
            Variable("performance estimator"),
            faces=("magic",),
            metavar="VAR",
            help="variable holding a PerformanceEstimator: estimated performance per window before labels",
        ),
        Param("store", Path(), metavar="URL", help="capture store path or URL (default: MODELOPS_HOME/captures)"),
    ],
)
