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
    "deploy", "promote", "rollback", "status", "undeploy", "deployments",
    "profiles", "get_profile", "clusters", "get_cluster", "render", "to_yaml",
    "Deployment", "DeploymentSet", "DeploymentStatus", "DeploymentList", "DeploySpec",
    "HardwareProfile", "ProfileList", "Cluster", "ClusterList",
]


# ``jupyter_modelops.deploy`` names both this package and its main function. Once the package is imported,
# Python binds the attribute to the package; making the package callable keeps
# ``jupyter_modelops.deploy(ref, ...)`` working either way.
import sys as _sys
import types as _types


class _CallablePackage(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        return deploy(*args, **kwargs)

    __call__.__doc__ = deploy.__doc__


_sys.modules[__name__].__class__ = _CallablePackage
