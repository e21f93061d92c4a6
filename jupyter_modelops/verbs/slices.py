"""Evaluate the model per segment of one or more columns and flag the significantly worse segments."""

from ._common import TRUST, gates
from ._spec import Float, Int, Items, Param, Verb, exit_gates
from .evaluate import MODEL, N_BOOT, X, Y

DOC = {
    "magic": __doc__ + "\n\nExample: {prog} slices model X_test y_test --by age,region -o s\n",
    "cli": __doc__ + "\n\nExample:\n  {prog} slices --model model.skops --data test.parquet --target y --by age\n",
}


def run(face, *, model, X, y, by, bins, n_boot, alpha, check):
    from ..robustness_testing import slices

    report = slices(model, X, y, by=by, bins=bins, n_boot=n_boot, alpha=alpha)
    if check:
        report.check(check)
    return report


VERB = Verb(
    "slices",
    "per-segment accuracy/MAE with intervals; flags worse segments (BH-controlled)",
    doc=DOC,
    run=run,
    html=True,
    exit_code=exit_gates,
    params=[
        MODEL,
        X,
        Y,
        Param("by", Items(), metavar="COLS", help="comma-separated columns to slice by (default all)"),
        Param("bins", Int(), default=4, help="quantile bins per numeric column"),
        N_BOOT,
        Param("alpha", Float(), default=0.05, help="false discovery rate for flagging"),
        gates("worst_accuracy>=0.8"),
        TRUST,
    ],
)
