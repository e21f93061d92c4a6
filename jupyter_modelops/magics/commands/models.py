"""List the models in the registry: versions, latest, aliases.

Example: %modelops models
"""

SUMMARY = "list the models in the registry"


def add_arguments(parser) -> None:
    pass


def run(args, shell):
    from ...registry import models

    return models()
