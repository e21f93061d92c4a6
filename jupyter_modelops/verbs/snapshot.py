"""Store a model as the next immutable version of a name in the registry."""

from ._spec import Flag, Pairs, Param, Text, Variable, Verb

DOC = {
    "magic": __doc__ + "\n\nExample: {prog} snapshot model --name churn --report report --data X_train\n",
    "cli": __doc__
    + """

  {prog} snapshot model.onnx --name churn [--data train.parquet] [--report report.json] [--alias staging]

Model files: .onnx, .skops, TorchScript .pt; .joblib/.pkl, and skops types beyond skops' defaults, only with --trusted.
""",
}


def run(face, *, model, name, report, data, alias, params, tags, notes, flavor, trusted):
    from ..registry import params_from_text, snapshot, snapshot_file

    options = dict(params=params_from_text(params.items()), tags=tags or None, alias=alias, notes=notes, flavor=flavor)
    if face.name == "cli":
        return snapshot_file(model, name, data=data, report=report, trusted=trusted, **options)
    return snapshot(model, name, report=report, data=data, trusted=trusted, **options)


VERB = Verb(
    "snapshot",
    "store a model as a new immutable version in the registry",
    doc=DOC,
    run=run,
    params=[
        Param(
            "model",
            Variable("model"),
            positional=True,
            help={
                "magic": "variable holding the model",
                "cli": "model file (.onnx, .skops, .pt, or .joblib/.pkl with --trusted)",
            },
        ),
        Param("name", Text(), required=True, help="model name (letters, digits, . _ -)"),
        Param(
            "report",
            Variable("report"),
            help={
                "magic": "variable holding an EvaluationReport (metrics and intervals)",
                "cli": "evaluation report JSON (metrics and intervals)",
            },
        ),
        Param(
            "data",
            Variable("data"),
            help={
                "magic": "variable holding training/reference data (signature, fingerprint)",
                "cli": "training/reference data, CSV or Parquet (signature, fingerprint)",
            },
        ),
        Param("alias", Text(), help="point this alias (e.g. staging) at the new version"),
        Param("params", Pairs(), flag="--param", help="a parameter to record (repeatable; JSON values are parsed)"),
        Param("tags", Text(), flag="--tag", repeat=True, help="a tag, 'key' or 'key=value' (repeatable)"),
        Param("notes", Text(), help="free text"),
        Param("flavor", Text(), help="force a flavor: sklearn, joblib, torch, onnx, pickle"),
        Param(
            "trusted",
            Flag(),
            aliases=("--trust",),
            help="trust the model file: allow pickle/joblib, and skops types beyond skops' defaults (tree ensembles)",
        ),
    ],
)
