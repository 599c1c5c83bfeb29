"""A password `ledger users add` or `users password` prints is one-time: it opens only the page
where the user chooses their own, and stops working once they have."""

import re
import uuid
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.web.test_translations import languages, phrases, visible_text
from web.cli import main

EMAIL = "anna@example.org"
OWN = "la-mia-password-segreta"
NOWHERE = f"/api/v1/stands/{uuid.uuid4()}"  # a stand that does not exist: 404 once allowed


def printed_password(result: object) -> str:
    output = getattr(result, "output", "")
    found = re.search(r"^one-time password: (\S+)$", output, re.MULTILINE)
    assert found, output
    return found.group(1)


@pytest.fixture
def site(cli: CliRunner, app: Flask) -> Flask:
    """The site on a ledger made by `ledger init` (`cli` comes first), beside the CLI on the
    same store; forms are posted without their CSRF token (the token's own test turns it
    back on)."""
    app.config["WTF_CSRF_ENABLED"] = False
    return app


def add_by_cli(cli: CliRunner, role: str = "staff") -> str:
    added = cli.invoke(main, ["users", "add", EMAIL, "--role", role])
    assert added.exit_code == 0, added.output
    return printed_password(added)


def sign_in(site: Flask, password: str, next_path: str = "") -> tuple[FlaskClient, str]:
    client = site.test_client()
    response = client.post(
        "/login" + (f"?next={next_path}" if next_path else ""),
        data={"email": EMAIL, "password": password},
    )
    assert response.status_code == 302, response.status_code
    return client, response.headers["Location"]


def choose(
    client: FlaskClient, password: str, confirm: str | None = None, at: str = "/password"
) -> TestResponse:
    """The form as a browser sends it: to the page's own address, `next=` included."""
    return client.post(
        at, data={"password": password, "confirm": password if confirm is None else confirm}
    )


def test_a_one_time_password_leads_only_to_choosing_ones_own(site: Flask, cli: CliRunner) -> None:
    one_time = add_by_cli(cli)
    client, landing = sign_in(site, one_time, next_path="/admin/registry")
    assert urlsplit(landing).path == "/password"
    page = client.get(landing)
    assert page.status_code == 200 and "Scegli la tua password" in page.get_data(as_text=True)

    # Every page leads back there, public ones too; the JSON API answers 403 with the reason.
    for path in ("/admin/", "/admin/registry", "/stands/", "/", "/donate/"):
        held = client.get(path)
        assert held.status_code == 302, path
        assert urlsplit(held.headers["Location"]).path == "/password", path
    api = client.get(NOWHERE)
    assert api.status_code == 403 and api.is_json
    assert "provvisoria" in api.get_json()["message"]
    refused = client.post("/api/v1/stands", json={})
    assert refused.status_code == 403

    chosen = choose(client, OWN, at=landing)
    assert chosen.status_code == 302
    assert chosen.headers["Location"] == "/admin/registry"  # where the sign-in was headed
    assert client.get("/admin/registry").status_code == 200
    assert client.get(NOWHERE).status_code == 404  # the API is open to the user now

    # The one-time password no longer signs in; the user's own does, straight to the site.
    assert (
        site.test_client().post("/login", data={"email": EMAIL, "password": one_time}).status_code
        == 401
    )
    again, landing = sign_in(site, OWN)
    assert landing == "/" and again.get("/admin/").status_code == 200


def test_choosing_a_password_ends_every_session_of_the_one_time_one(
    site: Flask, cli: CliRunner
) -> None:
    one_time = add_by_cli(cli)
    elsewhere, _landing = sign_in(site, one_time)  # someone who read the scroll-back
    client, _landing = sign_in(site, one_time)
    assert choose(client, OWN).status_code == 302
    assert client.get("/admin/").status_code == 200  # the chooser goes on in a new session
    ended = elsewhere.get("/admin/")
    assert ended.status_code == 302 and urlsplit(ended.headers["Location"]).path == "/login"
    assert elsewhere.get("/password").headers["Location"].startswith("/login")


def test_tokens_of_a_user_with_a_one_time_password_are_refused_until_they_choose(
    site: Flask, cli: CliRunner
) -> None:
    one_time = add_by_cli(cli, role="volunteer")
    issued = cli.invoke(main, ["users", "token", EMAIL])
    assert issued.exit_code == 0
    bearer = {"Authorization": f"Bearer {issued.output.splitlines()[0].strip()}"}
    refused = site.test_client().get(NOWHERE, headers=bearer)
    assert refused.status_code == 403 and refused.is_json
    assert (
        "one-time"
        in site.test_client()
        .get(NOWHERE, headers={**bearer, "Accept-Language": "en"}, query_string={"lang": "en"})
        .get_json()["message"]
    )
    client, _landing = sign_in(site, one_time)
    assert choose(client, OWN).status_code == 302
    assert site.test_client().get(NOWHERE, headers=bearer).status_code == 404


def test_a_new_one_time_password_from_the_cli_holds_the_user_again(
    site: Flask, cli: CliRunner
) -> None:
    added = cli.invoke(
        main, ["users", "add", EMAIL, "--role", "staff", "--password-stdin"], input=OWN + "\n"
    )
    assert added.exit_code == 0 and "one-time" not in added.output
    own, landing = sign_in(site, OWN)
    assert landing == "/" and own.get("/admin/").status_code == 200

    reset = cli.invoke(main, ["users", "password", EMAIL])
    assert reset.exit_code == 0
    assert own.get("/admin/").status_code == 302  # the old password's session ended
    client, landing = sign_in(site, printed_password(reset))
    assert urlsplit(landing).path == "/password"
    assert urlsplit(client.get("/admin/").headers["Location"]).path == "/password"

    # A password given on stdin is the user's own again: nothing held.
    given = cli.invoke(main, ["users", "password", EMAIL, "--password-stdin"], input=OWN + "\n")
    assert given.exit_code == 0 and "one-time" not in given.output
    own, landing = sign_in(site, OWN)
    assert landing == "/" and own.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    ("password", "confirm", "field", "said"),
    [
        ("la-mia-password", "la-mia-passworD", "confirm", "Le due password non coincidono."),
        ("corta", "corta", "password", "Almeno 10 caratteri."),
        ("", "", "password", "Campo obbligatorio."),
        (None, None, "password", "La nuova password deve essere diversa da quella provvisoria."),
    ],
)
def test_a_refused_password_is_explained_beside_its_field_and_changes_nothing(
    site: Flask,
    cli: CliRunner,
    password: str | None,
    confirm: str | None,
    field: str,
    said: str,
) -> None:
    one_time = add_by_cli(cli)
    client, _landing = sign_in(site, one_time)
    refused = choose(
        client,
        one_time if password is None else password,
        one_time if confirm is None else confirm,
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    beside = re.search(
        rf'name="{field}"[^>]*>\s*</label>\s*<span class="field-error">([^<]*)</span>', html
    )
    assert beside and said in beside.group(1), html
    assert urlsplit(client.get("/admin/").headers["Location"]).path == "/password"
    assert (
        site.test_client().post("/login", data={"email": EMAIL, "password": one_time}).status_code
        == 302
    )


def test_the_password_form_needs_its_csrf_token(site: Flask, cli: CliRunner) -> None:
    site.config["WTF_CSRF_ENABLED"] = True
    one_time = add_by_cli(cli)
    client = site.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login)
    assert token
    signed = client.post(
        "/login", data={"email": EMAIL, "password": one_time, "csrf_token": token.group(1)}
    )
    assert urlsplit(signed.headers["Location"]).path == "/password"
    assert client.post("/password", data={"password": OWN, "confirm": OWN}).status_code == 400
    page = client.get("/password").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    chosen = client.post(
        "/password", data={"password": OWN, "confirm": OWN, "csrf_token": token.group(1)}
    )
    assert chosen.status_code == 302 and client.get("/admin/").status_code == 200


def test_the_password_page_speaks_italian_first_and_english_when_asked(
    site: Flask, cli: CliRunner
) -> None:
    client, _landing = sign_in(site, add_by_cli(cli))
    english, italian = languages()
    italian_page = visible_text(client.get("/password").get_data(as_text=True))
    english_page = visible_text(client.get("/password?lang=en").get_data(as_text=True))
    assert "Scegli la tua password" in italian_page and "Choose your password" in english_page
    assert not [p for p in phrases(english, italian) if p in italian_page]
    assert not [p for p in phrases(italian, english) if p in english_page]
