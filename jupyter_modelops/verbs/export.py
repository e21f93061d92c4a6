"""Export a model to ONNX or TorchScript, parity-checked against the original.

The export is refused when its outputs differ from the original beyond
--rtol/--atol. The files are attached to the registry version.
"""

from ._spec import Flag, Float, Int, ModelOrRef, Param, Text, Variable, Verb

DOC = {
    "magic": __doc__
    + """

MODEL is a variable holding a fitted model (scikit-learn or torch) or a
registry reference such as churn:3 or churn@production.

Examples:
  {prog} export churn:3 --format onnx --quantize int8 --atol 0.05
  {prog} export model --format torchscript --sample X_test -o exported
""",
    "*": __doc__
    + """

The sample rows come from --sample (CSV, Parquet or .npy) or, by default, from
the sample the registry stored at snapshot time. Exit code 0 when the export
matches the original within tolerance, 4 when it does not (ParityError) or
cannot be made, 2 for bad input, 3 when the reference does not exist.

Example:
  {prog} export churn:3 --format onnx --quantize int8 --atol 0.05 --json
""",
}


def run(
    face,
    *,
    model_or_ref,
    format,
    sample=None,
    quantize,
    opset,
    dynamic_batch,
    rtol,
    atol,
    allow_mismatch,
    benchmark,
    onnx_exporter,
    precision="float32",
):
    from ..exporters import export

    return export(
        model_or_ref,
        format,
        sample=sample,
        opset=opset,
        dynamic_batch=dynamic_batch,
        quantize=quantize,
        rtol=rtol,
        atol=atol,
        allow_mismatch=allow_mismatch,
        benchmark=benchmark,
        onnx_exporter=onnx_exporter,
        precision=precision,
    )


VERB = Verb(
    "export",
    "export a model to ONNX or TorchScript with a parity gate (optionally quantized)",
    doc=DOC,
    run=run,
    faces=("magic", "cli", "rest"),
    html=True,
    params=[
        Param(
            "model_or_ref",
            ModelOrRef(),
            positional=True,
            metavar={"magic": "model", "*": "ref"},
            help={
                "magic": "variable holding the model, or a registry reference (name, name:3, name@alias)",
                "*": "registry reference: name, name:3 or name@alias",
            },
        ),
        Param("format", Text(), default="onnx", choices=("onnx", "torchscript"), help="the export format"),
        Param(
            "sample",
            Variable("sample", reader="sample"),
            metavar={"magic": "VAR", "cli": "FILE"},
            help={
                "magic": "variable holding sample inputs (optional for a registry reference that stores one)",
                "cli": "sample inputs: .csv, .parquet or .npy (default: the sample stored with the version)",
            },
        ),
        Param("quantize", Text(), choices=("int8", "fp16"), help="also produce a quantized ONNX variant"),
        Param("opset", Int(), help="ONNX opset (default: the converter's)"),
        Param("dynamic_batch", Flag(negate=True), flag="--static-batch", help="fix the batch size to the sample's"),
        Param("rtol", Float(), default=1e-4, help="relative tolerance of the parity gate"),
        Param("atol", Float(), default=1e-5, help="absolute tolerance of the parity gate"),
        Param("allow_mismatch", Flag(), help="keep an export that fails parity"),
        Param("benchmark", Flag(negate=True), help="skip the in-process latency measurement"),
        Param(
            "onnx_exporter",
            Text(),
            default="auto",
            choices=("auto", "dynamo", "torchscript"),
            help="torch -> ONNX: dynamo, the TorchScript-based exporter, or auto (dynamo, then fallback)",
        ),
        Param(
            "precision",
            Text(),
            default="float32",
            choices=("float32", "float64"),
            help="floating-point precision of the exported model's inputs and computation",
        ),
    ],
)
