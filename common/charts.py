"""Small charts drawn on the server as SVG: no script, no CDN, readable by screen readers.

A chart is an <svg role="img"> whose label says what it shows and its latest value, plus
the figures as a table (under a <details>) for anyone who cannot see the picture. Values
are numbers; labels are short strings (a run number, a date). Everything is escaped.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 640
HEIGHT = 180
MARGIN_LEFT = 48
MARGIN_BOTTOM = 22
MARGIN_TOP = 8


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    css_class: str  # colour, from app.css (chart-sent, chart-failed, ...)


def _joined(pieces: Sequence[SafeString]) -> SafeString:
    """Pieces already built by format_html, side by side (safe strings are not escaped)."""
    return format_html_join("", "{}", ((piece,) for piece in pieces))


def _scale(maximum: float) -> float:
    return maximum if maximum > 0 else 1


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _axis(maximum: float, unit: str) -> SafeString:
    plot_height = HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    lines = []
    for fraction in (0, 0.5, 1):
        y = MARGIN_TOP + plot_height * (1 - fraction)
        lines.append(
            format_html(
                '<line class="chart-grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="chart-tick" x="{}" y="{}" text-anchor="end">{}</text>',
                MARGIN_LEFT,
                WIDTH,
                f"{y:.1f}",
                f"{y:.1f}",
                MARGIN_LEFT - 6,
                f"{y + 4:.1f}",
                _number(maximum * fraction) + (f" {unit}" if fraction == 1 and unit else ""),
            )
        )
    return _joined(lines)


def _x_labels(labels: Sequence[str], step: float) -> SafeString:
    every = max(1, len(labels) // 8)  # about eight labels, however many points
    return format_html_join(
        "",
        '<text class="chart-tick" x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (f"{MARGIN_LEFT + step * (index + 0.5):.1f}", HEIGHT - 6, label)
            for index, label in enumerate(labels)
            if index % every == 0 or index == len(labels) - 1
        ),
    )


def _table(title: str, labels: Sequence[str], series: Sequence[Series]) -> SafeString:
    head = format_html_join("", '<th scope="col">{}</th>', ((item.name,) for item in series))
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th>{}</tr>',
        (
            (
                label,
                format_html_join(
                    "",
                    '<td class="number">{}</td>',
                    ((_number(item.values[i]),) for item in series),
                ),
            )
            for i, label in enumerate(labels)
        ),
    )
    return format_html(
        '<details class="chart-data"><summary>{} as a table</summary><div class="table-wrap">'
        '<table><thead><tr><th scope="col"></th>{}</tr></thead><tbody>{}</tbody></table>'
        "</div></details>",
        title,
        head,
        rows,
    )


def _legend(series: Sequence[Series]) -> SafeString:
    return format_html_join(
        "",
        '<span class="chart-key"><span class="chart-swatch {}" aria-hidden="true"></span>{}</span>',
        ((item.css_class, item.name) for item in series),
    )


def stacked_bars(
    *, title: str, labels: Sequence[str], series: Sequence[Series], unit: str = ""
) -> SafeString:
    """One stacked bar per label (e.g. per run: sent, unchanged, failed)."""
    count = len(labels)
    totals = [sum(item.values[i] for item in series) for i in range(count)]
    maximum = _scale(max(totals, default=0))
    plot_height = HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    step = (WIDTH - MARGIN_LEFT) / max(count, 1)
    bars = []
    for index in range(count):
        bottom = MARGIN_TOP + plot_height
        for item in series:
            height = plot_height * item.values[index] / maximum
            if height <= 0:
                continue
            bottom -= height
            bars.append(
                format_html(
                    '<rect class="{}" x="{}" y="{}" width="{}" height="{}"><title>{}: {} {}</title></rect>',
                    item.css_class,
                    f"{MARGIN_LEFT + step * index + step * 0.15:.1f}",
                    f"{bottom:.1f}",
                    f"{step * 0.7:.1f}",
                    f"{height:.1f}",
                    labels[index],
                    _number(item.values[index]),
                    item.name.lower(),
                )
            )
    latest = (
        ", ".join(f"{item.name.lower()} {_number(item.values[-1])}" for item in series)
        if count
        else "no data"
    )
    return _figure(
        title,
        f"{title}: {count} bars; the latest: {latest}.",
        series,
        labels,
        _joined(bars),
        maximum,
        unit,
        step,
    )  # noqa: S308


def line(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    unit: str = "",
    css_class: str = "chart-line",
) -> SafeString:
    """A line through one value per label (e.g. the audience size per day)."""
    count = len(labels)
    maximum = _scale(max(values, default=0))
    plot_height = HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    step = (WIDTH - MARGIN_LEFT) / max(count, 1)
    points = " ".join(
        f"{MARGIN_LEFT + step * (index + 0.5):.1f},"
        f"{MARGIN_TOP + plot_height * (1 - value / maximum):.1f}"
        for index, value in enumerate(values)
    )
    dots = format_html_join(
        "",
        '<circle class="{}" cx="{}" cy="{}" r="3"><title>{}: {}</title></circle>',
        (
            (
                css_class,
                f"{MARGIN_LEFT + step * (index + 0.5):.1f}",
                f"{MARGIN_TOP + plot_height * (1 - value / maximum):.1f}",
                labels[index],
                _number(value),
            )
            for index, value in enumerate(values)
        ),
    )
    shape = format_html('<polyline class="{}" fill="none" points="{}"/>{}', css_class, points, dots)
    latest = _number(values[-1]) if count else "no data"
    series = [Series(title, values, css_class)]
    return _figure(
        title,
        f"{title}: {count} points; the latest: {latest}.",
        series,
        labels,
        shape,
        maximum,
        unit,
        step,
    )


def _figure(title, label, series, labels, shapes, maximum, unit, step) -> SafeString:
    return format_html(
        '<figure class="chart"><svg viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'preserveAspectRatio="xMinYMin meet">{}{}{}</svg>'
        '<figcaption class="small muted">{}</figcaption>{}</figure>',
        WIDTH,
        HEIGHT,
        label,
        _axis(maximum, unit),
        shapes,
        _x_labels(labels, step),
        _legend(series),
        _table(title, labels, series),
    )
