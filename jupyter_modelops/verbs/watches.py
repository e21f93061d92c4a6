"""List the watch policies.

Example: {prog} watches
"""

from ._spec import Verb


def run(face):
    from ..monitoring.watch import watches

    return watches()


VERB = Verb("watches", "list watch policies", doc=__doc__, run=run, params=[], faces=("magic", "cli", "rest"))
