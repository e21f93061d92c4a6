"""Bundles: one file that moves versions between machines or registries.

A bundle is an uncompressed tar file holding ``manifest.json`` (the versions'
metadata, artifacts, aliases and records, the exporting environment) and one
member ``blobs/<sha256>`` per distinct file, the manifest first. Import reads
and checks the manifest before it writes anything (names, roles, file names,
sizes, flavor and format, limits on files and bytes), then streams each member,
accepting only the files the manifest lists (no paths to escape through) and
checking each sha256 against its name before anything is committed. It warns
when this environment differs from the exporting one in a way that can break
loading. Imported versions are not trusted until ``trust(ref)``.
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
from . import signature as sig
from ._refs import check_name
from .api import _commit, _version, get, records
from .results import BundleInfo, ModelVersion
from .store import StagedFile, default_store, hash_file, now

__all__ = ["export_bundle", "import_bundle", "bundle_command", "EnvironmentMismatchWarning"]

BUNDLE_FORMAT = "jupyter-modelops-bundle"
BUNDLE_SCHEMA = 1
_BLOB_RE = re.compile(r"blobs/([0-9a-f]{64})")
_SHA_RE = re.compile(r"[0-9a-f]{64}")
#: default limits of import_bundle (MODELOPS_BUNDLE_MAX_FILES / MODELOPS_BUNDLE_MAX_BYTES override them)
MAX_FILES = 10_000
MAX_BYTES = 64 << 30
MAX_MANIFEST_BYTES = 256 << 20


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
        entries.append(
            {
                "name": mv.name,
                "version": mv.version,
                "flavor": mv.flavor,
                "created": mv.created,
                "user": mv.user,
                "parent": mv.parent,
                "aliases": mv.aliases,
                "meta": mv.meta,
                "artifacts": mv.artifacts,
                "records": records(mv),
            }
        )
    manifest = {
        "format": BUNDLE_FORMAT,
        "schema": BUNDLE_SCHEMA,
        "created": now(),
        "exported_by": __version__,
        "environment": sig.environment(),
        "versions": entries,
        "blobs": blobs,
    }
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


def _limit(value: int | None, env: str, default: int, arg: str) -> int:
    if value is None:
        raw = os.environ.get(env, "")
        try:
            value = int(raw) if raw.strip() else default
        except ValueError:
            raise ValidationError(f"{env}={raw!r} is not a whole number; expected e.g. {default}.") from None
        arg = env
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{arg} must be a positive whole number; got {value!r}.")
    return value


class _Bad(Exception):
    """One thing wrong with a manifest, said in words (turned into a ValidationError naming the bundle)."""


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise _Bad(what)


def _check_manifest(manifest: Any, *, max_files: int, max_bytes: int) -> tuple[list[dict], dict[str, int]]:
    """Check every field import reads; returns (version entries, blobs ``sha256 -> size``)."""
    from ._refs import check_filename, check_role
    from .flavors import flavors

    _need(isinstance(manifest, dict) and manifest.get("format") == BUNDLE_FORMAT, "it has no jupyter-modelops manifest")
    schema = manifest.get("schema")
    _need(isinstance(schema, int) and not isinstance(schema, bool), f"its schema is {schema!r}, not a number")
    if schema > BUNDLE_SCHEMA:
        raise ValidationError(
            f"The bundle has schema {schema}; this version reads schema {BUNDLE_SCHEMA}.",
            hint="Upgrade jupyter-modelops.",
        )
    blobs = manifest.get("blobs")
    _need(isinstance(blobs, dict), "its manifest has no 'blobs' table")
    _need(
        len(blobs) <= max_files,
        f"it holds {len(blobs)} files, more than the limit of {max_files} "
        "(raise max_files or MODELOPS_BUNDLE_MAX_FILES if you expect that many)",
    )
    for sha, size in blobs.items():
        _need(
            isinstance(sha, str) and _SHA_RE.fullmatch(sha) is not None,
            f"its manifest names a file {sha!r}, which is not a sha256",
        )
        _need(
            isinstance(size, int) and not isinstance(size, bool) and size >= 0,
            f"its manifest gives the file {sha[:12]}... the size {size!r}",
        )
    total = sum(blobs.values())
    _need(
        total <= max_bytes,
        f"its files hold {total} bytes, more than the limit of {max_bytes} "
        "(raise max_bytes or MODELOPS_BUNDLE_MAX_BYTES if you expect that much)",
    )
    entries = manifest.get("versions")
    _need(isinstance(entries, list) and 0 < len(entries) <= max_files, "its manifest lists no versions")
    for entry in entries:
        _need(isinstance(entry, dict), f"a version entry is a {type(entry).__name__}, not an object")
        ref = f"{entry.get('name')!r}:{entry.get('version')!r}"
        try:
            check_name(entry.get("name"))
        except ValidationError:
            raise _Bad(f"a version has the invalid model name {entry.get('name')!r}") from None
        version = entry.get("version")
        _need(
            isinstance(version, int) and not isinstance(version, bool) and version > 0,
            f"the version {ref} has no positive version number",
        )
        flavor = entry.get("flavor")
        _need(isinstance(flavor, str), f"the version {ref} names no flavor")
        try:
            fl = flavors.get(flavor)
        except ValidationError:
            raise _Bad(f"the version {ref} needs the flavor {flavor!r}, which is not installed here") from None
        meta = entry.get("meta")
        _need(isinstance(meta, dict), f"the version {ref} has no metadata object")
        for key in ("environment", "frameworks", "signature"):
            _need(isinstance(meta.get(key, {}), dict), f"the metadata '{key}' of {ref} is not an object")
        _need(
            all(isinstance(k, str) and isinstance(v, str) for k, v in meta.get("frameworks", {}).items()),
            f"the frameworks of {ref} are not package names with versions",
        )
        roles = meta.get("flavor_roles", ["model"])
        _need(
            isinstance(roles, list) and all(isinstance(r, str) for r in roles),
            f"the flavor roles of {ref} are not a list of names",
        )
        artifacts = entry.get("artifacts")
        _need(isinstance(artifacts, dict) and bool(artifacts), f"the version {ref} lists no files")
        for role, a in artifacts.items():
            try:
                check_role(role)
            except ValidationError:
                raise _Bad(f"the version {ref} has a file under the invalid role {role!r}") from None
            _need(isinstance(a, dict), f"the file entry {role} of {ref} is not an object")
            _need(isinstance(a.get("metadata", {}), dict), f"the metadata of the file {role} of {ref} is not an object")
            _need(isinstance(a.get("format"), str) and a["format"] != "", f"the file {role} of {ref} has no format")
            try:
                check_filename(a.get("filename"))
            except ValidationError:
                raise _Bad(
                    f"the file {role} of {ref} has the file name {a.get('filename')!r}, which is not one plain "
                    "file name (no '/', '\\', '..', leading '.' or control characters)"
                ) from None
            sha = a.get("sha256")
            _need(isinstance(sha, str) and sha in blobs, f"the file {role} of {ref} is not among the bundle's files")
            _need(a.get("size", blobs[sha]) == blobs[sha], f"the file {role} of {ref} has two different sizes")
        for role, allowed in fl.formats.items():
            if role == "model":
                _need(role in artifacts, f"the {flavor} version {ref} has no 'model' file")
            if role in artifacts:
                fmt = artifacts[role]["format"]
                _need(
                    fmt in allowed,
                    f"the {flavor} version {ref} stores its {role} file as {fmt!r}, but the "
                    f"{flavor} flavor writes {' or '.join(repr(f) for f in allowed)}; flavor and format disagree",
                )
        recs = entry.get("records", [])
        _need(isinstance(recs, list), f"the records of {ref} are not a list")
        for rec in recs:
            _need(
                isinstance(rec, dict) and isinstance(rec.get("data"), dict) and isinstance(rec.get("ref"), str),
                f"a record of {ref} is not an object with 'kind', 'ref' and 'data'",
            )
            try:
                check_role(rec.get("kind"), arg="kind", what="record kind")
            except ValidationError:
                raise _Bad(f"a record of {ref} has the invalid kind {rec.get('kind')!r}") from None
    return entries, blobs


def _same_files(store: Any, name: str, flavor: str, files: dict[str, str]) -> int | None:
    """The row id of a version of ``name`` with exactly these ``role -> sha256`` files and flavor, if any."""
    rows = store.query(
        "SELECT v.id, a.role, a.sha256 FROM versions v JOIN artifacts a ON a.version_id = v.id "
        "WHERE v.name = ? AND v.flavor = ? ORDER BY v.version DESC",
        (name, flavor),
    )
    found: dict[int, dict[str, str]] = {}
    for vid, role, sha in rows:
        found.setdefault(vid, {})[role] = sha
    for vid, have in found.items():
        if have == files:
            return vid
    return None


def import_bundle(
    path: str | os.PathLike, *, name: str | None = None, max_files: int | None = None, max_bytes: int | None = None
) -> BundleInfo:
    """Import the versions of a bundle as new versions in this registry.

    The manifest (the bundle's first member) is read and checked before any
    file is written: every name, size, role, file name and flavor/format pair.
    Then each file is streamed, hashed and checked against its name and
    listed size; a member the manifest does not list stops the import. A
    version whose files and flavor a version of the same model already has
    is not imported again: that version is returned (so importing, or
    pulling, the same thing twice creates nothing new).

    Imported versions are **not trusted**: their pickle or joblib files are
    not loaded and their skops files load only skops' default types until
    :func:`~jupyter_modelops.registry.trust` is run on them (the bundle's own
    lists of trusted types are dropped).

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`export_bundle`.
    name : str, optional
        Import under this model name instead of the exported one(s).
    max_files : int, optional
        Refuse a bundle with more files (default 10000, or ``MODELOPS_BUNDLE_MAX_FILES``).
    max_bytes : int, optional
        Refuse a bundle whose files hold more bytes (default 64 GiB, or ``MODELOPS_BUNDLE_MAX_BYTES``).

    Returns
    -------
    BundleInfo
        ``.versions`` are the :class:`ModelVersion` objects (numbered in this
        registry), ``.existing`` the refs that were already there,
        ``.warnings`` the environment mismatches (also raised as
        :class:`EnvironmentMismatchWarning`).

    Raises
    ------
    ValidationError
        When the file is not a bundle, breaks a limit, or any checksum does not
        match; then nothing is imported.
    """
    if name is not None:
        check_name(name)
    max_files = _limit(max_files, "MODELOPS_BUNDLE_MAX_FILES", MAX_FILES, "max_files")
    max_bytes = _limit(max_bytes, "MODELOPS_BUNDLE_MAX_BYTES", MAX_BYTES, "max_bytes")
    src = Path(path)
    if not src.is_file():
        raise ValidationError(f"The bundle file '{src}' does not exist.", hint="Check the path.")
    store = default_store()
    hint = "Pass a file written by export_bundle()."
    try:
        tar = tarfile.open(src, mode="r:")
    except (tarfile.TarError, OSError) as exc:
        raise ValidationError(f"'{src}' is not a model bundle: {exc}.", hint=hint) from exc
    messages: list[str] = []
    with tar, store.staging() as stage:
        try:
            first = tar.next()
            if first is None or first.name != "manifest.json" or not first.isfile():
                raise ValidationError(
                    f"'{src}' is not a model bundle: its first member is "
                    f"{first.name if first else 'missing'!r}, not manifest.json; nothing was "
                    "imported.",
                    hint=hint,
                )
            if first.size > MAX_MANIFEST_BYTES:
                raise ValidationError(
                    f"The manifest of the bundle '{src}' is {first.size} bytes, more than the limit "
                    f"of {MAX_MANIFEST_BYTES}; nothing was imported.",
                    hint=hint,
                )
            try:
                manifest = json.loads(tar.extractfile(first).read())  # type: ignore[union-attr]
            except ValueError as exc:
                raise ValidationError(f"The manifest of '{src}' is not valid JSON: {exc}.", hint=hint) from exc
            try:
                entries, blobs = _check_manifest(manifest, max_files=max_files, max_bytes=max_bytes)
            except _Bad as bad:
                raise ValidationError(
                    f"'{src}' is not a valid model bundle: {bad}; nothing was imported.", hint=hint
                ) from None
            staged: dict[str, StagedFile] = {}
            seen: set[str] = set()
            while (member := tar.next()) is not None:  # headers one by one, after the manifest
                m = _BLOB_RE.fullmatch(member.name)
                sha = m.group(1) if m else None
                if sha is None or not member.isfile() or sha not in blobs or sha in seen:
                    raise ValidationError(
                        f"The bundle '{src}' holds a member its manifest does not list "
                        f"({member.name!r}); nothing was imported.",
                        hint=hint,
                    )
                if member.size != blobs[sha]:
                    raise ValidationError(
                        f"The bundle '{src}' is corrupted: the file {sha[:12]}... has {member.size} "
                        f"bytes but its manifest says {blobs[sha]}; nothing was imported.",
                        hint="Copy the bundle again.",
                    )
                seen.add(sha)
                target = stage / sha
                h = hashlib.sha256()
                if store.has_blob(sha):  # the same bytes are here already: only checked, not written
                    with tar.extractfile(member) as f:  # type: ignore[union-attr]
                        for chunk in iter(lambda: f.read(1 << 20), b""):
                            h.update(chunk)
                else:
                    with tar.extractfile(member) as f, open(target, "wb") as out:  # type: ignore[union-attr]
                        for chunk in iter(lambda: f.read(1 << 20), b""):
                            h.update(chunk)
                            out.write(chunk)
                        out.flush()
                        os.fsync(out.fileno())
                if h.hexdigest() != sha:
                    raise ValidationError(
                        f"The bundle '{src}' is corrupted: a file's sha256 is {h.hexdigest()[:12]}"
                        f"... but its name says {sha[:12]}...; nothing was imported.",
                        hint="Copy the bundle again.",
                    )
                staged[sha] = StagedFile(target, sha, member.size)
        except (tarfile.TarError, EOFError) as exc:
            raise ValidationError(
                f"'{src}' is not a readable model bundle ({exc}); nothing was imported.", hint="Copy the bundle again."
            ) from exc
        for entry in entries:
            for role, a in entry["artifacts"].items():
                if a["sha256"] not in staged:
                    raise ValidationError(
                        f"The bundle '{src}' lacks the file of {entry['name']}:{entry['version']} "
                        f"({role}); nothing was imported.",
                        hint="Copy the bundle again.",
                    )
        imported, existing = [], []
        for entry in entries:
            ref = f"{entry['name']}:{entry['version']}"
            for msg in environment_warnings(entry, ref=ref):
                messages.append(msg)
                warnings.warn(msg, EnvironmentMismatchWarning, stacklevel=2)
            target_name = name or entry["name"]
            same = _same_files(
                store, target_name, entry["flavor"], {role: a["sha256"] for role, a in entry["artifacts"].items()}
            )
            if same is not None:
                mv = _version(store, same)
                existing.append(mv.ref)
                imported.append(mv)
                continue
            meta = {k: v for k, v in entry["meta"].items() if k != "trusted"}
            meta["origin"] = {
                "kind": "bundle",
                "ref": ref,
                "bundle": src.name,
                "parent": entry.get("parent"),
                "created": entry.get("created"),
                "user": entry.get("user"),
            }
            files = {
                role: (
                    staged[a["sha256"]],
                    {
                        "file": a["filename"],
                        "format": a["format"],
                        # a bundle cannot say which types to trust: only this registry's trust records do
                        "metadata": {k: v for k, v in a.get("metadata", {}).items() if k != "trusted_types"},
                    },
                )
                for role, a in entry["artifacts"].items()
            }
            mv = _commit(store, target_name, entry["flavor"], meta, files)
            for rec in entry.get("records", []):
                from .api import add_record

                add_record(mv, rec["kind"], {**rec["data"], "imported_from": rec["ref"]})
            imported.append(_version(store, _row_id(store, mv)))
    sha, size = hash_file(src)
    return BundleInfo(src, imported, sha256=sha, size=size, warnings=messages, imported=True, existing=existing)


def _row_id(store: Any, mv: ModelVersion) -> int:
    return store.query("SELECT id FROM versions WHERE name = ? AND version = ?", (mv.name, mv.version))[0][0]


def bundle_command(
    action: str,
    items: list[str],
    *,
    name: str | None = None,
    max_files: int | None = None,
    max_bytes: int | None = None,
) -> BundleInfo:
    """The ``bundle export REF... FILE`` / ``bundle import FILE`` verb shared by the magic and the CLI."""
    if action == "export":
        if len(items) < 2:
            raise ValidationError(
                "bundle export needs one or more versions and then the bundle file, "
                f"e.g. 'bundle export churn:3 churn.mobundle'; got {len(items)} argument(s)."
            )
        if name is not None or max_files is not None or max_bytes is not None:
            raise ValidationError("--name, --max-files and --max-bytes apply to bundle import only.")
        return export_bundle(items[:-1], items[-1])
    if action == "import":
        if len(items) != 1:
            raise ValidationError(f"bundle import takes one bundle file; got {len(items)} arguments.")
        return import_bundle(items[0], name=name, max_files=max_files, max_bytes=max_bytes)
    raise ValidationError(f"Unknown bundle action {action!r}; expected 'export' or 'import'.")
