"""Deliverability: bounce and complaint rates against the lines Gmail and Yahoo draw."""

from flask import render_template

from newsletters.admin import rate_bars
from newsletters.admin.blueprint import bp
from newsletters.services.deliverability import stats, stored_reports


@bp.get("/deliverability")
def deliverability():
    """Rates per issue, newsletter and domain over 30 days, and the latest reports (any role)."""
    return render_template(
        "admin/deliverability.html",
        stats=stats.window_stats(),
        lines=(stats.WARNING_LINE, stats.DANGER_LINE),
        bar=rate_bars.complaint_bar,
        axis=rate_bars.axis(),
        reports=stored_reports.latest(),
        kept_days=stored_reports.kept_days(),
    )
