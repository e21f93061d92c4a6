"""Flavors: how a kind of model is written to files and read back.

A flavor is a small class with ``detect(model)``, ``save(model, directory,
...)`` and ``load(files, artifacts, ...)``. The built-in flavors are
``sklearn`` (skops, the safe default for scikit-learn), ``joblib`` (on
request), ``torch`` (``state_dict`` plus the import path of the class, and
TorchScript when the module can be scripted or traced), ``onnx`` and
``pickle`` (only with ``trusted=True``). Other packages add flavors with
:func:`register` or through the ``jupyter_modelops.flavors`` entry point group;
the latest registration wins, so a plugin can override a built-in.

Heavy packages (torch, onnx, skops) are imported inside the methods.
"""

from __future__ import annotations

import importlib
import io
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

from .._optional import require
from ..exceptions import ExportError, ModelOpsError, ValidationError, suggest

ENTRY_POINT_GROUP = "jupyter_modelops.flavors"


class Saved(dict):
    """What a flavor wrote: ``role -> {"file", "format", "metadata"}``."""


class Flavor:
    """Base class of a flavor.

    Attributes
    ----------
    name : str
        The flavor's name, recorded with each version.
    safe : bool
        False when loading executes arbitrary code (pickle); such versions
        load only with ``trusted=True`` when they were not written here.
    formats : dict
        ``role -> allowed artifact formats`` of the files this flavor writes;
        a bundle whose version says otherwise is refused on import. Empty
        means not checked (plugins).
    """

    name: str = ""
    safe: bool = True
    formats: dict[str, tuple[str, ...]] = {}

    def detect(self, model: Any) -> bool:
        """True if this flavor knows how to save ``model``."""
        return False

    def save(self, model: Any, directory: Path, *, sample: Any = None) -> Saved:  # pragma: no cover
        raise NotImplementedError

    def load(
        self, files: dict[str, Path], artifacts: dict[str, dict], *, prefer: str | None = None
    ) -> Any:  # pragma: no cover
        raise NotImplementedError

    def frameworks(self) -> dict[str, str]:
        """Names and versions of the packages this flavor's files depend on."""
        return {}

    def predict_fn(self, model: Any) -> Callable[[Any], Any] | None:
        """A function giving the model's outputs on a sample (for the signature), or None."""
        return None


def _type_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _mro_modules(obj: Any) -> list[str]:
    return [c.__module__ or "" for c in type(obj).__mro__]


def _dist_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def canonical_skops(data: bytes) -> tuple[list, str, int]:
    """The bytes of a skops file, rewritten so that the same model always gives the same bytes.

    skops names objects and array files after ``id()`` of Python objects and
    stamps zip entries with the current time. Here ids are renumbered in order
    of first appearance (consistently in ``schema.json`` and in the file
    names), entries are laid out in that order and stamped 1980-01-01. The
    array bytes are reused as they are (memory views: no copy, no
    re-compression, no CRC recomputation). The meaning of the file is
    unchanged; the blob store then keeps one copy of a model snapshotted
    twice. Returns ``(chunks, sha256, size)``.
    """
    import hashlib
    import json
    import struct
    import zipfile
    import zlib

    view = memoryview(data)
    src = zipfile.ZipFile(io.BytesIO(data))
    infos = {i.filename: i for i in src.infolist()}

    def unchanged() -> tuple[list, str, int]:
        return [view], hashlib.sha256(view).hexdigest(), len(data)

    plain = (
        "schema.json" in infos
        and len(infos) < 0xFFFF
        and len(data) < 0xFFFFFFFF
        and all(i.compress_type == zipfile.ZIP_STORED for i in infos.values())
    )
    if not plain:  # a layout this function does not know (or needs zip64): keep the bytes
        return unchanged()
    schema = json.loads(src.read("schema.json"))
    names = set(infos) - {"schema.json"}
    ids: dict[Any, int] = {}
    files: dict[str, str] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for k, v in node.items():
                if k == "__id__" and isinstance(v, int):
                    out[k] = ids.setdefault(v, len(ids) + 1)
                elif k == "file" and isinstance(v, str) and v in names:
                    out[k] = files.setdefault(v, f"{len(files) + 1}{Path(v).suffix}")
                else:
                    out[k] = walk(v)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    canon = json.dumps(walk(schema), indent=2).encode()
    if set(files) != names:
        return unchanged()

    def payload(old: str) -> memoryview:
        info = infos[old]
        n, e = struct.unpack_from("<HH", data, info.header_offset + 26)
        start = info.header_offset + 30 + n + e
        return view[start : start + info.compress_size]

    entries = [(new, payload(old), infos[old].CRC) for old, new in files.items()]
    entries.append(("schema.json", memoryview(canon), zlib.crc32(canon)))
    h = hashlib.sha256()
    chunks: list = []
    offset, central = 0, []
    for name, body, crc in entries:
        raw = name.encode()
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, crc, len(body), len(body), len(raw), 0)
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                0,
                0,
                0x21,
                crc,
                len(body),
                len(body),
                len(raw),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + raw
        )
        chunks += [header + raw, body]
        offset += len(header) + len(raw) + len(body)
    cd = b"".join(central)
    chunks += [cd, struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(cd), offset, 0)]
    for chunk in chunks:
        h.update(chunk)
    return chunks, h.hexdigest(), offset + len(cd) + 22


def skops_untrusted(source: bytes | Path) -> list[str]:
    """Types in a skops file that skops does not trust by default.

    Only ``schema.json`` decides which types a file asks for (arrays are read
    with ``allow_pickle=False``), so the check runs on a copy whose arrays are
    replaced by empty ones: no array bytes are read or copied.
    """
    import zipfile

    import numpy as np

    from ._skops import import_skops

    sio = import_skops()
    src = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source)
    buf = io.BytesIO()
    empty = io.BytesIO()
    np.save(empty, np.empty(0), allow_pickle=False)
    with zipfile.ZipFile(buf, "w") as light:
        for info in src.infolist():
            if info.filename.endswith(".npy"):
                light.writestr(info.filename, empty.getvalue())
            else:
                light.writestr(info.filename, src.read(info.filename))
    return sorted(sio.get_untrusted_types(data=buf.getvalue()))


# -- scikit-learn -------------------------------------------------------------
class SklearnFlavor(Flavor):
    """scikit-learn estimators and pipelines, written with skops (no pickle).

    The types skops does not trust by default are recorded when the file is
    written; loading trusts exactly those and refuses anything else.
    """

    name = "sklearn"
    formats = {"model": ("skops",)}

    def detect(self, model: Any) -> bool:
        return any(m.startswith("sklearn.") for m in _mro_modules(model))

    def frameworks(self) -> dict[str, str]:
        out = {}
        for dist in ("scikit-learn", "skops", "numpy", "scipy"):
            v = _dist_version(dist)
            if v:
                out[dist] = v
        return out

    def save(self, model: Any, directory: Path, *, sample: Any = None) -> Saved:
        from ._skops import import_skops

        sio = import_skops()
        path = directory / "model.skops"
        try:
            data = sio.dumps(model)
        except Exception as exc:
            raise ExportError(
                f"skops could not save the {type(model).__name__}: {exc}.",
                hint="Pass flavor='joblib' (loading then trusts the file) or make the model skops-compatible.",
            ) from exc
        untrusted = skops_untrusted(data)
        chunks, sha, size = canonical_skops(data)
        return Saved(
            model={
                "file": path.name,
                "format": "skops",
                "chunks": chunks,
                "sha256": sha,
                "size": size,
                "metadata": {"trusted_types": untrusted, "class": _type_path(model)},
            }
        )

    def load(self, files: dict[str, Path], artifacts: dict[str, dict], *, prefer: str | None = None) -> Any:
        from ._skops import load_skops

        # the registry passes the types its trust record allows (never a list read from a bundle)
        recorded = list(artifacts["model"].get("metadata", {}).get("trusted_types", []))
        return load_skops(files["model"], recorded, what="The skops file")

    def predict_fn(self, model: Any) -> Callable[[Any], Any] | None:
        return getattr(model, "predict", None)


class JoblibFlavor(SklearnFlavor):
    """Any Python object through joblib (pickle underneath): only on request."""

    name = "joblib"
    safe = False
    formats = {"model": ("joblib",)}

    def detect(self, model: Any) -> bool:
        return False  # only when asked for by name

    def frameworks(self) -> dict[str, str]:
        out = super().frameworks()
        out.pop("skops", None)
        v = _dist_version("joblib")
        if v:
            out["joblib"] = v
        return out

    def save(self, model: Any, directory: Path, *, sample: Any = None) -> Saved:
        joblib = require("joblib", purpose="save with joblib", extra="sklearn")
        path = directory / "model.joblib"
        joblib.dump(model, path, compress=0)
        return Saved(model={"file": path.name, "format": "joblib", "metadata": {"class": _type_path(model)}})

    def load(self, files: dict[str, Path], artifacts: dict[str, dict], *, prefer: str | None = None) -> Any:
        joblib = require("joblib", purpose="load joblib files", extra="sklearn")
        return joblib.load(files["model"])


# -- pickle -------------------------------------------------------------------
class PickleFlavor(Flavor):
    """Plain pickle: loading runs code from the file, so only with ``trusted=True``."""

    name = "pickle"
    safe = False
    formats = {"model": ("pickle",)}

    def save(self, model: Any, directory: Path, *, sample: Any = None) -> Saved:
        import pickle

        path = directory / "model.pkl"
        try:
            with open(path, "wb") as f:
                pickle.dump(model, f, protocol=5)
        except Exception as exc:
            raise ExportError(f"The {type(model).__name__} could not be pickled: {exc}.") from exc
        return Saved(model={"file": path.name, "format": "pickle", "metadata": {"class": _type_path(model)}})

    def load(self, files: dict[str, Path], artifacts: dict[str, dict], *, prefer: str | None = None) -> Any:
        import pickle

        with open(files["model"], "rb") as f:
            return pickle.load(f)  # noqa: S301 - the caller said the source is trusted

    def predict_fn(self, model: Any) -> Callable[[Any], Any] | None:
        return getattr(model, "predict", None)


# -- torch --------------------------------------------------------------------
class TorchFlavor(Flavor):
    """``torch.nn.Module``: its ``state_dict`` plus the import path of its class.

    When the module can be compiled with ``torch.jit.script`` (or traced on
    the sample data), a TorchScript file is stored too under the role
    ``torchscript``; ``load`` prefers rebuilding the class from the state dict
    and falls back to TorchScript when the class cannot be imported.
    Constructor arguments are taken from ``model.init_kwargs`` or
    ``model.hparams`` when the module carries them.
    """

    name = "torch"
    formats = {"model": ("state_dict",), "torchscript": ("torchscript",)}

    def detect(self, model: Any) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(model, torch.nn.Module)

    def frameworks(self) -> dict[str, str]:
        out = {}
        for dist in ("torch", "numpy"):
            v = _dist_version(dist)
            if v:
                out[dist] = v
        return out

    @staticmethod
    def _init_kwargs(model: Any) -> dict:
        for attr in ("init_kwargs", "hparams"):
            value = getattr(model, attr, None)
            if isinstance(value, dict):
                return dict(value)
        return {}

    def save(self, model: Any, directory: Path, *, sample: Any = None) -> Saved:
        torch = require("torch", purpose="save torch modules")
        state_path = directory / "state_dict.pt"
        torch.save(model.state_dict(), state_path)
        init_kwargs = self._init_kwargs(model)
        try:
            import json

            from .._html import to_jsonable

            json.dumps(to_jsonable(init_kwargs))
        except (TypeError, ValueError):
            init_kwargs = {}
        saved = Saved(
            model={
                "file": state_path.name,
                "format": "state_dict",
                "metadata": {"class": _type_path(model), "init_kwargs": init_kwargs},
            }
        )
        was_training = model.training
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self._script(model, directory, saved, sample, torch)
        model.train(was_training)
        return saved

    @staticmethod
    def _script(model: Any, directory: Path, saved: Saved, sample: Any, torch: Any) -> None:
        was_training = model.training
        scripted, how = None, None
        try:
            model.eval()
            try:
                scripted, how = torch.jit.script(model), "script"
            except Exception:
                if sample is not None:
                    try:
                        with torch.no_grad():
                            scripted, how = torch.jit.trace(model, _as_tensor(sample)), "trace"
                    except Exception:
                        scripted = None
            if scripted is not None:
                ts_path = directory / "model.torchscript.pt"
                buf = io.BytesIO()
                torch.jit.save(scripted, buf)
                ts_path.write_bytes(buf.getvalue())
                saved["torchscript"] = {"file": ts_path.name, "format": "torchscript", "metadata": {"method": how}}
        finally:
            model.train(was_training)

    def load(self, files: dict[str, Path], artifacts: dict[str, dict], *, prefer: str | None = None) -> Any:
        torch = require("torch", purpose="load torch modules")
        meta = artifacts["model"].get("metadata", {})
        if prefer == "torchscript":
            if "torchscript" not in files:
                raise ValidationError("This version has no TorchScript file; load it without format='torchscript'.")
            return _jit_load(torch, files["torchscript"])
        cls = None
        error = None
        try:
            cls = _import_path(meta["class"])
        except Exception as exc:  # the class is not importable here
            error = exc
        if cls is not None and not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            # the class path is metadata: never call anything but a module class with it
            error, cls = TypeError(f"{meta.get('class')} is not a torch.nn.Module class"), None
        if cls is not None:
            try:
                module = cls(**meta.get("init_kwargs", {}))
            except TypeError as exc:
                error = exc
            else:
                state = torch.load(files["model"], map_location="cpu", weights_only=True)
                module.load_state_dict(state)
                return module.eval()
        if "torchscript" in files:
            return _jit_load(torch, files["torchscript"])
        raise ModelOpsError(
            f"The torch module class {meta.get('class')} could not be rebuilt ({error}) and this version has no "
            "TorchScript file.",
            hint="Import or define the class first (with the same constructor), or give it init_kwargs.",
        )

    def predict_fn(self, model: Any) -> Callable[[Any], Any] | None:
        torch = require("torch")

        def run(x: Any) -> Any:
            was = model.training
            model.eval()
            try:
                with torch.no_grad():
                    out = model(_as_tensor(x))
            finally:
                model.train(was)
            return out.detach().cpu().numpy() if hasattr(out, "detach") else out

        return run


def _jit_load(torch: Any, path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()


def _as_tensor(x: Any) -> Any:
    import numpy as np
    import torch

    if isinstance(x, torch.Tensor):
        return x
    if hasattr(x, "to_numpy"):
        x = x.to_numpy()
    arr = np.asarray(x)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    if not arr.flags.writeable or not arr.flags.c_contiguous:
        arr = np.array(arr, order="C", copy=True)
    return torch.from_numpy(arr)


def _import_path(path: str) -> Any:
    module_name, _, qual = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


# -- ONNX ---------------------------------------------------------------------
class OnnxFlavor(Flavor):
    """ONNX models: an ``onnx.ModelProto``, or a path to a ``.onnx`` file.

    Loading returns an ``onnx.ModelProto`` (run it with onnxruntime).
    """

    name = "onnx"
    formats = {"model": ("onnx",)}

    def detect(self, model: Any) -> bool:
        if type(model).__name__ == "ModelProto" and type(model).__module__.startswith("onnx"):
            return True
        return isinstance(model, (str, Path)) and str(model).lower().endswith(".onnx")

    def frameworks(self) -> dict[str, str]:
        out = {}
        for dist in ("onnx", "onnxruntime"):
            v = _dist_version(dist)
            if v:
                out[dist] = v
        return out

    def _proto(self, model: Any) -> Any:
        onnx = require("onnx", purpose="store ONNX models")
        if isinstance(model, (bytes, bytearray, memoryview)):
            return onnx.load_from_string(bytes(model))
        if isinstance(model, (str, Path)):
            p = Path(model)
            if not p.is_file():
                raise ValidationError(f"The ONNX file '{model}' does not exist.", hint="Check the path.")
            return onnx.load(str(p))
        return model

    def save(self, model: Any, directory: Path, *, sample: Any = None) -> Saved:
        onnx = require("onnx", purpose="store ONNX models")
        try:
            proto = self._proto(model)
            onnx.checker.check_model(proto)
        except ModelOpsError:
            raise
        except Exception as exc:
            raise ValidationError(f"The ONNX model is not valid: {exc}.") from exc
        path = directory / "model.onnx"
        path.write_bytes(proto.SerializeToString())
        opsets = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
        return Saved(
            model={"file": path.name, "format": "onnx", "metadata": {"opsets": opsets, "ir_version": proto.ir_version}}
        )

    def load(self, files: dict[str, Path], artifacts: dict[str, dict], *, prefer: str | None = None) -> Any:
        onnx = require("onnx", purpose="load ONNX models")
        return onnx.load(str(files["model"]))

    def signature(self, model: Any) -> dict:
        proto = self._proto(model)
        from .signature import ONNX_TYPES

        def describe(values: Any) -> list[dict]:
            out = []
            for v in values:
                t = v.type.tensor_type
                dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
                out.append({"name": v.name, "datatype": ONNX_TYPES.get(t.elem_type, "BYTES"), "shape": dims})
            return out

        init = {i.name for i in proto.graph.initializer}
        return {
            "inputs": describe([i for i in proto.graph.input if i.name not in init]),
            "outputs": describe(proto.graph.output),
        }


# -- the registry of flavors --------------------------------------------------
class Flavors:
    """Holder of the known flavors (``register`` / ``get`` / ``detect``)."""

    def __init__(self) -> None:
        self._flavors: dict[str, Flavor] = {}
        self._entry_points_loaded = False

    def register(self, name: str, flavor: Flavor | type[Flavor]) -> None:
        instance = flavor() if isinstance(flavor, type) else flavor
        instance.name = name
        self._flavors.pop(name, None)
        self._flavors[name] = instance

    def register_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                self.register(ep.name, ep.load())
            except Exception as exc:  # a broken plugin must not break the registry
                import warnings

                warnings.warn(f"The flavor plugin '{ep.name}' could not be loaded: {exc}.", stacklevel=2)

    def names(self) -> list[str]:
        self.register_entry_points()
        return list(self._flavors)

    def get(self, name: str) -> Flavor:
        self.register_entry_points()
        try:
            return self._flavors[name]
        except KeyError:
            raise ValidationError(
                f"Unknown flavor {name!r}.{suggest(name, self._flavors)} Known flavors: {', '.join(self._flavors)}."
            ) from None

    def detect(self, model: Any) -> Flavor | None:
        self.register_entry_points()
        for flavor in reversed(list(self._flavors.values())):
            if flavor.detect(model):
                return flavor
        return None


flavors = Flavors()
flavors.register("pickle", PickleFlavor)
flavors.register("joblib", JoblibFlavor)
flavors.register("sklearn", SklearnFlavor)
flavors.register("onnx", OnnxFlavor)
flavors.register("torch", TorchFlavor)


def register(name: str, flavor: Flavor | type[Flavor]) -> None:
    """Add (or override) a flavor. The latest registration is tried first by detection."""
    flavors.register(name, flavor)
