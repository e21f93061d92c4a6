"""Turn user tables (NumPy, pandas, torch) into named, typed columns.

Shared by :func:`jupyter_modelops.drift` and :func:`jupyter_modelops.robustness`.
A column is *numeric* (float64 NumPy array, NaN for missing) or *categorical*
(object array, ``None`` for missing). Conversion happens once, at the API edge,
so the numeric kernels never touch pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._optional import is_torch_tensor
from ..exceptions import ValidationError

NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass
class Table:
    """Named columns of equal length."""

    names: list[str]
    columns: dict[str, np.ndarray]
    kinds: dict[str, str]
    n_rows: int
    source: str = "numpy"  # numpy | pandas | torch
    extra: dict = field(default_factory=dict)

    def numeric(self) -> list[str]:
        return [c for c in self.names if self.kinds[c] == NUMERIC]

    def categorical(self) -> list[str]:
        return [c for c in self.names if self.kinds[c] == CATEGORICAL]


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns") and hasattr(obj, "dtypes")


def _is_series(obj: Any) -> bool:
    return type(obj).__name__ == "Series" and hasattr(obj, "dtype") and hasattr(obj, "name")


def _object_to_categorical(values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=object)
    mask = _missing_mask_object(out)
    if mask.any():
        out = out.copy()
        out[mask] = None
    return out


def _missing_mask_object(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


def to_table(data: Any, *, what: str) -> Table:
    """Convert ``data`` into a :class:`Table`, or raise one clear :class:`ValidationError`.

    Parameters
    ----------
    data : numpy.ndarray, pandas.DataFrame, pandas.Series, torch.Tensor, list, or an Arrow-like input
        A 2-D table (rows x columns) or a 1-D column; or a Parquet file or folder path, a
        ``pyarrow.Table``, ``pyarrow.RecordBatchReader``, ``pyarrow.dataset.Dataset``, polars
        ``DataFrame`` or ``LazyFrame`` (read in batches, at most :data:`MAX_IN_MEMORY_CELLS` values).
    what : str
        The argument name used in error messages (``"reference"``, ``"X"`` ...).
    """
    if data is None:
        raise ValidationError(f"The {what} is None; expected a table (NumPy array, pandas DataFrame or torch tensor).")
    kind = stream_kind(data)
    if kind is not None:
        return _materialize(data, kind, what=what)
    if _is_dataframe(data):
        return _from_pandas(data, what=what)
    if _is_series(data):
        return _from_pandas(data.to_frame(name=str(data.name) if data.name is not None else "x0"), what=what)
    source = "numpy"
    if is_torch_tensor(data):
        data = data.detach().cpu().numpy()
        source = "torch"
    try:
        arr = np.asarray(data)
    except Exception as exc:  # ragged lists and the like
        raise ValidationError(
            f"The {what} could not be read as a table: {exc}.",
            hint="Pass a NumPy array, a pandas DataFrame or a torch tensor.",
        ) from exc
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValidationError(f"The {what} has {arr.ndim} dimensions; expected a 2-D table (rows x columns).")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValidationError(f"The {what} is empty (shape {arr.shape}); expected at least one row and one column.")
    names = [f"x{i}" for i in range(arr.shape[1])]
    cols: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    if arr.dtype.kind in "biuf":
        if arr.dtype.kind == "b":
            for i, n in enumerate(names):
                cols[n], kinds[n] = arr[:, i].astype(object), CATEGORICAL
        else:
            fa = np.asarray(arr, dtype=np.float64)
            block = _columns_block(fa)
            for i, n in enumerate(names):
                cols[n], kinds[n] = block[i], NUMERIC
    else:
        for i, n in enumerate(names):
            col = arr[:, i]
            num = _try_numeric(col)
            if num is not None:
                cols[n], kinds[n] = num, NUMERIC
            else:
                cols[n], kinds[n] = _object_to_categorical(col), CATEGORICAL
    return Table(names, cols, kinds, arr.shape[0], source=source)


def _columns_block(fa: np.ndarray, rows_per_block: int = 4096) -> np.ndarray:
    """The columns of a 2-D array as contiguous rows of a (p, n) array.

    A column of a row-major array is strided: every pass over it pulls whole
    cache lines of the other columns. Transposing in row blocks that fit in
    cache costs one read and one write of the data, about five times less than
    copying the columns one by one.
    """
    n, p = fa.shape
    if p == 1 or fa.flags.f_contiguous:
        return fa.T
    out = np.empty((p, n), dtype=fa.dtype)
    for start in range(0, n, rows_per_block):
        out[:, start : start + rows_per_block] = fa[start : start + rows_per_block].T
    return out


def _try_numeric(col: np.ndarray) -> np.ndarray | None:
    import pandas as pd

    try:
        out = pd.to_numeric(pd.Series(col, dtype=object), errors="raise")
        return np.asarray(out, dtype=np.float64)
    except (ValueError, TypeError):
        return None


def _from_pandas(df: Any, *, what: str) -> Table:
    import pandas as pd
    from pandas.api import types as pt

    if df.shape[0] == 0 or df.shape[1] == 0:
        raise ValidationError(f"The {what} is empty (shape {df.shape}); expected at least one row and one column.")
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValidationError(f"The {what} has duplicate column names {dup}; expected unique names.")
    cols: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for name, col in zip(names, df.columns):
        s = df[col]
        dt = s.dtype
        if pt.is_bool_dtype(dt):
            cols[name], kinds[name] = _object_to_categorical(s.to_numpy(dtype=object)), CATEGORICAL
        elif pt.is_numeric_dtype(dt) and not isinstance(dt, pd.CategoricalDtype):
            cols[name], kinds[name] = s.to_numpy(dtype=np.float64, na_value=np.nan), NUMERIC
        elif pt.is_datetime64_any_dtype(dt):
            v = s.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
            v[s.isna().to_numpy()] = np.nan
            cols[name], kinds[name] = v, NUMERIC
        else:
            cols[name], kinds[name] = _object_to_categorical(s.astype(object).to_numpy()), CATEGORICAL
    return Table(names, cols, kinds, int(df.shape[0]), source="pandas")


def numeric_or_raise(values: np.ndarray, *, column: str, what: str, other: str) -> np.ndarray:
    """Convert a categorical column to numbers, or say which value is not a number."""
    import pandas as pd

    s = pd.Series(values, dtype=object)
    conv = pd.to_numeric(s, errors="coerce")
    bad = conv.isna() & s.notna()
    if bad.any():
        example = s[bad].iloc[0]
        raise ValidationError(
            f"Column '{column}' is numeric in the {other} but the {what} holds non-numeric values "
            f"(e.g. {example!r} in {int(bad.sum())} rows).",
            hint="Clean or cast that column so that both tables hold numbers.",
        )
    return np.asarray(conv, dtype=np.float64)


def align(
    ref: Table, cur: Table, *, ref_what: str = "reference", cur_what: str = "current", columns: list[str] | None = None
) -> list[str]:
    """Check that two tables have the same columns and compatible kinds; return the columns to compare."""
    missing = [c for c in ref.names if c not in cur.columns]
    extra = [c for c in cur.names if c not in ref.columns]
    if columns is not None:
        unknown = [c for c in columns if c not in ref.columns]
        if unknown:
            from ..exceptions import suggest

            raise ValidationError(
                f"columns names {unknown} that are not in the {ref_what}.{suggest(unknown[0], ref.names)} "
                f"Known columns: {', '.join(ref.names[:20])}."
            )
        absent = [c for c in columns if c not in cur.columns]
        if absent:
            raise ValidationError(
                f"The {cur_what} lacks the columns {absent} that the {ref_what} has.",
                hint="Compare tables with the same columns, or pass columns= to choose some.",
            )
        names = list(columns)
    else:
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"the {cur_what} lacks {missing[:10]}")
            if extra:
                parts.append(f"the {cur_what} has extra {extra[:10]}")
            raise ValidationError(
                f"The {ref_what} and {cur_what} have different columns: {' and '.join(parts)}.",
                hint="Compare tables with the same columns, or pass columns= to choose the ones to compare.",
            )
        names = list(ref.names)
    for c in names:
        rk, ck = ref.kinds[c], cur.kinds[c]
        if rk == ck:
            continue
        if cur.extra.get("profile"):
            raise ValidationError(
                f"Column '{c}' is {rk} in the {ref_what} but {ck} in the {cur_what}; "
                f"cast it to the same type on both sides."
            )
        if rk == NUMERIC and ck == CATEGORICAL:
            cur.columns[c] = numeric_or_raise(cur.columns[c], column=c, what=cur_what, other=ref_what)
            cur.kinds[c] = NUMERIC
        elif rk == CATEGORICAL and ck == NUMERIC:
            if ref.extra.get("profile"):
                raise ValidationError(
                    f"Column '{c}' is categorical in the {ref_what} but numeric in the {cur_what}.",
                    hint="Cast the column to the same type on both sides.",
                )
            ref.columns[c] = numeric_or_raise(ref.columns[c], column=c, what=ref_what, other=cur_what)
            ref.kinds[c] = NUMERIC
    return names


# -- Arrow-like inputs: Parquet paths, pyarrow, polars --------------------------------------------------------------

#: largest input (rows x columns) that drift() gathers in memory from a streamed input: the exact path
#: peaks near 36 bytes per value (1.8 GB at 2.5e6 x 20 per side, 6.1 GB at 1e7 x 20), the streamed one
#: stays near one batch (0.9 GB) and is faster beyond this size
MAX_IN_MEMORY_CELLS = 50_000_000
#: rows per batch when streaming an input through a profile
BATCH_ROWS = 1_000_000

_STREAM_HINT = (
    "Pass a Parquet file or folder path, a pyarrow Table, RecordBatchReader or Dataset, "
    "or a polars DataFrame or LazyFrame."
)


def stream_kind(data: Any) -> str | None:
    """Which Arrow-like input ``data`` is (``"path"``, ``"arrow_table"``, ``"reader"``, ``"dataset"``,
    ``"polars"``, ``"polars_lazy"``), or None for the in-memory kinds (NumPy, pandas, torch, lists)."""
    import os

    if isinstance(data, (str, os.PathLike)):
        return "path"
    mod = type(data).__module__ or ""
    name = type(data).__name__
    if mod.startswith("pyarrow"):
        if name == "Table":
            return "arrow_table"
        if name == "RecordBatch":
            return "arrow_table"
        if name == "RecordBatchReader":
            return "reader"
        if name in ("FileSystemDataset", "Dataset", "UnionDataset", "InMemoryDataset"):
            return "dataset"
    if mod.startswith("polars"):
        if name == "DataFrame":
            return "polars"
        if name == "LazyFrame":
            return "polars_lazy"
    return None


def _open_path(path: Any, *, what: str) -> Any:
    """A ``pyarrow.dataset.Dataset`` over a Parquet file or folder, or one clear error."""
    import os
    from pathlib import Path

    p = Path(os.fspath(path))
    if not p.exists():
        raise ValidationError(f"The {what} path '{p}' does not exist; expected a Parquet file or a folder of them.")
    if p.is_file() and p.suffix.lower() not in (".parquet", ".parq", ".pq"):
        raise ValidationError(
            f"The {what} path '{p}' is not a Parquet file (expected a .parquet name or a folder "
            f"of Parquet files); read other formats into a DataFrame first."
        )
    try:
        import pyarrow.dataset as ds
    except ImportError:
        from ..exceptions import MissingDependencyError

        raise MissingDependencyError("pyarrow", "parquet", purpose="read Parquet") from None
    try:
        dset = ds.dataset(str(p), format="parquet")
    except Exception as exc:  # corrupt or foreign files
        raise ValidationError(f"The {what} path '{p}' could not be read as Parquet: {exc}.") from exc
    if p.is_dir() and not dset.files:
        raise ValidationError(f"The {what} folder '{p}' holds no Parquet files.")
    return dset


def iter_batches(data: Any, *, what: str, batch_rows: int = BATCH_ROWS) -> Any:
    """Yield :class:`Table` objects of at most ``batch_rows`` rows from any accepted input.

    In-memory inputs (NumPy, pandas, torch, lists) give one table. Column names are kept for every kind.
    """
    kind = stream_kind(data)
    if kind is None:
        yield to_table(data, what=what)
        return
    seen = False
    for rb in _arrow_batches(data, kind, what=what, batch_rows=batch_rows):
        if rb.num_rows == 0:
            continue
        seen = True
        tab = _from_arrow(rb, what=what)
        del rb  # the Arrow batch is copied into NumPy columns; let it go before the next one is read
        yield tab
    if not seen:
        raise ValidationError(f"The {what} is empty (no rows); expected at least one row.")


def _arrow_batches(data: Any, kind: str, *, what: str, batch_rows: int, columns: list[str] | None = None) -> Any:
    """Arrow record batches of ``data``; ``columns`` reads only those (Parquet reads no other column)."""
    if kind == "path":
        # file by file, row group by row group: the dataset scanner decodes several batches ahead
        import pyarrow.parquet as pq

        dset = _open_path(data, what=what)
        for f in dset.files:
            with pq.ParquetFile(f, pre_buffer=False, buffer_size=1 << 20) as pf:
                yield from pf.iter_batches(batch_size=batch_rows, use_threads=False, columns=columns)
        return
    if kind == "polars":
        data, kind = (data if columns is None else data.select(columns)).to_arrow(), "arrow_table"
    if kind == "arrow_table":
        if columns is not None:
            data = data.select(columns)
        yield from data.to_batches(max_chunksize=batch_rows)
    elif kind == "reader":
        for rb in data:
            yield rb if columns is None else rb.select(columns)
    elif kind == "dataset":
        # no read-ahead nor pre-buffering: the defaults keep up to 16 batches of 4 files in flight and whole
        # row groups buffered, which made peak memory grow with the file instead of the batch
        import pyarrow.dataset as ds

        opts: dict[str, Any] = {}
        if isinstance(getattr(data, "format", None), ds.ParquetFileFormat):
            opts["fragment_scan_options"] = ds.ParquetFragmentScanOptions(pre_buffer=False)
        yield from data.to_batches(
            columns=columns, batch_size=batch_rows, batch_readahead=0, fragment_readahead=0, use_threads=False, **opts
        )
    elif kind == "polars_lazy":
        for df in (data if columns is None else data.select(columns)).collect_batches(chunk_size=batch_rows):
            yield from df.to_arrow().to_batches()


def _cheap_cells(data: Any, kind: str, *, what: str) -> int | None:
    """Rows x columns of an Arrow-like input when known without reading it (Parquet footers), else None."""
    if kind == "path":
        dset = _open_path(data, what=what)
        return int(dset.count_rows()) * len(dset.schema.names)
    if kind == "dataset":
        return int(data.count_rows()) * len(data.schema.names)
    if kind == "arrow_table":
        return int(data.num_rows) * int(data.num_columns)
    if kind == "polars":
        return int(data.height) * int(data.width)
    return None


def gather_or_stream(data: Any, kind: str, *, what: str) -> tuple[str, Any]:
    """``("table", Table)`` for an Arrow-like input that fits :data:`MAX_IN_MEMORY_CELLS`, else
    ``("stream", iterator of Table batches)``.

    The size is read from Parquet footers when possible; a reader or lazy frame is gathered until it
    passes the limit, and then the batches held so far and the rest are streamed.
    """
    import pyarrow as pa

    limit = MAX_IN_MEMORY_CELLS
    cells = _cheap_cells(data, kind, what=what)
    if cells is not None and cells > limit:
        return "stream", iter_batches(data, what=what)
    held: list[Any] = []
    rows = 0
    it = iter(_arrow_batches(data, kind, what=what, batch_rows=BATCH_ROWS))
    for rb in it:
        rows += rb.num_rows
        held.append(rb)
        if rows * max(rb.num_columns, 1) > limit:
            return "stream", _drain(held, it, what=what)
    if rows == 0:
        raise ValidationError(f"The {what} is empty (no rows); expected at least one row.")
    return "table", _from_arrow(pa.Table.from_batches(held), what=what)


def _drain(held: list, rest: Any, *, what: str) -> Any:
    """Tables from the held batches (released one by one) and then from the rest of the input."""
    held.reverse()
    while held:
        rb = held.pop()
        if rb.num_rows:
            yield _from_arrow(rb, what=what)
        del rb
    for rb in rest:
        if rb.num_rows:
            yield _from_arrow(rb, what=what)
        del rb


def _materialize(data: Any, kind: str, *, what: str) -> Table:
    """Gather an Arrow-like input into one in-memory :class:`Table`, refusing inputs too large to hold."""
    import pyarrow as pa

    rows = 0
    batches = []
    for rb in _arrow_batches(data, kind, what=what, batch_rows=BATCH_ROWS):
        rows += rb.num_rows
        if rows * max(rb.num_columns, 1) > MAX_IN_MEMORY_CELLS:
            raise ValidationError(
                f"The {what} holds more than {MAX_IN_MEMORY_CELLS:,} values, too many to compare in memory; "
                f"pass profile(data) as the reference (it streams a Parquet path, dataset or reader in batches) "
                f"and a smaller slice (e.g. one day) as the current data."
            )
        batches.append(rb)
    if rows == 0:
        raise ValidationError(f"The {what} is empty (no rows); expected at least one row.")
    return _from_arrow(pa.Table.from_batches(batches), what=what)


def _from_arrow(tab: Any, *, what: str) -> Table:
    """Named, typed columns of a pyarrow Table or RecordBatch (names and nulls kept)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = [str(n) for n in tab.schema.names]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValidationError(f"The {what} has duplicate column names {dup}; expected unique names.")
    if tab.num_rows == 0 or tab.num_columns == 0:
        raise ValidationError(
            f"The {what} is empty (shape {(tab.num_rows, tab.num_columns)}); expected at least one row and one column."
        )
    cols: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for name, col in zip(names, tab.columns):
        t = col.type
        if pa.types.is_dictionary(t):
            col = col.cast(t.value_type) if hasattr(col, "cast") else pc.cast(col, t.value_type)
            t = col.type
        if pa.types.is_boolean(t):
            cols[name], kinds[name] = _object_to_categorical(np.asarray(col.to_pylist(), dtype=object)), CATEGORICAL
        elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
            v = pc.cast(col, pa.float64())
            cols[name], kinds[name] = (
                np.asarray(pc.fill_null(v, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64),
                NUMERIC,
            )
        elif pa.types.is_timestamp(t) or pa.types.is_date(t):
            v = pc.cast(pc.cast(col, pa.timestamp("ns")), pa.int64())
            v = pc.cast(v, pa.float64(), safe=False)  # ns since 1970 exceed 2**53: rounding is fine
            cols[name], kinds[name] = (
                np.asarray(pc.fill_null(v, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64),
                NUMERIC,
            )
        else:
            cols[name], kinds[name] = _object_to_categorical(np.asarray(col.to_pylist(), dtype=object)), CATEGORICAL
    return Table(names, cols, kinds, int(tab.num_rows), source="arrow")
