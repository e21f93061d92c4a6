"""Image references: ``registry/repository:tag@digest``, and OCI layout directories.

The grammar follows the distribution project's reference grammar: the first
path component is a registry host when it contains a ``.`` or a ``:`` or is
``localhost``; otherwise the reference is on Docker Hub (``docker.io``, with
``library/`` for one-component names). A base image may also be an OCI image
layout directory, written ``oci:DIR[:TAG]`` or given as a path to an existing
directory holding an ``oci-layout`` file.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import ValidationError

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_HOST_RE = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$"
)

DOCKER_HUB = "docker.io"
EXPECTED = "REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], e.g. 127.0.0.1:5000/churn:3"


@dataclass(frozen=True)
class Reference:
    """A parsed registry reference."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def api_host(self) -> str:
        return "registry-1.docker.io" if self.registry == DOCKER_HUB else self.registry

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.registry)

    def with_tag(self, tag: str | None) -> "Reference":
        return Reference(self.registry, self.repository, tag, None)

    def __str__(self) -> str:
        out = f"{self.registry}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def is_loopback_host(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]")[0]
    if host.count(":") > 1 and not host.startswith("["):
        name = host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_reference(text: str, *, what: str = "image reference") -> Reference:
    """Parse ``registry/repo[:tag][@digest]`` or raise a one-sentence :class:`ValidationError`."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"The {what} is empty; expected {EXPECTED}.")
    raw = text.strip()
    for prefix in ("docker://", "oci://"):
        if raw.startswith(prefix):
            raw = raw[len(prefix) :]
    bad = ValidationError(f"The {what} '{text}' is malformed; expected {EXPECTED}.")
    name, digest = raw, None
    if "@" in raw:
        name, digest = raw.split("@", 1)
        if not _DIGEST_RE.fullmatch(digest):
            raise ValidationError(
                f"The {what} '{text}' has a malformed digest '{digest}'; expected sha256: and 64 lowercase hex digits."
            )
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _TAG_RE.fullmatch(tag):
            raise ValidationError(
                f"The {what} '{text}' has a malformed tag '{tag}'; expected up to 128 letters, digits, '_', '.' or '-'."
            )
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost" or parts[0].startswith("[")):
        registry, repo = parts[0], "/".join(parts[1:])
        if not _HOST_RE.fullmatch(registry):
            raise bad
    else:
        registry, repo = DOCKER_HUB, name
        if len(parts) == 1:
            repo = f"library/{name}"
    if registry == "index.docker.io":
        registry = DOCKER_HUB
    if not repo or not _REPO_RE.fullmatch(repo):
        raise ValidationError(
            f"The {what} '{text}' has a malformed repository '{repo}'; expected lowercase letters, "
            f"digits and separators ('.', '_', '-', '/'), e.g. {EXPECTED.split('e.g. ')[1]}."
        )
    return Reference(registry, repo, tag, digest)


@dataclass(frozen=True)
class LayoutReference:
    """An image in an OCI image layout directory."""

    path: Path
    tag: str | None = None

    def __str__(self) -> str:
        return f"oci:{self.path}" + (f":{self.tag}" if self.tag else "")


def parse_base(base: "str | os.PathLike[str] | Reference | LayoutReference") -> "Reference | LayoutReference | None":
    """A base image: ``None``/``"scratch"`` (no base), an OCI layout dir, or a registry reference."""
    if isinstance(base, (Reference, LayoutReference)):
        return base
    if base is None or (isinstance(base, str) and base.strip() == "scratch"):
        return None
    if isinstance(base, os.PathLike):
        return LayoutReference(Path(base))
    if not isinstance(base, str):
        raise ValidationError(
            f"base must be a registry reference or an OCI layout directory, got {type(base).__name__}."
        )
    text = base.strip()
    if text.startswith("oci:") and not text.startswith("oci://"):
        rest = text[4:]
        path, _, tag = rest.partition(":") if not os.path.isdir(rest) else (rest, "", "")
        return LayoutReference(Path(path), tag or None)
    if os.path.isdir(text) or text.startswith(("/", "./", "../", "~")):
        return LayoutReference(Path(text).expanduser())
    return parse_reference(text, what="base image reference")
