"""Result objects of the registry: a version, listings, a diff, a gc report."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from .._html import Result, esc, fmt, page, table


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).isoformat(timespec="seconds")


def _metric_cell(m: dict | None) -> str:
    if not m:
        return "–"
    text = fmt(m.get("value"))
    if m.get("low") is not None and m.get("high") is not None:
        text += f" [{fmt(m['low'])}, {fmt(m['high'])}]"
    return text


def _size(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)  # pragma: no cover


#: origins of versions this registry wrote itself from objects in memory (trusted from the start)
LOCAL_ORIGINS = ("snapshot", "checkpoint")


class Trust:
    """Whether the registry lets a version's files be deserialized, and who decided when.

    ``bool(trust)`` is the decision. ``how`` is ``"snapshot"`` (written by this
    registry from an object in memory: ``by``/``at`` are the snapshot's),
    ``"user"`` (trusted with :func:`jupyter_modelops.trust`), or ``None`` for a
    version that came from outside (bundle, pull) and was not trusted.
    """

    __slots__ = ("trusted", "by", "at", "how")

    def __init__(
        self, trusted: bool, *, by: str | None = None, at: float | None = None, how: str | None = None
    ) -> None:
        self.trusted = bool(trusted)
        self.by = by
        self.at = at
        self.how = how

    def __bool__(self) -> bool:
        return self.trusted

    def __eq__(self, other: object) -> bool:
        if isinstance(other, bool):
            return self.trusted is other
        return isinstance(other, Trust) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict:
        return {"trusted": self.trusted, "by": self.by, "at": iso(self.at), "how": self.how}

    def __repr__(self) -> str:
        if not self.trusted:
            return "Trust(untrusted)"
        return f"Trust({self.how} by {self.by} at {iso(self.at)})"


class ModelVersion(Result):
    """One immutable version of a model in the registry.

    Attributes
    ----------
    name : str
    version : int
    ref : str
        ``"name:version"``, usable wherever a reference is expected.
    flavor : str
        How the model is stored (``sklearn``, ``joblib``, ``torch``, ``onnx``, ``pickle``...).
    signature : dict
        ``{"inputs": [{"name", "datatype", "shape"}], "outputs": [...], "feature_names": [...]}``.
    metrics : dict
        ``{metric: {"value", "low", "high"}}`` from the attached evaluation report.
    artifacts : dict
        ``{role: {"sha256", "size", "format", "filename", "metadata"}}``.
    aliases : list of str
        Aliases pointing at this version now.
    trusted : Trust
        Whether its files may be deserialized (by ``load``, the model server,
        images): versions snapshotted here are trusted; versions that came
        from a bundle or a pull are not until :func:`jupyter_modelops.trust`.
        ``bool(mv.trusted)`` is the decision; ``.by`` and ``.at`` say who and when.
    """

    def __init__(
        self,
        *,
        name: str,
        version: int,
        created: float,
        user: str | None,
        flavor: str,
        parent: str | None,
        meta: dict,
        artifacts: dict,
        aliases: list[str],
        trust: Trust | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.created = created
        self.user = user
        self.flavor = flavor
        self.parent = parent
        self.meta = meta
        self.artifacts = artifacts
        self.aliases = aliases
        self._trust = trust

    # -- convenient views of the metadata -------------------------------------
    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def origin(self) -> str:
        """``"snapshot"``/``"checkpoint"``: written here; ``"bundle"``: imported (bundle or pull)."""
        return str((self.meta.get("origin") or {}).get("kind") or "snapshot")

    @property
    def trusted(self) -> Trust:
        if self._trust is not None:
            return self._trust
        if self.origin in LOCAL_ORIGINS:
            return Trust(True, by=self.user, at=self.created, how="snapshot")
        return Trust(False)

    @property
    def signature(self) -> dict:
        return self.meta.get("signature") or {}

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics") or {}

    @property
    def params(self) -> dict:
        return self.meta.get("params") or {}

    @property
    def tags(self) -> dict:
        return self.meta.get("tags") or {}

    @property
    def notes(self) -> str | None:
        return self.meta.get("notes")

    @property
    def environment(self) -> dict:
        return self.meta.get("environment") or {}

    @property
    def data(self) -> dict | None:
        return self.meta.get("data")

    @property
    def sample_input(self) -> dict | None:
        return self.meta.get("sample_input")

    @property
    def size(self) -> int:
        return sum(a["size"] for a in self.artifacts.values())

    # -- actions ----------------------------------------------------------------
    def load(self, **kwargs: Any) -> Any:
        """Load this version's model (see :func:`jupyter_modelops.load`)."""
        from .api import load

        return load(self, **kwargs)

    def materialize(self, directory: str | Path, *, trusted: bool = False) -> Path:
        """Write this version as a model directory (see :func:`jupyter_modelops.materialize`)."""
        from .api import materialize

        return materialize(self, directory, trusted=trusted)

    def profile(self) -> Any:
        """The drift reference profile of the data given at snapshot, or None.

        Pass it to :func:`jupyter_modelops.drift_detection.drift` as the reference.
        """
        if not self.data or not self.data.get("profile"):
            return None
        from ..drift_detection import Profile

        return Profile.from_dict(json.loads(self.artifact_path(self.data["profile"]).read_text(encoding="utf-8")))

    def artifact_path(self, role: str) -> Path:
        from .api import artifact_path

        return artifact_path(self, role)

    # -- Result -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "flavor": self.flavor,
            "created": iso(self.created),
            "user": self.user,
            "parent": self.parent,
            "aliases": self.aliases,
            "artifacts": self.artifacts,
            **{k: v for k, v in self.meta.items() if k not in ("flavor_roles",)},
            "trusted": self.trusted.to_dict(),
        }

    def _summary(self) -> str:
        extra = f" @{','.join(self.aliases)}" if self.aliases else ""
        return f"ModelVersion {self.ref}{extra} ({self.flavor}, {_size(self.size)})"

    def to_text(self) -> str:
        lines = [self._summary(), f"  created {iso(self.created)} by {self.user}"]
        for k, m in self.metrics.items():
            lines.append(f"  {k}: {_metric_cell(m)}")
        return "\n".join(lines)

    def to_html(self) -> str:
        sig = self.signature
        parts = []
        t = self.trusted
        info = [
            ("ref", self.ref),
            ("flavor", self.flavor),
            ("created", iso(self.created)),
            ("user", self.user),
            (
                "trusted",
                f"yes ({t.how} by {t.by}, {iso(t.at)})" if t else "no: came from outside; trust(ref) to load it",
            ),
            ("aliases", ", ".join(self.aliases) or "–"),
            ("parent", self.parent or "–"),
            ("size", _size(self.size)),
        ]
        if self.tags:
            info.append(("tags", ", ".join(f"{k}={v}" if v else k for k, v in self.tags.items())))
        if self.notes:
            info.append(("notes", self.notes))
        git = self.meta.get("git")
        if git:
            info.append(("git", f"{git['commit'][:12]}{' (dirty)' if git.get('dirty') else ''}"))
        if self.meta.get("notebook"):
            info.append(("notebook", self.meta["notebook"]))
        parts.append(table(info))
        if self.metrics:
            parts.append(
                "<h4>Metrics</h4>"
                + table(
                    [(k, m.get("value"), m.get("low"), m.get("high")) for k, m in self.metrics.items()],
                    ["metric", "value", "low", "high"],
                )
            )
        if sig.get("inputs"):
            parts.append(
                "<h4>Signature</h4>"
                + table(
                    [("in", i["name"], i["datatype"], json.dumps(i["shape"])) for i in sig["inputs"][:30]]
                    + [("out", o["name"], o["datatype"], json.dumps(o["shape"])) for o in sig.get("outputs", [])],
                    ["", "name", "datatype", "shape"],
                )
            )
            if sig.get("feature_names"):
                names = sig["feature_names"]
                more = f" (+{len(names) - 20} more)" if len(names) > 20 else ""
                parts.append(f'<div class="note">features: {esc(", ".join(names[:20]))}{esc(more)}</div>')
        if self.params:
            parts.append("<h4>Params</h4>" + table(sorted((k, json.dumps(v)) for k, v in self.params.items())))
        if self.data:
            d = self.data
            parts.append(
                "<h4>Data</h4>"
                + table([("shape", json.dumps(d.get("shape"))), ("sha256", d.get("sha256", "")[:16] + "...")])
            )
        parts.append(
            "<h4>Artifacts</h4>"
            + table(
                [(role, a["format"], _size(a["size"]), a["sha256"][:16] + "...") for role, a in self.artifacts.items()],
                ["role", "format", "size", "sha256"],
            )
        )
        return page(f"{self.ref}", "".join(parts), subtitle=f"{self.flavor} model version")


class ModelList(Result):
    """``models()``: one row per model name."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def names(self) -> list[str]:
        return [r["name"] for r in self.rows]

    def to_dict(self) -> dict:
        return {"models": self.rows}

    def _summary(self) -> str:
        return f"ModelList ({len(self.rows)} model{'' if len(self.rows) == 1 else 's'})"

    def to_text(self) -> str:
        if not self.rows:
            return "No models in the registry yet. Snapshot one with snapshot(model, name)."
        lines = [f"{'name':<24} {'versions':>8} {'latest':>6}  aliases"]
        for r in self.rows:
            aliases = ", ".join(f"{a}->{v}" for a, v in r["aliases"].items())
            lines.append(f"{r['name']:<24} {r['versions']:>8} {r['latest'] or '-':>6}  {aliases}")
        return "\n".join(lines)

    def to_html(self) -> str:
        if not self.rows:
            return page(
                "Models",
                '<div class="note">No models yet: snapshot one with '
                "<code>%modelops snapshot MODEL --name NAME</code>.</div>",
            )
        rows = [
            (
                r["name"],
                r["versions"],
                r["latest"],
                r["flavor"] or "–",
                ", ".join(f"{a} → {v}" for a, v in r["aliases"].items()) or "–",
                r["updated"],
            )
            for r in self.rows
        ]
        return page(
            "Models",
            table(rows, ["name", "versions", "latest", "flavor", "aliases", "updated"]),
            subtitle=f"{len(self.rows)} model{'' if len(self.rows) == 1 else 's'}",
        )


class VersionList(Result):
    """``versions(name)``: one row per version, newest first."""

    def __init__(
        self, name: str, rows: list[tuple], aliases: dict[int, list[str]], history: list[dict] | None = None
    ) -> None:
        self.name = name
        self._rows = rows  # (version, created, user, flavor, parent, summary-json)
        self._aliases = aliases
        self.history = history or []
        self._parsed: list[dict] | None = None

    def _parse(self, row: tuple) -> dict:
        v, c, u, f, p, summary = row
        return {
            "version": v,
            "ref": f"{self.name}:{v}",
            "created": iso(c),
            "user": u,
            "flavor": f,
            "parent": p,
            "aliases": self._aliases.get(v, []),
            **json.loads(summary),
        }

    @property
    def rows(self) -> list[dict]:
        """Every version as a dict (parsed on first use)."""
        if self._parsed is None:
            self._parsed = [self._parse(r) for r in self._rows]
        return self._parsed

    def head(self, n: int) -> list[dict]:
        """The ``n`` newest versions as dicts (parses only those)."""
        if self._parsed is not None:
            return self._parsed[:n]
        return [self._parse(r) for r in self._rows[:n]]

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self):
        return iter(self.rows)

    def numbers(self) -> list[int]:
        return [r[0] for r in self._rows]

    def to_dict(self) -> dict:
        return {"name": self.name, "versions": self.rows, "alias_history": self.history}

    def _summary(self) -> str:
        return f"VersionList {self.name} ({len(self)} version{'' if len(self) == 1 else 's'})"

    def _metric_names(self, rows: list[dict]) -> list[str]:
        names: list[str] = []
        for r in rows:
            for k in r.get("metrics", {}):
                if k not in names:
                    names.append(k)
        return names[:4]

    def to_text(self) -> str:
        lines = [f"{'ref':<28} {'created':<25} {'flavor':<8} aliases"]
        for r in self.rows:
            lines.append(f"{r['ref']:<28} {r['created']:<25} {r['flavor']:<8} {', '.join(r['aliases'])}")
        return "\n".join(lines)

    def to_html(self, limit: int = 200) -> str:
        shown = self.head(limit)
        metrics = self._metric_names(shown)
        rows = []
        for r in shown:
            m = r.get("metrics", {})
            rows.append(
                (
                    r["version"],
                    r["created"],
                    r["flavor"],
                    ", ".join(r["aliases"]) or "–",
                    *[fmt(m.get(k)) for k in metrics],
                    _size(r.get("size")),
                    r.get("notes") or "",
                )
            )
        more = f'<div class="note">showing {limit} of {len(self)}</div>' if len(self) > limit else ""
        hist = ""
        if self.history:
            hist = "<h4>Alias history</h4>" + table(
                [
                    (h["at"], h["alias"], h["previous"] or "–", h["version"] or "(removed)", h["user"])
                    for h in self.history[-20:]
                ],
                ["when", "alias", "from", "to", "user"],
            )
        return page(
            f"Versions of {self.name}",
            table(rows, ["version", "created", "flavor", "aliases", *metrics, "size", "notes"]) + more + hist,
            subtitle=f"{len(self)} version{'' if len(self) == 1 else 's'}",
        )


class VersionDiff(Result):
    """``diff(a, b)``: what changed between two versions."""

    def __init__(self, a: ModelVersion, b: ModelVersion) -> None:
        self.a, self.b = a, b
        self.metrics = self._metrics()
        self.params = _dict_diff(a.params, b.params)
        self.signature = self._signature()
        self.environment = _dict_diff(a.environment.get("packages", {}), b.environment.get("packages", {}))
        if a.environment.get("python") != b.environment.get("python"):
            self.environment["python"] = [a.environment.get("python"), b.environment.get("python")]
        self.artifacts = {
            r: [a.artifacts.get(r, {}).get("sha256"), b.artifacts.get(r, {}).get("sha256")]
            for r in sorted(set(a.artifacts) | set(b.artifacts))
            if a.artifacts.get(r, {}).get("sha256") != b.artifacts.get(r, {}).get("sha256")
        }
        data_a, data_b = (a.data or {}).get("sha256"), (b.data or {}).get("sha256")
        self.same_data = data_a is not None and data_a == data_b

    def _metrics(self) -> list[dict]:
        out = []
        for k in list(dict.fromkeys([*self.a.metrics, *self.b.metrics])):
            ma, mb = self.a.metrics.get(k), self.b.metrics.get(k)
            row = {"metric": k, "a": ma, "b": mb, "delta": None, "overlap": None, "better": None}
            if ma and mb:
                row["delta"] = mb["value"] - ma["value"]
                lower = (
                    ma.get("lower_is_better")
                    if ma.get("lower_is_better") is not None
                    else k.endswith(("_error", "_loss"))
                )
                if row["delta"]:
                    row["better"] = (row["delta"] < 0) == bool(lower)
                if None not in (ma.get("low"), ma.get("high"), mb.get("low"), mb.get("high")):
                    row["overlap"] = not (mb["low"] > ma["high"] or ma["low"] > mb["high"])
            out.append(row)
        return out

    def _signature(self) -> dict:
        fa = self.a.signature.get("feature_names") or []
        fb = self.b.signature.get("feature_names") or []
        ia = {i["name"]: (i["datatype"], i["shape"]) for i in self.a.signature.get("inputs", [])}
        ib = {i["name"]: (i["datatype"], i["shape"]) for i in self.b.signature.get("inputs", [])}
        return {
            "added_features": [f for f in fb if f not in fa],
            "removed_features": [f for f in fa if f not in fb],
            "changed_inputs": {
                k: [list(ia.get(k, ())) or None, list(ib.get(k, ())) or None]
                for k in sorted(set(ia) | set(ib))
                if ia.get(k) != ib.get(k)
            },
        }

    @property
    def identical_model(self) -> bool:
        return not self.artifacts.get("model")

    def to_dict(self) -> dict:
        return {
            "a": self.a.ref,
            "b": self.b.ref,
            "metrics": self.metrics,
            "params": self.params,
            "signature": self.signature,
            "environment": self.environment,
            "artifacts": self.artifacts,
            "same_data": self.same_data,
            "flavor": [self.a.flavor, self.b.flavor],
        }

    def _summary(self) -> str:
        return (
            f"VersionDiff {self.a.ref} -> {self.b.ref} ({len(self.params)} params, "
            f"{len(self.environment)} packages changed)"
        )

    def to_text(self) -> str:
        lines = [self._summary()]
        for m in self.metrics:
            lines.append(
                f"  {m['metric']}: {_metric_cell(m['a'])} -> {_metric_cell(m['b'])}"
                + (f" (delta {fmt(m['delta'])})" if m["delta"] is not None else "")
            )
        for k, (va, vb) in self.params.items():
            lines.append(f"  param {k}: {va!r} -> {vb!r}")
        for k, (va, vb) in self.environment.items():
            lines.append(f"  package {k}: {va} -> {vb}")
        return "\n".join(lines)

    def to_html(self) -> str:
        parts = []
        if self.metrics:
            rows = []
            for m in self.metrics:
                verdict = "–"
                if m["overlap"] is not None:
                    verdict = (
                        '<span class="warn">intervals overlap</span>'
                        if m["overlap"]
                        else '<span class="pass">significant</span>'
                    )
                arrow = {True: " ▲ better", False: " ▼ worse", None: ""}[m["better"]]
                rows.append(
                    (
                        esc(m["metric"]),
                        esc(_metric_cell(m["a"])),
                        esc(_metric_cell(m["b"])),
                        esc(fmt(m["delta"]) + arrow),
                        verdict,
                    )
                )
            parts.append(
                "<h4>Metrics</h4>" + table(rows, ["metric", self.a.ref, self.b.ref, "delta", ""], raw_cols=range(5))
            )
        if self.params:
            parts.append(
                "<h4>Params</h4>"
                + table(
                    [(k, json.dumps(va), json.dumps(vb)) for k, (va, vb) in self.params.items()],
                    ["param", self.a.ref, self.b.ref],
                )
            )
        sig = self.signature
        if any(sig.values()):
            sig_rows = [
                ("added features", ", ".join(sig["added_features"]) or "–"),
                ("removed features", ", ".join(sig["removed_features"]) or "–"),
            ]
            sig_rows += [
                (f"input {k}", f"{json.dumps(va)} -> {json.dumps(vb)}") for k, (va, vb) in sig["changed_inputs"].items()
            ]
            parts.append("<h4>Signature</h4>" + table(sig_rows))
        if self.environment:
            parts.append(
                "<h4>Environment</h4>"
                + table(
                    [(k, va or "–", vb or "–") for k, (va, vb) in self.environment.items()],
                    ["package", self.a.ref, self.b.ref],
                )
            )
        parts.append(
            "<h4>Model files</h4>"
            + (
                '<div class="note">identical bytes</div>'
                if not self.artifacts
                else table(
                    [(r, (va or "–")[:12], (vb or "–")[:12]) for r, (va, vb) in self.artifacts.items()],
                    ["role", self.a.ref, self.b.ref],
                )
            )
        )
        parts.append(f'<div class="note">training data: {"same" if self.same_data else "different or unknown"}</div>')
        return page(f"{self.a.ref} → {self.b.ref}", "".join(parts), subtitle="version diff")


def _dict_diff(a: dict, b: dict) -> dict:
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b), key=str) if a.get(k) != b.get(k)}


class GcReport(Result):
    """``gc()``: what was cleaned."""

    def __init__(self, removed_blobs: int, freed_bytes: int, removed_staging: int) -> None:
        self.removed_blobs = removed_blobs
        self.freed_bytes = freed_bytes
        self.removed_staging = removed_staging
        self.captures: dict | None = None  # gc(captures_older_than=...): capture partitions removed

    def to_dict(self) -> dict:
        out: dict[str, Any] = {
            "removed_blobs": self.removed_blobs,
            "freed_bytes": self.freed_bytes,
            "removed_staging": self.removed_staging,
        }
        if self.captures is not None:
            out["captures"] = self.captures
        return out

    def _summary(self) -> str:
        text = (
            f"GcReport: removed {self.removed_blobs} unreferenced blobs ({_size(self.freed_bytes)}) "
            f"and {self.removed_staging} abandoned staging folders"
        )
        if self.captures is not None:
            c = self.captures
            text += (
                f"; {c['removed_partitions']} expired capture partitions ({_size(c['freed_bytes'])}), "
                f"{c['kept_active']} kept while being written"
            )
        return text

    def to_text(self) -> str:
        return self._summary()

    def to_html(self) -> str:
        return page("Registry garbage collection", table(list(self.to_dict().items())))


class BundleInfo(Result):
    """``export_bundle`` / ``import_bundle``: the bundle file and the versions it carries."""

    def __init__(
        self,
        path: Path,
        versions: list,
        *,
        sha256: str | None = None,
        size: int | None = None,
        warnings: list[str] | None = None,
        imported: bool = False,
        existing: list[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.versions = versions  # refs (export) or ModelVersion objects (import)
        self.sha256 = sha256
        self.size = size
        self.warnings = warnings or []
        self.imported = imported
        self.existing = existing or []  # refs an import found already in the registry (same files)

    @property
    def refs(self) -> list[str]:
        return [v.ref if hasattr(v, "ref") else str(v) for v in self.versions]

    def __getitem__(self, i: int) -> Any:
        return self.versions[i]

    def __len__(self) -> int:
        return len(self.versions)

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "versions": self.refs,
            "sha256": self.sha256,
            "size": self.size,
            "warnings": self.warnings,
            "imported": self.imported,
            "existing": self.existing,
        }

    def _summary(self) -> str:
        verb = "imported from" if self.imported else "exported to"
        same = f" ({', '.join(self.existing)} already there)" if self.existing else ""
        return f"Bundle {verb} {self.path.name}: {', '.join(self.refs)}{same}"

    def to_text(self) -> str:
        return "\n".join([self._summary(), *[f"  warning: {w}" for w in self.warnings]])

    def to_html(self) -> str:
        body = table(
            [
                ("file", str(self.path)),
                ("versions", ", ".join(self.refs)),
                ("size", _size(self.size)),
                ("sha256", (self.sha256 or "–")[:16]),
            ]
        )
        if self.warnings:
            body += (
                "<h4>Warnings</h4><ul>" + "".join(f'<li class="warn">{esc(w)}</li>' for w in self.warnings) + "</ul>"
            )
        return page("Model bundle", body, subtitle="imported" if self.imported else "exported")


class Checkpoint(Result):
    """``restore_checkpoint``: the restored model, optimizer, step and extra state."""

    def __init__(self, version: ModelVersion, model: Any, optimizer: Any, step: int, extra: Any) -> None:
        self.version = version
        self.model = model
        self.optimizer = optimizer
        self.step = step
        self.extra = extra

    def to_dict(self) -> dict:
        return {
            "ref": self.version.ref,
            "step": self.step,
            "extra": self.extra
            if isinstance(self.extra, (dict, list, str, int, float, type(None)))
            else repr(self.extra),
        }

    def _summary(self) -> str:
        return f"Checkpoint {self.version.ref} at step {self.step}"

    def to_html(self) -> str:
        return page(f"Checkpoint {self.version.ref}", table([("step", self.step), ("flavor", self.version.flavor)]))
