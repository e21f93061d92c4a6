"""Read a **model directory**, the unit the model server serves.

A model directory holds ``modelops-model.json`` and the artifact files it names::

    {"schema": 1, "name": "churn", "version": 3, "flavor": "sklearn",
     "signature": {"inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, 20]}],
                   "outputs": [...], "feature_names": [...]},
     "artifacts": {"native": {"path": "model.skops", "sha256": "...", "format": "skops"},
                   "onnx": {"path": "model.onnx", "sha256": "...", "format": "onnx"}}}

The registry writes it (``registry.materialize``); the image builder bakes it
into images; this module only reads and checks it.

Its ``trust`` section is the registry's decision, taken when the directory was
written: ``{"trusted": bool, "by", "at", "how", "trusted_types": {role:
[types]}}``. The server loads a pickle or joblib file only when ``trusted`` is
true, and a skops file only when every type it asks for beyond skops' defaults
is listed for its role. A directory without the section is untrusted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ValidationError

SPEC_FILE = "modelops-model.json"

#: V2 datatypes and their numpy dtype names.
V2_TO_NUMPY = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
NUMPY_TO_V2 = {v: k for k, v in V2_TO_NUMPY.items()}
NUMPY_TO_V2.update({"str": "BYTES", "bytes": "BYTES"})

#: Artifact formats each runtime can load, in the server's order of preference.
RUNTIME_FORMATS = {
    "onnx": ("onnx",),
    "torchscript": ("torchscript",),
    "native": ("skops", "joblib", "pickle"),
}
RUNTIME_PREFERENCE = ("onnx", "torchscript", "native")


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor of a signature: V2 datatype and shape (-1 = any size)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass
class ModelSpec:
    """The parsed ``modelops-model.json`` of one model directory."""

    directory: Path
    name: str
    version: str
    flavor: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    feature_names: list[str] | None
    artifacts: dict[str, dict[str, Any]]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    trust: dict[str, Any] = field(default_factory=dict)

    @property
    def trusted(self) -> bool:
        """True when the directory says its files may run code when loaded (pickle, joblib)."""
        return self.trust.get("trusted") is True

    def trusted_types(self, role: str) -> list[str]:
        """The skops types beyond skops' defaults that the artifact of ``role`` may load."""
        types = (self.trust.get("trusted_types") or {}).get(role) or []
        return [t for t in types if isinstance(t, str)]

    def artifact(self, runtime: str) -> tuple[str, Path, str] | None:
        """Return ``(role, path, format)`` of the first artifact a runtime can load, or None."""
        formats = RUNTIME_FORMATS[runtime]
        # roles named after the runtime first ("onnx"), then any role with a fitting format
        roles = sorted(self.artifacts, key=lambda r: (r != runtime, r.endswith("int8"), r))
        for role in roles:
            art = self.artifacts[role]
            fmt = str(art.get("format", "")).lower()
            if fmt in formats:
                return role, self.directory / art["path"], fmt
        return None


def _tensor(entry: Any, where: str) -> TensorSpec:
    if not isinstance(entry, dict) or "name" not in entry:
        raise ValidationError(f"{where} must be an object with 'name', 'datatype' and 'shape'; got {entry!r}.")
    datatype = str(entry.get("datatype", "FP64")).upper()
    if datatype not in V2_TO_NUMPY:
        raise ValidationError(
            f"{where} '{entry['name']}' has datatype {datatype!r}; expected one of {', '.join(V2_TO_NUMPY)}."
        )
    shape = entry.get("shape", [-1])
    if not isinstance(shape, (list, tuple)) or not all(isinstance(d, int) for d in shape):
        raise ValidationError(f"{where} '{entry['name']}' has shape {shape!r}; expected a list of integers.")
    return TensorSpec(str(entry["name"]), datatype, tuple(int(d) for d in shape))


def read_model_dir(directory: str | Path, *, verify: bool = True) -> ModelSpec:
    """Read and check a model directory.

    Parameters
    ----------
    directory : str or Path
        Folder holding ``modelops-model.json`` and the artifact files.
    verify : bool, default=True
        Check each artifact's sha256 against the spec.

    Returns
    -------
    ModelSpec

    Raises
    ------
    ValidationError
        When the folder, the spec or an artifact is missing or malformed.
    """
    d = Path(directory)
    spec_path = d / SPEC_FILE
    if not spec_path.is_file():
        raise ValidationError(
            f"'{d}' is not a model directory: it has no {SPEC_FILE}.",
            hint="Write one with registry.materialize(ref, directory) or pass a model reference.",
        )
    try:
        raw = json.loads(spec_path.read_text())
    except ValueError as exc:
        raise ValidationError(f"{spec_path} is not valid JSON: {exc}.") from exc
    if not isinstance(raw, dict):
        raise ValidationError(f"{spec_path} must hold a JSON object; got {type(raw).__name__}.")
    sig = raw.get("signature") or {}
    inputs = [_tensor(e, "signature input") for e in sig.get("inputs") or []]
    outputs = [_tensor(e, "signature output") for e in sig.get("outputs") or []]
    artifacts = raw.get("artifacts") or {}
    if not isinstance(artifacts, dict) or not artifacts:
        raise ValidationError(f"{spec_path} lists no artifacts; expected at least one under 'artifacts'.")
    trust = raw.get("trust") or {}
    if not isinstance(trust, dict) or not isinstance(trust.get("trusted_types", {}), dict):
        raise ValidationError(
            f"The 'trust' section of {spec_path} must be an object with 'trusted' and 'trusted_types'.",
            hint="Materialize the model directory again.",
        )
    for role, art in artifacts.items():
        if not isinstance(art, dict) or not isinstance(art.get("path"), str):
            raise ValidationError(f"Artifact '{role}' in {spec_path} must be an object with a 'path'.")
        p = d / art["path"]
        if not p.resolve().is_relative_to(d.resolve()):
            raise ValidationError(
                f"Artifact '{role}' names '{art['path']}', which is outside {d}; it was not read.",
                hint="Materialize the model directory again.",
            )
        if not p.is_file():
            raise ValidationError(f"Artifact '{role}' names '{art['path']}', which is not in {d}.")
        if verify and art.get("sha256"):
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            if h.hexdigest() != art["sha256"]:
                raise ValidationError(
                    f"Artifact '{role}' ({art['path']}) does not match its sha256 in {SPEC_FILE}: "
                    "the file was changed or truncated.",
                    hint="Materialize the model directory again.",
                )
    return ModelSpec(
        directory=d,
        name=str(raw.get("name") or d.name),
        version=str(raw.get("version", "1")),
        flavor=str(raw.get("flavor", "sklearn")),
        inputs=inputs,
        outputs=outputs,
        feature_names=list(sig["feature_names"]) if sig.get("feature_names") else None,
        artifacts=artifacts,
        raw=raw,
        trust=trust,
    )


def _now_iso() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_model_dir(
    model: Any,
    directory: str | Path,
    *,
    name: str,
    version: str | int = 1,
    n_features: int | None = None,
    feature_names: list[str] | None = None,
    onnx: bool = True,
    native_format: str = "skops",
) -> Path:
    """Write a model directory straight from an in-memory scikit-learn model.

    The registry's ``materialize`` does the same for stored versions; this is
    for serving a model that was never snapshotted, and for tests.

    Parameters
    ----------
    model : scikit-learn estimator
        A fitted estimator or pipeline taking one 2-D float input.
    directory : str or Path
        Created if needed.
    name, version : str
        The model's name and version in the V2 URLs.
    n_features : int, optional
        Defaults to ``model.n_features_in_``.
    feature_names : list of str, optional
        Defaults to ``model.feature_names_in_`` when present.
    onnx : bool, default=True
        Also export to ONNX with skl2onnx (zipmap off), so the server uses onnxruntime.
    native_format : {"skops", "joblib"}, default="skops"
        How the scikit-learn model itself is saved. skops is safe to load;
        joblib (pickle) loads faster but runs code from the file.

    Returns
    -------
    Path
        The directory.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    n = int(n_features or getattr(model, "n_features_in_", 0) or 0)
    if n <= 0:
        raise ValidationError("n_features is needed: the model has no n_features_in_.")
    if feature_names is None and hasattr(model, "feature_names_in_"):
        feature_names = [str(c) for c in model.feature_names_in_]
    if native_format == "skops":
        from ..registry._skops import import_skops

        sio = import_skops()
        native = d / "model.skops"
        sio.dump(model, native)
    elif native_format == "joblib":
        import joblib

        native = d / "model.joblib"
        joblib.dump(model, native)
    else:
        raise ValidationError(f"native_format={native_format!r} is not known; expected 'skops' or 'joblib'.")
    artifacts = {"native": {"path": native.name, "sha256": _sha256(native), "format": native_format}}
    # written here from the caller's own object: trusted, with exactly the types the file holds
    from ..registry.flavors import skops_untrusted
    from ..registry.signature import user

    types = {"native": skops_untrusted(native)} if native_format == "skops" else {}
    trust = {"trusted": True, "by": user(), "at": _now_iso(), "how": "memory", "trusted_types": types}
    classifier = hasattr(model, "predict_proba") and hasattr(model, "classes_")
    if onnx:
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType

        options = {id(model): {"zipmap": False}} if classifier else None
        import warnings

        with warnings.catch_warnings():  # skl2onnx's own use of a deprecated onnx helper
            warnings.simplefilter("ignore", DeprecationWarning)
            onx = to_onnx(
                model,
                initial_types=[("input", FloatTensorType([None, n]))],
                options=options,
                target_opset={"": 17, "ai.onnx.ml": 3},
            )
        path = d / "model.onnx"
        path.write_bytes(onx.SerializeToString())
        artifacts["onnx"] = {"path": path.name, "sha256": _sha256(path), "format": "onnx"}
    if classifier:
        import numpy as np

        classes = np.asarray(model.classes_)
        label_dt = NUMPY_TO_V2.get(classes.dtype.name, "BYTES")
        outputs = [
            {"name": "label", "datatype": label_dt, "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(classes)]},
        ]
    else:
        outputs = [{"name": "predictions", "datatype": "FP64", "shape": [-1]}]
    spec = {
        "schema": 1,
        "name": name,
        "version": str(version),
        "flavor": "sklearn",
        "signature": {
            "inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, n]}],
            "outputs": outputs,
            "feature_names": feature_names,
        },
        "artifacts": artifacts,
        "trust": trust,
    }
    (d / SPEC_FILE).write_text(json.dumps(spec, indent=2))
    return d
