"""An issue's stories: the period's, as the editor arranged them.

Until an editor touches an issue, it carries its period's stories, newest first.
The editor's desk keeps two lists on the issue: ``story_order`` (the stories in
the order the editor put them, stories added by URL among them) and
``excluded_story_ids``. The issue then carries the ordered stories first, then any
of the period's stories that arrived since, newest first, leaving out the excluded
ones. Every path that renders an issue (sending, previews, tests) asks here, so
what an editor previews is what readers get.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.models import Issue, Newsletter, Story
from newsletters.services.issues.stories import stories_between


@dataclass(frozen=True)
class Candidate:
    """One story the editor may place in the issue, and whether it is in."""

    story: Story
    included: bool
    added: bool  # filed for this issue by URL, outside its period


def candidates(newsletter: Newsletter, issue: Issue, until: datetime) -> list[Candidate]:
    """Every story the issue could carry, in the issue's order, excluded ones in place.

    ``until`` cuts the period short (a run before the period ends covers up to now).
    """
    in_period = stories_between(newsletter, issue.period_start, min(issue.period_end, until))
    order = [int(i) for i in issue.story_order or []]
    excluded = {int(i) for i in issue.excluded_story_ids or []}
    by_id = {story.id: story for story in in_period}
    missing = [i for i in order if i not in by_id]
    if missing:  # stories the editor added by URL (or moved out of the period since)
        by_id.update(
            (story.id, story)
            for story in db.session.scalars(
                select(Story).where(Story.id.in_(missing), Story.newsletter_id == newsletter.id)
            )
        )
    period_ids = {story.id for story in in_period}
    placed = [by_id[i] for i in dict.fromkeys(order) if i in by_id]
    placed_ids = {story.id for story in placed}
    arrivals = [story for story in in_period if story.id not in placed_ids]
    return [
        Candidate(story, story.id not in excluded, story.id not in period_ids)
        for story in placed + arrivals
    ]


def lineup(newsletter: Newsletter, issue: Issue, until: datetime) -> list[Story]:
    """The stories the issue carries, in order."""
    return [c.story for c in candidates(newsletter, issue, until) if c.included]
