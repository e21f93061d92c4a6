"""Evaluate a saved model per segment of a data file and flag the significantly worse segments.

Example:
  modelops slices --model model.skops --data test.parquet --target churned --by region,age
"""

from __future__ import annotations

from typing import Any

SUMMARY = "per-segment accuracy/MAE of a model file with intervals; flags worse segments"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, metavar="FILE", help="model file: .skops, .joblib/.pkl or .onnx")
    parser.add_argument("--data", required=True, metavar="FILE", help="data file: .csv or .parquet")
    parser.add_argument("--target", required=True, metavar="COLUMN", help="column holding the true labels/values")
    parser.add_argument("--by", metavar="COLS", help="comma-separated columns to slice by (default all)")
    parser.add_argument("--bins", type=int, default=4, help="quantile bins per numeric column (default 4)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    parser.add_argument("--alpha", type=float, default=0.05, help="false discovery rate for flagging (default 0.05)")
    parser.add_argument("--check", action="append", default=[], metavar="GATE",
                        help='a gate such as "worst_accuracy>=0.8" (repeatable); exit code 1 when one fails')
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--html", metavar="OUT", help="also write the HTML report to this file")
    parser.add_argument("--trust", action="store_true", help="allow loading pickle-based model files you trust")


def run(args: Any) -> int:
    from ...evaluation import load_model
    from ...robustness_testing import slices
    from .._io import emit, read_table, split_target

    model = load_model(args.model, trusted=args.trust)
    X, y = split_target(read_table(args.data), args.target)
    by = [c.strip() for c in args.by.split(",") if c.strip()] if args.by else None
    report = slices(model, X, y, by=by, bins=args.bins, n_boot=args.n_boot, alpha=args.alpha)
    gates = report.check(args.check) if args.check else None
    emit(report, as_json=args.json, html=args.html)
    return 0 if gates is None or gates.passed else 1
