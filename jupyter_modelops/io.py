"""Reading tables (CSV, Parquet) for the faces and the report templates."""

from __future__ import annotations

from pathlib import Path

from .exceptions import ValidationError


def read_table(path: str, *, what: str = "data"):
    """Read a CSV or Parquet file into a DataFrame, with one-sentence errors."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise ValidationError(f"The {what} file '{path}' does not exist.", hint="Check the path.")
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(p)
        if suffix in (".csv", ".txt", ".gz"):
            return pd.read_csv(p)
    except Exception as exc:
        raise ValidationError(f"Could not read the {what} file '{path}': {exc}.") from exc
    raise ValidationError(
        f"The {what} file '{path}' has the suffix '{suffix}', which is not a known table format.",
        hint="Use a .csv or .parquet file.",
    )
