"""Server-rendered inline SVG charts for the report pages: no JavaScript, no dependencies.

Every chart is one `<svg>` with a viewBox 360 units wide (the 360 px phone baseline) and `width="100%"`
and no fixed size, so it scales to its container on a phone, a desktop and paper. It is an image to
assistive technology (`role="img"`, `aria-label` and a `<title>`), every piece of text is escaped, and
each shape carries a `chart-*` class for the stylesheet plus presentation attributes (fill, stroke,
font-size) so it reads correctly with no stylesheet at all. Inline `style` is never used: the
Content-Security-Policy is `style-src 'self'`. The font family is inherited from the page.

Colours are chosen to stay apart in greyscale print: pale bars, a dark line with hollow markers,
dark rate bars. Rates are fractions 0–1 (None = no data, shown as a gap or
"—"); values outside 0–1 are clamped. Text is FONT (15) viewBox units: a chart is drawn about 297 px wide on a
360 px phone (inside the page's and the card's padding), so its text is 12.4 px there; the stylesheet keeps a
chart at most 26rem wide, so on a desk its text stays about 17 px.
"""

from __future__ import annotations

import math
import re
import unicodedata

from markupsafe import Markup, escape

WIDTH = 360  # viewBox width; the phone baseline
PAD = 4  # outer margin inside the viewBox
FONT = 15  # text size in viewBox units (≥ 12 px in a report card on a 360 px phone: 15 × 297 / 360)

TEXT = "#1f2933"
MUTED = "#52606d"
GRID = "#e4e7eb"
AXIS = "#9aa5b1"
BAR = "#9fb3c8"  # light blue-grey: reads as a pale grey on paper
LINE = "#b3261e"  # the masthead red: reads as a dark grey on paper
RATE = "#1f6e8c"  # dark teal: a dark grey on paper

NO_VALUE = "—"
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NARROW = set(" .,:;'|!il()[]{}-/")


def _clean(text: object) -> str:
    """A label as one line of text that is valid in XML (control characters dropped, newlines as spaces)."""
    return _XML_INVALID.sub("", re.sub(r"[\r\n\t]+", " ", str(text)))


def _num(value: float) -> str:
    """A coordinate with at most one decimal and no trailing zeros."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def text_width(text: str, size: float = FONT) -> float:
    """An estimate of the width of a line of text in viewBox units (CJK full width, Latin about 0.6 em)."""
    width = 0.0
    for char in text:
        if unicodedata.east_asian_width(char) in ("W", "F"):
            width += 1.0
        elif char in _NARROW:
            width += 0.35
        else:
            width += 0.62
    return width * size


def truncate(text: str, max_width: float, size: float = FONT) -> str:
    """The text, cut and ended with "…" when it is wider than max_width."""
    if text_width(text, size) <= max_width:
        return text
    ellipsis = text_width("…", size)
    out = ""
    for char in text:
        if text_width(out + char, size) + ellipsis > max_width:
            break
        out += char
    return out.rstrip() + "…"


def clamp_rate(value: float | None) -> float | None:
    """A rate clamped to 0–1; None (and NaN) stay None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return min(1.0, max(0.0, float(value)))


def rate_text(value: float | None) -> str:
    """A rate as "87.5%" (clamped to 0–100 %), or "—" for None."""
    value = clamp_rate(value)
    return NO_VALUE if value is None else f"{value * 100:.1f}%"


def _text(x: float, y: float, content: str, cls: str, *, anchor: str = "start", fill: str = TEXT, **attrs) -> str:
    """One <text> element with its baseline at (x, y), its content and attributes escaped."""
    extra = "".join(f' {name}="{escape(value)}"' for name, value in attrs.items())
    anchor_attr = "" if anchor == "start" else f' text-anchor="{anchor}"'
    return (
        f'<text class="{cls}" x="{_num(x)}" y="{_num(y)}" font-size="{FONT}" fill="{fill}"{anchor_attr}{extra}>'
        f"{escape(content)}</text>"
    )


def _svg(kind: str, height: float, label: str, body: list[str]) -> Markup:
    """The root <svg> around body: viewBox, full width, an image with an accessible name and a <title>."""
    label = _clean(label)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" viewBox="0 0 {WIDTH} {_num(height)}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>" + "".join(body) + "</svg>"
    )


def _empty(kind: str, empty_text: str) -> Markup:
    """A small chart holding only the caller's (translated) "no data" sentence."""
    empty_text = _clean(empty_text)
    shown = truncate(empty_text, WIDTH - 2 * PAD)
    return _svg(
        kind + " chart-empty", FONT + 20, empty_text, [_text(PAD, FONT + 9, shown, "chart-empty-text", fill=MUTED)]
    )


def _nice_step(raw: float) -> int:
    """The smallest "round" whole step (1, 2, 2.5, 5 × 10ⁿ) at least raw."""
    if raw <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step >= raw and float(step).is_integer():
            return int(step)
    return int(10 * magnitude)  # pragma: no cover - the loop always ends at 10 × magnitude


def _legend(items: list[tuple[str, str]], y0: float) -> tuple[list[str], float]:
    """Legend entries (kind "bar" or "line", text) laid out in one row if they fit, else one per row."""
    swatch = 18  # key width plus its gap before the text
    gap = 16
    room = WIDTH - 2 * PAD
    widths = [swatch + text_width(text) for _, text in items]
    one_row = sum(widths) + gap * (len(items) - 1) <= room
    out, x, y = [], PAD, y0 + FONT
    for index, (kind, text) in enumerate(items):
        if index and not one_row:
            x, y = PAD, y + FONT + 6
        shown = truncate(text, room - swatch)
        if kind == "bar":
            out.append(
                f'<rect class="chart-key chart-key-bar" x="{_num(x)}" y="{_num(y - 10)}" width="12" height="12" '
                f'fill="{BAR}"/>'
            )
        else:
            out.append(
                f'<line class="chart-key chart-key-line" x1="{_num(x)}" y1="{_num(y - 4)}" '
                f'x2="{_num(x + 14)}" y2="{_num(y - 4)}" '
                f'stroke="{LINE}" stroke-width="2.5"/>'
                f'<circle class="chart-key chart-key-point" cx="{_num(x + 7)}" cy="{_num(y - 4)}" r="3" fill="#fff" '
                f'stroke="{LINE}" stroke-width="2"/>'
            )
        out.append(_text(x + swatch, y, shown, "chart-legend"))
        x += widths[index] + gap
    return out, y + 6


def _month_labels(labels: list[str], centres: list[float], slot: float, baseline: float) -> tuple[list[str], float]:
    """Labels "YYYY-MM" too wide for their slot: the month ("07") under every k-th bar, the year beneath."""
    months = [MONTH_RE.match(label) for label in labels]
    month_room = text_width("00") + 4
    step = next((k for k in (1, 2, 3, 4, 6, 12) if slot * k >= month_room), 12)
    out = []
    years: list[tuple[float, str]] = []
    for index, match in enumerate(months):
        year, month = match.group(1), int(match.group(2))
        if (month - 1) % step:
            continue
        out.append(_text(centres[index], baseline, f"{month:02d}", "chart-label", anchor="middle"))
        if not years or month == 1 or years[-1][1] != year:
            years.append((centres[index], year))
    year_width = text_width("0000")
    if len(years) >= 2 and years[1][0] - years[0][0] < year_width + 6:
        years.pop(0)  # the partial first year would collide with the next one
    last = -math.inf
    year_line = baseline + FONT + 3
    for x, year in years:
        if x - last < year_width + 6:
            continue
        x = min(max(x, PAD + year_width / 2), WIDTH - PAD - year_width / 2)
        out.append(_text(x, year_line, year, "chart-label chart-label-year", anchor="middle", fill=MUTED))
        last = x
    return out, year_line + 4


def _rotated_labels(labels: list[str], centres: list[float], slot: float, baseline: float) -> tuple[list[str], float]:
    """Labels too wide for their slot: every k-th one, turned 45°, ending under its bar."""
    step = max(1, math.ceil(FONT * 1.9 / slot))
    out, deepest = [], 0.0
    for index in range(0, len(labels), step):
        x = centres[index] + FONT * 0.3
        room = min(90.0, (x - PAD) / 0.71)
        shown = truncate(labels[index], room)
        deepest = max(deepest, text_width(shown) * 0.71)
        y = baseline - FONT * 0.3
        out.append(_text(x, y, shown, "chart-label", anchor="end", transform=f"rotate(-45 {_num(x)} {_num(y)})"))
    return out, baseline + deepest + 4


def trend_chart(
    labels: list[str],
    bars: list[int],
    line: list[float | None],
    *,
    bar_label: str,
    line_label: str,
    empty_text: str = "",
    title: str = "",
) -> Markup:
    """A monthly trend: bars of counts on the left axis, a 0–1 rate as a broken line on a 0–100 % right axis."""
    if not (len(labels) == len(bars) == len(line)):
        raise ValueError(
            f"trend_chart needs as many bars and line values as labels ({len(labels)}, {len(bars)}, {len(line)})"
        )
    bar_label, line_label = _clean(bar_label), _clean(line_label)
    if not labels:
        return _empty("trend", empty_text or title)
    labels = [_clean(label) for label in labels]
    counts = [max(0, int(value or 0)) for value in bars]
    rates = [clamp_rate(value) for value in line]

    body, plot_top = _legend([("bar", bar_label), ("line", line_label)], PAD)
    plot_top += 10
    plot_h = 160.0
    plot_bottom = plot_top + plot_h

    step = _nice_step(max(counts) / 4)
    top = step * 4
    ticks = [step * i for i in range(5)]
    left_w = max(text_width(f"{tick:,}") for tick in ticks)
    left = PAD + left_w + 5
    right = WIDTH - PAD - text_width("100%") - 5
    plot_w = right - left
    slot = plot_w / len(labels)

    def y_count(value: float) -> float:
        """The y of a count on the left axis."""
        return plot_bottom - plot_h * value / top

    def y_rate(value: float) -> float:
        """The y of a 0–1 rate on the right axis."""
        return plot_bottom - plot_h * value

    for index, tick in enumerate(ticks):
        y = y_count(tick)
        body.append(
            f'<line class="chart-grid" x1="{_num(left)}" y1="{_num(y)}" x2="{_num(right)}" y2="{_num(y)}" '
            f'stroke="{AXIS if index == 0 else GRID}" stroke-width="1"/>'
        )
        body.append(_text(left - 4, y + FONT * 0.35, f"{tick:,}", "chart-tick chart-tick-left", anchor="end"))
        body.append(_text(right + 4, y + FONT * 0.35, f"{index * 25}%", "chart-tick chart-tick-right"))

    centres = [left + slot * (index + 0.5) for index in range(len(labels))]
    bar_w = max(1.0, min(slot * 0.7, 36.0))
    for label, x, count in zip(labels, centres, counts, strict=True):
        height = plot_h * count / top
        body.append(
            f'<rect class="chart-bar" x="{_num(x - bar_w / 2)}" y="{_num(plot_bottom - height)}" '
            f'width="{_num(bar_w)}" height="{_num(height)}" fill="{BAR}">'
            f"<title>{escape(label)}: {escape(bar_label)} {count:,}</title></rect>"
        )

    runs: list[list[tuple[float, float]]] = [[]]
    for x, rate in zip(centres, rates, strict=True):
        if rate is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((x, y_rate(rate)))
    for run in runs:
        if len(run) >= 2:
            path = " ".join(f"{'M' if i == 0 else 'L'}{_num(x)} {_num(y)}" for i, (x, y) in enumerate(run))
            body.append(
                f'<path class="chart-line" d="{path}" fill="none" stroke="{LINE}" stroke-width="2.5" '
                'stroke-linejoin="round" stroke-linecap="round"/>'
            )
    radius = _num(max(2.0, min(3.5, slot / 3)))
    for label, x, rate in zip(labels, centres, rates, strict=True):
        if rate is not None:
            body.append(
                f'<circle class="chart-point" cx="{_num(x)}" cy="{_num(y_rate(rate))}" r="{radius}" fill="#fff" '
                f'stroke="{LINE}" stroke-width="2"><title>{escape(label)}: {escape(line_label)} '
                f"{rate_text(rate)}</title></circle>"
            )

    baseline = plot_bottom + 4 + FONT
    if all(text_width(label) + 6 <= slot for label in labels):
        labels_svg = [
            _text(x, baseline, label, "chart-label", anchor="middle") for x, label in zip(centres, labels, strict=True)
        ]
        bottom = baseline + 4
    elif all(MONTH_RE.match(label) for label in labels):
        labels_svg, bottom = _month_labels(labels, centres, slot, baseline)
    else:
        labels_svg, bottom = _rotated_labels(labels, centres, slot, baseline)
    body.extend(labels_svg)
    return _svg("trend", bottom + PAD, title or f"{bar_label} · {line_label}", body)


def rate_bars(items: list[tuple[str, float | None]], *, empty_text: str = "", title: str = "") -> Markup:
    """Horizontal bars of a 0–1 rate per item: name on the left, "87.5%" after the bar, "—" and no bar for None."""
    if not items:
        return _empty("rates", empty_text or title)
    rows = [(_clean(name), clamp_rate(value)) for name, value in items]
    row_h, bar_h = 30, 16
    label_w = min(135.0, max(text_width(name) for name, _ in rows))
    bar_x = PAD + label_w + 8
    value_w = text_width("100.0%") + 6
    bar_max = WIDTH - PAD - value_w - bar_x
    height = PAD * 2 + row_h * len(rows)
    body = [
        f'<line class="chart-axis" x1="{_num(bar_x)}" y1="{PAD}" x2="{_num(bar_x)}" y2="{_num(height - PAD)}" '
        f'stroke="{AXIS}" stroke-width="1"/>'
    ]
    for index, (name, value) in enumerate(rows):
        mid = PAD + row_h * index + row_h / 2
        shown = rate_text(value)
        body.append(f'<g class="chart-row"><title>{escape(name)}: {escape(shown)}</title>')
        body.append(_text(PAD, mid + FONT * 0.35, truncate(name, label_w), "chart-label"))
        if value is None:
            body.append(_text(bar_x + 6, mid + FONT * 0.35, NO_VALUE, "chart-value chart-value-none", fill=MUTED))
        else:
            length = bar_max * value
            body.append(
                f'<rect class="chart-bar" x="{_num(bar_x)}" y="{_num(mid - bar_h / 2)}" width="{_num(length)}" '
                f'height="{bar_h}" fill="{RATE}"/>'
            )
            body.append(_text(bar_x + length + 4, mid + FONT * 0.35, shown, "chart-value"))
        body.append("</g>")
    label = title or "; ".join(f"{name} {rate_text(value)}" for name, value in rows)
    return _svg("rates", height, label, body)
