"""Perturb the inputs at several severities and show how the model's predictions and accuracy move.

Example: %modelops robustness model X_test y_test --perturb noise,missing --check "flip_rate<=0.05 at noise 0.05" -o rob
"""

from __future__ import annotations

from typing import Any

SUMMARY = "flip rate and metric drop under noise, missing values, unit errors, FGSM/PGD ..."


def add_arguments(parser) -> None:
    parser.add_argument("model", help="variable holding the model (or a function of X)")
    parser.add_argument("X", help="variable holding the inputs")
    parser.add_argument("y", nargs="?", default=None, help="variable holding the true labels or values (optional)")
    parser.add_argument("--perturb", default="default", metavar="NAMES",
                        help="comma-separated perturbations (default: the whole default suite)")
    parser.add_argument("--severities", metavar="LIST", help="comma-separated severities for every perturbation")
    parser.add_argument("--impute", metavar="HOW", help="mean, median or most_frequent: fill injected NaN for "
                        "models that cannot take them")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    parser.add_argument("--ci", type=float, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--check", action="append", default=[], metavar="GATE",
                        help='a gate such as "flip_rate<=0.05 at noise 0.05" (repeatable)')


def run(args: Any, shell: Any) -> Any:
    from ...robustness_testing import robustness
    from .._util import resolve

    model = resolve(shell, args.model, "model")
    X = resolve(shell, args.X, "X")
    y = resolve(shell, args.y, "y") if args.y else None
    report = robustness(model, X, y, perturbations=args.perturb, severities=_floats(args.severities),
                        n_boot=args.n_boot, ci=args.ci, random_state=args.seed, impute=args.impute)
    if args.check:
        report.check(args.check)
    return report


def _floats(text: str | None):
    if not text:
        return None
    from ...exceptions import ValidationError

    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValidationError(f"--severities must be comma-separated numbers such as 0.01,0.1; got {text!r}.") from None
