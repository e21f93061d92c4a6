"""Bundles: one file that moves versions between machines or registries.

A bundle is an uncompressed tar file holding ``manifest.json`` (the versions'
metadata, artifacts, aliases and records, the exporting environment) and one
member ``blobs/<sha256>`` per distinct file. Import checks every member's
sha256 against its name before anything is committed, accepts no other member
names (no paths to escape through), and warns when this environment differs
from the exporting one in a way that can break loading.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import warnings
from pathlib import Path
from typing import Any, Iterable

from .._version import __version__
from ..exceptions import ValidationError
from ._refs import check_name
from .api import _commit, _version, get, records
from .results import BundleInfo, ModelVersion
from . import signature as sig
from .store import StagedFile, default_store, hash_file, now

__all__ = ["export_bundle", "import_bundle", "bundle_command", "EnvironmentMismatchWarning"]

BUNDLE_FORMAT = "jupyter-modelops-bundle"
BUNDLE_SCHEMA = 1
_BLOB_RE = re.compile(r"^blobs/([0-9a-f]{64})$")


class EnvironmentMismatchWarning(UserWarning):
    """The environment importing a bundle differs from the one that exported it."""


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.size = size
    ti.mtime = 0
    ti.mode = 0o644
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def export_bundle(ref: str | ModelVersion | Iterable[str | ModelVersion], path: str | os.PathLike) -> BundleInfo:
    """Write one or more versions to a single bundle file.

    Parameters
    ----------
    ref : str, ModelVersion or list of them
        The versions to carry (``"churn"`` is the latest).
    path : str or path-like
        The bundle file to write (conventionally ``*.mobundle``). Written to
        a temporary name and renamed, so a crash leaves no half bundle.

    Returns
    -------
    BundleInfo
    """
    refs = [ref] if isinstance(ref, (str, ModelVersion)) else list(ref)
    if not refs:
        raise ValidationError("The argument 'ref' is empty; pass at least one version to export.")
    mvs = [r if isinstance(r, ModelVersion) else get(r) for r in refs]
    store = default_store()
    blobs: dict[str, int] = {}
    entries = []
    for mv in mvs:
        for role, a in mv.artifacts.items():
            store.verify_blob(a["sha256"], what=f"{mv.ref} ({role})")
            blobs[a["sha256"]] = a["size"]
        entries.append({"name": mv.name, "version": mv.version, "flavor": mv.flavor, "created": mv.created,
                        "user": mv.user, "parent": mv.parent, "aliases": mv.aliases, "meta": mv.meta,
                        "artifacts": mv.artifacts, "records": records(mv)})
    manifest = {"format": BUNDLE_FORMAT, "schema": BUNDLE_SCHEMA, "created": now(), "exported_by": __version__,
                "environment": sig.environment(), "versions": entries, "blobs": blobs}
    out = Path(path)
    if out.is_dir():
        raise ValidationError(f"The argument 'path' must be a file name; '{out}' is a folder.")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            tar.addfile(_tarinfo("manifest.json", len(data)), io.BytesIO(data))
            for sha in sorted(blobs):
                with open(store.blob_path(sha), "rb") as f:
                    tar.addfile(_tarinfo(f"blobs/{sha}", blobs[sha]), f)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    sha, size = hash_file(out)
    return BundleInfo(out, [mv.ref for mv in mvs], sha256=sha, size=size)


def _major_minor(v: str | None) -> tuple[str, ...]:
    return tuple((v or "").split("+")[0].split(".")[:2])


def environment_warnings(entry: dict, *, ref: str) -> list[str]:
    """Differences between an exported version's environment and this one that can break loading."""
    here = sig.environment()
    out = []
    there = entry["meta"].get("environment", {})
    if _major_minor(there.get("python")) != _major_minor(here["python"]):
        out.append(f"{ref} was saved with Python {there.get('python')}; this is Python {here['python']}.")
    needed = entry["meta"].get("frameworks", {})
    for pkg, version in needed.items():
        local = here["packages"].get(pkg) or sig._installed(pkg)
        if local is None:
            out.append(f"{ref} needs {pkg} {version} to load, and {pkg} is not installed here.")
        elif _major_minor(local) != _major_minor(version):
            out.append(f"{ref} was saved with {pkg} {version}; this environment has {pkg} {local}.")
    return out


def import_bundle(path: str | os.PathLike, *, name: str | None = None) -> BundleInfo:
    """Import the versions of a bundle as new versions in this registry.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`export_bundle`.
    name : str, optional
        Import under this model name instead of the exported one(s).

    Returns
    -------
    BundleInfo
        ``.versions`` are the new :class:`ModelVersion` objects (numbered in
        this registry), ``.warnings`` the environment mismatches (also raised
        as :class:`EnvironmentMismatchWarning`).

    Raises
    ------
    ValidationError
        When the file is not a bundle or any checksum does not match; then
        nothing is imported.
    """
    if name is not None:
        check_name(name)
    src = Path(path)
    if not src.is_file():
        raise ValidationError(f"The bundle file '{src}' does not exist.", hint="Check the path.")
    store = default_store()
    try:
        tar = tarfile.open(src, mode="r:")
    except (tarfile.TarError, OSError) as exc:
        raise ValidationError(f"'{src}' is not a model bundle: {exc}.",
                              hint="Pass a file written by export_bundle().") from exc
    messages: list[str] = []
    with tar, store.staging() as stage:
        manifest = None
        staged: dict[str, StagedFile] = {}
        for member in tar:
            if member.name == "manifest.json" and member.isfile() and manifest is None:
                try:
                    manifest = json.loads(tar.extractfile(member).read())  # type: ignore[union-attr]
                except ValueError as exc:
                    raise ValidationError(f"The manifest of '{src}' is not valid JSON: {exc}.") from exc
                continue
            m = _BLOB_RE.match(member.name)
            if not m or not member.isfile():
                raise ValidationError(f"The bundle '{src}' holds an unexpected member {member.name!r}; "
                                      "nothing was imported.", hint="Only files written by export_bundle() import.")
            sha = m.group(1)
            target = stage / sha
            h = hashlib.sha256()
            with tar.extractfile(member) as f, open(target, "wb") as out:  # type: ignore[union-attr]
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if h.hexdigest() != sha:
                raise ValidationError(f"The bundle '{src}' is corrupted: a file's sha256 is {h.hexdigest()[:12]}... "
                                      f"but its name says {sha[:12]}...; nothing was imported.",
                                      hint="Copy the bundle again.")
            staged[sha] = StagedFile(target, sha, member.size)
        if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
            raise ValidationError(f"'{src}' is not a model bundle (no jupyter-modelops manifest).",
                                  hint="Pass a file written by export_bundle().")
        if int(manifest.get("schema", 0)) > BUNDLE_SCHEMA:
            raise ValidationError(f"The bundle '{src}' has schema {manifest.get('schema')}; this version reads "
                                  f"schema {BUNDLE_SCHEMA}.", hint="Upgrade jupyter-modelops.")
        for entry in manifest["versions"]:
            for role, a in entry["artifacts"].items():
                if a["sha256"] not in staged:
                    raise ValidationError(f"The bundle '{src}' lacks the file of {entry['name']}:{entry['version']} "
                                          f"({role}); nothing was imported.")
        imported = []
        for entry in manifest["versions"]:
            ref = f"{entry['name']}:{entry['version']}"
            for msg in environment_warnings(entry, ref=ref):
                messages.append(msg)
                warnings.warn(msg, EnvironmentMismatchWarning, stacklevel=2)
            meta = dict(entry["meta"])
            meta["origin"] = {"kind": "bundle", "ref": ref, "bundle": src.name, "parent": entry.get("parent"),
                              "created": entry.get("created"), "user": entry.get("user")}
            files = {role: (staged[a["sha256"]], {"file": a["filename"], "format": a["format"],
                                                  "metadata": a.get("metadata", {})})
                     for role, a in entry["artifacts"].items()}
            mv = _commit(store, name or check_name(entry["name"]), entry["flavor"], meta, files)
            for rec in entry.get("records", []):
                from .api import add_record

                add_record(mv, rec["kind"], {**rec["data"], "imported_from": rec["ref"]})
            imported.append(_version(store, _row_id(store, mv)))
    sha, size = hash_file(src)
    return BundleInfo(src, imported, sha256=sha, size=size, warnings=messages, imported=True)


def _row_id(store: Any, mv: ModelVersion) -> int:
    return store.query("SELECT id FROM versions WHERE name = ? AND version = ?", (mv.name, mv.version))[0][0]


def bundle_command(action: str, items: list[str], *, name: str | None = None) -> BundleInfo:
    """The ``bundle export REF... FILE`` / ``bundle import FILE`` verb shared by the magic and the CLI."""
    if action == "export":
        if len(items) < 2:
            raise ValidationError("bundle export needs one or more versions and then the bundle file, "
                                  f"e.g. 'bundle export churn:3 churn.mobundle'; got {len(items)} argument(s).")
        if name is not None:
            raise ValidationError("--name applies to bundle import only.")
        return export_bundle(items[:-1], items[-1])
    if action == "import":
        if len(items) != 1:
            raise ValidationError(f"bundle import takes one bundle file; got {len(items)} arguments.")
        return import_bundle(items[0], name=name)
    raise ValidationError(f"Unknown bundle action {action!r}; expected 'export' or 'import'.")
