"""Stop local deployments (their model servers finish the requests they hold first).

Examples: {prog} stop churn
          {prog} stop --all
"""

from ._spec import Flag, ModelOrRef, Param, Verb


def run(face, *, deployment, all):
    from ..serving.local import StopResult, stop

    statuses = stop(deployment, all=all)
    return statuses if face.name == "rest" else StopResult(statuses)


VERB = Verb(
    "stop",
    "stop a local deployment's model server (or --all)",
    doc=__doc__,
    run=run,
    faces=("magic", "cli", "rest"),
    params=[
        Param(
            "deployment",
            ModelOrRef("deployment", method="stop"),
            positional=True,
            optional=True,
            metavar="name",
            help={"magic": "deployment name (or a variable holding a LocalDeployment)", "*": "local deployment name"},
        ),
        Param("all", Flag(), help="stop every running local deployment"),
    ],
)
