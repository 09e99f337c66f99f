"""An issue as it went out in each language: the one place that stores and reads them.

The issue's own columns hold the default language's rendering (what the console, the
archive and every older issue have always read); each other language the site offered
when the issue started sending has an :class:`IssueTranslation` row. A language with no
rendering, because it was added later or the reader's saved one is not offered, reads
the default one.
"""

from sqlalchemy import select

from newsletters.extensions import db
from newsletters.locales import default_language
from newsletters.models import Issue, IssueTranslation
from newsletters.services.mail.render import RenderedEmail


def save(issue: Issue, rendered: dict[str, RenderedEmail]) -> None:
    """Keep the issue's other languages; the caller's transaction commits them."""
    db.session.add_all(
        IssueTranslation(
            issue_id=issue.id,
            language=language,
            subject=email.subject,
            text_body=email.text,
            html_body=email.html,
        )
        for language, email in rendered.items()
    )


def renderings(issue: Issue) -> dict[str, RenderedEmail]:
    """Every rendering of an issue that went out, by language, the default first."""
    found = {default_language(): in_default_language(issue)}
    rows = db.session.scalars(select(IssueTranslation).where(IssueTranslation.issue_id == issue.id))
    for row in rows:
        found.setdefault(
            row.language, RenderedEmail(subject=row.subject, text=row.text_body, html=row.html_body)
        )
    return found


def rendering_in(issue: Issue, language: str | None) -> RenderedEmail:
    """The issue as it went out in ``language``: that rendering, or the default one."""
    if not language or language == default_language():
        return in_default_language(issue)
    row = db.session.scalar(
        select(IssueTranslation).where(
            IssueTranslation.issue_id == issue.id, IssueTranslation.language == language
        )
    )
    if row is None:
        return in_default_language(issue)
    return RenderedEmail(subject=row.subject, text=row.text_body, html=row.html_body)


def in_default_language(issue: Issue) -> RenderedEmail:
    """The issue as it went out in the default language (its own columns)."""
    return RenderedEmail(
        subject=issue.subject or "", text=issue.text_body or "", html=issue.html_body or ""
    )
