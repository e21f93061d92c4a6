"""Parity between a model and its export: max |delta| per output, label agreement, worst rows."""

from __future__ import annotations

from typing import Any

WORST = 5


def _is_label(arr: Any) -> bool:
    import numpy as np

    return arr.dtype.kind in "iubOUS" or arr.dtype == np.bool_


def _rows(arr: Any, n_rows: int) -> Any:
    return arr.reshape(n_rows, -1) if n_rows and arr.size % n_rows == 0 else arr.reshape(1, -1)


def _short(values: Any) -> Any:
    vals = [v.item() if hasattr(v, "item") else v for v in values]
    vals = [round(v, 6) if isinstance(v, float) else v for v in vals]
    return vals[0] if len(vals) == 1 else vals[:8]


def compare(
    reference: dict[str, Any], exported: dict[str, Any], *, rtol: float, atol: float, n_rows: int, target: Any = None
) -> dict:
    """Compare outputs by position (the export's outputs are named like the reference's).

    A numeric output passes when ``|export - original| <= atol + rtol * |original|``
    everywhere (NaN equal to NaN). A label output passes when the labels agree on
    every row, except rows where the original's two top probabilities are within
    the measured probability difference of each other (a tie the export may break
    either way); those are counted as ``ties``.
    """
    import numpy as np

    outputs: dict[str, dict] = {}
    worst: list[dict] = []
    got_list = list(exported.values())
    names = list(reference)
    if len(got_list) != len(names):
        return {
            "rows": n_rows,
            "passed": False,
            "max_abs_diff": None,
            "label_agreement": None,
            "outputs": {},
            "worst_rows": [],
            "accuracy": None,
            "problem": f"the export has {len(got_list)} outputs, the original {len(names)}",
        }
    probs = None
    for name, got in zip(names, got_list):
        a = np.asarray(reference[name])
        b = np.asarray(got)
        if a.size != b.size:
            outputs[name] = {
                "kind": "shape",
                "passed": False,
                "problem": f"shape {list(b.shape)} instead of {list(a.shape)}",
            }
            continue
        b = b.reshape(a.shape)
        if _is_label(a):
            ar, br = _rows(a, n_rows), _rows(b.astype(a.dtype) if a.dtype.kind != "O" else b, n_rows)
            same = (ar == br).all(axis=1)
            outputs[name] = {
                "kind": "label",
                "agreement": float(same.mean()) if same.size else 1.0,
                "mismatched_rows": int((~same).sum()),
                "_same": same,
                "_a": ar,
                "_b": br,
            }
        else:
            af, bf = a.astype(np.float64), b.astype(np.float64)
            diff = np.abs(af - bf)
            both_nan = np.isnan(af) & np.isnan(bf)
            diff = np.where(both_nan, 0.0, diff)
            diff = np.where(np.isnan(diff), np.inf, diff)
            bad = diff > atol + rtol * np.abs(np.nan_to_num(af))
            rdiff, rbad = _rows(diff, n_rows), _rows(bad, n_rows)
            row_max = rdiff.max(axis=1) if rdiff.size else np.zeros(0)
            bad_rows = rbad.any(axis=1)
            entry = {
                "kind": "numeric",
                "max_abs_diff": float(diff.max()) if diff.size else 0.0,
                "mean_abs_diff": float(diff.mean()) if diff.size else 0.0,
                "mismatched_rows": int(bad_rows.sum()),
                "passed": not bool(bad_rows.any()),
            }
            ar2 = _rows(af, n_rows)
            if ar2.ndim == 2 and ar2.shape[1] > 1:
                entry["argmax_agreement"] = float((ar2.argmax(1) == _rows(bf, n_rows).argmax(1)).mean())
                if probs is None:
                    probs = (ar2, float(diff.max()) if diff.size else 0.0)
            outputs[name] = entry
            for i in np.argsort(-row_max)[:WORST]:
                if row_max[i] > 0:
                    worst.append(
                        {
                            "row": int(i),
                            "output": name,
                            "original": _short(ar2[i]),
                            "export": _short(_rows(bf, n_rows)[i]),
                            "abs_diff": float(row_max[i]),
                            "within_tolerance": not bool(bad_rows[i]),
                        }
                    )
    label_agreement = None
    accuracy = None
    for name, entry in outputs.items():
        if entry.get("kind") != "label":
            continue
        same, ar, br = entry.pop("_same"), entry.pop("_a"), entry.pop("_b")
        ties = np.zeros_like(same)
        if probs is not None and len(probs[0]) == len(same):
            top2 = np.sort(probs[0], axis=1)[:, -2:]
            ties = (top2[:, 1] - top2[:, 0]) <= 2 * probs[1] + atol
        unexplained = ~same & ~ties
        entry["ties"] = int((~same & ties).sum())
        entry["passed"] = not bool(unexplained.any())
        label_agreement = entry["agreement"] if label_agreement is None else min(label_agreement, entry["agreement"])
        for i in np.flatnonzero(~same)[:WORST]:
            worst.append(
                {
                    "row": int(i),
                    "output": name,
                    "original": _short(ar[i]),
                    "export": _short(br[i]),
                    "abs_diff": None,
                    "within_tolerance": bool(ties[i]),
                }
            )
        if target is not None:
            y = np.asarray(target).reshape(-1)
            if len(y) == len(same):
                acc_o = float((ar[:, 0].astype(str) == y.astype(str)).mean())
                acc_e = float((br[:, 0].astype(str) == y.astype(str)).mean())
                accuracy = {"original": acc_o, "export": acc_e, "delta": acc_e - acc_o}
    if label_agreement is None:
        ag = [e["argmax_agreement"] for e in outputs.values() if "argmax_agreement" in e]
        label_agreement = min(ag) if ag else None
    numeric = [e["max_abs_diff"] for e in outputs.values() if e.get("kind") == "numeric"]
    worst.sort(key=lambda w: (w["within_tolerance"], -(w["abs_diff"] if w["abs_diff"] is not None else np.inf)))
    return {
        "rows": n_rows,
        "passed": all(e.get("passed", False) for e in outputs.values()),
        "max_abs_diff": max(numeric) if numeric else 0.0,
        "label_agreement": label_agreement,
        "outputs": outputs,
        "worst_rows": worst[:WORST],
        "accuracy": accuracy,
    }


def describe_failure(role: str, dataset: str, report: dict, *, rtol: float, atol: float) -> str:
    """One sentence naming what differs, by how much, on how many rows, and the worst rows."""
    if report.get("problem"):
        return f"The {role} export does not match the original on the {dataset}: {report['problem']}."
    parts = []
    for name, e in report["outputs"].items():
        if e.get("passed"):
            continue
        if e["kind"] == "numeric":
            parts.append(
                f"output '{name}' differs by up to {e['max_abs_diff']:.3g} on "
                f"{e['mismatched_rows']} of {report['rows']} rows"
            )
        elif e["kind"] == "label":
            parts.append(
                f"output '{name}' disagrees on {e['mismatched_rows']} of {report['rows']} rows "
                f"({e['agreement']:.1%} agree)"
            )
        else:
            parts.append(f"output '{name}' has {e['problem']}")
    rows = "; ".join(
        f"row {w['row']} {w['output']}: original {w['original']} vs export {w['export']}"
        for w in report["worst_rows"][:3]
        if not w["within_tolerance"]
    )
    return (
        f"The {role} export differs from the original on the {dataset} beyond tolerance "
        f"(rtol={rtol:g}, atol={atol:g}): {', '.join(parts)}; worst rows: {rows}."
    )
