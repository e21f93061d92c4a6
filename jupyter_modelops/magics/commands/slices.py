"""Evaluate the model per segment of one or more columns and flag the significantly worse segments.

Example: %modelops slices model X_test y_test --by age,region -o s
"""

from __future__ import annotations

from typing import Any

SUMMARY = "per-segment accuracy/MAE with intervals; flags worse segments (BH-controlled)"


def add_arguments(parser) -> None:
    parser.add_argument("model", help="variable holding the model")
    parser.add_argument("X", help="variable holding the inputs")
    parser.add_argument("y", help="variable holding the true labels or values")
    parser.add_argument("--by", metavar="COLS", help="comma-separated columns to slice by (default all)")
    parser.add_argument("--bins", type=int, default=4, help="quantile bins per numeric column (default 4)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    parser.add_argument("--alpha", type=float, default=0.05, help="false discovery rate for flagging (default 0.05)")
    parser.add_argument("--check", action="append", default=[], metavar="GATE",
                        help='a gate such as "worst_accuracy>=0.8" (repeatable)')


def run(args: Any, shell: Any) -> Any:
    from ...robustness_testing import slices
    from .._util import resolve

    model = resolve(shell, args.model, "model")
    X = resolve(shell, args.X, "X")
    y = resolve(shell, args.y, "y")
    by = [c.strip() for c in args.by.split(",") if c.strip()] if args.by else None
    report = slices(model, X, y, by=by, bins=args.bins, n_boot=args.n_boot, alpha=args.alpha)
    if args.check:
        report.check(args.check)
    return report
