"""Input checks shared by the core API.

Each check raises :class:`~jupyter_modelops.exceptions.ValidationError` with
one sentence that names the argument, says what was received and what was
expected. They run at the API edge, before any work is done, so that a
mistake costs milliseconds and never a half-written result.

numpy is imported inside the functions: importing this module stays light.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Sequence

from .exceptions import ValidationError, suggest

__all__ = [
    "n_rows",
    "describe",
    "as_1d",
    "as_2d_or_1d",
    "check_same_length",
    "check_not_empty",
    "check_finite",
    "check_numeric",
    "check_fraction",
    "check_int",
    "check_choice",
    "check_sample_weight",
]


def describe(value: Any) -> str:
    """A short description of a value for error messages: type and shape."""
    shape = getattr(value, "shape", None)
    name = type(value).__name__
    if shape is not None:
        return f"{name} of shape {tuple(shape)}"
    if isinstance(value, (list, tuple)):
        return f"{name} of length {len(value)}"
    text = repr(value)
    return text if len(text) <= 40 else f"{name}"


def n_rows(value: Any) -> int:
    """Number of rows of an array-like, DataFrame, tensor or sequence."""
    shape = getattr(value, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(value)


def _to_numpy(value: Any):
    import numpy as np

    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    elif hasattr(value, "to_numpy"):  # pandas Series / DataFrame / Index
        value = value.to_numpy()
    return np.asarray(value)


def as_1d(value: Any, name: str, *, allow_column: bool = True):
    """Return a 1-D numpy array, accepting a single column of shape (n, 1).

    Raises ValidationError for scalars and arrays with more dimensions.
    """
    if value is None:
        raise ValidationError(f"{name} is None; expected an array with one value per row.")
    arr = _to_numpy(value)
    if arr.ndim == 2 and allow_column and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValidationError(
            f"{name} has shape {arr.shape}; expected a 1-D array with one value per row"
            + (" (or a single column)." if allow_column else ".")
        )
    return arr


def as_2d_or_1d(value: Any, name: str):
    """Return a numpy array of 1 or 2 dimensions (scores: one column, or one per class)."""
    if value is None:
        raise ValidationError(f"{name} is None; expected an array with one row per sample.")
    arr = _to_numpy(value)
    if arr.ndim not in (1, 2):
        raise ValidationError(
            f"{name} has shape {arr.shape}; expected 1-D (one score per row) or 2-D (one column per class)."
        )
    return arr


def check_not_empty(value: Any, name: str) -> None:
    if n_rows(value) == 0:
        raise ValidationError(
            f"{name} is empty (0 rows); expected at least one row.", hint="Check the filter or split that produced it."
        )


def check_same_length(first: tuple[str, Any], *others: tuple[str, Any]) -> None:
    """All arrays have the first one's number of rows."""
    name0, v0 = first
    n0 = n_rows(v0)
    for name, v in others:
        if v is None:
            continue
        n = n_rows(v)
        if n != n0:
            raise ValidationError(
                f"{name} has {n:,} rows but {name0} has {n0:,}; they must have the same number of rows."
            )


def check_numeric(arr: Any, name: str):
    """Return ``arr`` as float64, or say which non-numeric value was found."""
    import numpy as np

    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64, copy=False)
    if arr.dtype.kind == "c":
        raise ValidationError(f"{name} holds complex numbers; expected real numbers.")
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        bad = None
        for v in arr.ravel():
            try:
                float(v)
            except (TypeError, ValueError):
                bad = v.item() if hasattr(v, "item") else v
                break
        raise ValidationError(
            f"{name} must be numeric but holds {type(bad).__name__} values such as {bad!r}.",
            hint="Convert or encode that column first.",
        ) from None


def check_finite(arr: Any, name: str) -> None:
    """No NaN or infinite values in a numeric array."""
    import numpy as np

    if arr.dtype.kind not in "fc":
        if arr.dtype.kind == "O":
            mask = np.array([isinstance(v, float) and not math.isfinite(v) for v in arr.ravel()])
            if mask.any():
                i = int(np.flatnonzero(mask)[0])
                raise ValidationError(
                    f"{name} contains {int(mask.sum()):,} missing (NaN) values (first at row {i}); "
                    "expected every value to be present.",
                    hint="Drop or impute those rows first.",
                )
        return
    finite = np.isfinite(arr)
    if not finite.all():
        bad = ~finite
        count = int(bad.sum())
        first = int(np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1) if bad.ndim > 1 else bad)[0])
        kinds = []
        if np.isnan(arr).any():
            kinds.append("NaN")
        if np.isinf(arr).any():
            kinds.append("infinite")
        raise ValidationError(
            f"{name} contains {count:,} {' and '.join(kinds)} value{'s' if count != 1 else ''} "
            f"(first at row {first}); expected finite numbers.",
            hint="Drop or impute those rows first.",
        )


def check_fraction(value: Any, name: str, *, low: float = 0.0, high: float = 1.0, inclusive: bool = False) -> float:
    """A real number strictly (or inclusively) between ``low`` and ``high``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValidationError(f"{name} must be a number between {low} and {high}; got {describe(value)}.")
    v = float(value)
    ok = (low <= v <= high) if inclusive else (low < v < high)
    if not ok:
        rng = f"[{low}, {high}]" if inclusive else f"({low}, {high})"
        raise ValidationError(f"{name} must be in {rng}; got {v!r}.")
    return v


def check_int(value: Any, name: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(f"{name} must be an integer >= {minimum}; got {describe(value)}.")
    if int(value) < minimum:
        raise ValidationError(f"{name} must be an integer >= {minimum}; got {int(value)}.")
    return int(value)


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValidationError(
            f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}.{suggest(str(value), choices)}"
        )
    return value


def check_sample_weight(sample_weight: Any, n: int, name: str = "sample_weight"):
    """None, or a finite non-negative float array of length ``n`` with a positive sum."""
    import numpy as np

    if sample_weight is None:
        return None
    w = check_numeric(as_1d(sample_weight, name), name)
    if len(w) != n:
        raise ValidationError(f"{name} has {len(w):,} rows but y has {n:,}; they must have the same number of rows.")
    check_finite(w, name)
    if (w < 0).any():
        raise ValidationError(f"{name} contains negative values (min {w.min():g}); expected weights >= 0.")
    if not w.sum() > 0:
        raise ValidationError(f"{name} sums to 0; expected at least one positive weight.")
    return np.ascontiguousarray(w, dtype=np.float64)


def first_unknown(values: Iterable[Any], known: Iterable[Any]) -> list:
    known = set(known)
    return [v for v in values if v not in known]
