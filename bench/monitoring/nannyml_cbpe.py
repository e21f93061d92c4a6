"""NannyML's CBPE on the bench's data; runs in its own venv (bench/.venvs/nannyml).

Reads bench/.work/monitoring/cbpe.npz (per world: reference scores and labels,
analysis scores in 1,000-row chunks) and prints JSON: per world, per chunk,
the estimated ROC AUC and accuracy with their sampling errors, and the time.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd


def main(path: str) -> None:
    import nannyml as nml

    data = np.load(path)
    out = []
    for w in range(int(data["worlds"])):
        rs, ry, a_s = data[f"ref_scores_{w}"], data[f"ref_labels_{w}"], data[f"scores_{w}"]
        ref = pd.DataFrame({"p": rs, "y_pred": (rs >= 0.5).astype(int), "y_true": ry.astype(int)})
        ana = pd.DataFrame({"p": a_s, "y_pred": (a_s >= 0.5).astype(int)})
        est = nml.CBPE(
            y_pred_proba="p",
            y_pred="y_pred",
            y_true="y_true",
            metrics=["roc_auc", "accuracy"],
            chunk_size=1000,
            problem_type="classification_binary",
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(ref)
            t0 = time.perf_counter()
            df = est.estimate(ana).to_df()
            seconds = time.perf_counter() - t0
        df = df[df[("chunk", "period")] == "analysis"]
        out.append(
            {
                "seconds": seconds,
                "chunks": len(df),
                **{
                    f"{m}_{k}": df[(m, k)].astype(float).tolist()
                    for m in ("roc_auc", "accuracy")
                    for k in ("value", "sampling_error")
                },
            }
        )
    print(json.dumps({"nannyml": nml.__version__, "worlds": out}))


if __name__ == "__main__":
    main(sys.argv[1])
