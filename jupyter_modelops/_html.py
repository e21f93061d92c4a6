"""Light, static HTML for result objects.

No JavaScript, no external assets: a report must render the same in
JupyterLab, VS Code, on GitHub and in an e-mail. Styles are inline-scoped
under ``.jmo`` and use JupyterLab's theme variables with fallbacks, so the
output follows light and dark themes.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any, Iterable, Sequence

CSS = """
<style>
.jmo{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:13px;color:var(--jp-ui-font-color1,#1f2328);max-width:980px}
.jmo h3{font-size:15px;margin:6px 0 4px}
.jmo h4{font-size:13px;margin:10px 0 4px;color:var(--jp-ui-font-color2,#57606a)}
.jmo table{border-collapse:collapse;margin:4px 0}
.jmo th,.jmo td{padding:2px 8px;border-bottom:1px solid var(--jp-border-color2,#d0d7de);text-align:right}
.jmo th:first-child,.jmo td:first-child{text-align:left}
.jmo .ci{color:var(--jp-ui-font-color2,#57606a)}
.jmo .pass{color:#1a7f37;font-weight:600}.jmo .fail{color:#cf222e;font-weight:600}.jmo .warn{color:#9a6700;font-weight:600}
.jmo .figs{display:flex;flex-wrap:wrap;gap:8px}
.jmo .note{color:var(--jp-ui-font-color2,#57606a);font-size:12px}
.jmo svg text{fill:var(--jp-ui-font-color1,#1f2328)}
</style>
"""


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
    if header:
        out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cells.append(f"<td>{cell if i in raw else esc(fmt(cell))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def page(title: str, body: str, *, subtitle: str | None = None) -> str:
    """Wrap a report body: title, optional subtitle, scoped CSS."""
    sub = f'<div class="note">{esc(subtitle)}</div>' if subtitle else ""
    return f'<div class="jmo">{CSS}<h3>{esc(title)}</h3>{sub}{body}</div>'


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
