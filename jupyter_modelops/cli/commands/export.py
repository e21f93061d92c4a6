"""Export a registry version to ONNX or TorchScript, parity-checked, and attach the files to it.

The sample rows come from --sample (CSV, Parquet or .npy) or, by default, from
the sample the registry stored at snapshot time. Exit code 0 when the export
matches the original within tolerance, 4 when it does not (ParityError) or
cannot be made, 2 for bad input, 3 when the reference does not exist.

Example:
  modelops export churn:3 --format onnx --quantize int8 --atol 0.05 --json
"""

from __future__ import annotations

from typing import Any

SUMMARY = "export a registry version to ONNX or TorchScript with a parity gate"


def add_arguments(parser) -> None:
    parser.add_argument("ref", help="registry reference: name, name:3 or name@alias")
    parser.add_argument("--format", default="onnx", choices=("onnx", "torchscript"), help="default: onnx")
    parser.add_argument("--sample", metavar="FILE", help="sample inputs: .csv, .parquet or .npy "
                                                        "(default: the sample stored with the version)")
    parser.add_argument("--quantize", choices=("int8", "fp16"), help="also produce a quantized ONNX variant")
    parser.add_argument("--opset", type=int, help="ONNX opset (default: the converter's)")
    parser.add_argument("--static-batch", action="store_true", help="fix the batch size to the sample's")
    parser.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance of the parity gate (1e-4)")
    parser.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance of the parity gate (1e-5)")
    parser.add_argument("--allow-mismatch", action="store_true", help="keep an export that fails parity")
    parser.add_argument("--no-benchmark", action="store_true", help="skip the in-process latency measurement")
    parser.add_argument("--onnx-exporter", default="auto", choices=("auto", "dynamo", "torchscript"),
                        help="torch -> ONNX: dynamo, the TorchScript-based exporter, or auto (dynamo, then fallback)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--html", metavar="OUT", help="also write the HTML table to this file")


def _read_sample(path: str) -> Any:
    from ...exceptions import ValidationError
    from .._io import read_table

    if path.lower().endswith(".npy"):
        import numpy as np

        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ValidationError(f"Could not read the sample file '{path}': {exc}.",
                                  hint="Save it with numpy.save (no object arrays).") from exc
    return read_table(path, what="sample")


def run(args: Any) -> int:
    from ...exporters import export
    from .._io import emit

    sample = _read_sample(args.sample) if args.sample else None
    result = export(args.ref, args.format, sample=sample, opset=args.opset, dynamic_batch=not args.static_batch,
                    quantize=args.quantize, rtol=args.rtol, atol=args.atol, allow_mismatch=args.allow_mismatch,
                    benchmark=not args.no_benchmark, onnx_exporter=args.onnx_exporter)
    emit(result, as_json=args.json, html=args.html)
    return 0
