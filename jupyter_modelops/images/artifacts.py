"""Share registry versions through an OCI registry: ``push(ref, target)`` and ``pull(source)``.

A version travels as an OCI artifact (image manifest v1.1 with an
``artifactType`` of our own): its config blob is the version's metadata
(``application/vnd.jupyter-modelops.model.config.v1+json``) and its one layer
is the registry bundle (``registry.export_bundle``: artifacts, metadata and
checksums). ``pull`` verifies every digest and imports the bundle with
``registry.import_bundle``. Blobs the registry already has are not sent again.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._html import Result, esc, page, table
from ..exceptions import BuildError, ValidationError
from .build import layout_dir
from .oci import ANNOTATION_TITLE, MANIFEST, Descriptor, Layout, canonical_json, file_digest
from .reference import parse_reference

ARTIFACT_TYPE = "application/vnd.jupyter-modelops.model.v1"
CONFIG_TYPE = "application/vnd.jupyter-modelops.model.config.v1+json"
BUNDLE_TYPE = "application/vnd.jupyter-modelops.bundle.v1"


@dataclass
class ArtifactTransfer(Result):
    """What ``push`` sent or ``pull`` received."""

    direction: str  # "push" or "pull"
    ref: str  # the local registry version
    remote: str  # registry/repo:tag@digest
    digest: str
    size: int
    stats: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"direction": self.direction, "ref": self.ref, "remote": self.remote, "digest": self.digest,
                "size": self.size, "stats": self.stats, "warnings": self.warnings}

    def _summary(self) -> str:
        arrow = "->" if self.direction == "push" else "<-"
        return f"{self.direction}: {self.ref} {arrow} {self.remote} ({self.size / 1e6:.1f} MB)"

    def to_text(self) -> str:
        lines = [self._summary()]
        if self.stats:
            lines.append("  " + ", ".join(f"{k}: {v}" for k, v in self.stats.items()))
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_html(self) -> str:
        rows = [["local version", esc(self.ref)], ["remote", esc(self.remote)], ["digest", f"<code>{esc(self.digest)}</code>"],
                ["size", f"{self.size / 1e6:.1f} MB"]] + [[k, esc(v)] for k, v in self.stats.items()]
        body = table(rows, raw_cols=[1])
        if self.warnings:
            body += "<ul>" + "".join(f'<li class="warn">{esc(w)}</li>' for w in self.warnings) + "</ul>"
        return page(f"Model {self.direction}", body)


def _metadata(mv: Any) -> dict:
    doc = mv.to_dict() if hasattr(mv, "to_dict") else {}
    try:
        json.dumps(doc)
    except (TypeError, ValueError):
        from .._html import to_jsonable

        doc = json.loads(json.dumps(to_jsonable(doc), default=str))
    return doc


def push(ref: str, target: str, *, insecure: bool = False, chunk_size: int | None = None,
         progress: bool = True) -> ArtifactTransfer:
    """Push a registry version to an OCI registry as an artifact.

    Parameters
    ----------
    ref : str
        The version: ``"churn"``, ``"churn:3"`` or ``"churn@production"``.
    target : str
        ``REGISTRY/REPOSITORY[:TAG]``; the tag defaults to the version number.
    insecure : bool, default=False
        Allow plain HTTP to a registry that is not on loopback.
    chunk_size : int, optional
        Upload in chunks of this many bytes.
    progress : bool, default=True
        Show a progress bar.

    Returns
    -------
    ArtifactTransfer
        The remote reference with its digest, the size and what was sent.
    """
    from .. import registry
    from .upload import push_layout_image

    dest = parse_reference(target, what="push target")
    mv = registry.get(ref)
    if not dest.tag and not dest.digest:
        dest = dest.with_tag(str(mv.version))
    layout = Layout(layout_dir(), create=True)
    with tempfile.TemporaryDirectory(prefix="modelops-push-") as tmp:
        bundle_path = Path(tmp) / f"{mv.name}-{mv.version}.bundle"
        registry.export_bundle(mv.ref, bundle_path)
        digest = file_digest(bundle_path)
        size = bundle_path.stat().st_size
        layout.add_file_blob(bundle_path, digest)
    meta = _metadata(mv)
    cfg = canonical_json(meta)
    cfg_digest = layout.put_bytes(cfg)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": Descriptor(CONFIG_TYPE, cfg_digest, len(cfg)).to_dict(),
        "layers": [Descriptor(BUNDLE_TYPE, digest, size, {ANNOTATION_TITLE: bundle_path.name}).to_dict()],
        "annotations": {
            "org.opencontainers.image.title": str(mv.name),
            "org.opencontainers.image.version": str(mv.version),
            "io.jupyter-modelops.model.name": str(mv.name),
            "io.jupyter-modelops.model.version": str(mv.version),
            "io.jupyter-modelops.model.flavor": str(getattr(mv, "flavor", "")),
        },
    }
    man = canonical_json(manifest)
    man_digest = layout.put_bytes(man)
    stats, pushed = push_layout_image(layout, man_digest, dest, insecure=insecure, chunk_size=chunk_size,
                                      progress=progress)
    remote = f"{dest}@{pushed}"
    add = getattr(registry, "add_record", None)
    if add is not None:
        add(mv.ref, "oci-push", {"remote": remote, "digest": pushed, "size": size + len(cfg)})
    return ArtifactTransfer("push", mv.ref, remote, pushed, size + len(cfg) + len(man), stats.to_dict())


def pull(source: str, *, insecure: bool = False, progress: bool = True) -> ArtifactTransfer:
    """Pull a model version pushed by :func:`push` into the local registry.

    Parameters
    ----------
    source : str
        ``REGISTRY/REPOSITORY:TAG`` or ``...@sha256:DIGEST``.
    insecure : bool, default=False
        Allow plain HTTP to a registry that is not on loopback.
    progress : bool, default=True
        Show a progress bar.

    Returns
    -------
    ArtifactTransfer
        The imported version's ref (``ref``), the remote digest and any import warnings.
    """
    from .. import registry
    from .client import RegistryClient

    src = parse_reference(source, what="pull source")
    with RegistryClient(src.registry, insecure=insecure) as client:
        body, media, digest = client.get_manifest(src.repository, src.reference)
        manifest = json.loads(body)
        kind = manifest.get("artifactType") or (manifest.get("config") or {}).get("mediaType")
        if kind not in (ARTIFACT_TYPE, CONFIG_TYPE):
            raise ValidationError(
                f"{src} is not a model pushed by jupyter_modelops.push (its type is {kind or media!r}, expected {ARTIFACT_TYPE}).",
                hint="To run an image, deploy it; to share a model, push it with jupyter_modelops.push(ref, target).",
            )
        layers = [layer for layer in manifest.get("layers", []) if layer.get("mediaType") == BUNDLE_TYPE]
        if len(layers) != 1:
            raise BuildError(f"{src} holds {len(layers)} model bundles; expected one.")
        layer = layers[0]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=int(layer["size"]), desc=f"pull {src.repository}", unit="B", unit_scale=True,
                       unit_divisor=1024, leave=False)
        with tempfile.TemporaryDirectory(prefix="modelops-pull-") as tmp:
            name = os.path.basename((layer.get("annotations") or {}).get(ANNOTATION_TITLE) or "model.bundle")
            path = Path(tmp) / name
            try:
                with open(path, "wb") as f:
                    client.fetch_blob(src.repository, layer["digest"], f, progress=bar.update if bar else None)
            finally:
                if bar is not None:
                    bar.close()
            info = registry.import_bundle(path)
        stats = client.stats.to_dict()
    versions = list(getattr(info, "versions", []) or [])
    ref = ", ".join(getattr(v, "ref", str(v)) for v in versions) or "?"
    add = getattr(registry, "add_record", None)
    if add is not None and versions:
        add(getattr(versions[0], "ref", ref), "oci-pull", {"remote": f"{src}@{digest}", "digest": digest})
    return ArtifactTransfer("pull", ref, f"{src}@{digest}", digest, int(layer["size"]), stats,
                            list(getattr(info, "warnings", []) or []))
