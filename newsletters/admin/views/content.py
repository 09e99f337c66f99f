"""Stories and issues: what goes out, and what happened when it did."""

from flask import flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from newsletters.admin.blueprint import audited, bp
from newsletters.admin.forms import ActionForm, StoryForm, TestSendForm, show_refusal
from newsletters.errors import InvalidInput
from newsletters.services import catalogue
from newsletters.services.catalogue import all_newsletters
from newsletters.services.issues import overview, stories
from newsletters.services.issues.stories import StoryInput
from newsletters.services.rhythm.choice import offered


def _story_form(story=None) -> StoryForm:
    form = StoryForm(obj=story)
    form.newsletter.choices = [
        SelectChoice(n.slug, n.name) for n in all_newsletters() if n.in_service
    ]
    if story is not None and not form.is_submitted():
        form.newsletter.data = story.newsletter.slug
        form.published_at.data = story.published_at.strftime("%Y-%m-%dT%H:%M")
    return form


def _story_input(form: StoryForm, guid: str | None = None) -> StoryInput:
    return StoryInput(
        title=form.title.data,
        url=(form.url.data or "").strip(),
        summary=form.summary.data or "",
        published_at=(form.published_at.data or "").strip() or None,
        image_url=(form.image_url.data or "").strip() or None,
        guid=guid,
    )


def _refused(form: StoryForm, error: InvalidInput, story=None):
    show_refusal(form, error)
    return render_template("admin/story_form.html", form=form, story=story, error=error), 400


@bp.get("/stories")
def stories_list():
    """The newest stories, of one newsletter or all."""
    slug = request.args.get("newsletter", "")
    newsletter = catalogue.newsletter_by_slug(slug) if slug else None
    return render_template(
        "admin/stories.html",
        stories=stories.latest_stories(newsletter),
        newsletters=all_newsletters(),
        current=slug,
        action=ActionForm(),
    )


@bp.route("/stories/new", methods=["GET", "POST"])
def new_story():
    """File a story by hand."""
    form = _story_form()
    if form.validate_on_submit():
        data = _story_input(form)
        try:
            story, _ = audited(
                "story.create",
                "story",
                data.title,
                lambda: stories.add_story(form.newsletter.data, data, source="admin"),
            )
        except InvalidInput as error:
            return _refused(form, error)
        flash(f"Filed “{story.title}”.")
        return redirect(url_for("admin.stories_list", newsletter=form.newsletter.data))
    return render_template("admin/story_form.html", form=form, story=None)


@bp.route("/stories/<uuid>/edit", methods=["GET", "POST"])
def edit_story(uuid: str):
    """Change a story."""
    story = stories.story_by_uuid(uuid)
    form = _story_form(story)
    form.newsletter.render_kw = {"disabled": True}
    if form.validate_on_submit():
        data = _story_input(form)
        try:
            audited("story.update", "story", uuid, lambda: stories.update_story(uuid, data))
        except InvalidInput as error:
            return _refused(form, error, story)
        flash("The story is saved.")
        return redirect(url_for("admin.stories_list", newsletter=story.newsletter.slug))
    return render_template("admin/story_form.html", form=form, story=story)


@bp.post("/stories/<uuid>/delete")
def delete_story(uuid: str):
    """Remove a story from coming issues."""
    story = audited(
        "story.delete",
        "story",
        uuid,
        lambda: stories.delete_story(uuid),
        detail=lambda story: {"title": story.title},
    )
    flash(f"Removed “{story.title}”.")
    return redirect(url_for("admin.stories_list"))


def next_issue_rows(newsletters: list) -> list[tuple]:
    """(newsletter, rhythm, label) for each next issue an editor may open: one row for a
    newsletter with one rhythm, as always (rhythm None), one per rhythm otherwise."""
    rows = []
    for newsletter in newsletters:
        rhythms = offered(newsletter)
        if len(rhythms) == 1:
            rows.append((newsletter, None, newsletter.name))
        else:
            rows.extend((newsletter, f, f"{newsletter.name} ({f})") for f in rhythms)
    return rows


def issues_page(error: InvalidInput | None = None) -> str:
    """The issues list; with ``error``, a refused action's message at the top."""
    return render_template(
        "admin/issues.html",
        issues=overview.issues_overview(limit=50),
        next_issues=next_issue_rows([n for n in all_newsletters() if n.in_service]),
        test_form=TestSendForm(),
        action=ActionForm(),
        error=error,
    )


@bp.get("/issues")
def issues_list():
    """Issues with their status and deliveries; each newsletter's next issue to edit or test."""
    return issues_page()


@bp.get("/digests")
def old_issues_list():
    """Where the issues page used to be: bookmarks keep working."""
    return redirect(url_for("admin.issues_list"), code=301)


@bp.post("/issues/<uuid>/cancel-failures")
def cancel_failures(uuid: str):
    """Stop retrying an issue's failed deliveries."""
    count = audited("issue.cancel_failures", "issue", uuid, lambda: overview.cancel_failures(uuid))
    flash(f"Cancelled {count} failed deliveries.")
    return redirect(url_for("admin.issues_list"))


@bp.post("/issues/<uuid>/resend-failures")
def resend_failures(uuid: str):
    """Try an issue's failed deliveries again, with the next run."""
    count = audited("issue.resend_failures", "issue", uuid, lambda: overview.resend_failures(uuid))
    flash(f"{count} deliveries will be tried again with the next run of flask digest send.")
    return redirect(url_for("admin.issues_list"))
