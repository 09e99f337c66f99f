"""A sample issue: how a newsletter's emails look, for the console to show beside its form."""

from datetime import datetime

from newsletters.models import Issue, Newsletter, Story
from newsletters.services.issues.compose import render_issue
from newsletters.services.issues.schedule import current_period
from newsletters.services.mail.render import RenderedEmail


def sample_issue(newsletter: Newsletter, now: datetime) -> RenderedEmail:
    """An issue of one made-up story, in the newsletter's branding as saved.

    Nothing is written: the issue and its story are never added to the session.
    """
    period = current_period(newsletter, now)
    issue = Issue(period_start=period.start, period_end=period.end)
    story = Story(
        title="A sample story, to show the colours",
        url="#",
        summary="Each story has its headline, a summary and a link in the accent colour.",
    )
    return render_issue(newsletter, issue, [story], preferences_url="#", unsubscribe_url="#")
