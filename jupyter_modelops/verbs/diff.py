"""Compare two versions: metrics with intervals, params, signature, environment, files.

Example: {prog} diff churn:2 churn:3
"""

from ._spec import Param, Ref, Verb


def run(face, *, a, b):
    from ..registry import diff

    return diff(a, b)


VERB = Verb(
    "diff",
    "compare two model versions",
    doc=__doc__,
    run=run,
    html=True,
    params=[
        Param("a", Ref(), positional=True, help="first version, e.g. churn:2"),
        Param("b", Ref(), positional=True, help="second version, e.g. churn:3"),
    ],
)
