"""Export a model to ONNX or TorchScript, parity-checked against the original.

MODEL is a variable holding a fitted model (scikit-learn or torch) or a
registry reference such as churn:3 or churn@production. The export is
refused when its outputs differ from the original beyond --rtol/--atol.

Examples:
  %modelops export churn:3 --format onnx --quantize int8 --atol 0.05
  %modelops export model --format torchscript --sample X_test -o exported
"""

from __future__ import annotations

from typing import Any

SUMMARY = "export a model to ONNX or TorchScript with a parity gate (optionally quantized)"


def add_arguments(parser) -> None:
    parser.add_argument("model", help="variable holding the model, or a registry reference (name, name:3, name@alias)")
    parser.add_argument("--format", default="onnx", choices=("onnx", "torchscript"), help="default: onnx")
    parser.add_argument("--sample", metavar="VAR", help="variable holding sample inputs (optional for a registry "
                                                       "reference that stores a sample)")
    parser.add_argument("--quantize", choices=("int8", "fp16"), help="also produce a quantized ONNX variant")
    parser.add_argument("--opset", type=int, help="ONNX opset (default: the converter's)")
    parser.add_argument("--static-batch", action="store_true", help="fix the batch size to the sample's")
    parser.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance of the parity gate (1e-4)")
    parser.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance of the parity gate (1e-5)")
    parser.add_argument("--allow-mismatch", action="store_true", help="keep an export that fails parity")
    parser.add_argument("--no-benchmark", action="store_true", help="skip the in-process latency measurement")
    parser.add_argument("--onnx-exporter", default="auto", choices=("auto", "dynamo", "torchscript"),
                        help="torch -> ONNX: dynamo, the TorchScript-based exporter, or auto (dynamo, then fallback)")


def run(args: Any, shell: Any) -> Any:
    from ...exporters import export
    from .._util import resolve

    head = args.model.split(".", 1)[0].split("[", 1)[0]
    target = resolve(shell, args.model, "model") if head in shell.user_ns else args.model
    sample = resolve(shell, args.sample, "sample") if args.sample else None
    return export(target, args.format, sample=sample, opset=args.opset, dynamic_batch=not args.static_batch,
                  quantize=args.quantize, rtol=args.rtol, atol=args.atol, allow_mismatch=args.allow_mismatch,
                  benchmark=not args.no_benchmark, onnx_exporter=args.onnx_exporter)
