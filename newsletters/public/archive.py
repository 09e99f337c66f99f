"""The public archive of sent issues, its Atom feeds, and each reader's own copy on the web.

The rules (who has an archive, which issues are in it, what a copy leaves out)
live in :mod:`newsletters.services.issues.archive`. Anything the archive does not
show (a private newsletter, an archive turned off, an unknown or unsent issue)
is the same "Page not found", so nothing tells a private newsletter apart from
one that does not exist.
"""

import re
from datetime import datetime

from flask import Blueprint, abort, make_response, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import NotFound as PageNotFound

from newsletters import error_pages
from newsletters.errors import NotFound
from newsletters.http import private_page
from newsletters.locales import local_date
from newsletters.public import forms, pages
from newsletters.security import allow_remote_images
from newsletters.services.branding import DEFAULT_ACCENT, Brand, brand_of
from newsletters.services.issues import archive, archive_rhythms, atom
from newsletters.services.issues.schedule import local
from newsletters.services.mail.links import external_url
from newsletters.support import support_mailto

bp = Blueprint("archive", __name__)

MAX_AGE = 300  # seconds a page may be kept before it is asked for again
ACCENT = re.compile(r"^#[0-9a-f]{6}$")
HEX = re.compile(r"[0-9a-f]{6}")
# An accent this dark against white may colour text and buttons; a lighter one only rules.
READABLE_CONTRAST = 4.5


@bp.errorhandler(NotFound)
def not_found(error: NotFound):
    """Whatever is missing, the site's usual "Page not found"."""
    return error_pages.http_error(PageNotFound())


@bp.app_template_filter("archive_date")
def archive_date(moment: datetime) -> str:
    """'19 May 2026' ('19 de mayo de 2026', '19. Mai 2026'), on the publisher's wall clock."""
    return local_date(local(moment).date())


@bp.app_template_global("sent_time")
def sent_time(moment: datetime) -> Markup:
    """The date an issue went out, as a ``<time>`` element inside a translated sentence."""
    return Markup('<time datetime="{}">{}</time>').format(
        moment.isoformat(timespec="seconds"), archive_date(moment)
    )


def _cached(page, *, shared: bool):
    """A public page, kept ``MAX_AGE`` seconds: by any cache, or by the reader's browser
    only when it holds a signup form (whose token is for one visitor, not a crowd)."""
    response = make_response(page)
    response.headers["Cache-Control"] = f"{'public' if shared else 'private'}, max-age={MAX_AGE}"
    return response


def accent_href(brand: Brand) -> str | None:
    """The stylesheet that puts a newsletter's accent on its pages, when it has its own."""
    accent = brand.accent if isinstance(brand.accent, str) else ""
    if accent == DEFAULT_ACCENT or not ACCENT.fullmatch(accent):
        return None
    return url_for("archive.accent_stylesheet", accent=accent[1:])


def _signup(newsletter) -> dict:
    """What the signup box needs, or nothing for a newsletter that takes no readers."""
    if not newsletter.in_service:
        return {"signup": None}
    return {
        "signup": {
            "form_token": forms.signup_form_token(),
            "idempotency_key": pages.new_key(),
            "mailto": support_mailto([newsletter.name]),
        }
    }


def _page(template: str, newsletter=None, **context):
    allow_remote_images()
    brand = brand_of(newsletter) if newsletter is not None else None
    return render_template(
        template,
        newsletter=newsletter,
        brand=brand,
        accent_css=accent_href(brand) if brand else None,
        **context,
    )


# --- the archive ---------------------------------------------------------------------------


@bp.get("/archive")
def index():
    """Every newsletter with an archive, and its latest issue."""
    page = _page(
        "public/archive/index.html",
        shelves=archive.shelves(),
        brand_of=brand_of,
        canonical=external_url("archive.index"),
    )
    return _cached(page, shared=True)


@bp.get("/archive/<slug>")
def newsletter(slug: str):
    """One newsletter's issues, newest first, twenty to a page: of every rhythm, or of the
    one asked for in ``?frequency=``, each named by its rhythm when there are several."""
    number = archive.page_number(request.args.get("page"))
    frequency = archive_rhythms.chosen_rhythm(request.args.get("frequency"))
    newsletter = archive.archive_of(slug)
    rhythms = archive_rhythms.archive_rhythms(newsletter)
    issues = archive.issues_page(newsletter, number, frequency)
    query = {k: v for k, v in (("frequency", frequency), ("page", number)) if v and v != 1}
    page = _page(
        "public/archive/newsletter.html",
        newsletter,
        page=issues,
        summaries={i.id: archive.public_copy(i).summary for i in issues.issues},
        canonical=external_url("archive.newsletter", slug=newsletter.slug, **query),
        feed=archive.feed_url(newsletter, frequency),
        rhythms=rhythms if archive_rhythms.names_rhythms(rhythms) else [],
        frequency=frequency,
        **_signup(newsletter),
    )
    return _cached(page, shared=not newsletter.in_service)


@bp.get("/archive/<slug>/<issue_id>")
def issue(slug: str, issue_id: str):
    """One issue as it was sent, with a signup box where the reader's links were."""
    newsletter = archive.archive_of(slug)
    issue = archive.archived_issue(newsletter, issue_id)
    newer, older = archive.neighbours(issue)
    page = _page(
        "public/archive/issue.html",
        newsletter,
        issue=issue,
        copy=archive.public_copy(issue),
        newer=newer,
        older=older,
        names_rhythm=archive_rhythms.names_rhythms(archive_rhythms.archive_rhythms(newsletter)),
        canonical=archive.issue_url(newsletter, issue),
        feed=archive.feed_url(newsletter),
        **_signup(newsletter),
    )
    return _cached(page, shared=not newsletter.in_service)


@bp.get("/archive/<slug>/feed.xml")
def feed(slug: str):
    """The newsletter's latest issues as an Atom feed: of the rhythm asked for in
    ``?frequency=``, else of its first (a story comes in every rhythm, once in a feed)."""
    newsletter = archive.archive_of(slug)
    frequency = archive_rhythms.feed_rhythm(newsletter, request.args.get("frequency"))
    issues = archive.latest_issues(newsletter, frequency=frequency)
    document = atom.feed_document(newsletter, issues, frequency)
    response = _cached(document, shared=True)
    response.headers["Content-Type"] = atom.CONTENT_TYPE
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/brand/<accent>.css")
def accent_stylesheet(accent: str):
    """The custom properties that put one accent colour on a newsletter's pages."""
    if not HEX.fullmatch(accent):
        abort(404)
    response = make_response(_accent_css(accent))
    response.headers["Content-Type"] = "text/css; charset=utf-8"
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


# --- a reader's own copy ---------------------------------------------------------------------


@bp.get("/view/<token>")
@private_page
def reader_copy(token: str):
    """The issue a reader's signed "View in browser" link names, with their own links."""
    copy = archive.reader_copy(token)
    newsletter = copy.issue.newsletter
    return _page("public/archive/reader_copy.html", newsletter, issue=copy.issue, copy=copy.copy)


# --- the accent's colours ------------------------------------------------------------------


def _channels(hex_colour: str) -> list[int]:
    return [int(hex_colour[i : i + 2], 16) for i in (0, 2, 4)]


def _luminance(channels: list[int]) -> float:
    """Relative luminance, as WCAG 2 defines it."""
    linear = [c / 255 / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _mix(channels: list[int], towards: int, share: float) -> str:
    mixed = (round(c + (towards - c) * share) for c in channels)
    return "#" + "".join(f"{c:02x}" for c in mixed)


def _accent_css(accent: str) -> str:
    """Every value here is made from six checked hexadecimal digits, nothing else."""
    channels = _channels(accent)
    lines = [f"  --brand: #{accent};"]
    if 1.05 / (_luminance(channels) + 0.05) >= READABLE_CONTRAST:
        lines += [
            f"  --accent: #{accent};",
            f"  --accent-dark: {_mix(channels, 0, 0.25)};",
            f"  --accent-tint: {_mix(channels, 255, 0.9)};",
        ]
    return ".brand {\n" + "\n".join(lines) + "\n}\n"
