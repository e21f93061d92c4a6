"""Deploy a model version to a Kubernetes cluster and hardware profile.

``deploy`` renders plain Kubernetes objects (or a KServe InferenceService),
applies them with server-side apply, waits for the rollout judging the new
pods' real readiness, and rolls a failed rollout back on its own. A canary
runs beside the stable version until :func:`promote` or :func:`rollback`.
``cluster="local"`` runs a model server process on this machine instead.

The ``kubernetes`` client is imported only when a cluster is contacted.
"""

from .clusters import Cluster, ClusterList, clusters, get_cluster
from .core import deploy, deployments, promote, rollback, status, undeploy
from .manifests import DeploySpec, render, to_yaml
from .profiles import HardwareProfile, ProfileList, get_profile, profiles
from .results import Deployment, DeploymentList, DeploymentSet, DeploymentStatus

__all__ = [
    "deploy",
    "promote",
    "rollback",
    "status",
    "undeploy",
    "deployments",
    "profiles",
    "get_profile",
    "clusters",
    "get_cluster",
    "render",
    "to_yaml",
    "Deployment",
    "DeploymentSet",
    "DeploymentStatus",
    "DeploymentList",
    "DeploySpec",
    "HardwareProfile",
    "ProfileList",
    "Cluster",
    "ClusterList",
]
