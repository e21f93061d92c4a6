"""Point an alias at a version (the move is kept in the history), or remove it.

Example: {prog} alias churn:3 production
"""

from ._spec import Flag, Param, Ref, Text, Verb


def run(face, *, ref, alias, remove):
    from ..registry import alias as _alias

    return _alias(ref, alias, remove=remove)


VERB = Verb(
    "alias",
    "point an alias (production, staging...) at a version",
    doc=__doc__,
    run=run,
    params=[
        Param("ref", Ref(), positional=True, help="the version, e.g. churn:3"),
        Param("alias", Text(), positional=True, help="the alias, e.g. production"),
        Param("remove", Flag(), help="remove the alias instead"),
    ],
)
