"""The hardware profiles: built-ins and those in profiles.yaml (MODELOPS_HOME) or ./modelops-profiles.yaml."""

SUMMARY = "list the hardware profiles"


def add_arguments(p):
    pass


def run(args, shell):
    from ...deployment import profiles

    return profiles()
