"""Hardware profiles: what a deployment asks of the cluster and how the server runs there.

A profile sets resource requests and limits (``cpu``, ``memory``,
``nvidia.com/gpu``, ``google.com/tpu``), where pods may run (node selector,
node affinity, tolerations), the runtime's settings (onnxruntime execution
provider, threads, batch size, fp16), the replica count and the autoscaling
bounds and targets.

Built-in profiles cover common CPU, NVIDIA GPU and TPU nodes. Users add or
override profiles in a YAML file, read from (later wins):

1. ``$MODELOPS_HOME/profiles.yaml``
2. ``./modelops-profiles.yaml`` in the working directory

The file holds a mapping ``profiles: {name: {...}}``; a profile may start from
another one with ``base: NAME``. Unknown keys are errors.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from .._html import Result, page, table
from ..config import home
from ..exceptions import ValidationError, suggest

__all__ = ["HardwareProfile", "ProfileList", "profiles", "get_profile", "PROFILE_FILES"]

#: file names searched for user profiles (MODELOPS_HOME first, then the working directory)
PROFILE_FILES = ("profiles.yaml", "modelops-profiles.yaml")

PROVIDERS = {"CPU": "CPUExecutionProvider", "CUDA": "CUDAExecutionProvider", "TensorRT": "TensorrtExecutionProvider"}
RESOURCE_KEYS = ("cpu", "memory", "nvidia.com/gpu", "google.com/tpu", "ephemeral-storage")
RUNTIME_KEYS = {"provider", "threads", "batch_size", "fp16"}
AUTOSCALING_KEYS = {"min_replicas", "max_replicas", "target_cpu_utilization", "metric", "target_average_value"}
PROFILE_KEYS = {
    "base",
    "description",
    "requests",
    "limits",
    "node_selector",
    "affinity",
    "tolerations",
    "runtime",
    "replicas",
    "autoscaling",
}


@dataclasses.dataclass(frozen=True)
class HardwareProfile:
    """A named set of resources, placement rules and runtime settings.

    Attributes
    ----------
    name : str
        Profile name (``cpu-small``, ``gpu-t4``, ...).
    description : str
        One line for the table.
    requests, limits : dict
        Kubernetes resource quantities (``cpu``, ``memory``, ``nvidia.com/gpu``, ``google.com/tpu``).
    node_selector : dict
        Node labels the pods require.
    affinity : dict or None
        A Kubernetes ``affinity`` object.
    tolerations : list of dict
        Kubernetes tolerations (GPU and TPU nodes are usually tainted).
    runtime : dict
        ``provider`` (``CPU``, ``CUDA`` or ``TensorRT``), ``threads``, ``batch_size``, ``fp16``.
    replicas : int
        Replicas when no ``replicas=`` is given.
    autoscaling : dict or None
        ``min_replicas``, ``max_replicas``, ``target_cpu_utilization`` (percent) and optionally a
        per-pod custom ``metric`` with its ``target_average_value``; ``None`` disables the HPA.
    source : str
        ``built-in`` or the file that defined it.
    """

    name: str
    description: str = ""
    requests: dict = dataclasses.field(default_factory=dict)
    limits: dict = dataclasses.field(default_factory=dict)
    node_selector: dict = dataclasses.field(default_factory=dict)
    affinity: dict | None = None
    tolerations: list = dataclasses.field(default_factory=list)
    runtime: dict = dataclasses.field(default_factory=dict)
    replicas: int = 1
    autoscaling: dict | None = None
    source: str = "built-in"

    @property
    def accelerator(self) -> str:
        if self.limits.get("nvidia.com/gpu"):
            return f"{self.limits['nvidia.com/gpu']} x nvidia.com/gpu"
        if self.limits.get("google.com/tpu"):
            return f"{self.limits['google.com/tpu']} x google.com/tpu"
        return "none"

    def runtime_env(self) -> dict[str, str]:
        """Environment variables through which the model server reads the runtime settings."""
        rt = self.runtime
        chain = {"CPU": ["CPU"], "CUDA": ["CUDA", "CPU"], "TensorRT": ["TensorRT", "CUDA", "CPU"]}
        providers = ",".join(PROVIDERS[p] for p in chain[rt.get("provider", "CPU")])
        threads = str(rt.get("threads", 1))
        return {
            "MODELOPS_SERVING_PROVIDERS": providers,
            "MODELOPS_SERVING_THREADS": threads,
            "OMP_NUM_THREADS": threads,
            "MODELOPS_SERVING_MAX_BATCH_SIZE": str(rt.get("batch_size", 1)),
            "MODELOPS_FP16": "1" if rt.get("fp16") else "0",
        }

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _gpu(
    name: str,
    products: list[str],
    *,
    cpu: str,
    memory: str,
    gpus: int,
    provider: str,
    threads: int,
    batch: int,
    fp16: bool,
    maxr: int,
    desc: str,
) -> HardwareProfile:
    return HardwareProfile(
        name=name,
        description=desc,
        requests={"cpu": cpu, "memory": memory, "nvidia.com/gpu": gpus},
        limits={"cpu": cpu, "memory": memory, "nvidia.com/gpu": gpus},
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In", "values": products}]}
                    ]
                }
            }
        },
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        runtime={"provider": provider, "threads": threads, "batch_size": batch, "fp16": fp16},
        replicas=1,
        autoscaling={"min_replicas": 1, "max_replicas": maxr, "target_cpu_utilization": 80},
    )


BUILTIN: dict[str, HardwareProfile] = {
    p.name: p
    for p in [
        HardwareProfile(
            name="cpu-small",
            description="Small CPU pods for light traffic",
            requests={"cpu": "250m", "memory": "512Mi"},
            limits={"cpu": "1", "memory": "1Gi"},
            runtime={"provider": "CPU", "threads": 1, "batch_size": 1, "fp16": False},
            replicas=2,
            autoscaling={"min_replicas": 2, "max_replicas": 5, "target_cpu_utilization": 70},
        ),
        HardwareProfile(
            name="cpu-large",
            description="Large CPU pods for heavy or batched traffic",
            requests={"cpu": "4", "memory": "8Gi"},
            limits={"cpu": "4", "memory": "8Gi"},
            runtime={"provider": "CPU", "threads": 4, "batch_size": 16, "fp16": False},
            replicas=2,
            autoscaling={"min_replicas": 2, "max_replicas": 10, "target_cpu_utilization": 70},
        ),
        _gpu(
            "gpu-t4",
            ["Tesla-T4", "NVIDIA-T4"],
            cpu="4",
            memory="16Gi",
            gpus=1,
            provider="CUDA",
            threads=4,
            batch=32,
            fp16=True,
            maxr=4,
            desc="One NVIDIA T4 (16 GB) per pod",
        ),
        _gpu(
            "gpu-a10g",
            ["NVIDIA-A10G"],
            cpu="8",
            memory="32Gi",
            gpus=1,
            provider="TensorRT",
            threads=8,
            batch=64,
            fp16=True,
            maxr=4,
            desc="One NVIDIA A10G (24 GB) per pod",
        ),
        _gpu(
            "gpu-a100",
            ["NVIDIA-A100-SXM4-40GB", "NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-PCIE-40GB"],
            cpu="12",
            memory="85Gi",
            gpus=1,
            provider="TensorRT",
            threads=12,
            batch=128,
            fp16=True,
            maxr=4,
            desc="One NVIDIA A100 per pod",
        ),
        _gpu(
            "gpu-h100",
            ["NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-PCIe"],
            cpu="16",
            memory="120Gi",
            gpus=1,
            provider="TensorRT",
            threads=16,
            batch=256,
            fp16=True,
            maxr=4,
            desc="One NVIDIA H100 (80 GB) per pod",
        ),
        HardwareProfile(
            name="tpu-v5e",
            description="One Cloud TPU v5e chip per pod (GKE); onnxruntime runs on the host CPU",
            requests={"cpu": "4", "memory": "16Gi", "google.com/tpu": 1},
            limits={"cpu": "4", "memory": "16Gi", "google.com/tpu": 1},
            node_selector={
                "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
                "cloud.google.com/gke-tpu-topology": "1x1",
            },
            tolerations=[{"key": "google.com/tpu", "operator": "Exists", "effect": "NoSchedule"}],
            runtime={"provider": "CPU", "threads": 4, "batch_size": 32, "fp16": False},
            replicas=1,
            autoscaling={"min_replicas": 1, "max_replicas": 4, "target_cpu_utilization": 80},
        ),
    ]
}


def _check_quantity(value: Any, where: str) -> None:
    import re

    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, str))
        or (isinstance(value, str) and not re.fullmatch(r"[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T|e[0-9]+)?", value))
    ):
        raise ValidationError(
            f"{where} is {value!r}, which is not a Kubernetes quantity.",
            hint="Use a number or a string such as '500m', '2', '4Gi'.",
        )


def _validate(name: str, raw: Any, source: str) -> dict:
    where = f"Profile '{name}' in {source}"
    if not isinstance(raw, dict):
        raise ValidationError(f"{where} is a {type(raw).__name__}; expected a mapping of settings.")
    unknown = sorted(set(raw) - PROFILE_KEYS)
    if unknown:
        raise ValidationError(
            f"{where} has the unknown key '{unknown[0]}'.{suggest(unknown[0], PROFILE_KEYS)} "
            f"Known keys: {', '.join(sorted(PROFILE_KEYS))}."
        )
    for section in ("requests", "limits"):
        res = raw.get(section)
        if res is None:
            continue
        if not isinstance(res, dict):
            raise ValidationError(f"{where}: '{section}' must be a mapping of resource to quantity.")
        for key, value in res.items():
            if key not in RESOURCE_KEYS:
                raise ValidationError(
                    f"{where}: '{section}' names the unknown resource '{key}'.{suggest(key, RESOURCE_KEYS)} "
                    f"Known resources: {', '.join(RESOURCE_KEYS)}."
                )
            _check_quantity(value, f"{where}: {section}.{key}")
    rt = raw.get("runtime")
    if rt is not None:
        if not isinstance(rt, dict):
            raise ValidationError(f"{where}: 'runtime' must be a mapping.")
        bad = sorted(set(rt) - RUNTIME_KEYS)
        if bad:
            raise ValidationError(
                f"{where}: 'runtime' has the unknown key '{bad[0]}'. Known keys: {', '.join(sorted(RUNTIME_KEYS))}."
            )
        if "provider" in rt and rt["provider"] not in PROVIDERS:
            raise ValidationError(
                f"{where}: runtime.provider is {rt['provider']!r}; expected one of {', '.join(PROVIDERS)}."
            )
        for key in ("threads", "batch_size"):
            if key in rt and (not isinstance(rt[key], int) or isinstance(rt[key], bool) or rt[key] < 1):
                raise ValidationError(f"{where}: runtime.{key} is {rt[key]!r}; expected a positive integer.")
    if "replicas" in raw and (
        not isinstance(raw["replicas"], int) or isinstance(raw["replicas"], bool) or raw["replicas"] < 0
    ):
        raise ValidationError(f"{where}: replicas is {raw['replicas']!r}; expected an integer >= 0.")
    auto = raw.get("autoscaling")
    if auto is not None and auto is not False:
        if not isinstance(auto, dict):
            raise ValidationError(f"{where}: 'autoscaling' must be a mapping or false.")
        bad = sorted(set(auto) - AUTOSCALING_KEYS)
        if bad:
            raise ValidationError(
                f"{where}: 'autoscaling' has the unknown key '{bad[0]}'.{suggest(bad[0], AUTOSCALING_KEYS)} "
                f"Known keys: {', '.join(sorted(AUTOSCALING_KEYS))}."
            )
        lo, hi = auto.get("min_replicas", 1), auto.get("max_replicas")
        if not isinstance(hi, int) or not isinstance(lo, int) or lo < 1 or hi < lo:
            raise ValidationError(
                f"{where}: autoscaling needs integers 1 <= min_replicas <= max_replicas; got {lo!r} and {hi!r}."
            )
        if "metric" in auto and "target_average_value" not in auto:
            raise ValidationError(f"{where}: autoscaling.metric needs a target_average_value.")
    for key, kind in (("node_selector", dict), ("affinity", dict), ("tolerations", list)):
        if raw.get(key) is not None and not isinstance(raw[key], kind):
            raise ValidationError(f"{where}: '{key}' must be a {'mapping' if kind is dict else 'list'}.")
    return raw


def _user_files() -> list[Path]:
    return [p for p in (home() / PROFILE_FILES[0], Path.cwd() / PROFILE_FILES[1]) if p.is_file()]


def _load_user(path: Path) -> dict[str, dict]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValidationError(f"The profile file {path} is not valid YAML: {str(exc).splitlines()[0]}.") from exc
    if not isinstance(data, dict) or set(data) - {"profiles"}:
        raise ValidationError(f"The profile file {path} must hold one key, 'profiles', mapping names to settings.")
    profs = data.get("profiles") or {}
    if not isinstance(profs, dict):
        raise ValidationError(f"The profile file {path}: 'profiles' must be a mapping of name to settings.")
    return {str(k): _validate(str(k), v, str(path)) for k, v in profs.items()}


def _all() -> dict[str, HardwareProfile]:
    found = dict(BUILTIN)
    for path in _user_files():
        for name, raw in _load_user(path).items():
            base_name = raw.get("base", name if name in found else None)
            if base_name is not None and base_name not in found:
                raise ValidationError(
                    f"Profile '{name}' in {path} starts from the unknown profile '{base_name}'."
                    f"{suggest(base_name, found)} Known profiles: {', '.join(found)}."
                )
            fields = copy.deepcopy(dataclasses.asdict(found[base_name])) if base_name else {}
            fields.update({k: copy.deepcopy(v) for k, v in raw.items() if k != "base"})
            if fields.get("autoscaling") is False:
                fields["autoscaling"] = None
            fields.update(name=name, source=str(path))
            found[name] = HardwareProfile(**fields)
    return found


def get_profile(name: str | HardwareProfile) -> HardwareProfile:
    """Return a profile by name (built-in or user), or raise listing the known ones."""
    if isinstance(name, HardwareProfile):
        return name
    if not isinstance(name, str) or not name:
        raise ValidationError(f"profile must be a profile name such as 'cpu-small'; got {name!r}.")
    found = _all()
    if name not in found:
        raise ValidationError(f"Unknown profile '{name}'.{suggest(name, found)} Known profiles: {', '.join(found)}.")
    return found[name]


class ProfileList(Result):
    """The hardware profiles known here (built-in and user)."""

    def __init__(self, items: list[HardwareProfile]) -> None:
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, name: str) -> HardwareProfile:
        for p in self.items:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.items]

    def _rows(self) -> list[list]:
        rows = []
        for p in self.items:
            auto = p.autoscaling
            scale = f"{auto['min_replicas']}-{auto['max_replicas']}" if auto else "off"
            rows.append(
                [
                    p.name,
                    p.requests.get("cpu", ""),
                    p.requests.get("memory", ""),
                    p.accelerator,
                    p.runtime.get("provider", "CPU"),
                    p.replicas,
                    scale,
                    p.source,
                ]
            )
        return rows

    HEADER = ["profile", "cpu", "memory", "accelerator", "runtime", "replicas", "autoscale", "source"]

    def to_dict(self) -> dict:
        return {"profiles": [p.to_dict() for p in self.items]}

    def to_html(self) -> str:
        return page(
            "Hardware profiles",
            table(self._rows(), self.HEADER),
            subtitle=f"{len(self.items)} profiles; add your own in {PROFILE_FILES[0]} under MODELOPS_HOME",
        )

    def to_text(self) -> str:
        rows = [self.HEADER] + [[str(c) for c in r] for r in self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.HEADER))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

    def _summary(self) -> str:
        return f"ProfileList {len(self.items)} profiles: {', '.join(self.names)}"


def profiles() -> ProfileList:
    """List the hardware profiles: built-ins, then user profiles from the profile files.

    Returns
    -------
    ProfileList
        Iterable of :class:`HardwareProfile`; shows as a table in a notebook.

    Examples
    --------
    >>> from jupyter_modelops.deployment import profiles
    >>> "gpu-t4" in profiles().names
    True
    """
    return ProfileList(list(_all().values()))
