"""The exporter contract: one template method around one abstract step.

:meth:`Exporter.export` does the bookkeeping every format shares (preparing and
checking the sample, running the original, hashing, loading the export back,
parity, quantized variants, speed, metadata) around :meth:`Exporter._export`,
the single step a format must implement. Exporters are found in
:data:`exporters`, a holder filled at import and from the
``jupyter_modelops.exporters`` entry point group; the last one registered for a
format wins, so a plugin can replace a built-in.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator, Mapping, Sequence

from ..exceptions import ExportError, ParityError, ValidationError, suggest

if TYPE_CHECKING:
    from .result import ExportResult

FORMATS = ("onnx", "torchscript")
QUANTIZE = (None, "int8", "fp16")
ENTRY_POINT_GROUP = "jupyter_modelops.exporters"


@dataclass
class Sample:
    """Example input, in the two shapes an export needs.

    ``native`` is what the original model takes (a DataFrame, an array, a tuple
    of tensors); ``feeds`` maps the export's input names to numpy arrays;
    ``inputs`` describes them (name, datatype, shape) for the model directory.
    """

    native: Any
    feeds: dict[str, Any]
    inputs: list[dict]
    n_rows: int
    take_fn: Callable[["Sample", Any], "Sample"] | None = None
    source: str = "sample"
    target: Any = None  # true labels, when known (evaluation data)

    def take(self, index: Any) -> "Sample":
        """Rows ``index`` (a slice or an index array) of this sample."""
        assert self.take_fn is not None
        return self.take_fn(self, index)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.feeds):
            arr = self.feeds[name]
            h.update(name.encode())
            h.update(str(getattr(arr, "dtype", "")).encode())
            h.update(str(getattr(arr, "shape", "")).encode())
            if getattr(arr, "dtype", None) is not None and arr.dtype.kind not in "OUS":
                h.update(arr.tobytes())
            else:  # strings: tobytes() of an object array would hash pointers
                h.update(repr(arr.tolist()).encode())
        return h.hexdigest()


@dataclass
class Artifact:
    """One exported file held in memory until it is stored."""

    role: str  # "onnx", "onnx-int8", "onnx-fp16", "torchscript"
    format: str  # "onnx" | "torchscript"
    data: bytes
    opset: int | None = None
    method: str = ""  # how it was produced ("skl2onnx", "dynamo", "script", "trace", ...)
    notes: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size_bytes(self) -> int:
        return len(self.data)

    @property
    def suffix(self) -> str:
        return ".onnx" if self.format == "onnx" else ".pt"


@contextlib.contextmanager
def quiet(*categories: type[Warning]) -> Iterator[None]:
    """Silence the named warning categories (third-party deprecation noise)."""
    with warnings.catch_warnings():
        for cat in categories or (DeprecationWarning, FutureWarning, UserWarning):
            warnings.simplefilter("ignore", cat)
        yield


class Exporter(abc.ABC):
    """Base class of exporters (template method).

    Subclasses set ``name``, ``format`` and ``flavor`` and implement
    :meth:`accepts`, :meth:`prepare_sample`, :meth:`reference`,
    :meth:`_export` and :meth:`runner`. ONNX exporters get quantization from
    :meth:`quantize`; others raise.
    """

    name: ClassVar[str] = ""
    format: ClassVar[str] = ""
    flavor: ClassVar[str] = ""

    # -- hooks --------------------------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def accepts(cls, model: Any) -> bool:
        """True if this exporter can handle ``model`` (checked without heavy imports when possible)."""

    @abc.abstractmethod
    def prepare_sample(
        self, model: Any, sample: Any, *, signature: Mapping | None = None, source: str = "sample"
    ) -> Sample:
        """Check ``sample`` against the model and convert it; raise :class:`ValidationError`."""

    @abc.abstractmethod
    def reference(self, model: Any, sample: Sample) -> dict[str, Any]:
        """Outputs of the original model on ``sample``, named like the export's outputs."""

    @abc.abstractmethod
    def _export(self, model: Any, sample: Sample, *, opset: int | None, dynamic_batch: bool) -> Artifact:
        """Produce the exported artifact (the one step each format implements)."""

    @abc.abstractmethod
    def runner(self, artifact: Artifact) -> Callable[[Sample], dict[str, Any]]:
        """Load ``artifact`` back and return a function running it on a sample."""

    def original_runner(self, model: Any) -> Callable[[Sample], Any]:
        """The call timed as the original's latency (defaults to :meth:`reference`)."""
        return lambda s: self.reference(model, s)

    def parity_hint(self) -> str:
        """What to do when the export's outputs differ (the :class:`ParityError` hint)."""
        return "Fix the export, loosen rtol/atol, or pass allow_mismatch=True to keep it anyway."

    def quantize(self, artifact: Artifact, mode: str) -> Artifact:
        raise ValidationError(
            f"quantize={mode!r} applies to ONNX exports, but this is a {self.format} export.",
            hint="Use format='onnx' with quantize, or drop quantize.",
        )

    @contextlib.contextmanager
    def frozen(self, model: Any) -> Iterator[Any]:
        """Context in which the model is ready to export; must leave the model as it was."""
        yield model

    # -- the template method ------------------------------------------------------------
    def export(
        self,
        model: Any,
        sample: Any,
        *,
        opset: int | None = None,
        dynamic_batch: bool = True,
        quantize: str | None = None,
        rtol: float = 1e-4,
        atol: float = 1e-5,
        allow_mismatch: bool = False,
        signature: Mapping | None = None,
        extra_samples: Sequence[tuple[str, Any, Any]] = (),
        benchmark: bool = True,
        source: str | None = None,
        sample_name: str = "sample",
    ) -> "ExportResult":
        """Export ``model``, load the export back, check parity, quantize and time it.

        ``extra_samples`` are ``(name, data, target)`` triples (the registry's
        stored sample and evaluation data) on which parity is checked as well.
        Storing artifacts and registry records is done by the caller
        (:func:`jupyter_modelops.exporters.export`), from the returned result.
        """
        from ._parity import compare
        from .result import ExportResult

        t0 = time.perf_counter()
        with self.frozen(model) as ready:
            prepared = self.prepare_sample(ready, sample, signature=signature, source=sample_name)
            checks = [prepared]
            skipped: list[str] = []
            for name, data, target in extra_samples:
                extra = self.prepare_sample(ready, data, signature=signature, source=name)
                extra.target = target
                if not dynamic_batch and extra.n_rows != prepared.n_rows:
                    skipped.append(
                        f"parity not checked on the {name} ({extra.n_rows} rows): the batch size is "
                        f"fixed to {prepared.n_rows} (dynamic_batch=False)"
                    )
                    continue
                checks.append(extra)
            references = [self._run_original(ready, s) for s in checks]
            artifact = self._export(ready, prepared, opset=opset, dynamic_batch=dynamic_batch)
            artifact.notes.extend(skipped)
            artifacts = [artifact]
            if quantize is not None:
                artifacts.append(self.quantize(artifact, quantize))
            parity: dict[str, dict] = {}
            runners = {}
            for art in artifacts:
                run = self.runner(art)
                runners[art.role] = run
                parity[art.role] = {}
                for s, ref in zip(checks, references):
                    got = self._run_export(run, s, art)
                    parity[art.role][s.source] = compare(
                        ref, got, rtol=rtol, atol=atol, target=s.target, n_rows=s.n_rows
                    )
            speed = None
            if benchmark:
                from ._speed import measure

                speed = measure(self.original_runner(ready), runners, prepared, single_row=dynamic_batch)
        result = ExportResult(
            format=self.format,
            flavor=self.flavor,
            exporter=self.name,
            source=source,
            artifacts={a.role: _artifact_meta(a, parity[a.role]) for a in artifacts},
            payloads={a.role: a.data for a in artifacts},
            parity=parity,
            outputs=list(references[0]),
            inputs=prepared.inputs
            if dynamic_batch
            else [{**i, "shape": [prepared.n_rows, *i["shape"][1:]]} for i in prepared.inputs],
            options={
                "format": self.format,
                "opset": opset,
                "dynamic_batch": dynamic_batch,
                "quantize": quantize,
                "rtol": rtol,
                "atol": atol,
            },
            speed=speed,
            seconds=time.perf_counter() - t0,
            allow_mismatch=allow_mismatch,
        )
        failed = [(role, ds) for role, per in parity.items() for ds, rep in per.items() if not rep["passed"]]
        if failed and not allow_mismatch:
            from ._parity import describe_failure

            role, ds = failed[0]
            error = ParityError(
                describe_failure(role, ds, parity[role][ds], rtol=rtol, atol=atol), hint=self.parity_hint()
            )
            error.result = result  # the full reports, for a look at the worst rows
            error.parity = parity
            raise error
        return result

    # -- shared helpers -----------------------------------------------------------------
    def _run_original(self, model: Any, sample: Sample) -> dict[str, Any]:
        try:
            return self.reference(model, sample)
        except ValidationError:
            raise
        except Exception as exc:
            what = "the sample" if sample.source == "sample" else f"the registry's {sample.source}"
            if sample.source == "stored sample":
                what = "the sample stored with the version"
            raise ValidationError(
                f"The model could not run on {what}: {type(exc).__name__}: {_first_line(exc)}.",
                hint=f"Pass a sample with the columns, shape and dtype the model was trained on "
                f"(inputs: {_inputs_text(sample.inputs)}).",
            ) from exc

    def _run_export(self, run: Callable[[Sample], dict], sample: Sample, art: Artifact) -> dict[str, Any]:
        try:
            return run(sample)
        except Exception as exc:
            raise ExportError(
                f"The {art.role} export was produced but failed to run on the {sample.source}: "
                f"{type(exc).__name__}: {_first_line(exc)}.",
                hint="Run again with --debug (or look at the exception's cause) for details.",
            ) from exc


def _artifact_meta(art: Artifact, parity: dict[str, dict]) -> dict:
    return {
        "format": art.format,
        "role": art.role,
        "opset": art.opset,
        "method": art.method,
        "sha256": art.sha256,
        "size_bytes": art.size_bytes,
        "notes": list(art.notes),
        "parity_passed": all(p["passed"] for p in parity.values()),
        "max_abs_diff": max((p["max_abs_diff"] for p in parity.values()), default=None),
    }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__).rstrip(".")[:300]


def _inputs_text(inputs: list[dict]) -> str:
    if not inputs:
        return "unknown"
    parts = [f"{i['name']} {i['datatype']}{list(i['shape'])}" for i in inputs[:6]]
    more = f", ... ({len(inputs)} in all)" if len(inputs) > 6 else ""
    return ", ".join(parts) + more


# -- the holder of exporters (papermill-style) ------------------------------------------
class Exporters:
    """Registered exporters; :meth:`find` picks the last one that accepts a model for a format."""

    def __init__(self) -> None:
        self._by_name: dict[str, type[Exporter]] = {}
        self._entry_points_loaded = False

    def register(self, name: str, exporter: type[Exporter]) -> None:
        """Register ``exporter`` (an :class:`Exporter` subclass) under ``name``; later wins."""
        if not (isinstance(exporter, type) and issubclass(exporter, Exporter)):
            raise ValidationError(f"exporter must be an Exporter subclass, got {exporter!r}.")
        self._by_name.pop(name, None)
        self._by_name[name] = exporter

    def register_entry_points(self) -> None:
        """Load exporters published under the ``jupyter_modelops.exporters`` entry point group."""
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                self.register(ep.name, ep.load())
            except Exception as exc:  # a broken plugin must not break the built-ins
                warnings.warn(f"Could not load the exporter plugin '{ep.name}' ({ep.value}): {exc}", stacklevel=2)
        self._entry_points_loaded = True

    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> type[Exporter]:
        if name not in self._by_name:
            raise ValidationError(
                f"No exporter is registered as '{name}'.{suggest(name, self._by_name)}",
                hint=f"Registered: {', '.join(self._by_name)}.",
            )
        return self._by_name[name]

    def find(self, model: Any, format: str) -> Exporter:
        """An exporter instance for ``model`` in ``format``, or a one-sentence :class:`ExportError`."""
        if not self._entry_points_loaded:
            self.register_entry_points()
        candidates = [cls for cls in reversed(list(self._by_name.values())) if cls.format == format]
        for cls in candidates:
            if cls.accepts(model):
                return cls()
        kinds = sorted({c.flavor for c in candidates})
        other = [c.format for c in self._by_name.values() if c.format != format and c.accepts(model)]
        hint = (
            f"Try format='{other[0]}'."
            if other
            else (
                f"Pass a {' or '.join(kinds)} model, or register an exporter for this type with "
                f"jupyter_modelops.exporters.register()."
            )
        )
        raise ExportError(
            f"No {format} exporter handles a model of type {type(model).__module__}.{type(model).__qualname__}.",
            hint=hint,
        )


exporters = Exporters()


def register(name: str, exporter: type[Exporter]) -> None:
    """Register an :class:`Exporter` subclass (plugins may also use the entry point group)."""
    exporters.register(name, exporter)
