"""Perturb the inputs at several severities and show how the model's predictions and accuracy move."""

from ._common import TRUST, gates
from ._spec import Float, Int, Items, Labels, Param, Text, Verb, exit_gates
from .evaluate import CI, MODEL, N_BOOT, X

DOC = {
    "magic": __doc__
    + """

Example: {prog} robustness model X_test y_test --perturb noise,missing --check "flip_rate<=0.05 at noise 0.05" -o rob
""",
    "cli": __doc__
    + """

The model is a .skops, .onnx, TorchScript .pt or, with --trust, .joblib/.pkl file; the data is
CSV or Parquet (a Parquet file or folder is read batch by batch, so it may be
larger than memory). With --target, the metric drop (accuracy or MAE) is reported
with paired bootstrap intervals. Exit code 0 when every gate passes (or none
is given), 1 when a gate fails, 2 for bad input.

Example:
  {prog} robustness --model model.skops --data test.parquet --target churned --perturb noise,missing --impute mean
""",
}


def run(face, *, model, X, y, perturb, severities, impute, n_boot, ci, seed, check):
    from ..robustness_testing import robustness

    report = robustness(
        model,
        X,
        y,
        perturbations=perturb,
        severities=severities or None,
        n_boot=n_boot,
        ci=ci,
        random_state=seed,
        impute=impute,
        progress=False if face.quiet else None,
    )
    if check:
        report.check(check)
    return report


VERB = Verb(
    "robustness",
    "flip rate and metric drop under noise, missing values, unit errors, FGSM/PGD ...",
    doc=DOC,
    run=run,
    html=True,
    exit_code=exit_gates,
    params=[
        MODEL,
        X,
        Param(
            "y",
            Labels(),
            positional=("magic",),
            optional=True,
            flag="--target",
            metavar={"cli": "COLUMN"},
            help={
                "magic": "variable holding the true labels or values (optional)",
                "cli": "column holding the true labels/values (optional)",
            },
        ),
        Param(
            "perturb",
            Text(),
            default="default",
            metavar="NAMES",
            help="comma-separated perturbations (default: the whole default suite)",
        ),
        Param("severities", Items(Float()), metavar="LIST", help="comma-separated severities for every perturbation"),
        Param(
            "impute",
            Text(),
            metavar="HOW",
            help="mean, median or most_frequent: fill injected NaN for models that cannot take them",
        ),
        N_BOOT,
        CI,
        Param("seed", Int(), default=0, help="random seed"),
        gates("flip_rate<=0.05 at noise 0.05"),
        TRUST,
    ],
)
