"""Remove what crashed writers left in the registry and files no version uses.

With --captures-older-than, also remove captured inferences (and their labels)
older than that age.

Examples: {prog} gc
          {prog} gc --captures-older-than 30d
"""

from ._spec import Param, Text, Verb


def run(face, *, captures_older_than=None):
    from ..registry import gc

    return gc(captures_older_than=captures_older_than)


VERB = Verb(
    "gc",
    "clean up the registry's unreferenced files (and old captures)",
    doc=__doc__,
    run=run,
    params=[
        Param(
            "captures_older_than",
            Text(),
            metavar="AGE",
            help="also remove captured inferences older than this, e.g. 30d or 12h",
        ),
    ],
)
