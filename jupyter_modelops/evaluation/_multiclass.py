"""Multiclass classification: exact point values and a cell bootstrap.

Point values are computed exactly from the rows (and equal scikit-learn's).
For the bootstrap, rows are grouped into cells:

* small data (``rows`` draws): one cell per row, so the bootstrap is exact;
* labels only: cells are (true class, predicted class), exact;
* large data with probabilities: cells are (true class, predicted class,
  quantile bin of the probability given to the true class). Each cell keeps
  its exact sums for log loss and Brier score and the mean probability of
  every class; one-vs-rest ROC AUC, average precision and the top-label
  calibration error are computed from those means, and their binning bias is
  removed by the shift of :func:`~.bootstrap.bootstrap_cells`. Confusion
  metrics stay exact.
"""

from __future__ import annotations

import numpy as np

N_CAL_BINS = 10
MAX_CELLS = 1024
#: With row draws, one cell per row up to this many rows (exact); binned cells beyond.
MAX_ROW_CELLS = 20_000


def _cal_bin(conf):
    edges = np.linspace(0.0, 1.0, N_CAL_BINS + 1)
    return np.searchsorted(edges[1:-1], conf)


def point_values(yt: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, K: int, w: np.ndarray | None) -> dict:
    """Exact metrics; ``yt`` and ``pred`` are class indices in ``range(K)``."""
    W = np.ones(len(yt)) if w is None else w
    cm = np.bincount(yt * K + pred, weights=W, minlength=K * K).reshape(K, K)
    out = _confusion_metrics(cm[None])
    out = {k: float(v[0]) for k, v in out.items()}
    if proba is not None:
        from . import _binary as B

        aucs, aps = [], []
        for k in range(K):
            pos = yt == k
            if not pos.any() or pos.all():
                continue
            lv = B.make_levels(pos, proba[:, k], w)
            both = np.concatenate([lv.neg, lv.pos])[None, :]
            a, p = _auc_ap(both[:, : len(lv.score)], both[:, len(lv.score) :])
            aucs.append(a[0])
            aps.append(p[0])
        out["roc_auc"] = float(np.mean(aucs))
        out["pr_auc"] = float(np.mean(aps))
        eps = np.finfo(np.float64).eps
        p_true = proba[np.arange(len(yt)), yt]
        loss = -np.log(np.clip(p_true, eps, 1 - eps))
        onehot = np.zeros_like(proba)
        onehot[np.arange(len(yt)), yt] = 1.0
        brier = ((onehot - proba) ** 2).sum(axis=1)
        conf = proba.max(axis=1)
        correct = (pred == yt).astype(np.float64)
        T = W.sum()
        out["log_loss"] = float(np.average(loss, weights=w))
        out["brier_score_loss"] = float(np.average(brier, weights=w))
        D = np.bincount(_cal_bin(conf), weights=W * (conf - correct), minlength=N_CAL_BINS)
        out["calibration_error"] = float(np.abs(D).sum() / T)
    return out


def _confusion_metrics(cm: np.ndarray) -> dict:
    """Metrics from a stack of confusion matrices ``(b, K, K)`` (rows = true)."""
    diag = np.diagonal(cm, axis1=1, axis2=2)
    true = cm.sum(axis=2)
    predicted = cm.sum(axis=1)
    T = true.sum(axis=1)
    present = (true + predicted) > 0  # scikit-learn's labels: seen in y_true or y_pred
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(predicted > 0, diag / predicted, 0.0)
        rec = np.where(true > 0, diag / true, 0.0)
        f1 = np.where(true + predicted > 0, 2 * diag / (true + predicted), 0.0)
        npres = present.sum(axis=1)
        out = {"accuracy": diag.sum(axis=1) / T}
        has_true = true > 0
        out["balanced_accuracy"] = np.where(has_true, rec, 0.0).sum(axis=1) / has_true.sum(axis=1)
        for name, m in (("precision", prec), ("recall", rec), ("f1", f1)):
            out[f"{name}_macro"] = np.where(present, m, 0.0).sum(axis=1) / npres
            out[f"{name}_weighted"] = (m * true).sum(axis=1) / T
    return out


def _auc_ap(NEG: np.ndarray, POS: np.ndarray):
    """ROC AUC and average precision from (b, levels) weights, levels ascending by score."""
    P = POS.sum(axis=1)
    N = NEG.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cumneg = np.cumsum(NEG, axis=1)
        auc = np.einsum("ij,ij->i", cumneg - 0.5 * NEG, POS) / (P * N)
        POSr = POS[:, ::-1]
        tpd = np.cumsum(POSr, axis=1)
        denom = tpd + np.cumsum(NEG[:, ::-1], axis=1)
        prec = np.divide(tpd, denom, out=np.zeros_like(tpd), where=denom > 0)
        ap = np.einsum("ij,ij->i", POSr, prec) / P
    bad = (P <= 0) | (N <= 0)
    return np.where(bad, np.nan, auc), np.where(bad, np.nan, ap)


def cells(yt, pred, proba, K: int, *, rows_mode: bool):
    """Cell id per row, number of cells, ``stat(W)``, and whether cells are binned."""
    n = len(yt)
    if proba is None:
        cell = yt * K + pred
        C = K * K
        cy, cp = np.repeat(np.arange(K), K), np.tile(np.arange(K), K)
        binned = False
    else:
        eps = np.finfo(np.float64).eps
        p_true = proba[np.arange(n), yt]
        if rows_mode and n <= MAX_ROW_CELLS:
            cell = np.arange(n)
            C = n
            binned = False
        else:
            nq = max(1, MAX_CELLS // (K * K))
            q = np.zeros(n, dtype=np.int64)
            for k in range(K):
                m = yt == k
                if m.any():
                    r = np.argsort(np.argsort(p_true[m], kind="stable"), kind="stable")
                    q[m] = (r * nq) // m.sum()
            key = (yt * K + pred) * nq + q
            uniq, cell = np.unique(key, return_inverse=True)
            C = len(uniq)
            binned = True
        cnt = np.bincount(cell, minlength=C).astype(np.float64)

        def cmean(v):
            return np.bincount(cell, weights=v, minlength=C) / np.maximum(cnt, 1)

        cy = np.bincount(cell, weights=yt, minlength=C) / np.maximum(cnt, 1)
        cy = np.rint(cy).astype(np.int64)
        cp = np.rint(cmean(pred)).astype(np.int64)
        S = np.stack([cmean(proba[:, k]) for k in range(K)], axis=1)
        loss = cmean(-np.log(np.clip(p_true, eps, 1 - eps)))
        onehot = np.zeros_like(proba)
        onehot[np.arange(n), yt] = 1.0
        brier = cmean(((onehot - proba) ** 2).sum(axis=1))
        conf_row = proba.max(axis=1)
        conf = cmean(conf_row)
        dcal = cmean(conf_row - (pred == yt))
        return cell, C, cell_stat(cy, cp, K, S, loss, brier, conf, dcal), binned
    return cell, C, cell_stat(cy, cp, K), binned


def cell_stat(cy, cp, K: int, S=None, loss=None, brier=None, conf=None, dcal=None):
    """``stat(W)`` over cells with true class ``cy`` and predicted class ``cp`` (exact confusion metrics).

    With probabilities, each cell also carries the mean probability of every class ``S`` (C, K) and the mean
    log loss, Brier term, top-label confidence and ``confidence - correct`` of its rows.
    """
    C = len(cy)
    extra = None
    if S is not None:
        cb = _cal_bin(conf)
        M = np.zeros((C, N_CAL_BINS))
        M[np.arange(C), cb] = 1.0
        orders = []
        for k in range(K):
            o = np.argsort(S[:, k], kind="stable")
            s = S[o, k]
            new = np.empty(C, dtype=bool)
            new[0] = True
            new[1:] = s[1:] != s[:-1]
            orders.append((o, np.flatnonzero(new), cy[o] == k))
        extra = (loss, brier, dcal, M, orders)
    key = cy * K + cp  # confusion-matrix entry of each cell
    korder = np.argsort(key, kind="stable")
    ksorted = key[korder]
    kstarts = np.flatnonzero(np.concatenate([[True], ksorted[1:] != ksorted[:-1]]))
    kvals = ksorted[kstarts]

    def stat(W: np.ndarray) -> dict:
        b = W.shape[0]
        cm = np.zeros((b, K * K))
        cm[:, kvals] = np.add.reduceat(W[:, korder], kstarts, axis=1)
        cm = cm.reshape(b, K, K)
        out = _confusion_metrics(cm)
        if extra is not None:
            loss, brier, dcal, M, orders = extra
            T = W.sum(axis=1)
            aucs, aps = [], []
            for o, starts, is_k in orders:
                Wo = W[:, o]
                POS = Wo * is_k
                NEG = Wo - POS
                if len(starts) < len(o):  # tied scores: merge them into one level
                    POS = np.add.reduceat(POS, starts, axis=1)
                    NEG = np.add.reduceat(NEG, starts, axis=1)
                a, p = _auc_ap(NEG, POS)
                aucs.append(a)
                aps.append(p)
            out["roc_auc"] = np.nanmean(np.stack(aucs), axis=0) if K else np.nan
            out["pr_auc"] = np.nanmean(np.stack(aps), axis=0)
            out["log_loss"] = (W @ loss) / T
            out["brier_score_loss"] = (W @ brier) / T
            out["calibration_error"] = np.abs((W * dcal) @ M).sum(axis=1) / T
        return out

    return stat


def calibration_null(proba, w, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Top-label calibration errors of a perfectly calibrated model with these probabilities.

    Under calibration a row's top label is right with probability ``conf``, so
    a bin's sum of ``w * (conf - correct)`` has mean 0 and variance
    ``sum w**2 conf (1 - conf)``; drawn as a normal (``O(bins)`` per draw).
    """
    conf = proba.max(axis=1)
    w2 = np.ones(len(conf)) if w is None else w * w
    var = np.bincount(_cal_bin(conf), weights=w2 * conf * (1.0 - conf), minlength=N_CAL_BINS)
    T = float(len(conf) if w is None else w.sum())
    z = rng.standard_normal((n_draws, N_CAL_BINS)) * np.sqrt(var)
    return np.abs(z).sum(axis=1) / T


def calibration(proba, yt, pred, w) -> dict:
    conf = proba.max(axis=1)
    W = np.ones(len(conf)) if w is None else w
    cb = _cal_bin(conf)
    tot = np.bincount(cb, weights=W, minlength=N_CAL_BINS)
    ps = np.bincount(cb, weights=W * conf, minlength=N_CAL_BINS)
    ts = np.bincount(cb, weights=W * (pred == yt), minlength=N_CAL_BINS)
    nz = tot > 0
    return {
        "prob_pred": (ps[nz] / tot[nz]).tolist(),
        "prob_true": (ts[nz] / tot[nz]).tolist(),
        "weight": tot[nz].tolist(),
        "n_bins": N_CAL_BINS,
        "kind": "top-label",
    }
