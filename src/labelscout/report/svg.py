"""Histograms as inline SVG: crisp at any zoom, no script, and text a test can read.

Each series is drawn as its share of samples per bin (pool and selection differ in size
by orders of magnitude, counts would hide the smaller one), as a filled step outline, with
a dashed line at its median.
"""
from __future__ import annotations

from html import escape

import numpy as np

__all__ = ["histogram_svg", "nice_ticks"]


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, target)
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = np.ceil(lo / step) * step
    ticks = np.arange(start, hi + step * 1e-9, step)
    return [float(round(t, 10)) for t in ticks]


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def histogram_svg(edges: np.ndarray, series: list[tuple[str, np.ndarray, str, float | None]], xlabel: str,
                  width: int = 560, height: int = 260) -> str:
    """SVG of overlaid histograms. ``series``: (name, counts per bin, css class, median or None)."""
    ml, mr, mt, mb = 52, 14, 30, 42
    pw, ph = width - ml - mr, height - mt - mb
    shares = [c / c.sum() if c.sum() > 0 else c.astype(float) for _, c, _, _ in series]
    ymax = max((float(s.max()) for s in shares if s.size), default=1.0) or 1.0
    ymax *= 1.08
    x0, x1 = float(edges[0]), float(edges[-1])
    span = (x1 - x0) or 1.0

    def sx(v: float) -> float:
        return ml + (v - x0) / span * pw

    def sy(v: float) -> float:
        return mt + ph - v / ymax * ph

    parts = [f'<svg class="hist" viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{escape(xlabel)} histogram" xmlns="http://www.w3.org/2000/svg">']
    for t in nice_ticks(0.0, ymax, 4):
        y = sy(t)
        parts.append(f'<line class="grid" x1="{ml}" x2="{ml + pw}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{ml - 6}" y="{y + 4:.1f}" text-anchor="end">{t * 100:.0f}%</text>')
    for t in nice_ticks(x0, x1, 6):
        x = sx(t)
        parts.append(f'<line class="axis" x1="{x:.1f}" x2="{x:.1f}" y1="{mt + ph}" y2="{mt + ph + 4}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{mt + ph + 17}" text-anchor="middle">{_fmt(t)}</text>')
    parts.append(f'<line class="axis" x1="{ml}" x2="{ml + pw}" y1="{mt + ph}" y2="{mt + ph}"/>')
    parts.append(f'<text class="label" x="{ml + pw / 2:.1f}" y="{height - 6}" text-anchor="middle">{escape(xlabel)}</text>')
    parts.append(f'<text class="label" transform="translate(13 {mt + ph / 2:.1f}) rotate(-90)" text-anchor="middle">share of samples</text>')
    for (name, _, css, median), share in zip(series, shares):
        pts = [(sx(x0), sy(0))]
        for i, v in enumerate(share):
            pts += [(sx(edges[i]), sy(v)), (sx(edges[i + 1]), sy(v))]
        pts.append((sx(x1), sy(0)))
        d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        parts.append(f'<path class="area {css}" d="{d} Z"/><path class="line {css}" d="{d}"/>')
        if median is not None and np.isfinite(median):
            x = sx(median)
            parts.append(f'<line class="median {css}" x1="{x:.1f}" x2="{x:.1f}" y1="{mt}" y2="{mt + ph}">'
                         f'<title>{escape(name)} median {_fmt(median)}</title></line>')
    lx = ml + 8
    for name, _, css, _ in series:
        parts.append(f'<rect class="swatch {css}" x="{lx}" y="{mt - 20}" width="12" height="12" rx="2"/>')
        parts.append(f'<text class="legend" x="{lx + 17}" y="{mt - 10}">{escape(name)}</text>')
        lx += 30 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)
