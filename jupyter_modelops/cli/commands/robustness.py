"""Perturb a data file's inputs at several severities and measure how a saved model's predictions move.

The model is a .skops, .joblib/.pkl (with --trust) or .onnx file; the data is
CSV or Parquet. With --target, the metric drop (accuracy or MAE) is reported
with paired bootstrap intervals. Exit code 0 when every gate passes (or none
is given), 1 when a gate fails, 2 for bad input.

Example:
  modelops robustness --model model.skops --data test.parquet --target churned \\
      --perturb noise,missing --impute mean --check "flip_rate<=0.05 at noise 0.05"
"""

from __future__ import annotations

from typing import Any

SUMMARY = "robustness of a model file under perturbations (flip rate, metric drop, gates)"


def add_arguments(parser) -> None:
    parser.add_argument("--model", required=True, metavar="FILE", help="model file: .skops, .joblib/.pkl or .onnx")
    parser.add_argument("--data", required=True, metavar="FILE", help="data file: .csv or .parquet")
    parser.add_argument("--target", metavar="COLUMN", help="column holding the true labels/values (optional)")
    parser.add_argument("--perturb", default="default", metavar="NAMES",
                        help="comma-separated perturbations (default: the default suite)")
    parser.add_argument("--severities", metavar="LIST", help="comma-separated severities for every perturbation")
    parser.add_argument("--impute", metavar="HOW", help="mean, median or most_frequent for models that cannot take NaN")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    parser.add_argument("--ci", type=float, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--check", action="append", default=[], metavar="GATE",
                        help='a gate such as "flip_rate<=0.05 at noise 0.05" (repeatable); exit code 1 when one fails')
    parser.add_argument("--json", action="store_true", help="print the report as JSON (no progress bar)")
    parser.add_argument("--html", metavar="OUT", help="also write the HTML report to this file")
    parser.add_argument("--trust", action="store_true", help="allow loading pickle-based model files you trust")


def run(args: Any) -> int:
    from ...evaluation import load_model
    from ...magics.commands.robustness import _floats
    from ...robustness_testing import robustness
    from .._io import emit, read_table, split_target

    model = load_model(args.model, trusted=args.trust)
    data = read_table(args.data)
    X, y = split_target(data, args.target) if args.target else (data, None)
    report = robustness(model, X, y, perturbations=args.perturb, severities=_floats(args.severities),
                        n_boot=args.n_boot, ci=args.ci, random_state=args.seed, impute=args.impute,
                        progress=False if args.json else None)
    gates = report.check(args.check) if args.check else None
    emit(report, as_json=args.json, html=args.html)
    return 0 if gates is None or gates.passed else 1
