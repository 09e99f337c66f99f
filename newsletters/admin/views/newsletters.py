"""Newsletters: create, edit, archive."""

from flask import Response, flash, redirect, render_template, request, url_for

from newsletters.admin.blueprint import audited, bp
from newsletters.admin.forms import ActionForm, NewsletterForm, show_refusal
from newsletters.dev.routes import EMAIL_PREVIEW_CSP
from newsletters.errors import InvalidInput
from newsletters.models import utcnow
from newsletters.services import catalogue, newsletter_settings
from newsletters.services.branding import DEFAULT_ACCENT
from newsletters.services.issues.sample import sample_issue
from newsletters.services.newsletter_settings import WEEKDAYS, NewsletterInput


@bp.get("/newsletters")
def newsletters():
    """Every newsletter, archived ones last."""
    return render_template(
        "admin/newsletters.html", newsletters=catalogue.all_newsletters(), action=ActionForm()
    )


def _input(form: NewsletterForm) -> NewsletterInput:
    return NewsletterInput(
        slug=(form.slug.data or "").strip(),
        name=form.name.data or "",
        description=form.description.data or "",
        cadence=form.cadence.data,
        frequencies=form.frequencies.data or "",
        send_day=form.send_day.data,
        send_hour=form.send_hour.data if form.send_hour.data is not None else 8,
        public=bool(form.public.data),
        feed_url=(form.feed_url.data or "").strip() or None,
        from_name=form.from_name.data,
        subject_template=form.subject_template.data or "",
        intro=form.intro.data or "",
        archive=bool(form.archive.data),
        logo_url=form.logo_url.data,
        accent=form.accent.data,
        footer=form.footer.data or "",
    )


def _form_page(form: NewsletterForm, newsletter):
    """The form again; a POST that got here failed its fields' checks (400)."""
    page = render_template("admin/newsletter_form.html", form=form, newsletter=newsletter)
    return page, 400 if request.method == "POST" else 200


def _refused(form: NewsletterForm, error: InvalidInput, **context):
    show_refusal(form, error)
    return render_template("admin/newsletter_form.html", form=form, error=error, **context), 400


@bp.route("/newsletters/new", methods=["GET", "POST"])
def new_newsletter():
    """Create a newsletter."""
    form = NewsletterForm()
    if form.validate_on_submit():
        data = _input(form)
        try:
            created = audited(
                "newsletter.create",
                "newsletter",
                data.slug,
                lambda: newsletter_settings.create_newsletter(data),
            )
        except InvalidInput as error:
            return _refused(form, error, newsletter=None)
        flash(f"{created.name} is ready.")
        return redirect(url_for("admin.newsletters"))
    return _form_page(form, None)


@bp.route("/newsletters/<uuid>/edit", methods=["GET", "POST"])
def edit_newsletter(uuid: str):
    """Change any of a newsletter's fields."""
    newsletter = catalogue.newsletter_by_uuid(uuid)
    form = NewsletterForm(obj=newsletter)
    if not form.is_submitted():
        form.send_day.data = WEEKDAYS[newsletter.send_weekday]
        form.public.data = newsletter.is_public
        form.cadence.data = newsletter.cadence.value
        form.archive.data = newsletter.web_archive
        form.logo_url.data = newsletter.brand_logo_url
        form.accent.data = newsletter.brand_accent or DEFAULT_ACCENT
        form.footer.data = newsletter.brand_footer
    if form.validate_on_submit():
        data = _input(form)
        try:
            audited(
                "newsletter.update",
                "newsletter",
                newsletter.slug,
                lambda: newsletter_settings.update_newsletter(uuid, data),
                detail={"slug": data.slug},
            )
        except InvalidInput as error:
            return _refused(form, error, newsletter=newsletter)
        flash(f"{data.name} is saved.")
        return redirect(url_for("admin.newsletters"))
    return _form_page(form, newsletter)


@bp.get("/newsletters/<uuid>/sample")
def newsletter_sample(uuid: str):
    """A sample issue in the newsletter's saved branding, for the edit form's preview frame."""
    email = sample_issue(catalogue.newsletter_by_uuid(uuid), utcnow())
    return Response(email.html, headers={"Content-Security-Policy": EMAIL_PREVIEW_CSP})


@bp.post("/newsletters/<uuid>/archive")
def archive_newsletter(uuid: str):
    """Archive a newsletter, or bring it back."""
    if ActionForm().validate_on_submit():
        newsletter = catalogue.newsletter_by_uuid(uuid)
        archive = not newsletter.is_archived
        audited(
            "newsletter.archive" if archive else "newsletter.restore",
            "newsletter",
            newsletter.slug,
            lambda: newsletter_settings.set_archived(uuid, archive),
        )
        flash(f"{newsletter.name} is {'archived' if archive else 'back'}.")
    return redirect(url_for("admin.newsletters"))
