"""OCI image layout, deterministic layers, configs and manifests.

A layer is written in one streaming pass that hashes the uncompressed tar (its
``diff_id``) and the bytes stored (its digest). Entries are sorted, times,
owners and names of owners are zeroed, modes are normalised (0644, or 0755 for
directories and executables) and gzip headers carry no name and no time, so
the same files always give the same digests.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Iterator

from ..exceptions import BuildError, ModelNotFoundError

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY_JSON = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
ANNOTATION_REF = "org.opencontainers.image.ref.name"
ANNOTATION_TITLE = "org.opencontainers.image.title"

# docker media types of the same bytes, spelled the OCI way
TO_OCI = {DOCKER_MANIFEST: MANIFEST, DOCKER_LIST: INDEX, DOCKER_CONFIG: CONFIG, DOCKER_LAYER: LAYER_GZIP}

CHUNK = 1 << 20


def canonical_json(obj: object) -> bytes:
    """Stable JSON bytes (sorted keys, no spaces): equal objects give equal digests."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


@dataclass
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict | None = None
    artifact_type: str | None = None
    platform: dict | None = None

    def to_dict(self) -> dict:
        out: dict = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.platform:
            out["platform"] = self.platform
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Descriptor":
        return cls(
            d["mediaType"], d["digest"], int(d["size"]), d.get("annotations"), d.get("artifactType"), d.get("platform")
        )


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class Entry:
    """One file of a layer: its path in the image and where its bytes come from."""

    arcname: str  # relative, no leading '/'
    source: Path | None = None  # a file, a directory (when data is None) or a symlink
    data: bytes | None = None
    mode: int | None = None
    is_dir: bool = False


def tree_entries(
    src: Path, dest: str, *, exclude: Iterable[str] = ("__pycache__",), preserve_modes: bool = False
) -> list[Entry]:
    """Entries for ``src`` (a directory) placed at ``dest`` in the image (with parent directories).

    Modes are normalised (0644/0755) unless ``preserve_modes`` (for a whole root filesystem,
    where ``/tmp`` must stay 1777 and setuid bits matter). Sockets and FIFOs are skipped.
    """
    src = Path(src)
    dest = dest.strip("/")
    skip = set(exclude)
    out = [Entry(dest, is_dir=True, mode=(os.stat(src).st_mode & 0o7777) if preserve_modes else None)] if dest else []
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        keep = []
        for d in sorted(dirs):
            if d in skip:
                continue
            p = Path(root) / d
            if p.is_symlink():
                out.append(Entry(_join(dest, rel / d), source=p))
            else:
                keep.append(d)
                mode = (os.lstat(p).st_mode & 0o7777) if preserve_modes else None
                out.append(Entry(_join(dest, rel / d), is_dir=True, mode=mode))
        dirs[:] = keep
        for f in sorted(files):
            if f.endswith((".pyc", ".pyo")) or f in skip:
                continue
            p = Path(root) / f
            st = os.lstat(p)
            if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
                continue
            mode = (st.st_mode & 0o7777) if preserve_modes and not stat.S_ISLNK(st.st_mode) else None
            out.append(Entry(_join(dest, rel / f), source=p, mode=mode))
    return out


def _join(dest: str, rel: Path) -> str:
    r = rel.as_posix()
    if r == ".":
        return dest
    return f"{dest}/{r}" if dest else r


def parents_of(entries: list[Entry]) -> list[Entry]:
    """Directory entries for every parent of every entry (so that tools create them with 0755)."""
    have = {e.arcname for e in entries}
    extra = set()
    for e in entries:
        parts = e.arcname.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if p and p not in have:
                extra.add(p)
    return [Entry(p, is_dir=True) for p in sorted(extra)]


class _HashingWriter:
    """A write-only file that hashes what passes and forwards it."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, b) -> int:
        self.hash.update(b)
        self.target.write(b)
        self.size += len(b)
        return len(b)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass


@dataclass
class Layer:
    """A layer blob: its descriptor plus its uncompressed digest (``diff_id``)."""

    role: str
    descriptor: Descriptor
    diff_id: str
    reused: bool = False
    files: int = 0

    def to_dict(self) -> dict:
        return {
            "role": self.role,
            "digest": self.descriptor.digest,
            "diff_id": self.diff_id,
            "size": self.descriptor.size,
            "media_type": self.descriptor.media_type,
            "reused": self.reused,
            "files": self.files,
        }


def _tarinfo(e: Entry) -> tuple[tarfile.TarInfo, IO[bytes] | None]:
    ti = tarfile.TarInfo(e.arcname)
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    if e.is_dir:
        ti.type = tarfile.DIRTYPE
        ti.mode = e.mode or 0o755
        return ti, None
    if e.data is not None:
        ti.size = len(e.data)
        ti.mode = e.mode or 0o644
        return ti, io.BytesIO(e.data)
    assert e.source is not None
    st = os.lstat(e.source)
    if stat.S_ISLNK(st.st_mode):
        ti.type = tarfile.SYMTYPE
        ti.linkname = os.readlink(e.source)
        ti.mode = 0o777
        return ti, None
    if stat.S_ISDIR(st.st_mode):
        ti.type = tarfile.DIRTYPE
        ti.mode = e.mode or 0o755
        return ti, None
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        ti.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        ti.mode = e.mode or 0o666
        return ti, None
    ti.size = st.st_size
    ti.mode = e.mode or (0o755 if st.st_mode & 0o111 else 0o644)
    return ti, open(e.source, "rb")


def write_layer(entries: list[Entry], out: IO[bytes], *, compress: bool, progress=None) -> tuple[str, str, int]:
    """Write a deterministic tar (gzip when ``compress``) to ``out``.

    Returns ``(diff_id, digest, size)``.
    """
    entries = sorted(parents_of(entries) + entries, key=lambda e: e.arcname)
    seen: set[str] = set()
    stored = _HashingWriter(out)
    gz = gzip.GzipFile(filename="", mode="wb", fileobj=stored, mtime=0, compresslevel=6) if compress else None
    raw = _HashingWriter(gz if gz is not None else stored)
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT, copybufsize=CHUNK) as tar:
        for e in entries:
            if e.arcname in seen:
                continue
            seen.add(e.arcname)
            ti, fobj = _tarinfo(e)
            try:
                tar.addfile(ti, fobj)
            finally:
                if fobj is not None:
                    fobj.close()
            if progress is not None and ti.size:
                progress.update(ti.size)
    if gz is not None:
        gz.close()
    diff_id = "sha256:" + raw.hash.hexdigest()
    digest = "sha256:" + stored.hash.hexdigest()
    return diff_id, digest, stored.size


# --------------------------------------------------------------------------- layout


class Layout:
    """An OCI image layout directory: ``oci-layout``, ``index.json`` and ``blobs/sha256/``."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = Path(path)
        if create:
            (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
            marker = self.path / "oci-layout"
            if not marker.exists():
                marker.write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
            if not (self.path / "index.json").exists():
                self._write_index({"schemaVersion": 2, "mediaType": INDEX, "manifests": []})
        elif not (self.path / "oci-layout").is_file():
            raise ModelNotFoundError(
                f"The base image directory '{self.path}' is not an OCI image layout (it has no 'oci-layout' file).",
                hint="Pass an OCI layout directory (e.g. from 'skopeo copy ... oci:DIR:TAG') or a registry reference.",
            )

    def blob_path(self, digest: str) -> Path:
        algo, hexd = digest.split(":", 1)
        return self.path / "blobs" / algo / hexd

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def read_blob(self, digest: str) -> bytes:
        try:
            return self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise BuildError(
                f"The OCI layout '{self.path}' is missing the blob {digest}; the layout is incomplete."
            ) from None

    def put_bytes(self, data: bytes) -> str:
        digest = sha256_digest(data)
        p = self.blob_path(digest)
        if not p.exists():
            tmp = p.with_name(p.name + f".tmp{os.getpid()}")
            tmp.write_bytes(data)
            os.replace(tmp, p)
        return digest

    @contextlib.contextmanager
    def new_blob(self) -> Iterator[tuple[IO[bytes], list]]:
        """Write a blob of unknown digest: yields ``(file, holder)``; put the digest in ``holder``."""
        tmpdir = self.path / "blobs" / "sha256"
        fd, tmp = tempfile.mkstemp(dir=tmpdir, prefix=".incoming-")
        holder: list = []
        try:
            with os.fdopen(fd, "wb") as f:
                yield f, holder
            if not holder:
                raise BuildError("internal error: a blob was written without its digest")
            os.replace(tmp, self.blob_path(holder[0]))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def add_file_blob(self, src: Path, digest: str) -> None:
        """Hard-link (or copy) a file already known to have ``digest`` into the layout."""
        dst = self.blob_path(digest)
        if dst.exists():
            return
        tmp = dst.with_name(dst.name + f".tmp{os.getpid()}")
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)

    # index
    def index(self) -> dict:
        return json.loads((self.path / "index.json").read_text())

    def _write_index(self, index: dict) -> None:
        tmp = self.path / f".index.json.tmp{os.getpid()}"
        tmp.write_text(json.dumps(index, indent=2))
        os.replace(tmp, self.path / "index.json")

    def tags(self) -> dict[str, Descriptor]:
        out = {}
        for m in self.index().get("manifests", []):
            name = (m.get("annotations") or {}).get(ANNOTATION_REF)
            if name:
                out[name] = Descriptor.from_dict(m)
        return out

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise index updates between processes building into the same layout."""
        import fcntl

        with open(self.path / ".index.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def tag(self, name: str, desc: Descriptor) -> None:
        with self._locked():
            self._tag(name, desc)

    def _tag(self, name: str, desc: Descriptor) -> None:
        index = self.index()
        keep = [m for m in index.get("manifests", []) if (m.get("annotations") or {}).get(ANNOTATION_REF) != name]
        d = Descriptor(
            desc.media_type,
            desc.digest,
            desc.size,
            {**(desc.annotations or {}), ANNOTATION_REF: name},
            desc.artifact_type,
            desc.platform,
        )
        keep.append(d.to_dict())
        index["manifests"] = sorted(keep, key=lambda m: m["annotations"][ANNOTATION_REF])
        self._write_index(index)

    def resolve(self, tag: str | None) -> Descriptor:
        tags = self.tags()
        if tag is None:
            manifests = self.index().get("manifests", [])
            if len(manifests) == 1:
                return Descriptor.from_dict(manifests[0])
            if not manifests:
                raise ModelNotFoundError(f"The OCI layout '{self.path}' holds no image.")
            raise BuildError(
                f"The OCI layout '{self.path}' holds {len(manifests)} images; say which one with oci:DIR:TAG "
                f"(tags: {', '.join(sorted(tags)) or 'none'})."
            )
        if tag not in tags:
            from ..exceptions import suggest

            raise ModelNotFoundError(
                f"The OCI layout '{self.path}' has no image tagged '{tag}'.{suggest(tag, tags)} "
                f"Tags: {', '.join(sorted(tags)) or 'none'}."
            )
        return tags[tag]


def select_platform(index: dict, platform: str) -> dict:
    """Pick the manifest descriptor of ``platform`` (``os/arch[/variant]``) from an image index."""
    os_, _, arch = platform.partition("/")
    arch, _, variant = arch.partition("/")
    options = []
    for m in index.get("manifests", []):
        p = m.get("platform") or {}
        options.append(f"{p.get('os')}/{p.get('architecture')}" + (f"/{p['variant']}" if p.get("variant") else ""))
        if p.get("os") == os_ and p.get("architecture") == arch and (not variant or p.get("variant") == variant):
            return m
    raise ModelNotFoundError(
        f"The base image has no variant for platform '{platform}'; it offers {', '.join(options) or 'none'}."
    )


@dataclass
class ImageParts:
    """A resolved image: manifest, config and where to fetch its blobs."""

    manifest: dict
    config: dict
    source: object  # Layout or a RegistryClient bound to a repository
    layers: list[Descriptor] = field(default_factory=list)
    name: str = ""


def layout_from_rootfs(
    rootfs: Path, path: Path, tag: str, *, env: list[str] | None = None, platform: str = "linux/amd64"
) -> str:
    """Write a one-layer base image of a root filesystem into the OCI layout ``path`` as ``tag``.

    Used to make a base from a directory (e.g. one made by debootstrap). Returns the manifest digest.
    """
    layout = Layout(path, create=True)
    entries = tree_entries(Path(rootfs), "", preserve_modes=True)
    with layout.new_blob() as (f, holder):
        diff_id, digest, size = write_layer(entries, f, compress=True)
        holder.append(digest)
    os_, _, arch = platform.partition("/")
    cfg = {
        "architecture": arch,
        "os": os_,
        "config": {"Env": env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": f"root filesystem of {Path(rootfs).name}"}],
    }
    cfg_bytes = canonical_json(cfg)
    cfg_digest = layout.put_bytes(cfg_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": Descriptor(CONFIG, cfg_digest, len(cfg_bytes)).to_dict(),
        "layers": [Descriptor(LAYER_GZIP, digest, size).to_dict()],
    }
    man = canonical_json(manifest)
    man_digest = layout.put_bytes(man)
    layout.tag(tag, Descriptor(MANIFEST, man_digest, len(man)))
    return man_digest
