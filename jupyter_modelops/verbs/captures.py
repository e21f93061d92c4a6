"""What a deployed model saw: its captured inferences in a time window, summarized.

The summary gives the rows and requests, the time span, the sampling rates, the
rows the writers dropped, the labelled share, latency and errors. In a notebook
the result's ``frame`` is the captured rows as a DataFrame.

Examples: {prog} captures churn:3 --since 24h
          {prog} captures churn --since 7d --until 2026-01-08T00:00 --columns tenure,charges
"""

from ._spec import Items, ModelOrRef, Param, Path, Text, Verb


def run(face, *, ref, since, until, columns, store):
    from ..capture import captures

    return captures(ref, since=since, until=until, columns=columns or None, store=store, summary=True)


VERB = Verb(
    "captures",
    "summarize the inferences a deployed model captured in a time window",
    doc=__doc__,
    run=run,
    html=True,
    params=[
        Param(
            "ref",
            ModelOrRef("deployment", method="stop"),
            positional=True,
            help={
                "magic": "model (churn, churn:3, churn@prod), local deployment name, or a variable holding one",
                "*": "model (churn, churn:3, churn@prod) or local deployment name",
            },
        ),
        Param("since", Text(), default="24h", help="start: a duration before now (15m, 24h, 30d) or an ISO time"),
        Param("until", Text(), help="end (exclusive): a duration before now or an ISO time (default now)"),
        Param("columns", Items(), metavar="a,b", help="only these input/output columns (comma-separated)"),
        Param(
            "store", Path(), help="capture store path or URL (default: the deployment's, else MODELOPS_HOME/captures)"
        ),
    ],
)
