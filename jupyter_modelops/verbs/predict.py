"""Send rows to a served model (any V2 server) and show its answer."""

from ._spec import Flag, ModelOrRef, Param, Path, Text, Variable, Verb

DOC = {
    "magic": __doc__
    + """

DEPLOYMENT is a variable holding a LocalDeployment, a local deployment's
name, or a URL; X is a variable holding a DataFrame or an array.

Examples: {prog} predict dep X_test[:5]
          {prog} predict churn X_test.head()
          {prog} predict http://127.0.0.1:8080 X --binary -o p
""",
    "cli": __doc__
    + """

DEPLOYMENT is a local deployment's name or a URL (http://127.0.0.1:8080); the
rows come from a CSV or Parquet file.

Examples:
  {prog} predict churn --data rows.csv
  {prog} predict http://127.0.0.1:8080 --data rows.parquet --drop target --json
""",
}


def run(face, *, deployment, X, model, binary, drop=(), token=None, token_file=None, ca_file=None, insecure=False):
    from ..serving.client import predict

    if ca_file and insecure:
        from ..exceptions import ValidationError

        raise ValidationError("--ca-file and --insecure contradict each other; give one of them.")

    if drop:
        from ..exceptions import ValidationError

        missing = [c for c in drop if c not in X.columns]
        if missing:
            raise ValidationError(f"--drop names columns that the data lacks: {', '.join(missing)}.")
        X = X.drop(columns=list(drop))
    verify = False if insecure else (ca_file or True)
    return predict(deployment, X, model=model, binary=binary, token=token, token_file=token_file, verify=verify)


VERB = Verb(
    "predict",
    "send rows to a served model (V2 client) and show the named outputs",
    doc=DOC,
    run=run,
    params=[
        Param(
            "deployment",
            ModelOrRef("deployment"),
            positional=True,
            help={
                "magic": "variable holding a deployment, a local deployment name, or a URL",
                "*": "local deployment name or server URL",
            },
        ),
        Param(
            "X",
            Variable("data", reader="table"),
            positional=("magic",),
            required=True,
            flag="--data",
            metavar={"cli": "FILE"},
            help={
                "magic": "variable (or expression such as X_test[:5]) holding the rows",
                "cli": "CSV or Parquet file with the rows",
            },
        ),
        Param("drop", Text(), faces=("cli",), repeat=True, metavar="COLUMN", help="drop this column first"),
        Param("model", Text(), help="model name when the server serves several"),
        Param("binary", Flag(), help="use the binary tensor extension"),
        Param("token", Text(), help="bearer token for a server that requires one"),
        Param("token_file", Path(), help="read the bearer token from this file (its first line)"),
        Param("ca_file", Path(), help="check an https:// server's certificate against this CA file (PEM)"),
        Param("insecure", Flag(), help="do not check an https:// server's certificate"),
    ],
)
