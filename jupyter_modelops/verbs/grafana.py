"""Write a Grafana dashboard JSON for a deployment's Prometheus series (import it as is).

Example: {prog} grafana churn --output churn.grafana.json
"""

from ._spec import Param, Path, Text, Verb


def run(face, *, deployment, output, model, title):
    from ..monitoring.grafana import grafana_dashboard

    return grafana_dashboard(deployment, output=output, model=model, title=title)


VERB = Verb(
    "grafana",
    "write a Grafana dashboard for a deployment",
    doc=__doc__,
    run=run,
    faces=("magic", "cli"),
    params=[
        Param("deployment", Text(), positional=True, help="deployment name"),
        Param("output", Path(), help="file to write (default: DEPLOYMENT.grafana.json)"),
        Param("model", Text(), help="model name as the server labels its series (default: the deployment's)"),
        Param("title", Text(), help="dashboard title"),
    ],
)
