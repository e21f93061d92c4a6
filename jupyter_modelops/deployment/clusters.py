"""Clusters are kubeconfig contexts.

``clusters()`` lists the contexts of the kubeconfig (``kubeconfig=`` argument,
else ``$KUBECONFIG`` — several files separated by ``:`` are merged, first
wins — else ``~/.kube/config``). Listing reads the YAML only; the
``kubernetes`` client is imported when a cluster is actually used.

A notebook server that runs in a Kubernetes pod (JupyterHub on Kubernetes)
also sees the cluster it runs in, as ``in-cluster``, through its service
account; it is the default when no kubeconfig names a current context.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .._html import Result, page, table
from ..exceptions import DeployError, ValidationError, suggest

__all__ = ["Cluster", "ClusterList", "clusters", "get_cluster", "kubeconfig_paths", "LOCAL"]

#: the cluster name that means "a model server process on this machine"
LOCAL = "local"
#: the cluster this process runs in, through its pod's service account
IN_CLUSTER = "in-cluster"
_SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class Cluster:
    """One kubeconfig context."""

    name: str
    server: str
    namespace: str
    user: str
    current: bool
    kubeconfig: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def service_account_dir() -> Path:
    """Where a pod's service account token, CA certificate and namespace are mounted."""
    return _SA_DIR


def kubeconfig_paths(kubeconfig: str | os.PathLike | None = None) -> list[Path]:
    if kubeconfig:
        return [Path(kubeconfig).expanduser()]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def _read(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValidationError(f"The kubeconfig {path} is not valid YAML: {str(exc).splitlines()[0]}.") from exc
    if not isinstance(data, dict):
        raise ValidationError(f"The kubeconfig {path} is not a kubeconfig mapping.")
    return data


def _load(kubeconfig: str | os.PathLike | None) -> list[Cluster]:
    found: dict[str, Cluster] = {}
    current = None
    for path in kubeconfig_paths(kubeconfig):
        if not path.is_file():
            if kubeconfig:
                raise ValidationError(f"The kubeconfig file {path} does not exist.", hint="Check the path.")
            continue
        data = _read(path)
        current = current or data.get("current-context")
        servers = {c.get("name"): (c.get("cluster") or {}).get("server", "") for c in data.get("clusters") or []}
        for ctx in data.get("contexts") or []:
            name = ctx.get("name")
            body = ctx.get("context") or {}
            if not name or name in found:
                continue
            found[name] = Cluster(
                name=name,
                server=servers.get(body.get("cluster"), ""),
                namespace=body.get("namespace") or "default",
                user=body.get("user", ""),
                current=False,
                kubeconfig=str(path),
            )
    items = [Cluster(**{**c.to_dict(), "current": c.name == current}) for c in found.values()]
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    sa = service_account_dir()
    if host and port and (sa / "token").is_file() and IN_CLUSTER not in found:
        ns_file = sa / "namespace"
        items.append(
            Cluster(
                name=IN_CLUSTER,
                server=f"https://{host}:{port}",
                namespace=(ns_file.read_text().strip() if ns_file.is_file() else "") or "default",
                user="serviceaccount",
                current=not any(c.current for c in items),
                kubeconfig="",
            )
        )
    return items


class ClusterList(Result):
    """The clusters (kubeconfig contexts) this machine can deploy to."""

    HEADER = ["cluster", "server", "namespace", "user", "current"]

    def __init__(self, items: list[Cluster], sources: list[str]) -> None:
        self.items = items
        self.sources = sources

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.items]

    def _rows(self) -> list[list]:
        return [[c.name, c.server, c.namespace, c.user, "*" if c.current else ""] for c in self.items]

    def to_dict(self) -> dict:
        return {"clusters": [c.to_dict() for c in self.items], "kubeconfig": self.sources}

    def to_html(self) -> str:
        note = f"from {', '.join(self.sources)}; also '{LOCAL}' (a model server process on this machine)"
        return page(
            "Clusters", table(self._rows(), self.HEADER) if self.items else "<p>No contexts.</p>", subtitle=note
        )

    def to_text(self) -> str:
        rows = [self.HEADER] + self._rows()
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(self.HEADER))]
        return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

    def _summary(self) -> str:
        return f"ClusterList {len(self.items)} clusters: {', '.join(self.names) or 'none'}"


def clusters(*, kubeconfig: str | os.PathLike | None = None) -> ClusterList:
    """List the kubeconfig contexts usable as ``cluster=`` of :func:`deploy`.

    Parameters
    ----------
    kubeconfig : path, optional
        A kubeconfig file; default ``$KUBECONFIG`` or ``~/.kube/config``.

    Returns
    -------
    ClusterList
    """
    return ClusterList(_load(kubeconfig), [str(p) for p in kubeconfig_paths(kubeconfig)])


def get_cluster(name: str | None, *, kubeconfig: str | os.PathLike | None = None) -> Cluster:
    """Return the named context (or the current one when ``name`` is None)."""
    items = _load(kubeconfig)
    if not items:
        where = ", ".join(str(p) for p in kubeconfig_paths(kubeconfig))
        # note: a pod's service account shows as the cluster 'in-cluster' (see the module docstring)
        raise DeployError(
            f"No Kubernetes clusters are configured (no contexts in {where}).",
            hint="Pass kubeconfig=, set KUBECONFIG, or use cluster='local'.",
        )
    if name is None:
        for c in items:
            if c.current:
                return c
        raise ValidationError(
            f"No cluster was given and the kubeconfig has no current context. Known clusters: "
            f"{', '.join(c.name for c in items)}."
        )
    for c in items:
        if c.name == name:
            return c
    names = [c.name for c in items]
    raise ValidationError(
        f"Unknown cluster '{name}'.{suggest(name, names)} Known clusters: {', '.join(names)} (and '{LOCAL}')."
    )
