"""Compare a current data file with a reference data file or a saved profile, column by column.

The reference is CSV, Parquet or a profile JSON written with --save-profile
(compare later without keeping the raw reference). With --model, prediction
drift is reported too. Exit code 0 when every gate passes (or none is given),
1 when a gate fails, 2 for bad input.

Example:
  modelops drift --reference train.parquet --save-profile ref.json
  modelops drift --reference ref.json --current week42.parquet --check "drift_share<=0.3" --html drift.html
"""

from __future__ import annotations

from typing import Any

SUMMARY = "data and prediction drift between two data files (or a saved profile)"


def add_arguments(parser) -> None:
    parser.add_argument("--reference", required=True, metavar="FILE", help="reference: .csv, .parquet or profile .json")
    parser.add_argument("--current", metavar="FILE", help="current data: .csv or .parquet")
    parser.add_argument("--model", metavar="FILE", help="model file (adds prediction drift)")
    parser.add_argument("--target", metavar="COLUMN", help="drop this column (the label) from both sides")
    parser.add_argument("--columns", metavar="LIST", help="comma-separated columns to compare (default all)")
    parser.add_argument("--methods", default="psi,ks,wasserstein,js,chi2", metavar="LIST",
                        help="comma-separated methods (default psi,ks,wasserstein,js,chi2)")
    parser.add_argument("--drift-share", type=float, default=0.5,
                        help="share of drifted columns that makes dataset drift (default 0.5)")
    parser.add_argument("--save-profile", metavar="OUT", help="write the reference profile (JSON) to this file")
    parser.add_argument("--check", action="append", default=[], metavar="GATE",
                        help='a gate such as "drift_share<=0.3" (repeatable); exit code 1 when one fails')
    parser.add_argument("--json", action="store_true", help="print the report as JSON (no progress bar)")
    parser.add_argument("--html", metavar="OUT", help="also write the HTML report to this file")
    parser.add_argument("--trust", action="store_true", help="allow loading pickle-based model files you trust")


def run(args: Any) -> int:
    from ...drift_detection import Profile, drift, profile
    from ...exceptions import ValidationError
    from .._io import emit, read_table

    model = None
    if args.model:
        from ...evaluation import load_model

        model = load_model(args.model, trusted=args.trust)
    if args.reference.lower().endswith(".json"):
        ref = Profile.load(args.reference)
    else:
        ref = _drop(read_table(args.reference, what="reference"), args.target)
    if args.save_profile:
        if isinstance(ref, Profile):
            raise ValidationError("--save-profile needs raw reference data; the reference is already a profile.")
        prof = profile(ref, model=model)
        prof.save(args.save_profile)
        if not args.current:
            print(f"{prof._summary()} -> {args.save_profile}")
            return 0
    if not args.current:
        raise ValidationError("--current is missing; pass the data file to compare with the reference.",
                              hint="Or pass --save-profile OUT to only write the reference profile.")
    cur = _drop(read_table(args.current, what="current data"), args.target)
    cols = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    report = drift(ref, cur, columns=cols, methods=args.methods, model=model, drift_share=args.drift_share,
                   progress=False if args.json else None)
    gates = report.check(args.check) if args.check else None
    emit(report, as_json=args.json, html=args.html)
    return 0 if gates is None or gates.passed else 1


def _drop(df, target):
    if target and target in df.columns:
        return df.drop(columns=[target])
    return df
