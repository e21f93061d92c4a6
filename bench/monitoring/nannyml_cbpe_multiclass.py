"""NannyML's multiclass CBPE on the multiclass bench's data; runs in its own venv (bench/.venvs/nannyml).

Reads bench/.work/monitoring/cbpe_multiclass.npz (per case: reference class probabilities and labels,
analysis probabilities in 1,000-row chunks) and prints JSON: per case, per chunk, the estimated accuracy,
macro F1 and macro one-vs-rest ROC AUC with their sampling errors, and the fit and estimate times.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd

METRICS = ("accuracy", "f1", "roc_auc")


def main(path: str) -> None:
    import nannyml as nml

    data = np.load(path)
    out = []
    for c in range(int(data["cases"])):
        rs, ry, a_s = data[f"ref_scores_{c}"], data[f"ref_labels_{c}"], data[f"scores_{c}"]
        k = rs.shape[1]
        cols = {j: f"p{j}" for j in range(k)}
        ref = pd.DataFrame(rs, columns=list(cols.values()))
        ref["y_pred"], ref["y_true"] = rs.argmax(axis=1), ry.astype(int)
        ana = pd.DataFrame(a_s, columns=list(cols.values()))
        ana["y_pred"] = a_s.argmax(axis=1)
        est = nml.CBPE(
            y_pred_proba=cols,
            y_pred="y_pred",
            y_true="y_true",
            metrics=list(METRICS),
            chunk_size=1000,
            problem_type="classification_multiclass",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            est.fit(ref)
            fit_seconds = time.perf_counter() - t0
            t0 = time.perf_counter()
            df = est.estimate(ana).to_df()
            seconds = time.perf_counter() - t0
        df = df[df[("chunk", "period")] == "analysis"]
        out.append(
            {
                "fit_seconds": fit_seconds,
                "seconds": seconds,
                "chunks": len(df),
                **{f"{m}_{v}": df[(m, v)].astype(float).tolist() for m in METRICS for v in ("value", "sampling_error")},
            }
        )
    print(json.dumps({"nannyml": nml.__version__, "cases": out}))


if __name__ == "__main__":
    main(sys.argv[1])
