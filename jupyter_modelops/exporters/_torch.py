"""torch modules to TorchScript (script, else trace) and to ONNX (torch.onnx.export)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import warnings
from typing import Any, Callable, Iterator, Mapping

from .._optional import is_torch_module, require
from ..exceptions import ExportError, MissingDependencyError, ValidationError
from ._base import Artifact, Exporter, Sample, _first_line, quiet
from ._onnx import OnnxMixin, check, opset_of

_V2 = {
    "float32": "FP32",
    "float64": "FP64",
    "float16": "FP16",
    "bfloat16": "BF16",
    "int64": "INT64",
    "int32": "INT32",
    "int16": "INT16",
    "int8": "INT8",
    "uint8": "UINT8",
    "bool": "BOOL",
}

TRACE_CAVEAT = (
    "tracing records only the operations the sample ran: if/for on tensor values, Python side "
    "effects and shape-dependent code are frozen to the sample's path"
)


class ExportWarning(UserWarning):
    """An export succeeded with a caveat the user should read (e.g. traced instead of scripted)."""


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[Any]:
    """Put every submodule in eval mode for the export and restore each one's own flag afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in flags:
            m.training = training


@contextlib.contextmanager
def _torch_quiet() -> Iterator[None]:
    """torch.jit / torch.onnx print deprecations and progress through warnings and logging."""
    loggers = [
        logging.getLogger(n)
        for n in (
            "torch.onnx",
            "torch.export",
            "torch._dynamo",
            "onnxscript",
            "torch.fx.experimental.symbolic_shapes",
            "torch._export",
        )
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with quiet(), contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def _flatten(out: Any) -> dict[str, Any]:
    import torch

    if isinstance(out, torch.Tensor):
        return {"output": out.detach().cpu().numpy()}
    if isinstance(out, (tuple, list)) and out and all(isinstance(t, torch.Tensor) for t in out):
        return {f"output_{i}": t.detach().cpu().numpy() for i, t in enumerate(out)}
    if isinstance(out, dict) and out and all(isinstance(t, torch.Tensor) for t in out.values()):
        return {str(k): t.detach().cpu().numpy() for k, t in out.items()}
    raise ValidationError(
        f"The module returned {type(out).__name__}, but an exportable module returns a tensor, "
        f"a tuple/list of tensors or a dict of tensors.",
        hint="Return tensors from forward().",
    )


class _TorchBase(Exporter):
    flavor = "torch"

    def __init__(self, **options: Any) -> None:
        self.options = options

    @classmethod
    def accepts(cls, model: Any) -> bool:
        return is_torch_module(model)

    def frozen(self, model: Any) -> contextlib.AbstractContextManager:
        return eval_mode(model)

    def prepare_sample(
        self, model: Any, sample: Any, *, signature: Mapping | None = None, source: str = "sample"
    ) -> Sample:
        torch = require("torch", purpose="export torch modules")
        import numpy as np

        where = "sample" if source == "sample" else f"registry's {source}"
        items = (
            list(sample) if isinstance(sample, (tuple, list)) and sample and not _is_scalar_list(sample) else [sample]
        )
        param = next((p for p in model.parameters() if p.is_floating_point()), None)
        want = param.dtype if param is not None else torch.float32
        tensors = []
        for x in items:
            if hasattr(x, "to_numpy") and not isinstance(x, torch.Tensor):  # pandas
                x = x.to_numpy()
            if not isinstance(x, torch.Tensor):
                try:
                    arr = np.asarray(x)
                except Exception as exc:
                    raise ValidationError(
                        f"The {where} could not be read as a tensor ({type(x).__name__}).",
                        hint="Pass a torch.Tensor, a numpy array or a tuple of them.",
                    ) from exc
                if arr.dtype.kind not in "biuf":
                    raise ValidationError(
                        f"The {where} has dtype {arr.dtype}, but a torch sample must be numeric.",
                        hint="Pass a numeric tensor or array.",
                    )
                x = torch.from_numpy(np.ascontiguousarray(arr))
                if x.is_floating_point() and x.dtype != want:
                    x = x.to(want)  # numpy float64 -> the module's parameter dtype
            if x.dim() == 0:
                raise ValidationError(
                    f"The {where} is a scalar, but it needs a batch dimension first.",
                    hint="Pass a batch, e.g. x.reshape(1, -1) for a single row.",
                )
            tensors.append(x.detach().cpu())
        n = int(tensors[0].shape[0])
        if any(int(t.shape[0]) != n for t in tensors):
            raise ValidationError(
                f"The {where}'s tensors have different batch sizes {[int(t.shape[0]) for t in tensors]}.",
                hint="Give every input the same rows.",
            )
        names = ["input"] if len(tensors) == 1 else [f"input_{i}" for i in range(len(tensors))]
        feeds = {nm: t.numpy() for nm, t in zip(names, tensors)}
        inputs = [
            {
                "name": nm,
                "datatype": _V2.get(str(t.dtype).replace("torch.", ""), "FP32"),
                "shape": [-1, *map(int, t.shape[1:])],
            }
            for nm, t in zip(names, tensors)
        ]

        def take(s: Sample, idx: Any) -> Sample:
            nat = tuple(t[idx] for t in s.native)
            return Sample(
                nat, {k: v[idx] for k, v in s.feeds.items()}, s.inputs, int(nat[0].shape[0]), s.take_fn, s.source
            )

        return Sample(tuple(tensors), feeds, inputs, n, take, source)

    def reference(self, model: Any, sample: Sample) -> dict[str, Any]:
        import torch

        with torch.no_grad():
            return _flatten(model(*sample.native))

    def original_runner(self, model: Any) -> Callable[[Sample], Any]:
        import torch

        def run(s: Sample) -> Any:
            with torch.no_grad():
                return model(*s.native)

        return run


def _is_scalar_list(x: Any) -> bool:
    return all(isinstance(v, (int, float)) for v in x) or (
        all(isinstance(v, (list, tuple)) for v in x) and all(isinstance(w, (int, float)) for v in x for w in v)
    )


class TorchScriptExporter(_TorchBase):
    """torch -> TorchScript: ``torch.jit.script``; ``torch.jit.trace`` on the sample when scripting fails."""

    name = "torch-torchscript"
    format = "torchscript"

    def _export(self, model: Any, sample: Sample, *, opset: int | None, dynamic_batch: bool) -> Artifact:
        import torch

        notes: list[str] = []
        try:
            with _torch_quiet():
                compiled = torch.jit.script(model)
                compiled(*sample.native)
            method = "torch.jit.script"
        except Exception as script_exc:
            reason = _first_line(script_exc)
            try:
                with _torch_quiet():
                    compiled = torch.jit.trace(model, sample.native, check_trace=False)
            except Exception as trace_exc:
                raise ExportError(
                    f"The {type(model).__name__} module can neither be scripted ({reason}) nor traced "
                    f"({_first_line(trace_exc)}).",
                    hint="Make forward() take and return tensors and avoid unsupported Python, "
                    "or export with format='onnx'.",
                ) from trace_exc
            method = "torch.jit.trace"
            message = (
                f"The {type(model).__name__} module could not be scripted ({reason}), so it was traced "
                f"instead: {TRACE_CAVEAT}."
            )
            notes.append(message)
            warnings.warn(message, ExportWarning, stacklevel=4)
        buf = io.BytesIO()
        with _torch_quiet():
            torch.jit.save(compiled, buf)
        return Artifact(role="torchscript", format="torchscript", data=buf.getvalue(), method=method, notes=notes)

    def runner(self, artifact: Artifact) -> Callable[[Sample], dict[str, Any]]:
        import torch

        with _torch_quiet():
            loaded = torch.jit.load(io.BytesIO(artifact.data), map_location="cpu")
        loaded.eval()

        def run(s: Sample) -> dict[str, Any]:
            with torch.no_grad():
                return _flatten(loaded(*s.native))

        return run


class TorchOnnxExporter(OnnxMixin, _TorchBase):
    """torch -> ONNX with ``torch.onnx.export``.

    ``onnx_exporter="auto"`` (default) uses the torch.export-based exporter
    (``dynamo=True``, torch's default, needs onnxscript) and falls back to the
    TorchScript-based one (``dynamo=False``) with a warning when it fails or
    onnxscript is missing; ``"dynamo"`` and ``"torchscript"`` force one.
    """

    name = "torch-onnx"
    format = "onnx"

    def _export(self, model: Any, sample: Sample, *, opset: int | None, dynamic_batch: bool) -> Artifact:
        import torch

        engine = self.options.get("onnx_exporter") or "auto"
        if engine not in ("auto", "dynamo", "torchscript"):
            raise ValidationError(f"onnx_exporter must be 'auto', 'dynamo' or 'torchscript', got {engine!r}.")
        out_names = list(self.reference(model, sample))
        in_names = list(sample.feeds)
        args = sample.native
        if dynamic_batch and sample.n_rows == 1:  # a batch of one would be specialized to 1
            args = tuple(torch.cat([t, t]) for t in args)
        notes: list[str] = []
        dynamo_error = None
        if engine in ("auto", "dynamo"):
            if importlib.util.find_spec("onnxscript") is None:
                if engine == "dynamo":
                    raise MissingDependencyError("onnxscript", "onnx", purpose="use torch's dynamo ONNX exporter")
                dynamo_error = "onnxscript is not installed"
            else:
                try:
                    data = self._dynamo(model, args, in_names, out_names, opset, dynamic_batch)
                    return self._artifact(data, "torch.onnx.export(dynamo=True)", notes)
                except Exception as exc:
                    if engine == "dynamo":
                        raise _onnx_error(model, exc) from exc
                    dynamo_error = _first_line(exc)
        if dynamo_error:
            message = (
                f"torch's dynamo ONNX exporter did not work ({dynamo_error}); "
                f"used the TorchScript-based exporter (dynamo=False) instead."
            )
            notes.append(message)
            warnings.warn(message, ExportWarning, stacklevel=4)
        try:
            data = self._legacy(model, args, in_names, out_names, opset, dynamic_batch)
        except Exception as exc:
            raise _onnx_error(model, exc) from exc
        return self._artifact(data, "torch.onnx.export(dynamo=False)", notes)

    @staticmethod
    def _artifact(data: bytes, method: str, notes: list[str]) -> Artifact:
        proto = check(data, what="ONNX export")
        return Artifact(role="onnx", format="onnx", data=data, opset=opset_of(proto), method=method, notes=notes)

    @staticmethod
    def _dynamo(
        model: Any, args: tuple, in_names: list[str], out_names: list[str], opset: int | None, dynamic_batch: bool
    ) -> bytes:
        import torch

        shapes = tuple({0: torch.export.Dim.DYNAMIC} for _ in args) if dynamic_batch else None
        with _torch_quiet():
            program = torch.onnx.export(
                model,
                args,
                None,
                dynamo=True,
                input_names=in_names,
                output_names=out_names,
                dynamic_shapes=shapes,
                opset_version=opset or 18,
                verbose=False,
                optimize=True,
            )
        return program.model_proto.SerializeToString()

    @staticmethod
    def _legacy(
        model: Any, args: tuple, in_names: list[str], out_names: list[str], opset: int | None, dynamic_batch: bool
    ) -> bytes:
        import torch

        axes = {n: {0: "batch"} for n in [*in_names, *out_names]} if dynamic_batch else None
        buf = io.BytesIO()
        with _torch_quiet():
            torch.onnx.export(
                model,
                args,
                buf,
                dynamo=False,
                input_names=in_names,
                output_names=out_names,
                dynamic_axes=axes,
                opset_version=opset or 17,
            )
        return buf.getvalue()


def _onnx_error(model: Any, exc: BaseException) -> ExportError:
    import re

    text = str(exc)
    op = re.search(r"operator '([\w:.]+)'", text) or re.search(r"(aten::\w+|aten\.\w+(?:\.\w+)?)", text)
    if op:
        return ExportError(
            f"The {type(model).__name__} module uses the operator {op.group(1)}, which torch cannot "
            f"export to ONNX at this opset.",
            hint="Try a newer opset, rewrite that part of forward(), or use format='torchscript'.",
        )
    return ExportError(
        f"torch.onnx.export failed on the {type(model).__name__} module: {_first_line(exc)}.",
        hint="Try a newer opset or format='torchscript'.",
    )
