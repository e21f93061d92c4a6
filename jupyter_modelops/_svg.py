"""Tiny SVG charts: light (a few KB each), static, no JavaScript.

Used by every report's ``to_html()``, where :func:`jupyter_modelops._html.page`
embeds each as an ``<img>`` with a data URL (sanitizers strip inline SVG).
An image's SVG cannot read the page's CSS, so each chart carries its own
white background, font and text colour. For publication-quality figures, the
result objects also offer ``figures()`` built with matplotlib.
"""

from __future__ import annotations

import math
from typing import Sequence

from ._html import esc

PALETTE = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#6e7781", "#bf3989"]

W, H = 300, 230
ML, MR, MT, MB = 46, 10, 22, 38


def _root(w: float, h: float, title: str, parts: Sequence[str]) -> str:
    """The ``<svg>`` element: self-contained (background, font, text colour), labelled by its title."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}" height="{h:g}" viewBox="0 0 {w:g} {h:g}" role="img" '
        f'aria-label="{esc(title)}" font-family="sans-serif" fill="#1f2328">'
        f'<rect width="100%" height="100%" fill="#ffffff"/>' + "".join(parts) + "</svg>"
    )


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    out, v = [], start
    while v <= hi + 1e-12 * abs(hi or 1):
        out.append(round(v, 12))
        v += step
    return out


def _label(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-2:
        return f"{v:.0e}"
    return f"{v:g}"


def _decimate(xs: Sequence[float], ys: Sequence[float], max_points: int = 160):
    n = len(xs)
    if n <= max_points:
        return list(xs), list(ys)
    step = n / max_points
    idx = sorted({int(i * step) for i in range(max_points)} | {n - 1})
    return [xs[i] for i in idx], [ys[i] for i in idx]


class _Frame:
    def __init__(self, title, xlabel, ylabel, xlim, ylim):
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.x0, self.x1 = xlim
        self.y0, self.y1 = ylim
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1
        self.parts: list[str] = []

    def X(self, x: float) -> float:
        return ML + (x - self.x0) / (self.x1 - self.x0) * (W - ML - MR)

    def Y(self, y: float) -> float:
        return H - MB - (y - self.y0) / (self.y1 - self.y0) * (H - MT - MB)

    def axes(self) -> None:
        p = self.parts
        p.append(
            f'<rect x="{ML}" y="{MT}" width="{W - ML - MR}" height="{H - MT - MB}" fill="none" stroke="#8c959f" stroke-width="0.6"/>'
        )
        for t in _ticks(self.x0, self.x1):
            x = self.X(t)
            p.append(f'<line x1="{x:.1f}" y1="{H - MB}" x2="{x:.1f}" y2="{H - MB + 3}" stroke="#8c959f"/>')
            p.append(f'<text x="{x:.1f}" y="{H - MB + 13}" font-size="9" text-anchor="middle">{_label(t)}</text>')
        for t in _ticks(self.y0, self.y1):
            y = self.Y(t)
            p.append(f'<line x1="{ML - 3}" y1="{y:.1f}" x2="{ML}" y2="{y:.1f}" stroke="#8c959f"/>')
            p.append(f'<text x="{ML - 5}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{_label(t)}</text>')
        p.append(
            f'<text x="{(ML + W - MR) / 2}" y="{H - 6}" font-size="10" text-anchor="middle">{esc(self.xlabel)}</text>'
        )
        p.append(
            f'<text x="12" y="{(MT + H - MB) / 2}" font-size="10" text-anchor="middle" transform="rotate(-90 12 {(MT + H - MB) / 2})">{esc(self.ylabel)}</text>'
        )
        p.append(
            f'<text x="{W / 2}" y="14" font-size="11" font-weight="600" text-anchor="middle">{esc(self.title)}</text>'
        )

    def svg(self) -> str:
        return _root(W, H, self.title, self.parts)


def _limits(values: Sequence[float], pad: float = 0.0) -> tuple[float, float]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return 0.0, 1.0
    lo, hi = min(vals), max(vals)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    span = hi - lo
    return lo - pad * span, hi + pad * span


def line_chart(
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    diagonal: bool = False,
    bands: Sequence[tuple[Sequence[float], Sequence[float], Sequence[float]]] = (),
    markers: bool = False,
) -> str:
    """Lines (label, xs, ys). ``bands`` are (xs, lows, highs) shaded behind the matching series."""
    allx = [x for _, xs, _ in series for x in xs]
    ally = [y for _, _, ys in series for y in ys] + [v for _, lo, hi in bands for v in list(lo) + list(hi)]
    f = _Frame(title, xlabel, ylabel, xlim or _limits(allx), ylim or _limits(ally, 0.05))
    f.axes()
    if diagonal:
        f.parts.append(
            f'<line x1="{f.X(f.x0):.1f}" y1="{f.Y(f.y0):.1f}" x2="{f.X(f.x1):.1f}" y2="{f.Y(f.y1):.1f}" '
            'stroke="#8c959f" stroke-dasharray="3,3"/>'
        )
    for i, (xs, lo, hi) in enumerate(bands):
        color = PALETTE[i % len(PALETTE)]
        pts = [(f.X(x), f.Y(y)) for x, y in zip(xs, hi)] + [(f.X(x), f.Y(y)) for x, y in reversed(list(zip(xs, lo)))]
        f.parts.append(
            '<polygon points="'
            + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
            + f'" fill="{color}" fill-opacity="0.15" stroke="none"/>'
        )
    for i, (label, xs, ys) in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        xs2, ys2 = _decimate(list(xs), list(ys))
        pts = " ".join(f"{f.X(x):.1f},{f.Y(y):.1f}" for x, y in zip(xs2, ys2) if math.isfinite(x) and math.isfinite(y))
        f.parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="1.6"/>')
        if markers:
            for x, y in zip(xs2, ys2):
                if math.isfinite(x) and math.isfinite(y):
                    f.parts.append(f'<circle cx="{f.X(x):.1f}" cy="{f.Y(y):.1f}" r="2.2" fill="{color}"/>')
        if len(series) > 1 or label:
            ly = MT + 10 + 12 * i
            f.parts.append(
                f'<line x1="{ML + 6}" y1="{ly - 3}" x2="{ML + 18}" y2="{ly - 3}" stroke="{color}" stroke-width="2"/>'
            )
            f.parts.append(f'<text x="{ML + 22}" y="{ly}" font-size="9">{esc(label)}</text>')
    return f.svg()


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    ylabel: str,
    errors: Sequence[tuple[float, float]] | None = None,
    horizontal: bool = True,
) -> str:
    """Horizontal bars with optional (low, high) error bars."""
    n = max(len(labels), 1)
    h = max(H, MT + MB + 14 * n)
    lo_all = [0.0] + list(values) + ([e[0] for e in errors] if errors else [])
    hi_all = [0.0] + list(values) + ([e[1] for e in errors] if errors else [])
    x0, x1 = _limits(lo_all + hi_all, 0.05)
    left = 110
    width = W - left - MR
    sx = lambda v: left + (v - x0) / (x1 - x0) * width  # noqa: E731
    parts = [f'<text x="{W / 2}" y="14" font-size="11" font-weight="600" text-anchor="middle">{esc(title)}</text>']
    band = (h - MT - MB) / n
    for i, (lab, v) in enumerate(zip(labels, values)):
        y = MT + i * band
        a, b = sorted((sx(0), sx(v)))
        parts.append(
            f'<rect x="{a:.1f}" y="{y + 2:.1f}" width="{max(b - a, 0.5):.1f}" height="{max(band - 4, 2):.1f}" fill="{PALETTE[0]}" fill-opacity="0.75"/>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{y + band / 2 + 3:.1f}" font-size="9" text-anchor="end">{esc(str(lab)[:18])}</text>'
        )
        if errors:
            e0, e1 = errors[i]
            if e0 is not None and e1 is not None and math.isfinite(e0) and math.isfinite(e1):
                ym = y + band / 2
                parts.append(
                    f'<line x1="{sx(e0):.1f}" y1="{ym:.1f}" x2="{sx(e1):.1f}" y2="{ym:.1f}" stroke="#1f2328" stroke-width="1"/>'
                )
    for t in _ticks(x0, x1, 4):
        parts.append(f'<text x="{sx(t):.1f}" y="{h - MB + 13}" font-size="9" text-anchor="middle">{_label(t)}</text>')
    parts.append(f'<line x1="{sx(0):.1f}" y1="{MT}" x2="{sx(0):.1f}" y2="{h - MB}" stroke="#8c959f"/>')
    parts.append(f'<text x="{left + width / 2}" y="{h - 8}" font-size="10" text-anchor="middle">{esc(ylabel)}</text>')
    return _root(W, h, title, parts)


def heatmap(
    matrix: Sequence[Sequence[float]],
    labels: Sequence[str],
    *,
    title: str,
    xlabel: str = "predicted",
    ylabel: str = "true",
) -> str:
    """A square matrix of counts with the values written in the cells (confusion matrix)."""
    k = max(len(labels), 1)
    size = min(180, 36 * k)
    cell = size / k
    left, top = 70, 30
    w, h = left + size + 10, top + size + 34
    vmax = max((v for row in matrix for v in row), default=1) or 1
    parts = [f'<text x="{w / 2}" y="14" font-size="11" font-weight="600" text-anchor="middle">{esc(title)}</text>']
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            a = 0.08 + 0.85 * (v / vmax)
            x, y = left + j * cell, top + i * cell
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell:.1f}" height="{cell:.1f}" fill="{PALETTE[0]}" fill-opacity="{a:.2f}" stroke="#ffffff"/>'
            )
            if k <= 12:
                color = "#ffffff" if a > 0.55 else "#1f2328"
                parts.append(
                    f'<text x="{x + cell / 2:.1f}" y="{y + cell / 2 + 3:.1f}" font-size="9" text-anchor="middle" style="fill:{color}">{int(v) if float(v).is_integer() else round(v, 3)}</text>'
                )
    if k <= 12:
        for i, lab in enumerate(labels):
            parts.append(
                f'<text x="{left - 4}" y="{top + i * cell + cell / 2 + 3:.1f}" font-size="9" text-anchor="end">{esc(str(lab)[:10])}</text>'
            )
            parts.append(
                f'<text x="{left + i * cell + cell / 2:.1f}" y="{top + size + 12}" font-size="9" text-anchor="middle">{esc(str(lab)[:6])}</text>'
            )
    parts.append(f'<text x="{left + size / 2}" y="{h - 6}" font-size="10" text-anchor="middle">{esc(xlabel)}</text>')
    parts.append(
        f'<text x="12" y="{top + size / 2}" font-size="10" text-anchor="middle" transform="rotate(-90 12 {top + size / 2})">{esc(ylabel)}</text>'
    )
    return _root(w, h, title, parts)
