"""The Chinese catalogue: complete, compiled, placeholder-safe, and actually used. No database needed.

When a test here fails after a UI string was added or changed:
    bash scripts/translations.sh extract   # then translate the new empty msgstr entries in the .po
    bash scripts/translations.sh compile
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from governance import create_app

ROOT = Path(__file__).resolve().parents[1]
BABEL_CFG = ROOT / "babel.cfg"
CATALOGUE = ROOT / "governance" / "translations" / "zh" / "LC_MESSAGES"
PO = CATALOGUE / "messages.po"
MO = CATALOGUE / "messages.mo"
HOW_TO_FIX = (
    "run `bash scripts/translations.sh extract`, translate the entries in "
    "governance/translations/zh/LC_MESSAGES/messages.po, then `bash scripts/translations.sh compile`"
)
# Any printf-style conversion: %(name)s, %s, %d, %%, …
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa%]")


def parse_babel_cfg(path: Path):
    """babel.cfg as (method_map, options_map), with whichever parser this Babel version has."""
    try:
        from babel.messages.frontend import parse_mapping_cfg as parse
    except ImportError:  # Babel < 2.14
        from babel.messages.frontend import parse_mapping as parse
    with path.open(encoding="utf-8") as fileobj:
        return parse(fileobj, filename=str(path))


def as_tuple(value) -> tuple:
    """A message id or string as a tuple: plural forms are tuples already."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def source_messages() -> dict[tuple[str, str | None], set[str]]:
    """Every (msgid, context) in the sources, extracted as the script does, with where it occurs."""
    method_map, options_map = parse_babel_cfg(BABEL_CFG)
    found: dict[tuple[str, str | None], set[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(str(ROOT), method_map, options_map):
        msgid = as_tuple(message)[0]
        if msgid:
            found.setdefault((msgid, context), set()).add(f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def sources():
    return source_messages()


@pytest.fixture(scope="module")
def po_catalog():
    with PO.open("rb") as fileobj:
        return read_po(fileobj, locale="zh")


def test_babel_cfg_finds_the_python_and_template_strings(sources):
    # A mapping that silently matches nothing would make every other check here pass vacuously.
    files = {place.rsplit(":", 1)[0] for places in sources.values() for place in places}
    assert any(f.endswith(".py") for f in files), "babel.cfg extracts nothing from governance/**.py"
    assert any(f.endswith(".html") for f in files), "babel.cfg extracts nothing from the templates"
    assert ("Mobile number", None) in sources  # _l() in a form
    assert ("Please log in", None) in sources  # _() in a template


def test_every_source_string_has_a_chinese_translation(sources, po_catalog):
    problems = []
    for (msgid, context), places in sorted(sources.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        entry = po_catalog.get(msgid, context=context)
        where = ", ".join(sorted(places))
        if entry is None:
            problems.append(f"not in the catalogue: {msgid!r} ({where})")
        elif not all(as_tuple(entry.string)):
            problems.append(f"untranslated: {msgid!r} ({where})")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r} ({where})")
    assert not problems, f"{len(problems)} message(s) need a translation; {HOW_TO_FIX}:\n" + "\n".join(problems)


def test_no_fuzzy_entries(po_catalog):
    # A fuzzy entry is silently left out of the .mo, and a fuzzy header stops compilation altogether.
    assert not po_catalog.fuzzy, "the header of messages.po is marked fuzzy; remove the flag"
    fuzzy = [entry.id for entry in po_catalog if entry.id and entry.fuzzy]
    assert not fuzzy, "fuzzy entries in messages.po (check the translation, remove the flag):\n" + "\n".join(
        repr(msgid) for msgid in fuzzy
    )


def test_plural_forms_header(po_catalog):
    assert po_catalog.num_plurals == 1
    assert "nplurals=1" in po_catalog.plural_forms


def test_compiled_catalogue_matches_the_po(po_catalog):
    assert MO.exists(), "messages.mo is missing: run `bash scripts/translations.sh compile`"
    with MO.open("rb") as fileobj:
        mo_catalog = read_mo(fileobj)
    expected = {
        (as_tuple(entry.id), entry.context): as_tuple(entry.string)
        for entry in po_catalog
        if entry.id and not entry.fuzzy and all(as_tuple(entry.string))
    }
    # Babel's MO reader gives a message context as bytes, its PO reader as text.
    compiled = {
        (as_tuple(entry.id), entry.context.decode() if isinstance(entry.context, bytes) else entry.context): as_tuple(
            entry.string
        )
        for entry in mo_catalog
        if entry.id
    }
    stale = sorted(
        f"{key[0]!r}: .po {expected.get(key)!r} / .mo {compiled.get(key)!r}"
        for key in expected.keys() | compiled.keys()
        if expected.get(key) != compiled.get(key)
    )
    assert not stale, "messages.mo is out of date; run `bash scripts/translations.sh compile`:\n" + "\n".join(stale)


def test_placeholders_are_kept(po_catalog):
    problems = []
    for entry in po_catalog:
        if not entry.id:
            continue
        ids = as_tuple(entry.id)
        for string in as_tuple(entry.string):
            if not string:
                continue
            # Every plural form must take the same values; compare with the id's last (plural) form.
            wanted = Counter(PLACEHOLDER.findall(ids[-1]))
            got = Counter(PLACEHOLDER.findall(string))
            # A stray % would break new-style Jinja gettext, which always formats: _('…') % {}.
            if got != wanted:
                problems.append(f"{entry.id!r} -> {string!r}: {sorted(wanted.elements())} vs {sorted(got.elements())}")
            elif string.count("%") != ids[-1].count("%"):
                problems.append(f"{entry.id!r} -> {string!r}: a stray %; write a literal percent sign as %%")
    assert not problems, "translations whose placeholders differ from the msgid:\n" + "\n".join(problems)


@pytest.fixture
def client():
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 40, "REDIS_URL": None})
    return app.test_client()


def test_login_page_is_chinese_by_default_and_english_on_request(client):
    chinese = client.get("/auth/login")
    assert chinese.status_code == 200
    html = chinese.get_data(as_text=True)
    assert 'lang="zh-CN"' in html
    assert "登录" in html and "手机号" in html, "the zh catalogue in governance/translations was not loaded"
    assert "Log in" not in html

    assert client.get("/lang/en").status_code == 302
    html = client.get("/auth/login").get_data(as_text=True)
    assert 'lang="en"' in html
    assert "Log in" in html and "Mobile number" in html
    assert "登录" not in html


def test_labels_follow_force_locale_inside_a_request_and_come_back_after_it():
    """The per-request catalogue (formatting.translations) follows a force_locale block and returns after it,
    whichever language the request chose first."""
    from flask_babel import force_locale

    from governance.formatting import status_label

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 40, "REDIS_URL": None})
    resolved = {"en": "Resolved", "zh": "已办结"}
    for chosen, forced in (("en", "zh"), ("zh", "en")):
        app.config["BABEL_DEFAULT_LOCALE"] = chosen
        with app.test_request_context("/"):
            assert status_label("resolved") == resolved[chosen]
            with force_locale(forced):
                assert status_label("resolved") == resolved[forced]
            assert status_label("resolved") == resolved[chosen]


def test_wtforms_own_texts_follow_the_language_and_are_read_once_per_process():
    """A text WTForms writes itself (a Length we gave no message) speaks the request's language, from a catalogue
    read from disk once per language and process (Flask-WTF read it on every request that built a form)."""
    from wtforms import StringField
    from wtforms.validators import Length

    from governance import forms

    class Small(forms.Form):
        name = StringField(validators=[Length(max=2)])

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 40, "REDIS_URL": None})
    app.config["WTF_CSRF_ENABLED"] = False
    said = {}
    for language in ("zh", "en", "zh", "en"):
        app.config["BABEL_DEFAULT_LOCALE"] = language
        with app.test_request_context("/", method="POST", data={"name": "太长的名字"}):
            form = Small()
            assert not form.validate()
            said[language] = form.name.errors[0]
    assert said["en"] == "Field cannot be longer than 2 characters."
    assert said["zh"] != said["en"] and "2" in said["zh"], said
    assert forms._catalogue.cache_info().currsize <= 2


def test_every_form_of_the_app_derives_from_the_one_base():
    """A form built on Flask-WTF's own base would read WTForms' catalogue from disk on every request again."""
    from flask_wtf import FlaskForm

    from governance import forms

    create_app("testing", {"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x" * 40, "REDIS_URL": None})
    found, seen = [], [FlaskForm]
    while seen:
        for sub in seen.pop().__subclasses__():
            seen.append(sub)
            if sub.__module__.startswith("governance."):
                found.append(sub)
    assert len(found) > 30
    assert [f"{f.__module__}.{f.__name__}" for f in found if not issubclass(f, forms.Form)] == []
