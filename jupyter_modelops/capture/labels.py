"""Delayed labels: ground truth for captured requests, joined by request id when read.

Labels are stored beside the captures, append-only, one Parquet file per call::

    _labels/model=<name>/labels-<time ns>-<uuid>.parquet   (request_id, row, label, labelled_at)

When an id is labelled twice the latest label wins (at read time). Ids that
match no captured row yet are stored too (their rows may still be in a
server's buffer) and counted in the answer, never silently dropped.
"""

from __future__ import annotations

import math
import time
import uuid
from typing import Any, Sequence

from .._html import Result, page, table
from ..exceptions import ValidationError
from .store import CaptureStore

MAX_ID_CHARS = 256


def _check(ids: Any, labels: Any, rows: Any) -> tuple[list[str], list, list[int], str]:
    def as_list(x: Any, arg: str) -> list:
        if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):
            x = x.tolist()
        if isinstance(x, (str, bytes)) or not isinstance(x, (list, tuple)):
            raise ValidationError(f"{arg} must be a list; got {type(x).__name__}.")
        return list(x)

    ids = as_list(ids, "ids")
    labels = as_list(labels, "labels")
    if not ids:
        raise ValidationError("ids is empty; give the request ids (the 'id' of each inference response) to label.")
    if len(ids) != len(labels):
        raise ValidationError(f"ids has {len(ids)} entries but labels has {len(labels)}; give one label per id.")
    for i in ids:
        if not isinstance(i, str) or not i or len(i) > MAX_ID_CHARS:
            raise ValidationError(
                f"Each id must be a request id string of 1 to {MAX_ID_CHARS} characters; got {str(i)[:60]!r}.",
                hint="Use the 'id' of the inference response (or its X-Request-Id header).",
            )
    if rows is None:
        rows = [0] * len(ids)
    else:
        rows = as_list(rows, "rows")
        if len(rows) != len(ids) or not all(
            isinstance(r, int) and not isinstance(r, bool) and 0 <= r < 2**31 for r in rows
        ):
            raise ValidationError(
                f"rows must hold one non-negative integer (the row within its request) per id; "
                f"got {len(rows)} entries for {len(ids)} ids."
            )
    kinds = set()
    for v in labels:
        if isinstance(v, str):
            kinds.add("string")
        elif isinstance(v, bool) or (isinstance(v, int) and abs(v) < 2**63):
            kinds.add("int64")
        elif isinstance(v, float) and math.isfinite(v):
            kinds.add("float64")
        else:
            raise ValidationError(f"Each label must be a string or a finite number; got {v!r}.")
    if "string" in kinds and len(kinds) > 1:
        raise ValidationError("labels mixes strings and numbers; give one kind of label per model.")
    kind = "string" if "string" in kinds else ("float64" if "float64" in kinds else "int64")
    if kind == "int64":
        labels = [int(v) for v in labels]
    elif kind == "float64":
        labels = [float(v) for v in labels]
    return ids, labels, rows, kind


def label_files(store: CaptureStore, model: str) -> list[str]:
    return sorted(
        e["path"]
        for e in store.listdir(store.labels_dir(model))
        if e["name"].endswith(".parquet") and not e["name"].startswith((".", "_"))
    )


def write_labels(
    store: CaptureStore, model: str, ids: Sequence, labels: Sequence, *, rows: Sequence[int] | None = None
) -> dict:
    """Append labels for ``model``'s captured requests; returns ``{"written", "unknown", "unknown_ids", ...}``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids, labels, rows, kind = _check(ids, labels, rows)
    files = label_files(store, model)
    if files:
        with store.fs.open(files[0], "rb") as fh:
            existing = pq.read_schema(fh).field("label").type
        numeric = pa.types.is_integer(existing) or pa.types.is_floating(existing)
        if numeric != (kind != "string"):
            raise ValidationError(
                f"The labels of model '{model}' are {'numbers' if numeric else 'strings'}; "
                f"got {'strings' if numeric else 'numbers'}.",
                hint="Give the same kind of label as before.",
            )
    known = _known(store, model, ids)
    pairs = list(zip(ids, rows))
    unknown = [f"{i}" if r == 0 else f"{i}#{r}" for i, r in pairs if (i, r) not in known]
    now = time.time_ns()
    t = pa.table(
        {
            "request_id": pa.array(ids, pa.string()),
            "row": pa.array(rows, pa.int32()),
            "label": pa.array(labels, getattr(pa, kind)()),
            "labelled_at": pa.array([now // 1000] * len(ids), pa.timestamp("us", tz="UTC")),
        }
    )
    store.write_table(t, store.labels_dir(model), f"labels-{now}-{uuid.uuid4().hex[:8]}.parquet")
    return {
        "model": model,
        "written": len(ids),
        "unknown": len(unknown),
        "unknown_ids": unknown[:20],
        "duplicates_in_call": len(pairs) - len(set(pairs)),
    }


def _known(store: CaptureStore, model: str, ids: list[str]) -> set[tuple[str, int]]:
    """The (request id, row) pairs among ``ids`` that have captured rows (a scan of two columns)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    found: set[tuple[str, int]] = set()
    wanted = pa.array(sorted(set(ids)), pa.string())
    for v in store.listdir(store.model_dir(model)):
        if v["type"] != "directory" or not v["name"].startswith("version="):
            continue
        dset = ds.dataset(v["path"], format="parquet", filesystem=store.fs, partitioning="hive")
        if not dset.files:
            continue
        t = dset.to_table(columns=["request_id", "row"], filter=ds.field("request_id").isin(wanted))
        found.update(zip(t.column("request_id").to_pylist(), t.column("row").to_pylist()))
    return found


def read_labels(store: CaptureStore, model: str) -> Any:
    """Every label of ``model``, latest per (request id, row): a DataFrame (request_id, row, y_true, labelled_at)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for path in label_files(store, model):
        with store.fs.open(path, "rb") as fh:
            tables.append(pq.read_table(fh))
    if not tables:
        return pd.DataFrame(
            {
                "request_id": pd.Series(dtype=str),
                "row": pd.Series(dtype="int32"),
                "y_true": pd.Series(dtype=object),
                "labelled_at": pd.Series(dtype="datetime64[us, UTC]"),
            }
        )
    t = pa.concat_tables(tables, promote_options="permissive")
    df = t.to_pandas().rename(columns={"label": "y_true"})
    df = df.sort_values("labelled_at", kind="stable").drop_duplicates(["request_id", "row"], keep="last")
    return df.reset_index(drop=True)


class LabelsResult(Result):
    """What :func:`log_labels` stored: labels written, ids that match no captured row (yet)."""

    def __init__(self, data: dict, store: str) -> None:
        self.model = data["model"]
        self.written = data["written"]
        self.unknown = data["unknown"]
        self.unknown_ids = data["unknown_ids"]
        self.duplicates_in_call = data.get("duplicates_in_call", 0)
        self.store = store

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "written": self.written,
            "unknown": self.unknown,
            "unknown_ids": self.unknown_ids,
            "duplicates_in_call": self.duplicates_in_call,
            "store": self.store,
        }

    def _summary(self) -> str:
        s = f"Labels for {self.model}: {self.written} written"
        if self.unknown:
            s += (
                f", {self.unknown} match no captured request yet (kept; they join when their rows arrive): "
                f"{', '.join(self.unknown_ids[:5])}{'...' if self.unknown > 5 else ''}"
            )
        return s

    def to_text(self) -> str:
        return self._summary()

    def to_html(self) -> str:
        return page(f"Labels for {self.model}", table(list(self.to_dict().items())))
