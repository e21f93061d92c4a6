"""What report templates read: the model version, the current data and its reference profile.

Kept in the core so that every template (and a user's own) loads inputs the
same way and fails with the same one-sentence errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..exceptions import ValidationError


def load_inputs(model_ref: str, data_path: str, label_column: str = "", *, require_labels: bool = False):
    """Return ``(version, model, X, y)`` for a report.

    ``X`` keeps the model's input columns in the order of its signature; ``y``
    is None when ``label_column`` is empty.
    """
    from .. import registry
    from ..io import read_table

    if not model_ref:
        raise ValidationError(
            "The parameter model_ref is empty.",
            hint="Pass the registry reference of the model, e.g. -p model_ref churn@production.",
        )
    if not data_path:
        raise ValidationError(
            "The parameter data_path is empty.", hint="Pass the current data (a CSV or Parquet file)."
        )
    if require_labels and not label_column:
        raise ValidationError(
            "The parameter label_column is empty, but this report needs labels.",
            hint="Pass the name of the column that holds the labels.",
        )
    version = registry.get(model_ref)
    model = version.load()
    frame = read_table(data_path, what="current data")
    y = None
    if label_column:
        if label_column not in frame.columns:
            raise ValidationError(
                f"The label column '{label_column}' is not a column of {Path(data_path).name}.",
                hint=f"Columns are: {', '.join(map(str, list(frame.columns)[:20]))}.",
            )
        y = frame[label_column].to_numpy()
        frame = frame.drop(columns=[label_column])
    features = version.signature.get("feature_names") or []
    if features:
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise ValidationError(
                f"The current data lacks the model's input columns {missing}.",
                hint=f"{version.ref} was trained on: {', '.join(features)}.",
            )
        frame = frame[features]
    return version, model, frame, y


def reference_profile(version: Any, path: str = "") -> Any:
    """The drift reference: a profile JSON file when ``path`` is given, else the version's stored profile."""
    from ..drift_detection import Profile

    if path:
        p = Path(path)
        if not p.is_file():
            raise ValidationError(f"The reference profile file '{path}' does not exist.")
        return Profile.from_dict(json.loads(p.read_text()))
    stored = version.profile()
    if stored is None:
        raise ValidationError(
            f"{version.ref} has no stored reference profile.",
            hint="Snapshot the model with data=X_train, or pass reference_profile=PATH.",
        )
    return stored


def load_captured_inputs(model_ref: str, window: str = "24h", capture_store: str = ""):
    """Return ``(version, model, X, y, traffic)`` from what the deployed version saw in ``window``.

    ``X`` holds the successful requests' input columns in the order of the
    signature; ``y`` holds their logged labels (NaN where none arrived yet),
    or is None when no row is labelled; ``traffic`` is the window's
    :class:`~jupyter_modelops.capture.CaptureSummary` (every request, failures
    included).
    """
    from .. import registry
    from ..capture import captures

    if not model_ref:
        raise ValidationError(
            "The parameter model_ref is empty.",
            hint="Pass the registry reference of the model, e.g. -p model_ref churn@production.",
        )
    version = registry.get(model_ref)
    model = version.load()
    traffic = captures(
        f"{version.name}:{version.version}", since=window or None, store=capture_store or None, summary=True
    )
    frame = traffic.frame
    ok = frame[frame["status"] == 200] if "status" in frame else frame
    if not len(ok):
        raise ValidationError(
            f"{version.ref} has no captured requests in the last {window or 'window'}.",
            hint="Serve it with capture on (serve(ref, capture=True)), or pass data=FILE, or a longer window.",
        )
    features = version.signature.get("feature_names") or []
    missing = [c for c in features if c not in ok.columns]
    if missing or not features:
        raise ValidationError(
            f"The captures of {version.ref} do not hold its input columns {missing or '(the signature names none)'}.",
            hint="Capture keeps one column per feature when the signature names them.",
        )
    X = ok[features].reset_index(drop=True)
    y = ok["y_true"].to_numpy() if "y_true" in ok and ok["y_true"].notna().any() else None
    return version, model, X, y, traffic


def labelled_rows(X: Any, y: Any) -> tuple[Any, Any]:
    """The rows of ``X`` that have a label, and those labels (integers when every label is integral)."""
    import numpy as np
    import pandas as pd

    if y is None:
        return X, None
    known = np.asarray(pd.notna(y), dtype=bool)
    yl = np.asarray(y)[known]
    try:
        as_float = yl.astype(float)
    except (TypeError, ValueError):
        return X[known].reset_index(drop=True), yl
    yl = as_float.astype(np.int64) if np.all(np.mod(as_float, 1) == 0) else as_float
    return X[known].reset_index(drop=True), yl
