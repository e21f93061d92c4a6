"""Evaluate a saved model on a data file: metrics with bootstrap confidence intervals.

The model is a .skops, .joblib/.pkl (with --trust) or .onnx file; the data is
CSV or Parquet with the target in --target. Exit code 0 when every gate
passes (or none is given), 1 when a gate fails, 2 for bad input.

Example:
  modelops evaluate --model model.skops --data test.parquet --target churned \\
      --check "roc_auc>=0.8" --html report.html
"""

from __future__ import annotations

from typing import Any

SUMMARY = "evaluate a model file on a data file (metrics with confidence intervals, gates)"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, metavar="FILE", help="model file: .skops, .joblib/.pkl or .onnx")
    parser.add_argument("--data", required=True, metavar="FILE", help="data file: .csv or .parquet")
    parser.add_argument("--target", required=True, metavar="COLUMN", help="column holding the true labels/values")
    parser.add_argument("--task", default="auto", help="auto, binary, multiclass or regression")
    parser.add_argument("--ci", type=float, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates, 0 for none (default 1000)")
    parser.add_argument("--threshold", type=float, default=0.5, help="decision threshold (binary, default 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap")
    parser.add_argument("--check", action="append", default=[], metavar="GATE",
                        help='a gate such as "f1>=0.8" (repeatable); exit code 1 when one fails')
    parser.add_argument("--on", choices=("bound", "value"), default="bound",
                        help="judge gates on the interval bound (default) or the point value")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (no progress bar)")
    parser.add_argument("--html", metavar="OUT", help="also write the HTML report to this file")
    parser.add_argument("--trust", action="store_true",
                        help="allow loading pickle-based model files (.joblib, .pkl) you trust")


def run(args: Any) -> int:
    from ...evaluation import evaluate, load_model
    from ...gates import parse_gates
    from .._io import emit, read_table, split_target

    parse_gates(args.check)  # fail fast on a malformed gate, before any work
    model = load_model(args.model, trusted=args.trust)
    X, y = split_target(read_table(args.data), args.target)
    report = evaluate(model, X, y, task=args.task, ci=args.ci, n_boot=args.n_boot, threshold=args.threshold,
                      random_state=args.seed, progress=False if args.json else None)
    gates = report.check(args.check, on=args.on) if args.check else None
    emit(report, as_json=args.json, html=args.html)
    return 0 if gates is None or gates.passed else 1
