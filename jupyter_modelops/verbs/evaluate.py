"""Evaluate a model on data: metrics with bootstrap confidence intervals, plots and gates."""

from ._common import TRUST, gates
from ._spec import Flag, Float, Int, Labels, Param, Text, Variable, Verb, exit_gates

DOC = {
    "magic": __doc__ + '\n\nExample: {prog} evaluate model X_test y_test --check "f1>=0.8" -o report\n',
    "cli": __doc__
    + """

The model is a .skops, .onnx, TorchScript .pt or, with --trust, .joblib/.pkl file; the data is
CSV or Parquet with the target in --target (a Parquet file or folder is read
batch by batch, so it may be larger than memory). Exit code 0 when every gate
passes (or none is given), 1 when a gate fails, 2 for bad input.

Example:
  {prog} evaluate --model model.skops --data test.parquet --target churned --check "roc_auc>=0.8" --html report.html
""",
}


def run(face, *, model, X, y, task, ci, n_boot, threshold, check, on, seed, interactive=False):
    from ..evaluation import evaluate

    report = evaluate(
        model,
        X,
        y,
        task=task,
        ci=ci,
        n_boot=n_boot,
        threshold=threshold,
        random_state=seed,
        progress=False if face.quiet else None,
    )
    if check:
        report.check(check, on=on)
    if interactive:
        from ..evaluation.widget import threshold_explorer

        return threshold_explorer(report)
    return report


MODEL = Param(
    "model",
    Variable("model", reader="model"),
    positional=("magic",),
    required=True,
    metavar={"cli": "FILE"},
    help={"magic": "variable holding the model (or a function of X)"},
)
X = Param(
    "X",
    Variable("X", reader="table", file_what="data", stream=True),
    positional=("magic",),
    required=True,
    flag="--data",
    metavar={"cli": "FILE"},
    help={"magic": "variable holding the inputs"},
)
Y = Param("y", Labels(), positional=("magic",), required=True, flag="--target", metavar={"cli": "COLUMN"})
N_BOOT = Param("n_boot", Int(), default=1000, help="bootstrap replicates, 0 for none")
CI = Param("ci", Float(), default=0.95, help="confidence level")

VERB = Verb(
    "evaluate",
    "metrics with confidence intervals, plots and gates for a model on data",
    doc=DOC,
    run=run,
    html=True,
    exit_code=exit_gates,
    params=[
        MODEL,
        X,
        Y,
        Param("task", Text(), default="auto", help="auto, binary, multiclass or regression"),
        CI,
        N_BOOT,
        Param("threshold", Float(), default=0.5, help="decision threshold (binary)"),
        gates("f1>=0.8", precheck=True),
        Param(
            "on",
            Text(),
            default="bound",
            choices=("bound", "value"),
            help="judge gates on the interval bound or the point value",
        ),
        Param("seed", Int(), default=0, help="random seed of the bootstrap"),
        Param("interactive", Flag(), faces=("magic",), help="show a threshold slider (binary)"),
        TRUST,
    ],
)
