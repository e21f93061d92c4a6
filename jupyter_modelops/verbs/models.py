"""List the models in the registry: versions, latest, aliases.

Example: {prog} models
"""

from ._spec import Verb


def run(face):
    from ..registry import models

    return models()


VERB = Verb("models", "list the models in the registry", doc=__doc__, run=run, params=[])
