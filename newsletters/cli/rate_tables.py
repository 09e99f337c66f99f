"""The bounce and complaint rates as plain-text tables, for a terminal and for cron's mail."""

from newsletters.services.deliverability.stats import DANGER, DANGER_LINE, WARNING, Rates, Stats

COLUMNS = ("sent", "hard", "bounce rate", "soft", "complaints", "complaint rate", "standing")
LABEL_WIDTH = 44


def percent(rate: float | None) -> str:
    """A rate as a percentage with two decimals; a dash when nothing was sent."""
    return "-" if rate is None else f"{rate * 100:.2f}%"


def _cells(rates: Rates) -> list[str]:
    return [
        f"{rates.sent:,}",
        f"{rates.hard:,}",
        percent(rates.bounce_rate),
        f"{rates.soft:,}",
        f"{rates.complaints:,}",
        percent(rates.complaint_rate),
        rates.standing,
    ]


def _label(rates: Rates) -> str:
    text = f"{rates.label} · {rates.detail}" if rates.detail else rates.label
    return text if len(text) <= LABEL_WIDTH else text[: LABEL_WIDTH - 1] + "…"


def table(title: str, name: str, rows: list[Rates], empty: str) -> list[str]:
    """A titled table, numbers right-aligned, the standing in words last."""
    lines = ["", title]
    if not rows:
        return [*lines, f"  {empty}"]
    body = [[_label(r), *_cells(r)] for r in rows]
    head = [name, *COLUMNS]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    for row in [head, *body]:
        numbers = [cell.rjust(width) for cell, width in zip(row[1:-1], widths[1:-1], strict=True)]
        lines.append("  " + "  ".join([row[0].ljust(widths[0]), *numbers, row[-1]]).rstrip())
    return lines


def _summary(total: Rates) -> str:
    return (
        f"All issues together: {total.sent:,} sent, {total.hard:,} hard bounces "
        f"({percent(total.bounce_rate)}), {total.soft:,} soft, {total.complaints:,} complaints "
        f"({percent(total.complaint_rate)}): {total.standing}."
    )


def report(stats: Stats) -> list[str]:
    """Everything ``flask bounces stats`` prints before its verdict."""
    lines = [
        f"Bounce and complaint rates of the messages sent from {stats.since:%Y-%m-%d %H:%M} "
        f"to {stats.until:%Y-%m-%d %H:%M} UTC ({stats.days} days).",
        f"Gmail and Yahoo's complaint lines: 0.1% and 0.3%. A rate is judged from "
        f"{stats.min_sent:,} messages sent; below that it is shown, not judged.",
        "",
        _summary(stats.total),
    ]
    lines += table("Issues", "issue", stats.issues, "No issue was sent in these days.")
    lines += table("Newsletters", "newsletter", stats.newsletters, "No newsletter sent anything.")
    shown = len(stats.domains)
    title = "Domains" + (
        f" (the busiest {shown} of {stats.domain_count}, and any above a line)"
        if stats.other_domains
        else ""
    )
    lines += table(title, "domain", stats.domains, "No message went to any domain.")
    if stats.other_domains:
        lines += table("The other domains, together", "domains", [stats.other_domains], "")
    return lines


def _crossing(table_name: str, rates: Rates) -> str:
    what = "all issues together" if table_name == "total" else f"{table_name} {rates.label}"
    return (
        f"{what}: {percent(rates.complaint_rate)} complaints "
        f"({rates.complaints:,} in {rates.sent:,} messages)"
    )


def verdict(stats: Stats) -> tuple[list[str], bool]:
    """The lines that say which line was crossed, and whether it was the danger line."""
    danger, warning = stats.above(DANGER), stats.above(WARNING)
    lines = [""]
    for table_name, rates in danger:
        lines.append(
            f"DANGER: at or above the {DANGER_LINE:.1%} complaint line, where Gmail and Yahoo "
            f"refuse or junk bulk mail: {_crossing(table_name, rates)}."
        )
    for table_name, rates in warning:
        lines.append(
            f"Warning: at or above the 0.1% complaint line: {_crossing(table_name, rates)}."
        )
    if not danger and not warning:
        lines.append("Every judged complaint rate is below 0.1%.")
    return lines, bool(danger)
