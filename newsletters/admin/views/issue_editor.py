"""The issue editor: an issue's words and stories, its preview and tests, and the way in.

``/issues/<key>/preview`` and ``/issues/<key>/test`` serve two pages: the editor's
(the key is an issue's id) and the issues list's (the key is a newsletter's slug,
meaning its next issue).
"""

from uuid import UUID

from flask import Response, abort, flash, redirect, render_template, request, url_for

from newsletters.admin import issue_page
from newsletters.admin.blueprint import audited, bp
from newsletters.admin.forms import IssueTestForm, StoryByUrlForm, TestSendForm
from newsletters.admin.views.content import issues_page
from newsletters.dev.routes import EMAIL_PREVIEW_CSP
from newsletters.errors import InvalidInput, IssueStateConflict
from newsletters.models import utcnow
from newsletters.services.issues import editing, overview, previews, stories

MOVES = {"up": -1, "down": 1}
PREVIEW_HEADERS = {"Content-Security-Policy": EMAIL_PREVIEW_CSP}


def _is_uuid(key: str) -> bool:
    try:
        UUID(key)
    except ValueError:
        return False
    return True


def _editor(uuid: str, anchor: str | None = None):
    return redirect(url_for("admin.issue_editor", uuid=uuid, _anchor=anchor))


def _refused(uuid: str, error: InvalidInput | IssueStateConflict, fallback: str | None = None):
    """The editor again, with the typed values and the message: 400, or 409 when the issue
    has moved on (it is then shown read-only)."""
    status = 409 if isinstance(error, IssueStateConflict) else 400
    issue = overview.issue_by_uuid(uuid)
    return issue_page.editor_page(issue, error=error, status=status, fallback=fallback)


def _move(value: str) -> tuple[str, int] | None:
    """(story id, offset) from a Move button's value, like ``up:<story id>``."""
    if not value:
        return None
    direction, _, story = value.partition(":")
    if direction not in MOVES or not story:
        raise InvalidInput("Choose a story to move.", "story")
    return story, MOVES[direction]


@bp.route("/issues/<uuid>", methods=["GET", "POST"])
def issue_editor(uuid: str):
    """The editor; a POST saves the form (and moves a story when a Move button was pressed)."""
    issue = overview.issue_by_uuid(uuid)
    if request.method == "GET":
        return issue_page.editor_page(issue)
    now = utcnow()
    try:
        draft = issue_page.posted_draft()
        if draft is None:
            raise InvalidInput("The form came without its fields. Reload the page and try again.")
        move = _move(request.form.get("move", ""))

        def apply():
            editing.save_draft(uuid, draft, now)
            if move:
                editing.move_story(uuid, move[0], move[1], now)

        detail = {"move": request.form["move"]} if move else {}
        audited("issue.save", "issue", uuid, apply, detail=detail)
    except (InvalidInput, IssueStateConflict) as error:
        return _refused(uuid, error, fallback="subject")
    if move:
        title = stories.story_by_uuid(move[0]).title
        flash(f"Saved, and moved “{title}” {'up' if move[1] < 0 else 'down'}.")
        return _editor(uuid, f"story-{move[0]}")
    flash("Saved.")
    return _editor(uuid)


@bp.post("/issues/<uuid>/stories")
def add_issue_story(uuid: str):
    """Add the article at a link to the issue (its page is read for title, summary, picture)."""
    overview.issue_by_uuid(uuid)
    form = StoryByUrlForm()
    url, title = (form.url.data or "").strip(), (form.title.data or "").strip()
    now = utcnow()

    def apply():
        issue_page.save_posted(uuid, now)
        return editing.add_story_by_url(uuid, url, now, title)

    try:
        story = audited("issue.add_story", "issue", uuid, apply, detail={"url": url[:2048]})
    except (InvalidInput, IssueStateConflict) as error:
        return _refused(uuid, error, fallback="url")
    flash(f"Added “{story.title}” at the end of the issue.")
    return _editor(uuid, f"story-{story.uuid}")


@bp.route("/issues/<key>/preview", methods=["GET", "POST"])
def preview_issue(key: str):
    """An issue as readers would get it, in the editor's frame: as saved (GET), or with the
    form's unsaved changes (POST; nothing is written). ``format=text``: its plain text.

    With a newsletter's slug: its next issue as it stands now (GET only).
    """
    now = utcnow()
    if not _is_uuid(key):
        if request.method != "GET":
            abort(405)
        try:
            _, email, _ = previews.preview_next(
                key, now, request.args.get("frequency") or None, request.args.get("language")
            )
        except InvalidInput as error:
            abort(400, error.message)
        return Response(email.html, headers=PREVIEW_HEADERS)
    issue = overview.issue_by_uuid(key)
    draft = issue_page.posted_draft()
    text = request.values.get("format") == "text"
    try:
        email = previews.render_preview(issue, now, draft, request.values.get("language"))
    except InvalidInput as error:
        page = render_template("admin/issue_preview_problem.html", error=error)
        return Response(page, status=400, headers=PREVIEW_HEADERS)
    preheader = " ".join(draft.preheader.split()) if draft else issue.preheader
    page = issue_page.preview_page(issue, email, text=text, preheader=preheader)
    return Response(page, headers=PREVIEW_HEADERS)


@bp.post("/issues/<key>/test")
def test_issue(key: str):
    """Mail a test of an issue (from its editor, to a few addresses), or of a newsletter's
    next issue (from the issues list, to one address)."""
    if not _is_uuid(key):
        return _test_next_issue(key)
    overview.issue_by_uuid(key)
    addresses = IssueTestForm().addresses.data or ""
    now = utcnow()

    def apply():
        issue_page.save_posted(key, now)
        return previews.send_test(key, addresses, now, request.form.get("language"))

    try:
        sent_to = audited("issue.test", "issue", key, apply, detail=lambda to: {"to": to})
    except (InvalidInput, IssueStateConflict) as error:
        return _refused(key, error, fallback="addresses")
    flash(f"A test is on its way to {', '.join(sent_to)}.")
    return _editor(key, "test")


def _test_next_issue(slug: str):
    form = TestSendForm()
    if form.validate_on_submit():
        try:
            sent_to = audited(
                "issue.test",
                "newsletter",
                slug,
                lambda: previews.send_test_of_next(
                    slug, form.address.data, utcnow(), request.form.get("frequency") or None
                ),
                detail={"to": form.address.data},
            )
        except InvalidInput as error:
            flash(error.message)
        else:
            flash(f"A test of the next issue is on its way to {', '.join(sent_to)}.")
    else:
        flash("Enter the address to send the test to.")
    return redirect(url_for("admin.issues_list"))


@bp.post("/issues/next/<slug>")
def open_next_issue(slug: str):
    """Open a newsletter's next issue in the editor (a draft is made if there is none)."""
    try:
        issue = audited(
            "issue.open",
            "newsletter",
            slug,
            lambda: editing.open_next_issue(slug, utcnow(), request.form.get("frequency") or None),
            detail=lambda issue: {"issue": str(issue.uuid)},
        )
    except InvalidInput as error:
        return issues_page(error=error), 400
    return _editor(str(issue.uuid))
