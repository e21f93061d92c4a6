"""``build()``: a model version as an OCI image, without a Docker daemon.

The image is the base image plus three layers, in the order they change:

1. **dependencies** (``/opt/modelops/deps``): the model server's runtime
   packages, resolved by pip for the target platform and Python, cached and
   reused while the requirement set is unchanged;
2. **app** (``/opt/modelops/app``): the ``jupyter_modelops`` package, whose
   ``python -m jupyter_modelops.serving`` is the entrypoint;
3. **model** (``/opt/model``): the model directory (``modelops-model.json`` and
   the exported artifacts), stored as an uncompressed tar (weights don't gzip).

The config runs the server on port 8080 as the non-root user 65532 and
carries OCI labels and annotations naming the model, its version and the
sha256 of every artifact. Every layer is deterministic, so the same inputs
give the same digest. The image is written to an OCI image layout under
``MODELOPS_HOME/images`` and, with ``push=``, sent to any OCI registry.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import tracing
from .._html import Result, esc, fmt, page, table
from ..config import subdir
from ..exceptions import BuildError, ModelNotFoundError, ModelOpsWarning, ValidationError
from . import deps as _deps
from .oci import (
    CONFIG,
    INDEX,
    LAYER_GZIP,
    LAYER_TAR,
    MANIFEST,
    TO_OCI,
    Descriptor,
    Entry,
    Layer,
    Layout,
    canonical_json,
    select_platform,
    tree_entries,
    write_layer,
)
from .reference import LayoutReference, Reference, parse_base, parse_reference

DEFAULT_BASE = "docker.io/library/python:3.11-slim-bookworm"
#: Base chosen for GPU profiles: CUDA and cuDNN runtimes with Python 3.11.
DEFAULT_GPU_BASE = "docker.io/pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
DEFAULT_PYTHON = "3.11"
PORT = 8080
USER = "65532:65532"
MODEL_DIR = "/opt/model"
APP_DIR = "/opt/modelops/app"
SPEC_FILE = "modelops-model.json"
EXPORTED_FORMATS = ("onnx", "torchscript")
LABEL_PREFIX = "io.jupyter-modelops"
SCRATCH_WARNING = (
    "this image has no base (scratch), so it has no Python for its entrypoint 'python3' and cannot "
    "start on its own; build on the default base, or any image with Python 3.11, to run or deploy it"
)


# --------------------------------------------------------------------------- result


@dataclass(repr=False)  # keep Result.__repr__: one line
class Image(Result):
    """A built image: where it is, its digest, size and layers.

    Attributes
    ----------
    name, version : str, int or None
        The model the image serves.
    digest : str
        Digest of the image manifest (``sha256:...``): the image's identity.
    size : int
        Bytes of manifest, config and layers (compressed as stored).
    layers : list of dict
        ``role`` (base, dependencies, app, model), ``digest``, ``size``, ``reused``.
    layout : str
        The OCI image layout directory; the image is named ``name:tag`` in it (``layout_name``).
    tag : str
        The image tag (default: the model version).
    pushed : str or None
        ``registry/repo:tag@digest`` when pushed.
    """

    name: str
    version: Any
    digest: str
    size: int
    layers: list[dict]
    layout: str
    tag: str
    platform: str
    base: str
    config_digest: str
    entrypoint: list[str]
    cmd: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    requirements: list[str] = field(default_factory=list)
    pushed: str | None = None
    push_stats: dict | None = None

    @property
    def runnable(self) -> bool:
        """False for an image built on ``scratch``: its entrypoint is ``python3``, which it does not contain."""
        return self.base != "scratch"

    @property
    def reused(self) -> int:
        """How many layers were reused from a cache or an earlier build."""
        return sum(1 for layer in self.layers if layer.get("reused"))

    @property
    def reference(self) -> str | None:
        """``registry/repo:tag@digest`` once pushed (what a cluster pulls), else None."""
        return self.pushed

    @property
    def layout_name(self) -> str:
        """The image's name in the OCI layout (``org.opencontainers.image.ref.name``)."""
        return f"{self.name}:{self.tag}"

    @property
    def location(self) -> str:
        """``oci:LAYOUT:NAME:TAG``, as skopeo spells it."""
        return f"oci:{self.layout}:{self.layout_name}"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "size": self.size,
            "layers": self.layers,
            "layers_reused": self.reused,
            "layout": self.layout,
            "tag": self.tag,
            "location": self.location,
            "platform": self.platform,
            "base": self.base,
            "runnable": self.runnable,
            "config_digest": self.config_digest,
            "entrypoint": self.entrypoint,
            "cmd": self.cmd,
            "labels": self.labels,
            "requirements": self.requirements,
            "pushed": self.pushed,
            "push": self.push_stats,
        }

    def _summary(self) -> str:
        where = self.pushed or self.location
        return (
            f"Image {self.name}:{self.version} {self.digest[:19]} {_mb(self.size)}, {len(self.layers)} layers "
            f"({self.reused} reused) at {where}"
        )

    def to_text(self) -> str:
        lines = [self._summary()]
        if not self.runnable:
            lines.append(f"  warning: {SCRATCH_WARNING}")
        for layer in self.layers:
            lines.append(
                f"  {layer['role']:<12} {layer['digest'][:19]} {_mb(layer['size']):>10}"
                f"{'  reused' if layer.get('reused') else ''}"
            )
        if self.push_stats:
            s = self.push_stats
            lines.append(
                f"  push: {s['uploaded']} blobs sent, {s['mounted']} mounted, {s['present']} already there, "
                f"{s['requests']} requests"
            )
        return "\n".join(lines)

    def to_html(self) -> str:
        rows = [
            [
                layer["role"],
                f"<code>{esc(layer['digest'][:19])}</code>",
                _mb(layer["size"]),
                "reused" if layer.get("reused") else "built",
            ]
            for layer in self.layers
        ]
        body = table(
            [
                ["digest", f"<code>{esc(self.digest)}</code>"],
                ["size", _mb(self.size)],
                ["where", esc(self.pushed or self.location)],
                ["platform", esc(self.platform)],
                ["base", esc(self.base)],
                ["entrypoint", esc(" ".join(self.entrypoint + self.cmd))],
            ],
            raw_cols=[1],
        )
        if not self.runnable:
            body = f'<div class="note">warning: {esc(SCRATCH_WARNING)}</div>' + body
        body += "<h4>Layers</h4>" + table(rows, ["layer", "digest", "size", ""], raw_cols=[1])
        if self.push_stats:
            s = self.push_stats
            body += (
                f'<div class="note">push: {fmt(s["uploaded"])} blobs sent, {fmt(s["mounted"])} mounted, '
                f"{fmt(s['present'])} already in the registry</div>"
            )
        return page(
            f"Image {self.name}:{self.version}", body, subtitle=f"{len(self.layers)} layers, {self.reused} reused"
        )


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


# --------------------------------------------------------------------------- inputs


@dataclass
class ModelDir:
    path: Path
    spec: dict
    ref: str | None  # registry ref when it came from the registry
    cleanup: Callable[[], None] | None = None

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or self.path.name)

    @property
    def version(self) -> Any:
        return self.spec.get("version")


def _is_model_dir(ref: Any) -> bool:
    if isinstance(ref, os.PathLike):
        return True
    return isinstance(ref, str) and (os.sep in ref or ref.startswith(".")) and Path(ref).is_dir()


def model_directory(ref: Any, *, what: str = "build an image") -> ModelDir:
    """A model directory for ``ref``: the registry materializes it, or ``ref`` is one already."""
    if _is_model_dir(ref):
        path = Path(ref)
        if not (path / SPEC_FILE).is_file():
            raise ValidationError(
                f"The directory '{path}' is not a model directory (it has no {SPEC_FILE}).",
                hint="Pass a registry ref such as 'churn:3', or a directory written by registry.materialize().",
            )
        return ModelDir(path, _read_spec(path), None)
    if not isinstance(ref, str) or not ref.strip():
        raise ValidationError(f"ref must be a registry reference such as 'churn:3', got {ref!r}.")
    from .. import registry

    tmp = Path(tempfile.mkdtemp(prefix="modelops-build-"))
    try:
        registry.materialize(ref, tmp / "model")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ModelDir(tmp / "model", _read_spec(tmp / "model"), ref, lambda: shutil.rmtree(tmp, ignore_errors=True))


def _read_spec(path: Path) -> dict:
    try:
        spec = json.loads((path / SPEC_FILE).read_text())
    except ValueError as exc:
        raise ValidationError(f"{path / SPEC_FILE} is not valid JSON: {exc}.") from exc
    if not isinstance(spec.get("artifacts"), dict):
        raise ValidationError(f"{path / SPEC_FILE} lists no artifacts; expected an 'artifacts' mapping.")
    return spec


def serving_runtime(md: ModelDir) -> str:
    """The runtime the server will use: onnx > torchscript; refuse models without an export."""
    formats = {a.get("format") for a in md.spec["artifacts"].values()}
    for fmt_ in EXPORTED_FORMATS:
        if fmt_ in formats:
            return fmt_
    label = md.ref or f"{md.name}:{md.version}"
    raise ValidationError(
        f"The model {label} has no exported artifact (onnx or torchscript) to put in an image; it has only "
        f"{', '.join(sorted(str(f) for f in formats)) or 'nothing'}.",
        hint=f"Export it first: jupyter_modelops.export('{label}', format='onnx') or %modelops export {label} --format onnx.",
    )


def choose_base(base: Any, profile: Any) -> tuple[Any, bool]:
    """``(base, gpu)``: a GPU profile uses onnxruntime-gpu and, unless a base was given, a CUDA base."""
    gpu = _is_gpu(profile)
    if gpu and base == DEFAULT_BASE:
        base = DEFAULT_GPU_BASE
    return base, gpu


def _is_gpu(profile: Any) -> bool:
    if profile is None:
        return False
    if getattr(profile, "gpu", None):
        return True
    for attr in ("limits", "requests"):  # a deploy HardwareProfile asks for nvidia.com/gpu and the like
        if any("gpu" in str(k).lower() for k in (getattr(profile, attr, None) or {})):
            return True
    name = profile if isinstance(profile, str) else getattr(profile, "name", "")
    return "gpu" in str(name).lower() or "cuda" in str(name).lower()


# --------------------------------------------------------------------------- base image


@dataclass
class Base:
    descriptor: str
    manifest: dict
    config: dict
    layers: list[Descriptor]
    fetch: Callable[[Descriptor, Layout, Any], None]  # copy a blob into a layout
    registry: str | None = None
    repository: str | None = None
    digest: str | None = None


def resolve_base(base: Any, *, platform: str, insecure: bool) -> Base | None:
    parsed = parse_base(base)
    if parsed is None:
        return None
    if isinstance(parsed, LayoutReference):
        return _layout_base(parsed, platform)
    return _registry_base(parsed, platform, insecure)


def _layout_base(ref: LayoutReference, platform: str) -> Base:
    if not ref.path.is_dir():
        raise ModelNotFoundError(
            f"The base image directory '{ref.path}' does not exist.",
            hint="Pass an OCI layout directory or a registry reference as base=.",
        )
    layout = Layout(ref.path)
    desc = layout.resolve(ref.tag)
    manifest = json.loads(layout.read_blob(desc.digest))
    digest = desc.digest
    if (
        manifest.get("mediaType") in (INDEX, "application/vnd.docker.distribution.manifest.list.v2+json")
        or "manifests" in manifest
    ):
        chosen = select_platform(manifest, platform)
        digest = chosen["digest"]
        manifest = json.loads(layout.read_blob(digest))
    config = json.loads(layout.read_blob(manifest["config"]["digest"]))

    def fetch(d: Descriptor, dest: Layout, progress) -> None:
        if not dest.has_blob(d.digest):
            dest.add_file_blob(layout.blob_path(d.digest), d.digest)
        if progress is not None:
            progress.update(d.size)

    layers = [
        Descriptor(TO_OCI.get(layer["mediaType"], layer["mediaType"]), layer["digest"], int(layer["size"]))
        for layer in manifest.get("layers", [])
    ]
    return Base(str(ref), manifest, config, layers, fetch, digest=digest)


def _registry_base(ref: Reference, platform: str, insecure: bool) -> Base:
    from .client import RegistryClient

    client = RegistryClient(ref.registry, insecure=insecure)
    try:
        body, media, digest = client.get_manifest(ref.repository, ref.reference)
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(
            f"The base image {ref} was not found in its registry ({exc.message})",
            hint="Check the name and tag, or pass an OCI layout directory as base=.",
        ) from exc
    manifest = json.loads(body)
    if "manifests" in manifest:
        chosen = select_platform(manifest, platform)
        body, media, digest = client.get_manifest(ref.repository, chosen["digest"])
        manifest = json.loads(body)
    config = json.loads(
        client.read_blob(ref.repository, manifest["config"]["digest"], size=manifest["config"].get("size"))
    )

    def fetch(d: Descriptor, dest: Layout, progress) -> None:
        if dest.has_blob(d.digest):
            if progress is not None:
                progress.update(d.size)
            return
        with dest.new_blob() as (f, holder):
            client.fetch_blob(
                ref.repository, d.digest, f, size=d.size, progress=progress.update if progress is not None else None
            )
            holder.append(d.digest)

    layers = [
        Descriptor(TO_OCI.get(layer["mediaType"], layer["mediaType"]), layer["digest"], int(layer["size"]))
        for layer in manifest.get("layers", [])
    ]
    return Base(str(ref), manifest, config, layers, fetch, ref.registry, ref.repository, digest)


def python_version_of(config: dict | None, default: str = DEFAULT_PYTHON) -> str:
    for item in ((config or {}).get("config") or {}).get("Env") or []:
        key, _, value = item.partition("=")
        if key == "PYTHON_VERSION" and value.count(".") >= 1:
            return ".".join(value.split(".")[:2])
    return default


# --------------------------------------------------------------------------- layers


def app_entries() -> list[Entry]:
    """The jupyter_modelops package itself (sources only; no built web assets)."""
    import jupyter_modelops

    pkg = Path(jupyter_modelops.__file__).parent
    entries = tree_entries(pkg, f"{APP_DIR.strip('/')}/jupyter_modelops", exclude=("__pycache__", "labextension"))
    return entries


def model_entries(md: ModelDir) -> list[Entry]:
    """The model directory, checking each artifact's sha256 against its spec."""
    import hashlib

    for role, art in md.spec["artifacts"].items():
        p = md.path / art["path"]
        if not p.is_file():
            raise ValidationError(
                f"The artifact '{role}' ({art['path']}) is missing from the model directory {md.path}."
            )
        if art.get("sha256"):
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            if h.hexdigest() != art["sha256"].removeprefix("sha256:"):
                raise BuildError(
                    f"The artifact '{role}' ({p}) does not match its sha256; refusing to bake a corrupted model."
                )
    return tree_entries(md.path, MODEL_DIR.strip("/"))


def _local_layer(layout: Layout, role: str, entries: list[Entry], *, compress: bool, bar) -> Layer:
    with layout.new_blob() as (f, holder):
        diff_id, digest, size = write_layer(entries, f, compress=compress, progress=bar)
        reused = layout.has_blob(digest)
        holder.append(digest)
    media = LAYER_GZIP if compress else LAYER_TAR
    return Layer(role, Descriptor(media, digest, size), diff_id, reused=reused, files=len(entries))


def _bar(progress: bool, desc: str, total: int | None):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False)


def _entries_size(entries: list[Entry]) -> int:
    total = 0
    for e in entries:
        if e.data is not None:
            total += len(e.data)
        elif e.source is not None and e.source.is_file() and not e.source.is_symlink():
            total += e.source.stat().st_size
    return total


# --------------------------------------------------------------------------- config


def image_config(
    base: Base | None,
    md: ModelDir,
    layers: list[Layer],
    *,
    platform: str,
    python_version: str,
    runtime: str,
    requirements: list[str],
) -> tuple[dict, dict]:
    """The OCI config and the manifest annotations of the image."""
    os_, _, arch = platform.partition("/")
    arch, _, variant = arch.partition("/")
    cfg = json.loads(json.dumps(base.config)) if base else {}
    cfg["architecture"] = arch
    cfg["os"] = os_
    if md.spec.get("created"):
        cfg["created"] = str(md.spec["created"])  # the version's time: fixed, so the digest stays stable
    if variant:
        cfg["variant"] = variant
    inner = dict(cfg.get("config") or {})
    env = [e for e in inner.get("Env") or [] if not e.startswith(("PYTHONPATH=", "MODELOPS_"))]
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env += [
        f"PYTHONPATH=/{_deps.DEPS_DIR}:{APP_DIR}",
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        "HOME=/tmp",
        "MODELOPS_HOME=/tmp/modelops",
        f"MODELOPS_MODEL_DIR={MODEL_DIR}",
    ]
    labels = dict(inner.get("Labels") or {})
    annotations = {
        "org.opencontainers.image.title": f"{md.name}",
        "org.opencontainers.image.version": str(md.version),
        "org.opencontainers.image.description": f"Model {md.name}:{md.version} served over the Open Inference Protocol (KServe V2) on port {PORT}",
        "org.opencontainers.image.vendor": "jupyter-modelops",
        f"{LABEL_PREFIX}.model.name": str(md.name),
        f"{LABEL_PREFIX}.model.version": str(md.version),
        f"{LABEL_PREFIX}.model.flavor": str(md.spec.get("flavor", "")),
        f"{LABEL_PREFIX}.runtime": runtime,
        f"{LABEL_PREFIX}.python": python_version,
        f"{LABEL_PREFIX}.requirements": " ".join(requirements),
    }
    for role, art in sorted(md.spec["artifacts"].items()):
        if art.get("sha256"):
            annotations[f"{LABEL_PREFIX}.artifact.{role}.sha256"] = art["sha256"]
    if base is not None:
        annotations["org.opencontainers.image.base.name"] = base.descriptor
        if base.digest:
            annotations["org.opencontainers.image.base.digest"] = base.digest
    labels.update(annotations)
    inner.update(
        {
            "User": USER,
            "WorkingDir": MODEL_DIR,
            "Env": env,
            "Entrypoint": ["python3", "-m", "jupyter_modelops.serving"],
            "Cmd": ["--model-dir", MODEL_DIR, "--host", "0.0.0.0", "--port", str(PORT)],
            "ExposedPorts": {f"{PORT}/tcp": {}},
            "Labels": dict(sorted(labels.items())),
        }
    )
    inner.pop("Healthcheck", None)
    cfg["config"] = inner
    rootfs = cfg.get("rootfs") or {"type": "layers", "diff_ids": []}
    rootfs = {"type": "layers", "diff_ids": list(rootfs.get("diff_ids", [])) + [la.diff_id for la in layers]}
    cfg["rootfs"] = rootfs
    history = list(cfg.get("history") or [])
    for la in layers:
        history.append({"created_by": f"jupyter-modelops build: {la.role} layer", "comment": la.role})
    cfg["history"] = history
    return cfg, annotations


# --------------------------------------------------------------------------- build


def _check_options(platform: str, tag: str | None, push: str | None) -> None:
    _deps.pip_platforms(platform)  # validates
    if tag is not None:
        import re

        if not isinstance(tag, str) or not re.fullmatch(r"[\w][\w.-]{0,127}", tag):
            raise ValidationError(
                f"tag must be up to 128 letters, digits, '_', '.' or '-' (not starting with '.' or '-'), got {tag!r}."
            )
    if push is not None:
        parse_reference(push, what="push target")


def build(
    ref: Any,
    *,
    base: Any = DEFAULT_BASE,
    tag: str | None = None,
    push: str | None = None,
    platform: str = "linux/amd64",
    profile: Any = None,
    insecure: bool = False,
    python_version: str | None = None,
    chunk_size: int | None = None,
    progress: bool = True,
) -> Image:
    """Build an OCI image that serves a model version, without a Docker daemon.

    Parameters
    ----------
    ref : str or path-like
        A registry reference (``"churn"``, ``"churn:3"``, ``"churn@production"``) of an exported
        version, or a model directory (``modelops-model.json`` plus artifacts).
    base : str or path-like, default=DEFAULT_BASE
        The base image: a registry reference, an OCI image layout directory (``oci:DIR[:TAG]``
        or a path), or ``"scratch"`` (no base: the image then holds only our layers). It must
        provide ``python3`` of ``python_version``.
    tag : str, optional
        Tag of the image; defaults to the model version.
    push : str, optional
        ``REGISTRY/REPOSITORY[:TAG]`` to push to after building (the tag defaults to ``tag``).
    platform : str, default="linux/amd64"
        Target ``os/arch``; the dependency layer is resolved for it.
    profile : str or object, optional
        A hardware profile; a GPU profile swaps in ``onnxruntime-gpu`` and a CUDA base
        (unless ``base`` is given).
    insecure : bool, default=False
        Allow plain HTTP to registries that are not on loopback.
    python_version : str, optional
        Python of the base (``"3.11"``); read from the base's ``PYTHON_VERSION`` when set,
        else 3.11.
    chunk_size : int, optional
        Upload blobs in chunks of this many bytes instead of one streamed request.
    progress : bool, default=True
        Show progress bars for layers and uploads.

    Returns
    -------
    Image
        Digest, size, layers (and which were reused), where it was written and pushed.

    Examples
    --------
    >>> img = build("churn:3", push="127.0.0.1:5000/churn")  # doctest: +SKIP
    >>> img.digest  # doctest: +SKIP
    'sha256:...'
    """
    _check_options(platform, tag, push)
    base, gpu = choose_base(base, profile)
    md = model_directory(ref)
    try:
        with tracing.span(
            "modelops.build",
            {
                "modelops.model": md.name,
                "modelops.model_version": str(md.version),
                "modelops.platform": platform,
                "modelops.push": push,
            },
        ) as span:
            img = _build(
                md,
                base=base,
                tag=tag,
                push=push,
                platform=platform,
                gpu=gpu,
                insecure=insecure,
                python_version=python_version,
                chunk_size=chunk_size,
                progress=progress,
            )
            if span is not None:
                span.set_attribute("modelops.image_digest", img.digest)
        return img
    finally:
        if md.cleanup:
            md.cleanup()


def layout_dir() -> Path:
    """The local OCI image layout that every build writes to."""
    return subdir("images", "oci")


def _build(md: ModelDir, *, base, tag, push, platform, gpu, insecure, python_version, chunk_size, progress) -> Image:
    runtime = serving_runtime(md)
    resolved = resolve_base(base, platform=platform, insecure=insecure)
    pyver = python_version or python_version_of(resolved.config if resolved else None)
    requirements = _deps.requirements_for(runtime, gpu=gpu)
    layout = Layout(layout_dir(), create=True)

    # base layers into the local layout (content-addressed: fetched once)
    layer_info: list[dict] = []
    if resolved is not None:
        for d in resolved.layers:
            reused = layout.has_blob(d.digest)
            bar = _bar(progress, "base layer", d.size)
            resolved.fetch(d, layout, bar)
            if bar is not None:
                bar.close()
            layer_info.append(
                {"role": "base", "digest": d.digest, "size": d.size, "media_type": d.media_type, "reused": reused}
            )

    bar = _bar(progress, "dependencies", None)
    dep_layer, dep_blob = _deps.dependency_layer(requirements, platform=platform, python_version=pyver, progress=bar)
    if bar is not None:
        bar.close()
    layout.add_file_blob(dep_blob, dep_layer.descriptor.digest)

    app = app_entries()
    bar = _bar(progress, "app", _entries_size(app))
    app_layer = _local_layer(layout, "app", app, compress=True, bar=bar)
    if bar is not None:
        bar.close()
    model = model_entries(md)
    bar = _bar(progress, "model", _entries_size(model))
    model_layer = _local_layer(layout, "model", model, compress=False, bar=bar)
    if bar is not None:
        bar.close()
    ours = [dep_layer, app_layer, model_layer]
    layer_info += [la.to_dict() for la in ours]

    cfg, annotations = image_config(
        resolved, md, ours, platform=platform, python_version=pyver, runtime=runtime, requirements=requirements
    )
    cfg_bytes = canonical_json(cfg)
    cfg_digest = layout.put_bytes(cfg_bytes)
    base_layers = resolved.layers if resolved else []
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": Descriptor(CONFIG, cfg_digest, len(cfg_bytes)).to_dict(),
        "layers": [d.to_dict() for d in base_layers] + [la.descriptor.to_dict() for la in ours],
        "annotations": dict(sorted(annotations.items())),
    }
    man_bytes = canonical_json(manifest)
    man_digest = layout.put_bytes(man_bytes)
    image_tag = tag or (str(md.version) if md.version is not None else "latest")
    layout.tag(
        f"{md.name}:{image_tag}",
        Descriptor(
            MANIFEST, man_digest, len(man_bytes), platform={"architecture": cfg["architecture"], "os": cfg["os"]}
        ),
    )
    size = len(man_bytes) + len(cfg_bytes) + sum(int(x["size"]) for x in layer_info)
    img = Image(
        name=md.name,
        version=md.version,
        digest=man_digest,
        size=size,
        layers=layer_info,
        layout=str(layout.path),
        tag=image_tag,
        platform=platform,
        base=resolved.descriptor if resolved else "scratch",
        config_digest=cfg_digest,
        entrypoint=cfg["config"]["Entrypoint"],
        cmd=cfg["config"]["Cmd"],
        labels=cfg["config"]["Labels"],
        requirements=requirements,
    )
    if push is not None:
        from .upload import push_layout_image

        target = parse_reference(push, what="push target")
        if not target.tag and not target.digest:
            target = target.with_tag(image_tag)
        mount_hint = {}
        if resolved is not None and resolved.registry == target.registry and resolved.repository:
            mount_hint = {d.digest: [resolved.repository] for d in base_layers}
        stats, pushed_digest = push_layout_image(
            layout,
            man_digest,
            target,
            insecure=insecure,
            chunk_size=chunk_size,
            progress=progress,
            mount_hint=mount_hint,
        )
        img.pushed = f"{target}@{pushed_digest}"
        img.push_stats = stats.to_dict()
    if md.ref is not None:
        _record(md.ref, img)
    if not img.runnable:
        warnings.warn(ModelOpsWarning(SCRATCH_WARNING), stacklevel=3)
    return img


def _record(ref: str, img: Image) -> None:
    from .. import registry

    add = getattr(registry, "add_record", None)
    if add is not None:
        add(
            ref,
            "image",
            {
                "reference": img.pushed or f"{img.layout_name}@{img.digest}",
                "pushed": img.pushed is not None,
                "location": img.location,
                "digest": img.digest,
                "size": img.size,
                "layout": img.layout,
                "tag": img.tag,
                "platform": img.platform,
                "base": img.base,
                "layers_reused": img.reused,
            },
        )
