"""Remove what crashed writers left in the registry and files no version uses.

Example: {prog} gc
"""

from ._spec import Verb


def run(face):
    from ..registry import gc

    return gc()


VERB = Verb("gc", "clean up the registry's unreferenced files", doc=__doc__, run=run, params=[])
