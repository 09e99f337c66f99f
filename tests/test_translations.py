"""Every reader-facing word has a translation in every shipped language, and none is stale.

The catalogue is extracted from the code exactly as `make translations` does (babel.cfg,
the `N_` keyword); a new `_()` string without a translation fails here.
"""

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from newsletters.config import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "newsletters" / "translations"
# Every catalogue in the repository is checked, offered by default or not.
SHIPPED = sorted(path.parent.parent.name for path in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def extracted() -> Catalog:
    """The catalogue of every marked string in the code, as `pybabel extract` makes it."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    catalog = Catalog()
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


@pytest.fixture(scope="module")
def code_catalogue() -> Catalog:
    catalog = extracted()
    assert len(catalog) > 100, "the extraction found almost nothing: is babel.cfg read?"
    return catalog


def shipped(code: str) -> Catalog:
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=code)


def test_the_default_languages_are_english_spanish_and_german():
    assert DEFAULTS["LANGUAGES"] == ["en", "es", "de"]
    assert {"es", "de"} <= set(SHIPPED)


@pytest.mark.parametrize("code", SHIPPED)
def test_every_string_in_the_code_is_translated(code_catalogue, code):
    catalogue = shipped(code)
    problems = []
    for message in code_catalogue:
        if not message.id:
            continue
        entry = catalogue.get(message.id, context=message.context)
        if entry is None:
            problems.append(f"missing from {code}: {message.id!r} ({message.locations[0]})")
        elif entry.fuzzy:
            problems.append(f"fuzzy in {code}: {message.id!r}")
        elif not all(entry.string if isinstance(entry.string, tuple) else [entry.string]):
            problems.append(f"untranslated in {code}: {message.id!r}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("code", SHIPPED)
def test_no_translation_is_left_over_from_strings_the_code_dropped(code_catalogue, code):
    wanted = {(m.id if isinstance(m.id, str) else m.id[0]) for m in code_catalogue if m.id}
    stale = [m.id for m in shipped(code) if m.id and _key(m.id) not in wanted]
    assert stale == [], f"run `make translations`: {code} still has {stale}"


@pytest.mark.parametrize("code", SHIPPED)
def test_placeholders_survive_translation(code):
    problems = [
        f"{code}: {message.id!r}: {errors}" for message, errors in shipped(code).check() if errors
    ]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("code", SHIPPED)
def test_the_compiled_catalogue_matches_its_source(code):
    with open(TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo", "rb") as mo:
        compiled = {_key(m.id): _strings(m.string) for m in read_mo(mo) if m.id}
    source = {_key(m.id): _strings(m.string) for m in shipped(code) if m.id and not m.fuzzy}
    assert compiled == source, f"run `make translations` to compile {code}"


def _key(message_id) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def _strings(string) -> tuple[str, ...]:
    return (string,) if isinstance(string, str) else tuple(string)
