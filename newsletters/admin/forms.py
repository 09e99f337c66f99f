"""The admin forms: fields and CSRF. What is allowed is decided by the services."""

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import CombinedMultiDict
from wtforms import (
    BooleanField,
    ColorField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, DateTimeLocalInput, ListWidget

from newsletters.services.branding import DEFAULT_ACCENT
from newsletters.services.newsletter_settings import WEEKDAYS
from newsletters.services.readers.import_formats import FORMAT_CHOICES as IMPORT_FORMAT_CHOICES

DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _posted_fields():
    """The fields of a posted form (files included); nothing for any other method or body."""
    if request.method != "POST":
        return None
    if request.files:
        return CombinedMultiDict((request.files, request.form))
    return request.form or None


class ConsoleForm(FlaskForm):
    """Every console form: submitted by a POST of form fields, and by nothing else.

    Flask-WTF would also take PUT, PATCH and DELETE, and read a JSON body as the
    fields (where a number or a nested object crashes the view): neither is a form.
    """

    def __init__(self, **kwargs) -> None:
        """Read the posted fields, unless the caller passes its own."""
        kwargs.setdefault("formdata", _posted_fields())
        super().__init__(**kwargs)

    def is_submitted(self) -> bool:
        """Only a POST changes anything; a HEAD is a GET."""
        return request.method == "POST"


def show_refusal(form: FlaskForm, error, default: str | None = None):
    """Put a service's refusal beside the field it names (else ``default``); returns that
    field, or None when the form has no such field."""
    field = getattr(form, error.field or default or "", None)
    if field is not None:
        field.errors = [*field.errors, error.message]
    return field


class LoginForm(ConsoleForm):
    """Sign in."""

    email = EmailField("Email address", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1000)])


class NewsletterForm(ConsoleForm):
    """Every editable field of a newsletter."""

    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    slug = StringField("Slug", validators=[InputRequired(), Length(max=64)])
    description = TextAreaField("Description", validators=[Length(max=2000)])
    cadence = SelectField("Cadence", choices=[SelectChoice("weekly", "Weekly")])
    frequencies = StringField("Frequencies", default="weekly", validators=[Length(max=32)])
    send_day = SelectField(
        "Send on",
        choices=[SelectChoice(day, name) for day, name in zip(WEEKDAYS, DAY_NAMES, strict=True)],
    )
    send_hour = IntegerField("Send at (hour)", default=8, validators=[NumberRange(0, 23)])
    public = BooleanField("Public: offered on the signup pages", default=True)
    feed_url = StringField("Feed URL (RSS or Atom)", validators=[Optional(), Length(max=2048)])
    from_name = StringField("Sender name", validators=[Optional(), Length(max=120)])
    subject_template = StringField("Subject", validators=[Optional(), Length(max=200)])
    intro = TextAreaField("Introduction", validators=[Length(max=5000)])
    archive = BooleanField("Publish sent issues in the public archive", default=True)
    # Branding: no validators here, the catalogue's rules decide (and answer 400).
    logo_url = StringField(
        "Logo URL",
        render_kw={"inputmode": "url", "spellcheck": "false", "autocomplete": "off",
                   "placeholder": "https://example.com/logo.png"},
    )  # fmt: skip
    accent = ColorField("Accent colour", default=DEFAULT_ACCENT)
    footer = TextAreaField("Footer text", render_kw={"rows": 3})


class StoryForm(ConsoleForm):
    """A story."""

    newsletter = SelectField("Newsletter")
    title = StringField("Title", validators=[InputRequired(), Length(max=300)])
    url = StringField("Link", validators=[InputRequired(), Length(max=2048)])
    summary = TextAreaField("Summary", validators=[Length(max=5000)])
    image_url = StringField("Image URL", validators=[Optional(), Length(max=2048)])
    published_at = StringField("Published (UTC, e.g. 2026-11-27T08:00)", validators=[Optional()])


class ImportForm(ConsoleForm):
    """A CSV of readers (ours, or another system's export) and where they go."""

    file = FileField(
        "CSV file (columns: email,newsletters, or an export as it is)", validators=[FileRequired()]
    )
    format = SelectField(
        "Whose file is it",
        choices=[SelectChoice(name, label) for name, label in IMPORT_FORMAT_CHOICES],
        default="auto",
    )
    newsletters = SelectMultipleField(
        "Newsletters for an export's members (tags can be mapped on the next page)",
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=False,  # the service names the unknown newsletter
    )
    attest = BooleanField("These readers already gave their consent: subscribe them at once")
    consent_note = TextAreaField(
        "Where and when they consented (kept as their consent record)",
        validators=[Length(max=2000)],
    )


class SuppressionForm(ConsoleForm):
    """Stop all mail to an address."""

    email = EmailField("Email address", validators=[InputRequired(), Length(max=320)])
    note = StringField("Reason", validators=[InputRequired(), Length(max=500)])


class TestSendForm(ConsoleForm):
    """Send the next issue to one address."""

    address = EmailField("Send a test to", validators=[InputRequired(), Length(max=320)])


class AdminForm(ConsoleForm):
    """A new administrator."""

    email = EmailField("Email address", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("Temporary password", validators=[InputRequired()])
    role = SelectField(
        "Role", choices=[SelectChoice("editor", "Editor"), SelectChoice("owner", "Owner")]
    )


class CodeForm(ConsoleForm):
    """A code from the authenticator app, or a recovery code."""

    code = StringField(
        "Code",
        validators=[InputRequired(), Length(max=64)],
        render_kw={"autocomplete": "one-time-code"},
    )


class ChangePasswordForm(ConsoleForm):
    """The current password, and the new one twice."""

    current_password = PasswordField(
        "Current password",
        validators=[InputRequired(), Length(max=1000)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password", validators=[InputRequired()], render_kw={"autocomplete": "new-password"}
    )
    repeat_password = PasswordField(
        "New password, again",
        validators=[InputRequired()],
        render_kw={"autocomplete": "new-password"},
    )


class PasswordCheckForm(ConsoleForm):
    """The current password, before a change that weakens the account."""

    password = PasswordField(
        "Current password",
        validators=[InputRequired(), Length(max=1000)],
        render_kw={"autocomplete": "current-password"},
    )


class IssueForm(ConsoleForm):
    """An issue's words while it is a draft. Its stories come as repeated fields: ``story``
    (every story's id, in the order shown) and ``include`` (the ticked ones)."""

    subject = StringField("Subject", render_kw={"autocomplete": "off"})
    preheader = StringField("Preheader", render_kw={"autocomplete": "off"})
    intro = TextAreaField("Intro", render_kw={"rows": 4})


class StoryByUrlForm(ConsoleForm):
    """An article to add to an issue: its link, and a title when its page has none."""

    url = StringField(
        "Article link",
        render_kw={"inputmode": "url", "spellcheck": "false", "autocomplete": "off",
                   "placeholder": "https://"},
    )  # fmt: skip
    title = StringField("Title (optional)", render_kw={"autocomplete": "off"})


class IssueTestForm(ConsoleForm):
    """Addresses to mail a test of an issue to: commas, spaces or lines between them."""

    addresses = TextAreaField(
        "Send a test to", render_kw={"rows": 2, "spellcheck": "false", "autocomplete": "off"}
    )


class ScheduleForm(ConsoleForm):
    """When to send an issue, on the newsletters' clock (``TIMEZONE``)."""

    send_at = StringField("Send on", widget=DateTimeLocalInput())


class ActionForm(ConsoleForm):
    """A button that changes something: just the CSRF token."""
