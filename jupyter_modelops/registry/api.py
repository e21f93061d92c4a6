"""The registry's public functions: snapshot, get, load, alias, diff, delete, gc...

Every function works on the store under ``MODELOPS_HOME`` (read at each call).
References are ``name`` (latest), ``name:3`` or ``name@alias``; see
:mod:`jupyter_modelops.registry._refs` for the allowed characters.
"""

from __future__ import annotations

import json
import shutil
import weakref
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..exceptions import ConflictError, ModelNotFoundError, ModelOpsError, ValidationError, suggest
from . import signature as sig
from ._refs import Ref, check_alias, check_filename, check_name, check_role, parse_ref
from .flavors import flavors
from .results import GcReport, ModelList, ModelVersion, Trust, VersionDiff, VersionList, iso
from .store import StagedFile, Store, default_store, dumps, now

__all__ = [
    "snapshot",
    "get",
    "load",
    "models",
    "versions",
    "alias",
    "diff",
    "delete",
    "gc",
    "attach_artifact",
    "artifact_path",
    "add_record",
    "records",
    "materialize",
    "alias_history",
    "trust",
]

MODEL_DIR_FILE = "modelops-model.json"
MODEL_DIR_SCHEMA = 1
PROFILE_ROLE = "drift-profile"
SAMPLE_ROLE = "sample"
SAMPLE_MAX_BYTES = 1 << 20  # the stored sample is cut to at most 1 MiB of JSON
_SUFFIX_FORMATS = {
    ".onnx": "onnx",
    ".skops": "skops",
    ".joblib": "joblib",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".json": "json",
    ".pt": "torchscript",
    ".ts": "torchscript",
}

# objects returned by load(): id -> (weak reference, ref), for the lineage of later snapshots
_LOADED: dict[int, tuple[Any, str]] = {}


# -- reading ------------------------------------------------------------------
def _resolve(store: Store, ref: Any, *, arg: str = "ref") -> tuple[int, str, int]:
    """(row id, name, version) of a reference, or ModelNotFoundError with suggestions."""
    r = parse_ref(ref, arg=arg)
    con = store.con
    if r.version is not None:
        row = con.execute(
            "SELECT id, version FROM versions WHERE name = ? AND version = ?", (r.name, r.version)
        ).fetchone()
    elif r.alias is not None:
        row = con.execute(
            "SELECT v.id, v.version FROM aliases a JOIN versions v ON v.name = a.name AND "
            "v.version = a.version WHERE a.name = ? AND a.alias = ?",
            (r.name, r.alias),
        ).fetchone()
    else:
        row = con.execute(
            "SELECT id, version FROM versions WHERE name = ? ORDER BY version DESC LIMIT 1", (r.name,)
        ).fetchone()
    if row is None:
        _not_found(store, r)
    return row[0], r.name, row[1]


def _not_found(store: Store, r: Ref) -> None:
    con = store.con
    names = [n for (n,) in con.execute("SELECT DISTINCT name FROM versions")]
    if r.name not in names:
        listing = f" Models: {', '.join(sorted(names)[:10])}." if names else " The registry is empty."
        raise ModelNotFoundError(
            f"There is no model named '{r.name}'.{suggest(r.name, names)}{listing}", hint="List them with models()."
        )
    if r.version is not None:
        nums = [v for (v,) in con.execute("SELECT version FROM versions WHERE name = ? ORDER BY version", (r.name,))]
        shown = ", ".join(map(str, nums[-10:]))
        raise ModelNotFoundError(
            f"The model '{r.name}' has no version {r.version}; it has versions {shown}.",
            hint=f"Use '{r.name}' for the latest ({r.name}:{nums[-1]}).",
        )
    aliases = [a for (a,) in con.execute("SELECT alias FROM aliases WHERE name = ?", (r.name,))]
    known = f" Its aliases: {', '.join(sorted(aliases))}." if aliases else " It has no aliases yet."
    raise ModelNotFoundError(
        f"The model '{r.name}' has no alias '{r.alias}'.{suggest(r.alias or '', aliases)}{known}",
        hint=f"Set one with alias('{r.name}:N', '{r.alias}').",
    )


def _version(store: Store, row_id: int) -> ModelVersion:
    con = store.con
    name, version, created, user, flavor, parent, meta = con.execute(
        "SELECT v.name, v.version, v.created, v.user, v.flavor, v.parent, m.meta FROM versions v "
        "JOIN version_meta m ON m.version_id = v.id WHERE v.id = ?",
        (row_id,),
    ).fetchone()
    artifacts = {
        role: {"sha256": sha, "size": size, "format": fmt, "filename": fn, "metadata": json.loads(m)}
        for role, sha, size, fmt, fn, m in con.execute(
            "SELECT role, sha256, size, format, filename, meta FROM artifacts WHERE version_id = ? "
            "ORDER BY created, role",
            (row_id,),
        )
    }
    aliases = [
        a
        for (a,) in con.execute(
            "SELECT alias FROM aliases WHERE name = ? AND version = ? ORDER BY alias", (name, version)
        )
    ]
    row = con.execute("SELECT by, at FROM trust WHERE version_id = ?", (row_id,)).fetchone()
    trust = Trust(True, by=row[0], at=row[1], how="user") if row else None
    return ModelVersion(
        name=name,
        version=version,
        created=created,
        user=user,
        flavor=flavor,
        parent=parent,
        meta=json.loads(meta),
        artifacts=artifacts,
        aliases=aliases,
        trust=trust,
    )


def get(ref: str | ModelVersion) -> ModelVersion:
    """Return the version a reference points at.

    Parameters
    ----------
    ref : str or ModelVersion
        ``"churn"`` (latest), ``"churn:3"`` or ``"churn@production"``.

    Returns
    -------
    ModelVersion

    Raises
    ------
    ModelNotFoundError
        With close names, versions or aliases suggested.

    Examples
    --------
    >>> mv = get("churn@production")  # doctest: +SKIP
    >>> mv.ref, mv.metrics["f1_score"]["value"]  # doctest: +SKIP
    """
    store = default_store()
    row_id, _, _ = _resolve(store, ref)
    return _version(store, row_id)


def models() -> ModelList:
    """All model names with their number of versions, latest version and aliases."""
    store = default_store()
    con = store.con
    alias_map: dict[str, dict[str, int]] = {}
    for name, a, v in con.execute("SELECT name, alias, version FROM aliases ORDER BY alias"):
        alias_map.setdefault(name, {})[a] = v
    rows = []
    for name, count, latest, updated in con.execute(
        "SELECT name, COUNT(*), MAX(version), MAX(created) FROM versions GROUP BY name ORDER BY name"
    ):
        flavor = con.execute("SELECT flavor FROM versions WHERE name = ? AND version = ?", (name, latest)).fetchone()
        rows.append(
            {
                "name": name,
                "versions": count,
                "latest": latest,
                "flavor": flavor[0] if flavor else None,
                "aliases": alias_map.get(name, {}),
                "updated": iso(updated),
            }
        )
    return ModelList(rows)


def versions(name: str) -> VersionList:
    """All versions of a model, newest first (metrics, aliases, sizes, notes)."""
    check_name(name)
    store = default_store()
    con = store.con
    rows = con.execute(
        "SELECT version, created, user, flavor, parent, summary FROM versions WHERE name = ? ORDER BY version DESC",
        (name,),
    ).fetchall()
    if not rows:
        _not_found(store, Ref(name))
    aliases: dict[int, list[str]] = {}
    for a, v in con.execute("SELECT alias, version FROM aliases WHERE name = ? ORDER BY alias", (name,)):
        aliases.setdefault(v, []).append(a)
    return VersionList(name, rows, aliases, alias_history(name))


def alias_history(name: str) -> list[dict]:
    """Every move of every alias of a model, oldest first."""
    check_name(name)
    return [
        {"alias": a, "version": v, "previous": p, "at": iso(t), "user": u}
        for a, v, p, t, u in default_store().con.execute(
            "SELECT alias, version, previous, at, user FROM alias_history WHERE name = ? ORDER BY id", (name,)
        )
    ]


# -- snapshot -----------------------------------------------------------------
def _norm_tags(tags: Any) -> dict[str, str]:
    if tags is None:
        return {}
    if isinstance(tags, str):
        tags = [tags]
    items: Iterable[tuple[Any, Any]]
    if isinstance(tags, Mapping):
        items = tags.items()
    elif isinstance(tags, Iterable):
        items = [(t, "") for t in tags]
    else:
        raise ValidationError(f"The argument 'tags' must be a dict or a list of strings; got {type(tags).__name__}.")
    out = {}
    for k, v in items:
        if isinstance(k, str) and v == "" and "=" in k:  # "key=value" written as one string
            k, v = k.split("=", 1)
        if not isinstance(k, str) or not k or len(k) > 128:
            raise ValidationError(f"Each tag must be a non-empty string of at most 128 characters; got {k!r}.")
        out[k] = "" if v is None else str(v)
    return out


def _check_json(value: Any, arg: str) -> Any:
    from .._html import to_jsonable

    try:
        json.dumps(to_jsonable(value), allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"The argument '{arg}' must be JSON-serializable (numbers, strings, lists, dicts): {exc}."
        ) from None
    return to_jsonable(value)


def _choose_flavor(model: Any, flavor: str | None, trusted: bool) -> Any:
    if flavor is not None:
        fl = flavors.get(flavor)
        if fl.name == "pickle" and not trusted:
            raise ValidationError(
                "flavor='pickle' stores a plain pickle, which runs code when loaded; it needs trusted=True.",
                hint="Pass trusted=True if you trust everyone who can write to this registry.",
            )
        return fl
    detected = flavors.detect(model)
    if detected is not None:
        return detected
    if trusted:
        return flavors.get("pickle")
    raise ValidationError(
        f"No flavor knows how to store a {type(model).__module__}.{type(model).__qualname__} safely "
        f"(known flavors: {', '.join(flavors.names())}).",
        hint="Pass flavor='joblib', or trusted=True to store it with pickle.",
    )


def _lineage(model: Any) -> str | None:
    entry = _LOADED.get(id(model))
    if entry is None:
        return None
    wr, ref = entry
    return ref if wr() is model else None


def _remember_loaded(model: Any, ref: str) -> None:
    try:
        wr = weakref.ref(model)
    except TypeError:
        return
    for key in [k for k, (w, _) in _LOADED.items() if w() is None]:
        del _LOADED[key]
    _LOADED[id(model)] = (wr, ref)


def _signature(fl: Any, model: Any, data: Any) -> dict:
    if hasattr(fl, "signature"):
        try:
            out = fl.signature(model)
            if data is not None:
                out["feature_names"] = sig.input_signature(data)["feature_names"]
            out.setdefault("feature_names", [])
            return out
        except Exception:
            pass
    if data is not None:
        out = sig.input_signature(data)
        predict = fl.predict_fn(model)
        outputs: list[dict] = []
        if predict is not None:
            try:
                outputs = sig.output_signature(predict(sig.take_rows(data)), name="predict")
            except Exception:
                outputs = []
            proba = getattr(model, "predict_proba", None)
            if proba is not None and fl.name in ("sklearn", "joblib", "pickle"):
                try:
                    outputs += sig.output_signature(proba(sig.take_rows(data)), name="predict_proba")
                except Exception:
                    pass
        out["outputs"] = outputs
        return out
    n = getattr(model, "n_features_in_", None)
    names = [str(f) for f in getattr(model, "feature_names_in_", [])]
    if isinstance(n, int):
        return {
            "inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, n]}],
            "outputs": [],
            "feature_names": names,
            "columns": [],
            "inferred": True,
        }
    return {"inputs": [], "outputs": [], "feature_names": [], "columns": []}


def snapshot(
    model: Any,
    name: str,
    *,
    report: Any = None,
    data: Any = None,
    params: Mapping[str, Any] | None = None,
    tags: Any = None,
    alias: str | None = None,
    notes: str | None = None,
    flavor: str | None = None,
    trusted: bool = False,
    sample_rows: int = 1000,
) -> ModelVersion:
    """Store a model as the next immutable version of ``name``.

    Parameters
    ----------
    model : object
        A scikit-learn estimator or pipeline, a ``torch.nn.Module``, an ONNX
        ``ModelProto`` (or ``.onnx`` path), or any object with ``flavor=`` or
        ``trusted=True``.
    name : str
        Model name: 1 to 128 characters from letters, digits, ``.``, ``_``
        and ``-``, starting with a letter or digit.
    report : EvaluationReport, optional
        Its metrics and confidence intervals are recorded (read through ``to_dict()``).
    data : DataFrame or array, optional
        Training or reference data: gives the input signature, a small sample
        input and a fingerprint (hash, shape, schema, drift profile).
    params : dict, optional
        Hyper-parameters or anything JSON-serializable.
    tags : dict or list of str, optional
    alias : str, optional
        Point this alias (e.g. ``"staging"``) at the new version.
    notes : str, optional
    flavor : str, optional
        Force a flavor (``"sklearn"``, ``"joblib"``, ``"torch"``, ``"onnx"``, ``"pickle"``...).
    trusted : bool, default=False
        Allow plain pickle for objects no safe flavor knows.
    sample_rows : int, default=1000
        Rows of ``data`` kept as the version's ``sample`` artifact (at most 1 MiB of JSON; fewer
        rows when wider), on which :func:`jupyter_modelops.export` checks parity when no sample
        is passed. 0 keeps only the 5-row preview in the metadata.

    Returns
    -------
    ModelVersion

    Examples
    --------
    >>> mv = snapshot(model, "churn", report=report, data=X_train, alias="staging")  # doctest: +SKIP
    >>> mv.ref  # doctest: +SKIP
    'churn:1'
    """
    check_name(name)
    if alias is not None:
        check_alias(alias)
    if isinstance(sample_rows, bool) or not isinstance(sample_rows, int) or sample_rows < 0:
        raise ValidationError(f"sample_rows must be a whole number >= 0; got {sample_rows!r}.")
    if notes is not None and not isinstance(notes, str):
        raise ValidationError(f"The argument 'notes' must be a string; got {type(notes).__name__}.")
    if params is not None and not isinstance(params, Mapping):
        raise ValidationError(f"The argument 'params' must be a dict; got {type(params).__name__}.")
    if model is None:
        raise ValidationError("The argument 'model' is None; pass the fitted model object to snapshot.")
    fl = _choose_flavor(model, flavor, trusted)
    meta: dict[str, Any] = {
        "params": _check_json(dict(params or {}), "params"),
        "tags": _norm_tags(tags),
        "notes": notes,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
    }
    if report is not None:
        meta["metrics"], meta["report"] = sig.report_metrics(report)
    sample = None
    if data is not None:
        if isinstance(data, (str, bytes, int, float, bool)):
            raise ValidationError(
                f"The argument 'data' must be a DataFrame, array or tensor of rows; got {type(data).__name__}."
            )
        try:
            sample = sig.take_rows(data)
            meta["sample_input"] = sig.sample_input(data)
            meta["data"] = sig.fingerprint(data)
        except Exception as exc:
            raise ValidationError(
                f"The argument 'data' must be a DataFrame, array or tensor; got {type(data).__name__} ({exc})."
            ) from exc
    meta["signature"] = _signature(fl, model, data)
    meta["frameworks"] = fl.frameworks()
    meta["environment"] = sig.environment(model=model)
    meta["git"] = sig.git_info()
    meta["notebook"] = sig.notebook_path()
    meta["trusted"] = bool(trusted) or not fl.safe
    meta["origin"] = {"kind": "snapshot"}
    parent = _lineage(model)
    store = default_store()
    profile = sig.drift_profile(data, model) if data is not None else None
    with store.staging() as stage:
        try:
            saved = fl.save(model, stage, sample=sample)
        except ModelOpsError:
            raise
        except Exception as exc:
            raise ModelOpsError(
                f"The {fl.name} flavor could not store the {type(model).__name__}: {exc}.",
                hint="Pick another flavor with flavor=..., or trusted=True for pickle.",
            ) from exc
        staged = {}
        for role, info in saved.items():
            if "chunks" in info:  # bytes in memory, already hashed: written only when new
                sf = store.stage_chunks(stage / info["file"], info.pop("chunks"), info["sha256"], info["size"])
            else:
                sf = store.stage(stage / info["file"], sha256=info.get("sha256"), size=info.get("size"))
            staged[role] = (sf, info)
        meta["flavor_roles"] = list(saved)
        if profile is not None:
            staged[PROFILE_ROLE] = (
                store.stage_bytes(stage, "drift-profile.json", json.dumps(profile).encode()),
                {"file": "drift-profile.json", "format": "json", "metadata": {"kind": "modelops-profile"}},
            )
            meta["data"]["profile"] = PROFILE_ROLE
        stored = sig.bounded_sample(data, sample_rows, SAMPLE_MAX_BYTES) if data is not None and sample_rows else None
        if stored is not None:
            staged[SAMPLE_ROLE] = (
                store.stage_bytes(stage, "sample.json", json.dumps(stored).encode()),
                {
                    "file": "sample.json",
                    "format": "json",
                    "metadata": {"kind": "modelops-sample", "rows": stored["rows"]},
                },
            )
            meta["data"]["sample_rows"] = stored["rows"]
        return _commit(store, name, fl.name, meta, staged, alias=alias, parent=parent)


def _summary(meta: dict, size: int) -> dict:
    return {
        "metrics": {k: m["value"] for k, m in (meta.get("metrics") or {}).items()},
        "tags": meta.get("tags") or {},
        "notes": (meta.get("notes") or "")[:200],
        "size": size,
    }


def _commit(
    store: Store,
    name: str,
    flavor: str,
    meta: dict,
    staged: dict[str, tuple[StagedFile, dict]],
    *,
    alias: str | None = None,
    parent: str | None = None,
    created: float | None = None,
) -> ModelVersion:
    from .signature import user

    who = user()
    size = sum(s.size for s, _ in staged.values())
    with store.write() as con:
        row = con.execute("SELECT last_version FROM models WHERE name = ?", (name,)).fetchone()
        if row is None:
            con.execute("INSERT INTO models (name, created, last_version) VALUES (?, ?, 0)", (name, now()))
            last = 0
        else:
            last = row[0]
        version = last + 1
        if parent is None and last:
            prev = con.execute(
                "SELECT version FROM versions WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
            ).fetchone()
            parent = f"{name}:{prev[0]}" if prev else None
        for s, _ in staged.values():
            store.place(s)
        ts = now()
        cur = con.execute(
            "INSERT INTO versions (name, version, created, user, flavor, parent, summary) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, version, created or ts, who, flavor, parent, dumps(_summary(meta, size))),
        )
        vid = cur.lastrowid
        con.execute("INSERT INTO version_meta (version_id, meta) VALUES (?, ?)", (vid, dumps(meta)))
        for role, (s, info) in staged.items():
            con.execute(
                "INSERT INTO artifacts (version_id, role, sha256, size, format, filename, meta, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (vid, role, s.sha256, s.size, info["format"], info["file"], dumps(info.get("metadata", {})), ts),
            )
        con.execute("UPDATE models SET last_version = ? WHERE name = ?", (version, name))
        if alias is not None:
            _set_alias(con, name, alias, version, who)
    assert vid is not None
    return _version(store, vid)


def _set_alias(con: Any, name: str, alias: str, version: int | None, who: str) -> int | None:
    prev = con.execute("SELECT version FROM aliases WHERE name = ? AND alias = ?", (name, alias)).fetchone()
    previous = prev[0] if prev else None
    if version is None:
        con.execute("DELETE FROM aliases WHERE name = ? AND alias = ?", (name, alias))
    else:
        con.execute(
            "INSERT INTO aliases (name, alias, version, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated = excluded.updated",
            (name, alias, version, now()),
        )
    con.execute(
        "INSERT INTO alias_history (name, alias, version, previous, at, user) VALUES (?, ?, ?, ?, ?, ?)",
        (name, alias, version, previous, now(), who),
    )
    return previous


# -- load and files -----------------------------------------------------------
def _files(store: Store, mv: ModelVersion, roles: Iterable[str]) -> dict[str, Path]:
    return {
        role: store.verify_blob(mv.artifacts[role]["sha256"], what=f"{mv.ref} ({role})")
        for role in roles
        if role in mv.artifacts
    }


#: artifact formats whose loading runs code stored in the file
CODE_FORMATS = ("joblib", "pickle")


def _skops_roles(mv: ModelVersion) -> list[str]:
    return [role for role, a in mv.artifacts.items() if str(a.get("format", "")).lower() == "skops"]


def _trusted_types(store: Store, mv: ModelVersion, *, trusted: bool) -> dict[str, list[str]]:
    """``role -> skops types beyond skops' defaults`` that may be loaded, decided by this registry only.

    ``trusted=True`` (the caller trusts the version now): every type its files
    ask for. A version trusted with :func:`trust`: the types recorded then. A
    version snapshotted here: the types recorded when this registry wrote the
    file. A version from outside: none (skops' defaults only); lists that came
    in a bundle are never read.
    """
    from .flavors import skops_untrusted

    roles = _skops_roles(mv)
    if trusted:
        return {role: skops_untrusted(_files(store, mv, [role])[role]) for role in roles}
    row = store.con.execute(
        "SELECT t.types FROM trust t JOIN versions v ON v.id = t.version_id WHERE v.name = ? AND v.version = ?",
        (mv.name, mv.version),
    ).fetchone()
    if row is not None:
        recorded = json.loads(row[0])
        return {role: list(recorded.get(role, [])) for role in roles}
    if mv.trusted:
        return {role: list(mv.artifacts[role].get("metadata", {}).get("trusted_types", [])) for role in roles}
    return {role: [] for role in roles}


def _refuse_untrusted_code(mv: ModelVersion, roles: Iterable[str]) -> None:
    fl = flavors.get(mv.flavor)
    risky = [
        (r, mv.artifacts[r]["format"])
        for r in roles
        if r in mv.artifacts and str(mv.artifacts[r]["format"]).lower() in CODE_FORMATS
    ]
    if not fl.safe or risky:
        fmt = risky[0][1] if risky else mv.flavor
        raise ValidationError(
            f"{mv.ref} came from outside this registry ({mv.origin}) and is stored as {fmt}, which runs code "
            "from the file when loaded, so it was not loaded.",
            hint=f"If you trust where it came from, run trust('{mv.ref}') (or pass trusted=True) and load it again.",
        )


def load(ref: str | ModelVersion, *, trusted: bool = False, format: str | None = None) -> Any:
    """Load the model of a version, after checking every file's sha256 and the version's trust.

    Versions snapshotted in this registry load as they are. A version that came
    from outside (a bundle, a pull) is not trusted until :func:`trust` is run
    on it: until then a pickle or joblib file is refused, and a skops file
    loads only if it holds nothing but the types skops trusts by default.

    Parameters
    ----------
    ref : str or ModelVersion
    trusted : bool, default=False
        Trust the version for this call only (nothing is recorded; see :func:`trust`).
    format : str, optional
        ``"torchscript"`` loads the TorchScript file of a torch version.

    Returns
    -------
    object
        The model (an ``onnx.ModelProto`` for ONNX versions).

    Raises
    ------
    ValidationError
        When the version is not trusted and loading it would run code from its files.
    """
    store = default_store()
    mv = get(ref)  # the registry's own record, whatever object was passed
    fl = flavors.get(mv.flavor)
    roles = mv.meta.get("flavor_roles") or ["model"]
    if not (trusted or mv.trusted):
        _refuse_untrusted_code(mv, roles)
    files = _files(store, mv, roles)
    artifacts = {role: dict(a) for role, a in mv.artifacts.items()}
    for role, types in _trusted_types(store, mv, trusted=trusted).items():
        artifacts[role]["metadata"] = {**artifacts[role].get("metadata", {}), "trusted_types": types}
        if role in files:
            from .flavors import skops_untrusted

            unknown = sorted(set(skops_untrusted(files[role])) - set(types))
            if unknown:
                how = "came from outside this registry" if not mv.trusted else "was trusted for other types"
                raise ValidationError(
                    f"{mv.ref} {how} ({mv.origin}) and its skops file asks for types skops does not trust by "
                    f"default ({', '.join(unknown)}), so it was not loaded.",
                    hint=f"If you trust where it came from, run trust('{mv.ref}') (or pass trusted=True) and load "
                    "it again.",
                )
    try:
        model = fl.load(files, artifacts, prefer=format)
    except ModelOpsError:
        raise
    except Exception as exc:
        needed = ", ".join(f"{k} {v}" for k, v in mv.meta.get("frameworks", {}).items())
        saved_with = f"It was saved with {needed}; check" if needed else "Check"
        raise ModelOpsError(
            f"{mv.ref} could not be loaded ({type(exc).__name__}: {exc}).",
            hint=f"{saved_with} that the same packages and the model's own classes are importable here.",
        ) from exc
    _remember_loaded(model, mv.ref)
    return model


def trust(ref: str | ModelVersion, *, by: str | None = None) -> ModelVersion:
    """Record that you trust a version, so that its files may be deserialized everywhere.

    Versions snapshotted in this registry are trusted from the start. A version
    imported from a bundle or pulled from an OCI registry is not: ``load``
    refuses its pickle or joblib file, skops loads only the types it trusts by
    default, and a model directory written by :func:`materialize` (what the
    model server, images and deployments run) says it is untrusted, so the
    server refuses it. ``trust`` records who trusted the version, when, and the
    exact skops types its files ask for now, in this registry.

    Parameters
    ----------
    ref : str or ModelVersion
    by : str, optional
        Who trusts it (default: the current user).

    Returns
    -------
    ModelVersion
        With ``trusted`` set (``.by``, ``.at``).

    Examples
    --------
    >>> mv = trust("churn:4")  # doctest: +SKIP
    >>> bool(mv.trusted), mv.trusted.by  # doctest: +SKIP
    (True, 'alice')
    """
    from .signature import user

    who = user() if by is None else by
    if not isinstance(who, str) or not who.strip() or len(who) > 200 or any(ord(c) < 32 for c in who):
        raise ValidationError(f"The argument 'by' must be a name of 1 to 200 printable characters; got {who!r}.")
    store = default_store()
    row_id, _, _ = _resolve(store, ref)
    mv = _version(store, row_id)
    types = _trusted_types(store, mv, trusted=True)
    with store.write() as con:
        if con.execute("SELECT 1 FROM versions WHERE id = ?", (row_id,)).fetchone() is None:
            raise ModelNotFoundError(f"{mv.ref} was deleted while it was being trusted.")
        con.execute(
            "INSERT INTO trust (version_id, by, at, types) VALUES (?, ?, ?, ?) ON CONFLICT (version_id) "
            "DO UPDATE SET by = excluded.by, at = excluded.at, types = excluded.types",
            (row_id, who, now(), dumps(types)),
        )
    add_record(mv, "trust", {"by": who, "types": types})
    return _version(store, row_id)


def artifact_path(ref: str | ModelVersion, role: str) -> Path:
    """A readable path to a version's artifact, after checking its sha256.

    The file is the registry's own read-only copy: do not modify it.
    """
    check_role(role)
    store = default_store()
    mv = ref if isinstance(ref, ModelVersion) else get(ref)
    if role not in mv.artifacts:
        raise ModelNotFoundError(
            f"{mv.ref} has no artifact '{role}'.{suggest(role, mv.artifacts)} It has: {', '.join(mv.artifacts)}."
        )
    return store.verify_blob(mv.artifacts[role]["sha256"], what=f"{mv.ref} ({role})")


def attach_artifact(
    ref: str | ModelVersion, role: str, path_or_bytes: str | Path | bytes, *, metadata: Mapping[str, Any] | None = None
) -> ModelVersion:
    """Store a file (content-addressed) under a role of an existing version.

    Parameters
    ----------
    ref : str or ModelVersion
    role : str
        Such as ``"onnx"``, ``"torchscript"`` or ``"onnx-int8"``. The role
        ``"model"`` is the version's own model and cannot be replaced.
    path_or_bytes : str, Path or bytes
    metadata : dict, optional
        Kept with the artifact; ``metadata["format"]`` sets its format
        (otherwise guessed from the file suffix), ``metadata["filename"]`` its
        file name in a model directory.

    Returns
    -------
    ModelVersion
        The version, with the artifact.
    """
    check_role(role)
    if role == "model":
        raise ConflictError(
            "The role 'model' holds the version's own model and cannot be replaced.",
            hint="Snapshot a new version instead, or attach under another role.",
        )
    meta = dict(_check_json(dict(metadata or {}), "metadata"))
    store = default_store()
    row_id, name, version = _resolve(store, ref)
    with store.staging() as stage:
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            filename = meta.pop("filename", None) or f"{role}.bin"
            staged = store.stage_bytes(stage, "blob", bytes(path_or_bytes))
        elif isinstance(path_or_bytes, (str, Path)):
            src = Path(path_or_bytes)
            if not src.is_file():
                raise ValidationError(
                    f"The artifact file '{src}' does not exist or is not a file.",
                    hint="Pass the path of one file, or its bytes.",
                )
            filename = meta.pop("filename", None) or src.name
            shutil.copyfile(src, stage / "blob")
            staged = store.stage(stage / "blob")
        else:
            raise ValidationError(
                f"The argument 'path_or_bytes' must be a path or bytes; got {type(path_or_bytes).__name__}."
            )
        filename = check_filename(Path(str(filename)).name or f"{role}.bin")
        fmt = meta.pop("format", None) or _SUFFIX_FORMATS.get(Path(filename).suffix.lower(), "file")
        with store.write() as con:
            if con.execute("SELECT 1 FROM versions WHERE id = ?", (row_id,)).fetchone() is None:
                raise ModelNotFoundError(f"{name}:{version} was deleted while the artifact was being stored.")
            store.place(staged)
            con.execute(
                "INSERT INTO artifacts (version_id, role, sha256, size, format, filename, meta, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (version_id, role) DO UPDATE SET "
                "sha256 = excluded.sha256, size = excluded.size, format = excluded.format, "
                "filename = excluded.filename, meta = excluded.meta, created = excluded.created",
                (row_id, role, staged.sha256, staged.size, fmt, filename, dumps(meta), now()),
            )
    return _version(store, row_id)


def _inside(directory: Path, name: str) -> Path:
    """``directory / name`` after checking that it is a plain name and stays inside ``directory``."""
    check_filename(name)
    target = directory / name
    if target.resolve().parent != directory.resolve():
        raise ValidationError(
            f"The file name {name!r} would be written outside '{directory}', so nothing was written there.",
            hint="Materialize into a folder that holds no links.",
        )
    return target


def materialize(ref: str | ModelVersion, directory: str | Path, *, trusted: bool = False) -> Path:
    """Write a version as a model directory: ``modelops-model.json`` plus its files.

    ``modelops-model.json`` holds ``{"schema": 1, "name", "version", "flavor",
    "signature": {"inputs", "outputs", "feature_names"}, "artifacts": {role:
    {"path", "sha256", "format", ...}}, "trust": {...}}``; every file is checked
    against its sha256 first. The model server and the image builder read this
    folder. ``trust`` is this registry's decision, written now: ``{"trusted",
    "by", "at", "how", "trusted_types": {role: [skops types]}}``. The server
    refuses a pickle or joblib file unless ``trusted`` is true, and loads a
    skops file only with the listed types (see :func:`trust`).

    Parameters
    ----------
    ref : str or ModelVersion
    directory : str or Path
        Created if needed; every file name is checked to stay inside it.
    trusted : bool, default=False
        Mark the directory trusted for a version that came from outside
        without recording anything in the registry (see :func:`trust`).

    Returns
    -------
    pathlib.Path
        The directory.
    """
    from .signature import user

    store = default_store()
    mv = get(ref)
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise ValidationError(f"The argument 'directory' must be a folder; '{out}' is a file.")
    names = {role: a["filename"] for role, a in mv.artifacts.items()}
    for fname in names.values():
        check_filename(fname)
    out.mkdir(parents=True, exist_ok=True)
    used: set[str] = {MODEL_DIR_FILE}
    artifacts = {}
    for role, a in mv.artifacts.items():
        src = store.verify_blob(a["sha256"], what=f"{mv.ref} ({role})")
        fname = names[role]
        if fname in used:
            fname = f"{role}-{fname}"
        used.add(fname)
        target = _inside(out, fname)
        tmp = _inside(out, f"{fname}.tmp").with_name(f".{fname}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(target)
        artifacts[role] = {
            "path": fname,
            "sha256": a["sha256"],
            "format": a["format"],
            "size": a["size"],
            "metadata": a["metadata"],
        }
    decision = mv.trusted
    if trusted and not decision:
        decision = Trust(True, by=user(), at=now(), how="call")
    code = [a["format"] for role, a in mv.artifacts.items() if str(a["format"]).lower() in CODE_FORMATS]
    if not decision and (code or not flavors.get(mv.flavor).safe):
        import warnings

        from ..exceptions import ModelOpsWarning

        warnings.warn(
            ModelOpsWarning(
                f"{mv.ref} came from outside this registry and is not trusted, so a model server will refuse its "
                f"{(code or [mv.flavor])[0]} file; run trust('{mv.ref}') first if you trust where it came from."
            ),
            stacklevel=2,
        )
    s = mv.signature
    doc = {
        "schema": MODEL_DIR_SCHEMA,
        "name": mv.name,
        "version": mv.version,
        "ref": mv.ref,
        "flavor": mv.flavor,
        "signature": {
            "inputs": s.get("inputs", []),
            "outputs": s.get("outputs", []),
            "feature_names": s.get("feature_names", []),
            "columns": s.get("columns", []),
        },
        "artifacts": artifacts,
        "flavor_roles": mv.meta.get("flavor_roles", ["model"]),
        "sample_input": mv.sample_input,
        "metrics": mv.metrics,
        "created": iso(mv.created),
        "trust": {**decision.to_dict(), "trusted_types": _trusted_types(store, mv, trusted=trusted)},
    }
    tmp = out / f".{MODEL_DIR_FILE}.tmp"
    tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    tmp.replace(out / MODEL_DIR_FILE)
    return out


def load_model_dir(directory: str | Path, *, prefer: str | None = None) -> Any:
    """Load the model of a model directory written by :func:`materialize` (checks hashes and its trust).

    A pickle or joblib file loads only when the directory says it is trusted;
    a skops file only with the types its ``trust`` section lists.
    """
    from .store import hash_file

    d = Path(directory)
    try:
        doc = json.loads((d / MODEL_DIR_FILE).read_text(encoding="utf-8"))
        trust_doc = doc.get("trust") or {}
        allowed = trust_doc.get("trusted_types") or {}
        roles, arts = doc.get("flavor_roles", ["model"]), doc["artifacts"]
        trusted = trust_doc.get("trusted") is True
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValidationError(f"'{d}' is not a model directory: {MODEL_DIR_FILE} could not be read ({exc}).") from exc
    files = {}
    artifacts = {}
    for role in roles:
        a = arts.get(role)
        if a is None:
            continue
        if str(a.get("format", "")).lower() in CODE_FORMATS and not trusted:
            raise ValidationError(
                f"The model directory '{d}' holds a {a.get('format')} file, which runs code when "
                "loaded, and is not marked trusted, so it was not loaded.",
                hint="Trust the version with trust(ref) and materialize it again.",
            )
        p = _inside(d, a["path"])
        if hash_file(p)[0] != a["sha256"]:
            raise ModelOpsError(f"The file {a['path']} in {d} does not match its recorded sha256; it was not loaded.")
        files[role] = p
        artifacts[role] = {**a, "metadata": {**(a.get("metadata") or {}), "trusted_types": list(allowed.get(role, []))}}
    fl = flavors.get(doc["flavor"])
    if not fl.safe and not trusted:
        raise ValidationError(
            f"The model directory '{d}' holds a {fl.name} model, which runs code when loaded, "
            "and is not marked trusted, so it was not loaded.",
            hint="Trust the version with trust(ref) and materialize it again.",
        )
    return fl.load(files, {**arts, **artifacts}, prefer=prefer)


# -- aliases, delete, gc, diff ----------------------------------------------
def alias(ref: str | ModelVersion, name: str, *, remove: bool = False) -> ModelVersion:
    """Point the alias ``name`` (e.g. ``"production"``) at a version; the move is kept in the history.

    Parameters
    ----------
    ref : str or ModelVersion
        The version the alias should point at (with ``remove=True``, any
        reference of the model).
    name : str
        The alias.
    remove : bool, default=False
        Remove the alias instead.
    """
    check_alias(name, arg="name")
    from .signature import user

    store = default_store()
    row_id, model, version = _resolve(store, ref)
    if remove:
        with store.write() as con:
            if con.execute("SELECT 1 FROM aliases WHERE name = ? AND alias = ?", (model, name)).fetchone() is None:
                _not_found(store, Ref(model, alias=name))
            _set_alias(con, model, name, None, user())
    else:
        with store.write() as con:
            _set_alias(con, model, name, version, user())
    return _version(store, row_id)


def delete(ref: str | ModelVersion, *, force: bool = False) -> dict:
    """Delete one version with its records (its files go when no other version shares them).

    Refuses a version an alias points at unless ``force=True`` (which removes
    the aliases too). A bare model name is refused: name the version
    (``churn:3``) so that nothing is deleted by accident. Version numbers are
    never reused. The version's history entries (:func:`records`) are deleted
    with it; the alias history keeps the moves, including the removal.

    Returns
    -------
    dict
        ``{"deleted": "name:N", "aliases_removed": [...], "records_removed": int, "freed_bytes": int}``.
    """
    r = parse_ref(ref)
    if r.version is None and r.alias is None:
        raise ValidationError(
            f"delete() needs a version, not only the model name '{r.name}'.",
            hint=f"Write '{r.name}:N' or '{r.name}@alias'.",
        )
    from .signature import user

    store = default_store()
    row_id, name, version = _resolve(store, ref)
    with store.write() as con:
        aliases = [
            a for (a,) in con.execute("SELECT alias FROM aliases WHERE name = ? AND version = ?", (name, version))
        ]
        if aliases and not force:
            raise ConflictError(
                f"{name}:{version} is what {', '.join('@' + a for a in aliases)} points at, so it was not deleted.",
                hint="Move the alias first, or pass force=True to delete it and its aliases.",
            )
        for a in aliases:
            _set_alias(con, name, a, None, user())
        shas = {s for (s,) in con.execute("SELECT sha256 FROM artifacts WHERE version_id = ?", (row_id,))}
        con.execute("DELETE FROM artifacts WHERE version_id = ?", (row_id,))
        con.execute("DELETE FROM version_meta WHERE version_id = ?", (row_id,))
        con.execute("DELETE FROM versions WHERE id = ?", (row_id,))
        dropped = con.execute("DELETE FROM records WHERE name = ? AND version = ?", (name, version)).rowcount
        freed = store.drop_unreferenced(con, shas)
    return {
        "deleted": f"{name}:{version}",
        "aliases_removed": aliases,
        "records_removed": dropped,
        "freed_bytes": freed,
    }


def gc(*, captures_older_than: str | None = None) -> GcReport:
    """Remove what crashed writers left behind and blobs no version references.

    Parameters
    ----------
    captures_older_than : str, optional
        Also remove inference-capture partitions (``MODELOPS_HOME/captures``) whose
        hour ended longer ago than this, e.g. ``"30d"``; a partition still being
        written is kept (see :func:`jupyter_modelops.capture.gc_captures`).
    """
    if captures_older_than is not None:
        from ..capture.read import parse_duration

        parse_duration(captures_older_than, arg="captures_older_than")  # checked before anything is removed
    report = GcReport(**default_store().gc())
    if captures_older_than is not None:
        from ..capture.retention import gc_captures

        report.captures = gc_captures(captures_older_than)
    return report


def diff(a: str | ModelVersion, b: str | ModelVersion) -> VersionDiff:
    """Compare two versions: metrics with intervals, params, signature, environment, files."""
    va = a if isinstance(a, ModelVersion) else get(a)
    vb = b if isinstance(b, ModelVersion) else get(b)
    return VersionDiff(va, vb)


# -- records ------------------------------------------------------------------
def add_record(ref: str | ModelVersion, kind: str, data: Mapping[str, Any]) -> dict:
    """Append an entry to a version's history (``"export"``, ``"image"``, ``"deployment"``, ``"report"``...).

    A bare model name records on its latest version. Returns the stored record:
    ``{"id", "name", "version", "ref", "kind", "created", "data"}``.
    """
    check_role(kind, arg="kind", what="record kind")
    if not isinstance(data, Mapping):
        raise ValidationError(f"The argument 'data' must be a dict; got {type(data).__name__}.")
    payload = _check_json(dict(data), "data")
    store = default_store()
    _, name, version = _resolve(store, ref)
    ts = now()
    with store.write() as con:
        cur = con.execute(
            "INSERT INTO records (name, version, kind, created, data) VALUES (?, ?, ?, ?, ?)",
            (name, version, kind, ts, dumps(payload)),
        )
    return {
        "id": cur.lastrowid,
        "name": name,
        "version": version,
        "ref": f"{name}:{version}",
        "kind": kind,
        "created": iso(ts),
        "data": payload,
    }


def records(ref: str | ModelVersion | None = None, kind: str | None = None) -> list[dict]:
    """History entries, oldest first.

    ``ref=None`` gives every model's; a bare name gives all versions of that
    model; ``name:N`` or ``name@alias`` gives that version's. ``kind`` filters.
    """
    where: list[str] = []
    params: list[Any] = []
    if kind is not None:
        check_role(kind, arg="kind", what="record kind")
        where.append("kind = ?")
        params.append(kind)
    store = default_store()
    if ref is not None:
        r = parse_ref(ref)
        if r.version is None and r.alias is None and not isinstance(ref, ModelVersion):
            where.append("name = ?")
            params.append(r.name)
        else:
            _, name, version = _resolve(store, ref)
            where += ["name = ?", "version = ?"]
            params += [name, version]
    sql = "SELECT id, name, version, kind, created, data FROM records"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [
        {"id": i, "name": n, "version": v, "ref": f"{n}:{v}", "kind": k, "created": iso(c), "data": json.loads(d)}
        for i, n, v, k, c, d in store.con.execute(sql + " ORDER BY id", params)
    ]


def params_from_text(pairs: Iterable[tuple[str, str]] | None) -> dict[str, Any]:
    """``[("C", "0.1"), ("penalty", "l2")]`` -> ``{"C": 0.1, "penalty": "l2"}`` (JSON values when they parse)."""
    out: dict[str, Any] = {}
    for key, text in pairs or []:
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    return out


def read_model_file(path: str | Path, *, trusted: bool = False, trust_flag: str = "--trusted") -> Any:
    """Read a model file from outside (the command line's ``--model``, ``snapshot FILE``): one rule for all.

    ``.onnx`` is passed on as a path (ONNX flavor; ``evaluation.load_model`` wraps it in an
    onnxruntime session); ``.skops`` is loaded with skops and must hold only types skops trusts by
    default, as a bundle from elsewhere must (a fitted tree ensemble's ``Tree`` or ``TreePredictor``
    is not among them), unless ``trusted=True``; ``.joblib``, ``.pkl`` and ``.pickle`` run code when
    read, so they need ``trusted=True``; ``.pt``/``.ts`` are TorchScript files. ``trust_flag`` is
    the command-line spelling named in the refusal (``--trusted`` or ``--trust``).
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"The model file '{p}' does not exist.", hint="Check the path.")
    suffix = p.suffix.lower()
    say = f"Pass {trust_flag} (trusted=True) only if you trust where the file came from"
    if suffix == ".onnx":
        return str(p)
    if suffix == ".skops":
        from ._skops import load_skops

        try:  # the same check as a registry version's: skops' default types, or all when trusted
            return load_skops(p, trusted or None, what=f"The skops file '{p}'", hint=say + ".")
        except ModelOpsError:
            raise
        except Exception as exc:
            raise ValidationError(
                f"Could not load the skops model '{p}': {exc}.", hint="Save it with skops.io.dump."
            ) from exc
    if suffix in (".joblib", ".pkl", ".pickle"):
        if not trusted:
            raise ValidationError(
                f"Reading '{p}' runs code stored in the file ({suffix[1:]} pickle).",
                hint=say + ", or save the model with skops.",
            )
        from .._optional import require

        try:
            if suffix == ".joblib":
                return require("joblib", extra="sklearn").load(p)
            import pickle

            with open(p, "rb") as f:
                return pickle.load(f)  # noqa: S301 - the user said the file is trusted
        except ModelOpsError:
            raise
        except Exception as exc:
            raise ValidationError(f"Could not load the model file '{p}': {exc}.") from exc
    if suffix in (".pt", ".ts"):
        from .._optional import require
        from .flavors import _jit_load

        torch = require("torch", purpose="read TorchScript files")
        try:  # the registry's TorchScript reader (a restricted archive: no Python pickle)
            return _jit_load(torch, p)
        except Exception as exc:
            raise ValidationError(
                f"'{p}' is not a TorchScript file ({exc}).",
                hint="Save the module with torch.jit.save, or snapshot it from Python.",
            ) from exc
    raise ValidationError(
        f"The model file '{p}' has the suffix '{suffix}', which is not a known model format.",
        hint="Use .onnx, .skops, .joblib, .pkl or a TorchScript .pt file.",
    )


def snapshot_file(
    path: str | Path,
    name: str,
    *,
    data: str | None = None,
    report: str | None = None,
    trusted: bool = False,
    **options: Any,
) -> ModelVersion:
    """:func:`snapshot` of a model file, with data and report read from files (for the CLI).

    ``data`` is a CSV or Parquet file; ``report`` a JSON file such as
    ``EvaluationReport.to_json()`` writes.
    """
    model = read_model_file(path, trusted=trusted)
    frame = None
    if data is not None:
        from ..io import read_table

        frame = read_table(data)
    rep = None
    if report is not None:
        try:
            rep = json.loads(Path(report).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValidationError(f"The report file '{report}' does not exist.") from None
        except ValueError as exc:
            raise ValidationError(f"The report file '{report}' is not JSON: {exc}.") from exc
    return snapshot(model, name, data=frame, report=rep, trusted=trusted, **options)
