"""Every page of every role, in both languages, speaks only the reader's language outside data.

A crawler logs in as each demo account, starts at the home page and follows the links it finds (GET only,
same site, a few addresses per view), in Chinese and then in English. On each page the visible text minus
the data people typed or named (names of people, places, parties and projects; titles, descriptions and
notes; ready replies) must hold no word of the other language: no 汉字 on an English page (a Chinese term
given as a gloss in brackets, e.g. "Zone leader (片长)", is allowed) and no English word on a Chinese page
(except the names of formats and codes: CSV, Excel, WC-2026-000001 …, and the switch to "English").
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from governance import demo
from governance.extensions import db
from governance.models import (
    ApiKey,
    Building,
    Category,
    Compound,
    FundingSource,
    Issue,
    IssueEvent,
    LedgerEntry,
    Node,
    Notice,
    NoticeRecipient,
    Organisation,
    Person,
    Phase,
    Project,
    RejectReason,
    ResidentReport,
    ResponseTemplate,
    SurveyAnswer,
    SurveyCampaign,
    SurveyQuestion,
)
from governance.services.residents.reports import REFERENCE_ALPHABET, REFERENCE_PREFIX
from tests.conftest import ENGINES, Auth
from tests.crawl import walk

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
GLOSS = re.compile(r"[（(][^()（）]*[\u3400-\u9fff][^()（）]*[)）]")
LATIN_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9_'’-]{2,}")
# Latin words a Chinese page may carry: formats, codes, product and standard names, the switch to English.
LATIN_ALLOWED = {
    "CSV",
    "Excel",
    "XLSX",
    "xlsx",
    "PDF",
    "English",
    "Open311",
    "GeoReport",
    "API",
    "QR",
    "SLA",
    "Atom",
    "JSON",
}
LATIN_ALLOWED |= {"Webhook", "Enter", "GBK", "UTF-8", "Redis", "Web"}  # keys, encodings and services named as they are


@pytest.fixture
def demo_world(app):
    demo.load_demo_world(scale=0.02)
    db.session.commit()


def data_strings() -> list[str]:
    """Every piece of text people typed or named, longest first (removed from a page before it is read)."""
    columns = [
        Node.name,
        Person.name,
        Issue.title,
        Issue.description,
        Issue.place_detail,
        Issue.resident_name,
        IssueEvent.note,
        Compound.name,
        Building.name,
        Organisation.name,
        Project.name,
        Project.description,
        Phase.name,
        FundingSource.name,
        LedgerEntry.donor_name,
        LedgerEntry.payee,
        LedgerEntry.purpose,
        LedgerEntry.reason,
        ResponseTemplate.title,
        ResponseTemplate.body,
        Category.code,
        ApiKey.name,
        ApiKey.prefix,
        Notice.title,
        Notice.reply_label,
        NoticeRecipient.reply,
        SurveyCampaign.title,
        SurveyQuestion.text,
        SurveyAnswer.text,
    ]
    found = set()
    for column in columns:
        for value in db.session.scalars(select(column).distinct()):
            if value and value.strip():
                found.add(unicodedata.normalize("NFKC", value.strip()))
    # A survey's choices are shown one by one.
    for options in db.session.scalars(select(SurveyQuestion.options)):
        found.update(unicodedata.normalize("NFKC", option) for option in options or ())
    # A notice's text, a survey's purpose and a resident's report are shown a paragraph at a time.
    texts = [
        *db.session.scalars(select(Notice.body)),
        *db.session.scalars(select(SurveyCampaign.purpose)),
        *db.session.scalars(select(ResidentReport.text)),
    ]
    for body in texts:
        found.update(unicodedata.normalize("NFKC", line.strip()) for line in body.split("\n") if line.strip())
    # A leader who chose to be named by surname appears as it (张·邻长).
    found.update(name[0] for name in db.session.scalars(select(Person.name).where(Person.public_listing == "surname")))
    # A donor who agreed to be named appears by initial (张**).
    found.update(f"{name[0]}**" for name in db.session.scalars(select(LedgerEntry.donor_name)) if name)
    return sorted(found, key=len, reverse=True)


def settings_strings() -> list[str]:
    """The Chinese names of the managed lists: data on the settings pages that edit both names (elsewhere an
    English page must show the English name)."""
    names = {*db.session.scalars(select(Category.name_zh)), *db.session.scalars(select(RejectReason.name_zh))}
    return sorted((unicodedata.normalize("NFKC", name) for name in names if name), key=len, reverse=True)


def visible_text(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for hidden in soup(["script", "style", "template", "noscript"]):
        hidden.decompose()
    # Hidden text is not read; an element marked with a language of its own (the switch to the other
    # language) is in that language by intent; an aria-hidden icon is not words.
    for element in soup.select("[hidden], .sr-only, [aria-hidden=true], body [lang]"):
        element.decompose()
    texts = [soup.get_text(" ")]
    # What a screen reader or a tooltip says counts too.
    for element in soup.find_all(True):
        for attribute in ("title", "aria-label", "placeholder", "alt"):
            if element.get(attribute):
                texts.append(element[attribute])
        if element.name == "input" and element.get("type") in ("submit", "button") and element.get("value"):
            texts.append(element["value"])
    return unicodedata.normalize("NFKC", " ".join(" ".join(texts).split()))


# Addresses, issue references (WC-2026-000001) and residents' report references (FY7K3P9Q2).
CODES = re.compile(
    rf"https?://\S+|\bWC-\d{{4}}-\d+|\b{REFERENCE_PREFIX}[{REFERENCE_ALPHABET}]{{7}}\b|\b[\w.+-]+@[\w.-]+"
)


def foreign_words(text: str, language: str, data: list[str]) -> list[str]:
    for value in data:
        if value in text:
            text = text.replace(value, " ")
    text = CODES.sub(" ", text)
    if language == "en":
        text = GLOSS.sub(" ", text)
        return sorted({match.group(0) for match in re.finditer(r"[^\s]*[\u3400-\u9fff][^\s]*", text)})
    # An identifier shown as an example (lift_noise) is a code, not a word.
    words = {word for word in LATIN_WORD.findall(text) if word not in LATIN_ALLOWED and "_" not in word}
    return sorted(words)


def crawl(client, language: str, data: list[str], start: tuple[str, ...] = ("/",)) -> dict[str, list[str]]:
    """{address: foreign words} for every page reached from the start pages (the home page)."""
    client.get(f"/lang/{language}")
    settings = settings_strings()
    problems = {}
    for path, html in walk(client, start):
        known = data + settings if path.startswith("/admin/settings") else data
        words = foreign_words(visible_text(html), language, known)
        if words:
            problems[path] = words
    return problems


def languages_for(engine: str) -> list[str]:
    """The languages this engine's run crawls: the words on a page do not depend on the database, so the
    SQLite and PostgreSQL runs share the two languages out (with one engine configured, it crawls both)."""
    return ["zh", "en"][ENGINES.index(engine) :: len(ENGINES)]


def test_every_page_of_every_role_speaks_the_readers_language(demo_world, app, engine_name):
    data = data_strings()
    problems = {}
    for language in languages_for(engine_name):
        for login in demo.DEMO_LOGINS:
            client = app.test_client()
            Auth(client).login(login["mobile"], login["password"])
            for path, words in crawl(client, language, data).items():
                problems[f"{language} {login['key']} {path}"] = words
        anonymous = app.test_client()
        for path, words in crawl(anonymous, language, data, ("/auth/login", "/auth/activate", "/p/")).items():
            problems[f"{language} anonymous {path}"] = words
    assert not problems, "\n".join(f"{where}: {' '.join(words[:12])}" for where, words in sorted(problems.items()))
