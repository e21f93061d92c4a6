"""Send an image (or artifact) from the local OCI layout to a registry.

Blobs go first, manifest last, so a reader never sees a manifest whose blobs
are missing. Each blob is HEADed; one the registry already holds is not sent.
A blob known to be in another repository of the same registry (we remember
where we pushed what, and the base image's repository) is mounted instead of
uploaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import tracing
from ..config import subdir
from .client import PushStats, RegistryClient
from .oci import Layout
from .reference import Reference

#: Blobs sent at the same time.
PARALLEL = 3


class BlobLocations:
    """Where blobs were pushed before: ``registry -> digest -> [repositories]`` (a small JSON file)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or subdir("cache", "images") / "blob-locations.json"
        try:
            self.data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def repos(self, registry: str, digest: str) -> list[str]:
        return list(self.data.get(registry, {}).get(digest, []))

    def add(self, registry: str, digest: str, repo: str) -> None:
        repos = self.data.setdefault(registry, {}).setdefault(digest, [])
        if repo in repos:
            repos.remove(repo)
        repos.insert(0, repo)
        del repos[8:]

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self.data))
        os.replace(tmp, self.path)


def push_layout_image(
    layout: Layout,
    manifest_digest: str,
    target: Reference,
    *,
    insecure: bool = False,
    chunk_size: int | None = None,
    progress: bool = True,
    mount_hint: dict[str, list[str]] | None = None,
    manifest_media_type: str | None = None,
) -> tuple[PushStats, str]:
    """Push the manifest ``manifest_digest`` of ``layout`` and its blobs to ``target`` (a ``modelops.push`` span)."""
    with tracing.span("modelops.push", {"modelops.target": str(target), "modelops.manifest": manifest_digest}) as span:
        stats, digest = _push_layout_image(
            layout,
            manifest_digest,
            target,
            insecure=insecure,
            chunk_size=chunk_size,
            progress=progress,
            mount_hint=mount_hint,
            manifest_media_type=manifest_media_type,
        )
        if span is not None:
            span.set_attribute("modelops.image_digest", digest)
        return stats, digest


def _push_layout_image(
    layout: Layout,
    manifest_digest: str,
    target: Reference,
    *,
    insecure: bool = False,
    chunk_size: int | None = None,
    progress: bool = True,
    mount_hint: dict[str, list[str]] | None = None,
    manifest_media_type: str | None = None,
) -> tuple[PushStats, str]:
    man_bytes = layout.read_blob(manifest_digest)
    manifest = json.loads(man_bytes)
    media_type = manifest_media_type or manifest.get("mediaType")
    blobs = [manifest["config"]] + list(manifest.get("layers", []))
    locations = BlobLocations()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=sum(int(b["size"]) for b in blobs),
            desc=f"push {target.repository}",
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            leave=False,
        )
    try:
        with RegistryClient(target.registry, insecure=insecure) as client:
            client.ping_auth(target.repository)  # settle auth once, before blobs go out in parallel

            def one(b: dict) -> None:
                digest, size = b["digest"], int(b["size"])
                mount_from = (mount_hint or {}).get(digest, []) + locations.repos(target.registry, digest)
                client.push_blob(
                    target.repository,
                    digest,
                    size,
                    layout.blob_path(digest),
                    mount_from=mount_from,
                    chunk_size=chunk_size,
                    progress=bar.update if bar is not None else None,
                )

            # the largest blobs first, a few at a time: the registry hashes and stores them concurrently
            order = sorted(blobs, key=lambda b: -int(b["size"]))
            with ThreadPoolExecutor(max_workers=min(PARALLEL, len(order)) or 1) as pool:
                for fut in [pool.submit(one, b) for b in order]:
                    fut.result()
            for b in blobs:
                locations.add(target.registry, b["digest"], target.repository)
            digest = "sha256:" + hashlib.sha256(man_bytes).hexdigest()
            if client.manifest_exists(target.repository, target.reference) != digest:
                digest = client.put_manifest(target.repository, target.reference, man_bytes, media_type)
            stats = client.stats
    finally:
        if bar is not None:
            bar.close()
    try:
        locations.save()
    except OSError:
        pass
    return stats, digest
