"""MLflow, both ways: log a registry version to MLflow, import an MLflow model, log results into a run.

:func:`to_mlflow` writes one MLflow run per registry version (found again by
its tags, so running it twice updates the same run), with the model in
MLflow's own flavor so that ``mlflow.pyfunc.load_model`` works, registered
under a name with this registry's aliases mirrored as MLflow aliases.
:func:`from_mlflow` reads an MLflow model (``models:/name@alias``,
``models:/name/3``, ``runs:/ID/path``) into this registry, untrusted like a
bundle until :func:`jupyter_modelops.trust`. :func:`log_to_active_run` is the
hook ``evaluate()``, ``robustness()``, ``drift()`` and ``report()`` call when
``configure(mlflow=True)`` or ``MODELOPS_MLFLOW=1``.

mlflow is imported inside the functions only.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from .._html import Result, document, esc
from ..exceptions import ModelOpsError, ModelOpsWarning, ValidationError

__all__ = ["to_mlflow", "from_mlflow", "log_to_active_run", "mlflow_command", "MlflowPush", "MlflowPull"]

TAG_REF = "modelops.ref"
TAG_SHA = "modelops.sha256"
TAG_MODEL = "modelops.model_path"
MODEL_PATH = "model"
#: MLflow's limits on a parameter value and a tag value (characters)
PARAM_MAX = 6000
TAG_MAX = 8000
#: default limit on the bytes of an imported MLflow model (``MODELOPS_MLFLOW_MAX_BYTES``)
MAX_BYTES = 64 << 30
_KEY_BAD = re.compile(r"[^A-Za-z0-9_\-. :/]")
_MODEL_NAME = r"[A-Za-z0-9][A-Za-z0-9._\- ]{0,254}"
_URI_RES = {
    "alias": re.compile(rf"models:/(?P<name>{_MODEL_NAME})@(?P<alias>[A-Za-z0-9_\-]{{1,255}})"),
    "version": re.compile(rf"models:/(?P<name>{_MODEL_NAME})/(?P<version>[1-9][0-9]{{0,9}})"),
    "run": re.compile(r"runs:/(?P<run>[0-9a-f]{32})/(?P<path>[A-Za-z0-9._\-]+(?:/[A-Za-z0-9._\-]+)*)"),
}
_URI_HINT = "Write models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/PATH."


def _mlflow() -> Any:
    from .._optional import require

    return require("mlflow", purpose="work with MLflow", extra="mlflow")


def _key(name: str) -> str:
    """A metric or parameter name MLflow accepts (letters, digits, ``_-. :/``; others become ``_``)."""
    return _KEY_BAD.sub("_", str(name))[:250] or "_"


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def metric_values(metrics: dict, prefix: str = "") -> dict[str, float]:
    """``{name: {"value", "low", "high"}}`` -> ``{name: v, name_low: lo, name_high: hi}`` (finite numbers only)."""
    out: dict[str, float] = {}
    for name, m in (metrics or {}).items():
        entry = m if isinstance(m, dict) else {"value": m}
        for suffix, field in (("", "value"), ("_low", "low"), ("_high", "high")):
            v = _finite(entry.get(field))
            if v is not None:
                out[_key(f"{prefix}{name}{suffix}")] = v
    return out


# --------------------------------------------------------------------------- results
class MlflowPush(Result):
    """What :func:`to_mlflow` did: the run, the registered model version and its aliases."""

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
        how = "logged" if d["created"] else "updated"
        reg = f", registered as {d['registered_model']} version {d['model_version']}" if d.get("model_version") else ""
        aliases = f" (aliases {', '.join('@' + a for a in d['aliases'])})" if d.get("aliases") else ""
        return f"{d['ref']} {how} in MLflow run {d['run_id']}{reg}{aliases}"

    def to_text(self) -> str:
        return self._summary() + f"\n  model: {self.data['model_uri']}\n  tracking: {self.data['tracking_uri']}"

    def to_html(self) -> str:
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(str(v))}</td></tr>" for k, v in self.data.items())
        return f"<div class='modelops-result'><p>{esc(self._summary())}</p><table>{rows}</table></div>"


class MlflowPull(MlflowPush):
    """What :func:`from_mlflow` did: the registry version written (or found) for an MLflow model."""

    @property
    def version(self) -> Any:
        from ..registry import get

        return get(self.data["ref"])

    def _summary(self) -> str:
        d = self.data
        how = "imported as" if d["created"] else "was already"
        return (
            f"{d['uri']} {how} {d['ref']} (untrusted until trust('{d['ref']}'))"
            if not d["trusted"]
            else f"{d['uri']} {how} {d['ref']}"
        )

    def to_text(self) -> str:
        return self._summary() + f"\n  flavor: {self.data['flavor']}\n  metrics: {', '.join(self.data['metrics'])}"


# --------------------------------------------------------------------------- to MLflow
def _model_sha(mv: Any) -> str:
    art: dict = mv.artifacts.get("model") or next(iter(mv.artifacts.values()), {})
    return str(art.get("sha256", ""))


def _choose_mlflow_flavor(mv: Any, flavor: str | None) -> str:
    ours = mv.flavor
    if flavor is not None:
        if flavor not in ("sklearn", "pytorch", "onnx"):
            raise ValidationError(f"The argument 'flavor' must be 'sklearn', 'pytorch' or 'onnx'; got {flavor!r}.")
        if flavor == "onnx" and ours != "onnx" and "onnx" not in mv.artifacts:
            raise ValidationError(
                f"{mv.ref} has no ONNX file, so it cannot be logged in MLflow's onnx flavor.",
                hint=f"Export it first with export('{mv.ref}', format='onnx').",
            )
        return flavor
    if ours in ("sklearn", "joblib", "pickle"):
        return "sklearn"
    if ours == "torch":
        return "pytorch"
    if ours == "onnx" or "onnx" in mv.artifacts:
        return "onnx"
    raise ValidationError(
        f"{mv.ref} is stored as {ours}, which has no MLflow flavor here.",
        hint="Export it to ONNX first (export(ref, format='onnx')), then log it again.",
    )


def _requirements(mv: Any, mlflow_flavor: str) -> list[str]:
    """The pip requirements of the logged model: the versions it was saved with (MLflow then infers nothing)."""
    from importlib.metadata import PackageNotFoundError, version

    dists = ["onnx", "onnxruntime"] if mlflow_flavor == "onnx" else []
    known = {} if mlflow_flavor == "onnx" else dict(mv.meta.get("frameworks") or {})
    for dist in dists:
        try:
            known[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return [f"{dist}=={str(v).split('+')[0]}" for dist, v in sorted(known.items()) if v]


def _save_model(mv: Any, mlflow_flavor: str, directory: Path) -> None:
    """Write the version in MLflow's format (MLmodel + files) into ``directory``."""
    from .. import registry

    reqs = _requirements(mv, mlflow_flavor)
    if mlflow_flavor == "onnx":
        import onnx
        from mlflow import onnx as mlflow_onnx

        path = registry.artifact_path(mv, "model" if mv.flavor == "onnx" else "onnx")
        mlflow_onnx.save_model(onnx.load(str(path)), str(directory), pip_requirements=reqs)
        return
    model = registry.load(mv)
    if mlflow_flavor == "pytorch":
        from mlflow import pytorch as mlflow_pytorch

        mlflow_pytorch.save_model(model, str(directory), pip_requirements=reqs)
        return
    from mlflow import sklearn as mlflow_sklearn

    signature = None
    sample = mv.sample_input
    if sample and sample.get("data") and hasattr(model, "predict"):
        try:
            import numpy as np
            import pandas as pd
            from mlflow.models import infer_signature

            columns = sample.get("feature_names") or None
            X = pd.DataFrame(np.asarray(sample["data"]), columns=columns) if columns else np.asarray(sample["data"])
            signature = infer_signature(X, model.predict(X))
        except Exception:  # a signature is a convenience: the model is logged without one
            signature = None
    mlflow_sklearn.save_model(model, str(directory), signature=signature, pip_requirements=reqs)


def _report_files(mv: Any) -> list[Path]:
    """HTML files of the monitoring reports run on this version here (not those an import brought)."""
    from .. import registry

    out = []
    for rec in registry.records(mv.ref, kind="report"):
        data = rec.get("data") or {}
        html = data.get("html")
        if not html or "imported_from" in data:
            continue
        p = Path(str(html))
        if p.suffix.lower() == ".html" and p.is_file() and not p.is_symlink():
            out.append(p)
    return out


def _find_run(client: Any, experiment_id: str, mv: Any, sha: str) -> Any:
    runs = client.search_runs(
        [experiment_id], filter_string=f"tags.`{TAG_REF}` = '{mv.ref}' and tags.`{TAG_SHA}` = '{sha}'", max_results=1
    )
    return runs[0] if runs else None


def to_mlflow(
    ref: Any,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    registered_model: str | None = None,
    flavor: str | None = None,
) -> MlflowPush:
    """Log a registry version to MLflow: params, tags, metrics with intervals, reports, the model.

    One MLflow run per version, found again by its tags (``modelops.ref``,
    ``modelops.sha256``), so logging the same version again updates that run
    instead of adding one. The model is written in MLflow's own flavor
    (sklearn, pytorch, or onnx from the export) so ``mlflow.pyfunc.load_model``
    reads it, and registered under ``registered_model`` with this version's
    aliases set as MLflow aliases.

    Parameters
    ----------
    ref : str or ModelVersion
        ``"churn:3"``, ``"churn@production"``...
    tracking_uri : str, optional
        Default: MLflow's own (``MLFLOW_TRACKING_URI``, else ``./mlruns``).
    experiment : str, optional
        Experiment name (created if needed); default ``modelops/<model name>``.
    registered_model : str, optional
        MLflow registered model name; default the model's name here.
    flavor : str, optional
        ``"sklearn"``, ``"pytorch"`` or ``"onnx"`` (the version's ONNX export); default from the version.

    Returns
    -------
    MlflowPush
        ``run_id``, ``experiment_id``, ``model_uri`` (``runs:/ID/model``), ``registered_model``,
        ``model_version``, ``aliases``, ``created`` (False when the run was there already).

    Examples
    --------
    >>> push = to_mlflow("churn@production", tracking_uri="http://127.0.0.1:5000")  # doctest: +SKIP
    >>> push.model_uri  # doctest: +SKIP
    'runs:/4f.../model'
    """
    from .. import registry

    mv = registry.get(ref)
    if experiment is not None and (not isinstance(experiment, str) or not experiment.strip() or len(experiment) > 500):
        raise ValidationError(f"The argument 'experiment' must be a name of 1 to 500 characters; got {experiment!r}.")
    if registered_model is not None and not (
        isinstance(registered_model, str) and re.fullmatch(_MODEL_NAME, registered_model)
    ):
        raise ValidationError(
            f"The argument 'registered_model' must be a name of letters, digits, '.', '_', '-' "
            f"and spaces; got {registered_model!r}."
        )
    mlflow_flavor = _choose_mlflow_flavor(mv, flavor)
    mlflow = _mlflow()
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    uri = tracking_uri or mlflow.get_tracking_uri()
    client = MlflowClient(tracking_uri=uri)
    exp_name = experiment or f"modelops/{mv.name}"
    try:
        exp = client.get_experiment_by_name(exp_name)
        experiment_id = exp.experiment_id if exp is not None else client.create_experiment(exp_name)
    except Exception as exc:
        raise ModelOpsError(
            f"The MLflow tracking server at {uri} could not be used ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}).",
            hint="Check the tracking URI and that the server runs.",
        ) from exc
    sha = _model_sha(mv)
    run = _find_run(client, experiment_id, mv, sha)
    created = run is None
    if run is None:
        run = client.create_run(
            experiment_id,
            start_time=int(mv.created * 1000),
            run_name=mv.ref.replace(":", "-v"),
            tags={TAG_REF: mv.ref, TAG_SHA: sha},
        )
    run_id = run.info.run_id

    ts = int(mv.created * 1000)
    params = [Param(_key(k), _text(v, PARAM_MAX)) for k, v in sorted((mv.params or {}).items())]
    tags = {
        TAG_REF: mv.ref,
        TAG_SHA: sha,
        "modelops.flavor": mv.flavor,
        "modelops.origin": mv.origin,
        "modelops.signature": _text(mv.signature, TAG_MAX),
        "modelops.trusted": str(bool(mv.trusted)),
    }
    if mv.parent:
        tags["modelops.parent"] = mv.parent
    data = mv.data or {}
    if data.get("sha256"):
        tags["modelops.data.sha256"] = str(data["sha256"])
        tags["modelops.data.shape"] = json.dumps(data.get("shape"))
    git = mv.meta.get("git") or {}
    if git.get("commit"):
        tags["mlflow.source.git.commit"] = str(git["commit"])
        tags["modelops.git.dirty"] = str(bool(git.get("dirty")))
    if mv.notes:
        tags["mlflow.note.content"] = _text(mv.notes, TAG_MAX)
    for k, v in (mv.tags or {}).items():
        tags.setdefault(_key(k), _text(v, TAG_MAX))
    metrics = [Metric(k, v, ts, 0) for k, v in sorted(metric_values(mv.metrics).items())]
    try:
        # params and tags in batches of at most 100 (MLflow's limit per call); the same values again are accepted
        tag_list = [RunTag(k, v) for k, v in tags.items()]
        for i in range(0, max(len(params), len(tag_list), len(metrics), 1), 100):
            client.log_batch(
                run_id, metrics=metrics[i : i + 100], params=params[i : i + 100], tags=tag_list[i : i + 100]
            )
        run = client.get_run(run_id)
        with tempfile.TemporaryDirectory(prefix="modelops-mlflow-") as tmp:
            t = Path(tmp)
            (t / "modelops").mkdir()
            (t / "modelops" / "version.html").write_text(document(mv.to_html(), title=mv.ref), encoding="utf-8")
            (t / "modelops" / "version.json").write_text(mv.to_json(indent=2, default=str), encoding="utf-8")
            for p in _report_files(mv):
                (t / "modelops" / "reports").mkdir(exist_ok=True)
                shutil.copyfile(p, t / "modelops" / "reports" / p.name)
            client.log_artifacts(run_id, str(t / "modelops"), "modelops")
            if run.data.tags.get(TAG_MODEL) != f"{mlflow_flavor}:{MODEL_PATH}":
                _save_model(mv, mlflow_flavor, t / "model")
                client.log_artifacts(run_id, str(t / "model"), MODEL_PATH)
                client.set_tag(run_id, TAG_MODEL, f"{mlflow_flavor}:{MODEL_PATH}")
        with contextlib.redirect_stdout(io.StringIO()):  # MLflow prints the run's URL: not ours to print (--json)
            client.set_terminated(run_id, "FINISHED")
        model_version = None
        aliases: list[str] = []
        rm = registered_model or mv.name
        try:
            client.get_registered_model(rm)
        except Exception:
            client.create_registered_model(rm, tags={"modelops.name": mv.name})
        found = client.search_model_versions(f"name = '{rm}' and run_id = '{run_id}'")
        if found:
            model_version = str(found[0].version)
        else:
            source = f"{run.info.artifact_uri.rstrip('/')}/{MODEL_PATH}"
            model_version = str(client.create_model_version(rm, source, run_id=run_id, tags={TAG_REF: mv.ref}).version)
        for a in mv.aliases:
            if re.fullmatch(r"[A-Za-z0-9_\-]{1,255}", a) and a != "latest" and not re.fullmatch(r"[vV]\d+", a):
                client.set_registered_model_alias(rm, a, model_version)
                aliases.append(a)
    except ModelOpsError:
        raise
    except Exception as exc:
        raise ModelOpsError(
            f"{mv.ref} could not be logged to MLflow at {uri} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}).",
            hint="Check that the tracking server runs and accepts writes; logging again continues the same run.",
        ) from exc
    out = {
        "ref": mv.ref,
        "tracking_uri": uri,
        "experiment_id": experiment_id,
        "run_id": run_id,
        "model_uri": f"runs:/{run_id}/{MODEL_PATH}",
        "mlflow_flavor": mlflow_flavor,
        "registered_model": rm,
        "model_version": model_version,
        "aliases": aliases,
        "created": created,
        "metrics": sorted(m.key for m in metrics),
    }
    registry.add_record(mv, "mlflow", {k: v for k, v in out.items() if k != "metrics"})
    return MlflowPush(out)


# --------------------------------------------------------------------------- from MLflow
def parse_uri(uri: object) -> dict:
    """Check an MLflow model URI; ``{"kind": "alias"|"version"|"run", ...}`` or one clear sentence."""
    if not isinstance(uri, str):
        raise ValidationError(f"The MLflow model URI must be a string; got {type(uri).__name__}.", hint=_URI_HINT)
    for kind, rx in _URI_RES.items():
        m = rx.fullmatch(uri)
        if m:
            parts = m.groupdict()
            if kind == "run" and any(seg in (".", "..") for seg in parts["path"].split("/")):
                break
            return {"kind": kind, **parts}
    raise ValidationError(f"{uri!r} is not an MLflow model URI this registry reads.", hint=_URI_HINT)


def _max_bytes() -> int:
    raw = os.environ.get("MODELOPS_MLFLOW_MAX_BYTES")
    if raw is None:
        return MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValidationError(f"MODELOPS_MLFLOW_MAX_BYTES must be a whole number of bytes > 0; got {raw!r}.")
    return value


def _inside(root: Path, rel: Any, what: str) -> Path:
    """``root / rel`` for a relative path an MLmodel file names, refused when it leaves ``root``."""
    if (
        not isinstance(rel, str)
        or not rel
        or rel.startswith("/")
        or "\\" in rel
        or any(seg in ("", ".", "..") for seg in rel.split("/"))
    ):
        raise ValidationError(
            f"The MLflow model names its {what} {rel!r}, which is not a plain relative path, so nothing was imported."
        )
    p = root / rel
    if p.is_symlink() or not p.is_file() or root.resolve() not in p.resolve().parents:
        raise ValidationError(
            f"The MLflow model's {what} {rel!r} is missing or not a plain file inside the "
            "model, so nothing was imported."
        )
    return p


def _check_tree(root: Path, limit: int) -> None:
    total = 0
    for p in root.rglob("*"):
        if p.is_symlink():
            raise ValidationError(
                f"The MLflow model holds a symbolic link ({p.relative_to(root)}), so nothing was imported."
            )
        if p.is_file():
            total += p.stat().st_size
            if total > limit:
                raise ValidationError(
                    f"The MLflow model holds more than {limit} bytes (MODELOPS_MLFLOW_MAX_BYTES), "
                    "so nothing was imported.",
                    hint="Raise MODELOPS_MLFLOW_MAX_BYTES if you expect a model this large.",
                )


def _read_mlmodel(root: Path) -> dict:
    import yaml

    path = root / "MLmodel"
    if path.is_symlink() or not path.is_file():
        raise ValidationError(
            "The MLflow URI does not point at an MLflow model (no MLmodel file), so nothing was imported.",
            hint="Point at the model's folder, e.g. runs:/RUN_ID/model.",
        )
    if path.stat().st_size > 1 << 20:
        raise ValidationError("The MLflow model's MLmodel file is larger than 1 MiB, so nothing was imported.")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"The MLflow model's MLmodel file is not valid YAML ({exc}), so nothing was imported."
        ) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("flavors"), dict):
        raise ValidationError("The MLflow model's MLmodel file has no 'flavors' mapping, so nothing was imported.")
    return doc


def _our_flavor(root: Path, mlmodel: dict) -> tuple[str, str, Path, dict]:
    """(our flavor, file format, model file, frameworks) for an MLflow model, from its MLmodel file."""
    fl = mlmodel["flavors"]
    if isinstance(fl.get("onnx"), dict):
        info = fl["onnx"]
        return "onnx", "onnx", _inside(root, info.get("data"), "ONNX file"), {"onnx": str(info.get("onnx_version"))}
    if isinstance(fl.get("sklearn"), dict):
        info = fl["sklearn"]
        path = _inside(root, info.get("pickled_model"), "model file")
        frameworks = {"scikit-learn": str(info.get("sklearn_version"))}
        fmt = info.get("serialization_format")
        if fmt == "skops":
            return "sklearn", "skops", path, frameworks
        if fmt in ("pickle", "cloudpickle"):
            return "pickle", "pickle", path, frameworks
        raise ValidationError(
            f"The MLflow sklearn model is serialized as {fmt!r}, which this registry does not "
            "read; nothing was imported.",
            hint="Log it with serialization_format 'skops', 'cloudpickle' or 'pickle'.",
        )
    raise ValidationError(
        f"The MLflow model has the flavors {', '.join(sorted(fl))}; this registry imports the "
        "sklearn and onnx flavors, so nothing was imported.",
        hint="Log the model in MLflow's onnx flavor (mlflow.onnx.log_model) to import it.",
    )


def _metrics_from_run(run_metrics: dict) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for key, value in run_metrics.items():
        if key.endswith(("_low", "_high")) and key.rsplit("_", 1)[0] in run_metrics:
            continue
        v = _finite(value)
        if v is None or key.startswith("modelops."):
            continue
        entry: dict[str, Any] = {"value": v}
        lo, hi = _finite(run_metrics.get(f"{key}_low")), _finite(run_metrics.get(f"{key}_high"))
        if lo is not None and hi is not None:
            entry.update(low=lo, high=hi)
        out[key] = entry
    return out


def _signature_from(mlmodel: dict) -> dict:
    sig: dict[str, Any] = {"inputs": [], "outputs": [], "feature_names": [], "columns": []}
    raw = (mlmodel.get("signature") or {}).get("inputs") if isinstance(mlmodel.get("signature"), dict) else None
    try:
        cols = json.loads(raw) if isinstance(raw, str) else []
        names = [str(c["name"]) for c in cols if isinstance(c, dict) and isinstance(c.get("name"), str)]
    except (ValueError, TypeError, KeyError):
        names = []
    sig["feature_names"] = names[:100000]
    return sig


def from_mlflow(uri: str, *, name: str | None = None, tracking_uri: str | None = None) -> MlflowPull:
    """Import an MLflow model into this registry, keeping its run's metrics and lineage; untrusted.

    The version is not trusted, like one from a bundle: its pickle files are
    not loaded (and its skops files load only skops' default types) until
    :func:`jupyter_modelops.trust` is run on it. The MLmodel file is read as
    plain YAML and every file it names must stay inside the model. The
    sklearn flavor (pickle, cloudpickle or skops files) and the onnx flavor
    are imported. Importing the same files again returns the version already
    there.

    Parameters
    ----------
    uri : str
        ``"models:/churn@champion"``, ``"models:/churn/3"`` or ``"runs:/RUN_ID/model"``.
    name : str, optional
        Model name here; default the MLflow registered model's name (or the run's ``modelops.ref``).
    tracking_uri : str, optional
        Default: MLflow's own (``MLFLOW_TRACKING_URI``).

    Returns
    -------
    MlflowPull
        ``ref`` of the version here, ``created``, ``flavor``, ``metrics``, ``run_id``.
    """
    from ..registry import _refs
    from ..registry.api import _commit, _version
    from ..registry.bundle import _same_files
    from ..registry.store import default_store

    parsed = parse_uri(uri)
    if name is not None:
        _refs.check_name(name)
    limit = _max_bytes()
    mlflow = _mlflow()
    from mlflow.tracking import MlflowClient

    t_uri = tracking_uri or mlflow.get_tracking_uri()
    client = MlflowClient(tracking_uri=t_uri, registry_uri=t_uri)
    origin: dict[str, Any] = {"kind": "mlflow", "uri": uri, "tracking_uri": t_uri}
    with tempfile.TemporaryDirectory(prefix="modelops-mlflow-") as tmp:
        try:
            if parsed["kind"] == "run":
                run_id, rel = parsed["run"], parsed["path"]
                local = Path(client.download_artifacts(run_id, rel, tmp))
                default_name = None
            else:
                if parsed["kind"] == "alias":
                    info = client.get_model_version_by_alias(parsed["name"], parsed["alias"])
                else:
                    info = client.get_model_version(parsed["name"], parsed["version"])
                run_id = info.run_id
                origin.update(model_name=info.name, model_version=str(info.version))
                src = client.get_model_version_download_uri(info.name, info.version)
                from mlflow.artifacts import download_artifacts

                local = Path(download_artifacts(artifact_uri=src, dst_path=tmp, tracking_uri=t_uri))
                default_name = info.name
            run = client.get_run(run_id) if run_id else None
        except ModelOpsError:
            raise
        except Exception as exc:
            raise ModelOpsError(
                f"{uri} could not be read from MLflow at {t_uri} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}).",
                hint="Check the URI (mlflow models and runs list what there is) and the tracking server.",
            ) from exc
        root = local if local.is_dir() else local.parent
        _check_tree(root, limit)
        mlmodel = _read_mlmodel(root)
        flavor, fmt, model_file, frameworks = _our_flavor(root, mlmodel)
        run_tags = dict(run.data.tags) if run is not None else {}
        if name is None:
            candidate = default_name or (run_tags.get(TAG_REF) or "").split(":")[0]
            if not candidate or not _refs.NAME_RE.fullmatch(candidate) or ".." in candidate:
                raise ValidationError(
                    f"{uri} gives no model name this registry accepts ({candidate!r}).",
                    hint="Pass name='...' (letters, digits, '.', '_' and '-').",
                )
            name = candidate
        run_metrics = dict(run.data.metrics) if run is not None else {}
        origin.update(
            run_id=run_id,
            experiment_id=run.info.experiment_id if run is not None else None,
            lineage={k: v for k, v in run_tags.items() if k.startswith("modelops.") or k.startswith("mlflow.source")},
            mlflow_version=str(mlmodel.get("mlflow_version")),
            flavors=sorted(mlmodel["flavors"]),
        )
        meta: dict[str, Any] = {
            "params": dict(run.data.params) if run is not None else {},
            "tags": {k: v for k, v in run_tags.items() if not k.startswith(("mlflow.", "modelops."))},
            "notes": run_tags.get("mlflow.note.content"),
            "class": None,
            "metrics": _metrics_from_run(run_metrics),
            "signature": _signature_from(mlmodel),
            "frameworks": frameworks,
            "environment": {},
            "flavor_roles": ["model"],
            "origin": origin,
            "git": {"commit": run_tags["mlflow.source.git.commit"]}
            if run_tags.get("mlflow.source.git.commit")
            else None,
        }
        store = default_store()
        with store.staging() as stage:
            copy = stage / "model-file"
            shutil.copyfile(model_file, copy)
            staged = store.stage(copy)
            same = _same_files(store, name, flavor, {"model": staged.sha256})
            if same is not None:
                mv = _version(store, same)
                created = False
            else:
                mv = _commit(
                    store,
                    name,
                    flavor,
                    meta,
                    {
                        "model": (
                            staged,
                            {
                                "file": model_file.name,
                                "format": fmt,
                                "metadata": {"mlflow_path": str(model_file.relative_to(root))},
                            },
                        )
                    },
                    parent=origin["lineage"].get("modelops.parent"),
                )
                created = True
    from ..registry import add_record

    if created:
        add_record(mv, "mlflow", {k: v for k, v in origin.items() if k != "lineage"})
    return MlflowPull(
        {
            "uri": uri,
            "ref": mv.ref,
            "created": created,
            "flavor": flavor,
            "trusted": bool(mv.trusted),
            "run_id": run_id,
            "metrics": sorted(mv.metrics),
            "tracking_uri": t_uri,
        }
    )


# --------------------------------------------------------------------------- the hook into an active run
_WARNED: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, ModelOpsWarning, stacklevel=3)


def result_metrics(result: Any, kind: str) -> dict[str, float]:
    """The numbers a result logs into an MLflow run, with a prefix per kind (``evaluation.roc_auc_low``...)."""
    d = result.to_dict() if hasattr(result, "to_dict") else {}
    out: dict[str, float] = {}
    if kind == "evaluation":
        out.update(metric_values(d.get("metrics") or {}, "evaluation."))
    elif kind == "robustness":
        for row in d.get("rows") or []:
            tag = f"robustness.{row.get('perturbation')}.{row.get('severity')}."
            for field in ("metric_perturbed", "metric_drop", "flip_rate"):
                for suffix in ("", "_low", "_high"):
                    v = _finite(row.get(field + suffix))
                    if v is not None:
                        out[_key(tag + field + suffix)] = v
    elif kind == "drift":
        for raw, k in ((d.get("drift_share"), "drift.drift_share"), (d.get("dataset_drift"), "drift.dataset_drift")):
            v = _finite(float(raw) if isinstance(raw, bool) else raw)
            if v is not None:
                out[k] = v
        for col in d.get("columns") or []:
            for stat in ("psi", "js", "ks", "ks_p", "wasserstein_normed", "chi2_p"):
                v = _finite(col.get(stat))
                if v is not None:
                    out[_key(f"drift.{col.get('column')}.{stat}")] = v
            if isinstance(col.get("drift"), bool):
                out[_key(f"drift.{col.get('column')}.drift")] = float(col["drift"])
    elif kind == "report":
        out.update(metric_values(d.get("metrics") or {}, "report."))
        if isinstance(d.get("gates_passed"), bool):
            out["report.gates_passed"] = float(d["gates_passed"])
    return out


def log_to_active_run(result: Any, kind: str) -> Any:
    """Log ``result`` into the active MLflow run when ``configure(mlflow=True)`` or ``MODELOPS_MLFLOW=1``; return it.

    Called at the end of ``evaluate()`` (``kind="evaluation"``), ``robustness()``,
    ``drift()`` and ``report()``. Without the setting it returns at once
    (mlflow is not imported); without an active run it does nothing. The
    numbers go as metrics (with ``_low``/``_high`` for intervals) and the
    result's HTML as the artifact ``modelops/<kind>-<time>.html``. A failure
    to log is a warning: the result is returned in every case.
    """
    from ..config import mlflow_enabled

    if not mlflow_enabled():
        return result
    try:
        import mlflow
    except ImportError:
        _warn_once(
            "import",
            "MLflow logging is on (configure(mlflow=True) or MODELOPS_MLFLOW=1) but mlflow is not "
            "installed; install jupyter-modelops[mlflow] or turn the setting off.",
        )
        return result
    run = mlflow.active_run()
    if run is None:
        return result
    try:
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        ts = int(time.time() * 1000)
        metrics = [Metric(k, v, ts, 0) for k, v in sorted(result_metrics(result, kind).items())]
        for i in range(0, len(metrics), 1000):
            client.log_batch(run.info.run_id, metrics=metrics[i : i + 1000])
        html = getattr(result, "to_html", None)
        if callable(html):
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.3f}"[1:]
            client.log_text(run.info.run_id, document(html(), title=f"{kind} report"), f"modelops/{kind}-{stamp}.html")
    except Exception as exc:
        warnings.warn(
            f"The {kind} result could not be logged to MLflow run {run.info.run_id} "
            f"({type(exc).__name__}: {exc}); the result itself is returned.",
            ModelOpsWarning,
            stacklevel=2,
        )
    return result


# --------------------------------------------------------------------------- faces
def mlflow_command(
    action: str,
    target: str,
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    registered_model: str | None = None,
    name: str | None = None,
) -> MlflowPush:
    """``mlflow push REF`` / ``mlflow pull URI`` of the faces, on :func:`to_mlflow` and :func:`from_mlflow`."""
    if action == "push":
        if name is not None:
            raise ValidationError("--name is for mlflow pull; push uses --registered-model.")
        return to_mlflow(target, tracking_uri=tracking_uri, experiment=experiment, registered_model=registered_model)
    if action == "pull":
        if experiment is not None or registered_model is not None:
            raise ValidationError("--experiment and --registered-model are for mlflow push; pull takes --name.")
        return from_mlflow(target, name=name, tracking_uri=tracking_uri)
    raise ValidationError(f"Unknown mlflow action {action!r}; expected 'push' or 'pull'.")
