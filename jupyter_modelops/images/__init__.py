"""Images without a Docker daemon: build, push and pull model images and artifacts.

- :func:`build` bakes a model version into an OCI image (base + dependencies +
  app + model layers), writes it to the OCI image layout under
  ``MODELOPS_HOME/images/oci`` and optionally pushes it to any OCI registry.
- :func:`dockerfile` writes an equivalent Dockerfile build context.
- :func:`push` / :func:`pull` move registry versions between machines as OCI
  artifacts through the registry a team already runs.
"""

from __future__ import annotations

from .artifacts import ArtifactTransfer, pull, push
from .build import DEFAULT_BASE, DEFAULT_GPU_BASE, Image, build, layout_dir
from .context import BuildContext, dockerfile

__all__ = [
    "DEFAULT_BASE",
    "DEFAULT_GPU_BASE",
    "Image",
    "build",
    "layout_dir",
    "dockerfile",
    "BuildContext",
    "push",
    "pull",
    "ArtifactTransfer",
]
