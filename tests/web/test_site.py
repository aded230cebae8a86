"""The public web site, as a reader's browser receives it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import lxml.html
import pytest

from pressfeed.application import NewStatement
from pressfeed.web import create_app


def page(client, path: str, status: int = 200):
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == status, (path, response.status_code)
    assert response.mimetype == "text/html"
    return lxml.html.fromstring(response.data)


def text_of(tree) -> str:
    return " ".join(tree.text_content().split())


@pytest.fixture
def settings(tmp_path):
    from tests.conftest import make_settings

    return make_settings(
        tmp_path,
        PRESSFEED_CLOCKS="Moscow=Europe/Moscow,London=Europe/London",
        PRESSFEED_CONTACT="Press office\\nTel. +7 000 000 00 00",
        PRESSFEED_SITE_TITLE="Embassy <Press> Office",
    )


def test_the_front_page_shows_date_clocks_contact_newest_and_latest(client, desk):
    desk.create(
        title="Older statement",
        body="Older text.",
        published_at="2026-01-10T10:00:00+00:00",
    )
    desk.create(title="Newest statement", body="The **newest** text.")
    tree = page(client, "/")
    text = text_of(tree)
    assert (
        datetime.now(UTC).strftime("%d.%m.%Y") in text
        or (datetime.now(UTC) - timedelta(minutes=1)).strftime("%d.%m.%Y") in text
    )
    assert [li.text_content().split()[0] for li in tree.cssselect(".clocks li")] == [
        "Moscow",
        "London",
    ]
    assert "Tel. +7 000 000 00 00" in text
    assert tree.cssselect(".newest h2")[0].text_content() == "Newest statement"
    assert "newest" in tree.cssselect(".newest .body strong")[0].text_content()
    latest = [h.text_content() for h in tree.cssselect(".latest h3")]
    assert latest == ["10.01.2026 - Older statement"]
    assert tree.cssselect("a[href='/messages']")


def test_every_page_links_its_feeds_for_autodiscovery(client, desk):
    statement = desk.create(kind="speech")
    for path in ["/", "/messages", f"/statements/{statement['slug']}"]:
        tree = page(client, path)
        types = {link.get("type") for link in tree.cssselect("link[rel=alternate]")}
        assert {
            "application/atom+xml",
            "application/rss+xml",
            "application/feed+json",
        } <= types
    links = page(client, f"/statements/{statement['slug']}").cssselect(
        "link[rel=alternate]"
    )
    assert any(link.get("href").endswith("/feeds/kind/speech.atom") for link in links)


def test_all_messages_pages_twenty_at_a_time_newest_first(client, desk, services):
    statements = [
        NewStatement(
            title=f"Message {i:02d}",
            body="Text",
            kind="news",
            published_at=datetime(2025, 3, 1, tzinfo=UTC) + timedelta(days=i),
        )
        for i in range(45)
    ]
    services.press_office.import_statements(statements, actor="import")
    desk.settle()
    first = page(client, "/messages")
    items = [li.text_content() for li in first.cssselect(".messages li")]
    assert len(items) == 20
    assert "Message 44" in items[0] and "14.04.2025" in items[0]
    assert first.cssselect("a[rel=next]")[0].get("href") == "/messages?page=2"
    assert not first.cssselect("a[rel=prev]")
    third = page(client, "/messages?page=3")
    assert len(third.cssselect(".messages li")) == 5
    assert third.cssselect("a[rel=prev]")[0].get("href") == "/messages?page=2"
    assert not third.cssselect("a[rel=next]")
    page(client, "/messages?page=4", status=404)


@pytest.mark.parametrize("bad", ["0", "-1", "x", "1.5", "99999999999"])
def test_a_bad_page_number_is_a_400_problem(client, bad):
    response = client.get(f"/messages?page={bad}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_a_statement_page_shows_its_public_change_notes(client, desk):
    statement = desk.create(title="Reception", body="On Monday.")
    statement = desk.amend(statement, "Typo", minor=True, body="On Monday!")
    desk.amend(statement, "Corrected the date of the reception", body="On Tuesday.")
    tree = page(client, f"/statements/{statement['slug']}")
    notes = [li.text_content() for li in tree.cssselect(".change-notes li")]
    today = datetime.now(UTC).strftime("%d.%m.%Y")
    assert notes == [f"Updated {today}: Corrected the date of the reception"]
    assert "On Tuesday." in text_of(tree)


def test_a_withdrawn_statement_answers_410_with_the_notice_and_no_text(client, desk):
    statement = desk.create(title="Travel advice", body="The secret original text.")
    desk.retract(statement, reason="Concerned a different region")
    response = client.get(f"/statements/{statement['slug']}")
    assert response.status_code == 410
    text = " ".join(lxml.html.fromstring(response.data).text_content().split())
    assert "Concerned a different region" in text
    assert datetime.now(UTC).strftime("%d.%m.%Y") in text
    assert "The secret original text" not in response.get_data(as_text=True)
    messages = page(client, "/messages")
    assert "withdrawn" in text_of(messages)


def test_drafts_and_scheduled_statements_are_404_and_not_listed(client, desk):
    draft = desk.create(title="Secret draft", draft=True)
    embargoed = desk.create(
        title="Embargoed",
        publish_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    )
    for statement in (draft, embargoed):
        page(client, f"/statements/{statement['slug']}", status=404)
    for path in ["/", "/messages"]:
        text = client.get(path).get_data(as_text=True)
        assert "Secret draft" not in text and "Embargoed" not in text


def test_titles_and_settings_are_escaped(client, desk):
    statement = desk.create(title="<b>Bold</b> & co")
    html = client.get(f"/statements/{statement['slug']}").get_data(as_text=True)
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in html
    assert "Embassy &lt;Press&gt; Office" in html


def test_html_pages_carry_security_headers(client, desk):
    response = client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]


def test_a_browser_gets_an_html_404_and_a_program_a_problem(client):
    assert client.get("/nope", headers={"Accept": "text/html"}).mimetype == "text/html"
    assert client.get("/nope").mimetype == "application/problem+json"


def test_dates_follow_the_configured_zone_and_format(tmp_path, services):
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path, PRESSFEED_TIMEZONE="Asia/Tokyo", PRESSFEED_DATE_FORMAT="%Y-%m-%d"
    )
    services.settings = settings
    services.press_office.create_statement(
        NewStatement(
            title="Late news",
            body="x",
            kind="news",
            published_at=datetime(2026, 3, 1, 20, 0, tzinfo=UTC),
        ),
        actor="po",
    )
    services.worker.wait_until(services.press_office.recorder.max_notification_id())
    client = create_app(services=services).test_client()
    text = text_of(page(client, "/messages"))
    assert "2026-03-02" in text


def test_every_page_opens_with_a_way_past_the_header_and_one_h1(client, desk):
    """A keyboard or screen-reader user skips the masthead; the title is the
    page's one h1 (a body's "#" heading is an h2) and comes before any h2."""
    desk.create(title="Visa hours", body="# Background\n\nOpen on Mondays.")
    for path in ("/", "/messages", "/statements/visa-hours", "/search?q=visa"):
        tree = lxml.html.fromstring(client.get(path).data)
        first_link = tree.xpath("//body//a")[0]
        assert (first_link.get("class"), first_link.get("href")) == ("skip", "#main")
        assert tree.xpath("//main/@id") == ["main"]
        headings = [h.tag for h in tree.xpath("//main//*[self::h1 or self::h2]")]
        assert headings[0] == "h1" and headings.count("h1") == 1, (path, headings)


def test_pages_name_an_icon_that_is_there(client):
    tree = lxml.html.fromstring(client.get("/").data)
    (icon,) = tree.xpath("//head/link[@rel='icon']/@href")
    answer = client.get(icon)
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
