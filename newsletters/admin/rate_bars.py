"""Complaint rates as server-rendered SVG bars against the 0.1% and 0.3% lines: no script.

The bars are drawings of numbers written beside them in words, so they are
hidden from screen readers; the table cell says the rate and its standing.
"""

from markupsafe import Markup

from newsletters.services.deliverability.stats import DANGER_LINE, WARNING_LINE, Rates

SCALE = 0.005  # a full bar is 0.5%; anything above is drawn full, with an arrow
WIDTH, HEIGHT, AXIS_HEIGHT = 200, 20, 18
LINES = (WARNING_LINE, DANGER_LINE)


def _x(rate: float) -> float:
    return WIDTH * min(rate, SCALE) / SCALE


def _svg(height: int, css_class: str, body: str) -> Markup:
    return Markup(
        f'<svg class="{css_class}" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" aria-hidden="true" focusable="false" xmlns="http://www.w3.org/2000/svg">{body}</svg>'
    )


def complaint_bar(rates: Rates) -> Markup:
    """One row's complaint rate as a bar, coloured by level (grey when too few to judge)."""
    rate = rates.complaint_rate or 0.0
    level = rates.level if rates.enough_volume else "unjudged"
    parts = [f'<rect class="rate-bar__track" x="0" y="4" width="{WIDTH}" height="12" rx="2"/>']
    if rate > 0:
        width = max(_x(rate), 2.0)
        parts.append(
            f'<rect class="rate-bar__value rate-bar__value--{level}" x="0" y="4" '
            f'width="{width:.1f}" height="12" rx="2"/>'
        )
    if rate > SCALE:
        parts.append(
            f'<path class="rate-bar__more" d="M{WIDTH - 9} 6 L{WIDTH - 2} 10 L{WIDTH - 9} 14 Z"/>'
        )
    for line in LINES:
        parts.append(
            f'<line class="rate-bar__line" x1="{_x(line):.1f}" x2="{_x(line):.1f}" '
            f'y1="0" y2="{HEIGHT}"/>'
        )
    return _svg(HEIGHT, f"rate-bar rate-bar--{level}", "".join(parts))


def axis() -> Markup:
    """The scale under a column of bars: 0, the two lines, and the end of the scale."""
    ticks = [(0.0, "0", "start"), *((line, f"{line:.1%}", "middle") for line in LINES)]
    ticks.append((SCALE, f"{SCALE:.1%}+", "end"))
    parts = [
        f'<text class="rate-axis__tick" x="{_x(value):.1f}" y="13" text-anchor="{anchor}">'
        f"{label}</text>"
        for value, label, anchor in ticks
    ]
    return _svg(AXIS_HEIGHT, "rate-axis", "".join(parts))
