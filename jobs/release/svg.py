"""Inline SVG bar charts for the HTML report: no script, no external file, readable without a network."""

from __future__ import annotations

from html import escape

_BAR = "#3b6ea8"
_MUTED = "#c0392b"
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _number(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3g}" if value < 1000 else f"{value:,.0f}"
    return f"{int(value):,}"


def horizontal_bars(
    items: list[tuple[str, float]], title: str, width: int = 640, secondary: list[float] | None = None
) -> str:
    """One labelled horizontal bar per item, the value written after the bar.

    Args:
        items: ``(label, value)`` pairs, drawn top to bottom.
        title: The chart's accessible title.
        width: Width in pixels.
        secondary: A second value per item drawn in red after the first (the funnel's rejected rows).
    """
    if not items:
        return f'<p class="empty">{escape(title)}: nothing to show</p>'
    row, label_width, value_width = 22, 250, 120
    scale_width = width - label_width - value_width
    totals = [value + (secondary[i] if secondary else 0) for i, (_, value) in enumerate(items)]
    top = max(totals) or 1
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
            f'height="{row * len(items) + 8}" {_FONT}><title>{escape(title)}</title>'
        )
    ]
    for index, (label, value) in enumerate(items):
        y = index * row + 4
        length = value / top * scale_width
        name = escape(str(label)[:38])
        parts.append(f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end">{name}</text>')
        parts.append(
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{row - 6}" fill="{_BAR}"/>'
        )
        text = _number(value)
        if secondary:
            extra = secondary[index] / top * scale_width
            parts.append(
                f'<rect x="{label_width + length:.1f}" y="{y}" width="{extra:.1f}" '
                f'height="{row - 6}" fill="{_MUTED}"/>'
            )
            length += extra
            text += f" (−{_number(secondary[index])})"
        parts.append(f'<text x="{label_width + length + 6:.1f}" y="{y + 14}">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram(bins: list[tuple[str, float]], title: str, width: int = 640, height: int = 180) -> str:
    """Vertical bars, one per bin, labelled under the axis (every few bins when there are many)."""
    if not bins or not any(value for _, value in bins):
        return f'<p class="empty">{escape(title)}: nothing to show</p>'
    left, bottom, top_pad = 40, 34, 16
    plot_width, plot_height = width - left - 8, height - bottom - top_pad
    step = plot_width / len(bins)
    top = max(value for _, value in bins) or 1
    every = max(1, len(bins) // 10)
    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" {_FONT}>'
            f"<title>{escape(title)}</title>"
        ),
        (
            f'<line x1="{left}" y1="{top_pad + plot_height}" x2="{width - 8}" y2="{top_pad + plot_height}" '
            'stroke="#444"/>'
        ),
        f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end">{_number(top)}</text>',
    ]
    for index, (label, value) in enumerate(bins):
        bar = value / top * plot_height
        x = left + index * step
        tip = f"{escape(str(label))}: {_number(value)}"
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top_pad + plot_height - bar:.1f}" '
            f'width="{max(step - 2, 1):.1f}" height="{bar:.1f}" fill="{_BAR}"><title>{tip}</title></rect>'
        )
        if index % every == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{top_pad + plot_height + 14}" '
                f'text-anchor="middle">{escape(str(label))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def bins_of(
    values: list[float],
    count: int = 20,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
) -> list[tuple[str, int]]:
    """Equal-width bins of ``values`` as ``(lower edge, rows)`` pairs."""
    tally: dict[float, int] = {}
    for value in values:
        if value is not None:
            tally[value] = tally.get(value, 0) + 1
    return bins_of_counts(tally, count, low, high, integer)


def bins_of_counts(
    tally: dict[float, int],
    count: int = 20,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
) -> list[tuple[str, int]]:
    """``bins_of`` for values given as ``{value: times}``: the same bins as the values one by one."""
    tally = {value: times for value, times in tally.items() if times}
    if not tally:
        return []
    low = min(tally) if low is None else low
    high = max(tally) if high is None else high
    if high <= low:
        return [(_number(low), sum(tally.values()))]
    width = (high - low) / count
    counts = [0] * count
    for value, times in tally.items():
        counts[min(count - 1, max(0, int((value - low) / width)))] += times
    labels = [(low + i * width) for i in range(count)]
    return [((f"{edge:,.0f}" if integer else f"{edge:.2f}"), n) for edge, n in zip(labels, counts)]


def fixed_bins(counts: list[int], low: float, high: float, integer: bool = False) -> list[tuple[str, int]]:
    """Labelled bins of counts already made over equal bins from ``low`` to ``high`` (none if all zero)."""
    if not any(counts):
        return []
    width = (high - low) / len(counts)
    return [((f"{low + i * width:,.0f}" if integer else f"{low + i * width:.2f}"), int(n))
            for i, n in enumerate(counts)]
