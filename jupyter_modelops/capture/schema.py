"""The Parquet schema of a model's captures, derived from its signature.

Columns, in order:

- ``request_id`` (string), ``row`` (int32: the row's index in its request),
  ``ts`` (timestamp, UTC, microseconds), ``latency_ms`` (float64),
  ``status`` (int16, the HTTP status), ``deployment``, ``cluster``, ``pod`` (string);
- one column per input: a single 2-D input whose signature names its
  features gives one column per feature (``feature_names``); otherwise an
  input of shape ``[-1]`` is a scalar column and ``[-1, d1, ...]`` a
  fixed-size list of ``d1 * ...`` values (a variable list when a dimension is open);
- one column per output, by the same rule.

A name that collides with an earlier column gets an ``input_`` or ``output_``
prefix. The file's key-value metadata records which columns are inputs and
outputs (``modelops.inputs``, ``modelops.outputs``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

META_COLUMNS = ("request_id", "row", "ts", "latency_ms", "status", "deployment", "cluster", "pod")

_ARROW = {
    "BOOL": "bool_",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float32",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "binary",
}
_NUMPY = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float32",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}


def tensor_of(source: Any, c: "Column") -> Any:
    """A column's tensor from an item's inputs or outputs: a dict by name, or a tuple in signature order."""
    if source is None:
        return None
    if type(source) is tuple:
        return source[c.index]
    return source.get(c.tensor)


@dataclass(frozen=True)
class Column:
    """One stored column: where its values come from in a request."""

    name: str  # column name in the file
    tensor: str  # input or output tensor name
    role: str  # "input" or "output"
    datatype: str  # V2 datatype
    width: int  # 0: one value per row; k > 0: fixed-size list of k; -1: variable list
    feature: int | None = None  # index into the tensor's second axis (feature columns)
    index: int = 0  # position of the tensor among the signature's inputs or outputs


def _width(shape: Sequence[int]) -> int:
    inner = list(shape[1:])
    if not inner:
        return 0
    if any(d <= 0 for d in inner):
        return -1
    n = 1
    for d in inner:
        n *= d
    return n


class CaptureSchema:
    """Columns and Arrow schema of one served model's captures.

    Parameters
    ----------
    inputs, outputs : sequence of TensorSpec-like
        Objects with ``name``, ``datatype`` and ``shape`` (the served signature).
    feature_names : list of str, optional
        Names of the columns of a single 2-D input.
    """

    def __init__(
        self, inputs: Sequence[Any], outputs: Sequence[Any], feature_names: Sequence[str] | None = None
    ) -> None:
        import pyarrow as pa

        taken = set(META_COLUMNS)
        cols: list[Column] = []

        def name_for(name: str, prefix: str) -> str:
            out = name if name not in taken else f"{prefix}_{name}"
            i = 2
            while out in taken:
                out = f"{prefix}_{name}_{i}"
                i += 1
            taken.add(out)
            return out

        single = len(inputs) == 1 and len(inputs[0].shape) == 2
        if (
            single
            and feature_names
            and inputs[0].shape[1] in (-1, len(feature_names))
            and len(set(map(str, feature_names))) == len(feature_names)
        ):
            spec = inputs[0]
            for j, f in enumerate(feature_names):
                cols.append(Column(name_for(str(f), "input"), spec.name, "input", spec.datatype, 0, j))
        else:
            for k, spec in enumerate(inputs):
                cols.append(
                    Column(name_for(spec.name, "input"), spec.name, "input", spec.datatype, _width(spec.shape), index=k)
                )
        for k, spec in enumerate(outputs):
            cols.append(
                Column(name_for(spec.name, "output"), spec.name, "output", spec.datatype, _width(spec.shape), index=k)
            )
        self.input_names = [s.name for s in inputs]
        self.output_names = [s.name for s in outputs]
        # the packed form (see writer.record_packed): per tensor, inputs then outputs, its dtype and values per row;
        # None when a tensor has no fixed width or holds bytes
        tensors = [(s, _width(s.shape)) for s in [*inputs, *outputs]]
        self.packed = (
            None
            if any(s.datatype == "BYTES" or w < 0 for s, w in tensors)
            else [(np.dtype(_NUMPY[s.datatype]), max(w, 1)) for s, w in tensors]
        )
        self._slot = {(c.role, c.index): (c.index if c.role == "input" else len(inputs) + c.index) for c in cols}
        self.columns = cols
        self.n_features = len(feature_names) if cols and cols[0].feature is not None else 0
        fields = [
            pa.field("request_id", pa.string()),
            pa.field("row", pa.int32()),
            pa.field("ts", pa.timestamp("us", tz="UTC")),
            pa.field("latency_ms", pa.float64()),
            pa.field("status", pa.int16()),
            pa.field("deployment", pa.string()),
            pa.field("cluster", pa.string()),
            pa.field("pod", pa.string()),
        ]
        for c in cols:
            fields.append(pa.field(c.name, self.arrow_type(c)))
        meta = {
            "modelops.schema": "1",
            "modelops.inputs": json.dumps([c.name for c in cols if c.role == "input"]),
            "modelops.outputs": json.dumps([c.name for c in cols if c.role == "output"]),
        }
        self.arrow = pa.schema(fields, metadata=meta)
        # dictionary encoding only where values repeat (unique ids and floats would pay for nothing)
        self.dictionary = ["deployment", "cluster", "pod"] + [c.name for c in cols if c.datatype == "BYTES"]
        self.row_bytes = 96 + sum(
            max(c.width, 1) * (8 if c.datatype == "BYTES" else __import__("numpy").dtype(_NUMPY[c.datatype]).itemsize)
            for c in cols
        )

    @staticmethod
    def arrow_type(c: Column) -> Any:
        import pyarrow as pa

        base = getattr(pa, _ARROW[c.datatype])()
        if c.width == 0:
            return base
        if c.width < 0:
            return pa.list_(base)
        return pa.list_(base, c.width)

    # -- conversion ----------------------------------------------------------------------------
    def table(self, items: Sequence[Any], context: Sequence[str], metadata: dict[str, str] | None = None) -> Any:
        """An Arrow table of the rows of ``items`` (tuples laid out as :class:`~.writer.Item`)."""
        import numpy as np
        import pyarrow as pa

        ok = [it for it in items if it[8] is not None and it[7] is not None and it[6] > 0]
        bad = (
            [it for it in items if not (it[8] is not None and it[7] is not None and it[6] > 0)]
            if len(ok) != len(items)
            else []
        )
        parts = []
        if ok:
            fields = list(zip(*ok))  # one pass: a tuple per field of Item
            counts = np.array(fields[6], dtype=np.int64)
            n = int(counts.sum())
            rows = (
                np.zeros(n, dtype=np.int32)
                if n == len(ok)
                else (np.arange(n, dtype=np.int32) - np.repeat(np.cumsum(counts) - counts, counts).astype(np.int32))
            )
            arrays = self._meta_arrays(fields, counts, n, context, rows)
            cache: dict[tuple[str, str], Any] = {}
            for c in self.columns:
                key = (c.role, c.tensor)
                stacked = cache.get(key)
                if stacked is None:
                    sources = fields[7] if c.role == "input" else fields[8]
                    stacked = cache[key] = _stack([tensor_of(d, c) for d in sources], c, counts)
                arrays.append(self._column(stacked, c, n))
            parts.append(pa.Table.from_arrays(arrays, schema=self.arrow))
        for it in bad:  # failed requests: one row each with the status, inputs when they were decoded
            n = max(it[6], 1) if it[7] is not None else 1
            arrays = self._meta_arrays(list(zip(it)), np.array([n]), n, context, np.arange(n, dtype=np.int32))
            for c in self.columns:
                arr = tensor_of(it[7] if c.role == "input" else it[8], c)
                if arr is None or it[6] <= 0:
                    arrays.append(pa.nulls(n, self.arrow_type(c)))
                else:
                    arrays.append(self._column(_stack([arr], c, np.array([n])), c, n))
            parts.append(pa.Table.from_arrays(arrays, schema=self.arrow))
        table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        if metadata:
            table = table.replace_schema_metadata(
                {**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in metadata.items()}}
            )
        return table

    def table_packed(
        self, ids: list, ts: list, lat: list, status: list, nrows: list, data: bytes, context: Sequence[str]
    ) -> Any:
        """An Arrow table from the packed form: per-request lists and the rows' bytes (every tensor's bytes
        of a row side by side, inputs then outputs)."""
        import numpy as np

        n = int(sum(nrows))
        assert self.packed is not None
        raw = np.frombuffer(data, dtype=np.uint8).reshape(n, -1)
        stacked, offset = [], 0
        for dt, k in self.packed:
            width = dt.itemsize * k
            stacked.append(np.ascontiguousarray(raw[:, offset : offset + width]).view(dt).reshape(n, k))
            offset += width
        return self.table_arrays(ids, ts, lat, status, nrows, stacked, context)

    def table_arrays(
        self, ids: Sequence[str], ts: Any, lat: Any, status: Any, nrows: Any, stacked: list, context: Sequence[str]
    ) -> Any:
        """An Arrow table from whole batches: per-request ids, times, latencies, statuses and row counts, and
        per tensor of the packed form (inputs then outputs) one ``(rows, values per row)`` array of its dtype."""
        import numpy as np
        import pyarrow as pa

        counts = np.asarray(nrows, dtype=np.int64)
        n = int(counts.sum())
        rows = (
            np.zeros(n, dtype=np.int32)
            if n == len(ids)
            else (np.arange(n, dtype=np.int32) - np.repeat(np.cumsum(counts) - counts, counts).astype(np.int32))
        )
        arrays = self._meta_arrays([None, None, ids, ts, lat, status], counts, n, context, rows)
        for c in self.columns:
            s = stacked[self._slot[(c.role, c.index)]]
            arrays.append(self._column(s if c.width > 0 or c.feature is not None else s.reshape(n), c, n))
        return pa.Table.from_arrays(arrays, schema=self.arrow)

    def _meta_arrays(self, fields: Sequence[Any], counts: Any, n: int, context: Sequence[str], rows: Any) -> list:
        """Metadata columns from the transposed items (``fields[i]``: field ``i`` of every item)."""
        import numpy as np
        import pyarrow as pa

        ids = pa.array(fields[2], pa.string())
        ts = (np.array(fields[3], dtype=np.float64) * 1_000_000).astype(np.int64)
        lat = np.array(fields[4], dtype=np.float64)
        status = np.array(fields[5], dtype=np.int16)
        if len(counts) != n:
            idx = pa.array(np.repeat(np.arange(len(counts)), counts))
            ids = ids.take(idx)
            ts, lat, status = np.repeat(ts, counts), np.repeat(lat, counts), np.repeat(status, counts)
        dep, cluster, pod = context
        return [
            ids,
            pa.array(rows, pa.int32()),
            pa.array(ts, pa.timestamp("us", tz="UTC")),
            pa.array(lat),
            pa.array(status),
            _const(dep, n),
            _const(cluster, n),
            _const(pod, n),
        ]

    def _column(self, stacked: Any, c: Column, n: int) -> Any:
        import numpy as np
        import pyarrow as pa

        typ = self.arrow_type(c)
        if stacked is None:
            return pa.nulls(n, typ)
        if c.feature is not None:
            return pa.array(np.ascontiguousarray(stacked[:, c.feature]), typ)
        if c.width == 0:
            flat = stacked.reshape(n)
            return pa.array(flat.tolist() if c.datatype == "BYTES" else flat, typ)
        values = stacked.reshape(n, -1)
        if c.width < 0:
            return pa.array(list(values), typ)
        inner = typ.value_type
        flat = values.reshape(-1)
        return pa.FixedSizeListArray.from_arrays(
            pa.array(flat.tolist() if c.datatype == "BYTES" else flat, inner), c.width
        )


def _stack(arrays: list, c: Column, counts: Any) -> Any:
    """Concatenate one tensor of many requests along the batch axis, cast to the column's dtype."""
    import numpy as np

    if any(a is None for a in arrays):
        if all(a is None for a in arrays):
            return None
        raise ValueError(f"tensor '{c.tensor}' is missing from some requests")
    want = np.dtype(_NUMPY[c.datatype])
    total = int(counts.sum())
    if c.datatype != "BYTES" and len(arrays) > 1:  # the common case: one concatenation
        try:
            stacked = np.concatenate(arrays, axis=0)
        except ValueError:
            stacked = None
        if stacked is not None and stacked.ndim >= 1 and stacked.shape[0] == total:
            return stacked.astype(want, copy=False)
    out = []
    for a, k in zip(arrays, counts):
        a = np.asarray(a)
        if a.ndim == 0 or a.shape[0] != k:
            a = a.reshape(int(k), -1)
        out.append(a)
    stacked = out[0] if len(out) == 1 else np.concatenate(out, axis=0)
    if c.datatype == "BYTES":
        return np.array(
            [x if isinstance(x, bytes) else str(x).encode() for x in stacked.reshape(-1)], dtype=object
        ).reshape(stacked.shape)
    return stacked.astype(want, copy=False)


def _const(value: str, n: int) -> Any:
    import pyarrow as pa

    return pa.repeat(pa.scalar(value, pa.string()), n)
