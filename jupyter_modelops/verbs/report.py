"""Run a monitoring report (a papermill template) for a model version now.

Examples: {prog} report churn@production --data current.parquet
          {prog} report churn@production --since 24h      (the model's captured traffic)
          {prog} report churn:3 --template drift --data new.csv -p psi_fail 0.3
"""

from ._spec import Pairs, Param, Path, Ref, Text, Verb

CLI_DOC = """Run a monitoring report (a papermill template) for a model version now.

  {prog} report run churn@production --data current.parquet [-p NAME VALUE] [--json]
  {prog} report run churn@production --since 24h      (the model's captured traffic)

Exit code 0 when the notebook ran and every gate passed, 1 when a gate failed,
and 2 when the run itself failed (a raising cell, a dead kernel) or the input
was bad, so that cron and CI can act on it.
"""


def run(face, *, ref, data, template, params, notify, output_dir, since=None):
    from ..reports import report

    return report(
        ref,
        template=template,
        data=data,
        params=params,
        params_from_text=face.name != "rest",
        notify=notify,
        output_dir=output_dir,
        window=since,
    )


def exit_code(result) -> int:
    if result.status != "succeeded":
        return 2
    return 0 if result.ok else 1


TEMPLATE = Param("template", Text(), default="monitoring", help="monitoring, evaluation, drift, or a notebook path")
PARAMS = Param(
    "params",
    Pairs(),
    flag="--param",
    short="-p",
    help="a template parameter (repeatable; checked against the template's declared type)",
)

VERB = Verb(
    "report",
    "run a monitoring report notebook for a model version",
    doc={"cli": CLI_DOC, "*": __doc__},
    run=run,
    faces=("magic", "cli", "rest"),
    cli_path=("report", "run"),
    exit_code=exit_code,
    params=[
        Param("ref", Ref(), positional=True, optional=True, help="registry reference, e.g. churn@production"),
        Param("data", Path(), help="current data (CSV or Parquet); default: the model's captured traffic"),
        TEMPLATE,
        PARAMS,
        Param(
            "since",
            Text(),
            metavar="AGE",
            help="without --data: read the captures of this last window, e.g. 24h (the template's window)",
        ),
        Param("notify", Text(), help="webhook URL posted to when the run or a gate fails"),
        Param("output_dir", Path(), help="where to write the notebook, HTML and summary"),
    ],
)
