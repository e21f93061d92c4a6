"""Share registry versions through an OCI registry: ``push(ref, target)`` and ``pull(source)``.

A version travels as an OCI artifact (image manifest v1.1 with an
``artifactType`` of our own): its config blob is the version's metadata
(``application/vnd.jupyter-modelops.model.config.v1+json``: the manifest of the
registry's bundle, ``registry.export_bundle``) and each distinct artifact file
is one layer whose digest is the file's sha256, so weights shared by versions
are stored and sent once. ``pull`` verifies every digest, reassembles the
bundle and imports it with ``registry.import_bundle`` (which checks it again).
Blobs the registry already has are not sent again.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._html import Result, esc, page, table
from ..exceptions import BuildError, ValidationError
from .build import layout_dir
from .oci import ANNOTATION_TITLE, MANIFEST, Descriptor, Layout, canonical_json
from .reference import parse_reference

ARTIFACT_TYPE = "application/vnd.jupyter-modelops.model.v1"
CONFIG_TYPE = "application/vnd.jupyter-modelops.model.config.v1+json"
ARTIFACT_LAYER_TYPE = "application/vnd.jupyter-modelops.artifact.v1"
TRANSFER_KINDS = ("oci-push", "oci-pull")


@dataclass(repr=False)  # keep Result.__repr__: one line
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
        return {
            "direction": self.direction,
            "ref": self.ref,
            "remote": self.remote,
            "digest": self.digest,
            "size": self.size,
            "stats": self.stats,
            "warnings": self.warnings,
        }

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
        rows = [
            ["local version", esc(self.ref)],
            ["remote", esc(self.remote)],
            ["digest", f"<code>{esc(self.digest)}</code>"],
            ["size", f"{self.size / 1e6:.1f} MB"],
        ] + [[k, esc(v)] for k, v in self.stats.items()]
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


def _export(mv: Any, layout: Layout, tmp: Path) -> tuple[bytes, list[dict]]:
    """Export ``mv`` as a registry bundle and split it: (metadata JSON, artifact layer descriptors).

    Each distinct artifact file becomes one layer whose digest is the file's sha256 (so the
    same weights are stored and sent once, whatever the version), and the bundle's
    ``manifest.json`` (without its export time, and without transfer records) becomes the config.
    """
    import hashlib
    import tarfile

    from .. import registry

    bundle = tmp / "version.bundle"
    registry.export_bundle(mv.ref, bundle)
    meta = None
    layers = []
    roles: dict[str, str] = {}
    with tarfile.open(bundle, mode="r:") as tar:
        for member in tar:
            if member.name == "manifest.json":
                meta = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
                continue
            sha = member.name.rsplit("/", 1)[-1]
            digest = "sha256:" + sha
            if not layout.has_blob(digest):
                with layout.new_blob() as (out, holder), tar.extractfile(member) as f:  # type: ignore[union-attr]
                    h = hashlib.sha256()
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
                        out.write(chunk)
                    if h.hexdigest() != sha:
                        raise BuildError(
                            f"The exported file of {mv.ref} does not match its sha256; refusing to push it."
                        )
                    holder.append(digest)
            layers.append((sha, member.size))
    if not isinstance(meta, dict):
        raise BuildError(f"The registry's bundle of {mv.ref} has no manifest.json.")
    for entry in meta.get("versions", []):
        for role, art in (entry.get("artifacts") or {}).items():
            roles.setdefault(art["sha256"], role)
        entry["records"] = [r for r in entry.get("records") or [] if r.get("kind") not in TRANSFER_KINDS]
    meta.pop("created", None)
    descs = [
        Descriptor(ARTIFACT_LAYER_TYPE, "sha256:" + sha, size, {ANNOTATION_TITLE: roles.get(sha, sha[:12])}).to_dict()
        for sha, size in sorted(layers)
    ]
    return canonical_json(meta), descs


def push(
    ref: str, target: str, *, insecure: bool = False, chunk_size: int | None = None, progress: bool = True
) -> ArtifactTransfer:
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

    Examples
    --------
    >>> push("churn:3", "registry.example.com/team/models/churn")  # doctest: +SKIP
    """
    from .. import registry
    from .upload import push_layout_image

    dest = parse_reference(target, what="push target")
    mv = registry.get(ref)
    if not dest.tag and not dest.digest:
        dest = dest.with_tag(str(mv.version))
    layout = Layout(layout_dir(), create=True)
    with tempfile.TemporaryDirectory(prefix="modelops-push-") as tmp:
        cfg, layers = _export(mv, layout, Path(tmp))
    cfg_digest = layout.put_bytes(cfg)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": Descriptor(CONFIG_TYPE, cfg_digest, len(cfg)).to_dict(),
        "layers": layers,
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
    stats, pushed = push_layout_image(
        layout, man_digest, dest, insecure=insecure, chunk_size=chunk_size, progress=progress
    )
    remote = f"{dest}@{pushed}"
    size = len(man) + len(cfg) + sum(int(la["size"]) for la in layers)
    registry.add_record(mv.ref, "oci-push", {"remote": remote, "digest": pushed, "size": size})
    return ArtifactTransfer("push", mv.ref, remote, pushed, size, stats.to_dict())


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
        try:
            manifest = json.loads(body)
        except ValueError as exc:
            raise ValidationError(f"The manifest of {src} is not JSON ({exc}).") from exc
        if not isinstance(manifest, dict):
            raise ValidationError(f"The manifest of {src} is not a JSON object.")
        kind = manifest.get("artifactType") or (manifest.get("config") or {}).get("mediaType")
        if kind not in (ARTIFACT_TYPE, CONFIG_TYPE):
            raise ValidationError(
                f"{src} is not a model pushed by jupyter_modelops.push (its type is {kind or media!r}, expected {ARTIFACT_TYPE}).",
                hint="To run an image, deploy it; to share a model, push it with jupyter_modelops.push(ref, target).",
            )
        layers = _checked_layers(manifest, src)
        total = sum(int(layer["size"]) for layer in layers)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=total, desc=f"pull {src.repository}", unit="B", unit_scale=True, unit_divisor=1024, leave=False
            )
        with tempfile.TemporaryDirectory(prefix="modelops-pull-") as tmp:
            meta = client.read_blob(src.repository, manifest["config"]["digest"], size=manifest["config"].get("size"))
            path = Path(tmp) / "version.bundle"
            try:
                _write_bundle(client, src.repository, meta, layers, path, bar)
            finally:
                if bar is not None:
                    bar.close()
            info = registry.import_bundle(path)
        stats = client.stats.to_dict()
    versions = list(getattr(info, "versions", []) or [])
    ref = ", ".join(getattr(v, "ref", str(v)) for v in versions) or "?"
    for v in versions:  # pulling the same artifact again finds the same version: record it once
        if not any(r["data"].get("digest") == digest for r in registry.records(v.ref, kind="oci-pull")):
            registry.add_record(v.ref, "oci-pull", {"remote": f"{src}@{digest}", "digest": digest})
    return ArtifactTransfer(
        "pull", ref, f"{src}@{digest}", digest, total, stats, list(getattr(info, "warnings", []) or [])
    )


def _checked_layers(manifest: dict, src: Any) -> list[dict]:
    """The artifact layers of a pulled manifest, after checking each digest and size (and the bundle limits)."""
    import re

    from ..registry.bundle import MAX_BYTES, MAX_FILES, _limit

    raw = manifest.get("layers", [])
    config = manifest.get("config")
    if not isinstance(raw, list) or not isinstance(config, dict) or not isinstance(config.get("digest"), str):
        raise ValidationError(f"The manifest of {src} has no list of layers and config descriptor.")
    layers = [la for la in raw if isinstance(la, dict) and la.get("mediaType") == ARTIFACT_LAYER_TYPE]
    max_files = _limit(None, "MODELOPS_BUNDLE_MAX_FILES", MAX_FILES, "max_files")
    max_bytes = _limit(None, "MODELOPS_BUNDLE_MAX_BYTES", MAX_BYTES, "max_bytes")
    if len(layers) > max_files:
        raise ValidationError(
            f"{src} has {len(layers)} files, more than the limit of {max_files}.",
            hint="Raise MODELOPS_BUNDLE_MAX_FILES if you expect that many.",
        )
    for la in layers:
        size = la.get("size")
        if (
            not (isinstance(la.get("digest"), str) and re.fullmatch(r"sha256:[0-9a-f]{64}", la["digest"]))
            or not isinstance(size, int)
            or isinstance(size, bool)
            or size < 0
        ):
            raise ValidationError(
                f"{src} lists a layer with the digest {la.get('digest')!r} and size {size!r}; "
                "expected sha256: with 64 hex digits and a size in bytes."
            )
    total = sum(la["size"] for la in layers)
    if total > max_bytes:
        raise ValidationError(
            f"{src} holds {total} bytes of files, more than the limit of {max_bytes}.",
            hint="Raise MODELOPS_BUNDLE_MAX_BYTES if you expect that much.",
        )
    return layers


def _write_bundle(client: Any, repo: str, meta: bytes, layers: list[dict], path: Path, bar: Any) -> None:
    """Reassemble the registry's bundle: ``manifest.json`` plus ``blobs/<sha256>`` per artifact file."""
    import io
    import tarfile

    def info(name: str, size: int) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode = size, 0, 0o644
        return ti

    with (
        tempfile.TemporaryDirectory(dir=path.parent) as blobs,
        tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.addfile(info("manifest.json", len(meta)), io.BytesIO(meta))
        for layer in layers:
            digest = layer["digest"]
            part = Path(blobs) / digest.split(":", 1)[1]
            with open(part, "wb") as f:
                client.fetch_blob(repo, digest, f, size=layer["size"], progress=bar.update if bar is not None else None)
            with open(part, "rb") as f:
                tar.addfile(info(f"blobs/{digest.split(':', 1)[1]}", part.stat().st_size), f)
            part.unlink()
