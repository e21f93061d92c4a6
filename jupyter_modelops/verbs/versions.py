"""List the versions of a model, newest first, with metrics, aliases and alias history.

Example: {prog} versions churn
"""

from ._spec import Param, Text, Verb


def run(face, *, name):
    from ..registry import versions

    return versions(name)


VERB = Verb(
    "versions",
    "list the versions of a model",
    doc=__doc__,
    run=run,
    html=True,
    params=[Param("name", Text(), positional=True, help="model name")],
)
