"""Store a model file as the next version of a name.

  modelops snapshot model.onnx --name churn [--data train.parquet] [--report report.json] [--alias staging]

Model files: .onnx, .skops, TorchScript .pt; .joblib/.pkl only with --trusted.
"""

from __future__ import annotations

SUMMARY = "store a model file as a new version in the registry"


def add_arguments(p):
    p.add_argument("model", help="model file (.onnx, .skops, .pt, or .joblib/.pkl with --trusted)")
    p.add_argument("--name", required=True, help="model name (letters, digits, . _ -)")
    p.add_argument("--data", help="training/reference data, CSV or Parquet (signature, fingerprint)")
    p.add_argument("--report", help="evaluation report JSON (metrics and intervals)")
    p.add_argument("--alias", help="point this alias at the new version")
    p.add_argument("--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[])
    p.add_argument("--tag", action="append", default=[], help="'key' or 'key=value' (repeatable)")
    p.add_argument("--notes")
    p.add_argument("--flavor", help="force a flavor: sklearn, joblib, torch, onnx, pickle")
    p.add_argument("--trusted", action="store_true", help="allow files that run code when read (pickle, joblib)")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    from ...registry import params_from_text, snapshot_file
    from .._io import emit

    mv = snapshot_file(args.model, args.name, data=args.data, report=args.report, trusted=args.trusted,
                       params=params_from_text(args.param), tags=args.tag or None, alias=args.alias,
                       notes=args.notes, flavor=args.flavor)
    emit(mv, as_json=args.json)
    return 0
