"""A server-rendered SVG line chart: no script, no chart library, readable by screen readers."""

from markupsafe import Markup, escape

from newsletters.services.console.dashboard import Activity
from newsletters.services.issues.totals import AudiencePoint

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

    parts = _grid(top, y)
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


AUDIENCE_COLOURS = {"opens": "#0b4f8a", "clicks": "#b4540a"}
RADII = {"opens": 5, "clicks": 3}  # equal values stay visible: the click dot sits inside


def _grid(top: int, y) -> list[str]:
    """The horizontal rules and their values, shared by the charts."""
    parts = []
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        value = round(top * fraction)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" '
            f'y2="{y(value):.1f}"/><text class="tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" '
            f'text-anchor="end">{value}</text>'
        )
    return parts


def _audience_series(points: list[AudiencePoint], name: str, x, y) -> list[str]:
    """One line (opens or clicks) with a marker, named for screen readers, per issue."""
    known = [(i, getattr(p, name)) for i, p in enumerate(points) if getattr(p, name) is not None]
    if not known:
        return []
    parts = [
        f'<polyline class="series series--{name}" fill="none" stroke="{AUDIENCE_COLOURS[name]}" '
        f'stroke-width="2" points="{" ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in known)}">'
        f"<title>{name.capitalize()}</title></polyline>"
    ]
    for i, value in known:
        point = points[i]
        label = escape(f"{point.newsletter}, {point.sent_at:%d %b %Y}: {value} {name}")
        parts.append(
            f'<circle class="point point--{name}" cx="{x(i):.1f}" cy="{y(value):.1f}" '
            f'r="{RADII[name]}">'
            f"<title>{label}</title></circle>"
        )
    return parts


def audience_chart(points: list[AudiencePoint]) -> Markup:
    """People's opens and clicks for each sent issue that counted them, oldest first."""
    values = [v for p in points for v in (p.opens, p.clicks) if v is not None]
    top = _nice_ceiling(max([1, *values]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        if len(points) == 1:
            return LEFT + plot_w / 2  # one issue: a point in the middle, not on the axis
        return LEFT + (plot_w * i / (len(points) - 1))

    def y(v: int) -> float:
        return TOP + plot_h - plot_h * v / top

    parts = _grid(top, y)
    for i in range(0, len(points), max(len(points) // 6, 1)):
        parts.append(
            f'<text class="tick" x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
            f"{points[i].sent_at:%d %b}</text>"
        )
    for name in AUDIENCE_COLOURS:
        parts.extend(_audience_series(points, name, x, y))
    opens = sum(p.opens or 0 for p in points)
    clicks = sum(p.clicks or 0 for p in points)
    label = escape(
        f"Opens and clicks by people for the last {len(points)} issues that counted them: "
        f"{opens} opens and {clicks} clicks in all."
    )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )
