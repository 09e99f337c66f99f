"""A server-rendered SVG line chart: no script, no chart library, readable by screen readers."""

from markupsafe import Markup, escape

from newsletters.services.console.dashboard import Activity

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28
COLOURS = {"signups": "#0b4f8a", "confirmations": "#1e6b3a", "unsubscribes": "#a1261b"}
LABELS = {"signups": "Signups", "confirmations": "Confirmations", "unsubscribes": "Unsubscribes"}


def _nice_ceiling(value: int) -> int:
    """The next round number at or above ``value``, for the y axis."""
    if value <= 4:
        return 4
    step = 10 ** (len(str(value)) - 1)
    for multiple in (1, 2, 2.5, 5, 10):
        if value <= multiple * step:
            return int(multiple * step)
    return value


def activity_chart(activity: Activity) -> Markup:
    """Three lines over the days of ``activity``, with axes and a legend."""
    days = len(activity.days)
    top = _nice_ceiling(max([1, *(max(s) for s in activity.series.values())]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / max(days - 1, 1))

    def y(v: int) -> float:
        return TOP + plot_h - plot_h * v / top

    parts = []
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        value = round(top * fraction)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" '
            f'y2="{y(value):.1f}"/><text class="tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{value}</text>'
        )
    for i in range(0, days, max(days // 6, 1)):
        parts.append(
            f'<text class="tick" x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{activity.days[i]:%d %b}</text>"
        )
    for name, values in activity.series.items():
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<polyline class="series series--{name}" fill="none" stroke="{COLOURS[name]}" '
            f'stroke-width="2" points="{points}"><title>{LABELS[name]}</title></polyline>'
        )
    totals = ", ".join(f"{activity.total(n)} {LABELS[n].lower()}" for n in activity.series)
    label = escape(f"Daily activity over the last {days} days: {totals}.")
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )
