"""The message catalogs: in step with the sources, Italian complete, placeholders intact; pages
in one language at a time; domain texts shown in the page's language."""

import re
import subprocess
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from ledger.donor import retention_reason
from ledger.errors import ConflictError, invalid_field
from ledger.texts import N_
from web import store
from web.exports import italian_words
from web.i18n import error_text, translate
from web.labels import WORDS, channel_label, method_label, status_label

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "web" / "translations"
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrs]|\{(\w*)[^{}]*\}")


def catalog(language: str) -> Catalog:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        return read_po(file, locale=language)


def keys(messages: Catalog) -> set[tuple[str, str | None]]:
    return {(_singular(m), m.context) for m in messages if m.id}


def _singular(message: Message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id


def placeholders(text: str) -> set[str]:
    return {named or braced for named, braced in PLACEHOLDER.findall(text)}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run([ROOT / "scripts" / "translations", "extract", pot], check=True, cwd=ROOT)
    with pot.open("rb") as file:
        return read_po(file)


@pytest.mark.parametrize("language", ["it", "en"])
def test_every_text_of_the_sources_is_in_the_catalog(extracted: Catalog, language: str) -> None:
    missing = keys(extracted) - keys(catalog(language))
    assert not missing, f"run scripts/translations update, then translate: {sorted(missing)}"


def test_the_committed_template_is_the_extracted_one(extracted: Catalog) -> None:
    with (TRANSLATIONS / "messages.pot").open("rb") as file:
        assert keys(read_po(file)) == keys(extracted)


def test_every_italian_text_is_translated_and_none_is_fuzzy() -> None:
    italian = [m for m in catalog("it") if m.id]
    assert len(italian) > 300
    untranslated = [
        m.id for m in italian if not all(m.string if isinstance(m.string, tuple) else [m.string])
    ]
    fuzzy = [m.id for m in italian if m.fuzzy]
    assert (untranslated, fuzzy) == ([], [])


@pytest.mark.parametrize("language", ["it", "en"])
def test_translations_keep_the_placeholders_of_their_text(language: str) -> None:
    wrong = []
    for message in catalog(language):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in filter(None, strings):
            # A plural form may say "one" instead of the number; it may not invent a name.
            allowed = set().union(*map(placeholders, ids))
            needed = placeholders(ids[-1]) - ({"num"} if len(ids) > 1 else set())
            if not needed <= placeholders(string) <= allowed:
                wrong.append((message.id, string))
    assert wrong == []


def test_the_placeholder_check_sees_a_lost_or_renamed_name() -> None:
    assert placeholders("from %(low)s to %(high)s, {n} left") == {"low", "high", "n"}
    assert placeholders("da %(low)s a %(alto)s") != placeholders("from %(low)s to %(high)s")


# Pages in one language


class _VisibleText(HTMLParser):
    """The text a reader sees (and hears: titles, labels, placeholders), without scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        for name, value in attrs:
            if name in ("title", "placeholder", "aria-label", "alt") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def phrases(texts: set[str], other: set[str]) -> set[str]:
    """The pieces of `texts` (between placeholders) that only one language uses: several
    words, so that a name or a word both languages share ("E-mail", "Comune") is not taken
    for a slip of language."""
    pieces = {
        " ".join(piece.split())
        for text in texts - other
        for piece in re.split(r"%\(\w+\)\w|\{\w*\}|%%", text)
    }
    shared = {" ".join(t.split()) for t in other}
    return {p for p in pieces if len(p) >= 12 and " " in p and p not in shared}


def languages() -> tuple[set[str], set[str]]:
    english: set[str] = set()
    italian: set[str] = set()
    for message in catalog("it"):
        if message.id:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            english.update(ids)
            italian.update(s for s in strings if s)
    return english, italian


@pytest.fixture
def staff_client(office: Flask) -> tuple[FlaskClient, list[str]]:
    """Signed in as staff, with the key pages: home, donate, a stand, the dashboard."""
    client = office.test_client()
    signed = client.post(
        "/login", data={"email": "staff@example.org", "password": "una-password-lunga"}
    )
    assert signed.status_code == 302
    with office.app_context():
        stand = store().app.open_stand(
            "fare-legami-anni-2-3", "Piazza Duomo", "Crema", "Crema", date(2016, 9, 10), ["Anna"]
        )
    return client, ["/", "/donate/", f"/stands/{stand}", "/admin/"]


def test_pages_asked_in_english_show_no_italian_text(
    staff_client: tuple[FlaskClient, list[str]],
) -> None:
    client, paths = staff_client
    english, italian = languages()
    italian_only = phrases(italian, english)
    for path in paths:
        response = client.get(path, query_string={"lang": "en"})
        assert response.status_code == 200, path
        page = visible_text(response.get_data(as_text=True))
        assert not [p for p in italian_only if p in page], path
        # What the page shows comes from the catalog: the check looks at the right texts.
        assert [p for p in phrases(english, italian) if p in page], path


def test_pages_by_default_show_no_english_text(
    staff_client: tuple[FlaskClient, list[str]],
) -> None:
    client, paths = staff_client
    english, italian = languages()
    english_only = phrases(english, italian)
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        page = visible_text(response.get_data(as_text=True))
        assert not [p for p in english_only if p in page], path
        assert [p for p in phrases(italian, english) if p in page], path


def test_the_language_check_sees_a_stray_text() -> None:
    english, italian = languages()
    page = visible_text("<p>Campaigns</p><p>Dati personali cancellati: i totali restano.</p>")
    assert [p for p in phrases(italian, english) if p in page]
    assert not [p for p in phrases(italian, english) if p in visible_text("<p>Crema</p>")]


# Domain texts: English in the domain and the CLI, the page's language on the web


def test_a_domain_text_is_english_and_keeps_its_msgid_and_values() -> None:
    text = N_("no tap %(entry)s on this stand", entry="t-1")
    assert (text, text.msgid, text.values) == (
        "no tap t-1 on this stand",
        "no tap %(entry)s on this stand",
        {"entry": "t-1"},
    )


def test_the_web_shows_domain_texts_in_the_pages_language(app: Flask) -> None:
    reason = retention_reason(True, date(2017, 5, 2), date(2027, 5, 1))
    assert reason is not None
    refused = ConflictError(N_("erasure refused: %(reason)s", reason=reason))
    invalid = invalid_field("counter", N_("who counted?"))
    with app.test_request_context("/"):
        assert error_text(refused) == (
            "cancellazione rifiutata: i dati di un donatore con codice fiscale vanno conservati "
            "per 10 anni dall'ultima donazione, fino al 02/05/2027"
        )
        assert error_text(invalid) == "counter: chi ha contato?"
        assert translate("not a domain text") == "not a domain text"
    with app.test_request_context("/?lang=en"):
        assert error_text(refused) == (
            "erasure refused: the data of a donor with a tax code are kept 10 years after the "
            "last gift, until 02/05/2027"
        )
        assert error_text(invalid) == "counter: who counted?"


def test_exports_say_each_code_as_an_italian_page_does(app: Flask) -> None:
    labels = {"status": status_label, "channel": channel_label, "method": method_label}
    with app.test_request_context("/?lang=it"):
        shown = {kind: {code: labels[kind](code) for code in WORDS[kind]} for kind in labels}
    assert italian_words() == shown
    assert (shown["method"]["bank_transfer"], shown["status"]["failed"]) == (
        "bonifico",
        "non riuscita",
    )
    with app.test_request_context("/?lang=en"):
        assert method_label("bank_transfer") == "bank transfer"
        assert method_label("barter") == "barter"


def test_api_errors_follow_the_language(office: Flask) -> None:
    client = office.test_client()
    with office.app_context():
        token = {"Authorization": f"Bearer {store().app.issue_token('staff@example.org')}"}
    opening = {
        "campaign": "fare-legami-anni-2-3",
        "place": "Piazza Duomo",
        "comune": "Crema",
        "district": "Crema",
        "day": "2018-07-01",
        "volunteers": ["Anna"],
    }
    italian = client.post("/api/v1/stands", json=opening, headers=token).get_json()
    english = client.post("/api/v1/stands?lang=en", json=opening, headers=token).get_json()
    assert italian["errors"]["campaign"] == ["la campagna è finita il 30/06/2018"]
    assert english["errors"]["campaign"] == ["the campaign ended on 30/06/2018"]


def test_the_stand_pages_script_and_error_pages_speak_the_pages_language(
    staff_client: tuple[FlaskClient, list[str]],
) -> None:
    client, paths = staff_client
    stand = paths[2]
    italian = client.get(stand).get_data(as_text=True)
    english = client.get(stand, query_string={"lang": "en"}).get_data(as_text=True)
    # The script's texts come in the page, as JSON, in the page's language.
    assert '"sign_in_again": "Accedi di nuovo"' in italian
    assert '"sign_in_again": "Sign in again"' in english
    assert "Questa pagina non esiste." in client.get("/nowhere", query_string={"lang": "it"}).text
    assert "There is no such page." in client.get("/nowhere", query_string={"lang": "en"}).text
