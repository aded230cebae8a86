"""Signing in to the desk: forms found by their labels, generic failures and their
limit, CSRF tokens, cookies, sessions that end at once, TOTP, one-time passwords,
the admin's pages, and the audit read by a signed-in auditor."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import lxml.html
import pyotp
import pytest

from pressfeed.assembly import Pressfeed
from pressfeed.web import create_app
from pressfeed.web.desk.signin import ADDRESS_SHARE
from pressfeed.web.sessions import COOKIE
from tests.conftest import make_settings

HTML = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"}
PASSWORD = "correct horse battery"
WRONG = "Wrong name or password."


def form_of(response, button: str):
    """The form holding the button, and {label text: field name} of its fields."""
    tree = lxml.html.fromstring(response.get_data(as_text=True))
    for form in tree.forms:
        if button in [b.text_content().strip() for b in form.cssselect("button")]:
            labels = {
                label.text_content().strip(): tree.get_element_by_id(
                    label.get("for")
                ).get("name")
                for label in form.cssselect("label")
            }
            return form, labels
    raise AssertionError(f"no form with a {button!r} button")


def hidden_fields(form) -> dict[str, str]:
    """What a browser sends of a form without the person typing anything."""
    return {i.get("name"): i.get("value", "") for i in form.inputs if i.get("type") == "hidden"}  # fmt: skip


def submit(client, page_path: str, button: str, fields: dict[str, str], **kwargs):
    """Opens the page, fills in the form's fields by their labels, presses button."""
    page = client.get(page_path, headers=HTML, **kwargs)
    assert page.status_code == 200, page.status_code
    form, labels = form_of(page, button)
    data = hidden_fields(form)
    for label, value in fields.items():
        data[labels[label]] = value
    return client.post(form.get("action"), data=data, headers=HTML, **kwargs)


def sign_in(
    client, name: str, password: str = PASSWORD, next_path: str = "", address=""
):
    path = "/desk/login" + (f"?next={next_path}" if next_path else "")
    fields = {"Name": name, "Password": password}
    if address:
        return submit(client, path, "Sign in", fields, environ_base={"REMOTE_ADDR": address})  # fmt: skip
    return submit(client, path, "Sign in", fields)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def location(response) -> str:
    return response.headers["Location"]


@pytest.fixture
def people(services):
    return services.people


@pytest.fixture
def admin(people):
    people.create("ada", "admin", PASSWORD)
    return "ada"


def test_sign_in_with_the_labelled_form_then_back_where_asked(client, people):
    people.create("anna", "writer", PASSWORD)
    response = sign_in(client, "anna")
    assert response.status_code == 303
    assert location(response) == "/desk/"
    other = client.application.test_client()
    response = sign_in(other, "anna", next_path="/audit/statements/x")
    assert location(response) == "/audit/statements/x"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/desk/", "/api/statements", "/desk\\..\\x"])  # fmt: skip
def test_sign_in_never_leads_elsewhere(client, people, target):
    people.create("anna", "writer", PASSWORD)
    assert location(sign_in(client, "anna", next_path=target)) == "/desk/"


def test_wrong_passwords_get_one_generic_message(client, people):
    people.create("anna", "writer", PASSWORD)
    people.create("bert", "writer", PASSWORD)
    people.disable("bert")
    for name, password in [("anna", "wrong"), ("nobody", PASSWORD), ("bert", PASSWORD)]:
        response = sign_in(client, name, password)
        assert response.status_code == 200
        assert WRONG in text_of(response)
        assert client.get_cookie(COOKIE) is None


def test_failures_are_limited_per_account(client, people, services):
    people.create("anna", "writer", PASSWORD)
    limit = services.settings.sign_in_failures_per_minute
    for n in range(limit):
        failed = sign_in(client, "anna", "wrong", address=f"10.0.0.{n}")
        assert WRONG in text_of(failed)
    response = sign_in(client, "anna", address="10.0.1.1")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.mimetype == "text/html"
    assert client.get_cookie(COOKIE) is None
    people.create("bob", "writer", PASSWORD)
    assert sign_in(client, "bob").status_code == 303  # other accounts sign in


def test_failures_are_limited_per_address(client, people, services):
    """Guessing across names from one address is limited too, at a few times
    an account's limit: one person's typos behind an office's address leave
    the others' sign-in alone."""
    people.create("anna", "writer", PASSWORD)
    people.create("paul", "publisher", PASSWORD)
    limit = services.settings.sign_in_failures_per_minute
    for _ in range(limit):
        assert WRONG in text_of(sign_in(client, "wanda", "wrong"))
    colleague = client.application.test_client()  # another browser, same address
    assert sign_in(colleague, "paul").status_code == 303  # wanda's typos, not his
    for n in range(limit * (ADDRESS_SHARE - 1)):
        assert WRONG in text_of(sign_in(client, f"guess-{n}", "wrong"))
    response = sign_in(client, "anna")
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    assert sign_in(client, "anna", address="10.9.9.9").status_code == 303


def test_a_post_without_a_csrf_token_is_refused_and_changes_nothing(
    client, admin, people
):
    assert sign_in(client, admin).status_code == 303
    before = people.list()
    response = client.post("/desk/people", data={"name": "mallory", "role": "admin"})
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"].endswith("/problems/bad-request")
    forged = client.post(
        "/desk/people",
        data={"name": "mallory", "role": "admin", "csrf_token": "forged"},
        headers=HTML,
    )
    assert forged.status_code == 400 and forged.mimetype == "text/html"
    assert people.list() == before
    stranger = client.application.test_client()
    response = stranger.post("/desk/login", data={"name": admin, "password": PASSWORD})
    assert response.status_code == 400
    assert stranger.get_cookie(COOKIE) is None


def test_the_session_cookie_is_http_only_and_same_site(client, people):
    people.create("anna", "writer", PASSWORD)
    response = sign_in(client, "anna")
    cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith(COOKIE)
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # http://localhost
    assert all("HttpOnly" in c for c in response.headers.getlist("Set-Cookie"))


def test_with_an_https_base_url_cookies_are_secure(tmp_path):
    settings = make_settings(tmp_path, PRESSFEED_BASE_URL="https://press.example")
    services = Pressfeed(settings)
    try:
        services.people.create("anna", "writer", PASSWORD)
        client = create_app(services=services).test_client()
        https = {"base_url": "https://localhost"}
        page = client.get("/desk/login", headers=HTML, **https)
        token = re.search(r'name="csrf_token" value="([^"]+)"', text_of(page))[1]
        response = client.post(
            "/desk/login",
            data={"csrf_token": token, "name": "anna", "password": PASSWORD},
            headers={**HTML, "Referer": "https://localhost/desk/login"},
            **https,
        )
        assert response.status_code == 303, text_of(response)
        cookies = response.headers.getlist("Set-Cookie")
        assert any(c.startswith(COOKIE) for c in cookies)
        assert all("Secure" in c and "SameSite=Lax" in c for c in cookies)
    finally:
        services.close()


def test_the_secret_key_is_generated_once_in_the_instance_folder(tmp_path):
    settings = make_settings(tmp_path)
    services = Pressfeed(settings)
    try:
        first = create_app(services=services).secret_key
        second = create_app(services=services).secret_key
        path = settings.instance_dir / "secret_key"
        assert first == second == path.read_text().strip()
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        services.close()
    given = make_settings(tmp_path, PRESSFEED_SECRET_KEY="k" * 40)
    assert create_app(services=Pressfeed(given)).secret_key == "k" * 40


def test_desk_pages_are_never_stored(client, admin):
    assert client.get("/desk/login").headers["Cache-Control"] == "no-store, private"
    sign_in(client, admin)
    for path in ("/desk/people", "/desk/tokens", "/desk/password"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store, private"


def test_sign_out_ends_the_session(client, admin):
    sign_in(client, admin)
    assert client.get("/desk/people").status_code == 200
    old = client.get_cookie(COOKIE).value
    page = client.get("/desk/people", headers=HTML)
    assert "ada" in text_of(page)
    form, _ = form_of(page, "Sign out")
    token = form.inputs["csrf_token"].value
    response = client.post("/desk/logout", data={"csrf_token": token})
    assert response.status_code == 303 and location(response) == "/desk/login"
    assert client.get_cookie(COOKIE) is None
    client.set_cookie(COOKIE, old)  # the old cookie, replayed
    response = client.get("/desk/people")
    assert response.status_code == 303
    assert location(response) == "/desk/login?next=%2Fdesk%2Fpeople&ended=yes"
    page = text_of(client.get(location(response), headers=HTML))
    assert "Your session has ended" in page and "was not saved" not in page


def published(services, title="Visa hours"):
    from pressfeed.application import NewStatement

    return services.press_office.create_statement(
        NewStatement(title=title, body="Open at nine.", kind="news"), actor="paul"
    ).statement


def amendment_opened(client, people, services):
    """Paul, signed in, has a published statement's amendment form open."""
    people.create("paul", "publisher", PASSWORD)
    statement = published(services)
    sign_in(client, "paul")
    page = client.get(f"/desk/statements/{statement.id}", headers=HTML)
    return statement, page, form_of(page, "Save amendment")[0]


TYPED = 'Open at <b>ten</b>, "not nine".\nOn Fridays too.'


def test_a_correction_sent_after_the_session_ended_comes_back_once_signed_in(
    client, people, services
):
    """Idle too long while typing: the sign-in page carries what was sent, and
    once signed in the correction is back in its form, to send again."""
    statement, _, form = amendment_opened(client, people, services)
    data = hidden_fields(form)
    data |= {"title": "Visa hours", "kind": "news", "body": TYPED, "change_note": "Ten"}
    people.end_sessions("paul")  # as the idle limit would
    sent = client.post(
        form.get("action"), data={**data, "action": "save"}, headers=HTML
    )
    assert sent.status_code == 200
    assert "What you sent is not saved yet" in text_of(sent)
    assert "<b>ten</b>" not in text_of(sent)  # carried, escaped
    form, labels = form_of(sent, "Sign in")
    carried = hidden_fields(form)
    assert carried["kept.body"] == TYPED
    carried |= {labels["Name"]: "paul", labels["Password"]: PASSWORD}
    back = client.post(form.get("action"), data=carried, headers=HTML)
    assert back.status_code == 303
    assert location(back).startswith(f"/desk/statements/{statement.id}?kept=")
    restored = client.get(location(back), headers=HTML)
    tree = lxml.html.fromstring(text_of(restored))
    assert "Your session had ended" in text_of(restored)
    amend = next(f for f in tree.forms if f.get("action").endswith("/amendment"))
    assert amend.inputs["body"].value == TYPED
    assert amend.inputs["change_note"].value == "Ten"
    assert amend.inputs["version"].value == str(statement.version)
    assert services.press_office.get_statement(statement.id).body == "Open at nine."
    stranger = client.application.test_client()
    people.create("petra", "publisher", PASSWORD)
    sign_in(stranger, "petra")
    theirs = text_of(stranger.get(location(back), headers=HTML))
    assert "not nine" not in theirs  # kept for paul alone


def test_a_form_from_before_signing_in_again_in_another_tab_is_kept(
    client, people, services
):
    _, page, form = amendment_opened(client, people, services)
    data = hidden_fields(form)
    leave, _ = form_of(page, "Sign out")  # in another tab: out, and in again
    client.post("/desk/logout", data={"csrf_token": leave.inputs["csrf_token"].value})
    sign_in(client, "paul")  # a new session, and a new CSRF token
    typed = {**data, "title": "Visa hours", "kind": "news", "body": TYPED,
             "change_note": "Ten", "action": "save"}  # fmt: skip
    for sibling in ("same-site", "cross-site"):  # another site of the domain, or not
        forged = client.post(
            form.get("action"), data=typed, headers={**HTML, "Sec-Fetch-Site": sibling}
        )
        assert forged.status_code == 400 and "kept=" not in forged.headers.get(
            "Location", ""
        )
    sent = client.post(
        form.get("action"),
        data=typed,
        headers={**HTML, "Sec-Fetch-Site": "same-origin"},
    )
    assert sent.status_code == 303 and "?kept=" in location(sent)
    restored = text_of(client.get(location(sent), headers=HTML))
    assert "On Fridays too." in restored and "Your session had ended" in restored


def test_a_new_statement_typed_while_the_session_ended_comes_back(client, people):
    people.create("paul", "publisher", PASSWORD)
    sign_in(client, "paul")
    page = client.get("/desk/statements/new", headers=HTML)
    opened = hidden_fields(form_of(page, "Save draft")[0])
    people.end_sessions("paul")
    sent = client.post(
        "/desk/statements/new",
        data={**opened, "title": "Not lost", "body": TYPED, "action": "save-draft"},
    )  # fmt: skip
    form, labels = form_of(sent, "Sign in")
    carried = hidden_fields(form)
    carried |= {labels["Name"]: "paul", labels["Password"]: "wrong"}
    again = client.post(form.get("action"), data=carried, headers=HTML)
    assert WRONG in text_of(again)  # a typo in the password loses nothing either
    form, labels = form_of(again, "Sign in")
    carried = hidden_fields(form)
    carried |= {labels["Name"]: "paul", labels["Password"]: PASSWORD}
    back = client.post(form.get("action"), data=carried, headers=HTML)
    assert location(back).startswith("/desk/statements/new?kept=")
    restored = lxml.html.fromstring(text_of(client.get(location(back), headers=HTML)))
    compose = next(
        f for f in restored.forms if f.get("action") == "/desk/statements/new"
    )
    assert compose.inputs["title"].value == "Not lost"
    assert compose.inputs["body"].value == TYPED


def test_disabling_and_a_role_change_end_the_sessions_at_once(client, admin, people):
    people.create("anna", "writer", PASSWORD)
    people.create("bert", "writer", PASSWORD)
    anna, bert = client.application.test_client(), client.application.test_client()
    sign_in(anna, "anna")
    sign_in(bert, "bert")
    assert anna.get("/desk/password").status_code == 200
    sign_in(client, admin)
    disabled = submit(client, "/desk/people", "Disable", {})  # the first listed: anna
    assert disabled.status_code == 303
    assert people.get("anna").disabled
    response = anna.get("/desk/password")
    assert response.status_code == 303 and location(response).startswith("/desk/login")
    page = client.get("/desk/people", headers=HTML)
    form = next(f for f in lxml.html.fromstring(text_of(page)).forms if f.get("action") == "/desk/people/bert/role")  # fmt: skip
    response = client.post(
        form.get("action"),
        data={"csrf_token": form.inputs["csrf_token"].value, "role": "publisher"},
    )
    assert response.status_code == 303
    assert people.get("bert").role == "publisher"
    assert location(bert.get("/desk/password")).startswith("/desk/login")
    assert sign_in(bert, "bert").status_code == 303  # as a publisher now


def test_admins_create_people_who_must_change_the_one_time_password(client, admin, people):  # fmt: skip
    sign_in(client, admin)
    created = submit(client, "/desk/people", "Create account", {"Name": "carla", "Role": "publisher"})  # fmt: skip
    assert created.status_code == 201
    one_time = lxml.html.fromstring(text_of(created)).get_element_by_id(
        "one-time-password"
    )
    password = one_time.text_content()
    assert people.get("carla").must_change_password
    assert password not in text_of(client.get("/desk/people"))  # shown once
    carla = client.application.test_client()
    response = sign_in(carla, "carla", password, next_path="/desk/people")
    assert location(response) == "/desk/password?next=%2Fdesk%2Fpeople"
    assert location(carla.get("/desk/")) == "/desk/password?next=%2Fdesk%2F"
    response = submit(carla, "/desk/password?next=/desk/", "Change password", {"Current password": password, "New password": "carla's own one"})  # fmt: skip
    assert response.status_code == 303 and location(response) == "/desk/"
    assert not people.get("carla").must_change_password
    assert carla.get("/desk/password").status_code == 200  # still signed in
    assert carla.get("/desk/people").status_code == 403  # a publisher, not an admin


def test_only_admins_see_the_admin_pages(client, people):
    people.create("anna", "publisher", PASSWORD)
    assert location(client.get("/desk/people")).startswith("/desk/login")
    sign_in(client, "anna")
    for path in ("/desk/people", "/desk/tokens"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 403 and response.mimetype == "text/html"
    page = client.get("/desk/password", headers=HTML)
    assert "API tokens" not in text_of(page)


def test_admins_create_and_revoke_api_tokens(client, admin, services):
    sign_in(client, admin)
    created = submit(client, "/desk/tokens", "Create token", {"Name": "newsroom", "Role": "publisher"})  # fmt: skip
    assert created.status_code == 201
    token = lxml.html.fromstring(text_of(created)).get_element_by_id("new-token")
    caller = services.tokens.authenticate(token.text_content())
    assert (caller.name, caller.role) == ("newsroom", "publisher")
    page = client.get("/desk/tokens", headers=HTML)
    assert "newsroom" in text_of(page)
    revoked = submit(client, "/desk/tokens", "Revoke", {})
    assert revoked.status_code == 303
    assert services.tokens.authenticate(token.text_content()) is None


def test_a_totp_account_signs_in_in_two_steps(client, people):
    people.create("anna", "auditor", PASSWORD)
    uri = people.enable_totp("anna")
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    response = sign_in(client, "anna", next_path="/desk/password")
    assert response.status_code == 303 and location(response) == "/desk/login/code"
    assert client.get_cookie(COOKIE) is None  # no session before the code
    assert location(client.get("/desk/password")).startswith("/desk/login")
    wrong = "000000" if totp.now() != "000000" else "111111"
    response = submit(client, "/desk/login/code", "Verify", {"Code": wrong})
    assert "Wrong code." in text_of(response) and client.get_cookie(COOKIE) is None
    response = submit(client, "/desk/login/code", "Verify", {"Code": totp.now()})
    assert response.status_code == 303 and location(response) == "/desk/password"
    assert client.get("/desk/password").status_code == 200
    stranger = client.application.test_client()
    assert location(stranger.get("/desk/login/code")) == "/desk/login"


def test_an_auditor_session_reads_the_audit_in_html(client, desk, people):
    statement = desk.create(title="Visa times")
    path = f"/audit/statements/{statement['id']}"
    response = client.get(path, headers=HTML)
    assert response.status_code == 303
    assert location(response) == f"/desk/login?next={path.replace('/', '%2F')}"
    assert client.get(path).status_code == 401  # not a browser: as before
    people.create("olga", "auditor", PASSWORD)
    assert location(sign_in(client, "olga", next_path=path)) == path
    response = client.get(path, headers=HTML)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "Visa times" in text_of(response)
    assert response.headers["Cache-Control"] == "no-store, private"
    assert client.get("/audit/verify").get_json()["ok"] is True
    assert client.get("/api/statements").status_code == 401  # the API: tokens only


def test_a_writer_session_may_not_read_the_audit(client, desk, people):
    statement = desk.create()
    people.create("anna", "writer", PASSWORD)
    sign_in(client, "anna")
    response = client.get(f"/audit/statements/{statement['id']}", headers=HTML)
    assert response.status_code == 403


def test_tokens_decide_when_sent(client, desk, people, publisher, auditor):
    """A session beside a token changes nothing: the token is judged as before."""
    statement = desk.create()
    people.create("olga", "auditor", PASSWORD)
    sign_in(client, "olga")
    path = f"/audit/statements/{statement['id']}"
    assert client.get(path, headers=publisher).status_code == 403
    assert client.get(path, headers={"Authorization": "Bearer pf_x_y"}).status_code == 401  # fmt: skip
    assert client.get(path, headers=auditor).status_code == 200
    people.create("paul", "publisher", PASSWORD)
    paul = client.application.test_client()
    sign_in(paul, "paul")
    assert paul.get("/api/statements").status_code == 401
    response = paul.post(
        "/api/statements", json={"title": "t", "body": "b", "kind": "news"}
    )
    assert response.status_code == 401


def test_another_sites_post_of_a_statement_form_is_carried_nowhere(client, people):
    """A forged cross-site post (no CSRF token, no session) must not come back
    prefilled after the victim signs in: a plain 400, nothing carried."""
    people.create("paul", "publisher", PASSWORD)
    forged = client.post(
        "/desk/statements/new",
        data={"title": "Forged", "body": "Words of another site.", "action": "save-draft"},
        headers={**HTML, "Sec-Fetch-Site": "cross-site"},
    )  # fmt: skip
    assert forged.status_code == 400
    assert "Words of another site" not in text_of(forged)


def test_each_person_has_a_few_kept_forms_at_most(people):
    people.create("paul", "publisher", PASSWORD)
    tokens = [
        people.keep_form("paul", "/desk/statements/new", {"body": f"Draft {n}"})
        for n in range(8)
    ]
    kept = [people.take_kept_form("paul", token) for token in tokens]
    assert [k is not None for k in kept] == [False] * 3 + [True] * 5
    assert kept[-1] == ("/desk/statements/new", {"body": "Draft 7"})


def carried_sign_in(client, sent, name: str, password: str = PASSWORD):
    """Signs in on the sign-in page that carries a form."""
    form, labels = form_of(sent, "Sign in")
    carried = hidden_fields(form) | {labels["Name"]: name, labels["Password"]: password}
    return client.post(form.get("action"), data=carried, headers=HTML)


def test_a_kept_form_comes_back_to_the_person_who_typed_it_only_and_once(
    client, people, services
):
    statement, _, form = amendment_opened(client, people, services)
    people.create("petra", "publisher", PASSWORD)
    typed = hidden_fields(form) | {"title": "Visa hours", "kind": "news",
                                   "body": TYPED, "change_note": "Ten", "action": "save"}  # fmt: skip
    people.end_sessions("paul")
    sent = client.post(form.get("action"), data=typed, headers=HTML)
    as_petra = carried_sign_in(client, sent, "petra")  # a colleague at his desk
    assert location(as_petra) == f"/desk/statements/{statement.id}"  # nothing kept
    assert "not nine" not in text_of(client.get(location(as_petra), headers=HTML))
    people.end_sessions("petra")
    same_origin = {**HTML, "Sec-Fetch-Site": "same-origin"}  # a token from before
    sent = client.post(form.get("action"), data=typed, headers=same_origin)
    back = carried_sign_in(client, sent, "paul")
    assert "not nine" in text_of(client.get(location(back), headers=HTML))
    again = text_of(client.get(location(back), headers=HTML))  # Back, or a reload
    assert "not nine" not in again and "Your session had ended" not in again


def test_a_stale_sign_in_page_and_sign_out_still_work(client, people, services):
    """Signed in and out in another tab: the old tab's sign-in page shows
    afresh, still carrying its form; its Sign out still signs out."""
    _, page, form = amendment_opened(client, people, services)
    typed = hidden_fields(form) | {"title": "Visa hours", "kind": "news",
                                   "body": TYPED, "change_note": "Ten", "action": "save"}  # fmt: skip
    people.end_sessions("paul")
    sent = client.post(form.get("action"), data=typed, headers=HTML)  # tab A
    sign_in(client, "paul")  # tab B: a new CSRF token
    same_origin = {**HTML, "Sec-Fetch-Site": "same-origin"}
    login, labels = form_of(sent, "Sign in")
    stale = client.post(
        login.get("action"),
        data=hidden_fields(login)
        | {labels["Name"]: "paul", labels["Password"]: PASSWORD},
        headers=same_origin,
    )
    assert stale.status_code == 200 and "This page was out of date" in text_of(stale)
    back = carried_sign_in(client, stale, "paul")
    assert "not nine" in text_of(client.get(location(back), headers=HTML))
    leave, _ = form_of(page, "Sign out")  # the old page's own token
    out = client.post("/desk/logout", data=hidden_fields(leave), headers=same_origin)
    assert out.status_code == 303 and client.get_cookie(COOKIE) is None


def test_a_kept_text_whose_form_is_gone_is_shown_to_copy(client, people, services):
    """Wanda's session ended while she edited a draft a publisher scheduled
    meanwhile: its form is gone, her text is still there to copy."""
    from datetime import UTC, datetime, timedelta

    from pressfeed.application import NewStatement

    people.create("wanda", "writer", PASSWORD)
    draft = services.press_office.create_statement(
        NewStatement(
            title="Cultural season", body="Concerts.", kind="news", draft=True
        ),
        actor="wanda",
    ).statement
    sign_in(client, "wanda")
    page = client.get(f"/desk/statements/{draft.id}", headers=HTML)
    form, _ = form_of(page, "Save draft")
    typed = hidden_fields(form) | {"title": "Cultural season", "kind": "news",
                                   "body": "Concerts every Tuesday.", "action": "save"}  # fmt: skip
    people.end_sessions("wanda")
    sent = client.post(form.get("action"), data=typed, headers=HTML)
    services.press_office.schedule(
        draft.id, publish_at=datetime.now(UTC) + timedelta(days=1), actor="paul"
    )
    back = carried_sign_in(client, sent, "wanda")
    restored = lxml.html.fromstring(text_of(client.get(location(back), headers=HTML)))
    copy = restored.get_element_by_id("kept-body")
    assert copy.get("readonly") is not None and copy.text == "Concerts every Tuesday."


def test_a_desk_form_from_another_site_is_refused_even_with_a_token(
    client, people, services
):
    """A sibling domain could plant the form cookie and so know the token:
    the browser's Sec-Fetch-Site still tells, and the post is refused."""
    statement, _, form = amendment_opened(client, people, services)
    typed = hidden_fields(form) | {"title": "Visa hours", "kind": "news",
                                   "body": "Forged.", "change_note": "x", "action": "save"}  # fmt: skip
    forged = client.post(
        form.get("action"), data=typed, headers={**HTML, "Sec-Fetch-Site": "same-site"}
    )
    assert forged.status_code == 403
    assert services.press_office.get_statement(statement.id).body == "Open at nine."
