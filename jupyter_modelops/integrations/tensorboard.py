"""TensorBoard: a version's metrics, report history and monitoring series as TensorBoard event files.

:func:`tensorboard` writes, under ``logdir``, scalars TensorBoard shows as it
shows training curves: the version's metrics with their intervals
(``metrics/roc_auc``, ``metrics/roc_auc/low``, ``metrics/roc_auc/high``, with a
custom-scalars margin chart per metric), every monitoring report run on the
model (``report/...``, one step per run), the monitoring windows of its
captured traffic (latency, errors, rows, drift per feature, alarm statistic,
estimated performance with intervals: ``monitoring/...``, one step per window,
at the window's time) and, for torch models, the graph.

Only tensorboard's own event writer is used (torch's ``SummaryWriter`` for
the graph); nothing is imported until the function runs.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from .._html import Result, esc
from ..exceptions import ModelOpsError, ValidationError

__all__ = ["tensorboard", "TensorBoardLog", "default_logdir"]

_TAG_BAD = re.compile(r"[^A-Za-z0-9_\-./]")


def _tag(*parts: Any) -> str:
    return "/".join(_TAG_BAD.sub("_", str(p)) or "_" for p in parts)


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _when(text: Any, default: float) -> float:
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return default


def default_logdir(name: str) -> Path:
    """``MODELOPS_HOME/tensorboard/<model name>``."""
    from ..config import subdir
    from ..registry._refs import check_name

    return subdir("tensorboard", check_name(name))


class TensorBoardLog(Result):
    """What :func:`tensorboard` wrote: the folder, the tags, the steps per group, what was skipped and why."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["data"][name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> dict:
        return dict(self.data)

    def _summary(self) -> str:
        d = self.data
        return (
            f"TensorBoard logs of {d['ref']} in {d['logdir']}: {len(d['tags'])} tags, "
            f"{d['reports']} report runs, {d['windows']} monitoring windows" + (", graph" if d["graph"] else "")
        )

    def to_text(self) -> str:
        lines = [self._summary()] + [f"  skipped {k}: {v}" for k, v in self.data["skipped"].items()]
        return "\n".join(lines + [f"  view: tensorboard --logdir {self.data['logdir']}"])

    def to_html(self) -> str:
        skipped = "".join(f"<li>{esc(k)}: {esc(v)}</li>" for k, v in self.data["skipped"].items())
        return (
            f"<div class='modelops-result'><p>{esc(self._summary())}</p>"
            f"{'<ul>' + skipped + '</ul>' if skipped else ''}</div>"
        )


class _Writer:
    """Scalars into one event file with tensorboard's own writer."""

    def __init__(self, logdir: Path) -> None:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self._event, self._summary = event_pb2.Event, summary_pb2.Summary
        self._w = EventFileWriter(str(logdir))
        self.tags: set[str] = set()

    def scalar(self, tag: str, value: Any, step: int, wall_time: float) -> None:
        v = _num(value)
        if v is None:
            return
        self.tags.add(tag)
        summary = self._summary(value=[self._summary.Value(tag=tag, simple_value=v)])
        self._w.add_event(self._event(wall_time=wall_time, step=int(step), summary=summary))

    def interval(self, tag: str, entry: Any, step: int, wall_time: float, *, value_key: str = "value") -> bool:
        """``tag``, ``tag/low``, ``tag/high`` from ``{"value", "low", "high"}`` (or a bare number)."""
        if not isinstance(entry, dict):
            self.scalar(tag, entry, step, wall_time)
            return False
        self.scalar(tag, entry.get(value_key), step, wall_time)
        lo, hi = _num(entry.get("low")), _num(entry.get("high"))
        if lo is None or hi is None:
            return False
        self.scalar(f"{tag}/low", lo, step, wall_time)
        self.scalar(f"{tag}/high", hi, step, wall_time)
        return True

    def layout(self, margins: dict[str, list[str]]) -> None:
        """Custom-scalars margin charts (value with its interval as a band), one category per group."""
        from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2
        from tensorboard.plugins.custom_scalar import layout_pb2

        categories = []
        for group, tags in sorted(margins.items()):
            charts = [
                layout_pb2.Chart(
                    title=t,
                    margin=layout_pb2.MarginChartContent(
                        series=[layout_pb2.MarginChartContent.Series(value=t, lower=f"{t}/low", upper=f"{t}/high")]
                    ),
                )
                for t in sorted(set(tags))
            ]
            if charts:
                categories.append(layout_pb2.Category(title=f"{group} (with intervals)", chart=charts))
        if categories:
            # the custom-scalars plugin's layout summary, built without tensorflow (its own helper imports it)
            tensor = tensor_pb2.TensorProto(
                dtype="DT_STRING",
                tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                string_val=[layout_pb2.Layout(category=categories).SerializeToString()],
            )
            meta = summary_pb2.SummaryMetadata(
                plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="custom_scalars")
            )
            value = summary_pb2.Summary.Value(tag="custom_scalars__config__", tensor=tensor, metadata=meta)
            self._w.add_event(self._event(wall_time=0.0, step=0, summary=summary_pb2.Summary(value=[value])))

    def close(self) -> None:
        self._w.flush()
        self._w.close()


def _check_logdir(logdir: Any) -> Path:
    if not isinstance(logdir, (str, Path)) or not str(logdir) or "\x00" in str(logdir):
        raise ValidationError(f"The argument 'logdir' must be a folder path; got {logdir!r}.")
    p = Path(logdir).expanduser()
    if p.exists() and not p.is_dir():
        raise ValidationError(
            f"The logdir '{p}' exists and is not a folder, so nothing was written.",
            hint="Pass a new or existing folder.",
        )
    p.mkdir(parents=True, exist_ok=True)
    return p


def _graph(mv: Any, logdir: Path) -> str | None:
    """Write a torch version's graph (torch's SummaryWriter); the reason when it cannot be written."""
    from .. import registry

    sample = (mv.sample_input or {}).get("data")
    if not sample:
        return "no sample input is stored with the version (snapshot it with data=...)"
    import torch
    from torch.utils.tensorboard import SummaryWriter

    model = registry.load(mv)
    x = torch.as_tensor(sample, dtype=torch.float32)
    writer = SummaryWriter(str(logdir / "graph"))
    try:
        writer.add_graph(model, x)
    finally:
        writer.close()
    return None


def tensorboard(
    ref_or_deployment: Any,
    logdir: str | Path | None = None,
    *,
    since: Any = "30d",
    every: Any = "1h",
    store: str | None = None,
    reference: Any = None,
    graph: bool = True,
) -> TensorBoardLog:
    """Write a version's metrics, report history and monitoring series as TensorBoard event files.

    Parameters
    ----------
    ref_or_deployment : str, ModelVersion or LocalDeployment
        ``"churn:3"``, ``"churn@production"`` or a local deployment (its name or object).
    logdir : str or Path, optional
        Folder of the event files (created); default ``MODELOPS_HOME/tensorboard/<model>``.
    since, every : str
        The monitoring period and window (as :func:`jupyter_modelops.monitor`).
    store : str, optional
        The capture store to read (default: the deployment's, else ``MODELOPS_HOME``'s).
    reference : Profile, optional
        Reference profile for drift (default: the version's stored profile).
    graph : bool, default=True
        Write the graph of a torch model (needs a stored sample input).

    Returns
    -------
    TensorBoardLog
        ``logdir``, ``tags``, ``reports`` (runs written), ``windows``, ``graph``, ``skipped`` (part: reason).

    Examples
    --------
    >>> log = tensorboard("churn@production", "runs/churn")  # doctest: +SKIP
    >>> # then: tensorboard --logdir runs/churn  (or %modelops tensorboard churn@production)
    """
    from .. import registry
    from ..capture.read import resolve_target

    model_name, version, capture_store = resolve_target(ref_or_deployment, store)
    mv = registry.get(f"{model_name}:{version}" if version else model_name)
    out = _check_logdir(logdir) if logdir is not None else default_logdir(mv.name)
    try:
        writer = _Writer(out)
    except ImportError as exc:
        from ..exceptions import MissingDependencyError

        raise MissingDependencyError("tensorboard", "tensorboard", purpose="write TensorBoard event files") from exc
    margins: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}
    try:
        for name, entry in sorted(mv.metrics.items()):
            tag = _tag("metrics", name)
            if writer.interval(tag, entry, mv.version, mv.created):
                margins.setdefault("metrics", []).append(tag)
        runs = registry.records(mv.name, kind="report")
        for step, rec in enumerate(runs):
            data = rec.get("data") or {}
            t = _when(data.get("finished") or rec.get("created"), mv.created)
            for name, entry in sorted((data.get("metrics") or {}).items()):
                tag = _tag("report", name)
                if writer.interval(tag, entry, step, t):
                    margins.setdefault("report", []).append(tag)
            if isinstance(data.get("gates_passed"), bool):
                writer.scalar("report/gates_passed", data["gates_passed"], step, t)
            writer.scalar("report/succeeded", data.get("status") == "succeeded", step, t)
            writer.scalar("report/duration_s", data.get("duration_s"), step, t)
        n_windows = 0
        try:
            from ..monitoring import monitor

            # a deployment's captures are read from its store, under the version it runs
            rep = monitor(mv.ref, since=since, every=every, store=capture_store.url, reference=reference)
        except ModelOpsError as exc:
            skipped["monitoring"] = str(exc)
        else:
            for step, w in enumerate(rep.windows):
                t = _when(w.get("start"), mv.created)
                for key in (
                    "rows",
                    "requests",
                    "latency_p50_ms",
                    "latency_p95_ms",
                    "latency_p99_ms",
                    "error_rate",
                    "alarm_statistic",
                    "alarm",
                ):
                    writer.scalar(_tag("monitoring", key), w.get(key), step, t)
                for feature, d in sorted((w.get("drift") or {}).items()):
                    for stat in ("z", "shape"):
                        writer.scalar(_tag("monitoring", "drift", feature, stat), (d or {}).get(stat), step, t)
                for kind, key in (("estimated", "estimate"), ("realized", "value")):
                    for metric, entry in sorted((w.get(kind) or {}).items()):
                        tag = _tag("monitoring", kind, metric)
                        if isinstance(entry, dict) and writer.interval(tag, entry, step, t, value_key=key):
                            margins.setdefault("monitoring", []).append(tag)
            n_windows = len(rep.windows)
        writer.layout(margins)
    finally:
        writer.close()
    wrote_graph = False
    if graph and mv.flavor == "torch":
        try:
            reason = _graph(mv, out)
        except ModelOpsError as exc:
            reason = str(exc)
        if reason:
            skipped["graph"] = reason
        else:
            wrote_graph = True
    result = {
        "ref": mv.ref,
        "logdir": str(out),
        "tags": sorted(writer.tags),
        "reports": len(runs),
        "windows": n_windows,
        "graph": wrote_graph,
        "skipped": skipped,
    }
    return TensorBoardLog(result)
