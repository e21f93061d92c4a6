"""Add ground truth to captured inferences: one label per request id, joined when captures are read.

On the command line the labels come from a CSV or Parquet file, in a notebook
from a DataFrame variable; --id-column names the request ids (the ``id`` of each
inference response) and --label-column the true labels.

Example: {prog} labels add churn labels.csv --id-column request_id --label-column churned
"""

from ._spec import ModelOrRef, Param, Path, Text, Variable, Verb


def _column(data, name, what):
    from ..exceptions import ValidationError, suggest

    if name not in data.columns:
        cols = list(map(str, data.columns))
        raise ValidationError(
            f"The {what} column '{name}' is not in the labels data.{suggest(name, cols)} "
            f"Columns are: {', '.join(cols[:20])}."
        )
    return data[name]


def run(face, *, action, ref, data, id_column, label_column, row_column=None, store=None):
    from ..capture import log_labels
    from ..exceptions import ValidationError

    if action != "add":
        raise ValidationError(f"Unknown labels action {action!r}; expected 'add'.")
    if not hasattr(data, "columns"):
        raise ValidationError(f"The labels data must be a table (a DataFrame); got {type(data).__name__}.")
    ids = _column(data, id_column, "id")
    if ids.isna().any():
        raise ValidationError(
            f"The id column '{id_column}' has {int(ids.isna().sum())} empty value(s); "
            "every label needs the request id it belongs to."
        )
    labels = _column(data, label_column, "label").tolist()
    rows = None
    if row_column:
        rows = [int(r) for r in _column(data, row_column, "row")]
    return log_labels(ref, [str(i) for i in ids], labels, rows=rows, store=store)


VERB = Verb(
    "labels",
    "add ground-truth labels to captured inferences (labels add REF FILE)",
    doc=__doc__,
    run=run,
    params=[
        Param("action", Text(), positional=True, choices=("add",), help="add"),
        Param(
            "ref",
            ModelOrRef("deployment", method="stop"),
            positional=True,
            help="model (churn, churn:3) or local deployment name whose captures these label",
        ),
        Param(
            "data",
            Variable("labels", reader="table"),
            positional=True,
            metavar={"magic": "VAR", "cli": "FILE"},
            help={
                "magic": "variable holding a DataFrame with the ids and labels",
                "cli": "CSV or Parquet file with the ids and labels",
            },
        ),
        Param("id_column", Text(), required=True, help="column holding the request ids"),
        Param("label_column", Text(), required=True, help="column holding the true labels"),
        Param("row_column", Text(), help="column holding the row within each request (default: row 0)"),
        Param(
            "store", Path(), help="capture store path or URL (default: the deployment's, else MODELOPS_HOME/captures)"
        ),
    ],
)
