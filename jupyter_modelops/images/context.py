"""``dockerfile()``: the same image as a Dockerfile build context, for docker, podman or buildah users.

The context holds the three inputs of :func:`~jupyter_modelops.images.build`
as folders (``deps/``: the dependency layer as resolved for the target
platform, ``app/``: the package, ``model/``: the model directory) and a
Dockerfile that copies them to the same places and sets the same user,
working dir, environment, labels, port, entrypoint and command. Nothing is
downloaded during ``docker build``; ``requirements.txt`` records what ``deps/``
holds.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._html import Result, esc, page, table
from ..exceptions import ValidationError
from . import deps as _deps
from .build import (
    APP_DIR,
    DEFAULT_BASE,
    MODEL_DIR,
    choose_base,
    image_config,
    model_directory,
    python_version_of,
    serving_runtime,
)
from .oci import LAYER_TAR, Descriptor, Layer
from .reference import LayoutReference, parse_base


@dataclass(repr=False)  # keep Result.__repr__: one line
class BuildContext(Result):
    """A Dockerfile build context written by :func:`dockerfile`."""

    path: str
    base: str
    dockerfile: str
    files: int

    def to_dict(self) -> dict:
        return {"path": self.path, "base": self.base, "files": self.files, "dockerfile": self.dockerfile}

    def _summary(self) -> str:
        return f"BuildContext {self.path} (FROM {self.base}, {self.files} files)"

    def to_text(self) -> str:
        return f"{self._summary()}\nBuild it with: docker build -t IMAGE {self.path}\n\n{self.dockerfile}"

    def to_html(self) -> str:
        body = table([["path", esc(self.path)], ["base", esc(self.base)], ["files", self.files]], raw_cols=[1])
        body += f"<h4>Dockerfile</h4><pre>{esc(self.dockerfile)}</pre>"
        return page("Dockerfile build context", body)


def dockerfile(
    ref: Any,
    directory: str | Path,
    *,
    base: Any = DEFAULT_BASE,
    platform: str = "linux/amd64",
    profile: Any = None,
    python_version: str | None = None,
    insecure: bool = False,
) -> BuildContext:
    """Write a Dockerfile build context equivalent to ``build(ref, ...)``.

    Parameters
    ----------
    ref : str or path-like
        A registry reference of an exported version, or a model directory.
    directory : str or path-like
        Where to write the context; must be empty or absent.
    base : str or path-like, default=DEFAULT_BASE
        The ``FROM`` image: a registry reference, or ``"scratch"``. (An OCI layout
        directory is not a name docker understands: push it to a registry first.)
    platform, profile, python_version, insecure
        As for :func:`~jupyter_modelops.images.build`. The base is not contacted: the Python
        version comes from ``python_version``, a ``python:X.Y`` tag, or defaults to 3.11.

    Returns
    -------
    BuildContext
        The path, the Dockerfile text and the number of files.
    """
    out = Path(directory)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValidationError(
            f"directory must be absent or an empty folder, got '{out}', which is not empty.",
            hint="Pass a new folder name.",
        )
    base, gpu = choose_base(base, profile)
    parsed = parse_base(base)
    if isinstance(parsed, LayoutReference):
        raise ValidationError(
            f"base must be a registry reference or 'scratch' for a Dockerfile, got the OCI layout '{base}'.",
            hint="Push the base to a registry first (skopeo copy oci:DIR docker://REGISTRY/REPO).",
        )
    md = model_directory(ref)
    try:
        runtime = serving_runtime(md)
        pyver = python_version or _python_from_tag(parsed) or python_version_of(None)
        requirements = _deps.requirements_for(runtime, gpu=gpu)
        dep_layer, dep_blob = _deps.dependency_layer(requirements, platform=platform, python_version=pyver)
        out.mkdir(parents=True, exist_ok=True)
        _extract(dep_blob, out / "deps", _deps.DEPS_DIR)
        import jupyter_modelops

        shutil.copytree(
            Path(jupyter_modelops.__file__).parent,
            out / "app" / "jupyter_modelops",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "labextension"),
        )
        shutil.copytree(md.path, out / "model")
        (out / "requirements.txt").write_text("\n".join(requirements) + "\n")
        fake = Layer("x", Descriptor(LAYER_TAR, "sha256:" + "0" * 64, 0), "sha256:" + "0" * 64)
        cfg, _ = image_config(
            None, md, [fake], platform=platform, python_version=pyver, runtime=runtime, requirements=requirements
        )
        text = _render(str(parsed) if parsed is not None else "scratch", cfg["config"], md)
        (out / "Dockerfile").write_text(text)
        (out / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n")
    finally:
        if md.cleanup:
            md.cleanup()
    files = sum(1 for p in out.rglob("*") if p.is_file())
    return BuildContext(str(out), str(parsed) if parsed is not None else "scratch", text, files)


def _python_from_tag(ref) -> str | None:
    """``python:3.12-slim`` -> ``"3.12"`` (no network: the Dockerfile is written offline)."""
    import re

    tag = getattr(ref, "tag", None) or ""
    m = re.match(r"^(\d+\.\d+)", tag)
    return m.group(1) if m and getattr(ref, "repository", "").endswith("python") else None


def _extract(blob: Path, dest: Path, prefix: str) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(blob) as tar:
        for m in tar.getmembers():
            if not (m.name == prefix or m.name.startswith(prefix + "/")):
                continue
            m.name = m.name[len(prefix) :].lstrip("/") or "."
            if hasattr(tarfile, "data_filter"):
                tar.extract(m, dest, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                tar.extract(m, dest)


def _render(base: str, cfg: dict, md) -> str:
    env = [e for e in cfg["Env"] if not e.startswith("PATH=")]
    labels = cfg["Labels"]
    lines = [
        f"# The image jupyter_modelops.build() makes for {md.name}:{md.version}, as a Dockerfile.",
        "# Build it with: docker build -t IMAGE .   (or: podman build, buildah bud)",
        f"FROM {base}",
        f"COPY deps/ /{_deps.DEPS_DIR}/",
        f"COPY app/ {APP_DIR}/",
        f"COPY model/ {MODEL_DIR}/",
        "ENV " + " \\\n    ".join(f"{k}={json.dumps(v)}" for k, v in (e.split("=", 1) for e in env)),
        "LABEL " + " \\\n      ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in sorted(labels.items())),
        f"USER {cfg['User']}",
        f"WORKDIR {cfg['WorkingDir']}",
        "EXPOSE " + " ".join(sorted(cfg["ExposedPorts"])),
        f"ENTRYPOINT {json.dumps(cfg['Entrypoint'])}",
        f"CMD {json.dumps(cfg['Cmd'])}",
    ]
    return "\n".join(lines) + "\n"
