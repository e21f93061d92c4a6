"""Compare current data with a reference (data or a saved profile), column by column.

With a model, prediction drift is reported too.
"""

from ._common import TRUST, gates
from ._spec import Float, Items, Outcome, Param, Path, Text, Variable, Verb, exit_gates

DOC = {
    "magic": __doc__ + "\n\nExample: {prog} drift X_train X_new --model model -o d\n",
    "cli": __doc__
    + """

The reference is CSV, Parquet or a profile JSON written with --save-profile
(compare later without keeping the raw reference). A Parquet file or folder is
read batch by batch on either side, so it may be larger than memory. Exit code 0 when every gate
passes (or none is given), 1 when a gate fails, 2 for bad input.

Examples:
  {prog} drift --reference train.parquet --save-profile ref.json
  {prog} drift --reference ref.json --current week42.parquet --check "drift_share<=0.3" --html drift.html
""",
}


def run(face, *, reference, current, model, columns, methods, drift_share, check, target=None, save_profile=None):
    from ..drift_detection import Profile, drift, profile
    from ..exceptions import ValidationError

    if target:
        if columns is None and any(isinstance(d, str) for d in (reference, current)):
            columns = _columns_but(reference if isinstance(reference, str) else current, target)
        reference = _drop(reference, target)
        current = _drop(current, target)
    if save_profile:
        if isinstance(reference, Profile):
            raise ValidationError("--save-profile needs raw reference data; the reference is already a profile.")
        prof = profile(reference, model=model)
        prof.save(save_profile)
        if current is None:
            return Outcome(f"{prof._summary()} -> {save_profile}", {"profile": str(save_profile)})
    if current is None:
        raise ValidationError(
            "--current is missing; pass the data file to compare with the reference.",
            hint="Or pass --save-profile OUT to only write the reference profile.",
        )
    report = drift(
        reference,
        current,
        columns=columns,
        methods=methods,
        model=model,
        drift_share=drift_share,
        progress=False if face.quiet else None,
    )
    if check:
        report.check(check)
    return report


def _columns_but(path, target):
    """The columns of a Parquet file or folder (read from its schema, not its rows) but ``target``."""
    from ..drift_detection._columns import _open_path

    return [c for c in _open_path(path, what="reference").schema.names if c != target]


def _drop(df, target):
    if df is not None and hasattr(df, "columns") and target in df.columns:
        return df.drop(columns=[target])
    return df


VERB = Verb(
    "drift",
    "data and prediction drift: PSI, KS, Wasserstein, Jensen-Shannon, chi2",
    doc=DOC,
    run=run,
    html=True,
    exit_code=exit_gates,
    params=[
        Param(
            "reference",
            Variable("reference data", reader="reference", file_what="reference", stream=True),
            positional=("magic",),
            required=True,
            metavar={"cli": "FILE"},
            help={
                "magic": "variable holding the reference data or a Profile",
                "cli": "reference: .csv, .parquet or profile .json",
            },
        ),
        Param(
            "current",
            Variable("current data", reader="table", stream=True),
            positional=("magic",),
            metavar={"cli": "FILE"},
            help={"magic": "variable holding the current data", "cli": "current data: .csv or .parquet"},
        ),
        Param(
            "model",
            Variable("model", reader="model"),
            metavar={"magic": "M", "cli": "FILE"},
            help={
                "magic": "variable holding the model (adds prediction drift)",
                "cli": "model file (adds prediction drift)",
            },
        ),
        Param("target", Text(), faces=("cli",), metavar="COLUMN", help="drop this column (the label) from both sides"),
        Param("columns", Items(), metavar="LIST", help="comma-separated columns to compare (default all)"),
        Param("methods", Text(), metavar="LIST", default="psi,ks,wasserstein,js,chi2", help="comma-separated methods"),
        Param("drift_share", Float(), default=0.5, help="share of drifted columns that makes dataset drift"),
        Param(
            "save_profile",
            Path(),
            faces=("cli",),
            metavar="OUT",
            help="write the reference profile (JSON) to this file",
        ),
        gates("drift_share<=0.3"),
        TRUST,
    ],
)
