"""Evaluation over data larger than memory, and on Dask: mergeable statistics per batch.

``evaluate_predictions(..., data=...)`` and ``evaluate(model, data, "target")`` read a Parquet file or
folder, a pyarrow Table, RecordBatchReader or Dataset, a polars DataFrame or LazyFrame, or a Dask
DataFrame batch by batch (partition by partition on the Dask workers). Each batch is reduced to small
statistics that add up exactly over batches, and the bootstrap of :mod:`.bootstrap` runs on the merged
cells, so memory holds one batch and the cells, whatever the number of rows:

binary
    Per (label, score cell): row count, weight sum, squared-weight sum, and the sums of the score, of the
    log loss terms and of the Brier terms. Score cells are fixed before the pass and do not depend on the
    data (:func:`fixed_edges`: a uniform grid of :data:`GRID` cells on [0, 1], as many uniform in logit, as
    many of relative width ~0.2% for decision scores), with the decision threshold and calibration bin edges
    as exact edges, so batches and partitions merge in any order. Confusion counts and every metric
    derived from them, log loss, Brier score and calibration error are exact; ROC AUC, average precision
    and KS count scores in one cell as ties, within :data:`BINNED_TOL` of the in-memory values (in
    practice far closer: the cells are much finer than the bins of the in-memory bootstrap).
multiclass
    Per (true class, predicted class, grid bin of the true class's probability): counts, weights and the
    sums of every class probability, log loss and Brier terms; the confusion matrix, log loss, Brier score
    and calibration error are exact, one-vs-rest ROC AUC and average precision use a grid of
    :data:`MC_GRID` cells per class on [0, 1] plus as many uniform in logit (same tolerance).
labels only
    Per (true label, predicted label): counts and weights, exact.
regression
    Per 2-D bin of (target, residual), bin edges from the first batch: count, mean and co-moments of the
    per-row terms (merged with Chan's formulas), the rows in the tails of any term kept one by one, and the
    largest absolute residuals for the max-error interval. Point values are exact.
"""

from __future__ import annotations

import functools
import itertools
import time
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _validation as V
from ..exceptions import ValidationError, suggest

#: Rows per batch read from a file, table or dataset.
BATCH_ROWS = 1_000_000
#: Largest number of rows evaluated in memory; beyond, pass the columns as ``data=``.
MAX_IN_MEMORY_ROWS = 50_000_000
#: Uniform score cells on [0, 1] (binary).
GRID = 1 << 14
#: Score cells per class on [0, 1] for the one-vs-rest curves (multiclass).
MC_GRID = 1 << 12
#: Lookup slots (2**LUT_BITS on [0, 1]) that find a score's cell without a binary search.
LUT_BITS = 20
#: Stated bound on ``|streamed - in memory|`` for ROC AUC, average precision and KS.
BINNED_TOL = 1e-3
#: Most distinct labels a classification accumulator keeps.
MAX_LABELS = 1000
#: Largest absolute residuals kept for the max-error interval.
TOP_ABS = 1024
#: Uniform sample of rows kept for the residual quantiles and plot (regression).
SAMPLE_ROWS = 100_000

TOO_LARGE = (
    "{what} has {n:,} rows, more than the {limit:,} evaluated in memory; pass the table as data= "
    "(a Parquet path, a pyarrow or polars table, or a Dask DataFrame) with y_true=, y_pred=, y_score= naming "
    "its columns, so it is read in batches with bounded memory."
)

TOO_LARGE_MODEL = (
    "{what} has {n:,} rows, more than the {limit:,} evaluated in memory; pass X as a table holding the target "
    "(a Parquet path, a pyarrow or polars table, or a Dask DataFrame) and y as the name of the target column, "
    "so the model is applied batch by batch with bounded memory."
)
OUT_OF_MEMORY = (
    "Evaluating {n:,} rows in memory ran out of memory; pass the table as data= (a Parquet path, a pyarrow or "
    "polars table, or a Dask DataFrame) with y_true=, y_pred=, y_score= naming its columns, so it is read in "
    "batches with bounded memory."
)
OUT_OF_MEMORY_MODEL = (
    "Evaluating {n:,} rows in memory ran out of memory; pass X as a table holding the target (a Parquet path, "
    "a pyarrow or polars table, or a Dask DataFrame) and y as the name of the target column, so the model is "
    "applied batch by batch with bounded memory."
)

_ACCEPTED = (
    "a Parquet file or folder path, a pyarrow Table, RecordBatchReader or Dataset, a polars DataFrame or "
    "LazyFrame, or a pandas or Dask DataFrame"
)


# ------------------------------------------------------------------ sources
@dataclass
class Source:
    data: Any
    kind: str  # "dask", "pandas" or a stream_kind
    names: list
    what: str


def is_table_input(obj: Any) -> bool:
    """Whether ``obj`` is something ``data=`` accepts and an in-memory argument is not (streamed kinds, Dask)."""
    from .._partitions import is_dask
    from ..drift_detection._columns import stream_kind

    return is_dask(obj) or stream_kind(obj) is not None


def is_dask(obj: Any) -> bool:
    from .._partitions import is_dask as _is_dask

    return _is_dask(obj)


def open_source(data: Any, what: str = "data") -> Source:
    from .._partitions import is_dask
    from ..drift_detection._columns import _open_path, stream_kind

    if is_dask(data):
        if type(data).__name__ == "Series":
            data = data.to_frame(name=str(data.name) if data.name is not None else "x0")
        return Source(data, "dask", [str(c) for c in data.columns], what)
    kind = stream_kind(data)
    if kind == "path":
        dset = _open_path(data, what=what)
        return Source(data, kind, list(dset.schema.names), what)
    if kind in ("arrow_table", "reader", "dataset"):
        return Source(data, kind, list(data.schema.names), what)
    if kind == "polars":
        return Source(data, kind, list(data.columns), what)
    if kind == "polars_lazy":
        return Source(data, kind, list(data.collect_schema().names()), what)
    if type(data).__name__ == "DataFrame" and hasattr(data, "iloc"):
        return Source(data, "pandas", [str(c) for c in data.columns], what)
    raise ValidationError(f"{what} is {V.describe(data)}; expected {_ACCEPTED}.")


def dask_series_frame(given: dict) -> Any:
    """One Dask DataFrame from Dask Series given as ``y_true``, ``y_pred``, ``y_score``, ``sample_weight``."""
    from .._partitions import is_dask

    present = {k: v for k, v in given.items() if v is not None}
    odd = [k for k, v in present.items() if not (is_dask(v) and type(v).__name__ == "Series")]
    if odd:
        raise ValidationError(
            f"{', '.join(odd)} {'is' if len(odd) == 1 else 'are'} not a Dask Series while "
            f"{', '.join(k for k in present if k not in odd)} {'is' if len(present) - len(odd) == 1 else 'are'}; "
            "pass them all as Dask Series of the same partitions, or as columns of one table with data=."
        )
    frame = None
    try:
        for k, v in present.items():
            frame = v.rename(k).to_frame() if frame is None else frame.assign(**{k: v})
    except Exception as exc:  # noqa: BLE001 - Dask's own alignment errors, said in one sentence
        raise ValidationError(
            f"The Dask Series {', '.join(present)} could not be put side by side ({exc}); pass them as columns of "
            "one Dask DataFrame with data=."
        ) from exc
    return frame


def check_column(src: Source, name: Any, arg: str) -> str:
    if not isinstance(name, str):
        raise ValidationError(
            f"With data=, {arg} must name a column of data; got {V.describe(name)} (columns: "
            f"{', '.join(src.names[:20])})."
        )
    if name not in src.names:
        raise ValidationError(
            f"data has no column {name!r} (given as {arg}); its columns are {', '.join(src.names[:20])}."
            f"{suggest(name, src.names)}"
        )
    return name


def _arrow_to_numpy(col: Any, name: str) -> np.ndarray:
    import pyarrow as pa

    if col.null_count:
        raise ValidationError(
            f"Column {name!r} has {col.null_count:,} missing values; expected a value in every row (drop or "
            "impute those rows first)."
        )
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return np.asarray(col.to_numpy(zero_copy_only=False))


def _pandas_columns(df: Any, columns: list) -> dict:
    out = {}
    for c in columns:
        s = df[c]
        if s.isna().any():
            raise ValidationError(
                f"Column {c!r} has {int(s.isna().sum()):,} missing values; expected a value in every row (drop "
                "or impute those rows first)."
            )
        out[c] = s.to_numpy()
    return out


def iter_columns(src: Source, columns: list, batch_rows: int | None = None):
    """Yield ``{name: numpy array}`` batches of the given columns (local sources)."""
    from ..drift_detection._columns import _arrow_batches

    batch_rows = batch_rows or BATCH_ROWS

    if src.kind == "pandas":
        df = src.data
        for start in range(0, max(len(df), 1), batch_rows):
            part = df.iloc[start : start + batch_rows]
            if len(part):
                yield _pandas_columns(part, columns)
        return
    for rb in _arrow_batches(src.data, src.kind, what=src.what, batch_rows=batch_rows, columns=columns):
        if rb.num_rows == 0:
            continue
        yield {c: _arrow_to_numpy(rb.column(i), c) for i, c in enumerate(columns)}


def observed_labels(src: Source, col: str) -> list:
    """The distinct values of one column (a pass reading that column only)."""
    import pandas as pd

    if src.kind == "dask":
        vals = src.data[col].unique().compute()
        return _sorted(pd.unique(np.asarray(vals)).tolist())
    if src.kind == "reader":
        raise ValidationError(
            "A RecordBatchReader can be read only once and the classes are needed before the pass; pass "
            "labels= (the classes, in the column order of y_score)."
        )
    seen: set = set()
    for b in iter_columns(src, [col]):
        seen.update(pd.unique(b[col]).tolist())
    return _sorted(list(seen))


def _sorted(values: list) -> list:
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _factorize(y: np.ndarray, name: str):
    import pandas as pd

    codes, uniq = pd.factorize(y)
    if (codes < 0).any():
        raise ValidationError(
            f"Column {name!r} has {int((codes < 0).sum()):,} missing values; expected a label in every row."
        )
    if len(uniq) > MAX_LABELS:
        raise ValidationError(
            f"Column {name!r} holds more than {MAX_LABELS:,} distinct labels; for a continuous target pass "
            "task='regression'."
        )
    return codes, [u.item() if hasattr(u, "item") else u for u in np.asarray(uniq, dtype=object)]


def _weights(w: Any, name: str) -> np.ndarray | None:
    if w is None:
        return None
    w = V.check_numeric(np.asarray(w), name).astype(np.float64, copy=False)
    V.check_finite(w, name)
    if (w < 0).any():
        raise ValidationError(f"Column {name!r} contains negative weights (min {w.min():g}); expected weights >= 0.")
    return w


# ------------------------------------------------------------------ accumulators
def fixed_edges(n: int) -> np.ndarray:
    """Score cell edges that do not depend on the data (so batches and partitions merge in any order):
    a uniform grid of ``n`` cells on [0, 1], ``n`` cells uniform in logit over [-18, 18] (fine near 0 and 1,
    for rare events), and ``n`` cells of relative width ~0.2% over +-[1e-6, 1e6] (decision scores)."""
    mag = np.logspace(-6.0, 6.0, n)
    return np.unique(
        np.concatenate(
            [np.linspace(0.0, 1.0, n + 1), 1.0 / (1.0 + np.exp(-np.linspace(-18.0, 18.0, n))), -mag, [0.0], mag]
        )
    )


def binary_edges(threshold: float) -> np.ndarray:
    """Score cell edges ``(e[i-1], e[i]]``: :func:`fixed_edges`, the calibration edges, and both thresholds
    (probability and logit) with a cell of their own, so that confusion counts and calibration bins are exact."""
    from . import _binary

    parts = [fixed_edges(GRID), np.linspace(0.0, 1.0, _binary.N_CAL_BINS + 1)]
    for t in (threshold, _binary.threshold_on_scale(threshold, False)):
        parts.append(np.array([np.nextafter(t, -np.inf), t]))  # the cell (nextafter(t), t] holds t alone
    return np.unique(np.concatenate(parts))


class BinaryAcc:
    """Per (label, score cell) sums; rows: count, w, w**2, raw score, w*s, w*logloss(+), w*logloss(-),
    w*brier(+), w*brier(-) (s clipped to [0, 1] for the loss terms)."""

    NF = 9

    def __init__(self, edges: np.ndarray) -> None:
        self.edges = edges
        self.C = len(edges) + 1
        self._lut: np.ndarray | None = None
        self._ext: np.ndarray | None = None
        self.by_label: dict = {}
        self.lo = np.inf
        self.hi = -np.inf
        self.outside = 0  # rows outside [0, 1]
        self.weighted = False
        self.batches = 0
        self.passes = 1

    def update(self, y: np.ndarray, s: np.ndarray, w: np.ndarray | None) -> None:
        n = len(s)
        if n == 0:
            return
        self.batches += 1
        self.lo = min(self.lo, float(s.min()))
        self.hi = max(self.hi, float(s.max()))
        self.outside += int(((s < 0.0) | (s > 1.0)).sum())
        codes, uniq = self._codes(y)
        C = self.C
        key = codes * C
        key += self.cell_of(s)
        m = len(uniq) * C
        eps = np.finfo(np.float64).eps
        sc = np.clip(s, 0.0, 1.0)
        out = np.empty((self.NF, m))
        out[0] = np.bincount(key, minlength=m)
        if w is None:
            W = None
            out[1] = out[0]
            out[2] = out[0]
        else:
            self.weighted = True
            W = w
            out[1] = np.bincount(key, weights=w, minlength=m)
            out[2] = np.bincount(key, weights=w * w, minlength=m)
        out[3] = np.bincount(key, weights=s, minlength=m)

        def add(i, v):
            out[i] = np.bincount(key, weights=v if W is None else v * W, minlength=m)

        add(4, sc)
        add(5, -np.log(np.clip(sc, eps, 1 - eps)))
        add(6, -np.log(np.clip(1 - sc, eps, 1 - eps)))
        add(7, (1.0 - sc) ** 2)
        add(8, sc**2)
        for i, lab in enumerate(uniq):
            block = out[:, i * C : (i + 1) * C]
            cur = self.by_label.get(lab)
            self.by_label[lab] = block.copy() if cur is None else cur + block

    def cell_of(self, s: np.ndarray) -> np.ndarray:
        """``searchsorted(edges, s, "left")``: through a lookup table of 2**20 slots on [0, 1] and a short
        walk (a binary search over ~65k edges per row costs most of a pass), ``searchsorted`` elsewhere."""
        edges = self.edges
        M = 1 << LUT_BITS
        if self._lut is None or self._ext is None:
            self._lut = np.searchsorted(edges, np.arange(M + 1) / M, side="left").astype(np.int32)
            self._ext = np.append(edges, np.inf)
        lut, ext = self._lut, self._ext
        inside = (s >= 0.0) & (s <= 1.0)
        si = s if inside.all() else s[inside]
        idx = lut[(si * M).astype(np.int64)].astype(np.int64)
        act = np.flatnonzero(ext[idx] < si)
        while act.size:
            idx[act] += 1
            act = act[ext[idx[act]] < si[act]]
        if si is s:
            return idx
        out = np.searchsorted(edges, s, side="left")
        out[inside] = idx
        return out

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_lut"] = state["_ext"] = None  # rebuilt on use; not worth shipping from the workers
        return state

    def _codes(self, y):
        codes, uniq = _factorize(y, "y_true")
        if len(set(self.by_label) | set(uniq)) > MAX_LABELS:
            raise ValidationError(f"y_true holds more than {MAX_LABELS:,} distinct labels; expected two classes.")
        return codes, uniq

    def merge(self, other: BinaryAcc) -> BinaryAcc:
        for lab, a in other.by_label.items():
            cur = self.by_label.get(lab)
            self.by_label[lab] = a if cur is None else cur + a
        self.lo, self.hi = min(self.lo, other.lo), max(self.hi, other.hi)
        self.outside += other.outside
        self.weighted |= other.weighted
        self.batches += other.batches
        return self

    def levels(self, pos_label: Any, proba: bool):
        """The level table (cells with rows, ascending score) with exact per-cell loss terms."""
        from . import _binary

        P = self.by_label.get(pos_label)
        N = sum((a for lab, a in self.by_label.items() if lab != pos_label), np.zeros((self.NF, self.C)))
        if P is None:
            P = np.zeros((self.NF, self.C))
        cnt = P[0] + N[0]
        keep = cnt > 0
        P, N, cnt = P[:, keep], N[:, keep], cnt[keep]
        if proba:
            wsum = P[1] + N[1]
            score = np.where(
                wsum > 0,
                (P[4] + N[4]) / np.where(wsum > 0, wsum, 1.0),
                np.clip((P[3] + N[3]) / cnt, 0.0, 1.0),
            )
        else:
            score = (P[3] + N[3]) / cnt
        # cells whose scores clip to the same value are one level (e.g. 1 and 1 + 1e-12)
        starts = np.flatnonzero(np.concatenate([[True], score[1:] != score[:-1]]))
        if len(starts) < len(score):
            P = np.add.reduceat(P, starts, axis=1)
            N = np.add.reduceat(N, starts, axis=1)
            cnt = np.add.reduceat(cnt, starts)
            score = score[starts]

        def per(num, den):
            return np.divide(num, den, out=np.zeros_like(num), where=den > 0)

        lv = _binary.Levels(score, P[1].copy(), N[1].copy(), cnt, P[0].copy(), np.empty(0, dtype=np.intp))
        if self.weighted:
            lv.sq = (N[2].copy(), P[2].copy())
        if proba:
            lv.terms = (per(P[5], P[1]), per(N[6], N[1]), per(P[7], P[1]), per(N[8], N[1]))
        return lv

    def n_rows(self) -> int:
        return int(sum(a[0].sum() for a in self.by_label.values()))


class PairsAcc:
    """Per (true label, predicted label): count, weight, squared weight."""

    def __init__(self) -> None:
        self.cells: dict = {}
        self.weighted = False
        self.batches = 0

    def update(self, y: np.ndarray, pred: np.ndarray, w: np.ndarray | None) -> None:
        if len(y) == 0:
            return
        self.batches += 1
        ct, ut = _factorize(y, "y_true")
        cp, up = _factorize(pred, "y_pred")
        key = ct * len(up) + cp
        m = len(ut) * len(up)
        cnt = np.bincount(key, minlength=m)
        if w is None:
            ws, w2 = cnt, cnt
        else:
            self.weighted = True
            ws = np.bincount(key, weights=w, minlength=m)
            w2 = np.bincount(key, weights=w * w, minlength=m)
        for k in np.flatnonzero(cnt):
            pair = (ut[k // len(up)], up[k % len(up)])
            v = np.array([cnt[k], ws[k], w2[k]], dtype=np.float64)
            cur = self.cells.get(pair)
            self.cells[pair] = v if cur is None else cur + v
        if len(self.cells) > MAX_LABELS * 10:
            raise ValidationError(
                "y_true and y_pred hold too many distinct labels for classification; for continuous values "
                "pass task='regression'."
            )

    def merge(self, other: PairsAcc) -> PairsAcc:
        for k, v in other.cells.items():
            cur = self.cells.get(k)
            self.cells[k] = v if cur is None else cur + v
        self.weighted |= other.weighted
        self.batches += other.batches
        return self

    def n_rows(self) -> int:
        return int(sum(v[0] for v in self.cells.values()))


class MultiAcc:
    """Multiclass with probabilities: cells (true, predicted, bin of the true class's probability)."""

    def __init__(self, classes: list) -> None:
        self.classes = list(classes)
        K = self.K = len(classes)
        self.nq = max(1, 1024 // (K * K))
        self.C = K * K * self.nq
        # count, w, w2, w*loss, w*brier, w*conf, w*(conf - correct), w*p_0 .. w*p_{K-1}
        self.cells = np.zeros((7 + K, self.C))
        self.cal = np.zeros((4, 10))  # w, w*conf, w*correct, w**2 conf (1 - conf), per calibration bin
        self.inner = _mc_inner()
        self.G = len(self.inner) + 1
        self.grid = np.zeros((K, 2, self.G))  # per class: weight of negatives / positives per score cell
        self.weighted = False
        self.batches = 0

    def update(self, y: np.ndarray, proba: np.ndarray, w: np.ndarray | None) -> None:
        import pandas as pd

        from . import _multiclass

        n = len(y)
        if n == 0:
            return
        self.batches += 1
        K = self.K
        yt = pd.Index(self.classes).get_indexer(y)
        if (yt < 0).any():
            bad = pd.unique(np.asarray(y)[yt < 0])[:5].tolist()
            raise ValidationError(
                f"y_true contains labels that are not classes: {', '.join(map(repr, bad))}; the classes are "
                f"{', '.join(map(repr, self.classes[:10]))} (pass labels= to name them)."
            )
        sums = proba.sum(axis=1)
        if not np.allclose(sums, 1.0, atol=1e-6) or (proba < 0).any():
            raise ValidationError(
                f"y_score rows must be probabilities summing to 1; got row sums from {sums.min():.4g} to "
                f"{sums.max():.4g} (apply a softmax to logits first)."
            )
        W = np.ones(n) if w is None else w
        if w is not None:
            self.weighted = True
        eps = np.finfo(np.float64).eps
        rows = np.arange(n)
        pred = proba.argmax(axis=1)
        p_true = proba[rows, yt]
        q = np.minimum((p_true * self.nq).astype(np.int64), self.nq - 1)
        key = (yt * K + pred) * self.nq + q
        C = self.C
        conf = proba.max(axis=1)
        correct = (pred == yt).astype(np.float64)
        onehot = np.zeros_like(proba)
        onehot[rows, yt] = 1.0
        vals = [
            None,
            W,
            W * W,
            W * -np.log(np.clip(p_true, eps, 1 - eps)),
            W * ((onehot - proba) ** 2).sum(axis=1),
            W * conf,
            W * (conf - correct),
        ] + [W * proba[:, k] for k in range(K)]
        block = np.empty_like(self.cells)
        block[0] = np.bincount(key, minlength=C)
        for i, v in enumerate(vals[1:], start=1):
            block[i] = np.bincount(key, weights=v, minlength=C)
        self.cells += block
        cb = _multiclass._cal_bin(conf)
        for i, v in enumerate((W, W * conf, W * correct, W * W * conf * (1.0 - conf))):
            self.cal[i] += np.bincount(cb, weights=v, minlength=10)
        G = self.G
        for k in range(K):
            g = np.searchsorted(self.inner, proba[:, k], side="left") + G * (yt == k)
            self.grid[k] += np.bincount(g, weights=W, minlength=2 * G).reshape(2, G)

    def merge(self, other: MultiAcc) -> MultiAcc:
        self.cells += other.cells
        self.cal += other.cal
        self.grid += other.grid
        self.weighted |= other.weighted
        self.batches += other.batches
        return self

    def n_rows(self) -> int:
        return int(self.cells[0].sum())


def _mc_inner() -> np.ndarray:
    e = np.unique(
        np.concatenate([np.linspace(0.0, 1.0, MC_GRID + 1), 1.0 / (1.0 + np.exp(-np.linspace(-18.0, 18.0, MC_GRID)))])
    )
    return e[(e > 0.0) & (e < 1.0)]


_CHAN_PAIRS = [(a, b) for a in range(7) for b in range(a, 7)]
#: Rows with one of this many largest values of a term (per term) are cells of their own (regression).
TAIL_ROWS = 256


def _cell_moments(G: np.ndarray, cell: np.ndarray, C: int):
    """Per-cell row count, mean and co-moment matrix (sum of outer products of deviations) of ``G``."""
    n = np.bincount(cell, minlength=C).astype(np.float64)
    nn = np.maximum(n, 1.0)
    mean = np.stack([np.bincount(cell, weights=G[:, j], minlength=C) for j in range(7)], axis=1) / nn[:, None]
    D = G - mean[cell]
    M2 = np.zeros((C, 7, 7))
    for a, b in _CHAN_PAIRS:
        v = np.bincount(cell, weights=D[:, a] * D[:, b], minlength=C)
        M2[:, a, b] = v
        M2[:, b, a] = v
    return n, mean, M2


def _chan(n1, m1, M1, n2, m2, M2):
    n = n1 + n2
    f = np.divide(n2, n, out=np.zeros_like(n), where=n > 0)
    d = m2 - m1
    mean = m1 + d * f[:, None]
    g = np.divide(n1 * n2, n, out=np.zeros_like(n), where=n > 0)
    return n, mean, M1 + M2 + np.einsum("ci,cj->cij", d, d) * g[:, None, None]


class RegAcc:
    """Regression: exact sums for the point values, binned moments (+ tail rows) for the bootstrap."""

    def __init__(self, y_edges: np.ndarray, r_edges: np.ndarray, center: float) -> None:
        self.y_edges, self.r_edges, self.center = y_edges, r_edges, float(center)
        self.C = (len(y_edges) + 1) * (len(r_edges) + 1)
        self.n = np.zeros(self.C)
        self.mean = np.zeros((self.C, 7))
        self.M2 = np.zeros((self.C, 7, 7))
        self.tail_G = np.empty((0, 7))
        self.tail_cell = np.empty(0, dtype=np.intp)
        self.top_abs = np.empty(0)
        self.sums = np.zeros(6)  # rows, sum w, w*r, w*|r|, w*r**2, w*ape
        self.ystat = np.zeros(3)  # weighted: W, mean, M2 of y
        self.rstat = np.zeros(3)  # unweighted: n, mean, M2 of r
        self.ymin, self.ymax = np.inf, -np.inf  # over rows with weight > 0
        self.sample = np.empty((0, 4))  # priority, prediction, residual, actual
        self.weighted = False
        self.batches = 0

    def update(self, y: np.ndarray, yhat: np.ndarray, w: np.ndarray | None) -> None:
        n = len(y)
        if n == 0:
            return
        self.batches += 1
        if w is not None:
            self.weighted = True
        W = np.ones(n) if w is None else w
        r = y - yhat
        ar = np.abs(r)
        eps = np.finfo(np.float64).eps
        ape = ar / np.maximum(np.abs(y), eps)
        self.sums += [n, W.sum(), (W * r).sum(), (W * ar).sum(), (W * r * r).sum(), (W * ape).sum()]
        Wb = W.sum()
        if Wb > 0:
            mb = float((W * y).sum() / Wb)
            self.ystat = _chan1(self.ystat, np.array([Wb, mb, float((W * (y - mb) ** 2).sum())]))
            live = y if w is None else y[w > 0]
            if live.size:
                self.ymin, self.ymax = min(self.ymin, float(live.min())), max(self.ymax, float(live.max()))
        mr = float(r.mean())
        self.rstat = _chan1(self.rstat, np.array([n, mr, float(((r - mr) ** 2).sum())]))
        self.top_abs = _top(np.concatenate([self.top_abs, ar]), TOP_ABS)
        # bootstrap cells
        yc = y - self.center
        G = np.stack([np.ones(n), yc, yc * yc, ar, r * r, ape, r], axis=1)
        if w is not None:
            G *= w[:, None]
        cell = np.searchsorted(self.y_edges, y) * (len(self.r_edges) + 1) + np.searchsorted(self.r_edges, r)
        cand = _tail_rows(G, TAIL_ROWS, skip_weight=not self.weighted)
        bulk = np.ones(n, dtype=bool)
        bulk[cand] = False
        self._add_bulk(G[bulk], cell[bulk])
        self._add_tails(G[cand], cell[cand], TAIL_ROWS)
        # a uniform sample (bottom-k of random priorities, seeded by the batch's content: order-free merges)
        seed = zlib.crc32(np.ascontiguousarray(r[:64]).tobytes()) ^ n
        pr = np.random.default_rng(seed).random(n)
        k = min(n, SAMPLE_ROWS)
        idx = np.argpartition(pr, k - 1)[:k] if k < n else np.arange(n)
        self.sample = _bottom(np.concatenate([self.sample, np.stack([pr[idx], yhat[idx], r[idx], y[idx]], 1)]))

    def _add_bulk(self, G, cell):
        if len(G):
            n2, m2, M2 = _cell_moments(G, cell, self.C)
            self.n, self.mean, self.M2 = _chan(self.n, self.mean, self.M2, n2, m2, M2)

    def _add_tails(self, G, cell, k, *, skip_weight=None):
        G = np.concatenate([self.tail_G, G])
        cell = np.concatenate([self.tail_cell, cell])
        keep = _tail_rows(G, k, skip_weight=not self.weighted if skip_weight is None else skip_weight)
        mask = np.zeros(len(G), dtype=bool)
        mask[keep] = True
        self._add_bulk(G[~mask], cell[~mask])
        self.tail_G, self.tail_cell = G[mask], cell[mask]

    def merge(self, other: RegAcc) -> RegAcc:
        self.weighted |= other.weighted
        self.n, self.mean, self.M2 = _chan(self.n, self.mean, self.M2, other.n, other.mean, other.M2)
        self._add_tails(other.tail_G, other.tail_cell, TAIL_ROWS)
        self.top_abs = _top(np.concatenate([self.top_abs, other.top_abs]), TOP_ABS)
        self.sums += other.sums
        self.ystat = _chan1(self.ystat, other.ystat)
        self.rstat = _chan1(self.rstat, other.rstat)
        self.ymin, self.ymax = min(self.ymin, other.ymin), max(self.ymax, other.ymax)
        self.sample = _bottom(np.concatenate([self.sample, other.sample]))
        self.batches += other.batches
        return self

    def n_rows(self) -> int:
        return int(self.sums[0])

    def point(self) -> dict:
        n, T, sr, sabs, ssq, sape = self.sums
        mse = ssq / T
        den = self.ystat[2]
        if self.ymin >= self.ymax or den <= 0:  # constant target: scikit-learn's r2_score
            r2 = 1.0 if ssq == 0 else 0.0
        else:
            r2 = 1.0 - ssq / den
        return {
            "mean_absolute_error": float(sabs / T),
            "mean_squared_error": float(mse),
            "root_mean_squared_error": float(np.sqrt(mse)),
            "r2": float(r2),
            "mean_absolute_percentage_error": float(sape / T),
            "max_error": float(self.top_abs[0]),
            "mean_residual": float(sr / T),
        }

    def plan(self):
        """``(counts, means, roots)`` for :func:`~.bootstrap.bootstrap_moments`, centred on the mean target."""
        from .bootstrap import moment_roots

        k = min(TAIL_ROWS, max(1, self.n_rows() // 100))
        self._add_tails(np.empty((0, 7)), np.empty(0, dtype=np.intp), k)
        d = self.ystat[1] - self.center
        L = np.eye(7)
        L[1, 0] = -d
        L[2, 0], L[2, 1] = d * d, -2 * d
        live = self.n > 0
        counts_b = self.n[live]
        means_b = self.mean[live] @ L.T
        cov = np.einsum("ij,cjk,lk->cil", L, self.M2[live], L) / counts_b[:, None, None]
        tails = self.tail_G @ L.T
        scale = np.abs(np.concatenate([means_b, tails])).max(axis=0)
        scale[scale == 0] = 1.0
        roots_b = moment_roots(cov / np.outer(scale, scale)[None]) * scale[None, :, None]
        counts = np.concatenate([counts_b, np.ones(len(tails))])
        means = np.concatenate([means_b, tails])
        roots = np.concatenate([roots_b, np.zeros((len(tails), 7, 7))])
        return counts, means, roots, len(tails)

    def residual_summary(self) -> dict:
        s = self.sample
        pred, r, y = s[:, 1], s[:, 2], s[:, 3]
        qs = [0.05, 0.25, 0.5, 0.75, 0.95]
        hist, edges = np.histogram(r, bins=30)
        m = min(400, len(s))
        return {
            "mean": float(self.rstat[1]),
            "std": float(np.sqrt(self.rstat[2] / self.rstat[0])),
            "quantiles": {str(q): float(v) for q, v in zip(qs, np.quantile(r, qs))},
            "histogram": {"counts": hist.tolist(), "edges": edges.tolist()},
            "sample": {"predicted": pred[:m].tolist(), "residual": r[:m].tolist(), "actual": y[:m].tolist()},
        }


def _chan1(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n1, m1, M1 = a
    n2, m2, M2 = b
    n = n1 + n2
    if n2 == 0:
        return a
    if n1 == 0:
        return b.copy()
    d = m2 - m1
    return np.array([n, m1 + d * n2 / n, M1 + M2 + d * d * n1 * n2 / n])


def _top(v: np.ndarray, k: int) -> np.ndarray:
    if len(v) > k:
        v = v[np.argpartition(v, len(v) - k)[len(v) - k :]]
    return np.sort(v)[::-1]


def _bottom(s: np.ndarray) -> np.ndarray:
    if len(s) > SAMPLE_ROWS:
        s = s[np.argpartition(s[:, 0], SAMPLE_ROWS - 1)[:SAMPLE_ROWS]]
    return s[np.argsort(s[:, 0], kind="stable")]


def _tail_rows(G: np.ndarray, k: int, *, skip_weight: bool) -> np.ndarray:
    """Rows holding one of the ``k`` largest absolute values of any (non-constant) term."""
    n = len(G)
    if n <= k:
        return np.arange(n)
    keep = np.zeros(n, dtype=bool)
    for j in range(G.shape[1]):
        if j == 0 and skip_weight:
            continue
        col = np.abs(G[:, j])
        if col.max() > col.min():
            keep[np.argpartition(col, n - k)[n - k :]] = True
    return np.flatnonzero(keep)


# ------------------------------------------------------------------ plan: what every batch computes
@dataclass
class Plan:
    mode: str  # "binary", "multi", "pairs", "regression"
    y: str
    pred: str | None = None
    score: list | None = None
    weight: str | None = None
    edges: Any = None
    classes: list | None = None
    pos_idx: int | None = None  # binary: the score column (several columns), or flip (model's 1-D output)
    flip: bool = False
    y_edges: Any = None
    r_edges: Any = None
    center: float = 0.0
    model: Any = None
    features: list | None = None
    frame_features: bool = False
    predict_task: str = "classification"

    def columns(self) -> list:
        cols = [self.y]
        if self.model is not None:
            cols += [c for c in self.features or [] if c not in cols]
        else:
            cols += [c for c in ([self.pred] if self.pred else []) + list(self.score or []) if c not in cols]
        if self.weight and self.weight not in cols:
            cols.append(self.weight)
        return cols

    def new(self):
        if self.mode == "binary":
            return BinaryAcc(self.edges)
        if self.mode == "multi":
            return MultiAcc(self.classes)
        if self.mode == "pairs":
            return PairsAcc()
        return RegAcc(self.y_edges, self.r_edges, self.center)

    def arrays(self, cols: dict):
        """``(y, prediction, weights)`` of one batch: the score (binary), probabilities (multiclass),
        labels or values."""
        y = cols[self.y]
        w = _weights(cols[self.weight], self.weight) if self.weight else None
        if self.model is not None:
            out = model_outputs(self, cols)
            v = out.values
            if self.mode == "binary":
                if v.ndim == 2:
                    v = v[:, self.pos_idx]
                elif self.flip:
                    v = -v if out.kind == "decision" else 1.0 - v
                return y, np.asarray(v, dtype=np.float64), w
            if self.mode == "regression":
                yv = V.check_numeric(np.asarray(y), self.y).astype(np.float64, copy=False)
                V.check_finite(yv, self.y)
                return yv, np.asarray(v, dtype=np.float64), w
            return y, v, w
        if self.mode == "binary":
            name = (self.score or [])[self.pos_idx or 0]
            s = V.check_numeric(np.asarray(cols[name]), name).astype(np.float64, copy=False)
            V.check_finite(s, name)
            return y, s, w
        if self.mode == "multi":
            P = np.stack([np.asarray(cols[c], dtype=np.float64) for c in self.score or []], axis=1)
            V.check_finite(P, "y_score")
            return y, P, w
        if self.mode == "regression":
            name = self.pred or (self.score or [])[0]
            yv = V.check_numeric(np.asarray(y), self.y).astype(np.float64, copy=False)
            V.check_finite(yv, self.y)
            yh = V.check_numeric(np.asarray(cols[name]), name).astype(np.float64, copy=False)
            V.check_finite(yh, name)
            return yv, yh, w
        return y, cols[self.pred], w

    def feed(self, acc, cols: dict) -> None:
        y, p, w = self.arrays(cols)
        acc.update(y, p, w)


def model_outputs(plan: Plan, cols: dict):
    import pandas as pd

    from ._models import predict

    if plan.frame_features:
        X = pd.DataFrame({c: cols[c] for c in plan.features or []})
    else:
        X = np.column_stack([np.asarray(cols[c]) for c in plan.features or []])
    return predict(plan.model, X, task=plan.predict_task)


def _partition_stats(plan: Plan, part: Any, batch_rows: int):
    """The statistics of one Dask partition (on its worker), read in batches of ``batch_rows`` rows."""
    acc = plan.new()
    cols = plan.columns()
    for start in range(0, len(part), batch_rows):
        plan.feed(acc, _pandas_columns(part.iloc[start : start + batch_rows], cols))
    return acc


def _merge(a, b):
    return a.merge(b)


def accumulate(src: Source, plan: Plan, first: dict | None, batch_rows: int | None):
    """Run the plan over every batch (locally) or partition (Dask) and merge."""
    if src.kind == "dask":
        from .._partitions import reduce_partitions

        fn = functools.partial(_partition_stats, plan, batch_rows=batch_rows or BATCH_ROWS)
        return reduce_partitions(src.data[plan.columns()], fn, _merge)
    acc = plan.new()
    it = iter_columns(src, plan.columns(), batch_rows)
    if first is not None:
        it = itertools.chain([first], it)
    for cols in it:
        plan.feed(acc, cols)
    return acc


# ------------------------------------------------------------------ entry points
def _first(src: Source, columns: list, batch_rows: int | None):
    """The first batch (a dict of columns) and the iterator of the others (None on Dask: every partition
    is then read on the workers)."""
    if src.kind == "dask":
        from .._partitions import first_partition

        part = first_partition(src.data[columns])
        if not len(part):
            raise ValidationError(
                "The first partition of data is empty; expected rows in it (repartition the Dask DataFrame)."
            )
        return _pandas_columns(part, columns), None
    it = iter_columns(src, columns, batch_rows)
    first = next(it, None)
    if first is None:
        raise ValidationError("data is empty (no rows); expected at least one row.")
    return first, it


def _is_continuous(v: np.ndarray) -> bool:
    v = np.asarray(v)
    return v.dtype.kind == "f" and bool(np.any(v != np.round(v)))


def evaluate_data(
    data: Any,
    y_true: Any,
    y_pred: Any,
    y_score: Any,
    sample_weight: Any,
    *,
    task: str,
    ci: float,
    n_boot: int,
    threshold: float,
    random_state: Any,
    labels: Any,
    pos_label: Any,
    progress: Any,
    batch_rows: int | None = None,
):
    """``evaluate_predictions(..., data=data)``: the columns named by the other arguments, streamed."""
    t0 = time.perf_counter()
    src = open_source(data)
    if y_pred is None and y_score is None:
        raise ValidationError(
            "Neither y_pred nor y_score was given; expected the name of a prediction or score column."
        )
    y = check_column(src, y_true, "y_true")
    pred = check_column(src, y_pred, "y_pred") if y_pred is not None else None
    if y_score is not None:
        names = [y_score] if isinstance(y_score, str) else list(y_score) if isinstance(y_score, (list, tuple)) else None
        if not names:
            raise ValidationError(
                f"With data=, y_score must name a score column or list one column per class; got {V.describe(y_score)}."
            )
        score = [check_column(src, s, "y_score") for s in names]
    else:
        score = None
    weight = check_column(src, sample_weight, "sample_weight") if sample_weight is not None else None
    plan = Plan("pairs", y, pred=pred, score=score, weight=weight)
    classes = None if labels is None else list(np.asarray(labels).tolist())
    if task == "regression":
        plan.mode = "regression"
    elif score is not None and len(score) == 1:
        plan.mode = "binary"
    elif score is not None:
        if classes is None:
            classes = observed_labels(src, y)
        if len(classes) != len(score):
            raise ValidationError(
                f"y_score names {len(score)} columns but there are {len(classes)} classes "
                f"({', '.join(map(repr, classes[:10]))}); expected one column per class (pass labels= to name them)."
            )
        plan.classes = classes
        if len(score) == 2:
            plan.mode = "binary"
            pos = _pos_label(pos_label, np.asarray(classes))
            plan.pos_idx = classes.index(pos)
            pos_label = pos
        else:
            plan.mode = "multi"
    if src.kind == "dask" and plan.mode in ("binary", "multi"):
        first, rest = {}, None  # fixed cells: no partition needs reading before the pass
    else:
        first, rest = _first(src, plan.columns(), batch_rows)
    if plan.mode == "pairs" and task == "auto":
        if _is_continuous(first[pred]) or _is_continuous(first[y]):
            plan.mode = "regression"
    if plan.mode == "binary":
        plan.edges = binary_edges(threshold)
    elif plan.mode == "regression":
        y0, p0, w0 = plan.arrays(first)
        _regression_edges(plan, y0, p0, w0)
    acc = _run(src, plan, first, rest, batch_rows)
    opts = dict(ci=ci, n_boot=n_boot, threshold=threshold, random_state=random_state, progress=progress)
    rep = finish(plan, acc, src, task=task, classes=classes, pos_label=pos_label, score_name="y_score", **opts)
    rep.model = {"type": "predictions", "output": rep.model.get("output", "label"), "columns": _columns_used(plan)}
    rep.timing["total_s"] = round(time.perf_counter() - t0, 4)
    return rep


def _run(src: Source, plan: Plan, first: dict, rest, batch_rows: int | None):
    if rest is None:  # Dask: every partition on its worker (the first one again)
        acc = accumulate(src, plan, None, batch_rows)
    else:
        acc = plan.new()  # local: go on from the batch already read
        plan.feed(acc, first)
        for cols in rest:
            plan.feed(acc, cols)
    if plan.mode == "binary":
        # scores packed into a few cells (e.g. all within 1e-3 of 0.5): split those cells and read again
        for _ in range(MAX_REFINE):
            if src.kind == "reader" or tie_bound(acc) <= BINNED_TOL / 4:
                break
            edges = refine_edges(plan.edges, acc)
            if edges is None:
                break
            plan.edges = edges
            passes = acc.passes + 1
            acc = accumulate(src, plan, None, batch_rows)
            acc.passes = passes
    return acc


#: Extra passes over the data that split score cells holding too many (positive, negative) pairs.
MAX_REFINE = 2


def _label_weights(acc: BinaryAcc):
    arrs = [a[1] for a in acc.by_label.values()]
    return arrs if len(arrs) == 2 else None


def tie_bound(acc: BinaryAcc) -> float:
    """Largest possible ``|binned - exact|`` ROC AUC: every (positive, negative) pair inside one cell is
    counted as a tie (1/2) where the exact value counts 0 or 1."""
    ab = _label_weights(acc)
    if ab is None:
        return 0.0
    a, b = ab
    A, B = float(a.sum()), float(b.sum())
    return float((a * b).sum() / (2 * A * B)) if A > 0 and B > 0 else 0.0


def refine_edges(edges: np.ndarray, acc: BinaryAcc) -> np.ndarray | None:
    """The edges with each of the (at most 64) bounded cells holding most pairs split into 1024 cells."""
    ab = _label_weights(acc)
    if ab is None:
        return None
    a, b = ab
    contrib = a * b / max(float(a.sum()) * float(b.sum()) * 2, np.finfo(np.float64).tiny)
    heavy = np.flatnonzero(contrib > BINNED_TOL / 64)
    heavy = heavy[(heavy > 0) & (heavy < len(edges))]  # cell i is (edges[i-1], edges[i]]
    if not len(heavy):
        return None
    heavy = heavy[np.argsort(contrib[heavy])[::-1][:64]]
    return np.unique(np.concatenate([edges] + [np.linspace(edges[i - 1], edges[i], 1025)[1:-1] for i in heavy]))


def _regression_edges(plan: Plan, y0, p0, w0) -> None:
    from ._regression import R_BINS, Y_BINS

    r0 = y0 - p0
    plan.y_edges = np.unique(np.quantile(y0, np.linspace(0, 1, Y_BINS + 1)[1:-1]))
    plan.r_edges = np.unique(np.quantile(r0, np.linspace(0, 1, R_BINS + 1)[1:-1]))
    plan.center = float(np.average(y0, weights=w0)) if w0 is None or w0.sum() > 0 else float(y0.mean())


def _columns_used(plan: Plan) -> dict:
    """The columns read, by role (kept in the report)."""
    out: dict = {"y_true": plan.y}
    if plan.model is not None:
        out["features"] = list(plan.features or [])
    else:
        if plan.pred:
            out["y_pred"] = plan.pred
        if plan.score:
            out["y_score"] = plan.score[0] if len(plan.score) == 1 else list(plan.score)
    if plan.weight:
        out["sample_weight"] = plan.weight
    return out


def _pos_label(pos_label, classes: np.ndarray):
    from .core import default_pos_label

    if pos_label is None:
        return default_pos_label(classes)
    if pos_label not in set(classes.tolist()):
        raise ValidationError(
            f"pos_label {pos_label!r} is not one of the classes {', '.join(map(repr, classes.tolist()))}."
        )
    return pos_label


def evaluate_model_data(
    model: Any,
    data: Any,
    y: Any,
    *,
    task: str,
    ci: float,
    n_boot: int,
    threshold: float,
    sample_weight: Any,
    random_state: Any,
    pos_label: Any,
    progress: Any,
    batch_rows: int | None = None,
):
    """``evaluate(model, data, "target")``: the model applied batch by batch (partition by partition on Dask)."""
    from .core import _guess_predict_task

    t0 = time.perf_counter()
    src = open_source(data, "X")
    ycol = check_column(src, y, "y")
    weight = check_column(src, sample_weight, "sample_weight") if sample_weight is not None else None
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        features = [str(c) for c in names]
        missing = [c for c in features if c not in src.names]
        if missing:
            raise ValidationError(
                f"X lacks the model's feature columns {missing[:10]}; its columns are {', '.join(src.names[:20])}."
            )
    else:
        features = [c for c in src.names if c not in (ycol, weight)]
    if not features:
        raise ValidationError(f"X has no feature column besides the target {ycol!r}; expected at least one.")
    plan = Plan("pairs", ycol, weight=weight, model=model, features=features, frame_features=names is not None)
    first, rest = _first(src, plan.columns(), batch_rows)
    y0 = np.asarray(first[ycol])
    if task == "regression":
        plan.predict_task = "regression"
    elif task != "auto":
        plan.predict_task = "classification"
    else:
        plan.predict_task = _guess_predict_task(model, y0)
    out = model_outputs(plan, first)
    classes = None if out.classes is None else list(out.classes.tolist())
    if out.kind == "value":
        plan.mode = "regression"
    elif out.kind == "label":
        plan.mode = "pairs"
    elif out.kind == "proba" and out.values.ndim == 2 and out.values.shape[1] > 2:
        plan.mode = "multi"
        if classes is None:
            classes = observed_labels(src, ycol)
        if len(classes) != out.values.shape[1]:
            raise ValidationError(
                f"The model's output has {out.values.shape[1]} columns but there are {len(classes)} classes; "
                "expected one column per class."
            )
        plan.classes = classes
    else:
        plan.mode = "binary"
        if classes is None:
            classes = observed_labels(src, ycol)
        if len(classes) != 2:
            raise ValidationError(
                f"The model gives one score per row but y has {len(classes)} classes; expected 2 for a binary task."
            )
        pos_label = _pos_label(pos_label, np.asarray(classes))
        plan.pos_idx = classes.index(pos_label)
        plan.flip = plan.pos_idx == 0  # a model's 1-D output scores the second class
    if plan.mode == "binary":
        plan.edges = binary_edges(threshold)
    elif plan.mode == "regression":
        y0, p0, w0 = plan.arrays(first)
        _regression_edges(plan, y0, p0, w0)
    acc = _run(src, plan, first, rest, batch_rows)
    opts = dict(ci=ci, n_boot=n_boot, threshold=threshold, random_state=random_state, progress=progress)
    rep = finish(
        plan, acc, src, task=task, classes=classes, pos_label=pos_label, score_name="the model's output", **opts
    )
    rep.model = {"type": type(model).__name__, "output": out.source or out.kind, "columns": _columns_used(plan)}
    rep.timing["total_s"] = round(time.perf_counter() - t0, 4)
    return rep


# ------------------------------------------------------------------ reports from merged statistics
def _stream_note(acc, src: Source) -> str:
    unit = "partitions" if src.kind == "dask" else "batches"
    return f"Streamed: {acc.n_rows():,} rows read in {acc.batches:,} {unit}, reduced to mergeable cell statistics."


def _total_weight(acc) -> float:
    if isinstance(acc, BinaryAcc):
        return float(sum(a[1].sum() for a in acc.by_label.values()))
    if isinstance(acc, PairsAcc):
        return float(sum(v[1] for v in acc.cells.values()))
    if isinstance(acc, MultiAcc):
        return float(acc.cells[1].sum())
    return float(acc.sums[1])


def finish(plan: Plan, acc, src: Source, *, task, classes, pos_label, score_name, **opts):
    if acc.n_rows() == 0:
        raise ValidationError("data is empty (no rows); expected at least one row.")
    if not _total_weight(acc) > 0:
        raise ValidationError(f"sample_weight ({plan.weight!r}) sums to 0; expected at least one positive weight.")
    if plan.mode == "regression":
        return _regression(acc, src, **opts)
    if plan.mode == "binary":
        return _binary(plan, acc, src, task=task, classes=classes, pos_label=pos_label, score_name=score_name, **opts)
    if plan.mode == "multi":
        return _multi(acc, src, task=task, **opts)
    return _pairs(acc, src, task=task, classes=classes, pos_label=pos_label, **opts)


def _check_classes(observed: list, classes: list | None, task: str, y_name: str = "y_true") -> np.ndarray:
    if classes is None:
        classes = observed
    known = set(classes)
    unseen = [v for v in observed if v not in known]
    if unseen:
        raise ValidationError(
            f"{y_name} contains labels that are not classes: {', '.join(map(repr, unseen[:5]))}; the classes are "
            f"{', '.join(map(repr, classes[:10]))}."
        )
    if len(observed) < 2:
        raise ValidationError(
            f"{y_name} contains only one class ({observed[0]!r}); expected at least two classes to evaluate a classifier."
        )
    K = len(classes)
    if task == "binary" and K != 2:
        raise ValidationError(f"task='binary' but there are {K} classes; expected exactly 2.")
    if task == "multiclass" and K < 3:
        raise ValidationError(f"task='multiclass' but there are only {K} classes; use task='binary'.")
    return np.asarray(_sorted(list(classes)) if classes is observed else classes, dtype=object)


def _binary(
    plan, acc: BinaryAcc, src, *, task, classes, pos_label, score_name, ci, n_boot, threshold, random_state, progress
):
    from . import _binary as B
    from ._models import ROUNDING_TOL
    from .core import _binary_from_levels, _say_score_scale

    observed = _sorted([lab for lab, a in acc.by_label.items() if a[0].sum() > 0])
    cls = _check_classes(observed, classes, task)
    if len(cls) != 2:
        raise ValidationError(
            f"y_true holds {len(cls)} classes ({', '.join(map(repr, cls.tolist()[:10]))}) but y_score names one "
            "score column; expected 2 classes, or one score column per class."
        )
    cls = _typed(cls)
    pos = _pos_label(pos_label, cls)
    pos_idx = int(cls.tolist().index(pos))
    proba = acc.lo >= -ROUNDING_TOL and acc.hi <= 1.0 + ROUNDING_TOL
    thr = B.threshold_on_scale(threshold, proba)
    lv = acc.levels(pos, proba)
    notes = [
        _stream_note(acc, src)
        + f" Scores fall into {acc.C:,} fixed cells (grids uniform on [0, 1], in logit and in log-magnitude, with "
        "the threshold and calibration edges exact): confusion counts, "
        "log loss, Brier score and calibration error are exact; ROC AUC, average precision and KS count scores "
        f"in one cell as ties (within {BINNED_TOL:g} of the in-memory values)."
    ]
    if acc.passes > 1:
        notes.append(
            f"Scores were packed into few cells: the data was read {acc.passes} times, splitting the cells "
            "holding most (positive, negative) pairs."
        )
    bound = tie_bound(acc)
    if bound > BINNED_TOL:
        notes.append(
            f"Scores are packed into few cells: ROC AUC is within {bound:.2g} of its exact value (pairs in one "
            "cell count as ties); average precision and KS may be off by as much. Evaluate in memory, or "
            "rescale the scores, for exact values."
        )
    if not proba:
        notes.append(
            "Scores are decision values, not probabilities: log loss, Brier score and calibration are "
            "not computed; the threshold applies to logit(threshold)."
        )
    rep = _binary_from_levels(
        lv,
        thr,
        proba,
        True,
        cls,
        pos,
        pos_idx,
        notes,
        n=acc.n_rows(),
        rows=None,
        ci=ci,
        n_boot=n_boot,
        threshold=threshold,
        random_state=random_state,
        progress=progress,
        streamed=True,
    )
    kind = "proba" if proba else "decision"
    _say_score_scale(rep, kind, np.array([acc.lo, acc.hi]), acc.outside if proba else 0, score_name)
    rep.model = {"output": kind}
    return rep


def _typed(cls: np.ndarray) -> np.ndarray:
    """Classes as a plain NumPy array (integers stay integers)."""
    vals = cls.tolist()
    try:
        arr = np.asarray(vals)
    except Exception:  # noqa: BLE001 - mixed types stay objects
        return cls
    if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    return arr if arr.dtype.kind != "O" else cls


def _pairs(acc: PairsAcc, src, *, task, classes, pos_label, ci, n_boot, threshold, random_state, progress):
    from . import _binary as B
    from . import _multiclass as M
    from .core import _binary_from_levels

    observed = _sorted(list({t for t, _ in acc.cells} | {p for _, p in acc.cells}))
    true_seen = _sorted(list({t for t, p in acc.cells}))
    cls = _check_classes(true_seen, classes if classes is not None else observed, task)
    cls = _typed(cls)
    unknown = [p for _, p in acc.cells if p not in set(cls.tolist())]
    if unknown:
        raise ValidationError(f"y_pred contains labels that are not classes: {', '.join(map(repr, unknown[:5]))}.")
    K = len(cls)
    index = {c: i for i, c in enumerate(cls.tolist())}
    T = np.zeros((3, K * K))
    for (t, p), v in acc.cells.items():
        T[:, index[t] * K + index[p]] += v
    note = _stream_note(acc, src) + " Labels only: every count is exact."
    if K == 2:
        pos = _pos_label(pos_label, cls)
        pi = index[pos]
        ni = 1 - pi
        # level 0: predicted negative, level 1: predicted positive
        cnt = np.array([T[0, pi * 2 + ni] + T[0, ni * 2 + ni], T[0, pi * 2 + pi] + T[0, ni * 2 + pi]])
        pos_w = np.array([T[1, pi * 2 + ni], T[1, pi * 2 + pi]])
        neg_w = np.array([T[1, ni * 2 + ni], T[1, ni * 2 + pi]])
        pos_c = np.array([T[0, pi * 2 + ni], T[0, pi * 2 + pi]])
        keep = cnt > 0
        lv = B.Levels(
            np.array([0.0, 1.0])[keep], pos_w[keep], neg_w[keep], cnt[keep], pos_c[keep], np.empty(0, dtype=np.intp)
        )
        if acc.weighted:
            lv.sq = (
                np.array([T[2, ni * 2 + ni], T[2, ni * 2 + pi]])[keep],
                np.array([T[2, pi * 2 + ni], T[2, pi * 2 + pi]])[keep],
            )
        notes = [
            note,
            "Only predicted labels were available: ROC AUC, average precision, KS, log loss, Brier score "
            "and calibration need scores.",
        ]
        return _binary_from_levels(
            lv,
            0.5,
            False,
            False,
            cls,
            pos,
            pi,
            notes,
            n=acc.n_rows(),
            rows=None,
            ci=ci,
            n_boot=n_boot,
            threshold=threshold,
            random_state=random_state,
            progress=progress,
            streamed=True,
        )
    cy, cp = np.repeat(np.arange(K), K), np.tile(np.arange(K), K)
    stat = M.cell_stat(cy, cp, K)
    cm = T[1].reshape(K, K)
    point = {k: float(v[0]) for k, v in M._confusion_metrics(cm[None]).items()}
    notes = [
        note,
        "Only predicted labels were available: ROC AUC, average precision, log loss, Brier score and "
        "calibration need class probabilities.",
    ]
    return _multi_report(
        stat, point, T, K * K, cm, cls, notes, acc, ci=ci, n_boot=n_boot, random_state=random_state, progress=progress
    )


def _multi(acc: MultiAcc, src, *, task, ci, n_boot, threshold, random_state, progress):
    from . import _multiclass as M

    K, nq = acc.K, acc.nq
    cells = acc.cells
    cm = cells[1].reshape(K, K, nq).sum(axis=2)
    counts_cm = cells[0].reshape(K, K, nq).sum(axis=2)
    true_counts = counts_cm.sum(axis=1)
    observed = [c for c, t in zip(acc.classes, true_counts) if t > 0]
    _check_classes(observed, acc.classes, task)
    cls = _typed(np.asarray(acc.classes, dtype=object))
    point = {k: float(v[0]) for k, v in M._confusion_metrics(cm[None]).items()}
    aucs, aps = [], []
    n = counts_cm.sum()
    bound = 0.0
    for k in range(K):
        if true_counts[k] == 0 or true_counts[k] == n:
            continue
        neg, pos = acc.grid[k]
        if neg.sum() > 0 and pos.sum() > 0:
            bound = max(bound, float((neg * pos).sum() / (2 * neg.sum() * pos.sum())))
        keep = (neg + pos) > 0
        a, p = M._auc_ap(neg[keep][None], pos[keep][None])
        aucs.append(a[0])
        aps.append(p[0])
    T = cells[1].sum()
    point["roc_auc"] = float(np.mean(aucs))
    point["pr_auc"] = float(np.mean(aps))
    point["log_loss"] = float(cells[3].sum() / T)
    point["brier_score_loss"] = float(cells[4].sum() / T)
    point["calibration_error"] = float(np.abs(acc.cal[1] - acc.cal[2]).sum() / T)
    live = cells[0] > 0
    idx = np.flatnonzero(live)
    wsum = cells[1, live]

    def mean(i):
        return np.divide(cells[i, live], wsum, out=np.zeros(len(idx)), where=wsum > 0)

    cy = idx // (K * nq)
    cp = (idx // nq) % K
    S = np.stack([mean(7 + k) for k in range(K)], axis=1)
    stat = M.cell_stat(cy, cp, K, S, mean(3), mean(4), mean(5), mean(6))
    notes = [
        _stream_note(acc, src)
        + f" The confusion matrix, log loss, Brier score and calibration error are exact; one-vs-rest ROC AUC "
        f"and average precision count probabilities within one of {acc.G:,} fixed cells per class as ties (within "
        f"{BINNED_TOL:g} of the in-memory values); the bootstrap draws {len(idx):,} cells (true class, predicted "
        "class, bin of the true class's probability), shifted to the point values."
    ]
    if bound > BINNED_TOL:
        notes.append(
            f"Class probabilities are packed into few cells: one-vs-rest ROC AUC is within {bound:.2g} of its exact "
            "value (pairs in one cell count as ties); evaluate in memory for exact values."
        )
    Tm = np.stack([cells[0, live], cells[1, live], cells[2, live]])
    rep = _multi_report(
        stat,
        point,
        Tm,
        len(idx),
        cm,
        cls,
        notes,
        acc,
        ci=ci,
        n_boot=n_boot,
        random_state=random_state,
        progress=progress,
        cal=acc.cal,
    )
    c = acc.cal
    nz = c[0] > 0
    rep.calibration = {
        "prob_pred": (c[1][nz] / c[0][nz]).tolist(),
        "prob_true": (c[2][nz] / c[0][nz]).tolist(),
        "weight": c[0][nz].tolist(),
        "n_bins": 10,
        "kind": "top-label",
    }
    rep.model = {"output": "proba"}
    return rep


def _multi_report(stat, point, T, C, cm, cls, notes, acc, *, ci, n_boot, random_state, progress, cal=None):
    from .bootstrap import bias_correct, bootstrap_cells
    from .core import BIAS_NOTE, BIASED, CALIBRATED_NOTE, MULTI_ORDER, _counts, _interval_metrics
    from .report import EvaluationReport

    res = None
    corrected: list = []
    if n_boot:
        res = bootstrap_cells(
            stat,
            None,
            C,
            n_boot=n_boot,
            ci=ci,
            random_state=random_state,
            point=point,
            progress=progress,
            counts=T[0],
            totals=T[1] if acc.weighted else None,
            sq_totals=T[2] if acc.weighted else None,
        )
        corrected = bias_correct(res, BIASED)
        if corrected:
            notes.append(BIAS_NOTE)
        if "calibration_error" in corrected and cal is not None:
            rng = np.random.default_rng([2, int(random_state) if isinstance(random_state, (int, np.integer)) else 0])
            z = rng.standard_normal((max(n_boot, 200), 10)) * np.sqrt(cal[3])
            null = np.abs(z).sum(axis=1) / float(cal[0].sum())
            if point["calibration_error"] <= float(np.quantile(null, ci)):
                res.low["calibration_error"] = 0.0
                notes.append(CALIBRATED_NOTE.format(ci=ci))
    rep = EvaluationReport(
        task="multiclass",
        n_rows=acc.n_rows(),
        ci=ci,
        n_boot=n_boot,
        threshold=None,
        metrics=_interval_metrics(res, point, MULTI_ORDER),
        classes=cls.tolist(),
        method=None if res is None else res.method,
        binned=True,
        notes=notes,
    )
    if res is not None:
        rep.interval_notes.update({k: "bias-corrected" for k in corrected})
    rep.confusion = {"labels": cls.tolist(), "matrix": _counts(cm.tolist())}
    rep._dists = None if res is None else res.distributions
    return rep


def _regression(acc: RegAcc, src, *, ci, n_boot, threshold, random_state, progress):
    from . import _regression as R
    from .bootstrap import bootstrap_moments, percentile_interval
    from .core import REG_ORDER, _interval_metrics
    from .report import EvaluationReport

    if not acc.sums[1] > 0:
        raise ValidationError("sample_weight sums to 0; expected at least one positive weight.")
    point = acc.point()
    res = None
    notes = [
        _stream_note(acc, src) + " Point values are exact; residual quantiles and the histogram are from a uniform "
        f"sample of {min(SAMPLE_ROWS, acc.n_rows()):,} rows."
    ]
    if n_boot:
        counts, means, roots, n_tail = acc.plan()
        res = bootstrap_moments(
            R.stat_from_sums,
            counts,
            means,
            roots,
            n_boot=n_boot,
            ci=ci,
            random_state=random_state,
            point=point,
            progress=progress,
        )
        seed = (
            random_state
            if isinstance(random_state, np.random.Generator)
            else np.random.default_rng(None if random_state is None else [int(random_state), 1])
        )
        a = acc.top_abs
        n = acc.n_rows()
        u = seed.random(n_boot)
        J = np.floor(-n * np.expm1(np.log(u) / n)).astype(np.int64)
        res.low["max_error"], res.high["max_error"] = percentile_interval(a[np.clip(J, 0, len(a) - 1)], ci)
        notes.append(
            f"The bootstrap draws {len(counts):,} cells: the {n_tail} rows in the tails of any loss term one by one "
            "(exact), the others grouped into bins of target x residual (edges from the first batch) that keep the "
            "mean and covariance of their terms; the max error interval is drawn exactly from the order "
            "statistics of |residual|."
        )
    rep = EvaluationReport(
        task="regression",
        n_rows=acc.n_rows(),
        ci=ci,
        n_boot=n_boot,
        threshold=None,
        metrics=_interval_metrics(res, point, REG_ORDER),
        method=None if res is None else res.method,
        binned=True,
        notes=notes,
    )
    rep.residuals = acc.residual_summary()
    rep._dists = None if res is None else res.distributions  # type: ignore[assignment]
    rep.model = {"output": "value"}
    return rep
