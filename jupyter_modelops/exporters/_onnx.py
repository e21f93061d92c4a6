"""What every ONNX exporter shares: checking, running with onnxruntime, quantizing."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable

from .._optional import require
from ..exceptions import ExportError
from ._base import Artifact, Sample, _first_line, quiet

_QUANTIZABLE = {
    "MatMul",
    "Gemm",
    "Conv",
    "ConvTranspose",
    "LSTM",
    "GRU",
    "Attention",
    "Gather",
    "EmbedLayerNormalization",
}


def check(data: bytes, *, what: str) -> Any:
    """Parse and run ``onnx.checker`` on a serialized model; return the ModelProto."""
    onnx = require("onnx", purpose="check ONNX exports")
    try:
        proto = onnx.load_from_string(data)
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        raise ExportError(
            f"The {what} did not pass onnx.checker: {_first_line(exc)}.",
            hint="This is a converter bug; try another opset.",
        ) from exc
    return proto


def opset_of(proto: Any) -> int | None:
    for imp in proto.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return None


def session(data: bytes) -> Any:
    """An onnxruntime CPU session with one intra-op thread (parity and timing in process)."""
    ort = require("onnxruntime", purpose="run ONNX exports")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])


class OnnxMixin:
    """Runner and quantization for exporters whose artifact is an ONNX model."""

    format = "onnx"

    def runner(self, artifact: Artifact) -> Callable[[Sample], dict[str, Any]]:
        try:
            sess = session(artifact.data)
        except Exception as exc:
            raise ExportError(
                f"onnxruntime could not load the {artifact.role} export: {_first_line(exc)}.",
                hint="Try another opset, or export without quantize.",
            ) from exc
        names = [o.name for o in sess.get_outputs()]
        wanted = {i.name for i in sess.get_inputs()}

        def run(sample: Sample) -> dict[str, Any]:
            feeds = {k: v for k, v in sample.feeds.items() if k in wanted}
            return dict(zip(names, sess.run(None, feeds)))

        return run

    def quantize(self, artifact: Artifact, mode: str) -> Artifact:
        require("onnx", purpose="quantize ONNX exports")
        if mode == "int8":
            return _int8(artifact)
        if mode == "fp16":
            return _fp16(artifact)
        raise ExportError(f"quantize={mode!r} is not supported.", hint="Use 'int8' or 'fp16'.")


def _int8(artifact: Artifact) -> Artifact:
    """Dynamic int8 quantization of weights (MatMul/Gemm and friends)."""
    require("onnxruntime", purpose="quantize ONNX exports to int8")
    import logging

    onnx = require("onnx", purpose="quantize ONNX exports")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ops = {n.op_type for n in onnx.load_from_string(artifact.data).graph.node if n.domain in ("", "ai.onnx")}
    if not ops & _QUANTIZABLE:
        raise ExportError(
            "quantize='int8' quantizes the weights of MatMul, Gemm, Conv and recurrent layers, and this export "
            "has none (tree ensembles and linear models from skl2onnx use ai.onnx.ml operators).",
            hint="Export without quantize; the float export is already small and fast.",
        )

    with tempfile.TemporaryDirectory(prefix="modelops-q-") as tmp:
        src, dst = os.path.join(tmp, "model.onnx"), os.path.join(tmp, "model.int8.onnx")
        with open(src, "wb") as f:
            f.write(artifact.data)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic logs "consider pre-processing" on the root logger
        try:
            with quiet():
                quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
        except Exception as exc:
            raise ExportError(
                f"Dynamic int8 quantization failed: {_first_line(exc)}.",
                hint="Export without quantize, or try quantize='fp16'.",
            ) from exc
        finally:
            root.setLevel(level)
        with open(dst, "rb") as f:
            data = f.read()
    proto = check(data, what="int8-quantized export")
    n_quant = sum(
        1
        for n in proto.graph.node
        if n.op_type in ("DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "DynamicQuantizeMatMul")
    )
    notes = [f"int8: {n_quant} quantized nodes"]
    return Artifact(
        role="onnx-int8",
        format="onnx",
        data=data,
        opset=artifact.opset,
        method="onnxruntime.quantize_dynamic(QInt8)",
        notes=notes,
    )


def _fp16(artifact: Artifact) -> Artifact:
    """Float16 weights and arithmetic, float32 inputs and outputs (for GPU profiles)."""
    onnx = require("onnx", purpose="convert ONNX exports to fp16")
    float16 = require("onnxconverter_common.float16", purpose="convert ONNX exports to fp16", extra="onnx")
    try:
        with quiet():
            proto = float16.convert_float_to_float16(onnx.load_from_string(artifact.data), keep_io_types=True)
        data = proto.SerializeToString()
        session(data)  # a graph the converter breaks fails here, not later in serving
    except Exception as exc:
        raise ExportError(
            f"fp16 conversion produced a model onnxruntime cannot run: {_first_line(exc)}.",
            hint="fp16 targets neural networks on GPU profiles; export this model without quantize.",
        ) from exc
    return Artifact(
        role="onnx-fp16",
        format="onnx",
        data=data,
        opset=artifact.opset,
        method="onnxconverter_common.float16(keep_io_types=True)",
    )
