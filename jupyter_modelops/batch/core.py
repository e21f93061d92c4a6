"""Score a Parquet source with a registered version, partition by partition.

A *partition* is a run of row groups of one source file (files are taken in
sorted order; a file with more than ``partition_rows`` rows is cut at row-group
boundaries), so the same source always gives the same partitions. Partition
``i`` is written as ``part-0000i.parquet`` under the output folder: first to
``.part-0000i.parquet.tmp``, renamed when complete. A rerun skips every
partition whose file exists. ``_batch.json`` beside them names the version and
the source's files (path, size, row groups): a rerun into the same folder with
another version or a changed source is refused instead of mixing predictions.

The model runs in the model server's runtimes (:mod:`jupyter_modelops.serving.runtimes`):
ONNX when the version has an export, else TorchScript, else the native model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from .._optional import require
from ..exceptions import ValidationError

__all__ = [
    "Partition",
    "ScoringPlan",
    "plan",
    "score_partition",
    "open_model",
    "model_files",
    "check_trust",
    "MANIFEST",
    "VERSION_COLUMN",
]

MANIFEST = "_batch.json"
VERSION_COLUMN = "model_version"
PART_RE = re.compile(r"^part-(\d{5,})\.parquet$")
DEFAULT_PARTITION_ROWS = 1_000_000
DEFAULT_BATCH_SIZE = 65_536
_ID_RE = re.compile(r"(^|_)(id|key|uuid)$", re.IGNORECASE)


@dataclass(frozen=True)
class Partition:
    """One unit of work: row groups ``row_groups`` of file ``path`` (relative to the source root)."""

    index: int
    path: str
    row_groups: tuple[int, ...]
    rows: int

    def to_dict(self) -> dict:
        return {"index": self.index, "path": self.path, "row_groups": list(self.row_groups), "rows": self.rows}


@dataclass
class ScoringPlan:
    """Everything a worker needs to score partitions: where, what with, and how the columns map."""

    ref: str
    source: str
    output: str
    partitions: list[Partition]
    id_columns: list[str]
    features: list[str]
    batch_size: int

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)


# --------------------------------------------------------------------------- file systems
def filesystem(path: str) -> tuple[Any, str]:
    """``(pyarrow FileSystem, path inside it)``: local paths, or URLs pyarrow knows (``s3://``, ``gs://``)."""
    pafs = require("pyarrow.fs", purpose="read and write Parquet", extra="parquet")
    text = os.fspath(path)
    if "://" in text and not text.startswith("file://"):
        try:
            return pafs.FileSystem.from_uri(text)
        except Exception as exc:  # pyarrow raises ArrowInvalid / ArrowNotImplementedError
            raise ValidationError(
                f"The location {text!r} cannot be opened ({exc}).",
                hint="Pass a local path, or an s3:// or gs:// URL pyarrow can open.",
            ) from None
    return pafs.LocalFileSystem(), str(Path(text.removeprefix("file://")).absolute())


def _kind(fs: Any, path: str) -> str:
    import pyarrow.fs as pafs

    t = fs.get_file_info(path).type
    return {pafs.FileType.File: "file", pafs.FileType.Directory: "dir"}.get(t, "missing")


# --------------------------------------------------------------------------- partitions
def _source_files(fs: Any, root: str, source: str) -> list[str]:
    import pyarrow.fs as pafs

    kind = _kind(fs, root)
    if kind == "missing":
        raise ValidationError(
            f"The source {source!r} does not exist; expected a Parquet file, a folder of Parquet "
            "files or a partitioned dataset.",
            hint="Check the path, or write the data first.",
        )
    if kind == "file":
        return [root]
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    files = sorted(
        i.path
        for i in infos
        if i.type == pafs.FileType.File and not _hidden(i.path, root) and i.path.endswith((".parquet", ".pq", ".parq"))
    )
    if not files:
        raise ValidationError(
            f"The source folder {source!r} holds no Parquet files (*.parquet); expected a Parquet "
            "file, a folder of them or a partitioned dataset."
        )
    return files


def _hidden(path: str, root: str) -> bool:
    rel = path[len(root) :].lstrip("/")
    return any(part.startswith((".", "_")) for part in rel.split("/"))


def _partitions(fs: Any, root: str, files: list[str], partition_rows: int) -> tuple[list[Partition], list]:
    import pyarrow.parquet as pq

    parts: list[Partition] = []
    fingerprint = []
    for path in files:
        try:
            with fs.open_input_file(path) as fh:
                meta = pq.ParquetFile(fh).metadata
        except Exception as exc:
            raise ValidationError(
                f"{path} is not a readable Parquet file ({type(exc).__name__}: {exc}).",
                hint="Remove it from the source folder or rewrite it.",
            ) from None
        rel = path[len(root) :].lstrip("/") if path != root else Path(path).name
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        fingerprint.append([rel, fs.get_file_info(path).size, sizes])
        run: list[int] = []
        rows = 0
        for i, n in enumerate(sizes):
            if run and rows + n > partition_rows:
                parts.append(Partition(len(parts), rel, tuple(run), rows))
                run, rows = [], 0
            run.append(i)
            rows += n
        if run or not sizes:
            parts.append(Partition(len(parts), rel, tuple(run), rows))
    return parts, fingerprint


def _signature_features(mv: Any) -> list[str]:
    sig = mv.signature or {}
    names = list(sig.get("feature_names") or [])
    if not names:
        names = [c["name"] for c in sig.get("columns") or [] if isinstance(c, dict) and "name" in c]
    if not names:
        raise ValidationError(
            f"{mv.ref} has no input signature naming its feature columns, so the source's columns "
            "cannot be matched to the model.",
            hint="Snapshot the model again with data=... (a DataFrame of its inputs).",
        )
    return [str(n) for n in names]


def _check_schema(schema: Any, mv: Any, features: list[str], source: str) -> None:
    import pyarrow as pa

    missing = [f for f in features if f not in schema.names]
    if missing:
        raise ValidationError(
            f"The source {source!r} lacks {len(missing)} of the feature columns that {mv.ref} was trained on "
            f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}); it has: "
            f"{', '.join(schema.names[:10])}{', ...' if len(schema.names) > 10 else ''}.",
            hint="Score data with the model's columns, or pick the version trained on these columns.",
        )
    declared = {
        c.get("name"): c.get("datatype", "") for c in (mv.signature or {}).get("columns") or [] if isinstance(c, dict)
    }
    for f in features:
        t = schema.field(f).type
        numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t)
        want = declared.get(f, "FP64")
        if want != "BYTES" and not numeric:
            raise ValidationError(
                f"Column '{f}' of the source {source!r} is {t}, but {mv.ref} expects numbers ({want}) there.",
                hint="Convert the column to numbers, as in the training data.",
            )


def _id_columns(schema: Any, id_columns: Sequence[str] | str | None, features: list[str], source: str) -> list[str]:
    if isinstance(id_columns, str):
        id_columns = [c.strip() for c in id_columns.split(",") if c.strip()]
    if id_columns is not None:
        cols = [str(c) for c in id_columns]
        missing = [c for c in cols if c not in schema.names]
        if not cols or missing:
            raise ValidationError(
                f"id_columns={list(cols)!r} names columns the source {source!r} lacks "
                f"({', '.join(missing) or 'none given'}); it has: {', '.join(schema.names[:10])}."
            )
        return cols
    found = [n for n in schema.names if n not in features and _ID_RE.search(n)]
    if not found:
        raise ValidationError(
            f"The source {source!r} has no id column (a column named id, *_id, key or uuid besides the features), "
            "so predictions could not be joined back to their rows.",
            hint="Pass id_columns=['customer_id'] naming the column(s) that identify a row.",
        )
    return found


# --------------------------------------------------------------------------- trust and model
def check_trust(ref: Any, *, trusted: bool = False) -> Any:
    """The version of ``ref``, after the same trust checks as :func:`jupyter_modelops.load` (same sentences).

    Raises
    ------
    ValidationError
        When the version came from outside and loading it would run code from its files, or its skops file
        asks for types nobody trusted.
    """
    from ..registry import api as reg
    from ..registry.flavors import skops_untrusted

    store = reg.default_store()
    mv = reg.get(ref)
    roles = mv.meta.get("flavor_roles") or ["model"]
    if not (trusted or mv.trusted):
        reg._refuse_untrusted_code(mv, roles)
    files = reg._files(store, mv, roles)
    for role, types in reg._trusted_types(store, mv, trusted=trusted).items():
        if role in files:
            unknown = sorted(set(skops_untrusted(files[role])) - set(types))
            if unknown:
                how = "came from outside this registry" if not mv.trusted else "was trusted for other types"
                raise ValidationError(
                    f"{mv.ref} {how} ({mv.origin}) and its skops file asks for types skops does not trust by "
                    f"default ({', '.join(unknown)}), so it was not loaded.",
                    hint=f"If you trust where it came from, run trust('{mv.ref}') (or pass trusted=True) and load "
                    "it again.",
                )
    return mv


def model_files(ref: str, *, trusted: bool = False) -> dict[str, bytes]:
    """The model directory of a version as ``{file name: bytes}`` (to ship it to workers)."""
    import warnings

    from ..registry import api as reg

    with tempfile.TemporaryDirectory(prefix="modelops-batch-") as tmp:
        with warnings.catch_warnings():  # check_trust already decided; materialize's warning would repeat it
            warnings.simplefilter("ignore")
            d = reg.materialize(ref, tmp, trusted=trusted)
        return {p.name: p.read_bytes() for p in sorted(Path(d).iterdir()) if p.is_file()}


_MODELS: dict[str, Any] = {}


def open_model(files: dict[str, bytes] | str | os.PathLike, *, runtime: str | None = None, threads: int = 1) -> Any:
    """A serving runtime for a model directory (a path, or its files as bytes; cached per process)."""
    from ..serving.modeldir import read_model_dir
    from ..serving.runtimes import RuntimeSettings, choose_runtime

    if isinstance(files, dict):
        h = hashlib.sha256()
        for name in sorted(files):
            h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
        key = f"{h.hexdigest()}:{runtime}:{threads}"
        if key not in _MODELS:
            bad = [n for n in files if not isinstance(n, str) or "/" in n or "\\" in n or n in ("", ".", "..")]
            if bad:
                raise ValidationError(f"A model file name {bad[0]!r} is not a plain file name; nothing was written.")
            # every runtime reads its file when it opens, so the folder is removed right after
            with tempfile.TemporaryDirectory(prefix="modelops-batch-model-") as tmp:
                for name, data in files.items():
                    (Path(tmp) / name).write_bytes(data)
                _MODELS[key] = choose_runtime(
                    read_model_dir(tmp), prefer=runtime, settings=RuntimeSettings(threads=threads)
                )
        return _MODELS[key]
    return choose_runtime(read_model_dir(os.fspath(files)), prefer=runtime, settings=RuntimeSettings(threads=threads))


# --------------------------------------------------------------------------- the plan
def plan(
    ref: Any,
    source: str | os.PathLike,
    output: str | os.PathLike,
    *,
    id_columns: Sequence[str] | str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    trusted: bool = False,
    write: bool = True,
) -> ScoringPlan:
    """Check the inputs and cut the source into partitions; writes the output's ``_batch.json`` unless
    ``write=False`` (a dry run), which still refuses an output folder of another run."""
    for name, value in (("batch_size", batch_size), ("partition_rows", partition_rows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValidationError(f"{name} is {value!r}; expected a positive integer.")
    for name, where in (("source", source), ("output", output)):
        if not isinstance(where, (str, os.PathLike)) or not os.fspath(where).strip() or "\x00" in os.fspath(where):
            raise ValidationError(f"{name} must be a path or URL of Parquet data; got {where!r}.")
    source, output = os.fspath(source), os.fspath(output)
    mv = check_trust(ref, trusted=trusted)
    features = _signature_features(mv)
    fs, root = filesystem(source)
    files = _source_files(fs, root, source)
    import pyarrow.parquet as pq

    with fs.open_input_file(files[0]) as fh:
        schema = pq.ParquetFile(fh).schema_arrow
    _check_schema(schema, mv, features, source)
    ids = _id_columns(schema, id_columns, features, source)
    parts, fingerprint = _partitions(fs, root, files, partition_rows)
    p = ScoringPlan(mv.ref, source, output, parts, ids, features, batch_size)
    _write_manifest(p, fingerprint, partition_rows, write=write)
    return p


def _write_manifest(p: ScoringPlan, fingerprint: list, partition_rows: int, *, write: bool = True) -> None:
    ofs, oroot = filesystem(p.output)
    kind = _kind(ofs, oroot)
    if kind == "file":
        raise ValidationError(f"The output {p.output!r} is a file; expected a folder for the predictions.")
    doc = {
        "schema": 1,
        "ref": p.ref,
        "source_files": fingerprint,
        "partition_rows": partition_rows,
        "partitions": len(p.partitions),
        "id_columns": p.id_columns,
    }
    path = f"{oroot}/{MANIFEST}"
    if kind == "dir" and _kind(ofs, path) == "file":
        with ofs.open_input_stream(path) as fh:
            try:
                old = json.loads(fh.read().decode("utf-8"))
            except ValueError:
                old = {}
        if old.get("ref") != p.ref:
            raise ValidationError(
                f"The output {p.output!r} holds predictions of {old.get('ref', 'another run')}, not {p.ref}; "
                "partitions of two versions were not mixed.",
                hint="Write to a new folder, or delete that one first.",
            )
        if old.get("source_files") != fingerprint or old.get("partition_rows") != partition_rows:
            raise ValidationError(
                f"The output {p.output!r} holds predictions for another source or partitioning than {p.source!r} "
                "(its files, sizes or row groups changed), so its finished partitions cannot be reused.",
                hint="Write to a new folder, or delete that one first.",
            )
        if old.get("id_columns") != p.id_columns:
            raise ValidationError(
                f"The output {p.output!r} was written with id columns {old.get('id_columns')}, not {p.id_columns}.",
                hint="Write to a new folder, or pass the same id_columns.",
            )
        return
    if not write:
        return
    ofs.create_dir(oroot, recursive=True)
    tmp = f"{oroot}/.{MANIFEST}.{os.getpid()}.tmp"
    with ofs.open_output_stream(tmp) as fh:
        fh.write(json.dumps(doc, indent=1).encode("utf-8"))
    ofs.move(tmp, path)


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def finished(p: ScoringPlan) -> set[int]:
    """Indices of partitions whose output file exists (complete: files are renamed only when whole)."""
    import pyarrow.fs as pafs

    ofs, oroot = filesystem(p.output)
    infos = ofs.get_file_info(pafs.FileSelector(oroot, allow_not_found=True))
    done = set()
    for i in infos:
        m = PART_RE.match(i.base_name)
        if m and i.type == pafs.FileType.File:
            done.add(int(m.group(1)))
    return done


# --------------------------------------------------------------------------- scoring
def _feed(batch: Any, model: Any, features: list[str]) -> dict[str, Any]:
    import numpy as np

    from ..serving.modeldir import V2_TO_NUMPY

    if len(model.inputs) == 1:
        spec = model.inputs[0]
        dtype = np.dtype(V2_TO_NUMPY.get(spec.datatype, "float64"))
        cols = [batch.column(f).to_numpy(zero_copy_only=False) for f in features]
        X = np.empty((batch.num_rows, len(cols)), dtype=dtype)
        for j, c in enumerate(cols):
            X[:, j] = c
        return {spec.name: X}
    out = {}
    for spec in model.inputs:
        if spec.name not in batch.schema.names:
            raise ValidationError(f"The model takes an input '{spec.name}' that the source has no column for.")
        col = batch.column(spec.name).to_numpy(zero_copy_only=False)
        out[spec.name] = col.astype(V2_TO_NUMPY.get(spec.datatype, "float64"), copy=False)
    return out


def _columns(results: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    cols = {}
    for name, arr in results.items():
        arr = np.asarray(arr)
        if arr.ndim == 1:
            cols[name] = arr
        elif arr.ndim == 2 and arr.shape[1] == 1:
            cols[name] = arr[:, 0]
        else:
            flat = arr.reshape(len(arr), -1)
            for j in range(flat.shape[1]):
                cols[f"{name}_{j}"] = flat[:, j]
    return cols


def score_partition(p: ScoringPlan, part: Partition, model: Any, *, on_batch: Any = None) -> int:
    """Score one partition into ``part-NNNNN.parquet`` (written under a temporary name, then renamed).

    Returns the number of rows written.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    sfs, sroot = filesystem(p.source)
    path = sroot if _kind(sfs, sroot) == "file" else f"{sroot}/{part.path}"
    ofs, oroot = filesystem(p.output)
    final = f"{oroot}/{part_name(part.index)}"
    tmp = f"{oroot}/.{part_name(part.index)}.{os.getpid()}.tmp"
    wanted = list(dict.fromkeys(p.id_columns + p.features))
    rows = 0
    writer = None
    try:
        with sfs.open_input_file(path) as fh:
            pf = pq.ParquetFile(fh)
            batches = pf.iter_batches(batch_size=p.batch_size, row_groups=list(part.row_groups), columns=wanted)
            with ofs.open_output_stream(tmp) as out:
                for batch in batches:
                    cols = {c: batch.column(c) for c in p.id_columns}
                    cols.update(_columns(model.predict(_feed(batch, model, p.features))))
                    cols[VERSION_COLUMN] = pa.DictionaryArray.from_arrays(
                        pa.array([0] * batch.num_rows, pa.int32()), pa.array([p.ref])
                    )
                    table = pa.table(cols)
                    if writer is None:
                        writer = pq.ParquetWriter(out, table.schema, compression="zstd")
                    writer.write_table(table)
                    rows += batch.num_rows
                    if on_batch is not None:
                        on_batch(batch.num_rows)
                if writer is None:  # an empty partition still gets its (empty) file
                    empty = pa.table({c: pa.array([], pf.schema_arrow.field(c).type) for c in p.id_columns})
                    writer = pq.ParquetWriter(out, empty.schema)
                writer.close()
                writer = None
    except BaseException:
        if writer is not None:
            try:
                writer.close()
            except Exception:  # pragma: no cover - the stream is already broken
                pass
        try:
            ofs.delete_file(tmp)
        except Exception:  # pragma: no cover - nothing was created
            pass
        raise
    ofs.move(tmp, final)
    return rows


def run_partitions(p: ScoringPlan, model: Any, indices: Iterable[int], *, bar: Any = None) -> tuple[int, float]:
    """Score the given partitions in this process; ``(rows, seconds)``."""
    t0 = time.perf_counter()
    rows = 0
    for i in indices:
        rows += score_partition(p, p.partitions[i], model, on_batch=None if bar is None else bar.update)
    return rows, time.perf_counter() - t0
