"""Show the monitoring history of a model: every report run, with trend plots.

Example: {prog} history churn
"""

from ._spec import Param, Text, Verb


def run(face, *, name):
    from ..reports import report_history

    return report_history(name)


VERB = Verb(
    "history",
    "monitoring report history of a model",
    doc=__doc__,
    run=run,
    cli_path=("report", "history"),
    params=[Param("name", Text(), positional=True, help="model name")],
)
