"""Light, static HTML for result objects.

No JavaScript, no external assets, no ``<style>`` block and no inline
``<svg>``: a report must render the same in JupyterLab (also in a notebook
it has not trusted, where HTML is sanitized), VS Code, on GitHub and in an
e-mail. So styling is inline ``style`` attributes limited to properties
and values that HTML sanitizers keep (plain hex colours, lengths, flex),
text colour is inherited from the page (light and dark themes), and charts
are ``<img src="data:image/svg+xml;base64,...">`` with an ``alt`` text.
:func:`page` enforces this for every report: it turns ``class="pass"``-style
markers into inline styles and any inline ``<svg>`` into a data-URL image.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from typing import Any, Iterable, Sequence

#: Colours shared with the JupyterLab panel (``labextension/style/base.css``).
PASS, FAIL, WARN, MUTED, RULE = "#1a7f37", "#cf222e", "#9a6700", "#6e7781", "#d0d7de"

#: Inline styles that stand in for CSS classes (sanitizers strip ``<style>`` but keep ``style=``).
CLASS_STYLES = {
    "pass": f"color:{PASS};font-weight:600",
    "fail": f"color:{FAIL};font-weight:600",
    "warn": f"color:{WARN};font-weight:600",
    "ci": f"color:{MUTED}",
    "note": f"color:{MUTED};font-size:12px",
    "figs": "display:flex;flex-wrap:wrap;gap:8px",
}
TAG_STYLES = {
    "h3": "font-size:15px;margin:6px 0 4px",
    "h4": f"font-size:13px;margin:10px 0 4px;color:{MUTED}",
    "table": "border-collapse:collapse;margin:4px 0",
}
CELL = "padding:2px 8px"
ROW = f' style="border-bottom:1px solid {RULE}"'

_CLASS_RE = re.compile(
    r'<(span|div|p|li|td) class=["\'](pass|fail|warn|ci|note|figs|ok|failed|error|running|skip|skipped)["\']'
)
_TAG_RE = re.compile(r"<(h3|h4|table)>")
_SVG_RE = re.compile(r"<svg\b[^>]*>.*?</svg>", re.S)
_ATTR_RE = re.compile(r'\b(width|height|aria-label)="([^"]*)"')
# status words used as classes by some reports, mapped to the three verdict colours
_ALIASES = {"ok": "pass", "failed": "fail", "error": "fail", "running": "warn", "skip": "warn", "skipped": "warn"}


def svg_image(svg: str) -> str:
    """An inline SVG chart as ``<img src="data:image/svg+xml;base64,...">``, sized and with ``alt`` text.

    Sanitizers (JupyterLab's for untrusted notebooks, GitHub's) strip ``<svg>``
    but keep an ``<img>`` whose ``src`` is a data URL.
    """
    head = svg[: svg.index(">")]
    attrs = dict(_ATTR_RE.findall(head))
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    size = "".join(f' {k}="{esc(attrs[k])}"' for k in ("width", "height") if k in attrs)
    return f'<img src="data:image/svg+xml;base64,{data}"{size} alt="chart: {esc(html.unescape(attrs.get("aria-label", "")))}">'


def _inline(markup: str) -> str:
    """Class markers and bare tags to inline styles; inline SVG to data-URL images."""

    def cls(m: re.Match) -> str:
        name = _ALIASES.get(m.group(2), m.group(2))
        return f'<{m.group(1)} class="{m.group(2)}" style="{CLASS_STYLES[name]}"'

    markup = _CLASS_RE.sub(cls, markup)
    markup = _TAG_RE.sub(lambda m: f'<{m.group(1)} style="{TAG_STYLES[m.group(1)]}">', markup)
    return _SVG_RE.sub(lambda m: svg_image(m.group(0)), markup)


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 4) -> str:
    """Format a number compactly; pass strings through."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}f}"
    return str(value)


def table(rows: Iterable[Sequence[Any]], header: Sequence[str] | None = None, *, raw_cols: Iterable[int] = ()) -> str:
    """An HTML table. Cells are escaped unless their column index is in ``raw_cols``."""
    raw = set(raw_cols)
    out = ["<table>"]
    left, right = f' style="{CELL};text-align:left"', f' style="{CELL};text-align:right"'
    if header:
        out.append(
            f"<tr{ROW}>" + "".join(f"<th{right if i else left}>{esc(h)}</th>" for i, h in enumerate(header)) + "</tr>"
        )
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cells.append(f"<td{right if i else left}>{cell if i in raw else esc(fmt(cell))}</td>")
        out.append(f"<tr{ROW}>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def page(title: str, body: str, *, subtitle: str | None = None) -> str:
    """Wrap a report body: title, optional subtitle; styles inlined and charts as data-URL images.

    The result holds no ``<style>``, ``<svg>`` or ``<script>``, so it survives
    HTML sanitizers unchanged (see the module docstring).
    """
    sub = f'<div class="note">{esc(subtitle)}</div>' if subtitle else ""
    return _inline(f'<div class="jmo" style="font-size:13px;max-width:980px"><h3>{esc(title)}</h3>{sub}{body}</div>')


def document(fragment: str, *, title: str = "jupyter-modelops report") -> str:
    """A standalone HTML document around a fragment (for files)."""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title></head><body>{fragment}</body></html>"
    )


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and non-finite floats into JSON-safe values."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        np = None
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if np is not None:
        if isinstance(obj, np.ndarray):
            return to_jsonable(obj.tolist())
        if isinstance(obj, np.generic):
            return to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


class Result:
    """Base of result objects: ``to_dict()``, ``to_json()``, ``_repr_html_()``, ``__repr__``.

    Subclasses implement ``to_dict()`` and ``to_html()``; ``_summary()`` gives
    the one-line text used by ``__repr__`` and the CLI.
    """

    def to_dict(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_html(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _summary(self) -> str:
        return type(self).__name__

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(to_jsonable(self.to_dict()), **kwargs)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return f"<{self._summary()}>"

    def save_html(self, path: str) -> str:
        """Write a standalone HTML file and return its path."""
        from pathlib import Path

        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(document(self.to_html(), title=self._summary()), encoding="utf-8")
        return str(p)


class RecordResult(Result):
    """A result that is a plain record (a JSON-able dict), with its keys readable as attributes."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["data"][name]
        except KeyError:
            raise AttributeError(name) from None

    def to_dict(self) -> dict:
        return dict(self.data)
