"""``ExportResult``: what was exported, where it is, whether it matches, how fast it runs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .._html import Result, esc, fmt, page, table


def _size(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def _us(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v / 1000:,.2f} ms" if v >= 1000 else f"{v:,.1f} µs"


class ExportResult(Result):
    """The outcome of :func:`jupyter_modelops.export`.

    Attributes
    ----------
    format : str
        ``"onnx"`` or ``"torchscript"``.
    artifacts : dict
        role (``"onnx"``, ``"onnx-int8"``, ``"onnx-fp16"``, ``"torchscript"``) ->
        ``{"path", "sha256", "size_bytes", "opset", "method", "parity_passed", ...}``.
    parity : dict
        role -> data set (``"sample"``, ``"stored sample"``) -> parity report
        (``max_abs_diff``, ``label_agreement``, per-output figures, ``worst_rows``).
    speed : dict or None
        Median single-row and batch latency (µs, one thread) of the original and
        of each export, with speed-ups.
    ref : str or None
        The registry version the artifacts are attached to.
    reused : bool
        True when an earlier identical export of the same version was returned.
    """

    def __init__(
        self,
        *,
        format: str,
        flavor: str,
        exporter: str,
        artifacts: dict,
        parity: dict,
        inputs: list,
        outputs: list,
        options: dict,
        speed: dict | None = None,
        seconds: float = 0.0,
        allow_mismatch: bool = False,
        source: str | None = None,
        payloads: dict | None = None,
        ref: str | None = None,
        reused: bool = False,
        key: str | None = None,
    ) -> None:
        self.format = format
        self.flavor = flavor
        self.exporter = exporter
        self.artifacts = artifacts
        self.parity = parity
        self.inputs = inputs
        self.outputs = outputs
        self.options = options
        self.speed = speed
        self.seconds = seconds
        self.allow_mismatch = allow_mismatch
        self.source = source
        self.payloads = payloads or {}
        self.ref = ref
        self.reused = reused
        self.key = key

    # -- views ----------------------------------------------------------------------------
    @property
    def passed(self) -> bool:
        """True when every export matched the original within tolerance on every data set."""
        return all(rep["passed"] for per in self.parity.values() for rep in per.values())

    @property
    def role(self) -> str:
        """The main artifact's role (``"onnx"`` or ``"torchscript"``)."""
        return self.format

    @property
    def path(self) -> Path | None:
        """Path of the main artifact (in the registry, or in ``MODELOPS_HOME/exports``)."""
        p = self.artifacts.get(self.role, {}).get("path")
        return Path(p) if p else None

    def max_abs_diff(self, role: str | None = None) -> float | None:
        reps = self.parity.get(role or self.role, {})
        vals = [r["max_abs_diff"] for r in reps.values() if r.get("max_abs_diff") is not None]
        return max(vals) if vals else None

    # -- actions --------------------------------------------------------------------------
    def save(self, path: str | Path, *, role: str | None = None) -> Path:
        """Copy an artifact (default: the main one) to ``path`` and return it."""
        src = self.artifacts[role or self.role].get("path")
        dst = Path(path)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src:
            shutil.copyfile(src, dst)
        else:
            dst.write_bytes(self.payloads[role or self.role])
        return dst

    def load(self, role: str | None = None) -> Any:
        """An ``onnxruntime.InferenceSession`` (ONNX) or a loaded TorchScript module."""
        role = role or self.role
        meta = self.artifacts[role]
        data = self.payloads.get(role) or Path(meta["path"]).read_bytes()
        if meta["format"] == "onnx":
            from .._optional import require

            ort = require("onnxruntime", purpose="run ONNX exports")
            return ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        import io

        import torch

        from ._torch import _torch_quiet

        with _torch_quiet():
            return torch.jit.load(io.BytesIO(data), map_location="cpu")

    # -- rendering ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": self.format,
            "flavor": self.flavor,
            "exporter": self.exporter,
            "source": self.source,
            "ref": self.ref,
            "reused": self.reused,
            "passed": self.passed,
            "allow_mismatch": self.allow_mismatch,
            "options": dict(self.options),
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "artifacts": {r: dict(a) for r, a in self.artifacts.items()},
            "parity": self.parity,
            "speed": self.speed,
            "seconds": self.seconds,
            "key": self.key,
        }

    @classmethod
    def from_dict(cls, data: dict, **overrides: Any) -> "ExportResult":
        kwargs = {
            k: data.get(k)
            for k in (
                "format",
                "flavor",
                "exporter",
                "artifacts",
                "parity",
                "inputs",
                "outputs",
                "options",
                "speed",
                "source",
                "ref",
                "key",
            )
        }
        kwargs.update(seconds=data.get("seconds") or 0.0, allow_mismatch=bool(data.get("allow_mismatch")))
        kwargs.update(overrides)
        return cls(**kwargs)

    def _rows(self) -> list[list[Any]]:
        rows = []
        base = (self.speed or {}).get("original", {})
        if self.speed:
            rows.append(
                ["original", "–", "–", "–", "–", _us(base.get("single_row_us")), _us(base.get("batch_us")), "1.0×"]
            )
        for role, art in self.artifacts.items():
            reps = self.parity.get(role, {})
            mad = max((r["max_abs_diff"] for r in reps.values() if r.get("max_abs_diff") is not None), default=None)
            agree = [r["label_agreement"] for r in reps.values() if r.get("label_agreement") is not None]
            ok = all(r["passed"] for r in reps.values())
            sp = (self.speed or {}).get(role, {})
            speedup = sp.get("speedup_single")
            rows.append(
                [
                    role,
                    _size(art.get("size_bytes")),
                    fmt(mad, 3),
                    f"{min(agree):.2%}" if agree else "–",
                    "pass" if ok else "FAIL",
                    _us(sp.get("single_row_us")),
                    _us(sp.get("batch_us")),
                    f"{speedup:,.1f}×" if speedup else "–",
                ]
            )
        return rows

    HEADER = ["artifact", "size", "max |Δ|", "labels agree", "parity", "1 row", "batch", "speed-up (1 row)"]

    def to_html(self) -> str:
        rows = self._rows()
        html_rows = []
        for r in rows:
            cls = "pass" if r[4] == "pass" else ("fail" if r[4] == "FAIL" else "")
            cell = f'<span class="{cls}">{esc(r[4])}</span>' if cls else esc(r[4])
            html_rows.append([*r[:4], cell, *r[5:]])
        body = table(html_rows, self.HEADER, raw_cols=[4])
        notes = []
        rows_checked = {ds: rep["rows"] for per in self.parity.values() for ds, rep in per.items()}
        notes.append(
            "parity on "
            + ", ".join(f"{ds} ({n} rows)" for ds, n in rows_checked.items())
            + f"; rtol={self.options.get('rtol'):g}, atol={self.options.get('atol'):g}"
        )
        if self.speed:
            notes.append(f"latency: median in process, one thread, batch of {self.speed.get('batch_rows')} rows")
        for art in self.artifacts.values():
            notes += [esc(n) for n in art.get("notes", [])]
        if self.reused:
            notes.append("reused an identical earlier export of this version")
        body += "".join(f'<div class="note">{esc(n)}</div>' for n in notes)
        subtitle = f"{self.source or ''} → {self.format}" + (f" · attached to {self.ref}" if self.ref else "")
        return page("Export", body, subtitle=subtitle)

    def to_text(self) -> str:
        rows = self._rows()
        widths = [max(len(str(r[i])) for r in [self.HEADER, *rows]) for i in range(len(self.HEADER))]
        lines = [self._summary(), "  ".join(h.ljust(w) for h, w in zip(self.HEADER, widths))]
        lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows]
        for role, art in self.artifacts.items():
            if art.get("path"):
                lines.append(f"{role}: {art['path']}")
        return "\n".join(lines)

    def _summary(self) -> str:
        mad = self.max_abs_diff()
        where = f" -> {self.ref}" if self.ref else ""
        status = "parity ok" if self.passed else "PARITY MISMATCH (allowed)"
        judged = [
            f"{rep['rows']:,} rows of the {name}"
            for name, rep in (self.parity.get(self.role) or {}).items()
            if isinstance(rep, dict) and rep.get("rows") is not None
        ]
        if judged:
            status += f" on {' and '.join(judged)}"
        sp = (self.speed or {}).get(self.role, {}).get("speedup_single")
        speed = f", {sp:.1f}x faster per row" if sp else ""
        reused = ", reused" if self.reused else ""
        return (
            f"ExportResult {self.source or ''} {self.format}{where}: {status}, max |Δ| {fmt(mad, 3)}, "
            f"{', '.join(self.artifacts)}{speed}{reused}"
        ).replace("  ", " ")
