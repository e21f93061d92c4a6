"""Read captures back: :func:`captures` (a DataFrame, or a summary) and :func:`log_labels`."""

from __future__ import annotations

import datetime as _dt
import re
import time
from typing import Any, Sequence

from .._html import Result, fmt, page, table
from ..exceptions import ModelOpsError, ValidationError
from .store import CaptureStore, check_part, hour_of

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: Any, *, arg: str = "since") -> float:
    """Seconds of a duration such as ``"90s"``, ``"15m"``, ``"24h"``, ``"30d"``, ``"2w"``."""
    if isinstance(text, _dt.timedelta):
        return text.total_seconds()
    m = _DURATION.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValidationError(f"{arg} is {text!r}; expected a duration such as '15m', '24h' or '30d'.")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_time(value: Any, *, arg: str, now: float | None = None) -> float | None:
    """Epoch seconds of ``value``: None, a duration before now (``"24h"``), a datetime or an ISO 8601 string."""
    now = time.time() if now is None else now
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)).timestamp()
    if isinstance(value, (_dt.timedelta,)) or (isinstance(value, str) and _DURATION.match(value)):
        return now - parse_duration(value, arg=arg)
    if isinstance(value, str):
        try:
            d = _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (d if d.tzinfo else d.replace(tzinfo=_dt.timezone.utc)).timestamp()
    raise ValidationError(
        f"{arg} is {value!r}; expected a duration before now ('24h', '7d'), a datetime or an "
        "ISO 8601 time such as '2026-12-01T08:00:00Z'."
    )


def resolve_target(ref: Any, store: Any = None) -> tuple[str, str | None, CaptureStore]:
    """``(model, version or None, store)`` of a model reference or a local deployment."""
    from ..serving.local import LocalDeployment, _root

    dep = ref if isinstance(ref, LocalDeployment) else None
    if dep is None and isinstance(ref, str) and re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", ref):
        d = _root() / ref
        if (d / "state.json").is_file():
            dep = LocalDeployment(d)
    if dep is not None:
        state = dep.state
        location = store if store is not None else state.get("capture")
        return (
            check_part(state.get("model_name", dep.name), "model name"),
            str(state.get("active_version") or state.get("version") or "") or None,
            CaptureStore(location),
        )
    from ..registry._refs import parse_ref

    r = parse_ref(ref)
    version = str(r.version) if r.version is not None else None
    if r.alias is not None:
        from .. import registry

        version = str(registry.get(ref).version)
    return check_part(r.name, "model name"), version, CaptureStore(store)


def _window_filter(t0: float | None, t1: float) -> Any:
    """The Arrow filter of a window: its hour partitions first (pruned without opening files), then ``ts``."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    flt = ds.field("hour") <= hour_of(t1)
    flt &= ds.field("ts") < pa.scalar(int(t1 * 1e6), pa.timestamp("us", tz="UTC"))
    if t0 is not None:
        flt &= ds.field("hour") >= hour_of(t0)
        flt &= ds.field("ts") >= pa.scalar(int(t0 * 1e6), pa.timestamp("us", tz="UTC"))
    return flt


def _window_dataset(
    cs: CaptureStore, model: str, version: str | None, t0: float | None, t1: float, columns: Sequence[str] | None
) -> Any:
    """A lazy ``pyarrow.dataset.Dataset`` of the window: the hour partitions of the window, the asked columns."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    part = ds.partitioning(pa.schema([("version", pa.string()), ("hour", pa.string())]), flavor="hive")
    root = cs.model_dir(model)
    if not cs.exists(root):
        raise ValidationError(f"No captures of {model} in {cs.url}; capture is on for deployments made with capture=.")
    try:
        dset = ds.dataset(root, format="parquet", filesystem=cs.fs, partitioning=part)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ModelOpsError(f"The captures of {model} in {cs.url} could not be opened: {exc}.") from exc
    flt = _window_filter(t0, t1)
    if version is not None:
        flt &= ds.field("version") == version
    if columns is not None:
        missing = [c for c in columns if c not in dset.schema.names]
        if missing:
            raise ValidationError(
                f"columns names {', '.join(map(repr, missing))}, which the captures of {model} do not have; "
                f"they have {', '.join(dset.schema.names)}."
            )
        keep = list(dict.fromkeys(["request_id", "row", "ts", "version", "hour", *columns]))
        dset = dset.replace_schema(pa.schema([dset.schema.field(c) for c in keep]))
    frags = list(dset.get_fragments(filter=flt))
    if not frags:
        raise ValidationError(
            f"The captures of {model}{':' + version if version else ''} hold no rows in this window; "
            "widen since= or check the model reference."
        )
    return ds.FileSystemDataset(frags, dset.schema, dset.format, dset.filesystem).filter(flt)


def _scan(
    cs: CaptureStore, model: str, version: str | None, t0: float | None, t1: float, columns: Sequence[str] | None
) -> tuple[Any, list[dict]]:
    """Arrow table of the window (only its hour partitions, only the needed columns) and file metadata."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    part = ds.partitioning(pa.schema([("hour", pa.string())]), flavor="hive")
    flt = _window_filter(t0, t1)
    tables, metas = [], []
    for entry in cs.listdir(cs.model_dir(model)):
        name = entry["name"]
        if entry["type"] != "directory" or not name.startswith("version="):
            continue
        v = name[len("version=") :]
        if version is not None and v != version:
            continue
        dset = ds.dataset(entry["path"], format="parquet", filesystem=cs.fs, partitioning=part)
        if not dset.files:
            continue
        cols = None
        if columns is not None:
            have = set(dset.schema.names)
            missing = [c for c in columns if c not in have and c not in ("version", "y_true", "labelled_at")]
            if missing:
                raise ValidationError(
                    f"columns names {', '.join(map(repr, missing))}, which the captures of "
                    f"{model}:{v} do not have; they have {', '.join(dset.schema.names)}."
                )
            cols = list(dict.fromkeys(["request_id", "row", "ts", *[c for c in columns if c in have]]))
        try:
            frags = list(dset.get_fragments(filter=flt))
            for f in frags:
                md = f.physical_schema.metadata or {}
                metas.append({k.decode(): v2.decode() for k, v2 in md.items() if k.startswith(b"modelops.")})
            if not frags:
                continue
            t = ds.FileSystemDataset(frags, dset.schema, dset.format, dset.filesystem).to_table(
                columns=cols, filter=flt
            )
        except (pa.ArrowInvalid, OSError) as exc:
            raise ModelOpsError(
                f"The captures of {model}:{v} in {cs.url} could not be read: {exc}.",
                hint="A file in the window is not valid Parquet; move it away.",
            ) from exc
        t = t.append_column("version", pa.array([v] * t.num_rows, pa.string()))
        tables.append(t)
    if not tables:
        return None, metas
    return pa.concat_tables(tables, promote_options="permissive"), metas


def captures(
    ref: Any,
    since: Any = "24h",
    until: Any = None,
    columns: Sequence[str] | None = None,
    *,
    store: Any = None,
    labels: bool = True,
    summary: bool = False,
    lazy: bool = False,
) -> Any:
    """The inferences a deployed model saw, as a DataFrame (or a :class:`CaptureSummary`).

    Only the hour partitions of the window and the asked columns are read
    (a pyarrow dataset scan). Labels logged with :func:`log_labels` are joined
    by request id: ``y_true`` and ``labelled_at`` (the latest label wins).

    Parameters
    ----------
    ref : str, ModelVersion or LocalDeployment
        ``"churn:3"`` (that version), ``"churn"`` (every version), ``"churn@prod"``,
        or a local deployment (its name or object; its capture store is used).
    since : str, datetime or None, default="24h"
        Start of the window: a duration before now (``"15m"``, ``"24h"``, ``"30d"``),
        a datetime or an ISO 8601 time; None for everything.
    until : str, datetime or None, optional
        End of the window (exclusive); default now.
    columns : list of str, optional
        Input/output columns to read (``request_id``, ``row`` and ``ts`` always come).
    store : str, optional
        The capture store (path or URL); default ``MODELOPS_HOME/captures``.
    labels : bool, default=True
        Join the logged labels.
    summary : bool, default=False
        Return a :class:`CaptureSummary` (rows, time span, sampling, drops,
        labelled share, latency and errors) whose ``frame`` is the DataFrame.
    lazy : bool, default=False
        Return a ``pyarrow.dataset.Dataset`` over the window instead of reading it: nothing is
        read until it is scanned, so :func:`~jupyter_modelops.profile`, :func:`~jupyter_modelops.drift`,
        :func:`~jupyter_modelops.evaluate_predictions` (``data=``) and ``dask.dataframe`` read months of
        traffic batch by batch. It has the captured columns, ``version`` and ``hour``; labels are not joined
        (read them with ``captures(..., columns=[...])`` on a shorter window, or join by
        ``request_id`` and ``row``).

    Returns
    -------
    pandas.DataFrame, CaptureSummary or pyarrow.dataset.Dataset

    Examples
    --------
    >>> df = captures("churn:3", since="24h")             # doctest: +SKIP
    >>> captures("churn", since="7d", summary=True)       # doctest: +SKIP
    >>> profile(captures("churn:3", since="30d", lazy=True))  # doctest: +SKIP
    """
    import pandas as pd

    model, version, cs = resolve_target(ref, store)
    now = time.time()
    t1 = parse_time(until, arg="until", now=now)
    t1 = now + 1e-3 if t1 is None else t1
    t0 = parse_time(since, arg="since", now=now)
    if t0 is not None and t0 >= t1:
        raise ValidationError(f"The window is empty: since ({since!r}) is not before until ({until!r}).")
    if columns is not None and (isinstance(columns, str) or not all(isinstance(c, str) for c in columns)):
        raise ValidationError(f"columns must be a list of column names; got {columns!r}.")
    if lazy:
        if summary:
            raise ValidationError("summary=True and lazy=True exclude each other; a summary reads the window.")
        return _window_dataset(cs, model, version, t0, t1, columns)
    t, metas = _scan(cs, model, version, t0, t1, columns)
    if t is None:
        df = pd.DataFrame(
            {
                "request_id": pd.Series(dtype=str),
                "row": pd.Series(dtype="int32"),
                "ts": pd.Series(dtype="datetime64[us, UTC]"),
                "version": pd.Series(dtype=str),
            }
        )
    else:
        df = t.to_pandas()
        df = df.sort_values(["ts", "request_id", "row"], kind="stable").reset_index(drop=True)
    if labels:
        from .labels import read_labels

        lab = read_labels(cs, model)
        df = (
            df.merge(lab, on=["request_id", "row"], how="left")
            if len(lab)
            else df.assign(y_true=None, labelled_at=pd.NaT)
        )
    if not summary:
        return df
    return CaptureSummary(model, version, df, metas, since=t0, until=t1, store=cs.url)


class CaptureSummary(Result):
    """What a model's captures hold in a window: rows, span, sampling, drops, labels, latency, errors.

    Attributes
    ----------
    frame : pandas.DataFrame
        The captured rows (see :func:`captures`).
    rows, requests : int
        Captured rows and distinct requests.
    first, last : str or None
        Time of the first and last captured row (ISO 8601, UTC).
    sampling : list of float
        Capture rates of the writers of these rows.
    dropped : int
        Rows the writers of these files could not capture (queue full, store errors).
    labelled : int
        Rows with a label; ``labelled_share`` is ``labelled / rows``.
    """

    def __init__(
        self,
        model: str,
        version: str | None,
        frame: Any,
        metas: list[dict],
        *,
        since: float | None,
        until: float,
        store: str,
    ) -> None:
        self.model, self.version, self.frame, self.store = model, version, frame, store
        self.since, self.until = since, until
        self.rows = int(len(frame))
        self.requests = int(frame["request_id"].nunique()) if self.rows else 0
        self.first = frame["ts"].min().isoformat() if self.rows else None
        self.last = frame["ts"].max().isoformat() if self.rows else None
        self.sampling = sorted({float(m["modelops.capture_rate"]) for m in metas if "modelops.capture_rate" in m})
        drops: dict[str, int] = {}
        for m in metas:
            w = m.get("modelops.writer", "")
            drops[w] = max(drops.get(w, 0), int(m.get("modelops.dropped_rows", 0)))
        self.dropped = sum(drops.values())
        self.labelled = int(frame["y_true"].notna().sum()) if "y_true" in frame and self.rows else 0
        self.labelled_share = self.labelled / self.rows if self.rows else 0.0
        self.latency_ms: dict[str, float] = {}
        self.error_rate = 0.0
        self.statuses: dict[str, int] = {}
        if self.rows and "latency_ms" in frame and "status" in frame:
            per_req = frame.drop_duplicates("request_id")
            q = per_req["latency_ms"].quantile([0.5, 0.95, 0.99])
            self.latency_ms = {"p50": float(q.iloc[0]), "p95": float(q.iloc[1]), "p99": float(q.iloc[2])}
            self.statuses = {str(k): int(v) for k, v in per_req["status"].value_counts().sort_index().items()}
            self.error_rate = float((per_req["status"] != 200).mean())

    def by_hour(self) -> Any:
        """Traffic per UTC hour: requests, rows, errors, error rate and latency percentiles (ms)."""
        import pandas as pd

        cols = ["hour", "requests", "rows", "errors", "error_rate", "p50_ms", "p95_ms", "p99_ms"]
        f = self.frame
        if not self.rows or "latency_ms" not in f or "status" not in f:
            return pd.DataFrame(columns=cols)
        per_req = f.drop_duplicates("request_id").assign(hour=lambda d: d["ts"].dt.floor("h"))
        rows = f.assign(hour=f["ts"].dt.floor("h")).groupby("hour").size()
        g = per_req.groupby("hour")
        errors = g["status"].apply(lambda s: int((s != 200).sum()))
        out = pd.DataFrame(
            {
                "requests": g.size(),
                "rows": rows,
                "errors": errors,
                "p50_ms": g["latency_ms"].quantile(0.5),
                "p95_ms": g["latency_ms"].quantile(0.95),
                "p99_ms": g["latency_ms"].quantile(0.99),
            }
        )
        out["error_rate"] = out["errors"] / out["requests"]
        return out.reset_index()[cols]

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "version": self.version,
            "store": self.store,
            "rows": self.rows,
            "requests": self.requests,
            "first": self.first,
            "last": self.last,
            "sampling": self.sampling,
            "dropped": self.dropped,
            "labelled": self.labelled,
            "labelled_share": self.labelled_share,
            "latency_ms": self.latency_ms,
            "error_rate": self.error_rate,
            "statuses": self.statuses,
        }

    def _summary(self) -> str:
        ref = f"{self.model}:{self.version}" if self.version else self.model
        if not self.rows:
            return f"CaptureSummary {ref}: no captured rows in the window"
        rate = "/".join(f"{r:g}" for r in self.sampling) or "?"
        return (
            f"CaptureSummary {ref}: {self.rows:,} rows ({self.requests:,} requests) from {self.first} to "
            f"{self.last}; sampling {rate}; {self.dropped:,} dropped; {self.labelled_share:.1%} labelled"
        )

    def to_text(self) -> str:
        lines = [self._summary()]
        if self.latency_ms:
            lines.append(
                "  latency ms: "
                + ", ".join(f"{k} {v:.2f}" for k, v in self.latency_ms.items())
                + f"; error rate {self.error_rate:.2%}"
            )
        lines.append(f"  store: {self.store}")
        return "\n".join(lines)

    def to_html(self) -> str:
        rows = [
            (
                k,
                fmt(v)
                if not isinstance(v, (dict, list))
                else ", ".join(f"{a}: {fmt(b)}" for a, b in (v.items() if isinstance(v, dict) else enumerate(v))),
            )
            for k, v in self.to_dict().items()
        ]
        return page(f"Captures of {self.model}", table(rows))


def log_labels(
    ref_or_deployment: Any,
    ids: Sequence[str],
    labels: Sequence[Any],
    *,
    rows: Sequence[int] | None = None,
    store: Any = None,
) -> Any:
    """Record ground truth for captured inferences; joined to them by request id when read.

    Parameters
    ----------
    ref_or_deployment : str, ModelVersion or LocalDeployment
        The model (``"churn"``, ``"churn:3"``) or a local deployment whose captures these label.
    ids : list of str
        Request ids: the ``id`` of each inference response (or its ``X-Request-Id`` header).
    labels : list of str or numbers
        One true label per id.
    rows : list of int, optional
        The row within each request (for requests of several rows); default 0.
    store : str, optional
        The capture store; default the deployment's, else ``MODELOPS_HOME/captures``.

    Returns
    -------
    LabelsResult
        Labels written, and ids that match no captured row yet (stored all the same).

    Examples
    --------
    >>> log_labels("churn", ["3f2a...", "9b1c..."], [1, 0])   # doctest: +SKIP
    """
    from .labels import LabelsResult, write_labels

    model, _, cs = resolve_target(ref_or_deployment, store)
    return LabelsResult(write_labels(cs, model, ids, labels, rows=rows), cs.url)


def log_labels_file(
    ref_or_deployment: Any,
    path: str,
    *,
    id_column: str,
    label_column: str,
    row_column: str | None = None,
    store: Any = None,
) -> Any:
    """:func:`log_labels` from a CSV or Parquet file with a request-id column and a label column.

    Parameters
    ----------
    ref_or_deployment : str, ModelVersion or LocalDeployment
        The model or local deployment whose captures the labels belong to.
    path : str
        The file.
    id_column, label_column : str
        Columns holding the request ids and the true labels.
    row_column : str, optional
        Column holding the row within each request (default: row 0).
    store : str, optional
        The capture store.

    Returns
    -------
    LabelsResult
    """
    from ..io import read_table

    frame = read_table(path, what="labels")
    wanted = [c for c in (id_column, label_column, row_column) if c]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"The labels file '{path}' has no column {', '.join(map(repr, missing))}.",
            hint=f"Its columns are: {', '.join(map(str, list(frame.columns)[:20]))}.",
        )
    if frame[label_column].isna().any():
        raise ValidationError(f"The label column '{label_column}' of '{path}' has empty cells; give a label per row.")
    ids = [str(v) for v in frame[id_column].tolist()]
    labels = [v.item() if hasattr(v, "item") else v for v in frame[label_column].tolist()]
    rows = [int(v) for v in frame[row_column].tolist()] if row_column else None
    return log_labels(ref_or_deployment, ids, labels, rows=rows, store=store)
