"""Store a model from the notebook as the next version of a name.

Example: %modelops snapshot model --name churn --report report --data X_train --alias staging
"""

from __future__ import annotations

from typing import Any

SUMMARY = "store a model as a new immutable version in the registry"


def add_arguments(parser) -> None:
    parser.add_argument("model", help="variable holding the model")
    parser.add_argument("--name", required=True, help="model name (letters, digits, . _ -)")
    parser.add_argument("--report", help="variable holding an EvaluationReport (metrics and intervals)")
    parser.add_argument("--data", help="variable holding training/reference data (signature, fingerprint)")
    parser.add_argument("--alias", help="point this alias (e.g. staging) at the new version")
    parser.add_argument("--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                        help="a parameter to record (repeatable; JSON values are parsed)")
    parser.add_argument("--tag", action="append", default=[], help="a tag, 'key' or 'key=value' (repeatable)")
    parser.add_argument("--notes", help="free text")
    parser.add_argument("--flavor", help="force a flavor: sklearn, joblib, torch, onnx, pickle")
    parser.add_argument("--trusted", action="store_true", help="allow plain pickle for other objects")


def run(args: Any, shell: Any) -> Any:
    from ...registry import params_from_text, snapshot
    from .._util import resolve

    model = resolve(shell, args.model, "model")
    report = resolve(shell, args.report, "report") if args.report else None
    data = resolve(shell, args.data, "data") if args.data else None
    return snapshot(model, args.name, report=report, data=data, params=params_from_text(args.param),
                    tags=args.tag or None, alias=args.alias, notes=args.notes, flavor=args.flavor,
                    trusted=args.trusted)
