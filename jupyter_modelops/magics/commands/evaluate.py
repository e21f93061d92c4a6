"""Evaluate a model on data: metrics with bootstrap confidence intervals, plots, gates.

Example: %modelops evaluate model X_test y_test --check "f1>=0.8" -o report
"""

from __future__ import annotations

from typing import Any

SUMMARY = "metrics with confidence intervals, plots and gates for a model on data"


def add_arguments(parser) -> None:
    parser.add_argument("model", help="variable holding the model (or a function of X)")
    parser.add_argument("X", help="variable holding the inputs")
    parser.add_argument("y", help="variable holding the true labels or values")
    parser.add_argument("--ci", type=float, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates, 0 for none (default 1000)")
    parser.add_argument("--threshold", type=float, default=0.5, help="decision threshold (binary, default 0.5)")
    parser.add_argument("--task", default="auto", help="auto, binary, multiclass or regression")
    parser.add_argument("--check", action="append", default=[], metavar="GATE",
                        help='a gate such as "f1>=0.8" (repeatable; judged on the interval bound)')
    parser.add_argument("--on", choices=("bound", "value"), default="bound",
                        help="judge gates on the interval bound (default) or the point value")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap")
    parser.add_argument("--interactive", action="store_true", help="show a threshold slider (binary)")


def run(args: Any, shell: Any) -> Any:
    from ...evaluation import evaluate
    from .._util import resolve

    model = resolve(shell, args.model, "model")
    X = resolve(shell, args.X, "X")
    y = resolve(shell, args.y, "y")
    report = evaluate(model, X, y, task=args.task, ci=args.ci, n_boot=args.n_boot, threshold=args.threshold,
                      random_state=args.seed)
    if args.check:
        report.check(args.check, on=args.on)
    if args.interactive:
        from ...evaluation.widget import threshold_explorer

        return threshold_explorer(report)
    return report
