"""The dashboard: readers per newsletter, 90 days of activity, issues and the outbox."""

from flask import render_template

from newsletters.admin import charts
from newsletters.admin.blueprint import bp
from newsletters.services.console import dashboard as stats
from newsletters.services.issues import overview, totals
from newsletters.services.mail import outbox


@bp.get("/")
def dashboard():
    """Everything an audience team checks first thing in the morning."""
    activity = stats.activity(days=90)
    audience = totals.audience_over_time(limit=20)
    return render_template(
        "admin/dashboard.html",
        counts=stats.subscription_counts(),
        activity=activity,
        chart=charts.activity_chart(activity),
        audience=audience,
        audience_chart=charts.audience_chart(audience) if audience else None,
        issues=overview.issues_overview(limit=5),
        outbox_counts=outbox.status_counts(),
        outbox_failures=outbox.recent_failures(limit=5),
    )
