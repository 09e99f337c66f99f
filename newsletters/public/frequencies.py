"""How the reader pages write a change of rhythm's first day: 'Monday 7 December'."""

from datetime import date

from babel.dates import format_date
from flask_babel import get_locale

from newsletters.public.routes import bp

# A weekday and date without the year, as each shipped language writes it.
WITHOUT_YEAR = {"es": "EEEE, d 'de' MMMM", "de": "EEEE, d. MMMM"}


@bp.app_template_filter("weekday_date")
def weekday_date(day: date) -> str:
    """The weekday and date in this page's language: 'Monday 7 December', 'lunes, 7 de
    diciembre'; the year only when it is not this one."""
    locale = get_locale() or "en"
    english = str(locale).startswith("en")
    if day.year != date.today().year:
        return format_date(day, "EEEE d MMMM y" if english else "full", locale=locale)
    if english:
        return format_date(day, "EEEE d MMMM", locale=locale)
    return format_date(day, WITHOUT_YEAR.get(locale.language, "full"), locale=locale)
