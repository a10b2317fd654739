"""Small SVG charts for the drift pages, drawn from what the collector keeps.

* ``sparkline``: a feature's drift metric over the kept windows, with its threshold;
* ``numeric_overlay``: reference and current distributions of a numerical feature as two
  histograms over the same bins, each bin's share read from the KLL sketches' CDFs (so
  the drawing is as exact as the sketches, within their rank error);
* ``category_bars``: reference and current shares of a categorical feature's most
  frequent values, side by side.

Every text drawn (feature and category names included) is XML-escaped here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Final

from mlspan.summaries import CategoricalSummary, NumericalSummary

REFERENCE_COLOUR: Final = "#3367d6"
CURRENT_COLOUR: Final = "#ef6c00"
BINS: Final = 30
TOP_CATEGORIES: Final = 12


def _number(value: float) -> str:
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:.4g}"


def sparkline(
    values: Sequence[float | None],
    threshold: float | None = None,
    drifted: Sequence[bool] = (),
    width: int = 140,
    height: int = 30,
    label: str = "",
) -> str:
    """A metric over windows, oldest first; drifted windows as red dots."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    title = f"<title>{escape(label)}</title>" if label else ""
    if not finite:
        return (
            f'<svg class="spark" width="{width}" height="{height}" role="img">{title}'
            f'<text x="2" y="{height - 10}" font-size="10" fill="#9e9e9e">no data</text></svg>'
        )
    top = max([*finite, threshold or 0.0]) or 1.0
    bottom = min(0.0, *finite)
    span = (top - bottom) or 1.0
    step = (width - 8) / max(1, len(values) - 1)

    def y(value: float) -> float:
        return height - 4 - (value - bottom) / span * (height - 8)

    points: list[tuple[float, float, bool]] = []
    for index, value in enumerate(values):
        if value is None or not math.isfinite(value):
            continue
        flag = drifted[index] if index < len(drifted) else False
        points.append((4 + index * step, y(value), flag))
    out = [f'<svg class="spark" width="{width}" height="{height}" role="img">{title}']
    if threshold is not None and math.isfinite(threshold):
        ty = y(threshold)
        out.append(
            f'<line x1="0" x2="{width}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#c62828" '
            'stroke-dasharray="3 2" stroke-width="1"/>'
        )
    path = " ".join(f"{x:.1f},{py:.1f}" for x, py, _ in points)
    out.append(f'<polyline points="{path}" fill="none" stroke="#424242" stroke-width="1.4"/>')
    for x, py, flag in points:
        colour = "#c62828" if flag else "#424242"
        out.append(f'<circle cx="{x:.1f}" cy="{py:.1f}" r="2.4" fill="{colour}"/>')
    out.append("</svg>")
    return "".join(out)


def _legend(width: int) -> str:
    return (
        f'<rect x="{width - 210}" y="6" width="10" height="10" fill="{REFERENCE_COLOUR}" '
        'fill-opacity="0.45"/>'
        f'<text x="{width - 196}" y="15" font-size="11">reference</text>'
        f'<rect x="{width - 120}" y="6" width="10" height="10" fill="{CURRENT_COLOUR}" '
        'fill-opacity="0.45"/>'
        f'<text x="{width - 106}" y="15" font-size="11">current</text>'
    )


def numeric_overlay(
    reference: NumericalSummary | None,
    current: NumericalSummary | None,
    title: str = "",
    width: int = 640,
    height: int = 260,
) -> str:
    """Histograms of both sides over shared bins between their 0.5 % and 99.5 % quantiles."""
    sides = [(s, c) for s, c in ((reference, REFERENCE_COLOUR), (current, CURRENT_COLOUR)) if s]
    sketches = [(s.sketch(), colour) for s, colour in sides if s.count - s.nulls > 0]
    sketches = [(k, colour) for k, colour in sketches if not k.is_empty()]
    if not sketches:
        return '<p class="empty">No finite values summarised yet.</p>'
    low = min(k.get_quantile(0.005) for k, _ in sketches)
    high = max(k.get_quantile(0.995) for k, _ in sketches)
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1.0
    edges = [low + (high - low) * i / BINS for i in range(BINS + 1)]
    left, bottom, plot_w, plot_h = 48, height - 28, width - 60, height - 56
    series: list[tuple[list[float], str]] = []
    for sketch, colour in sketches:
        cdf = sketch.get_cdf(edges[1:-1])  # shares below each inner edge, then 1.0
        below = [0.0, *cdf[:-1], 1.0]
        shares = [max(0.0, below[i + 1] - below[i]) for i in range(BINS)]
        series.append((shares, colour))
    tallest = max(max(shares) for shares, _ in series) or 1.0
    bar = plot_w / BINS
    out = [
        f'<svg class="dist numeric" width="{width}" height="{height}" role="img">',
        f"<title>{escape(title)}</title>" if title else "",
        _legend(width),
    ]
    for shares, colour in series:
        for i, share in enumerate(shares):
            h = share / tallest * plot_h
            out.append(
                f'<rect x="{left + i * bar:.1f}" y="{bottom - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}" fill-opacity="0.45"/>'
            )
    out.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{bottom}" y2="{bottom}" stroke="#616161"/>'
    )
    for fraction, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        x = left + plot_w * fraction
        value = low + (high - low) * fraction
        out.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" font-size="11" text-anchor="{anchor}">'
            f"{escape(_number(value))}</text>"
        )
    out.append(f'<text x="4" y="{bottom - plot_h + 4}" font-size="11">{tallest:.0%}</text></svg>')
    return "".join(out)


def _shares(summary: CategoricalSummary | None) -> dict[str, float]:
    if summary is None or summary.count <= 0:
        return {}
    shares = {value: count / summary.count for value, count in summary.counts.items()}
    if summary.nulls:
        shares["(missing)"] = summary.nulls / summary.count
    return shares


def category_bars(
    reference: CategoricalSummary | None,
    current: CategoricalSummary | None,
    title: str = "",
    width: int = 640,
) -> str:
    """Shares of the most frequent values, reference and current bars side by side."""
    ref, cur = _shares(reference), _shares(current)
    values = sorted(set(ref) | set(cur), key=lambda v: -max(ref.get(v, 0.0), cur.get(v, 0.0)))
    values = values[:TOP_CATEGORIES]
    if not values:
        return '<p class="empty">No values summarised yet.</p>'
    row, label_w = 30, 170
    height = 28 + row * len(values)
    plot_w = width - label_w - 60
    tallest = max(max(ref.get(v, 0.0), cur.get(v, 0.0)) for v in values) or 1.0
    out = [
        f'<svg class="dist categorical" width="{width}" height="{height}" role="img">',
        f"<title>{escape(title)}</title>" if title else "",
        _legend(width),
    ]
    for index, value in enumerate(values):
        y = 24 + index * row
        name = value if len(value) <= 24 else value[:23] + "…"
        out.append(
            f'<text class="category" x="{label_w - 6}" y="{y + 15}" font-size="11" '
            f'text-anchor="end">{escape(name)}<title>{escape(value)}</title></text>'
        )
        for offset, (shares, colour) in enumerate(((ref, REFERENCE_COLOUR), (cur, CURRENT_COLOUR))):
            share = shares.get(value, 0.0)
            w = share / tallest * plot_w
            out.append(
                f'<rect x="{label_w}" y="{y + offset * 12}" width="{w:.1f}" height="11" '
                f'fill="{colour}" fill-opacity="0.7"/>'
                f'<text x="{label_w + w + 4:.1f}" y="{y + offset * 12 + 9}" font-size="9">'
                f"{share:.1%}</text>"
            )
    out.append("</svg>")
    return "".join(out)
