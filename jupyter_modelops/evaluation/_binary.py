"""Binary classification: exact point values from one sort, a cell bootstrap for intervals.

Rows are sorted once by score and collapsed into *levels* (distinct scores)
holding the weight of negatives and positives. Every metric is a function of
the level table: ROC AUC with ties (trapezoids, as scikit-learn), average
precision (scikit-learn's step sum over distinct thresholds), the KS
statistic, confusion counts at the threshold, log loss (scikit-learn's
clipping), Brier score and the expected calibration error. The same function
runs on a ``(b, cells)`` matrix of bootstrap weights, so all replicates are
computed at once.

When there are too many levels for a fast bootstrap, neighbouring levels are
grouped into score-quantile bins, with the decision threshold and the
calibration bin edges always falling between groups, so that confusion
counts, log loss, Brier score and calibration error stay exact per cell and
only ROC AUC, average precision and KS see the bins as ties (their binning
bias is removed by the shift in :func:`~.bootstrap.bootstrap_cells`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_CAL_BINS = 10
#: Up to this many distinct scores the bootstrap uses them exactly.
MAX_EXACT_LEVELS = 1024
#: Score bins when there are more distinct scores (cells = 2 x bins).
N_SCORE_BINS = 256
#: In ``rows`` mode (small data) distinct scores are used exactly up to this many.
MAX_EXACT_LEVELS_ROWS = 2048


@dataclass
class Levels:
    score: np.ndarray  # distinct scores, ascending
    pos: np.ndarray  # weight of positives at each level
    neg: np.ndarray
    count: np.ndarray  # rows at each level
    pos_count: np.ndarray  # positive rows at each level (== pos without weights)
    order: np.ndarray  # the argsort of the scores
    terms: tuple | None = None  # cached per-level log loss / Brier terms
    cbin: np.ndarray | None = None  # cached calibration bin of each level
    desc: tuple | None = None  # cached cumulative positives / negatives from the top score down
    _lor: np.ndarray | None = None
    sq: tuple | None = None  # (negatives, positives) sum of squared weights at each level (with weights)

    @property
    def level_of_row(self) -> np.ndarray:
        """Level index of every row, in the original row order (computed on first use)."""
        if self._lor is None:
            lor = np.empty(len(self.order), dtype=np.intp)
            lor[self.order] = np.repeat(np.arange(len(self.score)), self.count.astype(np.intp))
            self._lor = lor
        return self._lor

    def cal_bins(self) -> np.ndarray:
        if self.cbin is None:
            self.cbin = cal_bin(self.score)
        return self.cbin


def make_levels(y01: np.ndarray, score: np.ndarray, w: np.ndarray | None) -> Levels:
    n = len(score)
    order = np.argsort(score)
    s = score[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    yy = y01[order]
    count = np.diff(np.append(starts, n)).astype(np.float64)
    pos_count = np.add.reduceat(yy.astype(np.float64), starts)
    if w is None:
        pos = pos_count
        neg = count - pos
    else:
        ww = w[order]
        pos = np.add.reduceat(ww * yy, starts)
        neg = np.add.reduceat(ww, starts) - pos
        w2 = ww * ww
        pos2 = np.add.reduceat(w2 * yy, starts)
        lv = Levels(s[starts], pos, neg, count, pos_count, order)
        lv.sq = (np.add.reduceat(w2, starts) - pos2, pos2)
        return lv
    return Levels(s[starts], pos, neg, count, pos_count, order)


def threshold_on_scale(threshold: float, proba: bool) -> float:
    """A probability threshold on the score scale (logit for decision scores)."""
    if proba:
        return threshold
    return float(np.log(threshold) - np.log1p(-threshold))


def _terms(lv: "Levels"):
    if lv.terms is None:
        lv.terms = _per_level_terms(lv.score, True)
    return lv.terms


def _per_level_terms(score: np.ndarray, proba: bool):
    """Log loss and Brier per unit weight for negatives / positives at each score."""
    if not proba:
        return None
    eps = np.finfo(np.float64).eps
    lpos = -np.log(np.clip(score, eps, 1 - eps))
    lneg = -np.log(np.clip(1 - score, eps, 1 - eps))
    bpos = (1.0 - score) ** 2
    bneg = score**2
    return lpos, lneg, bpos, bneg


def cal_bin(score: np.ndarray) -> np.ndarray:
    """Calibration bin as ``sklearn.calibration.calibration_curve(strategy="uniform")``."""
    edges = np.linspace(0.0, 1.0, N_CAL_BINS + 1)
    return np.searchsorted(edges[1:-1], score)


def make_stat(
    gt: int, G: int, proba: bool, lpos=None, lneg=None, bpos=None, bneg=None, dpos=None, dneg=None, cbin=None
):
    """Build ``stat(W)``: W is ``(b, 2G)`` = negatives of groups 0..G-1 then positives."""
    if proba:
        M = np.zeros((G, N_CAL_BINS))
        M[np.arange(G), cbin] = 1.0

    def stat(W: np.ndarray) -> dict:
        NEG = W[:, :G]
        POS = W[:, G:]
        P = POS.sum(axis=1)
        N = NEG.sum(axis=1)
        T = P + N
        TP = POS[:, gt:].sum(axis=1)
        FP = NEG[:, gt:].sum(axis=1)
        FN = P - TP
        TN = N - FP
        both = (P > 0) & (N > 0)
        out = {}
        with np.errstate(divide="ignore", invalid="ignore"):
            out["accuracy"] = (TP + TN) / T
            out["balanced_accuracy"] = np.where(both, 0.5 * (TP / P + TN / N), np.nan)
            out["precision"] = np.where(TP + FP > 0, TP / (TP + FP), 0.0)
            out["recall"] = np.where(P > 0, TP / P, 0.0)
            out["f1"] = np.where(2 * TP + FP + FN > 0, 2 * TP / (2 * TP + FP + FN), 0.0)
            cumneg = np.cumsum(NEG, axis=1)
            auc = np.einsum("ij,ij->i", cumneg - 0.5 * NEG, POS) / (P * N)
            out["roc_auc"] = np.where(both, auc, np.nan)
            POSr = POS[:, ::-1]
            tpd = np.cumsum(POSr, axis=1)
            fpd = np.cumsum(NEG[:, ::-1], axis=1)
            denom = tpd + fpd
            prec = np.divide(tpd, denom, out=np.zeros_like(tpd), where=denom > 0)
            out["pr_auc"] = np.where(both, np.einsum("ij,ij->i", POSr, prec) / P, np.nan)
            del tpd, fpd, denom, prec, POSr
            cumpos = np.cumsum(POS, axis=1)
            cumpos /= P[:, None]
            cumneg /= N[:, None]
            ks = np.abs(cumpos - cumneg).max(axis=1)
            out["ks_statistic"] = np.where(both, ks, np.nan)
            del cumpos, cumneg
            if proba:
                out["log_loss"] = (NEG @ lneg + POS @ lpos) / T
                out["brier_score_loss"] = (NEG @ bneg + POS @ bpos) / T
                D = (NEG * dneg + POS * dpos) @ M
                out["calibration_error"] = np.abs(D).sum(axis=1) / T
        return out

    return stat


def level_stat(lv: Levels, thr: float, proba: bool):
    """``stat`` on the exact level table (cells = (label, distinct score))."""
    L = len(lv.score)
    gt = int(np.searchsorted(lv.score, thr, side="left"))
    if proba:
        lpos, lneg, bpos, bneg = _terms(lv)
        return make_stat(gt, L, True, lpos, lneg, bpos, bneg, lv.score - 1.0, lv.score, lv.cal_bins()), gt
    return make_stat(gt, L, False), gt


def point_values(lv: Levels, thr: float, proba: bool) -> dict:
    """Exact metrics from the level table (1-D arithmetic; the same formulas as ``make_stat``)."""
    pos, neg, s = lv.pos, lv.neg, lv.score
    P, N = float(pos.sum()), float(neg.sum())
    T = P + N
    gt = int(np.searchsorted(s, thr, side="left"))
    TP, FP = float(pos[gt:].sum()), float(neg[gt:].sum())
    FN, TN = P - TP, N - FP
    out = {
        "accuracy": (TP + TN) / T,
        "balanced_accuracy": 0.5 * (TP / P + TN / N) if P > 0 and N > 0 else float("nan"),
        "precision": TP / (TP + FP) if TP + FP > 0 else 0.0,
        "recall": TP / P if P > 0 else 0.0,
        "f1": 2 * TP / (2 * TP + FP + FN) if 2 * TP + FP + FN > 0 else 0.0,
    }
    if P > 0 and N > 0:
        cumneg = np.cumsum(neg)
        out["roc_auc"] = float((np.dot(cumneg, pos) - 0.5 * np.dot(neg, pos)) / (P * N))
        tpd = np.cumsum(pos[::-1])  # from the top score down, as scikit-learn's curves
        fpd = np.cumsum(neg[::-1])
        lv.desc = (tpd, fpd)
        prec = tpd + fpd
        np.divide(tpd, prec, out=prec, where=prec > 0)
        out["pr_auc"] = float(np.dot(pos[::-1], prec) / P)
        del prec
        d = np.cumsum(pos)
        d *= N
        cumneg *= P
        d -= cumneg  # N * P * (F_pos - F_neg)
        out["ks_statistic"] = float(max(d.max(), -d.min()) / (P * N))
        del d, cumneg
    else:
        out["roc_auc"] = out["pr_auc"] = out["ks_statistic"] = float("nan")
    if proba:
        lpos, lneg, bpos, bneg = _terms(lv)
        out["log_loss"] = float((np.dot(neg, lneg) + np.dot(pos, lpos)) / T)
        out["brier_score_loss"] = float((np.dot(neg, bneg) + np.dot(pos, bpos)) / T)
        D = neg + pos
        D *= s
        D -= pos  # per level: sum of (p - y)
        cb = lv.cal_bins()
        starts = np.flatnonzero(np.concatenate([[True], cb[1:] != cb[:-1]]))
        out["calibration_error"] = float(np.abs(np.add.reduceat(D, starts)).sum() / T)
    return out


def confusion(lv: Levels, thr: float) -> dict:
    gt = int(np.searchsorted(lv.score, thr, side="left"))
    tp = float(lv.pos[gt:].sum())
    fp = float(lv.neg[gt:].sum())
    fn = float(lv.pos[:gt].sum())
    tn = float(lv.neg[:gt].sum())
    return {"tn": tn, "fp": fp, "fn": fn, "tp": tp}


def cells(lv: Levels, thr: float, proba: bool, *, rows_mode: bool):
    """Group of every level, number of groups G (cells = 2G), ``stat`` on cells, and whether binned."""
    L = len(lv.score)
    limit = MAX_EXACT_LEVELS_ROWS if rows_mode else MAX_EXACT_LEVELS
    gt_level = int(np.searchsorted(lv.score, thr, side="left"))
    if L <= limit:
        stat, _ = level_stat(lv, thr, proba)
        group_of_level = np.arange(L)
        G, binned = L, False
    else:
        n = lv.count.sum()
        before = np.cumsum(lv.count) - lv.count
        q = np.floor(before * N_SCORE_BINS / n).astype(np.int64)
        cb = lv.cal_bins() if proba else np.zeros(L, dtype=np.int64)
        brk = np.empty(L, dtype=bool)
        brk[0] = True
        brk[1:] = (q[1:] != q[:-1]) | (cb[1:] != cb[:-1])
        if 0 < gt_level < L:
            brk[gt_level] = True
        group_of_level = np.cumsum(brk) - 1
        G = int(group_of_level[-1]) + 1
        starts = np.flatnonzero(brk)
        gt = int(group_of_level[gt_level]) if gt_level < L else G
        binned = True
        if proba:
            lpos, lneg, bpos, bneg = _terms(lv)

            def gmean(vals, wts):
                num = np.add.reduceat(vals * wts, starts)
                den = np.add.reduceat(wts, starts)
                return np.divide(num, den, out=np.zeros(G), where=den > 0)

            stat = make_stat(
                gt,
                G,
                True,
                gmean(lpos, lv.pos),
                gmean(lneg, lv.neg),
                gmean(bpos, lv.pos),
                gmean(bneg, lv.neg),
                gmean(lv.score - 1.0, lv.pos),
                gmean(lv.score, lv.neg),
                cb[starts],
            )
        else:
            stat = make_stat(gt, G, False)
    return group_of_level, G, stat, binned


def curves(lv: Levels, max_points: int = 200) -> dict:
    """ROC and precision-recall curves (decimated) from the level table."""
    P = lv.pos.sum()
    N = lv.neg.sum()
    tps, fps = lv.desc if lv.desc is not None else (np.cumsum(lv.pos[::-1]), np.cumsum(lv.neg[::-1]))
    L = len(tps)
    i = _decimate_idx(L + 1, max_points)  # ROC points: (0, 0), then one per distinct score from the top
    prev = np.maximum(i - 1, 0)
    fpr = np.where(i == 0, 0.0, fps[prev] / N)
    tpr = np.where(i == 0, 0.0, tps[prev] / P)
    j = _decimate_idx(L, max_points)
    precision = tps[j] / np.maximum(tps[j] + fps[j], 1e-300)
    recall = tps[j] / P
    return {
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
        "pr": {"recall": [0.0] + recall.tolist(), "precision": [float(precision[0])] + precision.tolist()},
        "prevalence": float(P / (P + N)),
    }


def calibration(lv: Levels) -> dict:
    cb = lv.cal_bins()
    w = lv.pos + lv.neg
    tot = np.bincount(cb, weights=w, minlength=N_CAL_BINS)
    ps = np.bincount(cb, weights=w * lv.score, minlength=N_CAL_BINS)
    ts = np.bincount(cb, weights=lv.pos, minlength=N_CAL_BINS)
    nz = tot > 0
    return {
        "prob_pred": (ps[nz] / tot[nz]).tolist(),
        "prob_true": (ts[nz] / tot[nz]).tolist(),
        "weight": tot[nz].tolist(),
        "n_bins": N_CAL_BINS,
    }


def calibration_null(lv: Levels, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Expected calibration errors of a perfectly calibrated model with these scores (consistency resampling).

    Under calibration each row's label is Bernoulli(score), so a calibration
    bin's sum of ``w * (p - y)`` has mean 0 and variance ``sum w**2 p (1 - p)``;
    it is drawn as a normal with that variance (``O(bins)`` per draw).
    """
    s = lv.score
    w2 = lv.count if lv.sq is None else lv.sq[0] + lv.sq[1]
    var = np.bincount(lv.cal_bins(), weights=w2 * s * (1.0 - s), minlength=N_CAL_BINS)
    T = float((lv.pos + lv.neg).sum())
    z = rng.standard_normal((n_draws, N_CAL_BINS)) * np.sqrt(var)
    return np.abs(z).sum(axis=1) / T


def _decimate_idx(n: int, k: int) -> np.ndarray:
    if n <= k:
        return np.arange(n)
    return np.unique(np.concatenate([np.linspace(0, n - 1, k).round().astype(int), [n - 1]]))


def point_values_threshold(lv: Levels, thr: float) -> dict:
    """Threshold-dependent metrics and confusion counts at ``thr`` (point values, O(levels))."""
    c = confusion(lv, thr)
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    P, N = tp + fn, tn + fp
    out = {
        "accuracy": (tp + tn) / (P + N),
        "balanced_accuracy": 0.5 * (tp / P + tn / N) if P > 0 and N > 0 else float("nan"),
        "precision": tp / (tp + fp) if tp + fp > 0 else 0.0,
        "recall": tp / P if P > 0 else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn > 0 else 0.0,
    }
    out.update(c)
    return out
