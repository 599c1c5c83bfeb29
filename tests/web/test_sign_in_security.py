"""Sessions that end, tokens that expire and open the JSON API only, sign-in limits that an
attacker cannot turn against the admin, and `next=` that never leaves the site."""

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from projections.audit import audit_entries
from projections.store import LedgerStore
from tests.helpers import start_campaigns
from web import create_app, sessions, store, throttle
from web.auth import PRESENCE_COOKIE, safe_next
from web.cli import main

PASSWORD = "una-password-lunga"
ROLES = ("volunteer", "staff", "admin")
OPENING = {
    "campaign": "fare-legami-anni-2-3",
    "place": "Piazza Duomo",
    "comune": "Crema",
    "district": "Crema",
    "day": "2016-09-10",
    "volunteers": ["Anna", "Bruno"],
}
ATTACKER, ADMIN_DESK, PROXY = "198.51.100.7", "203.0.113.9", "10.0.0.1"


def make_site(url: str, **config: Any) -> Flask:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "t",
            "LEDGER_DATABASE_URL": url,
            "WTF_CSRF_ENABLED": False,
            **config,
        }
    )
    with app.app_context():
        start_campaigns(store())
        for role in ROLES:
            store().app.add_user(f"{role}@example.org", role, PASSWORD)
    return app


@pytest.fixture
def site(store_url: str) -> Iterator[Flask]:
    app = make_site(store_url)
    yield app
    app.extensions["ledger_store"].close()


def sign_in(app: Flask, role: str, address: str = "127.0.0.1", **headers: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    response = client.post(
        "/login", data={"email": f"{role}@example.org", "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 302, response.status_code
    return client


def attempt(client: FlaskClient, email: str, password: str, **headers: str) -> int:
    return client.post(
        "/login", data={"email": email, "password": password}, headers=headers
    ).status_code


def token_for(app: Flask, role: str, **options: Any) -> str:
    with app.app_context():
        return store().app.issue_token(f"{role}@example.org", **options)


# Sessions


def test_a_cookie_saved_before_logout_no_longer_signs_in(site: Flask) -> None:
    client = sign_in(site, "staff")
    saved = client.get_cookie("session")
    presence = client.get_cookie(PRESENCE_COOKIE)
    assert saved is not None and presence is not None
    assert client.get("/admin/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get_cookie(PRESENCE_COOKIE) is None
    replay = site.test_client()
    replay.set_cookie("session", saved.value)
    replay.set_cookie(PRESENCE_COOKIE, presence.value)
    response = replay.get("/admin/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_session_whose_page_half_was_deleted_ends_on_the_server(site: Flask) -> None:
    """A phone signed out with no network deletes the cookie its script can reach (the
    session's is HttpOnly): the session ends at the next request, for good."""
    client = site.test_client()
    signed = client.post("/login", data={"email": "volunteer@example.org", "password": PASSWORD})
    cookies = signed.headers.getlist("Set-Cookie")
    [given] = [cookie for cookie in cookies if cookie.startswith(PRESENCE_COOKIE + "=")]
    assert "httponly" not in given.lower() and "samesite=lax" in given.lower()
    saved = client.get_cookie("session")
    presence = client.get_cookie(PRESENCE_COOKIE)
    assert saved is not None and presence is not None
    assert client.get("/stands/").status_code == 200
    client.delete_cookie(PRESENCE_COOKIE)
    response = client.get("/stands/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # The server ended it: the two cookies together, kept from before, no longer sign in.
    replay = site.test_client()
    replay.set_cookie("session", saved.value)
    replay.set_cookie(PRESENCE_COOKIE, presence.value)
    assert replay.get("/stands/").status_code == 302
    # Another page half (a guess, whatever its characters) signs no one in either.
    for guess in ("indovinato", "é", ""):
        other = sign_in(site, "volunteer")
        other.set_cookie(PRESENCE_COOKIE, guess)
        assert other.get("/stands/").status_code == 302, guess


def test_a_new_password_or_a_deactivation_ends_only_that_users_sessions(site: Flask) -> None:
    staff, admin, volunteer = (sign_in(site, role) for role in ("staff", "admin", "volunteer"))
    with site.app_context():
        store().app.set_password("staff@example.org", "una-password-nuova")
    assert staff.get("/admin/").status_code == 302
    assert admin.get("/admin/").status_code == 200
    assert volunteer.get("/stands/").status_code == 200
    with site.app_context():
        store().app.deactivate_user("volunteer@example.org")
    assert volunteer.get("/stands/").status_code == 302
    assert admin.get("/admin/").status_code == 200
    again = site.test_client()
    assert attempt(again, "staff@example.org", "una-password-nuova") == 302
    assert again.get("/admin/").status_code == 200


def test_an_idle_session_ends_after_the_configured_minutes(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_site(store_url, LEDGER_SESSION_IDLE_MINUTES=20)
    clock = [1_000_000.0]
    monkeypatch.setattr(sessions, "now", lambda: clock[0])
    try:
        client = sign_in(app, "staff")
        for _ in range(6):  # two hours of work, a page every 19 minutes
            clock[0] += 19 * 60
            assert client.get("/admin/").status_code == 200
        clock[0] += 21 * 60
        assert client.get("/admin/").status_code == 302
        clock[0] += 60  # and it does not come back
        assert client.get("/admin/").status_code == 302
        long_day = sign_in(app, "staff")
        for _ in range(8 * 60 // 19 + 1):  # busy for more than the 8 hours a session lasts
            clock[0] += 19 * 60
            status = long_day.get("/admin/").status_code
        assert status == 302
    finally:
        app.extensions["ledger_store"].close()


# Tokens


@given(
    days=st.integers(min_value=1, max_value=3650),
    after=st.integers(min_value=0, max_value=3651 * 86400),
)
def test_a_token_holds_for_its_days_and_not_a_second_more(days: int, after: int) -> None:
    from ledger.user import User

    user = User("t@example.org", "staff", "$argon2id$unused")
    issued = datetime(2017, 3, 1, 9, 30, tzinfo=UTC)
    token = user.issue_token(issued, days)
    token_id, secret = token.split("_", 2)[2].split(".")
    valid = user.accepts_token(token_id, secret, issued + timedelta(seconds=after))
    assert valid == (after < days * 86400)


def test_tokens_expire_after_ninety_days_by_default(store: LedgerStore) -> None:
    store.app.add_user("staff@example.org", "staff", PASSWORD)
    issued = datetime.now(UTC) - timedelta(days=90, minutes=1)
    old = store.app.issue_token("staff@example.org", now=issued)
    fresh = store.app.issue_token("staff@example.org")
    assert store.app.user_for_token(old) is None
    assert store.app.user_for_token(fresh) is not None
    listed = store.app.user_tokens("staff@example.org")
    assert [t.state for t in listed] == ["expired", "active"]
    assert [t.expires_at - t.issued_at for t in listed] == [timedelta(days=90)] * 2


def test_tokens_are_shown_once_listed_and_revoked_from_the_cli(cli: CliRunner) -> None:
    assert (
        cli.invoke(
            main,
            ["users", "add", "v@example.org", "--role", "volunteer", "--password-stdin"],
            input=PASSWORD + "\n",
        ).exit_code
        == 0
    )
    first = cli.invoke(main, ["users", "token", "v@example.org"])
    second = cli.invoke(main, ["users", "token", "v@example.org", "--days", "7"])
    assert first.exit_code == 0 and second.exit_code == 0
    tokens = [first.stdout.strip(), second.stdout.strip()]
    references = [token.partition(".")[0] for token in tokens]
    assert "valid until" in first.stderr and references[0] in first.stderr
    listed = cli.invoke(main, ["users", "tokens", "V@example.org"])
    assert listed.exit_code == 0
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [row[0] for row in rows] == references and [row[3] for row in rows] == ["active"] * 2
    assert (datetime.fromisoformat(rows[1][2]) - datetime.fromisoformat(rows[1][1])).days == 7
    assert not any(token.partition(".")[2] in listed.output for token in tokens)
    by_reference = cli.invoke(main, ["users", "revoke-token", references[0]])
    by_token = cli.invoke(main, ["users", "revoke-token", tokens[1]])
    assert by_reference.stdout.strip() == f"token {references[0]} revoked"
    assert by_token.exit_code == 0 and tokens[1].partition(".")[2] not in by_token.output
    again = cli.invoke(main, ["users", "revoke-token", references[0]])
    assert again.exit_code == 0 and "already revoked" in again.stdout
    after = cli.invoke(main, ["users", "tokens", "v@example.org"]).stdout
    assert [line.split("\t")[3] for line in after.splitlines()] == ["revoked", "revoked"]
    unknown = cli.invoke(main, ["users", "revoke-token", "fondo_nessuno"])
    assert unknown.exit_code == 1 and "no such token" in unknown.stderr
    bad_days = cli.invoke(
        main, ["users", "token", "v@example.org"], env={"LEDGER_TOKEN_DAYS": "novanta"}
    )
    assert bad_days.exit_code == 1 and "LEDGER_TOKEN_DAYS" in bad_days.stderr


def test_a_token_opens_the_json_api_and_nothing_else(site: Flask) -> None:
    bearer = {"Authorization": f"Bearer {token_for(site, 'admin')}"}
    client = site.test_client()
    assert client.get(f"/api/v1/stands/{uuid.uuid4()}", headers=bearer).status_code == 404
    assert client.post("/api/v1/stands", json=OPENING, headers=bearer).status_code == 201
    for page in (
        "/admin/",
        "/admin/registry",
        "/admin/exports/donors.csv",
        "/admin/exports/donations.xlsx",
        "/admin/audit",
        "/stands/",
    ):
        refused = client.get(page, headers=bearer)
        assert refused.status_code == 403, page
        assert "API" in refused.get_data(as_text=True)
    with site.app_context():
        store().runner.catch_up()
        with store().database.reading() as session:
            actions = [entry["action"] for entry in audit_entries(session)]
    assert not [action for action in actions if action.startswith("export")]


def test_a_bearer_request_works_whatever_cookies_it_carries(site: Flask) -> None:
    staff = sign_in(site, "staff")  # the session cookie of someone else
    site.config["WTF_CSRF_ENABLED"] = True
    staff.set_cookie("remember_token", "stale")
    bearer = {"Authorization": f"Bearer {token_for(site, 'volunteer')}"}
    opened = staff.post("/api/v1/stands", json=OPENING, headers=bearer)
    assert opened.status_code == 201  # no CSRF token needed, the token alone decides
    assert staff.get("/admin/registry", headers=bearer).status_code == 403  # a volunteer's
    assert staff.get("/admin/registry").status_code == 200  # the session is untouched


@pytest.mark.parametrize(
    "authorization",
    ["Bearer junk", "bearer junk", "Bearer ", "Bearer fondo_x_y.z", "Basic c3RhZmY6eA=="],
)
def test_a_junk_authorization_header_never_skips_csrf(site: Flask, authorization: str) -> None:
    staff = sign_in(site, "staff")
    site.config["WTF_CSRF_ENABLED"] = True
    response = staff.post("/api/v1/stands", json=OPENING, headers={"Authorization": authorization})
    # Either the request is signed out (a bearer that is no token) or CSRF is checked.
    expected = 400 if authorization.startswith("Basic") else 401
    assert response.status_code == expected
    with site.app_context():
        store().runner.catch_up()
        with store().database.reading() as session:
            assert session.scalar("SELECT COUNT(*) FROM stands_view", default=0) == 0


# Sign-in


def test_unknown_deactivated_and_known_accounts_cost_the_same_argon2_work(
    store: LedgerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.app.add_user("staff@example.org", "staff", PASSWORD)
    store.app.add_user("gone@example.org", "staff", PASSWORD)
    store.app.deactivate_user("gone@example.org")
    verified: list[str] = []
    original = PasswordHasher.verify

    def counting(self: PasswordHasher, hashed: str | bytes, password: str | bytes) -> bool:
        verified.append(str(hashed).rsplit("$", 2)[0])  # the algorithm and its parameters
        return original(self, hashed, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    for email in ("nessuno@example.org", "gone@example.org", "staff@example.org"):
        for password in (PASSWORD, "sbagliata-sbagliata"):
            store.app.authenticate(email, password)
    assert len(verified) == 6 and len(set(verified)) == 1
    assert verified[0].startswith("$argon2id$")


def test_failures_from_one_address_do_not_lock_the_admin_out_elsewhere(site: Flask) -> None:
    attacker = site.test_client()
    attacker.environ_base["REMOTE_ADDR"] = ATTACKER
    statuses = [attempt(attacker, "admin@example.org", f"tentativo-{n:04d}") for n in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    blocked = attacker.post("/login", data={"email": "admin@example.org", "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    admin = sign_in(site, "admin", ADMIN_DESK)
    assert admin.get("/admin/").status_code == 200


def test_one_address_is_limited_whatever_accounts_it_tries(site: Flask) -> None:
    sprayer = site.test_client()
    sprayer.environ_base["REMOTE_ADDR"] = ATTACKER
    statuses = [attempt(sprayer, f"utente{n}@example.org", "password-comune") for n in range(20)]
    assert statuses == [401] * 20
    assert attempt(sprayer, "staff@example.org", PASSWORD) == 429
    assert attempt(site.test_client(), "staff@example.org", PASSWORD) == 302


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_counted(store_url: str) -> None:
    app = make_site(store_url, LEDGER_TRUSTED_PROXIES=1)
    try:
        through_proxy = app.test_client()
        through_proxy.environ_base["REMOTE_ADDR"] = PROXY
        for n in range(5):
            assert (
                attempt(
                    through_proxy,
                    "admin@example.org",
                    f"tentativo-{n:04d}",
                    **{"X-Forwarded-For": ATTACKER},
                )
                == 401
            )
        assert (
            attempt(through_proxy, "admin@example.org", PASSWORD, **{"X-Forwarded-For": ATTACKER})
            == 429
        )
        # A client cannot pick its address: only the proxy's own entry (the last) counts.
        assert (
            attempt(
                through_proxy,
                "admin@example.org",
                PASSWORD,
                **{"X-Forwarded-For": f"{ADMIN_DESK}, {ATTACKER}"},
            )
            == 429
        )
        assert (
            attempt(through_proxy, "admin@example.org", PASSWORD, **{"X-Forwarded-For": ADMIN_DESK})
            == 302
        )
    finally:
        app.extensions["ledger_store"].close()


def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(site: Flask) -> None:
    client = site.test_client()
    client.environ_base["REMOTE_ADDR"] = ATTACKER
    for n in range(5):
        assert (
            attempt(
                client,
                "admin@example.org",
                f"tentativo-{n:04d}",
                **{"X-Forwarded-For": f"192.0.2.{n}"},
            )
            == 401
        )
    assert attempt(client, "admin@example.org", PASSWORD, **{"X-Forwarded-For": ADMIN_DESK}) == 429


def test_parallel_attempts_cannot_slip_under_the_limit(store: LedgerStore) -> None:
    throttle.create_table(store.database)
    start = threading.Barrier(12)
    allowed: list[int] = []

    def try_once() -> None:
        start.wait()
        allowed.append(throttle.begin_attempt(store.database, "admin@example.org", ATTACKER))
        store.database.close()

    workers = [threading.Thread(target=try_once) for _ in range(12)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(allowed) == 12
    assert allowed.count(0) == throttle.PER_ACCOUNT_AND_ADDRESS


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/%0a/evil.example",
        "/\\evil.example",
        "/\\\\evil.example",
        "//evil.example",
        "https://evil.example/",
        "/%0d%0aSet-Cookie:%20x=1",
        "javascript:alert(1)",
        "%2F%2Fevil.example",
        "/%7f/evil.example",
    ],
)
def test_next_refuses_anything_but_a_local_path(site: Flask, target: str) -> None:
    response = site.test_client().post(
        f"/login?next={target}", data={"email": "staff@example.org", "password": PASSWORD}
    )
    if any(code in target.lower() for code in ("%09", "%0a", "%0d", "%7f")):
        # A control character in any query parameter is refused before sign-in is tried.
        assert response.status_code == 422 and "Location" not in response.headers
    else:
        assert response.status_code == 302 and response.headers["Location"] == "/"


def test_next_keeps_a_local_path_with_its_query(site: Flask) -> None:
    response = site.test_client().post(
        "/login?next=/admin/donations%3Fchannel%3Dbank",
        data={"email": "staff@example.org", "password": PASSWORD},
    )
    assert response.headers["Location"] == "/admin/donations?channel=bank"


@given(st.text(max_size=40))
def test_next_never_names_another_host_as_a_browser_reads_it(target: str) -> None:
    app = Flask(__name__)
    app.add_url_rule("/", "public.home", lambda: "")
    with app.test_request_context():
        chosen = safe_next(target)
    # What a browser does to a Location (WHATWG URL): drop tabs and newlines, `\` is `/`.
    read = "".join(c for c in chosen if c not in "\t\n\r").replace("\\", "/").strip()
    assert chosen == "/" or chosen == target
    assert read.startswith("/") and not read.startswith("//")
    assert not urlsplit(read).netloc and not urlsplit(read).scheme
