"""Drift on the wire: running histograms of a served version's inputs and prediction, as Prometheus gauges.

When a model directory holds the version's reference profile (artifact role
``drift-profile``), the server keeps, per input column named in the profile and
for the prediction, the counts of the answered rows on the profile's own bins
over a sliding window (the last ``rows`` rows, and no row older than
``seconds``). ``/metrics`` then shows each column's PSI and Jensen-Shannon
distance against the reference, the prediction's PSI, the window's rows, and
the state of a :class:`~jupyter_modelops.monitoring.SequentialDrift` alarm fed
with consecutive windows of ``rows`` rows.

The batcher hands each answered batch to :meth:`LiveDrift.tap`, which only
keeps a reference to the batch's merged tensors;
once a chunk of rows is pending they are copied into preallocated staging
arrays (``np.concatenate(..., out=...)``), the bins are found per column with
one comparison per edge rank over all numeric columns, and the sliding window is a ring of
per-chunk counts added to and subtracted from the window's totals.
Everything runs on the event loop thread: no locks. A signature whose single
2-D input has no feature names maps its columns to the profile's in order.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from typing import Any

import numpy as np

log = logging.getLogger("jupyter_modelops.serving")

PROFILE_ROLE = "drift-profile"
#: largest profile file read from a model directory
MAX_PROFILE_BYTES = 32 * 1024 * 1024
#: the outputs of a served classifier that hold its class probabilities
PROBABILITY_OUTPUTS = ("predict_proba", "probabilities")
#: chunks of the sliding window (its granularity: the window moves by rows / CHUNKS rows)
CHUNKS = 8
PSI_EPS = 1e-4
#: completed alarm windows kept for the next /metrics scrape before the alarm is advanced without one
MAX_QUEUED_WINDOWS = 64


class _Watched:
    """One watched column: where its values are staged, its raw profile bins and reference proportions."""

    __slots__ = ("name", "kind", "stage", "col", "edges", "cats", "ref", "nbins", "merge")

    def __init__(
        self,
        name: str,
        kind: str,
        stage: int,
        col: int,
        ref: np.ndarray,
        *,
        edges: np.ndarray | None = None,
        cats: dict[str, int] | None = None,
    ) -> None:
        self.name, self.kind, self.stage, self.col = name, kind, stage, col
        self.edges, self.cats = edges, cats
        self.ref = ref
        self.nbins = int(ref.size)
        self.merge: np.ndarray | None = None  # raw bin -> the alarm's merged bin


def _ref_bins(summary: dict) -> tuple[str, np.ndarray, np.ndarray | None, dict[str, int] | None] | None:
    """``(kind, reference counts, edges, categories)`` of one profile column (None when it has no bins)."""
    if not isinstance(summary, dict) or not summary.get("n"):
        return None
    if summary.get("kind") == "numeric":
        edges = np.asarray(summary.get("edges") or [], dtype=float)
        counts = np.asarray(summary.get("counts") or [], dtype=float)
        if (
            counts.size != edges.size + 1
            or counts.size < 2
            or not np.isfinite(edges).all()
            or (np.diff(edges) <= 0).any()
            or not np.isfinite(counts).all()
            or (counts < 0).any()
        ):
            return None
        return "numeric", counts, edges, None
    raw = summary.get("counts")
    if not isinstance(raw, dict) or not raw:
        return None
    cats = {str(k): i for i, k in enumerate(raw)}
    counts = np.asarray([float(v) for v in raw.values()] + [0.0])  # last bin: categories the reference never had
    if not np.isfinite(counts).all() or (counts < 0).any():
        return None
    return "categorical", counts, None, cats


def read_profile(spec: Any) -> dict | None:
    """The reference profile of a model directory (checked: it comes from a file), or None when it has none."""
    art = (spec.artifacts or {}).get(PROFILE_ROLE)
    if not art:
        return None
    path = (spec.directory / str(art.get("path", ""))).resolve()
    if spec.directory.resolve() not in path.parents:
        log.warning("live drift off for %s: the profile path leaves the model directory", spec.name)
        return None
    try:
        if path.stat().st_size > MAX_PROFILE_BYTES:
            log.warning("live drift off for %s: the profile is larger than %d bytes", spec.name, MAX_PROFILE_BYTES)
            return None
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("live drift off for %s: the profile cannot be read (%s)", spec.name, exc)
        return None
    if not isinstance(doc, dict) or doc.get("kind") != "modelops-profile" or not isinstance(doc.get("columns"), dict):
        log.warning("live drift off for %s: %s is not a reference profile", spec.name, path.name)
        return None
    return doc


class LiveDrift:
    """Sliding-window drift of one served version against its reference profile.

    Parameters
    ----------
    name, version : str
        The served model and version (the gauges' labels).
    profile : dict
        The reference profile (``Profile.to_dict()``).
    inputs, outputs : list of TensorSpec
        The served signature.
    feature_names : list of str, optional
        Names of the columns of a single 2-D input.
    rows : int, default=1000
        Rows of the sliding window, and of each window the alarm adds.
    seconds : float, default=3600
        Rows older than this leave the window (0 = by rows only).
    alpha, horizon : float, int
        The alarm's false-alarm probability over ``horizon`` windows (see :class:`SequentialDrift`).
    calibrate : {"thread", "now", "off"}
        When the alarm's threshold is simulated: in a background thread (the gauges appear once done),
        at once, or never (no alarm).
    """

    def __init__(
        self,
        name: str,
        version: str,
        profile: dict,
        inputs: list,
        outputs: list,
        feature_names: list[str] | None = None,
        *,
        rows: int = 1000,
        seconds: float = 3600.0,
        alpha: float = 0.05,
        horizon: int = 720,
        calibrate: str = "thread",
    ) -> None:
        self.name, self.version = name, version
        self.labels = f'model="{_esc(name)}",version="{_esc(version)}"'
        self.chunk = max(1, math.ceil(int(rows) / CHUNKS))
        self.rows = self.chunk * CHUNKS  # the window holds CHUNKS chunks
        self.seconds = float(seconds)
        self.profile = profile
        pcols = profile["columns"]
        # staging: one float (or object) matrix per watched tensor, chunk rows deep
        self.stage_src: list[tuple[str, str, int | None]] = []  # (role, tensor, width; None for a 1-D tensor)
        self.stages: list[np.ndarray] = []
        self.cols: list[_Watched] = []

        def stage_for(role: str, spec: Any, width: int | None) -> int:
            key = (role, spec.name)
            for i, (r, t, _) in enumerate(self.stage_src):
                if (r, t) == key:
                    return i
            dtype = object if spec.datatype == "BYTES" else np.float64
            self.stage_src.append((role, spec.name, width))
            cap = 2 * self.chunk + 64
            self.stages.append(np.empty((cap,) if width is None else (cap, width), dtype=dtype))
            return len(self.stages) - 1

        def watch(cname: str, summary: Any, role: str, spec: Any, col: int, width: int | None = None) -> None:
            bins = _ref_bins(summary)
            if bins is None:
                return
            kind, ref, edges, cats = bins
            if kind == "numeric" and spec.datatype == "BYTES":
                return
            self.cols.append(_Watched(cname, kind, stage_for(role, spec, width), col, ref, edges=edges, cats=cats))

        single = len(inputs) == 1 and len(inputs[0].shape) == 2
        if single and not feature_names and inputs[0].shape[1] == len(pcols):
            feature_names = list(pcols)  # unnamed columns: the profile's, in order (as it was computed)
        if single and feature_names and inputs[0].shape[1] in (-1, len(feature_names)):
            for j, f in enumerate(feature_names):
                if str(f) in pcols:
                    watch(str(f), pcols[str(f)], "input", inputs[0], j, len(feature_names))
        else:
            for spec in inputs:
                if spec.name in pcols and (len(spec.shape) == 1 or tuple(spec.shape[1:]) == (1,)):
                    watch(spec.name, pcols[spec.name], "input", spec, 0, _vector_width(spec))
        self.n_features = len(self.cols)
        self.pred: _Watched | None = None
        pred = profile.get("prediction")
        if pred is not None:
            self._watch_prediction(pred, outputs, watch)
        self.max_bins = max((c.nbins for c in self._all()), default=1)
        n = len(self._all())
        # numeric columns of one staged tensor are binned together: one bincount for all of them
        self.groups: list[tuple[int, np.ndarray, np.ndarray, _Merged]] = []
        for k in range(len(self.stages)):
            idx = [j for j, c in enumerate(self._all()) if c.stage == k and c.kind == "numeric"]
            if not idx:
                continue
            self.groups.append(
                (
                    k,
                    np.asarray(idx),
                    np.asarray([self._all()[j].col for j in idx]),
                    _Merged([self._all()[j].edges for j in idx]),
                )
            )
        self.ring = np.zeros((2 * CHUNKS, n, self.max_bins), dtype=np.int64)  # room for chunks cut short by /metrics
        self.ring_rows = np.zeros(2 * CHUNKS, dtype=np.int64)
        self.ring_t = np.zeros(2 * CHUNKS)
        self.head = 0  # next slot
        self.tail = 0  # oldest slot in the window
        self.total = np.zeros((n, self.max_bins), dtype=np.int64)
        self.window_n = 0
        self.pos = 0  # rows of the pending requests
        self.pending: list[tuple[dict, dict]] = []  # answered requests not binned yet (references, no copies)
        self.seen = 0
        # the alarm: consecutive windows of `rows` rows on its merged bins
        self.alarm_counts = np.zeros((len(self.cols), self.max_bins), dtype=np.int64)
        self.alarm_n = 0
        self.alarm_queue: list[dict[str, np.ndarray]] = []  # completed windows the alarm has not seen yet
        self.detector: Any = None
        self.started = time.time()
        if self.cols and calibrate != "off":
            args = (alpha, horizon)
            if calibrate == "now":
                self._calibrate(*args)
            else:
                threading.Thread(target=self._calibrate, args=args, name="modelops-live-drift", daemon=True).start()

    def _watch_prediction(self, pred: dict, outputs: list, watch: Any) -> None:
        before = len(self.cols)
        if pred.get("kind") == "numeric":
            byname = {o.name: o for o in outputs}
            for name in PROBABILITY_OUTPUTS:  # a binary classifier: the positive class's probability
                o = byname.get(name)
                if o is not None and len(o.shape) == 2 and o.shape[1] == 2 and o.datatype != "BYTES":
                    watch("prediction", pred, "output", o, 1, 2)
                    break
            else:
                for o in outputs:  # a regressor: its one numeric output
                    if o.datatype != "BYTES" and (len(o.shape) == 1 or tuple(o.shape[1:]) == (1,)):
                        watch("prediction", pred, "output", o, 0, _vector_width(o))
                        break
        else:
            for o in outputs:  # a multiclass classifier: its labels
                if o.name not in PROBABILITY_OUTPUTS and (len(o.shape) == 1 or tuple(o.shape[1:]) == (1,)):
                    watch("prediction", pred, "output", o, 0, _vector_width(o))
                    break
        if len(self.cols) > before:
            self.pred = self.cols.pop()

    def _calibrate(self, alpha: float, horizon: int) -> None:
        try:
            from ..monitoring.alarms import SequentialDrift

            det = SequentialDrift(
                self.profile, alpha=alpha, horizon=horizon, window_rows=self.rows, columns=[c.name for c in self.cols]
            )
            by_name = {c.name: c for c in det.cols}
            for w in self.cols:
                dc = by_name.get(w.name)
                if dc is None:
                    continue
                if w.kind == "numeric":
                    upper = np.append(w.edges, np.inf)
                    w.merge = np.searchsorted(np.asarray(dc.edges, dtype=float), upper, side="left")
                else:
                    keep = {c: i for i, c in enumerate(dc.categories or [])}
                    other = len(dc.p) - 1
                    order = sorted(w.cats, key=w.cats.get)
                    w.merge = np.asarray([keep.get(c, other) for c in order] + [other])
            det.reset_at = self.started
            self.detector = det
        except Exception as exc:  # noqa: BLE001 - the gauges of the window stay; only the alarm is missing
            log.warning("no live drift alarm for %s:%s: %s", self.name, self.version, exc)

    # -- request path -------------------------------------------------------------------
    def observe(self, inputs: dict, outputs: dict, nrows: int) -> None:
        """Note an answered request (a reference to its tensors: no copy); its rows are binned with a chunk's."""
        self.pending.append((inputs, outputs))
        self.pos += nrows
        if self.pos >= self.chunk:
            self.flush()

    def tap(self, items: list, inputs: dict, outputs: dict) -> None:
        """The batcher's tap: an answered batch, its merged input and output arrays (see :meth:`observe`)."""
        self.observe(inputs, outputs, sum(i.request.nrows for i in items))

    def _stage(self, checked: bool = False) -> int:
        """Copy the pending requests' tensors into the preallocated staging arrays; returns the rows staged."""
        pending, self.pending = self.pending, []
        self.pos = 0
        m = 0
        for k, (role, tensor, _) in enumerate(self.stage_src):
            arrs = [(ins if role == "input" else outs).get(tensor) for ins, outs in pending]
            try:
                m = sum(map(len, arrs))
                if m > self.stages[k].shape[0]:  # a large request: grow the staging array
                    self.stages[k] = np.empty((m, *self.stages[k].shape[1:]), dtype=self.stages[k].dtype)
                np.concatenate(arrs, axis=0, out=self.stages[k][:m], casting="unsafe")
            except (TypeError, ValueError):  # a missing tensor, or an open width that is not the signature's
                return 0 if checked else self._stage_checked(pending)
        return m

    def _stage_checked(self, pending: list) -> int:
        """:meth:`_stage` for pending requests of which some do not fit the staging arrays: those are skipped."""

        def fits(a: Any, width: int | None) -> bool:
            return a is not None and (a.ndim == 1 if width is None else a.ndim == 2 and a.shape[1] == width)

        keep = [
            (ins, outs)
            for ins, outs in pending
            if all(fits((ins if role == "input" else outs).get(t), w) for role, t, w in self.stage_src)
        ]
        if not keep:
            return 0
        self.pending = keep
        return self._stage(checked=True)

    def flush(self, now: float | None = None) -> None:
        """Bin the pending rows into a new chunk of the window; drop chunks beyond its rows or its age."""
        now = time.time() if now is None else now
        m = self._stage() if self.pending else 0
        if m:
            slot = self.head
            counts = self.ring[slot]
            counts[:] = 0
            width = self.max_bins + 1  # one more bin per column: missing values, dropped
            for k, idx, cols, merged in self.groups:
                st = self.stages[k]
                v = st[:m, cols] if st.ndim == 2 else st[:m, None]
                b = merged.bins(v, self.max_bins)
                b += np.arange(len(idx)) * width
                counts[idx] = np.bincount(b.ravel(), minlength=len(idx) * width).reshape(len(idx), width)[:, :-1]
            for j, c in enumerate(self._all()):
                if c.kind != "numeric":
                    st = self.stages[c.stage]
                    counts[j, : c.nbins] = _bin(c, st[:m, c.col] if st.ndim == 2 else st[:m])
            self.ring_rows[slot] = m
            self.ring_t[slot] = now
            self.total += counts
            self.window_n += m
            self.seen += m
            self.head = (slot + 1) % self.ring.shape[0]
            self._alarm_add(counts, m)
        self._evict(now)

    def _all(self) -> list[_Watched]:
        return self.cols + ([self.pred] if self.pred is not None else [])

    def _evict(self, now: float) -> None:
        size = self.ring.shape[0]
        while self.tail != self.head:
            rows = int(self.ring_rows[self.tail])
            old = self.seconds > 0 and now - self.ring_t[self.tail] > self.seconds
            full = (self.head + 1) % size == self.tail  # keep one free slot for the next chunk
            if not (old or full or self.window_n - rows >= self.rows):
                break
            self.total -= self.ring[self.tail]
            self.window_n -= rows
            self.tail = (self.tail + 1) % size

    def _alarm_add(self, counts: np.ndarray, m: int) -> None:
        if self.detector is None:
            return
        self.alarm_counts += counts[: len(self.cols)]
        self.alarm_n += m
        if self.alarm_n < self.rows:
            return
        window = {}
        for j, c in enumerate(self.cols):
            if c.merge is not None:
                window[c.name] = np.bincount(
                    c.merge, weights=self.alarm_counts[j, : c.nbins], minlength=int(c.merge.max()) + 1
                )
        self.alarm_counts[:] = 0
        self.alarm_n = 0
        if window:
            self.alarm_queue.append(window)
            if len(self.alarm_queue) >= MAX_QUEUED_WINDOWS:
                self._run_alarm()

    def _run_alarm(self) -> None:
        """Advance the alarm over the windows completed since the last scrape (all at once: off the request path)."""
        queue, self.alarm_queue = self.alarm_queue, []
        if queue and self.detector is not None:
            self.detector.run({name: np.stack([w[name] for w in queue]) for name in queue[0]})

    # -- /metrics ---------------------------------------------------------------------------
    def snapshot(self) -> dict:
        """The window's drift now: per-feature PSI and Jensen-Shannon, prediction PSI, rows, alarm."""
        self.flush()
        feats = {}
        for j, c in enumerate(self.cols):
            cur = self.total[j, : c.nbins]
            feats[c.name] = (_psi(c.ref, cur), _js(c.ref, cur))
        pred = None
        if self.pred is not None:
            pred = _psi(self.pred.ref, self.total[len(self.cols), : self.pred.nbins])
        out: dict[str, Any] = {"features": feats, "prediction_psi": pred, "rows": self.window_n, "seen": self.seen}
        det = self.detector
        if det is not None:
            self._run_alarm()
            st = det.status()
            out.update(
                alarm=bool(st.alarm),
                statistic=float(st.statistic),
                threshold=float(st.threshold),
                seconds_since_reset=float(st.seconds_since_reset or 0.0),
                windows=int(st.windows_since_reset),
            )
        return out

    def metrics_lines(self) -> list[str]:
        s = self.snapshot()
        lab = self.labels
        out = {k: [] for k in ("psi", "js", "pred", "rows", "alarm", "stat", "thr", "secs")}
        for f, (psi, js) in s["features"].items():
            fl = f'{lab},feature="{_esc(f)}"'
            out["psi"].append(f"modelops_feature_drift_psi{{{fl}}} {_num(psi)}")
            out["js"].append(f"modelops_feature_drift_js{{{fl}}} {_num(js)}")
        if s["prediction_psi"] is not None:
            out["pred"].append(f"modelops_prediction_drift_psi{{{lab}}} {_num(s['prediction_psi'])}")
        out["rows"].append(f"modelops_drift_window_rows{{{lab}}} {s['rows']}")
        if "alarm" in s:
            out["alarm"].append(f"modelops_drift_alarm{{{lab}}} {int(s['alarm'])}")
            out["stat"].append(f"modelops_drift_statistic{{{lab}}} {_num(s['statistic'])}")
            out["thr"].append(f"modelops_drift_threshold{{{lab}}} {_num(s['threshold'])}")
            out["secs"].append(f"modelops_drift_seconds_since_reset{{{lab}}} {s['seconds_since_reset']:.3f}")
        return out  # type: ignore[return-value]


_HELP = {
    "psi": ("modelops_feature_drift_psi", "PSI of a feature over the sliding window against the reference profile."),
    "js": ("modelops_feature_drift_js", "Jensen-Shannon distance of a feature over the sliding window (natural log)."),
    "pred": ("modelops_prediction_drift_psi", "PSI of the prediction over the sliding window against the reference."),
    "rows": ("modelops_drift_window_rows", "Rows in the sliding drift window."),
    "alarm": ("modelops_drift_alarm", "1 when the sequential drift alarm has fired since its last reset."),
    "stat": ("modelops_drift_statistic", "The sequential drift alarm's statistic (largest CUSUM over columns)."),
    "thr": ("modelops_drift_threshold", "The statistic's threshold for the alarm's false-alarm budget."),
    "secs": ("modelops_drift_seconds_since_reset", "Seconds since the sequential drift alarm was last reset."),
}


def render(trackers: list["LiveDrift"]) -> bytes:
    """The gauges of every served version with a profile, in the Prometheus text format."""
    if not trackers:
        return b""
    per = [t.metrics_lines() for t in trackers]
    lines: list[str] = []
    for key, (name, text) in _HELP.items():
        body = [line for p in per for line in p[key]]  # type: ignore[index]
        if body:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge", *body]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def for_model(spec: Any, runtime: Any, settings: Any) -> LiveDrift | None:
    """The live drift of one loaded model (None when it is off or the directory has no profile)."""
    if not getattr(settings, "live_drift", True):
        return None
    profile = read_profile(spec)
    if profile is None:
        return None
    try:
        live = LiveDrift(
            spec.name,
            str(spec.version),
            profile,
            list(runtime.inputs),
            list(runtime.outputs),
            spec.feature_names,
            rows=settings.live_drift_rows,
            seconds=settings.live_drift_seconds,
            alpha=settings.live_drift_alpha,
            horizon=settings.live_drift_horizon,
        )
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("live drift off for %s: the profile does not fit the signature (%s)", spec.name, exc)
        return None
    if not live.cols and live.pred is None:
        log.info("live drift off for %s: no served column is in the profile", spec.name)
        return None
    return live


# -- helpers ---------------------------------------------------------------------------------
class _Merged:
    """The bins of several numeric columns at once: one comparison per edge rank over all columns.

    Column ``j``'s ``k``-th edge sits in row ``k`` of a (edges x columns) table, padded with ``+inf``
    for columns with fewer edges; a value's bin is the number of its column's edges below it, which is
    ``np.searchsorted(edges, value, side="left")``: the profile's bins ``(-inf, e1], (e1, e2], ...``.
    For a chunk of rows this is a few whole-array operations instead of one binary search per value.
    """

    def __init__(self, edges: list[np.ndarray]) -> None:
        k = max(e.size for e in edges)
        self.table = np.full((k, len(edges)), np.inf)
        for j, e in enumerate(edges):
            self.table[: e.size, j] = e

    def bins(self, v: np.ndarray, missing: int) -> np.ndarray:
        """Bin of each value of ``v`` (rows x columns); NaN gets ``missing``."""
        b = np.zeros(v.shape, dtype=np.intp)
        for row in self.table:
            b += v > row
        nan = np.isnan(v)
        if nan.any():
            b[nan] = missing
        return b


def _vector_width(spec: Any) -> int | None:
    """The staging width of a one-value-per-row tensor: None for shape [-1], 1 for [-1, 1]."""
    return None if len(spec.shape) == 1 else 1


def _bin(c: _Watched, v: np.ndarray) -> np.ndarray:
    if c.kind == "numeric":
        v = v.astype(np.float64, copy=False)
        idx = np.searchsorted(c.edges, v, side="left")  # (-inf, e1], (e1, e2], ...: as the profile counts
        idx = idx[v == v]  # NaN is missing, not a bin
        return np.bincount(idx, minlength=c.nbins)[: c.nbins]
    other = c.nbins - 1
    out = np.zeros(c.nbins, dtype=np.int64)
    for x in v:
        if x is None:
            continue
        if isinstance(x, bytes):
            x = x.decode("utf-8", "replace")
        elif isinstance(x, (float, np.floating)):
            if x != x:
                continue
            if float(x).is_integer():
                x = int(x)
        out[c.cats.get(str(x), other)] += 1
    return out


def _psi(ref: np.ndarray, cur: np.ndarray) -> float:
    n = cur.sum()
    if n == 0:
        return math.nan
    r = np.maximum(ref / max(ref.sum(), 1.0), PSI_EPS)
    c = np.maximum(cur / n, PSI_EPS)
    return float(np.sum((c - r) * np.log(c / r)))


def _js(ref: np.ndarray, cur: np.ndarray) -> float:
    n = cur.sum()
    if n == 0 or ref.sum() == 0:
        return math.nan
    p = ref / ref.sum()
    q = cur / n
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(math.sqrt(max(0.0, (kl_p + kl_q) / 2.0)))


def _num(x: float) -> str:
    return "NaN" if x != x else f"{x:.6g}"


def _esc(s: str) -> str:
    return str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
