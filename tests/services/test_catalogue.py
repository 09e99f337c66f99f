"""The catalogue's rules for a subject template: plain text and three fields, as they are."""

import pytest

from newsletters.errors import InvalidInput
from newsletters.services.catalogue import check_subject_template

REFUSED = [
    ("{name:x>5000000}", "as they are"),  # a width: a subject of megabytes
    ("{date:>999}", "as they are"),
    ("{name:{date}}", "as they are"),
    ("{name!r}", "as they are"),  # a conversion
    ("{site!s}", "as they are"),
    ("{name.__class__}", "as they are"),  # attribute access
    ("{name[0]}", "as they are"),  # index access
    ("{}", "as they are"),  # a positional field
    ("{0}", "as they are"),
    ("{nope}", "{name}, {date} and {site}"),
    ("{name", "unmatched"),
    ("Line one\nLine two", "one line"),
    ("{name} " + "x" * 200, "at most 200 characters"),
]
ACCEPTED = ["{name}: {date}", "{site} | {name}", "{name} · {date}", "Weekly {{news}}", "Plain"]


@pytest.mark.parametrize(("template", "message"), REFUSED)
def test_a_template_with_more_than_plain_fields_is_refused(template, message):
    with pytest.raises(InvalidInput) as refused:
        check_subject_template(template)
    assert message in refused.value.message
    assert refused.value.field == "subject"


@pytest.mark.parametrize("template", ACCEPTED)
def test_plain_text_and_plain_fields_are_accepted(template):
    check_subject_template(template)
