"""The shipped catalogs are whole: every string marked in the code and the page templates is
translated in every language its catalog ships in (``messages``, what candidates read, as
`pybabel extract -F babel.cfg` finds it, in every shipped language; ``app``, the app's own pages, as
`pybabel extract -F babel-app.cfg` finds it, in English and German), none is fuzzy or obsolete, each
compiles, keeps its placeholders, and its committed .mo is the compiled .po. `.ci/run` runs this
file on its own before the suite.

Every candidate email kind and the status page, rendered in every shipped language, hold no English
sentence of the catalog or of the English email and no placeholder left unfilled.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from feedback_sla.emails import composing
from feedback_sla.emails.models import CANDIDATE_KINDS
from feedback_sla.languages import SHIPPED
from feedback_sla.web.i18n import DOMAINS, TRANSLATIONS

from .factories import PositionFactory
from .test_languages import TOKEN, add, app_config, clock, deliver, queue  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "lazy_ngettext": (1, 2), "_l": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
#: The extraction map of each catalog (Babel domain).
CONFIGS = {"messages": "babel.cfg", "app": "babel-app.cfg"}


def extract(root: Path = ROOT, domain: str = "messages") -> set[str]:
    """The marked strings of ``domain`` in the tree at ``root``, as its config maps its files."""
    with open(ROOT / CONFIGS[domain], encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(root), method_map, options_map, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _singular(msgid: str | tuple) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _same_placeholders(message) -> bool:
    """The translation names the placeholders of the English: a plural's forms each name those
    both English forms name (the count, ``%(num)d``, may go unsaid in a form that says it in
    words) and none the English does not."""
    if isinstance(message.id, str):
        return set(PLACEHOLDER.findall(message.id)) == set(PLACEHOLDER.findall(message.string))
    named = [set(PLACEHOLDER.findall(text)) for text in message.id]
    every, common = set.union(*named), set.intersection(*named) - {"num"}
    return all(common <= set(PLACEHOLDER.findall(form)) <= every for form in message.string)


def problems(extracted: set[str], translations: Path = TRANSLATIONS, domain: str = "messages") -> list[str]:
    """What keeps ``domain``'s catalogs from being whole, one sentence a problem, naming the language."""
    found = []
    for language in DOMAINS[domain]:
        po = translations / language / "LC_MESSAGES" / f"{domain}.po"
        if not po.is_file():
            found.append(f"{language}: no catalog {po}")
            continue
        with open(po, "rb") as stream:
            catalog = read_po(stream, locale=language)
        entries = {_singular(message.id): message for message in catalog if message.id}
        for missing in sorted(extracted - set(entries)):
            found.append(f"{language}: lacks {missing!r}")
        for msgid, message in entries.items():
            if msgid not in extracted:
                found.append(f"{language}: obsolete {msgid!r}")
            elif not message.string or not all(message.string if isinstance(message.string, tuple) else [1]):
                found.append(f"{language}: untranslated {msgid!r}")
            elif message.fuzzy:
                found.append(f"{language}: fuzzy {msgid!r}")
            elif not _same_placeholders(message):
                found.append(f"{language}: placeholders differ in {msgid!r}")
        found += [f"{language}: obsolete {msgid!r}" for msgid in catalog.obsolete]
        found += [f"{language}: {message.id!r}: {errors}" for message, errors in catalog.check()]
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        mo = po.with_suffix(".mo")
        if not mo.is_file() or mo.read_bytes() != compiled.getvalue():
            found.append(f"{language}: {mo} is not the compiled catalog (pybabel compile -d {translations})")
    return found


def test_the_shipped_catalogs_hold_every_marked_string_translated_and_compiled():
    extracted = extract()
    assert "We owe you an answer by %(date)s." in extracted
    assert problems(extracted) == []


def test_the_app_catalog_holds_every_marked_string_in_english_and_german():
    extracted = extract(domain="app")
    assert "Your settings are saved." in extracted
    assert "We owe you an answer by %(date)s." not in extracted
    assert problems(extracted, domain="app") == []
    assert DOMAINS["app"] == ("en", "de")


def test_an_app_string_added_without_its_german_translation_fails_the_check(tmp_path):
    """A new string on a signed-in page, translated in English only, is found missing in German;
    the languages the app catalog does not ship in are not asked for it."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "feedback_sla", tree / "feedback_sla", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copytree(ROOT / "templates", tree / "templates")
    page = tree / "templates" / "triage" / "index.html"
    page.write_text(page.read_text() + '{{ _("Everyone was answered this week.") }}\n')
    extracted = extract(tree, "app")
    assert "Everyone was answered this week." in extracted
    assert "Everyone was answered this week." not in extract(tree, "messages")
    translations = tree / "feedback_sla" / "translations"
    po = translations / "en" / "LC_MESSAGES" / "app.po"
    po.write_text(
        po.read_text()
        + '\nmsgid "Everyone was answered this week."\nmsgstr "Everyone was answered this week."\n'
    )
    with open(po, "rb") as stream, open(po.with_suffix(".mo"), "wb") as mo:
        write_mo(mo, read_po(stream, locale="en"))
    assert problems(extracted, translations, "app") == ["de: lacks 'Everyone was answered this week.'"]


def test_a_string_added_without_its_german_translation_fails_the_check(tmp_path):
    """A new page string, translated in every catalog but German's, is found missing in German."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "feedback_sla", tree / "feedback_sla", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copytree(ROOT / "templates", tree / "templates")
    shutil.copy(ROOT / "babel.cfg", tree / "babel.cfg")
    page = tree / "templates" / "status" / "gone.html"
    page.write_text(page.read_text() + '{{ _("Your link was renewed.") }}\n')
    extracted = extract(tree)
    assert "Your link was renewed." in extracted
    translations = tree / "feedback_sla" / "translations"
    for language in SHIPPED:
        if language == "de":
            continue
        po = translations / language / "LC_MESSAGES" / "messages.po"
        po.write_text(po.read_text() + '\nmsgid "Your link was renewed."\nmsgstr "Renewed."\n')
        with open(po, "rb") as stream, open(po.with_suffix(".mo"), "wb") as mo:
            write_mo(mo, read_po(stream, locale=language))
    assert problems(extracted, translations) == ["de: lacks 'Your link was renewed.'"]


def test_a_fuzzy_or_obsolete_entry_fails_the_check(tmp_path):
    translations = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, translations)
    po = translations / "fr" / "LC_MESSAGES" / "messages.po"
    text = po.read_text().replace('msgid "Ask for news"', '#, fuzzy\nmsgid "Ask for news"', 1)
    po.write_text(text + '\n#~ msgid "Gone for good"\n#~ msgstr "Parti"\n')
    found = problems(extract(), translations)
    assert "fr: fuzzy 'Ask for news'" in found
    assert "fr: obsolete 'Gone for good'" in found
    assert any(line.startswith("fr:") and "is not the compiled catalog" in line for line in found)


#: What a rendered message must never hold: a placeholder left as written, in any syntax.
LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}|%\(\w+\)s|\{\w+\}")
VALUES = {**composing.SAMPLE, "promised_date": composing.SAMPLE_DAY}


@pytest.mark.parametrize("language", [language for language in SHIPPED if language != "en"])
def test_every_email_kind_is_written_whole_in_every_shipped_language(app, session, language):
    with app.app_context():
        for kind in CANDIDATE_KINDS:
            english = composing.render(session, kind, VALUES, "en")
            rendered = composing.render(session, kind, VALUES, language)
            assert rendered.language == language
            for part in (rendered.subject, rendered.text, rendered.html):
                assert part.strip() and not LEFTOVER.search(part), (kind, language, part)
            sentences = {s.strip() for s in re.split(r"[.\n:]", english.text) if len(s.split()) > 3}
            left = [s for s in sentences if s in rendered.text and s not in composing.SAMPLE["feedback"]]
            assert left == [], (kind, language)
            assert rendered.subject != english.subject
            for value in ("Alex", "Backend Engineer", "Maria Lopez", "Example Company"):
                assert value in rendered.text and value in rendered.html, (kind, language, value)


@pytest.mark.parametrize("language", [language for language in SHIPPED if language != "en"])
def test_the_status_page_has_no_english_sentence_of_the_catalog(app, client, runner, session, language):
    """The page of a link, its withdrawal page, and the page of a link that opens nothing."""
    english = {msgid for msgid in extract() if len(msgid.split()) > 2 and "%" not in msgid}
    candidate = add(
        session, PositionFactory(title="Backend Engineer"), "Alex Example", "alex@example.org", language
    )
    token = TOKEN.search(queue(app, candidate, "acknowledgement").text_body).group(1)
    deliver(runner)
    for path in (f"/status/{token}", f"/status/{token}/withdraw", "/status/" + "x" * 43):
        page = client.get(path, headers={"Accept-Language": language}).get_data(as_text=True)
        assert f'<html lang="{language}">' in page, path
        assert [msgid for msgid in english if msgid in page] == [], path
        assert not LEFTOVER.search(page.split("<body", 1)[1]), path
