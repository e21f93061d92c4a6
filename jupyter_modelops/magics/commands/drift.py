"""Compare current data with a reference (data or a saved profile), column by column.

Example: %modelops drift X_train X_new --model model -o d
"""

from __future__ import annotations

from typing import Any

SUMMARY = "data and prediction drift: PSI, KS, Wasserstein, Jensen-Shannon, chi2"


def add_arguments(parser) -> None:
    parser.add_argument("reference", help="variable holding the reference data or a Profile")
    parser.add_argument("current", help="variable holding the current data")
    parser.add_argument("--model", metavar="M", help="variable holding the model (adds prediction drift)")
    parser.add_argument("--columns", metavar="LIST", help="comma-separated columns to compare (default all)")
    parser.add_argument("--methods", metavar="LIST", default="psi,ks,wasserstein,js,chi2",
                        help="comma-separated methods (default psi,ks,wasserstein,js,chi2)")
    parser.add_argument("--drift-share", type=float, default=0.5,
                        help="share of drifted columns that makes dataset drift (default 0.5)")
    parser.add_argument("--check", action="append", default=[], metavar="GATE",
                        help='a gate such as "drift_share<=0.3" or "psi.age<0.1" (repeatable)')


def run(args: Any, shell: Any) -> Any:
    from ...drift_detection import drift
    from .._util import resolve

    ref = resolve(shell, args.reference, "reference data")
    cur = resolve(shell, args.current, "current data")
    model = resolve(shell, args.model, "model") if args.model else None
    cols = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    report = drift(ref, cur, columns=cols, methods=args.methods, model=model, drift_share=args.drift_share)
    if args.check:
        report.check(args.check)
    return report
