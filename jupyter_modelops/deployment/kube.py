"""A small, typed-enough door to one Kubernetes API server, through the official client.

Every request goes through :meth:`Kube.request`, which bounds the time it may
take and turns the client's exceptions into our own, one sentence each
(:func:`translate`). Objects are plain dicts, applied with server-side apply
under the field manager ``jupyter-modelops``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterator
from urllib.parse import quote

from .._optional import require
from ..exceptions import ConflictError, DeployError, ModelNotFoundError, ModelOpsError, ValidationError, map_exceptions
from .clusters import Cluster
from .manifests import FIELD_MANAGER

__all__ = ["Kube", "RESOURCES", "translate", "request_timeout"]

# kind -> (group, version, plural, namespaced)
RESOURCES: dict[str, tuple[str, str, str, bool]] = {
    "Namespace": ("", "v1", "namespaces", False),
    "ServiceAccount": ("", "v1", "serviceaccounts", True),
    "Secret": ("", "v1", "secrets", True),
    "PersistentVolumeClaim": ("", "v1", "persistentvolumeclaims", True),
    "Service": ("", "v1", "services", True),
    "Pod": ("", "v1", "pods", True),
    "Event": ("", "v1", "events", True),
    "Deployment": ("apps", "v1", "deployments", True),
    "ReplicaSet": ("apps", "v1", "replicasets", True),
    "HorizontalPodAutoscaler": ("autoscaling", "v2", "horizontalpodautoscalers", True),
    "PodDisruptionBudget": ("policy", "v1", "poddisruptionbudgets", True),
    "NetworkPolicy": ("networking.k8s.io", "v1", "networkpolicies", True),
    "CronJob": ("batch", "v1", "cronjobs", True),
    "Role": ("rbac.authorization.k8s.io", "v1", "roles", True),
    "RoleBinding": ("rbac.authorization.k8s.io", "v1", "rolebindings", True),
    "Job": ("batch", "v1", "jobs", True),
    "InferenceService": ("serving.kserve.io", "v1beta1", "inferenceservices", True),
}

VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def request_timeout() -> float:
    """Seconds one request may take (``MODELOPS_K8S_TIMEOUT``, default 15)."""
    raw = os.environ.get("MODELOPS_K8S_TIMEOUT", "15")
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError(f"MODELOPS_K8S_TIMEOUT is {raw!r}; expected a number of seconds.") from None
    return max(value, 0.1)


def _status_body(exc: Any) -> dict:
    try:
        body = json.loads(exc.body or "{}")
        return body if isinstance(body, dict) else {}
    except (TypeError, ValueError):
        return {}


def translate(
    exc: Any, *, cluster: str, method: str, kind: str, name: str | None, namespace: str | None, apply: bool = False
) -> ModelOpsError:
    """One sentence for an ``ApiException`` of the Kubernetes client."""
    status = _status_body(exc)
    code = int(getattr(exc, "status", 0) or status.get("code") or 0)
    message = " ".join(str(status.get("message") or getattr(exc, "reason", "") or "").split())  # one line
    reason = status.get("reason", "")
    details = status.get("details") or {}
    plural = RESOURCES.get(kind, ("", "", kind.lower() + "s", True))[2]
    group = RESOURCES.get(kind, ("",))[0]
    resource = f"{plural}.{group}" if group else plural
    target = f"{kind} '{name}'" if name else f"{kind} objects"
    where = f" in namespace '{namespace}'" if namespace else ""
    verb = VERBS.get(method, method.lower())
    if code == 0:
        return DeployError(
            f"The connection to cluster '{cluster}' failed: {message or exc}.",
            hint="Check the server address and its TLS certificate in the kubeconfig.",
        )
    if code == 401:
        return DeployError(
            f"Cluster '{cluster}' refused the credentials (401 Unauthorized).",
            hint="Log in again, or renew the token of this context or service account.",
        )
    if code == 403:
        return DeployError(
            f"Cluster '{cluster}' forbids this: the user may not {verb} {resource}{where} (RBAC). "
            f"The server said: {message}",
            hint=f"Ask an administrator for a Role granting '{verb}' on '{resource}'.",
        )
    if code == 404:
        if (
            namespace
            and kind != "Namespace"
            and (
                (details.get("kind") == "namespaces" and details.get("name") == namespace)
                or f'namespaces "{namespace}" not found' in message
            )
        ):
            return ValidationError(
                f"The namespace '{namespace}' does not exist on cluster '{cluster}'.",
                hint=f"Create it (kubectl create namespace {namespace}) or pass another namespace.",
            )
        return ModelNotFoundError(f"{target} was not found{where} on cluster '{cluster}'.")
    if code == 409 and apply:
        causes = details.get("causes") or []
        fields = ", ".join(sorted({c.get("field", "") for c in causes if c.get("field")})) or "some fields"
        owners = sorted({c.get("message", "") for c in causes if c.get("message")})
        return ConflictError(
            f"Another field manager owns {fields} of {target}{where} on cluster '{cluster}' "
            f"({'; '.join(owners) or message}).",
            hint="Deploy again with force=True (--force) to take those fields over, or leave them to their owner.",
        )
    if code == 409:
        return ConflictError(
            f"{target}{where} on cluster '{cluster}' changed or exists already: {message}", hint="Try again."
        )
    if code == 422 or reason == "Invalid":
        return ValidationError(f"Cluster '{cluster}' rejected {target}{where}: {message}")
    if code == 400:
        return ValidationError(f"Cluster '{cluster}' refused the request for {target}{where}: {message}")
    return DeployError(f"Cluster '{cluster}' answered {code} to {verb} {target}{where}: {message or reason}")


class Kube:
    """One cluster (kubeconfig context) through the official ``kubernetes`` client."""

    def __init__(self, cluster: Cluster, *, timeout: float | None = None) -> None:
        k8s = require("kubernetes", purpose="deploy to Kubernetes")
        from kubernetes import config as kconfig

        self.cluster = cluster
        self.timeout = timeout if timeout is not None else request_timeout()
        cfg = k8s.client.Configuration()
        with map_exceptions(
            {Exception: ValidationError}, f"The kubeconfig context '{cluster.name}' cannot be used: {{exc}}."
        ):
            if cluster.kubeconfig:
                kconfig.load_kube_config(
                    config_file=cluster.kubeconfig, context=cluster.name, client_configuration=cfg, persist_config=False
                )
            else:  # in-cluster: the pod's service account
                from .clusters import service_account_dir

                sa = service_account_dir()
                kconfig.incluster_config.InClusterConfigLoader(
                    token_filename=str(sa / "token"), cert_filename=str(sa / "ca.crt"), environ=os.environ
                ).load_and_set(cfg)
        cfg.retries = 0  # bounded: one attempt, then a clear error
        self.api = k8s.client.ApiClient(cfg)
        self._ApiException = k8s.client.exceptions.ApiException

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> "Kube":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- paths ---------------------------------------------------------------------------------
    @staticmethod
    def path(kind: str, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        group, version, plural, namespaced = RESOURCES[kind]
        base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
        if namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{plural}"
        if name:
            base += f"/{quote(name, safe='')}"
        if sub:
            base += f"/{sub}"
        return base

    # -- the one door ----------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        *,
        query: list | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout: float | None = None,
        stream: bool = False,
        raw_text: bool = False,
        headers: dict[str, str] | None = None,
    ):
        import urllib3

        headers = {**(headers or {}), "Accept": "*/*" if raw_text else "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        # JSON bodies are serialized by the client; an apply patch (YAML) is sent as JSON text, which is YAML
        yaml_body = content_type is not None and "yaml" in content_type
        m, url, hdrs, data, post = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params=headers,
            body=json.dumps(body) if body is not None and yaml_body else body,
            auth_settings=["BearerToken"],
        )
        t = timeout if timeout is not None else self.timeout
        server = self.cluster.server or self.api.configuration.host
        with map_exceptions(
            {urllib3.exceptions.HTTPError: DeployError, OSError: DeployError},
            f"Could not reach the Kubernetes API server of cluster '{self.cluster.name}' at {server} "
            f"within {t:g} s ({{exc}}). Check that the cluster is running and reachable.",
        ):
            try:
                resp = self.api.call_api(
                    m, url, header_params=hdrs, body=data, post_params=post, _request_timeout=(min(t, 10.0), t)
                )
            except urllib3.exceptions.MaxRetryError as exc:
                if isinstance(exc.reason, urllib3.exceptions.SSLError):
                    raise DeployError(
                        f"The TLS certificate of the API server of cluster '{self.cluster.name}' at {server} is "
                        f"not trusted ({exc.reason}).",
                        hint="Check certificate-authority or certificate-authority-data in the kubeconfig.",
                    ) from exc
                raise
            if stream and 200 <= resp.status < 300:
                return resp
            raw = resp.read()
        text = raw.decode("utf-8", "replace") if raw else ""
        if not 200 <= resp.status < 300:
            raise self._ApiException.from_response(http_resp=resp, body=text, data=None)
        if raw_text:
            return text
        return json.loads(text) if text else {}

    def proxy_get(
        self,
        namespace: str,
        pod: str,
        port: int,
        path: str,
        *,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """GET ``path`` of a pod's ``port`` through the API server's pod proxy; the body as text.

        ``headers`` reach the pod, except ``Authorization``, which the API server keeps for itself.
        """
        target = f"{quote(pod, safe='')}:{int(port)}"
        api = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{target}/proxy/{path.lstrip('/')}"
        try:
            return self._send("GET", api, timeout=timeout, raw_text=True, headers=headers)
        except self._ApiException as exc:
            raise translate(
                exc, cluster=self.cluster.name, method="GET", kind="Pod", name=pod, namespace=namespace
            ) from exc

    def request(
        self,
        method: str,
        kind: str,
        *,
        namespace: str | None = None,
        name: str | None = None,
        sub: str | None = None,
        query: list | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout: float | None = None,
        apply: bool = False,
    ) -> dict:
        try:
            return self._send(
                method,
                self.path(kind, namespace, name, sub),
                query=query,
                body=body,
                content_type=content_type,
                timeout=timeout,
            )
        except self._ApiException as exc:
            raise translate(
                exc, cluster=self.cluster.name, method=method, kind=kind, name=name, namespace=namespace, apply=apply
            ) from exc

    # -- verbs ------------------------------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        try:
            return self.request("GET", kind, namespace=namespace, name=name)
        except ModelNotFoundError:
            return None

    def list(self, kind: str, namespace: str | None = None, *, labels: dict | str | None = None) -> list[dict]:
        query = []
        if labels:
            sel = labels if isinstance(labels, str) else ",".join(f"{k}={v}" for k, v in labels.items())
            query.append(("labelSelector", sel))
        return self.request("GET", kind, namespace=namespace, query=query).get("items") or []

    def apply(self, obj: dict, *, force: bool = False, dry_run: bool = False) -> dict:
        """Server-side apply of one object under the field manager ``jupyter-modelops``."""
        meta = obj["metadata"]
        query = [("fieldManager", FIELD_MANAGER), ("fieldValidation", "Strict")]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        return self.request(
            "PATCH",
            obj["kind"],
            namespace=meta.get("namespace"),
            name=meta["name"],
            query=query,
            body=obj,
            content_type="application/apply-patch+yaml",
            apply=True,
        )

    def delete(self, kind: str, name: str, namespace: str | None = None) -> bool:
        try:
            self.request(
                "DELETE",
                kind,
                namespace=namespace,
                name=name,
                body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
            )
            return True
        except ModelNotFoundError:
            return False

    def has_api(self, group: str, version: str) -> bool:
        try:
            self._send("GET", f"/apis/{group}/{version}")
            return True
        except self._ApiException as exc:
            if getattr(exc, "status", 0) == 404:
                return False
            raise translate(
                exc, cluster=self.cluster.name, method="GET", kind=group, name=None, namespace=None
            ) from exc

    def require_namespace(self, namespace: str) -> None:
        """Raise a clear error when ``namespace`` does not exist (users who may not read namespaces
        learn it from the first namespaced request instead, which :func:`translate` words the same)."""
        try:
            self._send("GET", self.path("Namespace", name=namespace))
        except self._ApiException as exc:
            if getattr(exc, "status", 0) == 404:
                raise ValidationError(
                    f"The namespace '{namespace}' does not exist on cluster '{self.cluster.name}'.",
                    hint=f"Create it (kubectl create namespace {namespace}) or pass another namespace.",
                ) from exc
            if getattr(exc, "status", 0) == 403:
                return
            raise translate(
                exc, cluster=self.cluster.name, method="GET", kind="Namespace", name=namespace, namespace=None
            ) from exc

    def watch(
        self,
        kind: str,
        namespace: str,
        *,
        name: str | None = None,
        resource_version: str | None = None,
        timeout: float = 30.0,
    ) -> Iterator[tuple[str, dict]]:
        """Yield ``(type, object)`` watch events until the server ends the stream (``timeoutSeconds``)."""
        query = [("watch", "true"), ("timeoutSeconds", str(max(int(timeout), 1)))]
        if name:
            query.append(("fieldSelector", f"metadata.name={name}"))
        if resource_version:
            query.append(("resourceVersion", resource_version))
        path = self.path(kind, namespace)
        try:
            resp = self._send("GET", path, query=query, timeout=timeout + 5, stream=True)
        except self._ApiException as exc:
            raise translate(
                exc, cluster=self.cluster.name, method="GET", kind=kind, name=name, namespace=namespace
            ) from exc
        import urllib3

        buf = b""
        try:
            with map_exceptions(
                {urllib3.exceptions.HTTPError: DeployError, OSError: DeployError},
                f"The watch on cluster '{self.cluster.name}' broke off ({{exc}}).",
            ):
                for chunk in resp.response.stream(4096, decode_content=True):
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        if line.strip():
                            event = json.loads(line)
                            yield event.get("type", ""), event.get("object") or {}
        finally:  # a watch left early must not hand a half-read stream back to the pool
            resp.response.close()
            resp.response.release_conn()
