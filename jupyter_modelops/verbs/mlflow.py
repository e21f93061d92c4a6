"""Log a version to MLflow (run, model in MLflow's flavor, registered with its aliases), or import an MLflow model.

Examples:
  {prog} mlflow push churn@production --tracking-uri http://127.0.0.1:5000
  {prog} mlflow pull models:/churn@champion --name churn-mlflow
  {prog} mlflow pull runs:/RUN_ID/model

Pushing the same version again updates its run. A pulled version is not
trusted until `trust` is run on it.
"""

from ._spec import Param, Text, Verb


def run(face, *, action, target, tracking_uri, experiment, registered_model, name):
    from ..integrations import mlflow_command

    return mlflow_command(
        action, target, tracking_uri=tracking_uri, experiment=experiment, registered_model=registered_model, name=name
    )


VERB = Verb(
    "mlflow",
    "log a version to MLflow, or import an MLflow model",
    doc=__doc__,
    run=run,
    faces=("magic", "cli", "rest"),
    params=[
        Param("action", Text(), positional=True, choices=("push", "pull"), help="push or pull"),
        Param(
            "target",
            Text(),
            positional=True,
            metavar="REF|URI",
            help="push: a registry reference (churn:3); pull: models:/NAME@ALIAS, models:/NAME/N or runs:/ID/PATH",
        ),
        Param("tracking_uri", Text(), metavar="URI", help="MLflow tracking server (default: MLFLOW_TRACKING_URI)"),
        Param("experiment", Text(), help="push: experiment name (default: modelops/<model>)"),
        Param("registered_model", Text(), help="push: MLflow registered model name (default: the model's name)"),
        Param("name", Text(), help="pull: model name here (default: the MLflow model's name)"),
    ],
)
