"""The hardware profiles: built-ins and those in profiles.yaml (MODELOPS_HOME) or ./modelops-profiles.yaml."""

from ._spec import Verb, exit_ok


def run(face):
    from ..deployment import profiles

    return profiles()


VERB = Verb("profiles", "list the hardware profiles", doc=__doc__, run=run, params=[], exit_code=exit_ok)
