"""The desk's statement pages, as press officers use them: compose with preview,
review and approval, embargoes in the office's zone, amendments with a diff and
no lost update, withdrawal after a confirmation; roles decide what each may do."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pressfeed.web import create_app
from tests.conftest import make_settings

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')
STATEMENT_ACTION = re.compile(r"(/desk/statements/[0-9a-f-]{36})/[a-z/]+")


class Officer:
    """A person signed in to the desk with their own browser (cookie jar)."""

    def __init__(self, app, name: str) -> None:
        self.client = app.test_client()
        self.name = name
        page = self.client.get("/desk/login").get_data(as_text=True)
        signed_in = self.client.post(
            "/desk/login",
            data={"name": name, "password": PASSWORD, "csrf_token": token_in(page)},
        )
        assert signed_in.status_code == 303, signed_in.get_data(as_text=True)[:500]
        self.csrf = token_in(self.client.get("/desk/").get_data(as_text=True))

    def get(self, path: str):
        return self.client.get(path, headers={"Accept": "text/html"})

    def post(self, path: str, **form):
        """Sends a form; a statement's form with the version its page shows
        (as one opened now would) unless the test gives one."""
        opened = STATEMENT_ACTION.fullmatch(path)
        if opened and "version" not in form:
            page = self.get(opened.group(1)).get_data(as_text=True)
            if shown := VERSION.search(page):  # none where no form is offered
                form["version"] = shown.group(1)
        return self.client.post(path, data={"csrf_token": self.csrf, **form})


def token_in(page: str) -> str:
    found = CSRF.search(page)
    assert found, page[:500]
    return found.group(1)


@pytest.fixture
def office(tmp_path):
    """An office in Paris with a writer, two publishers and an auditor."""
    from pressfeed.assembly import Pressfeed

    services = Pressfeed(make_settings(tmp_path, PRESSFEED_TIMEZONE="Europe/Paris"))
    services.attach_worker(services.projection_worker()).start()
    for name, role in (
        ("wanda", "writer"),
        ("paul", "publisher"),
        ("petra", "publisher"),
        ("aude", "auditor"),
    ):
        services.people.create(name, role, PASSWORD)
    app = create_app(services=services)
    yield app, services
    services.close()


def compose(officer: Officer, action: str, **fields):
    form = {
        "title": "Consular hours in August",
        "kind": "news",
        "language": "en",
        "tags": "visas, consulate",
        "body": "The consulate is **closed** on Fridays.",
        "action": action,
        **fields,
    }
    return officer.post("/desk/statements/new", **form)


def statement_id_of(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    return response.headers["Location"].rsplit("/", 1)[-1]


def test_a_writer_composes_previews_and_submits_and_cannot_publish(office):
    app, services = office
    writer = Officer(app, "wanda")
    preview = compose(writer, "preview")
    assert preview.status_code == 200
    assert "<strong>closed</strong>" in preview.get_data(as_text=True)
    assert preview.get_data(as_text=True).count("<h1") == 1  # the page's own
    assert "Publish now" not in preview.get_data(as_text=True)
    statement_id = statement_id_of(compose(writer, "save-draft"))
    page = writer.get(f"/desk/statements/{statement_id}").get_data(as_text=True)
    assert "Submit for review" in page and "Publish now" not in page
    assert writer.post(f"/desk/statements/{statement_id}/review").status_code == 303
    for path in ("publication", "schedule"):
        crafted = writer.post(f"/desk/statements/{statement_id}/{path}")
        assert crafted.status_code == 403
    assert compose(writer, "publish").status_code == 403
    statement = services.press_office.find_statement(statement_id)
    assert statement.status == "draft" and statement.in_review


def test_a_publisher_approves_and_schedules_in_the_offices_zone(office):
    app, services = office
    writer, publisher = Officer(app, "wanda"), Officer(app, "paul")
    statement_id = statement_id_of(compose(writer, "save-draft"))
    writer.post(f"/desk/statements/{statement_id}/review")
    desk = publisher.get("/desk/").get_data(as_text=True)
    assert "In review" in desk and "Consular hours in August" in desk
    page = publisher.get(f"/desk/statements/{statement_id}").get_data(as_text=True)
    assert "Approve and publish" in page and "Approve and schedule" in page
    paris = ZoneInfo("Europe/Paris")
    local = (datetime.now(paris) + timedelta(days=2)).replace(second=0, microsecond=0)
    scheduled = publisher.post(
        f"/desk/statements/{statement_id}/schedule",
        publish_at=local.strftime("%Y-%m-%dT%H:%M"),
    )
    assert scheduled.status_code == 303
    statement = services.press_office.find_statement(statement_id)
    assert statement.status == "scheduled"
    assert statement.publish_at == local
    assert (statement.approved_by, statement.review_requested_by) == ("paul", "wanda")
    page = publisher.get(f"/desk/statements/{statement_id}").get_data(as_text=True)
    assert local.strftime("%H:%M CE") in page  # CET or CEST, the zone's name
    moving = local.strftime("%Y-%m-%dT%H:%M:%S")  # the embargo, ready to move
    assert f'name="publish_at" type="datetime-local" step="1" value="{moving}"' in page


def test_a_publish_at_the_clocks_skip_is_refused_and_changes_nothing(office):
    app, services = office
    paul = Officer(app, "paul")
    statement_id = statement_id_of(compose(paul, "save-draft"))
    before = services.press_office.find_statement(statement_id).version
    refused = paul.post(
        f"/desk/statements/{statement_id}/schedule", publish_at="2030-03-31T02:30"
    )
    assert refused.status_code == 422
    assert "2030-03-31 02:30 does not exist in Europe/Paris" in refused.get_data(
        as_text=True
    )
    statement = services.press_office.find_statement(statement_id)
    assert (statement.status, statement.version) == ("draft", before)


def test_an_amendment_is_previewed_as_a_diff_and_a_stale_form_loses_nothing(office):
    app, services = office
    paul, petra = Officer(app, "paul"), Officer(app, "petra")
    statement_id = statement_id_of(compose(paul, "publish"))
    opened = services.press_office.find_statement(statement_id).version
    form = {
        "title": "Consular hours in August",
        "kind": "news",
        "tags": "visas",
        "body": "The consulate is closed on Fridays and Saturdays.",
        "change_note": "Saturdays too",
        "version": str(opened),
    }
    preview = paul.post(
        f"/desk/statements/{statement_id}/amendment", action="preview", **form
    ).get_data(as_text=True)
    assert "Changes against the published text" in preview
    assert "+The consulate is closed on Fridays and Saturdays." in preview
    saved = petra.post(
        f"/desk/statements/{statement_id}/amendment",
        action="save",
        **{
            **form,
            "body": "The consulate is closed on Fridays only.",
            "change_note": "Only",
        },
    )
    assert saved.status_code == 303
    stale = paul.post(
        f"/desk/statements/{statement_id}/amendment", action="save", **form
    )
    assert stale.status_code == 409
    text = stale.get_data(as_text=True)
    assert "by petra" in text and "Apply mine on top" in text
    assert services.press_office.find_statement(statement_id).body == (
        "The consulate is closed on Fridays only."
    )
    current = services.press_office.find_statement(statement_id).version
    again = paul.post(
        f"/desk/statements/{statement_id}/amendment",
        action="save",
        **{**form, "version": str(current)},
    )
    assert again.status_code == 303
    statement = services.press_office.find_statement(statement_id)
    assert statement.body == "The consulate is closed on Fridays and Saturdays."
    assert statement.last_actor == "paul"


def test_a_withdrawal_is_confirmed_on_a_page_showing_what_readers_will_see(office):
    app, services = office
    paul = Officer(app, "paul")
    statement_id = statement_id_of(compose(paul, "publish"))
    confirm = paul.post(
        f"/desk/statements/{statement_id}/withdrawal", reason="In error"
    )
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    assert "Withdrawn: Consular hours in August" in text and "Reason: In error" in text
    assert services.press_office.find_statement(statement_id).status == "published"
    version = services.press_office.find_statement(statement_id).version
    done = paul.post(
        f"/desk/statements/{statement_id}/withdrawal",
        reason="In error",
        confirmed="yes",
        version=str(version),
    )
    assert done.status_code == 303
    statement = services.press_office.find_statement(statement_id)
    assert (statement.status, statement.last_actor) == ("retracted", "paul")


def test_with_a_second_pair_of_eyes_the_author_cannot_publish_from_the_desk(office):
    app, services = office
    services.press_office.second_pair_of_eyes = True
    paul, petra = Officer(app, "paul"), Officer(app, "petra")
    page = paul.get("/desk/statements/new").get_data(as_text=True)
    assert "Publish now" not in page and 'name="publish_at"' not in page
    refused = compose(paul, "publish")
    assert refused.status_code == 422
    assert "another publisher must do this" in refused.get_data(as_text=True)
    statement_id = statement_id_of(compose(paul, "save-draft"))
    own = paul.post(f"/desk/statements/{statement_id}/publication")
    assert own.status_code == 409
    assert petra.post(f"/desk/statements/{statement_id}/publication").status_code == 303
    assert services.press_office.find_statement(statement_id).status == "published"


def test_the_desk_is_private_and_readable_by_every_role(office):
    app, _ = office
    for name in ("wanda", "paul", "aude"):
        page = Officer(app, name).get("/desk/")
        assert page.status_code == 200
        assert page.headers["Cache-Control"] == "no-store, private"
        assert "form-action 'self'" in page.headers["Content-Security-Policy"]
    assert app.test_client().get("/desk/").status_code == 303  # to the login page


def test_an_auditor_reads_the_history_in_the_browser_as_people_read_it(office):
    app, services = office
    paul = Officer(app, "paul")
    statement_id = statement_id_of(compose(paul, "publish"))
    version = services.press_office.find_statement(statement_id).version
    paul.post(
        f"/desk/statements/{statement_id}/amendment",
        action="save",
        title="Consular hours in August",
        kind="news",
        tags="visas, passports",
        body="The consulate is closed on Fridays and Saturdays.",
        change_note="Saturdays too",
        version=str(version),
    )
    history = Officer(app, "aude").get(f"/audit/statements/{statement_id}")
    assert history.status_code == 200
    text = history.get_data(as_text=True)
    assert "None" not in text and "['" not in text
    assert "visas, consulate" in text and "visas, passports" in text
    assert text.count('class="actor">paul<') >= 3


@pytest.mark.parametrize("version", ["abc", "²", "٣", "", "12345678901"])
def test_a_form_without_a_clear_version_is_refused_and_changes_nothing(office, version):
    """ "²".isdigit() is true, yet int("²") raises: neither is a 500, and
    neither acts on whatever version is current (a stale page would)."""
    app, services = office
    paul = Officer(app, "paul")
    statement_id = statement_id_of(compose(paul, "publish"))
    for path, form in (
        ("withdrawal", {"reason": "In error", "confirmed": "yes"}),
        ("amendment", {"title": "T", "kind": "news", "body": "B", "change_note": "x"}),
    ):
        done = paul.post(
            f"/desk/statements/{statement_id}/{path}", **form, version=version
        )
        assert done.status_code == 400, done.get_data(as_text=True)[:300]
        assert "did not say which version" in done.get_data(as_text=True)
    statement = services.press_office.find_statement(statement_id)
    assert (statement.status, statement.version) == ("published", 2)


def test_a_withdrawal_opened_before_a_colleagues_amendment_is_refused(office):
    """Paul never saw the amended text: confirming must not withdraw it."""
    app, services = office
    paul, petra = Officer(app, "paul"), Officer(app, "petra")
    statement_id = statement_id_of(compose(paul, "publish"))
    opened = services.press_office.find_statement(statement_id).version
    amended = petra.post(
        f"/desk/statements/{statement_id}/amendment",
        action="save",
        title="Consular hours in August",
        kind="news",
        tags="visas",
        body="It moves to the garden.",
        change_note="New place",
        version=str(opened),
    )
    assert amended.status_code == 303
    for confirmed in ("", "yes"):
        stale = paul.post(
            f"/desk/statements/{statement_id}/withdrawal",
            reason="In error",
            confirmed=confirmed,
            version=str(opened),
        )
        assert stale.status_code == 409
        assert "by petra" in stale.get_data(as_text=True)
    assert services.press_office.find_statement(statement_id).status == "published"


def test_cancelling_an_embargo_moved_meanwhile_is_refused(office):
    app, services = office
    paul, petra = Officer(app, "paul"), Officer(app, "petra")
    later = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=3)).replace(
        microsecond=0, tzinfo=None
    )
    statement_id = statement_id_of(
        compose(paul, "schedule", publish_at=later.isoformat())
    )
    opened = services.press_office.find_statement(statement_id).version
    moved = petra.post(
        f"/desk/statements/{statement_id}/schedule",
        publish_at=(later + timedelta(days=1)).isoformat(),
        version=str(opened),
    )
    assert moved.status_code == 303
    stale = paul.post(
        f"/desk/statements/{statement_id}/unschedule", version=str(opened)
    )
    assert stale.status_code == 409
    assert services.press_office.find_statement(statement_id).status == "scheduled"


def test_a_statement_in_review_shows_however_many_drafts_are_newer(office):
    app, _ = office
    wanda, paul = Officer(app, "wanda"), Officer(app, "paul")
    waiting = statement_id_of(compose(wanda, "save-draft", title="Waiting for Paul"))
    wanda.post(f"/desk/statements/{waiting}/review")
    for i in range(55):
        compose(wanda, "save-draft", title=f"Newer draft {i}")
    desk = paul.get("/desk/").get_data(as_text=True)
    assert "Waiting for Paul" in desk and "Nothing waits for review" not in desk


def test_a_writer_is_not_offered_an_embargo_time_and_a_bad_one_stays_typed(office):
    app, services = office
    wanda, paul = Officer(app, "wanda"), Officer(app, "paul")
    assert 'name="publish_at"' not in wanda.get("/desk/statements/new").get_data(
        as_text=True
    )
    statement_id = statement_id_of(compose(paul, "save-draft"))
    refused = paul.post(
        f"/desk/statements/{statement_id}/schedule",
        publish_at="2001-01-01T10:00:00",
        version=str(services.press_office.find_statement(statement_id).version),
    )
    assert refused.status_code in (409, 422)
    page = refused.get_data(as_text=True)
    assert 'value="2001-01-01T10:00:00"' in page
    assert "The consulate is **closed** on Fridays." in page  # the text's form too


def test_applying_mine_on_top_keeps_what_only_a_colleague_corrected(office):
    """Paul corrects the body; Pia, on an older page, changes only the title:
    her change applied on top keeps Paul's correction."""
    app, services = office
    paul, petra = Officer(app, "paul"), Officer(app, "petra")
    statement_id = statement_id_of(
        compose(paul, "publish", body="Open 9:00-12:00.\r\nClosed on Fridays.")
    )
    opened = str(services.press_office.find_statement(statement_id).version)
    form = {
        "title": "Consular hours in August",
        "kind": "news",
        "tags": "visas, consulate",
        "body": "Open 9:00-12:00.\r\nClosed on Fridays.",
        "version": opened,
        "action": "save",
    }
    corrected = paul.post(
        f"/desk/statements/{statement_id}/amendment",
        **{**form, "body": "Open 9:00-12:30.\r\nClosed on Fridays."},
        change_note="Corrected the closing time.",
    )
    assert corrected.status_code == 303
    stale = petra.post(
        f"/desk/statements/{statement_id}/amendment",
        **{**form, "title": "Consular hours this August"},
        change_note="Title",
    )
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert "9:00-12:30" in page.split('name="body"')[1].split("</textarea>")[0]
    assert "both changed" not in page
    current = str(services.press_office.find_statement(statement_id).version)
    applied = petra.post(
        f"/desk/statements/{statement_id}/amendment",
        **{**form, "title": "Consular hours this August", "version": current,
           "body": "Open 9:00-12:30.\nClosed on Fridays."},
        change_note="Title",
    )  # fmt: skip
    assert applied.status_code == 303
    statement = services.press_office.find_statement(statement_id)
    assert statement.title == "Consular hours this August"
    assert statement.body == "Open 9:00-12:30.\nClosed on Fridays."


@pytest.mark.parametrize(
    ("hers", "offered", "named"),
    [
        # apart from his paragraph: both changes, nothing to look at twice
        ("Open 9:00-13:00.\r\nClosed on Fridays.", "9:00-13:00", False),
        # the line his paragraph follows: hers alone, and the body named
        ("Open 9:00-12:00.\r\nClosed on Fridays and Mondays.", "Mondays", True),
    ],
)
def test_a_text_both_changed_is_merged_line_by_line(office, hers, offered, named):
    """Paul adds a paragraph; Pia, on an older page, corrects another line:
    the conflict page offers her text with his paragraph in it."""
    app, services = office
    paul, petra = Officer(app, "paul"), Officer(app, "petra")
    body = "Open 9:00-12:00.\r\nClosed on Fridays."
    statement_id = statement_id_of(compose(paul, "publish", body=body))
    opened = str(services.press_office.find_statement(statement_id).version)
    form = {"title": "Consular hours in August", "kind": "news", "version": opened,
            "tags": "visas, consulate", "action": "save"}  # fmt: skip
    added = paul.post(
        f"/desk/statements/{statement_id}/amendment",
        **form, body=body + "\r\n\r\nPassports on Wednesdays.", change_note="Added",
    )  # fmt: skip
    assert added.status_code == 303
    stale = petra.post(
        f"/desk/statements/{statement_id}/amendment",
        **form, body=hers, change_note="Corrected",
    )  # fmt: skip
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    offered_body = page.split('name="body"')[1].split("</textarea>")[0]
    assert offered in offered_body
    assert ("Passports on Wednesdays." in offered_body) is not named
    assert ("both changed: Body." in page) is named  # the field as labelled
    assert "by paul" in page and "Amended" in page


def test_a_stale_approval_offers_no_text_to_apply(office):
    app, services = office
    wanda, paul = Officer(app, "wanda"), Officer(app, "paul")
    statement_id = statement_id_of(compose(wanda, "save-draft"))
    opened = services.press_office.find_statement(statement_id).version
    wanda.post(f"/desk/statements/{statement_id}/review", version=str(opened))
    stale = paul.post(
        f"/desk/statements/{statement_id}/publication", version=str(opened)
    )
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert "Nothing was done" in page and "Apply mine on top" not in page


def test_a_publisher_features_a_statement_on_the_front_page_and_stops(office):
    app, services = office
    publisher, writer = Officer(app, "paul"), Officer(app, "wanda")
    statement_id = statement_id_of(compose(publisher, "publish"))
    page = publisher.get(f"/desk/statements/{statement_id}").get_data(as_text=True)
    assert "The front page features no statement" in page
    assert writer.post(f"/desk/statements/{statement_id}/featuring").status_code == 403
    featured = publisher.post(f"/desk/statements/{statement_id}/featuring")
    assert statement_id_of(featured) == statement_id
    assert str(services.press_office.front_page().featured) == statement_id
    page = publisher.get(f"/desk/statements/{statement_id}").get_data(as_text=True)
    assert "This statement is featured first" in page and "Stop featuring" in page
    desk = publisher.get("/desk/").get_data(as_text=True)
    assert "The front page features:" in desk and "Consular hours in August" in desk
    ended = publisher.post(f"/desk/statements/{statement_id}/featuring/end")
    assert ended.status_code == 303
    assert services.press_office.front_page().featured is None


def test_a_draft_cannot_be_featured_from_the_desk(office):
    app, services = office
    publisher = Officer(app, "paul")
    statement_id = statement_id_of(compose(publisher, "save-draft"))
    page = publisher.get(f"/desk/statements/{statement_id}").get_data(as_text=True)
    assert "Feature on the front page" not in page
    crafted = publisher.post(f"/desk/statements/{statement_id}/featuring")
    assert crafted.status_code == 403
    assert services.press_office.front_page().featured is None


def test_stopping_from_a_stale_page_leaves_a_colleagues_featuring(office):
    app, services = office
    paul, petra = Officer(app, "paul"), Officer(app, "petra")
    first = statement_id_of(compose(paul, "publish"))
    second = statement_id_of(compose(petra, "publish", title="Visa fees in 2027"))
    paul.post(f"/desk/statements/{first}/featuring")
    petra.post(f"/desk/statements/{second}/featuring")  # while paul's page is open
    assert paul.post(f"/desk/statements/{first}/featuring/end").status_code == 303
    assert str(services.press_office.front_page().featured) == second
    page = paul.get(f"/desk/statements/{first}").get_data(as_text=True)
    assert "The front page features:" in page and "Visa fees in 2027" in page


def test_an_embargoed_text_changed_after_approval_is_back_in_review(office):
    app, services = office
    writer, publisher = Officer(app, "wanda"), Officer(app, "paul")
    statement_id = statement_id_of(compose(writer, "save-draft"))
    writer.post(f"/desk/statements/{statement_id}/review")
    paris = ZoneInfo("Europe/Paris")
    local = (datetime.now(paris) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    publisher.post(f"/desk/statements/{statement_id}/schedule", publish_at=local)
    statement = services.press_office.find_statement(statement_id)
    services.press_office.amend(  # through the API, say
        statement.id,
        expected_version=statement.version,
        changes={"body": "Changed after approval."},
        change_note=None,
        minor=False,
        actor="wanda",
    )
    services.worker.wait_until(services.press_office.recorder.max_notification_id())
    desk = publisher.get("/desk/").get_data(as_text=True)
    in_review = desk.split("<h2>In review</h2>")[1].split("</section>")[0]
    assert "Consular hours in August" in in_review
    scheduled = desk.split("<h2>Scheduled</h2>")[1].split("</section>")[0]
    assert "Consular hours in August" not in scheduled  # held, not on its way
    page = publisher.get(f"/desk/statements/{statement_id}").get_data(as_text=True)
    assert "Approve and publish" in page and "Approve and schedule" in page
    assert "held for review: it was to publish" in page
    lifted = publisher.post(
        f"/desk/statements/{statement_id}/publication", lift_embargo="on"
    )
    assert lifted.status_code == 303
    assert services.press_office.find_statement(statement_id).status == "published"


@pytest.mark.parametrize("path", ["publication", "schedule"])
def test_publishing_a_draft_with_unsaved_changes_publishes_nothing(office, path):
    """Publish now and Schedule send the draft's text fields: typed changes
    not saved are kept on the page, and the saved text does not go out."""
    app, services = office
    publisher = Officer(app, "paul")
    statement_id = statement_id_of(compose(publisher, "save-draft"))
    page = publisher.get(f"/desk/statements/{statement_id}").get_data(as_text=True)
    assert 'form="edit-form" formaction="/desk/statements/' in page
    statement = services.press_office.find_statement(statement_id)
    paris = ZoneInfo("Europe/Paris")
    later = (datetime.now(paris) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    typed = {
        "version": str(statement.version),
        "title": "Consular hours in August",
        "kind": "news",
        "tags": "visas,consulate",  # spaced otherwise: the same tags
        "body": "The consulate is closed on Tuesday 1 December.",
        "publish_at": later,
    }
    refused = publisher.post(f"/desk/statements/{statement_id}/{path}", **typed)
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert "You changed Body and did not save it" in text
    assert "closed on Tuesday 1 December." in text
    assert services.press_office.find_statement(statement_id).status == "draft"
    typed["body"] = "The consulate is **closed** on Fridays.\r\n"  # as saved
    done = publisher.post(f"/desk/statements/{statement_id}/{path}", **typed)
    assert done.status_code == 303
    assert services.press_office.find_statement(statement_id).status != "draft"


def test_lifting_an_embargo_early_takes_a_ticked_box(office):
    app, services = office
    publisher = Officer(app, "paul")
    paris = ZoneInfo("Europe/Paris")
    later = (datetime.now(paris) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    statement_id = statement_id_of(compose(publisher, "schedule", publish_at=later))
    page = publisher.get(f"/desk/statements/{statement_id}").get_data(as_text=True)
    assert 'id="lift_embargo" name="lift_embargo" type="checkbox" required' in page
    path = f"/desk/statements/{statement_id}/publication"
    refused = publisher.post(path)
    assert refused.status_code == 422
    assert "Tick the box to lift the embargo" in refused.get_data(as_text=True)
    assert services.press_office.find_statement(statement_id).status == "scheduled"
    assert publisher.post(path, lift_embargo="on").status_code == 303
    assert services.press_office.find_statement(statement_id).status == "published"


def test_every_published_statement_is_reachable_from_the_desk(office):
    """The desk shows the ten latest; the rest are a page (or more) away."""
    from pressfeed.application import NewStatement

    app, services = office
    for n in range(55):
        services.press_office.create_statement(
            NewStatement(title=f"Note {n:02d}", body="Text.", kind="news"), actor="paul"
        )
    services.worker.wait_until(services.press_office.recorder.max_notification_id())
    aude = Officer(app, "aude")
    desk = aude.get("/desk/").get_data(as_text=True)
    assert 'href="/desk/statements?status=published"' in desk
    first = aude.get("/desk/statements?status=published").get_data(as_text=True)
    assert first.count("Note ") == 50 and "Note 54" in first and "Note 04" not in first
    older = (
        re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    )
    second = aude.get(older).get_data(as_text=True)
    assert [f"Note {n:02d}" in second for n in (4, 0)] == [True, True]
    assert 'rel="next"' not in second
    assert aude.get("/desk/statements?status=lost").status_code == 404
    assert aude.get("/desk/statements?status=draft&before=x").status_code == 400


def test_a_refused_field_says_why_beside_it_in_words(office):
    """Screen readers tie the message to its field; nobody reads "tags.1"."""
    app, _ = office
    paul = Officer(app, "paul")
    refused = compose(paul, "save-draft", title="T" * 301, tags="visas, bad tag!")
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'aria-invalid="true" aria-describedby="title-error"' in page
    assert (
        '<span class="field-error" id="title-error">At most 300 characters.</span>'
        in page
    )
    assert 'aria-describedby="tags-error"' in page
    assert "tags.1" not in page and "Value error" not in page
    assert "Title: At most 300 characters." in page


def test_publishing_a_draft_a_colleague_changed_meanwhile_shows_the_conflict(office):
    """Paul's page is older than Petra's correction: Publish now from it must
    neither publish nor offer his old text to save over hers."""
    app, services = office
    paul, petra = Officer(app, "paul"), Officer(app, "petra")
    statement_id = statement_id_of(compose(paul, "save-draft"))
    opened = services.press_office.find_statement(statement_id).version
    form = {"title": "Consular hours in August", "kind": "news",
            "tags": "visas, consulate", "body": "The consulate is **closed** on Fridays."}  # fmt: skip
    petra.post(
        f"/desk/statements/{statement_id}/edit",
        **{**form, "body": "Closed on Fridays and Mondays."}, action="save",
    )  # fmt: skip
    stale = paul.post(
        f"/desk/statements/{statement_id}/publication", **form, version=str(opened)
    )
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert "Someone changed this statement meanwhile" in page
    offered = page.split('name="body"')[1].split("</textarea>")[0]
    assert "Mondays" in offered  # hers, since he left the body as he opened it
    assert services.press_office.find_statement(statement_id).status == "draft"


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001])
def test_a_withdrawal_reason_is_needed_and_no_longer_than_the_apis(office, reason):
    app, services = office
    paul = Officer(app, "paul")
    statement_id = statement_id_of(compose(paul, "publish"))
    refused = paul.post(
        f"/desk/statements/{statement_id}/withdrawal", reason=reason, confirmed="yes"
    )
    assert refused.status_code == 422
    assert "Reason: " in refused.get_data(as_text=True)
    assert services.press_office.find_statement(statement_id).status == "published"


def test_an_embargo_shown_to_be_moved_is_never_earlier_than_it_is(office):
    """The field shows whole seconds: an embargo at 09:30:33.675 shows as
    09:30:34, so sending it back unchanged cannot lift it 0.675 s early."""
    from pressfeed.application import NewStatement

    app, services = office
    paul = Officer(app, "paul")
    due = datetime(2031, 5, 6, 7, 30, 33, 675000, tzinfo=ZoneInfo("UTC"))
    statement = services.press_office.create_statement(
        NewStatement(title="Exact", body="Text.", kind="news", publish_at=due),
        actor="paul",
    ).statement
    page = paul.get(f"/desk/statements/{statement.id}").get_data(as_text=True)
    assert 'value="2031-05-06T09:30:34"' in page  # Paris, summer time


def test_a_conflict_with_a_scheduling_keeps_the_typed_text_to_copy(office):
    app, services = office
    paul, petra = Officer(app, "paul"), Officer(app, "petra")
    statement_id = statement_id_of(compose(paul, "save-draft"))
    opened = services.press_office.find_statement(statement_id).version
    later = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=2)).strftime(
        "%Y-%m-%dT%H:%M"
    )
    petra.post(f"/desk/statements/{statement_id}/schedule", publish_at=later)
    stale = paul.post(
        f"/desk/statements/{statement_id}/edit",
        title="Consular hours in August", kind="news", tags="visas",
        body="Typed while Petra scheduled it.", version=str(opened), action="save",
    )  # fmt: skip
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert (
        'id="kept-body" readonly' in page and "Typed while Petra scheduled it." in page
    )


def test_a_writers_conflict_page_shows_no_history(office):
    """However a writer comes to a conflict page (a crafted stale version of
    a statement published since), it lists no events: the audit is not a
    writer's to read."""
    app, _ = office
    paul, wanda = Officer(app, "paul"), Officer(app, "wanda")
    statement_id = statement_id_of(compose(paul, "publish"))
    crafted = wanda.post(f"/desk/statements/{statement_id}/review", version="1")
    page = crafted.get_data(as_text=True)
    assert crafted.status_code in (403, 409)
    assert 'class="audit-event"' not in page and "by paul" not in page
    assert 'class="audit-event"' in paul.post(
        f"/desk/statements/{statement_id}/withdrawal", reason="x", version="1"
    ).get_data(as_text=True)  # a publisher's shows them


def test_a_writers_stale_edit_of_a_draft_published_meanwhile_is_kept_to_copy(office):
    """Paul publishes Wanda's draft while she edits it: she may not amend it,
    so her text comes back to copy, with no form she could not send."""
    app, services = office
    paul, wanda = Officer(app, "paul"), Officer(app, "wanda")
    statement_id = statement_id_of(compose(wanda, "save-draft"))
    opened = services.press_office.find_statement(statement_id).version
    paul.post(f"/desk/statements/{statement_id}/publication")
    stale = wanda.post(
        f"/desk/statements/{statement_id}/edit",
        title="Consular hours in August", kind="news", tags="visas",
        body="Wanda's late wording.", version=str(opened), action="save",
    )  # fmt: skip
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert "Apply mine on top" not in page
    assert 'id="kept-body" readonly' in page and "late wording" in page


def test_a_withdrawal_reason_survives_a_colleagues_change(office):
    app, services = office
    paul, petra = Officer(app, "paul"), Officer(app, "petra")
    statement_id = statement_id_of(compose(paul, "publish"))
    opened = services.press_office.find_statement(statement_id).version
    petra.post(
        f"/desk/statements/{statement_id}/amendment",
        title="Consular hours in August", kind="news", tags="visas",
        body="Corrected.", change_note="Corrected", action="save",
    )  # fmt: skip
    stale = paul.post(
        f"/desk/statements/{statement_id}/withdrawal",
        reason="Wrong dates given", confirmed="yes", version=str(opened),
    )  # fmt: skip
    assert stale.status_code == 409
    page = stale.get_data(as_text=True)
    assert (
        '<label for="kept-reason">Reason</label>' in page
        and "Wrong dates given" in page
    )
