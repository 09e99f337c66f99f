"""The admin forms: fields and CSRF. What is allowed is decided by the services."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from newsletters.services.catalogue import WEEKDAYS

DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


class LoginForm(FlaskForm):
    """Sign in."""

    email = EmailField("Email address", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1000)])


class NewsletterForm(FlaskForm):
    """Every editable field of a newsletter."""

    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    slug = StringField("Slug", validators=[InputRequired(), Length(max=64)])
    description = TextAreaField("Description", validators=[Length(max=2000)])
    cadence = SelectField("Cadence", choices=[SelectChoice("weekly", "Weekly")])
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


class StoryForm(FlaskForm):
    """A story."""

    newsletter = SelectField("Newsletter")
    title = StringField("Title", validators=[InputRequired(), Length(max=300)])
    url = StringField("Link", validators=[InputRequired(), Length(max=2048)])
    summary = TextAreaField("Summary", validators=[Length(max=5000)])
    image_url = StringField("Image URL", validators=[Optional(), Length(max=2048)])
    published_at = StringField("Published (UTC, e.g. 2026-11-27T08:00)", validators=[Optional()])


class ImportForm(FlaskForm):
    """A CSV of readers, and whether their consent was given elsewhere."""

    file = FileField("CSV file (columns: email,newsletters)", validators=[FileRequired()])
    attest = BooleanField("These readers already gave their consent: subscribe them at once")
    consent_note = TextAreaField(
        "Where and when they consented (kept as their consent record)",
        validators=[Length(max=2000)],
    )


class SuppressionForm(FlaskForm):
    """Stop all mail to an address."""

    email = EmailField("Email address", validators=[InputRequired(), Length(max=320)])
    note = StringField("Reason", validators=[InputRequired(), Length(max=500)])


class TestSendForm(FlaskForm):
    """Send the next issue to one address."""

    address = EmailField("Send a test to", validators=[InputRequired(), Length(max=320)])


class AdminForm(FlaskForm):
    """A new administrator."""

    email = EmailField("Email address", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("Temporary password", validators=[InputRequired()])
    role = SelectField(
        "Role", choices=[SelectChoice("editor", "Editor"), SelectChoice("owner", "Owner")]
    )


class ActionForm(FlaskForm):
    """A button that changes something: just the CSRF token."""
