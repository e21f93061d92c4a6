"""One check of a recurring drift alarm: add a window of rows to the sequential test stored in a state
file, save it, and say whether the alarm fires. Run it from cron or a scheduled report with each new
window; the false-alarm budget (--alpha over --horizon checks) holds across all the runs. Settings are
taken on the first check; later checks keep the stored ones.

On the command line the exit code is 1 when the alarm fires, 0 when it does not and 2 for bad input.

Examples: {prog} alarm churn@production --data last-hour.parquet --state churn-alarm.json
          {prog} alarm churn@production --data today.csv --state churn-alarm.json --reset
"""

from ._spec import Flag, Float, Int, Param, Path, Ref, Variable, Verb


def run(face, *, ref, data, state, alpha, horizon, shift, window_rows, reset):
    from ..monitoring import alarm

    return alarm(
        ref, data, state=state, alpha=alpha, horizon=horizon, shift=shift, window_rows=window_rows, reset=reset
    )


def exit_code(result) -> int:
    return 1 if result.alarm else 0


VERB = Verb(
    "alarm",
    "one check of a sequential drift alarm kept in a state file (exit 1 when it fires)",
    doc=__doc__,
    run=run,
    html=True,
    exit_code=exit_code,
    params=[
        Param("ref", Ref(), positional=True, help="the watched version (churn:3, churn@production)"),
        Param(
            "data",
            Variable("window", reader="table"),
            required=True,
            metavar={"magic": "VAR", "cli": "FILE"},
            help={
                "magic": "variable holding the new window's rows (a DataFrame)",
                "cli": "the new window's rows: .csv or .parquet",
            },
        ),
        Param(
            "state",
            Path(),
            required=True,
            metavar="FILE.json",
            help="JSON file keeping the test between checks (created on the first)",
        ),
        Param("alpha", Float(), default=0.05, help="largest probability of any false alarm within the horizon"),
        Param("horizon", Int(), default=720, help="checks the guarantee spans (720 = 30 days of hourly checks)"),
        Param("shift", Float(), default=4.0, help="the change to catch quickly, in standard errors of a window"),
        Param("window_rows", Int(), metavar="N", help="typical rows per check (default: the first window's)"),
        Param("reset", Flag(), help="start again from zero evidence before adding the window"),
    ],
)
