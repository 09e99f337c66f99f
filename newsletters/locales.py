"""Which language a reader reads us in: the rule, in one place.

A reader page speaks the first of these that ``LANGUAGES`` offers:

1. ``?lang=xx`` in the address (a value we do not offer is ignored, never an error);
2. the reader's saved language (``Subscriber.locale``, set at signup from the page's),
   on a page opened from a link we mailed them;
3. the browser's ``Accept-Language``;
4. the first of ``LANGUAGES``.

Emails go out in the reader's saved language (:func:`reader_language`). The console,
the API and webhooks stay in the default language: they are not for readers.

The choice is cached on the request's ``g`` by Flask-Babel, so it never leaks from one
request, or one thread, to another.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval
from babel.lists import format_list
from babel.numbers import format_decimal
from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, force_locale, get_locale, gettext

# The blueprints whose pages readers see; errors outside any blueprint count too.
READER_BLUEPRINTS = frozenset({"public", "archive"})
# Addresses that are never a reader's, even when no blueprint answered them.
NOT_FOR_READERS = ("/admin", "/api/", "/webhooks/", "/dev/", "/static/")
# Pages opened from a link we mailed: the token names the reader, whose language applies.
TOKEN_PAGES = {
    "public.confirm": "confirm",
    "public.confirm_post": "confirm",
    "public.preferences": "preferences",
    "public.save_preferences": "preferences",
    "public.unsubscribe": "unsubscribe",
    "public.unsubscribe_post": "unsubscribe",
    "archive.reader_copy": "view",
}
# A date as English readers have always seen it ("19 May 2026"); others use their own long form.
DATE_PATTERNS = {"en": "d MMMM y"}

babel = Babel()


def N_(text: str) -> str:
    """Mark a message for translation where it is defined; it is translated where shown."""
    return text


def languages() -> list[str]:
    """The languages this site offers readers, the default first."""
    value = current_app.config["LANGUAGES"]
    if isinstance(value, str):
        value = value.split(",")
    return [code.strip() for code in value if code.strip()] or ["en"]


def default_language() -> str:
    """The language of the console, and of readers we know nothing about."""
    return languages()[0]


def language_name(code: str) -> str:
    """A language's name in the console's words: 'Spanish', 'German'; the code if unknown."""
    try:
        return Locale.parse(code).get_display_name("en") or code
    except (ValueError, UnknownLocaleError):
        return code


def offered(code: str | None) -> str | None:
    """``code`` if this site offers it, else None."""
    return code if code and code in languages() else None


def reader_language(saved: str | None) -> str:
    """The language to write to a reader in: their saved one while we offer it."""
    return offered(saved) or default_language()


def is_reader_request() -> bool:
    """Whether this request is for a reader's page (not the console, the API, a file)."""
    if request.blueprint is not None:
        return request.blueprint in READER_BLUEPRINTS and request.endpoint != "static"
    return not request.path.startswith(NOT_FOR_READERS)


def asked_language() -> str | None:
    """The ``?lang=`` of this request, when it names a language we offer."""
    return offered(request.args.get("lang", type=str))


def select_locale() -> str:
    """Flask-Babel's locale selector: the rule in the module docstring."""
    if not has_request_context() or not is_reader_request():
        return default_language()
    return (
        asked_language()
        or _saved_language()
        or request.accept_languages.best_match(languages())
        or default_language()
    )


def _saved_language() -> str | None:
    purpose = TOKEN_PAGES.get(request.endpoint or "")
    token = (request.view_args or {}).get("token")
    if purpose is None or not isinstance(token, str):
        return None
    from newsletters.services.readers.standing import saved_locale  # the models need the app

    return offered(saved_locale(purpose, token))


@contextmanager
def writing_to(saved: str | None) -> Iterator[None]:
    """Render an email (or anything else) in a reader's saved language."""
    with force_locale(reader_language(saved)):
        yield


def current_language() -> str:
    """The language of this page, as a BCP 47 tag (``es``, ``pt-BR``)."""
    locale = get_locale()
    return str(locale).replace("_", "-") if locale is not None else default_language()


def current_locale() -> str:
    """The language of this page as ``LANGUAGES`` names it, to save with a reader."""
    locale = get_locale()
    return str(locale) if locale is not None else default_language()


class Message(str):
    """A message marked with :func:`N_` and the named values it holds.

    It reads as English wherever it is shown as it is (the console, the CLI, logs);
    :func:`translated` shows it in the page's language, the values put in after
    translation, so that a translation may place them where its grammar wants.
    """

    msgid: str
    values: dict[str, object]

    def __new__(cls, text: str, **values: object) -> "Message":
        english = text % {name: str(value) for name, value in values.items()} if values else text
        message = super().__new__(cls, english)
        message.msgid = text
        message.values = values
        return message


class OneOf:
    """Choices a reader picks one of, each named by a message marked with :func:`N_`,
    written as their language lists alternatives: 'Daily or Weekly', 'Diario o Semanal'."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)

    def __str__(self) -> str:
        return format_list(list(self.names), style="or", locale="en")

    def in_language(self) -> str:
        """The choices in this page's language."""
        words = [gettext(name) for name in self.names]
        return format_list(words, style="or", locale=get_locale() or "en")


def translated(message: str, **values: object) -> str:
    """A message marked with :func:`N_`, in this page's language.

    Named values (a :class:`Message`'s own, then ``values``) are put in after
    translation; a value with words of its own (:class:`OneOf`) is translated too.
    """
    if not message:
        return message
    values = {**getattr(message, "values", {}), **values}
    text = getattr(message, "msgid", message)
    shown = {name: _in_language(value) for name, value in values.items()}
    return gettext(text, **shown)


def _in_language(value: object) -> object:
    return value.in_language() if isinstance(value, OneOf) else value


def local_date(day: date) -> str:
    """A date written the way this page's readers write it: '19 May 2026', '19 de mayo de 2026'."""
    locale = get_locale()
    pattern = DATE_PATTERNS.get(locale.language if locale else "en", "long")
    return format_date(day, format=pattern, locale=locale or "en")


def local_date_range(first: date, last: date) -> str:
    """Days from ``first`` to ``last`` the way this page's readers write them:
    '21 – 27 November 2026', '21–27 de noviembre de 2026'; one day is a date."""
    locale = get_locale()
    if first == last:
        return local_date(first)
    if locale is not None and locale.language != "en":
        return format_interval(first, last, "yMMMMd", locale=locale)
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day} – {last.day} {last:%B %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%B} – {last.day} {last:%B %Y}"
    return f"{first.day} {first:%B %Y} – {last.day} {last:%B %Y}"


def local_number(number: int | float) -> str:
    """A number written the way this page's readers write it: 1,234 / 1.234."""
    return format_decimal(number, locale=get_locale() or "en")


def _keep_asked_language(endpoint: str, values: dict) -> None:
    """Links between reader pages keep a ``?lang=`` the reader chose."""
    if "lang" in values or not has_request_context() or not is_reader_request():
        return
    if endpoint.partition(".")[0] in READER_BLUEPRINTS:
        asked = asked_language()
        if asked:
            values["lang"] = asked


def _label_response(response):
    """Reader responses say their language, and caches keep one copy per language."""
    if is_reader_request():
        response.headers["Content-Language"] = current_language()
        response.vary.add("Accept-Language")
    return response


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with the rule above, and label every reader response."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    with app.app_context():
        app.config["BABEL_DEFAULT_LOCALE"] = default_language()
    babel.init_app(app, locale_selector=select_locale)
    app.url_defaults(_keep_asked_language)
    app.after_request(_label_response)
    app.jinja_env.globals.update(page_language=current_language)
    app.jinja_env.filters.update(
        translated=translated, local_date=local_date, local_number=local_number
    )
