"""The dependency layer: the model server's runtime packages for the image's platform.

Resolved with pip for the *target* (``--platform``, ``--python-version``,
``--implementation cp``, ``--abi``, ``--only-binary=:all:``, ``--target``), so
a build on any machine gives a layer that runs in the image. Requirements are
pinned to the versions installed here when present (what the model was tested
with). The finished layer is cached under a hash of the requirement set and
target and reused as is while that set is unchanged; set
``MODELOPS_IMAGE_CACHE`` to share the cache between homes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from ..config import home
from ..exceptions import BuildError, ValidationError
from .oci import LAYER_GZIP, Descriptor, Layer, tree_entries, write_layer

#: Where the dependency layer lives in the image (first on PYTHONPATH).
DEPS_DIR = "opt/modelops/deps"

#: Packages the model server (``python -m jupyter_modelops.serving``) needs whatever the runtime:
#: uvicorn with httptools and uvloop, orjson, numpy.
SERVER_REQUIREMENTS = ("numpy", "orjson", "uvicorn", "httptools", "uvloop")

#: Extra packages per runtime (the server prefers onnx > torchscript > native).
RUNTIME_REQUIREMENTS = {
    "onnx": ("onnxruntime",),
    "torchscript": ("torch",),
    "native": ("scikit-learn", "skops"),
}
GPU_SWAPS = {"onnxruntime": "onnxruntime-gpu"}

ARCHES = {"amd64": "x86_64", "arm64": "aarch64"}
# glibc manylinux tags accepted on a Debian bookworm-or-newer base (glibc 2.36)
GLIBC_MINORS = range(17, 37)


def cache_root() -> Path:
    raw = os.environ.get("MODELOPS_IMAGE_CACHE")
    path = Path(raw).expanduser() if raw else home() / "cache" / "images"
    path.mkdir(parents=True, exist_ok=True)
    return path


def pip_platforms(platform: str) -> list[str]:
    os_, _, arch = platform.partition("/")
    arch = arch.split("/")[0]
    if os_ != "linux" or arch not in ARCHES:
        raise ValidationError(f"platform must be one of {', '.join('linux/' + a for a in ARCHES)}, got '{platform}'.")
    machine = ARCHES[arch]
    return ["manylinux2014_" + machine] + [f"manylinux_2_{m}_{machine}" for m in GLIBC_MINORS]


def pin(name: str) -> str:
    try:
        return f"{name}=={metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return name


def requirements_for(runtime: str, *, gpu: bool = False, extra: tuple[str, ...] = ()) -> list[str]:
    """The pinned requirement set of an image that serves with ``runtime``."""
    names = list(SERVER_REQUIREMENTS) + list(RUNTIME_REQUIREMENTS.get(runtime, ())) + list(extra)
    if gpu:
        names = [GPU_SWAPS.get(n, n) for n in names]
    out = []
    for n in names:
        req = n if any(c in n for c in "<>=!~") else pin(n)
        if req not in out:
            out.append(req)
    return sorted(out)


def cache_key(requirements: list[str], platform: str, python_version: str) -> str:
    doc = {"requirements": sorted(requirements), "platform": platform, "python": python_version, "layout": 1}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


def dependency_layer(
    requirements: list[str], *, platform: str, python_version: str, progress=None
) -> tuple[Layer, Path]:
    """Return the cached (or newly built) dependency layer and the path of its blob."""
    import fcntl

    key = cache_key(requirements, platform, python_version)
    folder = cache_root() / "deps" / key
    cached = _cached_layer(folder)
    if cached is not None:
        return cached
    folder.parent.mkdir(parents=True, exist_ok=True)
    # one builder per entry across processes: the others wait and reuse its layer, and nobody removes an entry
    # that another process has just completed (a check-then-remove race that made concurrent builds fail)
    with open(folder.parent / f".{key}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            cached = _cached_layer(folder)
            if cached is not None:
                return cached
            if folder.exists():  # an incomplete or damaged cache entry: build it again
                shutil.rmtree(folder, ignore_errors=True)
            return _build_dependency_layer(
                requirements,
                platform=platform,
                python_version=python_version,
                key=key,
                folder=folder,
                progress=progress,
            )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _cached_layer(folder: Path) -> tuple[Layer, Path] | None:
    """The complete cache entry in ``folder`` (written whole by a rename), or None."""
    meta = folder / "layer.json"
    try:
        info = json.loads(meta.read_text())
        blob = folder / "layer.tar.gz"
        if blob.stat().st_size != info["size"]:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    layer = Layer(
        "dependencies",
        Descriptor(LAYER_GZIP, info["digest"], info["size"]),
        info["diff_id"],
        reused=True,
        files=info.get("files", 0),
    )
    return layer, blob


def _build_dependency_layer(
    requirements: list[str], *, platform: str, python_version: str, key: str, folder: Path, progress=None
) -> tuple[Layer, Path]:
    """pip-resolve ``requirements`` into a layer, written to a temporary folder and renamed to ``folder``."""
    work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=folder.parent))
    try:
        target = work / "site-packages"
        nodot = python_version.replace(".", "")
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--no-warn-script-location",
            "--target",
            str(target),
            "--python-version",
            python_version,
            "--implementation",
            "cp",
            "--abi",
            f"cp{nodot}",
            "--abi",
            "abi3",
            "--abi",
            "none",
            "--only-binary=:all:",
        ]
        for p in pip_platforms(platform):
            cmd += ["--platform", p]
        cmd += requirements
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
            raise BuildError(
                f"pip could not resolve the image's dependencies {', '.join(requirements)} for {platform} and "
                f"Python {python_version}: {' '.join(tail)}",
                hint="Check that wheels exist for that platform and Python version, and that the package index is reachable.",
            )
        shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts carry this machine's interpreter path
        entries = tree_entries(target, DEPS_DIR)
        with open(work / "layer.tar.gz", "wb") as f:
            diff_id, digest, size = write_layer(entries, f, compress=True, progress=progress)
        (work / "layer.json").write_text(
            json.dumps(
                {
                    "digest": digest,
                    "diff_id": diff_id,
                    "size": size,
                    "files": len(entries),
                    "requirements": requirements,
                    "platform": platform,
                    "python": python_version,
                },
                indent=2,
            )
        )
        shutil.rmtree(target)
        try:
            os.rename(work, folder)
        except OSError:  # a process without the lock finished the same layer first: use theirs (same inputs)
            cached = _cached_layer(folder)
            if cached is None:
                raise
            return cached
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    layer = Layer("dependencies", Descriptor(LAYER_GZIP, digest, size), diff_id, reused=False, files=len(entries))
    return layer, folder / "layer.tar.gz"
